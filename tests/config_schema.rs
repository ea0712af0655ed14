//! `schema/seamguard.schema.json` agrees with the parser: over a corpus of
//! valid and invalid files — every key, every wrong type, every enum value —
//! the schema accepts exactly the files `RepoConfig::parse` accepts.

use seamguard::config::repo::{RepoConfig, as_json};

const SCHEMA: &str = include_str!("../schema/seamguard.schema.json");

fn corpus() -> Vec<String> {
    let mut files: Vec<String> = [
        "",
        "conflict_markers:\n",
        "conflict_markers: {}\n",
        "conflict_markers: []\n",
        "conflict_markers: yes\n",
        "unknown: 1\n",
        "merge:\n  labels: x\n",
        "- a\n- b\n",
        "just text\n",
        "on_internal_error: neutral\n",
        "on_internal_error: failure\n",
        "on_internal_error: fail\n",
        "on_internal_error: true\n",
        "merge:\n  label: \"\"\n",
        "merge:\n  label: \"   \"\n",
        "merge:\n  mode: never\n  label: \"\"\n",
        "merge:\n  mode: always\n  label: \"\"\n",
        "merge:\n  mode: label\n  label: \"\"\n",
        "merge:\n  label: ship-it\n",
        "merge:\n  label: 12\n",
        "merge:\n  label: [a]\n",
        "merge:\n  max_attempts: 0\n",
        "merge:\n  max_attempts: 1\n",
        "merge:\n  max_attempts: 50\n",
        "merge:\n  max_attempts: 51\n",
        "merge:\n  max_attempts: -3\n",
        "merge:\n  max_attempts: \"6\"\n",
        "merge_sources:\n  max_commits: null\n",
        "merge_sources:\n  max_commits: 500\n",
        "merge_sources:\n  max_commits: 0\n",
        "merge_sources:\n  max_commits: many\n",
        "required_checks:\n  register_timeout: 30m\n",
        "required_checks:\n  register_timeout: 1h 30m\n",
        "required_checks:\n  register_timeout: 90s\n",
        "required_checks:\n  register_timeout: 30\n",
        "required_checks:\n  register_timeout: soon\n",
        "required_checks:\n  register_timeout: [30m]\n",
        "required_checks:\n  extra: [lint, test]\n",
        "required_checks:\n  extra: lint\n",
        "required_checks:\n  extra: [\"\"]\n",
        "required_checks:\n  extra: [1]\n",
        "required_checks:\n  extra: []\n",
        "conflict_markers:\n  ignore: [\"tests/fixtures/**\"]\n",
        "conflict_markers:\n  ignore: \"tests/**\"\n",
        "conflict_markers:\n  ignore: [\" \"]\n",
        "merge_sources:\n  allowed: [\"release/*\", develop]\n",
        "merge_sources:\n  allowed: {a: b}\n",
        "merge_sources:\n  extra: []\n",
        "conflict_markers:\n  enabled: true\n  ignore: []\nmerge_sources:\n  enabled: true\n  allowed: []\n  max_commits: 100\nmerge:\n  mode: label\n  label: automerge\n  method: squash\n  max_attempts: 6\n  update_branch: false\nrequired_checks:\n  extra: []\n  register_timeout: 30m\non_internal_error: neutral\n",
        &format!("merge:\n  label: {}\n", "x".repeat(50)),
        "merge:\n  priority_label: urgent\n",
        "merge:\n  priority_label: null\n",
        "merge:\n  priority_label: \"\"\n",
        "merge:\n  priority_label: \" \"\n",
        "merge:\n  priority_label: 1\n",
        "merge:\n  priority_label: [urgent]\n",
        &format!("merge:\n  priority_label: {}\n", "p".repeat(50)),
        &format!("merge:\n  priority_label: {}\n", "p".repeat(51)),
        &format!("merge:\n  label: {}\n", "x".repeat(51)),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Every boolean key with a boolean, a string and a number.
    for (section, key) in [
        ("conflict_markers", "enabled"),
        ("merge_sources", "enabled"),
        ("merge", "update_branch"),
    ] {
        for value in ["true", "false", "\"true\"", "1", "null", "[]"] {
            files.push(format!("{section}:\n  {key}: {value}\n"));
        }
    }
    // Every enum value, a near miss, a wrong type.
    for (key, values) in [
        (
            "mode",
            &["label", "always", "never", "labels", "1", "null"][..],
        ),
        (
            "method",
            &[
                "merge",
                "squash",
                "rebase",
                "fast-forward",
                "true",
                "[merge]",
            ][..],
        ),
    ] {
        for value in values {
            files.push(format!("merge:\n  {key}: {value}\n"));
        }
    }
    files
}

#[test]
fn the_schema_accepts_exactly_what_the_parser_accepts() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("seamguard.schema.json", schema)
        .unwrap();
    let index = compiler
        .compile("seamguard.schema.json", &mut schemas)
        .unwrap();

    let mut disagreements = Vec::new();
    let files = corpus();
    let mut valid = 0;
    for text in &files {
        let parser = RepoConfig::parse(text).is_ok();
        let schema_ok = match as_json(text) {
            // An empty file: the defaults, and nothing for an editor to check.
            None if text.trim().is_empty() => true,
            None => false,
            Some(value) => schemas.validate(&value, index).is_ok(),
        };
        valid += usize::from(parser);
        if parser != schema_ok {
            disagreements.push(format!(
                "parser {} / schema {}:\n{text}",
                if parser { "accepts" } else { "refuses" },
                if schema_ok { "accepts" } else { "refuses" }
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n---\n")
    );
    assert!(
        valid >= 20 && files.len() - valid >= 30,
        "{valid} of {}",
        files.len()
    );
}

#[test]
fn the_schema_names_every_key_the_parser_reads() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let props = schema["properties"].as_object().unwrap();
    let full = "conflict_markers:\n  enabled: true\n  ignore: []\nmerge_sources:\n  enabled: true\n  allowed: []\n  max_commits: 1\nmerge:\n  mode: label\n  label: a\n  method: merge\n  max_attempts: 1\n  update_branch: true\n  priority_label: urgent\nrequired_checks:\n  extra: []\n  register_timeout: 1m\non_internal_error: failure\n";
    assert!(RepoConfig::parse(full).is_ok());
    let value = as_json(full).unwrap();
    for (key, inner) in value.as_object().unwrap() {
        let prop = props
            .get(key)
            .unwrap_or_else(|| panic!("{key} not in the schema"));
        if let Some(inner) = inner.as_object() {
            for sub in inner.keys() {
                assert!(
                    prop["properties"].get(sub).is_some(),
                    "{key}.{sub} not in the schema"
                );
            }
        }
    }
}

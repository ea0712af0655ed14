//! `schema/seamguard.schema.json` cannot drift from the parser: it is
//! generated from the config types (`config::repo::json_schema`), and the
//! committed file must be that output; the schema and the parser know the
//! same keys (the parser's are read from its own "known keys" messages); and
//! over a corpus of valid and invalid files — every key, every wrong type,
//! every enum value — the schema accepts exactly the files
//! `RepoConfig::parse` accepts.
//!
//! After changing the config types, regenerate the file with
//! `SEAMGUARD_UPDATE_SCHEMA=1 cargo test --test config_schema`.

use std::collections::BTreeSet;

use serde_json::Value;

use seamguard::config::repo::{RepoConfig, as_json, json_schema};

const SCHEMA: &str = include_str!("../schema/seamguard.schema.json");

/// Set to rewrite the committed schema from the types.
const UPDATE: &str = "SEAMGUARD_UPDATE_SCHEMA";

/// The committed file's text for a schema value.
fn text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("JSON serializes");
    text.push('\n');
    text
}

#[test]
fn the_committed_schema_is_the_one_generated_from_the_config_types() {
    let generated = text(&json_schema());
    if generated == SCHEMA {
        return;
    }
    if std::env::var_os(UPDATE).is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/seamguard.schema.json");
        std::fs::write(path, &generated).expect("write the schema");
        return;
    }
    panic!(
        "schema/seamguard.schema.json is not what the config types generate; \
         regenerate it with `{UPDATE}=1 cargo test --test config_schema`. Generated:\n{generated}"
    );
}

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
        "mode: shadow\n",
        "mode: enforce\n",
        "mode: shade\n",
        "mode: Shadow\n",
        "mode: 1\n",
        "mode: [shadow]\n",
        "mode: null\n",
        "mode: shadow\nmerge:\n  mode: always\n",
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

/// The keys the parser knows at the top level, or in `section`: read from
/// its message for an unknown key ("…; known keys: `a`, `b`"), so nothing
/// here lists them a second time.
fn parser_keys(section: Option<&str>) -> Option<BTreeSet<String>> {
    let unknown = "zzzzzzzzzzzzzzzz";
    let text = match section {
        None => format!("{unknown}: 1\n"),
        Some(section) => format!("{section}:\n  {unknown}: 1\n"),
    };
    let problems = RepoConfig::parse(&text).expect_err("an unknown key is a problem");
    let message = &problems[0].message;
    let listed = message.split_once("known keys: ")?.1;
    Some(
        listed
            .split(", ")
            .map(|k| k.trim_matches('`').to_owned())
            .collect(),
    )
}

/// The object schema a property resolves to (through `anyOf` with `null`
/// and `$ref`s into `$defs`), if it is an object.
fn object_schema<'s>(root: &'s Value, property: &'s Value) -> Option<&'s Value> {
    let mut at = property;
    for _ in 0..8 {
        if let Some(r) = at["$ref"].as_str() {
            at = root.pointer(r.trim_start_matches('#'))?;
        } else if let Some(branches) = at["anyOf"].as_array() {
            at = branches.iter().find(|b| b["type"] != "null")?;
        } else {
            break;
        }
    }
    at["properties"].is_object().then_some(at)
}

fn keys(object: &Value) -> BTreeSet<String> {
    object["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_schema_and_the_parser_know_the_same_keys() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let top = parser_keys(None).expect("the parser lists its top-level keys");
    assert_eq!(keys(&schema), top, "top-level keys: schema vs parser");
    let mut sections = 0;
    for key in &top {
        let in_schema = object_schema(&schema, &schema["properties"][key]);
        let in_parser = parser_keys(Some(key));
        match (in_schema, in_parser) {
            (Some(object), Some(parser)) => {
                sections += 1;
                assert_eq!(keys(object), parser, "keys of `{key}`: schema vs parser");
                assert_eq!(
                    object["additionalProperties"],
                    Value::Bool(false),
                    "`{key}` refuses unknown keys, as the parser does"
                );
            }
            (None, None) => {}
            (schema, _) => panic!(
                "`{key}` is a section in the {} only",
                if schema.is_some() { "schema" } else { "parser" }
            ),
        }
        assert!(
            schema["properties"][key]["description"].is_string(),
            "`{key}` is described"
        );
    }
    assert!(sections >= 4, "{sections} sections");
}

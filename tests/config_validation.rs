//! What a user reads when `.github/seamguard.yml` is wrong: one table of
//! files, each snapshotted with every problem it has (`line:col: message`).
//! A change of wording shows up as a snapshot diff.

use std::time::Duration;

use seamguard::config::repo::{
    ConfigProblem, ConfigSource, MergeMethod, MergeMode, OnInternalError, RepoConfig,
};

/// `(name, file)`: each file must be rejected; its problems are snapshotted.
const INVALID: &[(&str, &str)] = &[
    (
        "unknown_key_with_suggestion",
        "conflict_markers:\n  ignroe: [\"tests/**\"]\n",
    ),
    (
        "unknown_key_spelled_with_dashes",
        "merge:\n  max-attempts: 3\n",
    ),
    ("unknown_key_that_belongs_in_a_section", "label: ship-it\n"),
    ("unknown_key_without_a_match", "automerge: true\n"),
    ("wrong_type_boolean", "conflict_markers:\n  enabled: yes\n"),
    (
        "wrong_type_single_string_for_a_list",
        "conflict_markers:\n  ignore: tests/**\n",
    ),
    ("wrong_type_section", "merge: squash\n"),
    ("wrong_type_label", "merge:\n  label: true\n"),
    (
        "wrong_type_list_item",
        "required_checks:\n  extra: [build, 3.9]\n",
    ),
    (
        "agents_too_many_approvals",
        "agents:\n  independent_approvals: 11\n",
    ),
    (
        "agents_negative_approvals",
        "agents:\n  independent_approvals: -1\n",
    ),
    (
        "agents_account_with_a_space",
        "agents:\n  accounts: [\"my agent[bot]\", \"\"]\n",
    ),
    (
        "agents_accounts_not_a_list",
        "agents:\n  accounts: claude[bot]\n",
    ),
    ("bad_enum_mode", "merge:\n  mode: sometimes\n"),
    ("bad_enum_with_typo", "merge:\n  method: sqash\n"),
    ("bad_enum_case", "on_internal_error: Failure\n"),
    (
        "bad_glob",
        "conflict_markers:\n  ignore:\n    - \"tests/**\"\n    - \"src/[ab\"\n",
    ),
    (
        "bad_branch_glob",
        "merge_sources:\n  allowed: [\"release/{1,2\"]\n",
    ),
    (
        "bad_duration_unit",
        "required_checks:\n  register_timeout: 30x\n",
    ),
    (
        "bad_duration_without_unit",
        "required_checks:\n  register_timeout: 30\n",
    ),
    (
        "zero_duration",
        "required_checks:\n  register_timeout: 0s\n",
    ),
    (
        "duration_past_the_bound",
        "required_checks:\n  register_timeout: 30days\n",
    ),
    ("zero_max_attempts", "merge:\n  max_attempts: 0\n"),
    ("absurd_max_attempts", "merge:\n  max_attempts: 1000000\n"),
    ("fractional_max_attempts", "merge:\n  max_attempts: 2.5\n"),
    ("zero_max_commits", "merge_sources:\n  max_commits: 0\n"),
    (
        "empty_label_in_label_mode",
        "merge:\n  mode: label\n  label: \"\"\n",
    ),
    (
        "label_past_githubs_limit",
        "merge:\n  label: \"please merge this pull request as soon as every check has passed\"\n",
    ),
    (
        "empty_list_items",
        "required_checks:\n  extra: [\"\", build]\nconflict_markers:\n  ignore: [\" \"]\n",
    ),
    (
        "duplicate_keys",
        "merge:\n  mode: always\nmerge:\n  mode: never\n",
    ),
    ("duplicate_nested_key", "merge:\n  label: a\n  label: b\n"),
    ("not_yaml", "merge:\n  mode: [label\n  method: squash\n"),
    ("tab_indentation", "merge:\n\tmode: label\n"),
    ("top_level_is_a_list", "- merge\n- squash\n"),
    ("top_level_is_a_string", "automerge please\n"),
    (
        "second_document",
        "merge:\n  mode: always\n---\nmerge:\n  mode: never\n",
    ),
    (
        "several_problems_at_once",
        r#"# Every mistake is reported, in file order, not only the first.
conflict_markers:
  enabled: yes
  ignore: ["tests/**", "src/[ab"]
merge_sources:
  alowed: ["release/*"]
merge:
  mode: sometimes
  method: sqash
  max_attempts: 0
required_checks:
  extra: build
  register_timeout: 30x
on_internal_error: crash
"#,
    ),
];

fn render(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| match p.source {
            ConfigSource::Repo => p.to_string(),
            ConfigSource::Org => format!("(org) {p}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file with numbered lines, then its problems: positions can be
/// checked by eye in the snapshot.
fn numbered(file: &str) -> String {
    file.lines()
        .enumerate()
        .map(|(i, line)| format!("{:>2} | {line}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn messages() {
    for &(name, file) in INVALID {
        let problems = match RepoConfig::parse(file) {
            Ok(config) => panic!("{name}: accepted as {config:?}"),
            Err(problems) => problems,
        };
        assert!(
            problems.iter().all(|p| p.source == ConfigSource::Repo),
            "{name}: a single file's problems belong to the repository"
        );
        insta::with_settings!({
            snapshot_suffix => name,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("{}\n=>\n{}", numbered(file), render(&problems)));
        });
    }
}

#[test]
fn the_several_problems_file_reports_each_mistake() {
    let (_, file) = INVALID
        .iter()
        .find(|(name, _)| *name == "several_problems_at_once")
        .unwrap();
    let problems = RepoConfig::parse(file).unwrap_err();
    assert_eq!(problems.len(), 9, "{}", render(&problems));
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "problems come in file order");
}

#[test]
fn missing_empty_and_comment_only_files_mean_defaults() {
    let defaults = RepoConfig::default();
    assert_eq!(RepoConfig::layered(None, None), Ok(defaults.clone()));
    for file in [
        "",
        "\n\n",
        "# nothing yet\n",
        "---\n",
        "~\n",
        "# a\n---\n# b\n",
    ] {
        assert_eq!(RepoConfig::parse(file), Ok(defaults.clone()), "{file:?}");
    }
}

#[test]
fn the_design_example_parses_to_its_values() {
    let file = r#"
conflict_markers:
  enabled: true
  ignore: ["tests/fixtures/**"]   # globs of paths allowed to hold markers
merge_sources:
  enabled: true
  allowed: ["release/*"]          # branches whose history may be merged in, besides the base
merge:
  mode: label                     # label | always | never
  label: automerge
  method: squash                  # merge | squash | rebase
  max_attempts: 6                 # merge tries on pending wording / transient errors
required_checks:
  extra: []                       # contexts required on top of protection and rulesets
  register_timeout: 30m           # then say in the summary that a check never registered
on_internal_error: neutral        # neutral (fail open) | failure (fail closed)
"#;
    let mut expected = RepoConfig::default();
    expected.conflict_markers.ignore = vec!["tests/fixtures/**".into()];
    expected.merge_sources.allowed = vec!["release/*".into()];
    assert_eq!(RepoConfig::parse(file), Ok(expected));
}

#[test]
fn every_key_takes_every_documented_value() {
    let file = r#"
conflict_markers:
  enabled: false
  ignore:
    - "**/*.snap"
    - docs/conflicts/*.md
merge_sources:
  enabled: false
  allowed: ["release/*", "hotfix/{a,b}"]
  max_commits: 500
merge:
  mode: always
  label: ""            # empty is fine when the mode is not `label`
  method: rebase
  max_attempts: 50
  update_branch: true
required_checks:
  extra: ["build", "test (3.12)"]
  register_timeout: 1h 30m
agents:
  independent_approvals: 10
  accounts: ["acme-*[bot]", "*@agents.acme.dev"]
on_internal_error: failure
"#;
    let config = RepoConfig::parse(file).unwrap();
    assert_eq!(config.agents.independent_approvals, 10);
    assert_eq!(config.agents.accounts, ["acme-*[bot]", "*@agents.acme.dev"]);
    assert_eq!(RepoConfig::default().agents.independent_approvals, 0);
    assert!(!config.conflict_markers.enabled);
    assert_eq!(
        config.conflict_markers.ignore,
        ["**/*.snap", "docs/conflicts/*.md"]
    );
    assert!(!config.merge_sources.enabled);
    assert_eq!(config.merge_sources.allowed, ["release/*", "hotfix/{a,b}"]);
    assert_eq!(config.merge_sources.max_commits, Some(500));
    assert_eq!(config.merge.mode, MergeMode::Always);
    assert_eq!(config.merge.label, "");
    assert_eq!(config.merge.method, MergeMethod::Rebase);
    assert_eq!(config.merge.max_attempts, 50);
    assert!(config.merge.update_branch);
    assert_eq!(config.required_checks.extra, ["build", "test (3.12)"]);
    assert_eq!(
        config.required_checks.register_timeout,
        Duration::from_secs(90 * 60)
    );
    assert_eq!(config.on_internal_error, OnInternalError::Failure);

    for (mode, expected) in [("label", MergeMode::Label), ("never", MergeMode::Never)] {
        let config = RepoConfig::parse(&format!("merge:\n  mode: {mode}\n")).unwrap();
        assert_eq!(config.merge.mode, expected);
    }
    for (method, expected) in [
        ("merge", MergeMethod::Merge),
        ("squash", MergeMethod::Squash),
    ] {
        let config = RepoConfig::parse(&format!("merge: {{method: {method}}}\n")).unwrap();
        assert_eq!(config.merge.method, expected);
    }
}

#[test]
fn forgiving_where_the_meaning_is_plain() {
    // A section with nothing under it (all its keys commented out) sets nothing.
    let config = RepoConfig::parse("merge:\n  # mode: always\nconflict_markers:\n").unwrap();
    assert_eq!(config, RepoConfig::default());
    // `max_commits: null` says "no limit" explicitly.
    let config = RepoConfig::parse("merge_sources:\n  max_commits: ~\n").unwrap();
    assert_eq!(config.merge_sources.max_commits, None);
    // Quoted values and anchors are ordinary YAML.
    let config = RepoConfig::parse(
        "conflict_markers:\n  ignore: &shared ['vendor/**']\nmerge_sources:\n  allowed: *shared\nmerge:\n  mode: 'always'\n",
    )
    .unwrap();
    assert_eq!(config.merge_sources.allowed, ["vendor/**"]);
    assert_eq!(config.merge.mode, MergeMode::Always);
    // Files saved on Windows: CRLF line ends and a byte order mark.
    let config = RepoConfig::parse("\u{feff}merge:\r\n  mode: never\r\n").unwrap();
    assert_eq!(config.merge.mode, MergeMode::Never);
    let problems = RepoConfig::parse("merge:\r\n  mode: nope\r\n").unwrap_err();
    assert_eq!((problems[0].line, problems[0].column), (2, 9));
}

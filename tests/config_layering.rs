//! Org-wide defaults (the owner's `.github` repository) under the
//! repository's own file: key by key, lists replaced, problems of both files
//! reported and tagged with the file they are in.

use insta::assert_snapshot;
use seamguard::config::repo::{ConfigProblem, ConfigSource, MergeMethod, MergeMode, RepoConfig};

fn render(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            let source = match p.source {
                ConfigSource::Repo => "repo",
                ConfigSource::Org => "org ",
            };
            format!("{source} {p}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn layered(org: Option<&str>, repo: Option<&str>) -> RepoConfig {
    RepoConfig::layered(org, repo).unwrap_or_else(|problems| panic!("{}", render(&problems)))
}

fn layered_problems(org: Option<&str>, repo: Option<&str>) -> String {
    match RepoConfig::layered(org, repo) {
        Ok(config) => panic!("accepted as {config:?}"),
        Err(problems) => render(&problems),
    }
}

const ORG: &str = r#"
conflict_markers:
  ignore: ["vendor/**", "third_party/**"]
merge_sources:
  allowed: ["release/*"]
  max_commits: 500
merge:
  mode: always
  method: rebase
  max_attempts: 10
required_checks:
  extra: ["lint"]
on_internal_error: failure
"#;

#[test]
fn the_repository_wins_key_by_key() {
    let repo = r#"
merge:
  method: squash
"#;
    let config = layered(Some(ORG), Some(repo));
    // Set in the repository:
    assert_eq!(config.merge.method, MergeMethod::Squash);
    // Set only in the org, inside the same section: kept.
    assert_eq!(config.merge.mode, MergeMode::Always);
    assert_eq!(config.merge.max_attempts, 10);
    // Other sections come from the org untouched.
    assert_eq!(
        config.conflict_markers.ignore,
        ["vendor/**", "third_party/**"]
    );
    assert_eq!(config.merge_sources.allowed, ["release/*"]);
    assert_eq!(config.required_checks.extra, ["lint"]);
    assert_eq!(
        config.on_internal_error,
        seamguard::config::repo::OnInternalError::Failure
    );
    // Set nowhere: the default.
    assert_eq!(config.merge.label, "automerge");
    assert_eq!(
        config.required_checks.register_timeout,
        RepoConfig::default().required_checks.register_timeout
    );
}

#[test]
fn a_list_in_the_repository_replaces_the_orgs() {
    let repo = r#"
conflict_markers:
  ignore: ["tests/fixtures/**"]
required_checks:
  extra: []
"#;
    let config = layered(Some(ORG), Some(repo));
    assert_eq!(config.conflict_markers.ignore, ["tests/fixtures/**"]);
    assert!(
        config.required_checks.extra.is_empty(),
        "an empty list clears the org's"
    );
    assert_eq!(config.merge_sources.allowed, ["release/*"]);
}

#[test]
fn an_explicit_null_overrides_the_orgs_limit() {
    let repo = "merge_sources:\n  max_commits: null\n";
    assert_eq!(
        layered(Some(ORG), None).merge_sources.max_commits,
        Some(500)
    );
    assert_eq!(
        layered(Some(ORG), Some(repo)).merge_sources.max_commits,
        None
    );
}

#[test]
fn absent_or_empty_files_set_nothing() {
    let org_only = layered(Some(ORG), None);
    assert_eq!(layered(Some(ORG), Some("")), org_only);
    assert_eq!(layered(Some(ORG), Some("# no overrides yet\n")), org_only);
    assert_eq!(layered(Some(ORG), Some("merge:\n")), org_only);
    assert_eq!(
        layered(None, Some(ORG)),
        org_only,
        "the same keys, from either file"
    );
    assert_eq!(layered(Some(""), None), RepoConfig::default());
    assert_eq!(layered(None, None), RepoConfig::default());
}

#[test]
fn problems_in_both_files_are_reported_and_tagged() {
    let org =
        "merge:\n  method: fast-forward\n  mode: label\nconflict_markers:\n  ignore: [\"a[\"]\n";
    let repo = "merge:\n  mode: always\n  retries: 3\n";
    // The repository sets `merge.mode`, but the org's bad value is still
    // reported: the org file is wrong for every repository that uses it.
    assert_snapshot!(layered_problems(Some(org), Some(repo)), @r"
    repo 3:3: unknown key `retries` in `merge`; known keys: `mode`, `label`, `method`, `max_attempts`, `update_branch`, `priority_label`, `always_authors`
    org  2:11: `merge.method` must be one of `merge`, `squash`, `rebase`, found the string `fast-forward`
    org  5:12: `conflict_markers.ignore`: `a[` is not a valid glob: unclosed character class; missing ']'
    ");
}

#[test]
fn an_org_file_that_is_not_yaml_is_an_org_problem() {
    let org = "merge: {mode: always\n";
    assert_snapshot!(layered_problems(Some(org), Some("merge:\n  method: merge\n")), @"org  2:1: not valid YAML: while parsing a flow mapping, did not find expected ',' or '}'");
}

#[test]
fn a_rule_across_files_points_at_the_file_that_set_the_key() {
    // The org turns merging off and leaves the label empty; a repository that
    // opts in by label without naming one gets a problem at the org's line.
    let org = "merge:\n  mode: never\n  label: \"\"\n";
    assert_eq!(layered(Some(org), None).merge.mode, MergeMode::Never);
    assert_snapshot!(
        layered_problems(Some(org), Some("merge:\n  mode: label\n")),
        @"org  3:10: `merge.label` is empty, but `merge.mode` is `label`: name the label that opts a pull request in"
    );
    // Naming the label in the repository fixes it.
    let config = layered(Some(org), Some("merge:\n  mode: label\n  label: ship-it\n"));
    assert_eq!(config.merge.label, "ship-it");
}

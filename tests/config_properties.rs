//! Properties of parsing and layering over generated files: any set of keys
//! round-trips, layering is "repository, else org, else default" for every
//! key, and no input (however broken) panics or yields a position outside
//! the file.

use std::time::Duration;

use proptest::prelude::*;
use seamguard::config::repo::{
    ConfigSource, MAX_MERGE_ATTEMPTS, MergeMethod, MergeMode, OnInternalError, RepoConfig,
};

/// The keys one generated file sets (`None` = absent).
#[derive(Debug, Clone, Default)]
struct Partial {
    markers_enabled: Option<bool>,
    markers_ignore: Option<Vec<String>>,
    sources_enabled: Option<bool>,
    sources_allowed: Option<Vec<String>>,
    sources_max_commits: Option<Option<u64>>,
    mode: Option<MergeMode>,
    label: Option<String>,
    method: Option<MergeMethod>,
    max_attempts: Option<u32>,
    update_branch: Option<bool>,
    extra: Option<Vec<String>>,
    register_timeout_secs: Option<u64>,
    on_internal_error: Option<OnInternalError>,
}

fn glob() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}(/[a-z]{1,8}){0,2}",
        "[a-z]{1,8}/\\*",
        "[a-z]{1,8}/\\*\\*",
        "\\*\\*/\\*\\.[a-z]{1,4}",
        "[a-z]{1,5}/\\{[a-z]{1,3},[a-z]{1,3}\\}",
    ]
}

fn mode() -> impl Strategy<Value = MergeMode> {
    prop_oneof![
        Just(MergeMode::Label),
        Just(MergeMode::Always),
        Just(MergeMode::Never)
    ]
}

fn method() -> impl Strategy<Value = MergeMethod> {
    prop_oneof![
        Just(MergeMethod::Merge),
        Just(MergeMethod::Squash),
        Just(MergeMethod::Rebase)
    ]
}

fn on_error() -> impl Strategy<Value = OnInternalError> {
    prop_oneof![
        Just(OnInternalError::Neutral),
        Just(OnInternalError::Failure)
    ]
}

fn partial() -> impl Strategy<Value = Partial> {
    let lists = || proptest::collection::vec(glob(), 0..4);
    (
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(lists()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(lists()),
            proptest::option::of(proptest::option::of(1..=u64::MAX)),
            proptest::option::of(mode()),
            // Never empty: an empty label is a cross-key problem, tested apart.
            proptest::option::of("[a-z][a-z0-9 :-]{0,20}[a-z0-9]"),
        ),
        (
            proptest::option::of(method()),
            proptest::option::of(1..=MAX_MERGE_ATTEMPTS),
            proptest::option::of(any::<bool>()),
            proptest::option::of(proptest::collection::vec(
                "[A-Za-z0-9][A-Za-z0-9 ()./_:-]{0,24}",
                0..4,
            )),
            proptest::option::of(1..=7 * 24 * 60 * 60u64),
            proptest::option::of(on_error()),
        ),
    )
        .prop_map(|(a, b)| Partial {
            markers_enabled: a.0,
            markers_ignore: a.1,
            sources_enabled: a.2,
            sources_allowed: a.3,
            sources_max_commits: a.4,
            mode: a.5,
            label: a.6,
            method: b.0,
            max_attempts: b.1,
            update_branch: b.2,
            extra: b.3,
            register_timeout_secs: b.4,
            on_internal_error: b.5,
        })
}

fn quoted(text: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    serde_json::to_string(text).unwrap()
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", items.join(", "))
}

/// Renders the keys as YAML; `flow` writes each section on one line.
fn render(p: &Partial, flow: bool) -> String {
    let mut sections: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
    let mut section = |name, keys: Vec<(&'static str, Option<String>)>| {
        let keys: Vec<_> = keys
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        if !keys.is_empty() {
            sections.push((name, keys));
        }
    };
    section(
        "conflict_markers",
        vec![
            ("enabled", p.markers_enabled.map(|b| b.to_string())),
            ("ignore", p.markers_ignore.as_deref().map(list)),
        ],
    );
    section(
        "merge_sources",
        vec![
            ("enabled", p.sources_enabled.map(|b| b.to_string())),
            ("allowed", p.sources_allowed.as_deref().map(list)),
            (
                "max_commits",
                p.sources_max_commits
                    .map(|n| n.map_or("null".to_owned(), |n| n.to_string())),
            ),
        ],
    );
    section(
        "merge",
        vec![
            (
                "mode",
                p.mode.map(|m| {
                    match m {
                        MergeMode::Label => "label",
                        MergeMode::Always => "always",
                        MergeMode::Never => "never",
                    }
                    .to_owned()
                }),
            ),
            ("label", p.label.as_deref().map(quoted)),
            ("method", p.method.map(|m| m.as_str().to_owned())),
            ("max_attempts", p.max_attempts.map(|n| n.to_string())),
            ("update_branch", p.update_branch.map(|b| b.to_string())),
        ],
    );
    section(
        "required_checks",
        vec![
            ("extra", p.extra.as_deref().map(list)),
            (
                "register_timeout",
                p.register_timeout_secs.map(|s| format!("{s}s")),
            ),
        ],
    );
    let mut out = String::from("# generated\n");
    for (name, keys) in sections {
        if flow {
            let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!("{name}: {{{}}}\n", keys.join(", ")));
        } else {
            out.push_str(&format!("{name}:\n"));
            for (k, v) in keys {
                out.push_str(&format!("  {k}: {v}\n"));
            }
        }
    }
    if let Some(on_error) = p.on_internal_error {
        let value = match on_error {
            OnInternalError::Neutral => "neutral",
            OnInternalError::Failure => "failure",
        };
        out.push_str(&format!("on_internal_error: {value}\n"));
    }
    out
}

/// The model: for every key, the repository's value, else the org's, else
/// the default.
fn expected(org: &Partial, repo: &Partial) -> RepoConfig {
    fn pick<T: Clone>(repo: &Option<T>, org: &Option<T>, default: T) -> T {
        repo.clone().or_else(|| org.clone()).unwrap_or(default)
    }
    let d = RepoConfig::default();
    let mut c = d.clone();
    c.conflict_markers.enabled = pick(
        &repo.markers_enabled,
        &org.markers_enabled,
        d.conflict_markers.enabled,
    );
    c.conflict_markers.ignore = pick(
        &repo.markers_ignore,
        &org.markers_ignore,
        d.conflict_markers.ignore,
    );
    c.merge_sources.enabled = pick(
        &repo.sources_enabled,
        &org.sources_enabled,
        d.merge_sources.enabled,
    );
    c.merge_sources.allowed = pick(
        &repo.sources_allowed,
        &org.sources_allowed,
        d.merge_sources.allowed,
    );
    c.merge_sources.max_commits = pick(
        &repo.sources_max_commits,
        &org.sources_max_commits,
        d.merge_sources.max_commits,
    );
    c.merge.mode = pick(&repo.mode, &org.mode, d.merge.mode);
    c.merge.label = pick(&repo.label, &org.label, d.merge.label);
    c.merge.method = pick(&repo.method, &org.method, d.merge.method);
    c.merge.max_attempts = pick(&repo.max_attempts, &org.max_attempts, d.merge.max_attempts);
    c.merge.update_branch = pick(
        &repo.update_branch,
        &org.update_branch,
        d.merge.update_branch,
    );
    c.required_checks.extra = pick(&repo.extra, &org.extra, d.required_checks.extra);
    c.required_checks.register_timeout = repo
        .register_timeout_secs
        .or(org.register_timeout_secs)
        .map_or(d.required_checks.register_timeout, Duration::from_secs);
    c.on_internal_error = pick(
        &repo.on_internal_error,
        &org.on_internal_error,
        d.on_internal_error,
    );
    c
}

/// Fragments that make YAML-shaped noise: keys, values, indentation,
/// brackets, quotes, anchors, tags, tabs and document markers.
fn yamlish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("merge:"),
        Just("conflict_markers:"),
        Just("ignore:"),
        Just("mode: "),
        Just("label"),
        Just("max_attempts: "),
        Just("register_timeout: "),
        Just("\n"),
        Just("\n  "),
        Just("  "),
        Just("- "),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(", "),
        Just(": "),
        Just("\""),
        Just("'"),
        Just("&a "),
        Just("*a"),
        Just("!!str "),
        Just("!x "),
        Just("# c"),
        Just("\t"),
        Just("---\n"),
        Just("~"),
        Just("0"),
        Just("30m"),
        Just("true"),
        Just("é"),
        Just("src/[ab"),
    ];
    proptest::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn any_set_of_keys_round_trips(p in partial(), flow in any::<bool>()) {
        let file = render(&p, flow);
        prop_assert_eq!(RepoConfig::parse(&file), Ok(expected(&Partial::default(), &p)), "{}", file);
    }

    #[test]
    fn layering_takes_each_key_from_the_repo_else_the_org_else_the_default(
        org in partial(),
        repo in partial(),
        flow in any::<bool>(),
    ) {
        let (org_file, repo_file) = (render(&org, flow), render(&repo, !flow));
        prop_assert_eq!(
            RepoConfig::layered(Some(&org_file), Some(&repo_file)),
            Ok(expected(&org, &repo)),
            "org:\n{}\nrepo:\n{}", org_file, repo_file
        );
    }

    #[test]
    fn an_unknown_key_is_reported_at_its_own_line(p in partial()) {
        let mut file = render(&p, false);
        file.push_str("automerge: true\n");
        let line = file.lines().count();
        let problems = RepoConfig::parse(&file).unwrap_err();
        prop_assert_eq!(problems.len(), 1);
        prop_assert_eq!((problems[0].line, problems[0].column), (line, 1));
    }

    #[test]
    fn no_input_panics_or_points_outside_the_file(
        text in prop_oneof![yamlish(), any::<String>()],
    ) {
        check_positions(&text)?;
    }
}

fn check_positions(text: &str) -> Result<(), TestCaseError> {
    let Err(problems) = RepoConfig::parse(text) else {
        return Ok(());
    };
    prop_assert!(!problems.is_empty());
    let lines: Vec<&str> = text.split('\n').collect();
    for p in &problems {
        prop_assert_eq!(p.source, ConfigSource::Repo);
        prop_assert!(p.line >= 1 && p.line <= lines.len(), "{} in {:?}", p, text);
        let width = lines[p.line - 1].chars().count();
        prop_assert!(
            p.column >= 1 && p.column <= width + 1,
            "{} in {:?}",
            p,
            text
        );
        prop_assert!(!p.message.is_empty());
    }
    let positions: Vec<(usize, usize)> = problems.iter().map(|p| (p.line, p.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    prop_assert_eq!(positions, sorted, "problems come in file order");
    Ok(())
}

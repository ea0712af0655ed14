//! Repository configuration: `.github/seamguard.yml`, read from the base branch,
//! layered over org-wide defaults from the owner's `.github` repository.
//!
//! Every key is optional; a missing or empty file means [`RepoConfig::default`].
//! The hard part is reporting: an invalid file must make the check run fail
//! with *every* problem and its line and column, never a crash and never a
//! silent default. So parsing goes in three steps:
//!
//! 1. the `yaml` module loads the text into a tree where every node keeps
//!    its position (and duplicate keys are kept, to be reported);
//! 2. `read` walks that tree against the schema and turns each file into a
//!    *layer*: every key it sets, with where it was set, plus every problem
//!    found (unknown keys with the closest known one, wrong types, bad enum
//!    values, globs, durations and bounds);
//! 3. the repository's layer is put over the org's key by key (a list in the
//!    repository replaces the org's list), defaults fill the rest, and the
//!    rules that span keys (an empty label while `merge.mode` is `label`) are
//!    checked on the result, pointing at the file that set the offending key.
//!
//! Problems in either file are all reported, each tagged with its
//! [`ConfigSource`], even when the other file overrides the key.

mod read;

use std::fmt;
use std::time::Duration;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::Serialize;

/// Where the repository config lives, in the repository and in the owner's
/// `.github` repository (org-wide defaults).
pub const CONFIG_PATH: &str = ".github/seamguard.yml";

/// The directory both spellings of the config file live in.
pub const CONFIG_DIR: &str = ".github";

/// The config file names, in the order they win: `.yml` is read when both
/// exist, `.yaml` when it is the only one.
pub const CONFIG_NAMES: [&str; 2] = ["seamguard.yml", "seamguard.yaml"];

/// Which config file to read, given the names present in [`CONFIG_DIR`]:
/// its path, and a note for the check run when the other spelling is there
/// too and is ignored.
pub fn choose_config_file<'a>(
    present: impl IntoIterator<Item = &'a str>,
) -> (Option<String>, Option<String>) {
    let present: Vec<&str> = present.into_iter().collect();
    let mut found = CONFIG_NAMES.iter().filter(|n| present.contains(n));
    let chosen = found.next().map(|n| format!("{CONFIG_DIR}/{n}"));
    let note = found.next().zip(chosen.as_ref()).map(|(ignored, chosen)| {
        format!(
            "`{CONFIG_DIR}/{ignored}` is ignored: `{chosen}` exists and wins; delete one of them"
        )
    });
    (chosen, note)
}

/// Upper bound for `merge.max_attempts`. Each try waits an exponentially
/// growing backoff and costs API calls against the installation's rate limit;
/// past a few dozen tries a stuck merge needs a human, not another retry.
pub const MAX_MERGE_ATTEMPTS: u32 = 50;

/// Upper bound for `required_checks.register_timeout`: a check that has not
/// registered within a week never will, and the wait keeps a scheduled
/// re-evaluation alive for that long.
pub const MAX_REGISTER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// GitHub rejects label names longer than this, so a longer `merge.label`
/// could never be put on a pull request.
pub const MAX_LABEL_CHARS: usize = 50;

/// The URL the schema names itself by (`$id`).
const SCHEMA_ID: &str =
    "https://raw.githubusercontent.com/seamguard/seamguard/main/schema/seamguard.schema.json";

/// The whole repository configuration, defaults filled in.
///
/// The JSON Schema editors use (`schema/seamguard.schema.json`) is generated
/// from these types ([`json_schema`]): a key's description is its doc
/// comment's first paragraph, its default the [`Default`] value, its bounds
/// the attributes beside it. A new key is one field here (and its reading
/// in `read`); the schema test says when the committed file is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(
    deny_unknown_fields,
    default,
    title = "seamguard repository config (.github/seamguard.yml)",
    description = "Every key is optional. Checked by `seamguard check-config FILE`; this schema \
                   agrees with it, except that it cannot check glob syntax or duration bounds \
                   (longer than zero, at most 7 days).",
    extend("$id" = SCHEMA_ID)
)]
pub struct RepoConfig {
    /// The guard that fails a pull request adding git conflict markers.
    #[schemars(with = "Option<ConflictMarkersConfig>")]
    pub conflict_markers: ConflictMarkersConfig,
    /// The guard that fails a pull request merging in history from a
    /// branch that is not its base, or carrying a long-lived branch's
    /// history without a merge.
    #[schemars(with = "Option<MergeSourcesConfig>")]
    pub merge_sources: MergeSourcesConfig,
    /// Whether and how seamguard merges pull requests.
    #[schemars(with = "Option<MergeConfig>")]
    pub merge: MergeConfig,
    /// Checks required on top of branch protection and rulesets.
    #[schemars(with = "Option<RequiredChecksConfig>")]
    pub required_checks: RequiredChecksConfig,
    /// Independent review for pull requests written by coding agents.
    #[schemars(with = "Option<AgentsConfig>")]
    pub agents: AgentsConfig,
    /// neutral: a guard's internal error ends the check run neutral (fail
    /// open); failure: fail closed.
    pub on_internal_error: OnInternalError,
    /// What the loader noticed about the files themselves (a second
    /// spelling it ignored), said in the check run's summary.
    #[serde(skip)]
    #[schemars(skip)]
    pub notes: Vec<String>,
    /// enforce: the check run concludes as the guards say and opted-in pull
    /// requests are merged; shadow: everything is evaluated, reported and
    /// not acted on.
    pub mode: Mode,
}

/// Whether seamguard's verdict counts (`enforce`) or is only reported
/// (`shadow`): the way to try seamguard on a repository before requiring its
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The check run concludes as the guards say and opted-in PRs are merged.
    Enforce,
    /// Everything is evaluated as in enforce mode, but the check run always
    /// ends `neutral` (saying what enforce mode would have concluded) and
    /// nothing is merged. An invalid config still fails.
    Shadow,
}

/// A pattern a name must match: something other than spaces.
const NOT_BLANK: &str = r"\S";

/// What `required_checks.register_timeout` accepts: humantime's units.
const DURATION_PATTERN: &str = r"^\s*([0-9]+\s*(nsec|ns|usec|us|msec|ms|seconds|second|sec|s|minutes|minute|min|m|hours|hour|hr|h|days|day|d|weeks|week|w)\s*)+$";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, default)]
pub struct ConflictMarkersConfig {
    pub enabled: bool,
    /// Globs of paths allowed to hold markers (`*` stays within a path
    /// segment, `**` crosses `/`).
    #[schemars(inner(pattern(NOT_BLANK)))]
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, default)]
pub struct MergeSourcesConfig {
    pub enabled: bool,
    /// Branch globs whose history may be merged in, besides the base.
    #[schemars(inner(pattern(NOT_BLANK)))]
    pub allowed: Vec<String>,
    /// Above this many commits from another line, the drift note becomes a
    /// finding; null for no limit.
    #[schemars(range(min = 1))]
    pub max_commits: Option<u64>,
    /// Globs of long-lived branches (besides the protected ones) whose
    /// history must not arrive on the base without a merge commit: a branch
    /// cut from, rebased onto or reset to one of them is foreign history.
    #[schemars(inner(pattern(NOT_BLANK)))]
    pub long_lived: Vec<String>,
}

/// The long-lived branches when `merge_sources.long_lived` is not set.
pub const DEFAULT_LONG_LIVED: [&str; 4] = ["develop", "dev", "staging", "release/*"];

/// label: merge pull requests carrying `merge.label`; always; never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    Label,
    Always,
    Never,
}

/// Whose pull requests `merge.mode: always` merges: `writers` (opened by
/// someone with write access to the repository) or `anyone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlwaysAuthors {
    Writers,
    Anyone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    /// The `merge_method` value of `PUT /pulls/{n}/merge`.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, default, transform = label_named_when_merging_by_label)]
pub struct MergeConfig {
    pub mode: MergeMode,
    /// The label that opts a pull request in (GitHub allows 50 characters).
    #[schemars(length(max = MAX_LABEL_CHARS))]
    pub label: String,
    pub method: MergeMethod,
    /// Merge tries per head on pending wording or transient errors.
    #[schemars(range(min = 1, max = MAX_MERGE_ATTEMPTS))]
    pub max_attempts: u32,
    /// Update the branch with its base when a strict policy needs it up to
    /// date (one pull request at a time per base branch).
    pub update_branch: bool,
    /// A label that puts a pull request first in line on a strict base;
    /// null for none.
    #[schemars(length(max = MAX_LABEL_CHARS), pattern(NOT_BLANK))]
    pub priority_label: Option<String>,
    /// Under `mode: always`, whose pull requests merge without a label:
    /// `writers` (opened by someone with write access) or `anyone`.
    pub always_authors: AlwaysAuthors,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, default)]
pub struct RequiredChecksConfig {
    /// Check names required on top of protection and rulesets.
    #[schemars(inner(pattern(NOT_BLANK)))]
    pub extra: Vec<String>,
    /// After this long, the summary says a required check never registered
    /// (e.g. 30m, 1h30m).
    #[serde(serialize_with = "humantime_text")]
    #[schemars(with = "String", pattern(DURATION_PATTERN))]
    pub register_timeout: Duration,
}

/// Upper bound for `agents.independent_approvals`: GitHub's own rules ask
/// for at most 10 approving reviews.
pub const MAX_INDEPENDENT_APPROVALS: u32 = 10;

/// Off by default: no approvals asked, no extra accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// Approvals an agent-written pull request needs from people who did
    /// not write it or ask for it (not its author, a commit's author or
    /// committer, a co-author or an assignee); 0 turns the guard off.
    #[schemars(range(min = 0, max = MAX_INDEPENDENT_APPROVALS))]
    pub independent_approvals: u32,
    /// Extra coding-agent accounts, added to the built-in list: logins
    /// (`my-agent[bot]`) or commit e-mail addresses, where `*` matches any
    /// run of characters and `?` one (brackets are literal).
    #[schemars(inner(pattern(NOT_BLANK)))]
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnInternalError {
    /// Fail open: the check run ends `neutral`.
    Neutral,
    /// Fail closed: the check run ends `failure`.
    Failure,
}

impl Default for RepoConfig {
    fn default() -> Self {
        Self {
            conflict_markers: ConflictMarkersConfig::default(),
            merge_sources: MergeSourcesConfig::default(),
            merge: MergeConfig::default(),
            required_checks: RequiredChecksConfig::default(),
            agents: AgentsConfig::default(),
            on_internal_error: OnInternalError::Neutral,
            notes: Vec::new(),
            mode: Mode::Enforce,
        }
    }
}

impl Default for ConflictMarkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ignore: Vec::new(),
        }
    }
}

impl Default for MergeSourcesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed: Vec::new(),
            max_commits: None,
            long_lived: DEFAULT_LONG_LIVED.map(str::to_owned).to_vec(),
        }
    }
}

impl Default for MergeConfig {
    fn default() -> Self {
        Self {
            mode: MergeMode::Label,
            label: "automerge".to_owned(),
            method: MergeMethod::Squash,
            max_attempts: 6,
            update_branch: false,
            priority_label: None,
            always_authors: AlwaysAuthors::Writers,
        }
    }
}

impl Default for RequiredChecksConfig {
    fn default() -> Self {
        Self {
            extra: Vec::new(),
            register_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// A duration as the config writes it (`30m`), for the schema's defaults.
fn humantime_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// `merge.label` must name a label unless `merge.mode` is `always` or
/// `never` (the one rule that spans keys).
fn label_named_when_merging_by_label(schema: &mut schemars::Schema) {
    schema.insert(
        "if".to_owned(),
        serde_json::json!({
            "not": {
                "type": "object",
                "required": ["mode"],
                "properties": { "mode": { "enum": ["always", "never"] } }
            }
        }),
    );
    schema.insert(
        "then".to_owned(),
        serde_json::json!({ "properties": { "label": { "pattern": NOT_BLANK } } }),
    );
}

/// Keeps the first paragraph of every description, on one line: what a
/// user reads in an editor, not the notes for this crate's readers that
/// follow it.
fn first_paragraphs(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(d)) = map.get_mut("description") {
                let first = d.split("\n\n").next().unwrap_or_default();
                *d = first.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            map.values_mut().for_each(first_paragraphs);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(first_paragraphs),
        _ => {}
    }
}

/// The JSON Schema of `.github/seamguard.yml` that editors check against
/// (committed as `schema/seamguard.schema.json`; a test keeps the two
/// equal), generated from the types above.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RepoConfig>()
        .to_value();
    first_paragraphs(&mut schema);
    schema
}

/// Which file a problem (or a key's value) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigSource {
    /// The repository's own `.github/seamguard.yml` (base branch).
    Repo,
    /// The org-wide defaults: the same path in the owner's `.github` repository.
    Org,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigSource::Repo => "repository config",
            ConfigSource::Org => "organization defaults",
        })
    }
}

/// One problem in a config file, at a 1-based line and column (characters).
///
/// Displays as `line:col: message`; prefix the file name for a
/// compiler-style `file:line:col: message` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub source: ConfigSource,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl RepoConfig {
    /// One file on its own (defaults filled in); every problem with line and
    /// column, not just the first.
    pub fn parse(text: &str) -> Result<RepoConfig, Vec<ConfigProblem>> {
        Self::layered(None, Some(text))
    }

    /// Org-wide defaults (owner's `.github` repo, same path) merged key by key
    /// under the repository's file. `None` = file absent.
    ///
    /// A key set in the repository wins; a list in the repository replaces
    /// the org's list; sections merge per key. Problems of both files are
    /// returned together, repository first, each in file order.
    pub fn layered(
        org: Option<&str>,
        repo: Option<&str>,
    ) -> Result<RepoConfig, Vec<ConfigProblem>> {
        let read = |text: Option<&str>, source| match text {
            None => Ok(read::Layer::default()),
            Some(text) => read::read(text, source),
        };
        let (repo, org) = (read(repo, ConfigSource::Repo), read(org, ConfigSource::Org));
        match (repo, org) {
            (Ok(repo), Ok(org)) => repo.over(org).finish(),
            (repo, org) => Err(repo.err().into_iter().chain(org.err()).flatten().collect()),
        }
    }
}

/// The file as the JSON value an editor checks against
/// `schema/seamguard.schema.json` (YAML 1.2, as the YAML language server
/// reads it); `None` for an empty file or YAML that does not load.
pub fn as_json(text: &str) -> Option<serde_json::Value> {
    let root = super::yaml::load_strict(text).ok()??;
    super::yaml::to_json(&root).ok()
}

/// Compiles one glob the way seamguard matches them everywhere: `*` and `?`
/// stay within one path segment (as in GitHub's branch patterns and Actions
/// path filters), `**` crosses `/`, `{a,b}` and `[ab]` work.
pub fn compile_glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// Compiles a list of globs (see [`compile_glob`]) into one matcher.
pub fn compile_globs(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(compile_glob(pattern)?);
    }
    set.build()
}

impl ConflictMarkersConfig {
    /// The `ignore` globs as one matcher over repository-relative paths.
    pub fn ignore_matcher(&self) -> Result<GlobSet, globset::Error> {
        compile_globs(&self.ignore)
    }
}

impl MergeSourcesConfig {
    /// The `allowed` globs as one matcher over branch names.
    pub fn allowed_matcher(&self) -> Result<GlobSet, globset::Error> {
        compile_globs(&self.allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_keep_star_within_a_segment() {
        let allowed = MergeSourcesConfig {
            enabled: true,
            allowed: vec!["release/*".to_owned()],
            max_commits: None,
            long_lived: Vec::new(),
        }
        .allowed_matcher()
        .unwrap();
        assert!(allowed.is_match("release/1.2"));
        assert!(!allowed.is_match("release/1.2/hotfix"));
        assert!(!allowed.is_match("develop"));

        let ignore = ConflictMarkersConfig {
            enabled: true,
            ignore: vec!["tests/fixtures/**".to_owned(), "**/*.snap".to_owned()],
        }
        .ignore_matcher()
        .unwrap();
        assert!(ignore.is_match("tests/fixtures/a/b.txt"));
        assert!(ignore.is_match("src/snapshots/x.snap"));
        assert!(!ignore.is_match("src/main.rs"));
    }

    #[test]
    fn yml_wins_over_yaml_and_the_loser_is_named() {
        assert_eq!(choose_config_file([]), (None, None));
        assert_eq!(
            choose_config_file(["CODEOWNERS", "seamguard.yaml"]),
            (Some(".github/seamguard.yaml".to_owned()), None)
        );
        assert_eq!(
            choose_config_file(["seamguard.yml"]),
            (Some(".github/seamguard.yml".to_owned()), None)
        );
        let (chosen, note) = choose_config_file(["seamguard.yaml", "seamguard.yml"]);
        assert_eq!(chosen.as_deref(), Some(".github/seamguard.yml"));
        assert_eq!(
            note.as_deref(),
            Some(
                "`.github/seamguard.yaml` is ignored: `.github/seamguard.yml` exists and wins; \
                 delete one of them"
            )
        );
    }

    #[test]
    fn problem_displays_line_and_column() {
        let problem = ConfigProblem {
            source: ConfigSource::Org,
            line: 3,
            column: 5,
            message: "bad".to_owned(),
        };
        assert_eq!(problem.to_string(), "3:5: bad");
    }
}

//! Repository configuration: `.github/seamguard.yml`, read from the base branch.
//!
//! Every key is optional; a missing file means [`RepoConfig::default`]. Parsing
//! and validation (with line and column for every problem) live here too.

use std::time::Duration;

/// Where the repository config lives, in the repository and in the owner's
/// `.github` repository (org-wide defaults).
pub const CONFIG_PATH: &str = ".github/seamguard.yml";

/// The whole repository configuration, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    pub conflict_markers: ConflictMarkersConfig,
    pub merge_sources: MergeSourcesConfig,
    pub merge: MergeConfig,
    pub required_checks: RequiredChecksConfig,
    pub on_internal_error: OnInternalError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictMarkersConfig {
    pub enabled: bool,
    /// Globs of paths allowed to hold markers.
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSourcesConfig {
    pub enabled: bool,
    /// Branch globs whose history may be merged in, besides the base.
    pub allowed: Vec<String>,
    /// Above this many commits the drift note becomes a finding.
    pub max_commits: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    Label,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConfig {
    pub mode: MergeMode,
    pub label: String,
    pub method: MergeMethod,
    /// Merge tries on pending wording or transient errors, per head SHA.
    pub max_attempts: u32,
    /// Call update-branch when a strict policy needs the branch up to date.
    pub update_branch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredChecksConfig {
    /// Contexts required on top of protection and rulesets.
    pub extra: Vec<String>,
    /// After this long, the summary says a required check never registered.
    pub register_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInternalError {
    /// Fail open: the check run ends `neutral`.
    Neutral,
    /// Fail closed: the check run ends `failure`.
    Failure,
}

impl Default for RepoConfig {
    fn default() -> Self {
        Self {
            conflict_markers: ConflictMarkersConfig {
                enabled: true,
                ignore: Vec::new(),
            },
            merge_sources: MergeSourcesConfig {
                enabled: true,
                allowed: Vec::new(),
                max_commits: None,
            },
            merge: MergeConfig {
                mode: MergeMode::Label,
                label: "automerge".to_owned(),
                method: MergeMethod::Squash,
                max_attempts: 6,
                update_branch: false,
            },
            required_checks: RequiredChecksConfig {
                extra: Vec::new(),
                register_timeout: Duration::from_secs(30 * 60),
            },
            on_internal_error: OnInternalError::Neutral,
        }
    }
}

//! Shapes of GitHub's REST answers that seamguard reads.
//!
//! octocrab's models are used where they fit (pull requests, labels); the
//! rest are small owned types holding only the fields seamguard uses, each
//! field optional or defaulted where GitHub may omit it, so a new or absent
//! field in GitHub's answer never breaks an evaluation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use octocrab::models::pulls::PullRequest;

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRunList {
    pub total_count: u64,
    #[serde(default)]
    pub check_runs: Vec<CheckRun>,
}

/// One check run as the checks API lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub app: Option<AppRef>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// The run's title and summary (the check-run list includes them).
    #[serde(default)]
    pub output: Option<CheckRunOutput>,
}

/// The output of a check run as GitHub returns it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CheckRunOutput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// `GET /repos/{owner}/{repo}/collaborators/{username}/permission`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CollaboratorPermission {
    /// The legacy base role: `admin`, `write`, `read` or `none`.
    pub permission: String,
}

impl CollaboratorPermission {
    /// Write access or more (`maintain` is reported as `write`).
    pub fn can_write(&self) -> bool {
        matches!(self.permission.as_str(), "admin" | "write")
    }
}

/// The App that owns a check run or check suite.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AppRef {
    pub id: u64,
    #[serde(default)]
    pub slug: Option<String>,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct CombinedStatus {
    #[serde(default)]
    pub statuses: Vec<CommitStatus>,
    #[serde(default)]
    pub total_count: u64,
}

/// One commit status (the latest of its context, in a combined status).
#[derive(Debug, Clone, Deserialize)]
pub struct CommitStatus {
    pub context: String,
    pub state: String,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProtectionChecks {
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub contexts: Vec<String>,
    #[serde(default)]
    pub checks: Vec<ProtectionCheck>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProtectionCheck {
    pub context: String,
    #[serde(default)]
    pub app_id: Option<i64>,
}

/// One rule of `GET /repos/{owner}/{repo}/rules/branches/{branch}`.
#[derive(Debug, Clone, Deserialize)]
pub struct BranchRule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub ruleset_source_type: Option<String>,
    #[serde(default)]
    pub ruleset_source: Option<String>,
    #[serde(default)]
    pub ruleset_id: Option<u64>,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

/// The parameters of a `required_status_checks` rule.
#[derive(Debug, Clone, Deserialize)]
pub struct RequiredStatusChecksParams {
    #[serde(default)]
    pub required_status_checks: Vec<RuleStatusCheck>,
    #[serde(default)]
    pub strict_required_status_checks_policy: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleStatusCheck {
    pub context: String,
    #[serde(default)]
    pub integration_id: Option<i64>,
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Comparison {
    pub status: String,
    #[serde(default)]
    pub ahead_by: u64,
    #[serde(default)]
    pub behind_by: u64,
    #[serde(default)]
    pub total_commits: u64,
    pub base_commit: ShaRef,
    pub merge_base_commit: ShaRef,
    #[serde(default)]
    pub commits: Vec<CompareCommit>,
    #[serde(default)]
    pub files: Option<Vec<DiffFile>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShaRef {
    pub sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CompareCommit {
    pub sha: String,
    #[serde(default)]
    pub parents: Vec<ShaRef>,
    pub commit: CommitDetail,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommitDetail {
    #[serde(default)]
    pub message: String,
}

/// One changed file of a pull request or comparison.
#[derive(Debug, Clone, Deserialize)]
pub struct DiffFile {
    pub filename: String,
    pub status: String,
    /// The blob at the head; absent for some removed files.
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub additions: u64,
    /// Absent when GitHub deems the diff too large or the file binary.
    #[serde(default)]
    pub patch: Option<String>,
    #[serde(default)]
    pub previous_filename: Option<String>,
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}?recursive=1`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tree {
    #[serde(default)]
    pub tree: Vec<TreeEntry>,
    /// GitHub cuts recursive listings past 100,000 entries or 7 MB.
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TreeEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
    #[serde(default)]
    pub mode: Option<String>,
}

/// One branch of `GET /repos/{owner}/{repo}/branches`.
#[derive(Debug, Clone, Deserialize)]
pub struct Branch {
    pub name: String,
    pub commit: ShaRef,
}

/// One entry of `GET /app/hook/deliveries`.
#[derive(Debug, Clone, Deserialize)]
pub struct HookDelivery {
    pub id: u64,
    pub guid: String,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub redelivery: bool,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub installation_id: Option<u64>,
}

/// `PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge` on success.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeResult {
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /app-manifests/{code}/conversions`: the new App's credentials.
#[derive(Clone, Deserialize)]
pub struct ManifestConversion {
    pub id: u64,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub pem: String,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ManifestConversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestConversion")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}

/// The output of a check run, as seamguard writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutput {
    pub title: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// One check-run annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub annotation_level: &'static str,
    pub title: String,
    pub message: String,
}

//! Shapes of GitHub's REST answers that seamguard reads.
//!
//! Each is a small owned type holding only the fields seamguard uses. GitHub
//! Enterprise Server versions, and GitHub's own changes, send fewer or more
//! fields than today's api.github.com, so reading is tolerant:
//!
//! - a field seamguard needs (an id, a name, a SHA) is required, and its
//!   absence is a readable error naming the JSON path;
//! - every other field is defaulted: missing, `null` ([`null_as_default`]),
//!   an empty string or an unparsable time ([`lenient_time`],
//!   [`non_empty`]) all read as "not there";
//! - unknown fields and unknown enum values are ignored or kept as strings,
//!   never a failure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A field that GitHub may send as `null` reads as its default.
pub fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// A time seamguard only shows or compares: absent, `null`, empty or not
/// RFC 3339 reads as `None` rather than failing the whole answer.
pub fn lenient_time<'de, D>(de: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(de)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// A string (a URL, a SHA of a removed file) where empty means absent.
pub fn non_empty<'de, D>(de: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(de)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    })
}

/// A pull request, as `GET /repos/{owner}/{repo}/pulls/{pull_number}` and
/// the pull request lists answer it.
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    /// The GraphQL id (`enqueuePullRequest` takes it).
    #[serde(default, deserialize_with = "non_empty")]
    pub node_id: Option<String>,
    /// For the pull request's page.
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    /// `https://github.com/OWNER/REPO/pull/N`: the page links files under
    /// the repository's web address, GitHub Enterprise's too.
    #[serde(default, deserialize_with = "non_empty")]
    pub html_url: Option<String>,
    /// `open` or `closed`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
    #[serde(default, deserialize_with = "lenient_time")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub merged_at: Option<DateTime<Utc>>,
    /// Only the single pull request answer has it.
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Vec<Label>,
    /// `clean`, `behind`, `dirty`, `blocked`, … (new values kept as they
    /// come); only the single pull request answer has it.
    #[serde(default, deserialize_with = "non_empty")]
    pub mergeable_state: Option<String>,
    pub head: PullRef,
    pub base: PullRef,
    /// The author (the opt-in rule asks their write access).
    #[serde(default)]
    pub user: Option<Account>,
    /// The stack the pull request is in (`null` or absent: none).
    #[serde(default, deserialize_with = "stack_if_any")]
    pub stack: Option<PullStack>,
}

/// Where a stacked pull request sits (`pull-request-stack`). GitHub
/// promises only `base`; each part it leaves out (or sends in a shape not
/// understood) reads as unknown, never as "not stacked": a stacked pull
/// request whose place is unknown is not merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PullStack {
    /// Where the whole stack lands.
    #[serde(default)]
    pub base: Option<StackBase>,
    #[serde(default)]
    pub size: Option<u32>,
    /// One-based; 1 is the bottom.
    #[serde(default)]
    pub position: Option<u32>,
    /// The stack's number (`GET …/stacks/{stack_number}`).
    #[serde(default)]
    pub number: Option<u64>,
}

/// The branch a stack lands on, and its tip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StackBase {
    #[serde(rename = "ref")]
    pub branch: String,
    #[serde(default, deserialize_with = "non_empty")]
    pub sha: Option<String>,
}

/// `stack`: absent or `null` is no stack; any other value is a stack, read
/// as far as it can be.
fn stack_if_any<'de, D>(de: D) -> Result<Option<PullStack>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<serde_json::Value>::deserialize(de)? {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(serde_json::from_value(v).unwrap_or_default()),
    })
}

/// `GET /repos/{owner}/{repo}/stacks/{stack_number}`: the stack's pull
/// requests, bottom first.
#[derive(Debug, Clone, Deserialize)]
pub struct StackAnswer {
    pub number: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pull_requests: Vec<StackMember>,
}

/// One pull request of a stack (`pull-request-stack-pull-request`).
#[derive(Debug, Clone, Deserialize)]
pub struct StackMember {
    pub number: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    /// `open` or `closed`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
    #[serde(default, deserialize_with = "lenient_time")]
    pub merged_at: Option<DateTime<Utc>>,
    pub head: StackMemberHead,
}

/// A stack member's head.
#[derive(Debug, Clone, Deserialize)]
pub struct StackMemberHead {
    pub sha: String,
}

impl PullRequest {
    /// Open: neither said closed nor carrying a closing time.
    pub fn is_open(&self) -> bool {
        self.state != "closed" && self.closed_at.is_none()
    }

    pub fn is_merged(&self) -> bool {
        self.merged_at.is_some() || self.merged == Some(true)
    }

    /// A draft: said by `draft`, or by a `mergeable_state` of `draft`
    /// where `draft` is left out (the schema does not require it).
    pub fn is_draft(&self) -> bool {
        self.draft.unwrap_or(false) || self.mergeable_state.as_deref() == Some("draft")
    }

    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.name.clone()).collect()
    }
}

/// The head or base of a pull request: a branch and its tip.
#[derive(Debug, Clone, Deserialize)]
pub struct PullRef {
    #[serde(rename = "ref")]
    pub branch: String,
    pub sha: String,
    /// The repository the branch lives in (`null` once a fork is deleted).
    #[serde(default)]
    pub repo: Option<RepoRef>,
}

/// A repository as a pull request's side names it. The base's repository
/// also says which merge methods it allows (absent on some answers: then
/// unknown, and nothing is refused on its account).
#[derive(Debug, Clone, Deserialize)]
pub struct RepoRef {
    pub full_name: String,
    #[serde(default)]
    pub allow_merge_commit: Option<bool>,
    #[serde(default)]
    pub allow_squash_merge: Option<bool>,
    #[serde(default)]
    pub allow_rebase_merge: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRunList {
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_count: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub check_runs: Vec<CheckRun>,
}

/// One check run as the checks API lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed`, `waiting`, … kept as sent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub completed_at: Option<DateTime<Utc>>,
    /// `null` where GitHub does not say (the schema allows it).
    #[serde(default)]
    pub app: Option<AppRef>,
    #[serde(default, deserialize_with = "non_empty")]
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

/// One entry of a directory listing (`GET /repos/{owner}/{repo}/contents/{dir}`).
#[derive(Debug, Clone, Deserialize)]
pub struct DirEntry {
    /// `file`, `dir`, `symlink` or `submodule`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// The blob SHA for a file: the same bytes have the same SHA, at any commit.
    pub sha: String,
    /// Bytes in the file (a file too large to read is refused unread).
    #[serde(default)]
    pub size: Option<u64>,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct CombinedStatus {
    #[serde(default, deserialize_with = "null_as_default")]
    pub statuses: Vec<CommitStatus>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_count: u64,
}

/// One commit status (the latest of its context, in a combined status).
#[derive(Debug, Clone, Deserialize)]
pub struct CommitStatus {
    pub context: String,
    pub state: String,
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Classic protection's `required_status_checks` (a part of
/// `GET /repos/{owner}/{repo}/branches/{branch}/protection`).
#[derive(Debug, Clone, Deserialize)]
pub struct ProtectionChecks {
    #[serde(default, deserialize_with = "null_as_default")]
    pub strict: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub contexts: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_status_checks: Vec<RuleStatusCheck>,
    #[serde(default, deserialize_with = "null_as_default")]
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
    /// `ahead`, `behind`, `diverged`, `identical`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ahead_by: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub behind_by: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_commits: u64,
    pub base_commit: ShaRef,
    pub merge_base_commit: ShaRef,
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub parents: Vec<ShaRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub commit: CommitDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CommitDetail {
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
}

/// One changed file of a pull request or comparison.
#[derive(Debug, Clone, Deserialize)]
pub struct DiffFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, …; empty when not said.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    /// The blob at the head; absent (or empty) for some removed files.
    #[serde(default, deserialize_with = "non_empty")]
    pub sha: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub additions: u64,
    /// Absent when GitHub deems the diff too large or the file binary.
    #[serde(default)]
    pub patch: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub previous_filename: Option<String>,
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}?recursive=1`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tree {
    #[serde(default, deserialize_with = "null_as_default")]
    pub tree: Vec<TreeEntry>,
    /// GitHub cuts recursive listings past 100,000 entries or 7 MB.
    #[serde(default, deserialize_with = "null_as_default")]
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
    /// Whether branch protection is on (a long-lived branch).
    #[serde(default, deserialize_with = "null_as_default")]
    pub protected: bool,
}

/// One entry of `GET /app/hook/deliveries`.
#[derive(Debug, Clone, Deserialize)]
pub struct HookDelivery {
    pub id: u64,
    pub guid: String,
    #[serde(default, deserialize_with = "lenient_time")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "non_empty")]
    pub sha: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub merged: bool,
    #[serde(default)]
    pub message: Option<String>,
}

/// `pull-request-merge-async-result`: what `PUT …/merge-async` and
/// `GET …/merge-async/{uuid}` answer (2xx, 400 and 409 alike). Read
/// tolerantly: every field of `details` may be missing, and an unknown
/// `status` is kept as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MergeAsyncBody {
    /// `pending`, `merged`, `enqueued` or `failed`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub details: MergeAsyncDetails,
}

/// The `details` of a [`MergeAsyncBody`]: which fields are there depends
/// on the status (a request: uuid, method, action, expected head; a
/// merge: its commit; a failure: only the message).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MergeAsyncDetails {
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    #[serde(default, deserialize_with = "non_empty")]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub merge_method: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub merge_action: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub expected_head_sha: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub sha: Option<String>,
}

/// `POST /app-manifests/{code}/conversions`: the new App's credentials.
#[derive(Clone, Deserialize)]
pub struct ManifestConversion {
    pub id: u64,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
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

/// An account (user or organization) as GitHub names it.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub login: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Where in the answer it applies (field names and list indexes);
    /// empty for errors about the whole request.
    #[serde(default, deserialize_with = "null_as_default")]
    pub path: Vec<serde_json::Value>,
}

/// `GET /app`: the App as its settings page has it.
#[derive(Debug, Clone, Deserialize)]
pub struct AppInfo {
    pub id: u64,
    #[serde(default)]
    pub slug: Option<String>,
    pub name: String,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub owner: Option<Account>,
    /// `name` → `read` / `write`, as GitHub sends it.
    #[serde(default)]
    pub permissions: serde_json::Value,
    #[serde(default)]
    pub events: Vec<String>,
}

/// One entry of `GET /app/installations`.
#[derive(Debug, Clone, Deserialize)]
pub struct InstallationInfo {
    pub id: u64,
    #[serde(default)]
    pub account: Option<Account>,
    /// What the installation's owner has accepted (it lags the App's
    /// permissions until they approve a change).
    #[serde(default)]
    pub permissions: serde_json::Value,
    #[serde(default)]
    pub repository_selection: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub suspended_at: Option<String>,
}

/// `GET /app/hook/config`.
#[derive(Debug, Clone, Deserialize)]
pub struct HookConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// `********` when a secret is set.
    #[serde(default)]
    pub secret: Option<String>,
}

/// `GET /installation/repositories` (only the count is read).
#[derive(Debug, Clone, Deserialize)]
pub struct RepositoryPage {
    pub total_count: u64,
}

#[cfg(test)]
mod tests {
    //! Each model read from a minimal answer (only what seamguard needs),
    //! from one where GitHub sends `null`, empty strings and unknown fields
    //! and values, and refused only when a field seamguard needs is gone.

    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::*;

    const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    fn read<T: DeserializeOwned>(v: Value) -> T {
        let text = v.to_string();
        let de = &mut serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(de).unwrap_or_else(|e| panic!("{e} at {}", e.path()))
    }

    fn refused<T: DeserializeOwned + std::fmt::Debug>(v: Value) -> String {
        let text = v.to_string();
        let de = &mut serde_json::Deserializer::from_str(&text);
        let e = serde_path_to_error::deserialize::<_, T>(de).expect_err("must not read");
        e.path().to_string()
    }

    fn pull(extra: Value) -> Value {
        let mut pr = json!({
            "number": 7,
            "head": { "ref": "feature", "sha": SHA },
            "base": { "ref": "main", "sha": SHA },
        });
        pr.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        pr
    }

    #[test]
    fn a_minimal_pull_request_is_open_unmerged_and_unlabelled() {
        let pr: PullRequest = read(pull(json!({})));
        assert_eq!((pr.number, pr.head.branch.as_str()), (7, "feature"));
        assert!(pr.is_open() && !pr.is_merged());
        assert_eq!(pr.label_names(), Vec::<String>::new());
        assert!(!pr.is_draft() && pr.mergeable_state.is_none());
        let draft: PullRequest = read(pull(json!({ "mergeable_state": "draft" })));
        assert!(draft.is_draft());
    }

    #[test]
    fn a_null_laden_pull_request_reads() {
        let pr: PullRequest = read(pull(json!({
            "state": null, "closed_at": null, "merged_at": "", "merged": null, "draft": null,
            "labels": null, "mergeable_state": null, "html_url": "", "user": null,
            "head": { "ref": "feature", "sha": SHA, "repo": null, "user": null, "label": null },
            "milestone": null, "auto_merge": null, "new_field": { "nested": [1, 2] },
        })));
        assert!(pr.is_open() && !pr.is_merged());
        assert!(pr.labels.is_empty());
        let closed: PullRequest = read(pull(json!({
            "state": "closed", "merged_at": "2024-01-02T03:04:05Z",
            "mergeable_state": "has_hooks", "labels": [{ "name": "automerge", "color": null }],
        })));
        assert!(!closed.is_open() && closed.is_merged());
        assert_eq!(closed.mergeable_state.as_deref(), Some("has_hooks"));
        assert_eq!(closed.label_names(), ["automerge"]);
    }

    #[test]
    fn a_pull_request_without_its_head_sha_is_refused_by_path() {
        let path = refused::<PullRequest>(json!({
            "number": 7, "head": { "ref": "feature" }, "base": { "ref": "main", "sha": SHA },
        }));
        assert_eq!(path, "head");
    }

    #[test]
    fn check_runs_read_minimal_and_null_laden() {
        let list: CheckRunList = read(json!({ "check_runs": [{ "id": 1, "name": "lint" }] }));
        let run = &list.check_runs[0];
        assert_eq!(
            (run.id, run.name.as_str(), run.status.as_str()),
            (1, "lint", "")
        );
        assert!(run.app.is_none() && run.conclusion.is_none());

        let list: CheckRunList = read(json!({
            "total_count": null,
            "check_runs": [{
                "id": 2, "name": "test", "head_sha": null, "status": "waiting",
                "conclusion": null, "external_id": null, "started_at": "", "completed_at": null,
                "app": null, "html_url": "", "details_url": null, "output": null,
                "check_suite": null, "pull_requests": null, "deployment": {},
            }, {
                "id": 3, "name": "ci", "head_sha": SHA, "status": "completed",
                "conclusion": "startup_failure", "started_at": "not a time",
                "completed_at": "2024-01-02T03:04:05Z", "app": { "id": 15368, "slug": null },
            }],
        }));
        let [waiting, done] = &list.check_runs[..] else {
            panic!("two runs")
        };
        assert_eq!(waiting.status, "waiting");
        assert!(waiting.started_at.is_none() && waiting.html_url.is_none());
        assert_eq!(done.conclusion.as_deref(), Some("startup_failure"));
        assert!(done.started_at.is_none() && done.completed_at.is_some());
        assert_eq!(done.app.as_ref().map(|a| a.id), Some(15368));
        let nulls: CheckRunList = read(json!({ "total_count": 0, "check_runs": null }));
        assert!(nulls.check_runs.is_empty());
        assert_eq!(
            refused::<CheckRunList>(json!({ "check_runs": [{ "name": "x" }] })),
            "check_runs[0]"
        );
    }

    #[test]
    fn statuses_read_minimal_and_null_laden() {
        let s: CombinedStatus = read(json!({}));
        assert!(s.statuses.is_empty());
        let s: CombinedStatus = read(json!({
            "state": null, "total_count": null, "repository": null,
            "statuses": [{ "context": "ci/jenkins", "state": "error", "updated_at": null,
                           "description": null, "target_url": "", "avatar_url": null }],
        }));
        assert_eq!(
            (s.statuses[0].context.as_str(), s.statuses[0].state.as_str()),
            ("ci/jenkins", "error")
        );
    }

    #[test]
    fn protection_reads_minimal_and_null_laden() {
        let p: ProtectionChecks = read(json!({}));
        assert!(!p.strict && p.contexts.is_empty() && p.checks.is_empty());
        let p: ProtectionChecks = read(json!({
            "strict": null, "contexts": null, "url": "", "contexts_url": null,
            "checks": [{ "context": "test", "app_id": null }, { "context": "lint", "app_id": 15368 }],
        }));
        assert_eq!(p.checks.len(), 2);
        assert_eq!(
            (p.checks[0].app_id, p.checks[1].app_id),
            (None, Some(15368))
        );
    }

    #[test]
    fn branch_rules_read_minimal_and_null_laden() {
        let rules: Vec<BranchRule> = read(json!([
            { "type": "required_status_checks" },
            { "type": "required_status_checks", "ruleset_source_type": null, "ruleset_source": null,
              "ruleset_id": null, "parameters": null },
            { "type": "merge_queue", "parameters": { "new_option": true } },
            { "type": "some_rule_from_the_future", "parameters": "anything" },
        ]));
        assert_eq!(rules.len(), 4);
        assert!(rules[1].parameters.is_none());
        let params: RequiredStatusChecksParams = read(json!({
            "required_status_checks": [{ "context": "test" }, { "context": "lint", "integration_id": null }],
            "strict_required_status_checks_policy": null,
            "do_not_enforce_on_create": true,
        }));
        assert_eq!(params.required_status_checks.len(), 2);
        let params: RequiredStatusChecksParams = read(json!({ "required_status_checks": null }));
        assert!(
            params.required_status_checks.is_empty()
                && !params.strict_required_status_checks_policy
        );
    }

    #[test]
    fn comparisons_read_minimal_and_null_laden() {
        let c: Comparison = read(json!({
            "base_commit": { "sha": SHA }, "merge_base_commit": { "sha": SHA },
        }));
        assert!(c.commits.is_empty() && c.files.is_none() && c.status.is_empty());
        let c: Comparison = read(json!({
            "status": "ahead", "ahead_by": 1, "behind_by": null, "total_commits": 1,
            "base_commit": { "sha": SHA, "commit": null }, "merge_base_commit": { "sha": SHA },
            "url": "", "html_url": null, "permalink_url": "",
            "commits": [
                { "sha": SHA, "parents": null, "commit": null, "author": null, "committer": null },
                { "sha": SHA, "parents": [{ "sha": SHA, "url": "" }],
                  "commit": { "message": null, "tree": null } },
            ],
            "files": [
                { "filename": "a.rs", "status": "modified", "sha": "", "additions": null,
                  "patch": null, "previous_filename": "" },
                { "filename": "b.bin" },
            ],
        }));
        assert_eq!(c.commits.len(), 2);
        assert!(c.commits[0].parents.is_empty() && c.commits[1].commit.message.is_empty());
        let files = c.files.expect("files");
        assert!(
            files[0].sha.is_none()
                && files[0].patch.is_none()
                && files[0].previous_filename.is_none()
        );
        assert_eq!((files[1].status.as_str(), files[1].additions), ("", 0));
        assert_eq!(
            refused::<Comparison>(json!({ "merge_base_commit": { "sha": SHA } })),
            "."
        );
    }

    #[test]
    fn pull_request_files_read_minimal_and_null_laden() {
        let files: Vec<DiffFile> = read(json!([
            { "filename": "a.rs" },
            { "filename": "b.rs", "status": "renamed", "sha": null, "additions": 3,
              "patch": "@@ -0,0 +1 @@\n+x", "previous_filename": "old.rs",
              "blob_url": "", "raw_url": null, "contents_url": "" },
        ]));
        assert_eq!(files[1].previous_filename.as_deref(), Some("old.rs"));
        assert!(files[1].sha.is_none());
    }

    #[test]
    fn trees_and_branches_read_minimal_and_null_laden() {
        let t: Tree = read(json!({}));
        assert!(t.tree.is_empty() && !t.truncated);
        let t: Tree = read(json!({
            "sha": null, "url": "", "truncated": null,
            "tree": [{ "path": "a", "type": "blob", "sha": SHA, "mode": null, "size": null, "url": "" }],
        }));
        assert_eq!(t.tree[0].kind, "blob");
        let b: Vec<Branch> = read(json!([
            { "name": "main", "commit": { "sha": SHA } },
            { "name": "dev", "commit": { "sha": SHA, "url": "" }, "protected": null,
              "protection": null, "protection_url": "" },
        ]));
        assert_eq!(b[1].name, "dev");
    }

    #[test]
    fn hook_deliveries_read_minimal_and_null_laden() {
        let d: Vec<HookDelivery> = read(json!([
            { "id": 1, "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516" },
            { "id": 2, "guid": "g", "delivered_at": "", "redelivery": null, "duration": null,
              "status": null, "status_code": null, "event": null, "action": null,
              "installation_id": null, "repository_id": null, "throttled_at": null },
        ]));
        assert!(d[1].delivered_at.is_none() && !d[1].redelivery && d[1].status_code.is_none());
    }

    #[test]
    fn merge_results_and_manifest_conversions_read_minimal_and_null_laden() {
        let m: MergeResult = read(json!({}));
        assert!(!m.merged && m.sha.is_none());
        let m: MergeResult = read(json!({ "sha": "", "merged": null, "message": null }));
        assert!(!m.merged && m.sha.is_none());
        let m: MergeResult = read(json!({ "sha": SHA, "merged": true, "message": "Merged" }));
        assert!(m.merged && m.sha.as_deref() == Some(SHA));

        let c: ManifestConversion = read(json!({ "id": 9, "pem": "-----BEGIN" }));
        assert!(c.webhook_secret.is_none() && c.slug.is_none());
        let c: ManifestConversion = read(json!({
            "id": 9, "pem": "-----BEGIN", "slug": null, "html_url": "", "webhook_secret": null,
            "client_id": null, "client_secret": null, "owner": null, "permissions": null,
        }));
        assert!(c.html_url.is_none());
        assert_eq!(refused::<ManifestConversion>(json!({ "id": 9 })), ".");
    }
}

/// One entry of GraphQL's `errors` array. GitHub answers HTTP 200 with
/// `errors` (and `data` null or partial) when a query or mutation fails.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphQlError {
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// `NOT_FOUND`, `FORBIDDEN`, `UNPROCESSABLE`, `RATE_LIMITED`, … (GitHub
    /// leaves it out for parse and validation errors).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Where in the answer it applies (field names and list indexes);
    /// empty for errors about the whole request.
    #[serde(default, deserialize_with = "null_as_default")]
    pub path: Vec<serde_json::Value>,
}

/// A merge queue entry, as GraphQL's `MergeQueueEntry` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueueEntry {
    /// 0 for the entry at the head of the queue.
    #[serde(default)]
    pub position: Option<u32>,
    /// `QUEUED`, `AWAITING_CHECKS`, `MERGEABLE`, `UNMERGEABLE`, `LOCKED`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
}

/// The last time a pull request left the merge queue without merging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueueRemoval {
    /// GitHub's reason (`CI_FAILURE`, `MERGE_CONFLICT`, `MANUAL`, …).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reason: String,
    #[serde(default, rename = "createdAt", deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// Where a pull request stands with the merge queue of its base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueState {
    pub head: Option<String>,
    pub entry: Option<QueueEntry>,
    pub last_removal: Option<QueueRemoval>,
}

/// `GET /repos/{owner}/{repo}/branches/{branch}/protection`: classic
/// protection as a whole. Every part is optional: GitHub leaves out what is
/// not enabled.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BranchProtection {
    #[serde(default)]
    pub required_status_checks: Option<ProtectionChecks>,
    #[serde(default)]
    pub required_pull_request_reviews: Option<ProtectionReviews>,
    #[serde(default)]
    pub required_signatures: Option<ProtectionToggle>,
    #[serde(default)]
    pub required_linear_history: Option<ProtectionToggle>,
    #[serde(default)]
    pub required_conversation_resolution: Option<ProtectionToggle>,
    #[serde(default)]
    pub lock_branch: Option<ProtectionToggle>,
    /// Push restrictions (who may push, hence merge): present when set.
    #[serde(default)]
    pub restrictions: Option<serde_json::Value>,
}

/// Classic protection's `required_pull_request_reviews`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProtectionReviews {
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_approving_review_count: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_code_owner_reviews: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_last_push_approval: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dismiss_stale_reviews: bool,
}

/// A classic protection setting that is only on or off (`{ "enabled": true }`).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ProtectionToggle {
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
}

/// The parameters of a ruleset's `pull_request` rule.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PullRequestRuleParams {
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_approving_review_count: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_code_owner_review: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_last_push_approval: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_review_thread_resolution: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dismiss_stale_reviews_on_push: bool,
    /// `merge`, `squash`, `rebase`; absent: all allowed.
    #[serde(default)]
    pub allowed_merge_methods: Option<Vec<String>>,
}

/// The parameters of a ruleset's `required_deployments` rule.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequiredDeploymentsParams {
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_deployment_environments: Vec<String>,
}

/// What GitHub knows about a pull request against the whole gate, from
/// one GraphQL query ([`crate::github::api::PULL_GATE_QUERY`]). Each part
/// GitHub did not answer is `None` (not readable), never a default that
/// could pass for "nothing missing".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullGate {
    pub head: Option<String>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `REVIEW_REQUIRED`; `None`: reviews
    /// are not required (or not readable).
    pub review_decision: Option<String>,
    /// `MERGEABLE`, `CONFLICTING`, `UNKNOWN`.
    pub mergeable: Option<String>,
    /// `CLEAN`, `BLOCKED`, `BEHIND`, `DIRTY`, `UNSTABLE`, `UNKNOWN`, …
    pub merge_state_status: Option<String>,
    /// The latest opinionated review of each reviewer with write access.
    pub reviews: Option<Vec<GateReview>>,
    /// Reviewers (logins, or `org/team`) asked for a review as code owners
    /// and who have not given one.
    pub code_owner_requests: Option<Vec<String>>,
    pub threads: Option<GateThreads>,
    /// The branch's commits (the last 100), oldest first.
    pub commits: Option<Vec<GateCommit>>,
    /// How many commits the branch has in all.
    pub commit_count: Option<u32>,
    /// The head's deployments to the environments asked for, oldest first.
    pub deployments: Option<Vec<GateDeployment>>,
    /// The parts GitHub would not answer for want of a permission (the
    /// field each `FORBIDDEN` error names, e.g. `deployments`): left `None`
    /// above, and said as missing.
    pub forbidden: Vec<String>,
    /// The pull request's author (a bot's login with `[bot]`), when asked
    /// (`withAuthors`).
    pub author: Option<String>,
    /// Its assignees' logins, when asked.
    pub assignees: Option<Vec<String>>,
}

/// A commit's author or committer as git records them, and the GitHub user
/// GitHub matched the e-mail to (none for a bot, which is not a user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateActor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub login: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateReview {
    pub login: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `DISMISSED`, `COMMENTED`, `PENDING`.
    pub state: String,
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateThreads {
    pub total: u32,
    /// Unresolved among those read (the first 100).
    pub unresolved: u32,
    pub read: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCommit {
    pub oid: String,
    pub short: String,
    pub parents: u32,
    /// `Some(true)`: a valid signature; `Some(false)`: signed, not valid;
    /// `None`: not signed.
    pub signature_valid: Option<bool>,
    /// Author, committer and message, when asked (`withAuthors`).
    pub author: Option<GateActor>,
    pub committer: Option<GateActor>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateDeployment {
    pub environment: String,
    /// The deployment's `state` (`ACTIVE`, `PENDING`, `FAILURE`, …).
    pub state: String,
    /// Its latest status's `state` (`SUCCESS`, `FAILURE`, `IN_PROGRESS`, …).
    pub latest_status: Option<String>,
}

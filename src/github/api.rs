//! The named calls seamguard makes, one function each.
//!
//! Each function states its route and what a "normal" non-2xx answer means
//! (a 404 for a missing config file is `None`, not an error). Retrying,
//! authentication and classification happen below, in [`super::client`].

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::budget::Priority;
use super::client::{Auth, Call, ErrorKind, GhError, GitHub, Replay};
use super::models::*;
use crate::ids::{CheckRunId, CommitSha, InstallationId, PrNumber, RepoName};

/// GitHub's largest page for list endpoints.
const PER_PAGE: u32 = 100;

/// GitHub lists at most 3,000 files of a pull request (30 pages of 100).
const MAX_FILE_PAGES: usize = 30;

/// Enough pages for the 1,468-commit incident and then some; a pull request
/// past 10,000 commits is reported on what was read.
const MAX_COMMIT_PAGES: usize = 100;

/// Bound on branch listing pages (10,000 branches).
const MAX_BRANCH_PAGES: usize = 100;

/// The check runs of one commit rarely pass a few dozen; ten pages is a
/// generous ceiling against a runaway matrix.
const MAX_CHECK_RUN_PAGES: usize = 10;

/// Percent-encodes one path segment (a branch name may hold `/`, `#`, `%`).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Encodes a file path, keeping its `/` separators.
fn file_path(path: &str) -> String {
    path.split('/').map(segment).collect::<Vec<_>>().join("/")
}

fn repo_path(repo: &RepoName) -> String {
    format!("repos/{}/{}", segment(repo.owner()), segment(repo.name()))
}

/// A missing resource is an answer, not a failure.
fn none_on_404<T>(r: Result<T, GhError>) -> Result<Option<T>, GhError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_status(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// GraphQL's endpoint relative to the REST root: `https://api.github.com/graphql`
/// beside `https://api.github.com/`, and `https://HOST/api/graphql` beside
/// Enterprise Server's `https://HOST/api/v3/` (a `..` at the root stays there).
pub(super) const GRAPHQL_PATH: &str = "../graphql";

/// Adds the pull request to its base's merge queue, only while its head is
/// `expectedHeadOid` (GitHub refuses a stale head).
pub const ENQUEUE_MUTATION: &str = "mutation Enqueue($pullRequestId: ID!, $expectedHeadOid: GitObjectID!) { \
enqueuePullRequest(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid}) { \
mergeQueueEntry { position state } } }";

/// A pull request's merge queue entry (if any) and the last time it left
/// the queue, with GitHub's reason.
pub const QUEUE_STATE_QUERY: &str = "query QueueState($owner: String!, $name: String!, $number: Int!) { \
repository(owner: $owner, name: $name) { pullRequest(number: $number) { headRefOid \
mergeQueueEntry { position state } \
timelineItems(last: 1, itemTypes: [REMOVED_FROM_MERGE_QUEUE_EVENT]) { \
nodes { ... on RemovedFromMergeQueueEvent { reason createdAt } } } } } }";

/// The check runs and statuses of the base's last commits, from one commit
/// (`$oid`, the base tip), in one request.
pub const BASE_HISTORY_QUERY: &str = "query BaseHistory($owner: String!, $name: String!, $oid: GitObjectID!, $depth: Int!) { \
repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Commit { \
history(first: $depth) { nodes { statusCheckRollup { contexts(first: 100) { nodes { \
... on CheckRun { name checkSuite { app { databaseId } } } \
... on StatusContext { context } } } } } } } } } }";

/// What GitHub knows about a pull request against the whole gate, in one
/// request: its review verdict and latest reviews, code owners still asked,
/// review threads, commits' signatures and parents, mergeability, (when
/// `$withDeployments`) the head's deployments to `$environments`, and (when
/// `$withAuthors`, for the independent-review guard) who wrote it and who
/// asked for it: its author, assignees, and each commit's author, committer
/// and message (its `Co-authored-by` trailers).
pub const PULL_GATE_QUERY: &str = "query PullGate($owner: String!, $name: String!, $number: Int!, \
$environments: [String!], $withDeployments: Boolean!, $withAuthors: Boolean!) { \
repository(owner: $owner, name: $name) { pullRequest(number: $number) { \
headRefOid reviewDecision mergeable mergeStateStatus \
author @include(if: $withAuthors) { __typename login } \
assignees(first: 100) @include(if: $withAuthors) { nodes { login } } \
latestOpinionatedReviews(first: 100, writersOnly: true) { nodes { state author { __typename login } commit { oid } } } \
reviewRequests(first: 100) { nodes { asCodeOwner requestedReviewer { \
... on User { login } ... on Bot { login } ... on Mannequin { login } ... on Team { combinedSlug } } } } \
reviewThreads(first: 100) { totalCount nodes { isResolved } } \
commits(last: 100) { totalCount nodes { commit { oid abbreviatedOid parents { totalCount } signature { isValid } \
author @include(if: $withAuthors) { name email user { login } } \
committer @include(if: $withAuthors) { name email user { login } } \
message @include(if: $withAuthors) } } } \
headCommit: commits(last: 1) @include(if: $withDeployments) { nodes { commit { \
deployments(last: 50, environments: $environments) { nodes { environment state latestStatus { state } } } } } } \
} } }";

/// What `enqueuePullRequest` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// In the queue (GitHub's position when it said one).
    Queued(QueueEntry),
    /// GitHub refused (its `errors`): a stale head, a pull request that is
    /// not mergeable, a queue that is not enabled.
    Refused {
        kind: Option<String>,
        message: String,
    },
}

/// How GitHub is asked to carry out an asynchronous merge (`merge_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeAction {
    /// Merge now, without a merge queue (where seamguard merges).
    DirectMerge,
    /// Add to the base's merge queue (where the base requires one).
    MergeQueue,
}

impl MergeAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            MergeAction::DirectMerge => "direct_merge",
            MergeAction::MergeQueue => "merge_queue",
        }
    }
}

/// What `PUT …/pulls/{pull_number}/merge-async` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeAsync {
    /// 202: accepted; the outcome comes later (the result endpoint, or the
    /// pull request's deliveries).
    Pending { uuid: String },
    /// 200 `merged`: the pull request is merged (its merge commit when
    /// GitHub says it).
    Merged { sha: Option<String> },
    /// 200 `enqueued`: the pull request is in its base's merge queue.
    Enqueued { message: String },
    /// 409: a request already exists for this pull request; what it asked
    /// for, which may differ from what this call asked.
    Existing(AsyncRequest),
    /// 400 `failed`: GitHub's basic state checks refused the request
    /// (closed, draft, …), in its words.
    Failed { message: String },
    /// 404 from the endpoint itself (the pull request reads fine): this API
    /// root has no asynchronous merge (GitHub Enterprise Server, an older
    /// root). Remembered for the API root; no request is sent again.
    Unavailable,
}

/// An asynchronous merge request GitHub holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncRequest {
    pub uuid: String,
    pub method: Option<String>,
    pub action: Option<String>,
    pub expected_head: Option<String>,
}

/// What `GET …/pulls/{pull_number}/merge-async/{uuid}` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeAsyncResult {
    /// Still queued or running.
    Pending(AsyncRequest),
    Merged {
        sha: Option<String>,
    },
    Enqueued {
        message: String,
    },
    /// The merge ran and GitHub refused it (rules are evaluated when the
    /// merge runs), in its words.
    Failed {
        message: String,
    },
    /// 404: unknown, or expired (results are kept 24 hours after their
    /// last update).
    Expired,
}

fn async_request(
    d: &MergeAsyncDetails,
    route: &'static str,
    status: u16,
) -> Result<AsyncRequest, GhError> {
    let uuid = d.uuid.clone().ok_or_else(|| GhError {
        route,
        kind: ErrorKind::Decode,
        status: Some(status),
        message: "a pending asynchronous merge without a uuid".to_owned(),
        retry_after: None,
    })?;
    Ok(AsyncRequest {
        uuid,
        method: d.merge_method.clone(),
        action: d.merge_action.clone(),
        expected_head: d.expected_head_sha.clone(),
    })
}

/// The `errors` of a GraphQL answer, as one message.
fn graphql_message(errors: &[GraphQlError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Calls made on behalf of one installation.
#[derive(Clone)]
pub struct InstallationClient {
    gh: GitHub,
    auth: Auth,
    /// Set by the call site ([`at`](Self::at)): what these calls are worth
    /// when GitHub's budget is short; `None` leaves each call's own.
    priority: Option<Priority>,
    /// Set by [`impatient`](Self::impatient): sent now or deferred at once.
    impatient: bool,
}

impl GitHub {
    pub fn installation(&self, id: InstallationId) -> InstallationClient {
        InstallationClient {
            gh: self.clone(),
            auth: Auth::Installation(id),
            priority: None,
            impatient: false,
        }
    }
}

impl InstallationClient {
    /// The same client, its calls sent at `priority` (merges and check-run
    /// completions `High`, `in_progress` updates `Low`, sweeps
    /// `Background`).
    pub fn at(&self, priority: Priority) -> InstallationClient {
        InstallationClient {
            priority: Some(priority),
            ..self.clone()
        }
    }

    /// Whether a call at `priority` would go now (not held by a pause or
    /// the primary window's reserve).
    pub fn affordable(&self, priority: Priority) -> bool {
        match self.auth {
            Auth::Installation(id) => self.gh.affordable(id, priority),
            _ => true,
        }
    }

    /// Whether GitHub's budget refuses writes of `priority` until later
    /// (for `High`: reports were refused on a content-creating window).
    pub fn writes_held(&self, priority: Priority) -> bool {
        match self.auth {
            Auth::Installation(id) => self.gh.writes_held(id, priority),
            _ => false,
        }
    }

    /// The same client, its calls sent only if GitHub's budget has room
    /// now (a [`Deferred`](super::ErrorKind::Deferred) error otherwise, at
    /// once): for writes that only show progress.
    pub fn impatient(&self) -> InstallationClient {
        InstallationClient {
            impatient: true,
            ..self.clone()
        }
    }

    fn prio(&self, call: Call) -> Call {
        let call = match self.priority {
            Some(p) => call.priority(p),
            None => call,
        };
        if self.impatient {
            call.impatient()
        } else {
            call
        }
    }

    pub async fn pull(&self, repo: &RepoName, pr: PrNumber) -> Result<PullRequest, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/pulls/{pull_number}",
            format!("{}/pulls/{}", repo_path(repo), pr.0),
        );
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Stack `number` of `repo`: its pull requests, bottom first (merged
    /// and closed ones too).
    pub async fn stack(&self, repo: &RepoName, number: u64) -> Result<StackAnswer, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/stacks/{stack_number}",
            format!("{}/stacks/{number}", repo_path(repo)),
        );
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Open pull requests whose head is `sha` (works for forks, where
    /// check events carry no pull request numbers).
    pub async fn pulls_for_commit(
        &self,
        repo: &RepoName,
        sha: &CommitSha,
    ) -> Result<Vec<PullRequest>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls";
        let call = Call::get(ROUTE, format!("{}/commits/{}/pulls", repo_path(repo), sha))
            .query("per_page", PER_PAGE);
        self.gh
            .paginate(self.auth, self.prio(call), 10, |r| {
                r.json::<Vec<PullRequest>>(ROUTE)
            })
            .await
    }

    /// Open pull requests based on `branch`, or on any branch.
    pub async fn open_pulls_on(
        &self,
        repo: &RepoName,
        branch: Option<&str>,
    ) -> Result<Vec<PullRequest>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/pulls";
        let mut call =
            Call::get(ROUTE, format!("{}/pulls", repo_path(repo))).query("state", "open");
        if let Some(branch) = branch {
            call = call.query("base", branch);
        }
        let call = call.query("per_page", PER_PAGE);
        self.gh
            .paginate(self.auth, self.prio(call), 30, |r| {
                r.json::<Vec<PullRequest>>(ROUTE)
            })
            .await
    }

    /// A file's bytes at `git_ref` (the default branch when `None`), or
    /// `None` when there is no such file.
    pub async fn file(
        &self,
        repo: &RepoName,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<Vec<u8>>, GhError> {
        let mut call = Call::get(
            "GET /repos/{owner}/{repo}/contents/{path}",
            format!("{}/contents/{}", repo_path(repo), file_path(path)),
        )
        .accept("application/vnd.github.raw+json");
        if let Some(git_ref) = git_ref {
            call = call.query("ref", git_ref);
        }
        none_on_404(self.gh.send(self.auth, &self.prio(call)).await)
            .map(|r| r.map(|r| r.body.to_vec()))
    }

    /// The entries of the directory `path` at `git_ref` (the default branch
    /// when `None`), or `None` when there is no such directory (a file of
    /// that name lists as nothing).
    pub async fn dir(
        &self,
        repo: &RepoName,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<Vec<DirEntry>>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/contents/{path}";
        let mut call = Call::get(
            ROUTE,
            format!("{}/contents/{}", repo_path(repo), file_path(path)),
        );
        if let Some(git_ref) = git_ref {
            call = call.query("ref", git_ref);
        }
        let Some(reply) = none_on_404(self.gh.send(self.auth, &self.prio(call)).await)? else {
            return Ok(None);
        };
        if reply.body.first() != Some(&b'[') {
            return Ok(None);
        }
        reply.json(ROUTE).map(Some)
    }

    /// A blob's bytes by SHA (files whose patch GitHub omitted).
    pub async fn blob(&self, repo: &RepoName, sha: &str) -> Result<Vec<u8>, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/git/blobs/{file_sha}",
            format!("{}/git/blobs/{}", repo_path(repo), segment(sha)),
        )
        .accept("application/vnd.github.raw+json");
        Ok(self
            .gh
            .send(self.auth, &self.prio(call))
            .await?
            .body
            .to_vec())
    }

    /// A blob's bytes by SHA, read only up to `cap` bytes: `None` when the
    /// blob is larger (its answer is not read further, so a 100 MB blob
    /// costs at most `cap` bytes of memory).
    pub async fn blob_capped(
        &self,
        repo: &RepoName,
        sha: &str,
        cap: usize,
    ) -> Result<Option<Vec<u8>>, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/git/blobs/{file_sha}",
            format!("{}/git/blobs/{}", repo_path(repo), segment(sha)),
        )
        .accept("application/vnd.github.raw+json")
        .max_body(cap);
        match self.gh.send(self.auth, &self.prio(call)).await {
            Ok(reply) => Ok(Some(reply.body.to_vec())),
            Err(e) if e.is_too_large() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A file's bytes at `git_ref`, read only up to `cap` bytes:
    /// `Ok(None)` when there is no such file, `Err` with
    /// [`GhError::is_too_large`] when it is larger.
    pub async fn file_capped(
        &self,
        repo: &RepoName,
        path: &str,
        git_ref: Option<&str>,
        cap: usize,
    ) -> Result<Option<Vec<u8>>, GhError> {
        let mut call = Call::get(
            "GET /repos/{owner}/{repo}/contents/{path}",
            format!("{}/contents/{}", repo_path(repo), file_path(path)),
        )
        .accept("application/vnd.github.raw+json")
        .max_body(cap);
        if let Some(git_ref) = git_ref {
            call = call.query("ref", git_ref);
        }
        none_on_404(self.gh.send(self.auth, &self.prio(call)).await)
            .map(|r| r.map(|r| r.body.to_vec()))
    }

    /// The whole file tree of a commit (`recursive=1`).
    pub async fn tree(&self, repo: &RepoName, commit: &str) -> Result<Tree, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
            format!("{}/git/trees/{}", repo_path(repo), segment(commit)),
        )
        .query("recursive", 1);
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Every check run on `sha` (all apps).
    pub async fn check_runs(
        &self,
        repo: &RepoName,
        sha: &CommitSha,
    ) -> Result<Vec<CheckRun>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/commits/{ref}/check-runs";
        let call = Call::get(
            ROUTE,
            format!("{}/commits/{}/check-runs", repo_path(repo), sha),
        )
        .query("filter", "latest")
        .query("per_page", PER_PAGE);
        self.gh
            .paginate(self.auth, self.prio(call), MAX_CHECK_RUN_PAGES, |r| {
                Ok(r.json::<CheckRunList>(ROUTE)?.check_runs)
            })
            .await
    }

    /// The latest status of each context on `sha`.
    pub async fn statuses(
        &self,
        repo: &RepoName,
        sha: &CommitSha,
    ) -> Result<Vec<CommitStatus>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/commits/{ref}/status";
        let call = Call::get(ROUTE, format!("{}/commits/{}/status", repo_path(repo), sha))
            .query("per_page", PER_PAGE);
        self.gh
            .paginate(self.auth, self.prio(call), 10, |r| {
                Ok(r.json::<CombinedStatus>(ROUTE)?.statuses)
            })
            .await
    }

    /// Classic branch protection as a whole (checks, reviews, signatures,
    /// linear history, conversations, lock, restrictions) in one request.
    /// `Ok(None)` when the branch is not protected (404); a 403 (no
    /// `administration: read`) is surfaced.
    pub async fn branch_protection(
        &self,
        repo: &RepoName,
        branch: &str,
    ) -> Result<Option<BranchProtection>, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/branches/{branch}/protection",
            format!(
                "{}/branches/{}/protection",
                repo_path(repo),
                segment(branch)
            ),
        );
        none_on_404(self.gh.json(self.auth, &self.prio(call)).await)
    }

    /// The rules (from every ruleset, repository and organization) that
    /// apply to `branch`.
    pub async fn branch_rules(
        &self,
        repo: &RepoName,
        branch: &str,
    ) -> Result<Vec<BranchRule>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/rules/branches/{branch}";
        let call = Call::get(
            ROUTE,
            format!("{}/rules/branches/{}", repo_path(repo), segment(branch)),
        )
        .query("per_page", PER_PAGE);
        let rules = self
            .gh
            .paginate(self.auth, self.prio(call), 10, |r| {
                r.json::<Vec<BranchRule>>(ROUTE)
            })
            .await;
        Ok(none_on_404(rules)?.unwrap_or_default())
    }

    /// One page of `base...head`: status, merge base, commits (oldest
    /// first), and on the first page the changed files (up to 300).
    pub async fn compare(
        &self,
        repo: &RepoName,
        base: &str,
        head: &str,
        page: u32,
    ) -> Result<Comparison, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/compare/{basehead}",
            format!(
                "{}/compare/{}...{}",
                repo_path(repo),
                segment(base),
                segment(head)
            ),
        )
        .query("per_page", PER_PAGE)
        .query("page", page);
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Every commit of `base...head` (all pages) and the first page's
    /// comparison data.
    pub async fn compare_all(
        &self,
        repo: &RepoName,
        base: &str,
        head: &str,
    ) -> Result<Comparison, GhError> {
        let mut first = self.compare(repo, base, head, 1).await?;
        let mut page = 1;
        while (first.commits.len() as u64) < first.total_commits
            && (page as usize) < MAX_COMMIT_PAGES
        {
            page += 1;
            let next = self.compare(repo, base, head, page).await?;
            if next.commits.is_empty() {
                break;
            }
            first.commits.extend(next.commits);
        }
        Ok(first)
    }

    /// The files of a pull request, up to GitHub's 3,000.
    pub async fn pull_files(
        &self,
        repo: &RepoName,
        pr: PrNumber,
    ) -> Result<Vec<DiffFile>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/pulls/{pull_number}/files";
        let call = Call::get(ROUTE, format!("{}/pulls/{}/files", repo_path(repo), pr.0))
            .query("per_page", PER_PAGE);
        self.gh
            .paginate(self.auth, self.prio(call), MAX_FILE_PAGES, |r| {
                r.json::<Vec<DiffFile>>(ROUTE)
            })
            .await
    }

    /// Every branch (name and tip).
    pub async fn branches(&self, repo: &RepoName) -> Result<Vec<Branch>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/branches";
        let call =
            Call::get(ROUTE, format!("{}/branches", repo_path(repo))).query("per_page", PER_PAGE);
        self.gh
            .paginate(self.auth, self.prio(call), MAX_BRANCH_PAGES, |r| {
                r.json::<Vec<Branch>>(ROUTE)
            })
            .await
    }

    /// Creates a check run. Not replayed blindly: after an ambiguous
    /// failure the caller looks for the run before creating another.
    pub async fn create_check_run(
        &self,
        repo: &RepoName,
        body: serde_json::Value,
    ) -> Result<CheckRun, GhError> {
        let call = Call::with_body(
            "POST /repos/{owner}/{repo}/check-runs",
            Method::POST,
            format!("{}/check-runs", repo_path(repo)),
            body,
        )
        .replay(Replay::IfNotSent);
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Updates a check run (idempotent: the same body twice is the same run).
    pub async fn update_check_run(
        &self,
        repo: &RepoName,
        id: CheckRunId,
        body: serde_json::Value,
    ) -> Result<CheckRun, GhError> {
        let call = Call::with_body(
            "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
            Method::PATCH,
            format!("{}/check-runs/{}", repo_path(repo), id.0),
            body,
        );
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Merges with the head SHA pinned. Never replayed blindly: after an
    /// ambiguous failure the caller reads the pull request first.
    pub async fn merge(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        sha: &CommitSha,
        method: &str,
    ) -> Result<MergeResult, GhError> {
        let call = Call::with_body(
            "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
            Method::PUT,
            format!("{}/pulls/{}/merge", repo_path(repo), pr.0),
            json!({ "sha": sha.as_str(), "merge_method": method }),
        )
        .replay(Replay::IfNotSent);
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Asks GitHub to merge in the background, only while the head is
    /// `sha`, with `method` and `action`. Never replayed blindly (a lost
    /// answer is safe to ask again: GitHub answers 409 with the request it
    /// already holds). 400 and 409 are answers, not errors. A 404 is told
    /// apart: when the pull request reads fine the endpoint is missing, and
    /// this API root is remembered as having none ([`MergeAsync::Unavailable`]
    /// at once, without a request, from then on); when the pull request is
    /// missing the 404 is returned as the error it is.
    pub async fn merge_async(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        sha: &CommitSha,
        method: &str,
        action: MergeAction,
    ) -> Result<MergeAsync, GhError> {
        const ROUTE: &str = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge-async";
        if self.gh.merge_async_known() == Some(false) {
            return Ok(MergeAsync::Unavailable);
        }
        let call = Call::with_body(
            ROUTE,
            Method::PUT,
            format!("{}/pulls/{}/merge-async", repo_path(repo), pr.0),
            json!({ "sha": sha.as_str(), "merge_method": method, "merge_action": action.as_str() }),
        )
        .replay(Replay::IfNotSent)
        .answers(&[400, 409]);
        let reply = match self.gh.send(self.auth, &self.prio(call)).await {
            Ok(reply) => reply,
            Err(e) if e.is_status(404) => {
                // Whose 404? A pull request that reads fine has it: the
                // route is what is missing.
                return match self.pull(repo, pr).await {
                    Ok(_) => {
                        tracing::info!(api = %self.gh.api_url(), "no asynchronous merge at this API root; merging synchronously from now on");
                        self.gh.set_merge_async(false);
                        Ok(MergeAsync::Unavailable)
                    }
                    Err(read) if read.is_status(404) => Err(e),
                    Err(read) => Err(read),
                };
            }
            Err(e) => return Err(e),
        };
        self.gh.set_merge_async(true);
        let status = reply.status.as_u16();
        let body: MergeAsyncBody = reply.json(ROUTE)?;
        let d = &body.details;
        Ok(match (status, body.status.as_str()) {
            (409, _) => MergeAsync::Existing(async_request(d, ROUTE, status)?),
            (_, "merged") => MergeAsync::Merged { sha: d.sha.clone() },
            (_, "enqueued") => MergeAsync::Enqueued {
                message: d.message.clone(),
            },
            (_, "failed") | (400, _) => MergeAsync::Failed {
                message: d.message.clone(),
            },
            _ => MergeAsync::Pending {
                uuid: async_request(d, ROUTE, status)?.uuid,
            },
        })
    }

    /// The result of the asynchronous merge `uuid` ([`MergeAsyncResult::Expired`]
    /// once GitHub has forgotten it).
    pub async fn merge_async_result(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        uuid: &str,
    ) -> Result<MergeAsyncResult, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/pulls/{pull_number}/merge-async/{uuid}";
        let call = Call::get(
            ROUTE,
            format!(
                "{}/pulls/{}/merge-async/{}",
                repo_path(repo),
                pr.0,
                segment(uuid)
            ),
        );
        let Some(body) = none_on_404(
            self.gh
                .json::<MergeAsyncBody>(self.auth, &self.prio(call))
                .await,
        )?
        else {
            return Ok(MergeAsyncResult::Expired);
        };
        let d = &body.details;
        Ok(match body.status.as_str() {
            "merged" => MergeAsyncResult::Merged { sha: d.sha.clone() },
            "enqueued" => MergeAsyncResult::Enqueued {
                message: d.message.clone(),
            },
            "failed" => MergeAsyncResult::Failed {
                message: d.message.clone(),
            },
            _ => MergeAsyncResult::Pending(async_request(d, ROUTE, 200)?),
        })
    }

    /// Brings the head branch up to date with its base, only if the head is
    /// still `expected_head`.
    pub async fn update_branch(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        expected_head: &CommitSha,
    ) -> Result<(), GhError> {
        let call = Call::with_body(
            "PUT /repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
            Method::PUT,
            format!("{}/pulls/{}/update-branch", repo_path(repo), pr.0),
            json!({ "expected_head_sha": expected_head.as_str() }),
        );
        self.gh.send(self.auth, &self.prio(call)).await.map(|_| ())
    }

    /// Merges `base` into the branch `head` (`POST /repos/{owner}/{repo}/merges`):
    /// the way to update a branch when `update-branch` is refused (GitHub
    /// does not enable it for every App). `true` when a merge commit was
    /// made, `false` when `head` already had everything (204).
    pub async fn merge_into_branch(
        &self,
        repo: &RepoName,
        head: &str,
        base: &str,
    ) -> Result<bool, GhError> {
        let call = Call::with_body(
            "POST /repos/{owner}/{repo}/merges",
            Method::POST,
            format!("{}/merges", repo_path(repo)),
            json!({
                "base": head,
                "head": base,
                "commit_message": format!("Merge branch '{base}' into {head}"),
            }),
        )
        .replay(Replay::IfNotSent);
        let reply = self.gh.send(self.auth, &call).await?;
        Ok(reply.status.as_u16() == 201)
    }

    /// `login`'s permission on the repository: `admin`, `write` (which
    /// includes `maintain`), `read` (which includes `triage`) or `none`.
    pub async fn collaborator_permission(
        &self,
        repo: &RepoName,
        login: &str,
    ) -> Result<CollaboratorPermission, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
            format!(
                "{}/collaborators/{}/permission",
                repo_path(repo),
                segment(login)
            ),
        );
        self.gh.json(self.auth, &self.prio(call)).await
    }

    /// Reacts to an issue (or pull request) comment. Idempotent on GitHub's
    /// side: the same reaction twice answers 200 and adds nothing.
    pub async fn react_to_comment(
        &self,
        repo: &RepoName,
        comment: u64,
        content: &str,
    ) -> Result<(), GhError> {
        let call = Call::with_body(
            "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            Method::POST,
            format!("{}/issues/comments/{comment}/reactions", repo_path(repo)),
            json!({ "content": content }),
        );
        self.gh.send(self.auth, &self.prio(call)).await.map(|_| ())
    }

    /// Comments on a pull request. Not replayed blindly: a second POST would
    /// post the comment twice.
    pub async fn comment_on_pull(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        body: &str,
    ) -> Result<(), GhError> {
        let call = Call::with_body(
            "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
            Method::POST,
            format!("{}/issues/{}/comments", repo_path(repo), pr.0),
            json!({ "body": body }),
        )
        .replay(Replay::IfNotSent);
        self.gh.send(self.auth, &self.prio(call)).await.map(|_| ())
    }
}

/// GitHub's GraphQL answer envelope.
#[derive(Deserialize)]
struct GraphQlReply<D> {
    #[serde(default = "Option::default")]
    data: Option<D>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<GraphQlError>,
}

impl InstallationClient {
    /// One GraphQL document through the same seam as every REST call
    /// (auth, classification, retries). `data` with the `errors` GitHub
    /// sent beside it; a `RATE_LIMITED` error is transient like a 429.
    async fn graphql<D: DeserializeOwned>(
        &self,
        route: &'static str,
        query: &str,
        variables: serde_json::Value,
        replay: Replay,
    ) -> Result<(Option<D>, Vec<GraphQlError>), GhError> {
        let call = Call::with_body(
            route,
            Method::POST,
            GRAPHQL_PATH.to_owned(),
            json!({ "query": query, "variables": variables }),
        )
        .replay(replay);
        let reply: GraphQlReply<D> = self.gh.json(self.auth, &call).await?;
        if reply
            .errors
            .iter()
            .any(|e| e.kind.as_deref() == Some("RATE_LIMITED"))
        {
            return Err(GhError {
                route,
                kind: ErrorKind::Transient,
                status: Some(200),
                message: graphql_message(&reply.errors),
                retry_after: None,
            });
        }
        Ok((reply.data, reply.errors))
    }

    /// Adds a pull request to its base's merge queue with the head pinned.
    /// Not replayed blindly: after an ambiguous failure the caller reads the
    /// queue state first.
    pub async fn enqueue(
        &self,
        node_id: &str,
        expected_head: &CommitSha,
    ) -> Result<Enqueued, GhError> {
        #[derive(Deserialize)]
        struct Data {
            #[serde(rename = "enqueuePullRequest")]
            enqueue: Option<Payload>,
        }
        #[derive(Deserialize)]
        struct Payload {
            #[serde(rename = "mergeQueueEntry")]
            entry: Option<QueueEntry>,
        }
        let (data, errors) = self
            .graphql::<Data>(
                "POST /graphql mutation enqueuePullRequest",
                ENQUEUE_MUTATION,
                json!({ "pullRequestId": node_id, "expectedHeadOid": expected_head.as_str() }),
                Replay::IfNotSent,
            )
            .await?;
        match data.and_then(|d| d.enqueue).and_then(|p| p.entry) {
            Some(entry) if errors.is_empty() => Ok(Enqueued::Queued(entry)),
            _ => Ok(Enqueued::Refused {
                kind: errors.first().and_then(|e| e.kind.clone()),
                message: if errors.is_empty() {
                    "GitHub answered without a merge queue entry".to_owned()
                } else {
                    graphql_message(&errors)
                },
            }),
        }
    }

    /// The checks seen on the last `depth` commits of history from `tip`,
    /// newest first: per commit, each context with the App that reported it
    /// (none for a commit status).
    pub async fn base_history(
        &self,
        repo: &RepoName,
        tip: &CommitSha,
        depth: usize,
    ) -> Result<Vec<Vec<(String, Option<u64>)>>, GhError> {
        #[derive(Deserialize)]
        struct Data {
            repository: Option<RepoData>,
        }
        #[derive(Deserialize)]
        struct RepoData {
            object: Option<Object>,
        }
        #[derive(Deserialize)]
        struct Object {
            history: Option<Nodes<CommitNode>>,
        }
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "T: Deserialize<'de>"))]
        struct Nodes<T> {
            #[serde(default, deserialize_with = "null_as_default")]
            nodes: Vec<Option<T>>,
        }
        #[derive(Deserialize)]
        struct CommitNode {
            #[serde(rename = "statusCheckRollup", default)]
            rollup: Option<Rollup>,
        }
        #[derive(Deserialize)]
        struct Rollup {
            contexts: Option<Nodes<Context>>,
        }
        #[derive(Deserialize)]
        struct Context {
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            context: Option<String>,
            #[serde(rename = "checkSuite", default)]
            suite: Option<Suite>,
        }
        #[derive(Deserialize)]
        struct Suite {
            #[serde(default)]
            app: Option<App>,
        }
        #[derive(Deserialize)]
        struct App {
            #[serde(rename = "databaseId", default)]
            id: Option<u64>,
        }
        const ROUTE: &str = "POST /graphql query BaseHistory";
        let (data, errors) = self
            .graphql::<Data>(
                ROUTE,
                BASE_HISTORY_QUERY,
                json!({ "owner": repo.owner(), "name": repo.name(), "oid": tip.as_str(), "depth": depth }),
                Replay::Safe,
            )
            .await?;
        let Some(history) = data
            .and_then(|d| d.repository)
            .and_then(|r| r.object)
            .and_then(|o| o.history)
        else {
            return Err(GhError {
                route: ROUTE,
                kind: ErrorKind::Permanent,
                status: Some(200),
                message: graphql_message(&errors),
                retry_after: None,
            });
        };
        Ok(history
            .nodes
            .into_iter()
            .flatten()
            .map(|c| {
                c.rollup
                    .and_then(|r| r.contexts)
                    .map(|n| n.nodes)
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .filter_map(|ctx| {
                        let app = ctx.suite.and_then(|s| s.app).and_then(|a| a.id);
                        ctx.name.or(ctx.context).map(|n| (n, app))
                    })
                    .collect()
            })
            .collect())
    }

    /// The pull request's merge queue entry and its last removal.
    pub async fn queue_state(&self, repo: &RepoName, pr: PrNumber) -> Result<QueueState, GhError> {
        #[derive(Deserialize)]
        struct Data {
            repository: Option<RepoData>,
        }
        #[derive(Deserialize)]
        struct RepoData {
            #[serde(rename = "pullRequest")]
            pull: Option<PullData>,
        }
        #[derive(Deserialize)]
        struct PullData {
            #[serde(rename = "headRefOid", default)]
            head: Option<String>,
            #[serde(rename = "mergeQueueEntry", default)]
            entry: Option<QueueEntry>,
            #[serde(rename = "timelineItems", default)]
            timeline: Option<Timeline>,
        }
        #[derive(Deserialize)]
        struct Timeline {
            #[serde(default, deserialize_with = "null_as_default")]
            nodes: Vec<Option<QueueRemoval>>,
        }
        const ROUTE: &str = "POST /graphql query QueueState";
        let (data, errors) = self
            .graphql::<Data>(
                ROUTE,
                QUEUE_STATE_QUERY,
                json!({ "owner": repo.owner(), "name": repo.name(), "number": pr.0 }),
                Replay::Safe,
            )
            .await?;
        let pull = data.and_then(|d| d.repository).and_then(|r| r.pull);
        match pull {
            Some(p) => Ok(QueueState {
                head: p.head,
                entry: p.entry,
                last_removal: p
                    .timeline
                    .and_then(|t| t.nodes.into_iter().flatten().next_back()),
            }),
            None => Err(GhError {
                route: ROUTE,
                kind: ErrorKind::Permanent,
                status: Some(200),
                message: graphql_message(&errors),
                retry_after: None,
            }),
        }
    }
}

impl InstallationClient {
    /// What GitHub knows about the pull request against the whole gate
    /// ([`PULL_GATE_QUERY`]), in one request. `environments` are the
    /// required deployments' (none: deployments are not asked). A part
    /// GitHub answered null (or with an error beside it) reads `None`.
    pub async fn pull_gate(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        environments: &[String],
        with_authors: bool,
    ) -> Result<PullGate, GhError> {
        #[derive(Deserialize)]
        struct Data {
            repository: Option<RepoData>,
        }
        #[derive(Deserialize)]
        struct RepoData {
            #[serde(rename = "pullRequest")]
            pull: Option<PullData>,
        }
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "T: Deserialize<'de>"))]
        struct Nodes<T> {
            #[serde(default, rename = "totalCount")]
            total: Option<u32>,
            #[serde(default, deserialize_with = "null_as_default")]
            nodes: Vec<Option<T>>,
        }
        impl<T> Nodes<T> {
            fn items(self) -> Vec<T> {
                self.nodes.into_iter().flatten().collect()
            }
        }
        #[derive(Deserialize)]
        struct PullData {
            #[serde(rename = "headRefOid", default)]
            head: Option<String>,
            #[serde(rename = "reviewDecision", default)]
            review_decision: Option<String>,
            #[serde(default)]
            mergeable: Option<String>,
            #[serde(rename = "mergeStateStatus", default)]
            merge_state: Option<String>,
            #[serde(rename = "latestOpinionatedReviews", default)]
            reviews: Option<Nodes<Review>>,
            #[serde(rename = "reviewRequests", default)]
            requests: Option<Nodes<Request>>,
            #[serde(rename = "reviewThreads", default)]
            threads: Option<Nodes<Thread>>,
            #[serde(default)]
            commits: Option<Nodes<CommitNode>>,
            #[serde(rename = "headCommit", default)]
            head_commit: Option<Nodes<CommitNode>>,
            #[serde(default)]
            author: Option<Login>,
            #[serde(default)]
            assignees: Option<Nodes<Login>>,
        }
        #[derive(Deserialize)]
        struct Actor {
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            email: Option<String>,
            #[serde(default)]
            user: Option<Login>,
        }
        impl Actor {
            fn gate(self) -> GateActor {
                GateActor {
                    name: self.name,
                    email: self.email,
                    login: self.user.and_then(|u| u.login),
                }
            }
        }
        #[derive(Deserialize)]
        struct Review {
            #[serde(default)]
            state: Option<String>,
            #[serde(default)]
            author: Option<Login>,
            #[serde(default)]
            commit: Option<Oid>,
        }
        #[derive(Deserialize)]
        struct Login {
            #[serde(default)]
            login: Option<String>,
            #[serde(rename = "combinedSlug", default)]
            slug: Option<String>,
            #[serde(rename = "__typename", default)]
            typename: Option<String>,
        }
        impl Login {
            /// The login as GitHub's REST API spells it: GraphQL answers a
            /// bot's without its `[bot]`.
            fn rest(self) -> Option<String> {
                let login = self.login?;
                Some(match self.typename.as_deref() {
                    Some("Bot") if !login.ends_with("[bot]") => format!("{login}[bot]"),
                    _ => login,
                })
            }
        }
        #[derive(Deserialize)]
        struct Oid {
            #[serde(default)]
            oid: Option<String>,
        }
        #[derive(Deserialize)]
        struct Request {
            #[serde(rename = "asCodeOwner", default)]
            as_code_owner: bool,
            #[serde(rename = "requestedReviewer", default)]
            reviewer: Option<Login>,
        }
        #[derive(Deserialize)]
        struct Thread {
            #[serde(rename = "isResolved", default)]
            resolved: bool,
        }
        #[derive(Deserialize)]
        struct CommitNode {
            commit: Option<Commit>,
        }
        #[derive(Deserialize)]
        struct Commit {
            #[serde(default)]
            oid: Option<String>,
            #[serde(rename = "abbreviatedOid", default)]
            short: Option<String>,
            #[serde(default)]
            parents: Option<Nodes<serde::de::IgnoredAny>>,
            #[serde(default)]
            signature: Option<Signature>,
            #[serde(default)]
            deployments: Option<Nodes<Deployment>>,
            #[serde(default)]
            author: Option<Actor>,
            #[serde(default)]
            committer: Option<Actor>,
            #[serde(default)]
            message: Option<String>,
        }
        #[derive(Deserialize)]
        struct Signature {
            #[serde(rename = "isValid", default)]
            valid: bool,
        }
        #[derive(Deserialize)]
        struct Deployment {
            #[serde(default)]
            environment: Option<String>,
            #[serde(default)]
            state: Option<String>,
            #[serde(rename = "latestStatus", default)]
            latest: Option<Status>,
        }
        #[derive(Deserialize)]
        struct Status {
            #[serde(default)]
            state: Option<String>,
        }
        const ROUTE: &str = "POST /graphql query PullGate";
        let (data, errors) = self
            .graphql::<Data>(
                ROUTE,
                PULL_GATE_QUERY,
                json!({
                    "owner": repo.owner(), "name": repo.name(), "number": pr.0,
                    "environments": environments, "withDeployments": !environments.is_empty(),
                    "withAuthors": with_authors,
                }),
                Replay::Safe,
            )
            .await?;
        let Some(p) = data.and_then(|d| d.repository).and_then(|r| r.pull) else {
            return Err(GhError {
                route: ROUTE,
                kind: ErrorKind::Permanent,
                status: Some(200),
                message: graphql_message(&errors),
                retry_after: None,
            });
        };
        let commits = p.commits.map(|c| (c.total, c.items()));
        let mut forbidden: Vec<String> = Vec::new();
        for e in errors
            .iter()
            .filter(|e| e.kind.as_deref() == Some("FORBIDDEN"))
        {
            let field = e
                .path
                .iter()
                .rev()
                .find_map(|p| p.as_str())
                .unwrap_or("pullRequest")
                .to_owned();
            if !forbidden.contains(&field) {
                forbidden.push(field);
            }
        }
        Ok(PullGate {
            author: p.author.and_then(Login::rest),
            assignees: p
                .assignees
                .map(|a| a.items().into_iter().filter_map(Login::rest).collect()),
            forbidden,
            head: p.head,
            review_decision: p.review_decision,
            mergeable: p.mergeable,
            merge_state_status: p.merge_state,
            reviews: p.reviews.map(|r| {
                r.items()
                    .into_iter()
                    .filter_map(|r| {
                        Some(GateReview {
                            login: r.author?.rest()?,
                            state: r.state?,
                            commit: r.commit.and_then(|c| c.oid),
                        })
                    })
                    .collect()
            }),
            code_owner_requests: p.requests.map(|r| {
                r.items()
                    .into_iter()
                    .filter(|r| r.as_code_owner)
                    .filter_map(|r| r.reviewer.and_then(|l| l.login.or(l.slug)))
                    .collect()
            }),
            threads: p.threads.map(|t| {
                let total = t.total;
                let items = t.items();
                GateThreads {
                    read: items.len() as u32,
                    total: total.unwrap_or(items.len() as u32),
                    unresolved: items.iter().filter(|t| !t.resolved).count() as u32,
                }
            }),
            commit_count: commits.as_ref().and_then(|(total, _)| *total),
            commits: commits.map(|(_, nodes)| {
                nodes
                    .into_iter()
                    .filter_map(|n| n.commit)
                    .filter_map(|c| {
                        let oid = c.oid?;
                        Some(GateCommit {
                            short: c.short.unwrap_or_else(|| oid.chars().take(7).collect()),
                            oid,
                            parents: c.parents.and_then(|p| p.total).unwrap_or(1),
                            signature_valid: c.signature.map(|s| s.valid),
                            author: c.author.map(Actor::gate),
                            committer: c.committer.map(Actor::gate),
                            message: c.message,
                        })
                    })
                    .collect()
            }),
            deployments: p
                .head_commit
                .and_then(|h| h.items().into_iter().next())
                .and_then(|n| n.commit)
                .and_then(|c| c.deployments)
                .map(|d| {
                    d.items()
                        .into_iter()
                        .filter_map(|d| {
                            Some(GateDeployment {
                                environment: d.environment?,
                                state: d.state.unwrap_or_default(),
                                latest_status: d.latest.and_then(|s| s.state),
                            })
                        })
                        .collect()
                }),
        })
    }
}

impl InstallationClient {
    /// How many repositories the installation reaches (`seamguard doctor`).
    pub async fn repository_count(&self) -> Result<u64, GhError> {
        let call = Call::get(
            "GET /installation/repositories",
            "installation/repositories".to_owned(),
        )
        .query("per_page", 1);
        let page: RepositoryPage = self.gh.json(self.auth, &self.prio(call)).await?;
        Ok(page.total_count)
    }
}

/// Calls the App makes as itself.
impl GitHub {
    /// The App itself: its name, owner, permissions and events.
    pub async fn app_info(&self) -> Result<AppInfo, GhError> {
        let call = Call::get("GET /app", "app".to_owned());
        self.json(Auth::App, &call).await
    }

    /// Every installation of the App.
    pub async fn app_installations(&self) -> Result<Vec<InstallationInfo>, GhError> {
        const ROUTE: &str = "GET /app/installations";
        let call = Call::get(ROUTE, "app/installations".to_owned()).query("per_page", PER_PAGE);
        self.paginate(Auth::App, call, 100, |r| {
            r.json::<Vec<InstallationInfo>>(ROUTE)
        })
        .await
    }

    /// The App's webhook configuration (its secret masked when set).
    pub async fn app_hook_config(&self) -> Result<HookConfig, GhError> {
        let call = Call::get("GET /app/hook/config", "app/hook/config".to_owned());
        self.json(Auth::App, &call).await
    }

    /// One page of the App's webhook deliveries, newest first.
    pub async fn hook_deliveries(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Vec<HookDelivery>, Option<String>), GhError> {
        const ROUTE: &str = "GET /app/hook/deliveries";
        let mut call =
            Call::get(ROUTE, "app/hook/deliveries".to_owned()).query("per_page", PER_PAGE);
        if let Some(cursor) = cursor {
            call = call.query("cursor", cursor);
        }
        let reply = self.send(Auth::App, &call).await?;
        let next_cursor = reply.next_page().and_then(|next| {
            url::Url::parse(&next).ok().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "cursor")
                    .map(|(_, v)| v.into_owned())
            })
        });
        Ok((reply.json(ROUTE)?, next_cursor))
    }

    /// Asks GitHub to deliver a failed delivery again.
    pub async fn redeliver(&self, delivery: u64) -> Result<(), GhError> {
        let call = Call::with_body(
            "POST /app/hook/deliveries/{delivery_id}/attempts",
            Method::POST,
            format!("app/hook/deliveries/{delivery}/attempts"),
            json!({}),
        );
        self.send(Auth::App, &call).await.map(|_| ())
    }

    /// Exchanges the code GitHub gave the browser after "Create GitHub App"
    /// for the new App's id, key and webhook secret (setup mode).
    pub async fn convert_manifest(&self, code: &str) -> Result<ManifestConversion, GhError> {
        let call = Call::with_body(
            "POST /app-manifests/{code}/conversions",
            Method::POST,
            format!("app-manifests/{}/conversions", segment(code)),
            json!({}),
        )
        .replay(Replay::IfNotSent);
        self.json(Auth::Anonymous, &call).await
    }
}

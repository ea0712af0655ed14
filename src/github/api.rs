//! The named calls seamguard makes, one function each.
//!
//! Each function states its route and what a "normal" non-2xx answer means
//! (a 404 for a missing config file is `None`, not an error). Retrying,
//! authentication and classification happen below, in [`super::client`].

use reqwest::Method;
use serde_json::json;

use super::budget::Priority;
use super::client::{Auth, Call, GhError, GitHub, Replay};
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

/// Calls made on behalf of one installation.
#[derive(Clone)]
pub struct InstallationClient {
    gh: GitHub,
    auth: Auth,
    /// Set by the call site ([`at`](Self::at)): what these calls are worth
    /// when GitHub's budget is short; `None` leaves each call's own.
    priority: Option<Priority>,
}

impl GitHub {
    pub fn installation(&self, id: InstallationId) -> InstallationClient {
        InstallationClient {
            gh: self.clone(),
            auth: Auth::Installation(id),
            priority: None,
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

    fn prio(&self, call: Call) -> Call {
        match self.priority {
            Some(p) => call.priority(p),
            None => call,
        }
    }

    pub async fn pull(&self, repo: &RepoName, pr: PrNumber) -> Result<PullRequest, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/pulls/{pull_number}",
            format!("{}/pulls/{}", repo_path(repo), pr.0),
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

    /// Open pull requests based on `branch`.
    pub async fn open_pulls_on(
        &self,
        repo: &RepoName,
        branch: &str,
    ) -> Result<Vec<PullRequest>, GhError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/pulls";
        let call = Call::get(ROUTE, format!("{}/pulls", repo_path(repo)))
            .query("state", "open")
            .query("base", branch)
            .query("per_page", PER_PAGE);
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

    /// Classic branch protection's required status checks. `Ok(None)` when
    /// the branch has none (404) — and a 403 (no administration:read) is
    /// surfaced so the caller can log "this source requires nothing".
    pub async fn protection_checks(
        &self,
        repo: &RepoName,
        branch: &str,
    ) -> Result<Option<ProtectionChecks>, GhError> {
        let call = Call::get(
            "GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
            format!(
                "{}/branches/{}/protection/required_status_checks",
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

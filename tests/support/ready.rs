//! The default scenario most tests start from, ready in one line: a fake
//! GitHub, the repository `acme/app` (`main` with one commit), and pull
//! request #7 from `feature` (one commit on `main`'s tip) into `main`.
//!
//! ```ignore
//! let s = ready().opted_in().open().await;      // #7 carries `automerge`
//! let app = s.start().await;                    // seamguard against it
//! s.send(&app, "labeled").await;                // pull_request.labeled, 202
//! s.wait_merged().await;
//! assert_eq!(s.merge_calls()[0]["sha"], s.head.as_str());
//! ```
//!
//! Everything else a test needs is the fake's own API: a [`Ready`]
//! dereferences to its [`FakeGitHub`] (`s.wait_idle()`, `s.fail_next(..)`),
//! and `s.repo` is the repository's [`RepoHandle`]. Tests that need a
//! different shape (several pull requests, another base) build it from the
//! scenario API as before.

use serde_json::Value;

use super::flows::{WAIT, completed_run, merged};
use super::world::CheckRun;
use super::{FakeGitHub, Options, RepoHandle, Seamguard, Sha};

/// The default repository.
pub const REPO: &str = "acme/app";

/// The default pull request's number.
pub const PR: u64 = 7;

/// The default pull request's head branch.
pub const BRANCH: &str = "feature";

/// A default scenario being described; [`ReadyBuilder::open`] makes it.
#[must_use]
pub struct ReadyBuilder {
    options: Options,
    labels: Vec<String>,
    config: Option<String>,
    files: Vec<(String, String)>,
    base_files: Vec<(String, String)>,
}

/// The default scenario: `ready().open().await`.
pub fn ready() -> ReadyBuilder {
    ReadyBuilder {
        options: Options::default(),
        labels: Vec::new(),
        config: None,
        files: Vec::new(),
        base_files: Vec::new(),
    }
}

impl ReadyBuilder {
    /// #7 carries `label`.
    pub fn label(mut self, label: &str) -> Self {
        self.labels.push(label.to_owned());
        self
    }

    /// #7 carries `automerge`, the default opt-in label.
    pub fn opted_in(self) -> Self {
        self.label("automerge")
    }

    /// `.github/seamguard.yml` on `main` (committed before #7 branches off).
    pub fn config(mut self, yaml: &str) -> Self {
        self.config = Some(yaml.to_owned());
        self
    }

    /// #7's commit writes `path` (by default it adds the file `feature`).
    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.push((path.to_owned(), content.to_owned()));
        self
    }

    /// `main` holds `path` before #7 branches off (a file the pull request
    /// then edits, or lives beside).
    pub fn base_file(mut self, path: &str, content: &str) -> Self {
        self.base_files.push((path.to_owned(), content.to_owned()));
        self
    }

    /// Another fake than the default (App, installation, API prefix).
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Starts the fake and opens #7.
    pub async fn open(self) -> Ready {
        let gh = FakeGitHub::start_with(self.options).await;
        let repo = gh.repo(REPO);
        if let Some(yaml) = &self.config {
            repo.config_on("main", yaml);
        }
        if !self.base_files.is_empty() {
            let changes: Vec<(&str, Option<&str>)> = self
                .base_files
                .iter()
                .map(|(p, c)| (p.as_str(), Some(c.as_str())))
                .collect();
            repo.push("main", "the base's files", &changes);
        }
        let files: Vec<(&str, &str)> = if self.files.is_empty() {
            vec![(BRANCH, "x\n")]
        } else {
            self.files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect()
        };
        let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        let head = open_pr(&repo, PR, BRANCH, &files, &labels);
        Ready { gh, repo, head }
    }
}

/// Pull request #`n` from `branch` into `main`: one commit on `main`'s tip
/// writing `files`, with `labels`. Returns the head.
pub fn open_pr(
    repo: &RepoHandle,
    n: u64,
    branch: &str,
    files: &[(&str, &str)],
    labels: &[&str],
) -> Sha {
    let base = repo.branch_tip("main");
    let changes: Vec<(&str, Option<&str>)> = files.iter().map(|(p, c)| (*p, Some(*c))).collect();
    let head = repo.commit(&[&base], branch, &changes);
    repo.branch(branch, &head);
    let mut pr = repo.pr(n).head(branch).base("main");
    for label in labels {
        pr = pr.label(label);
    }
    pr.open();
    head
}

/// A fake GitHub with `acme/app` and pull request #7 open.
pub struct Ready {
    pub gh: FakeGitHub,
    pub repo: RepoHandle,
    /// #7's head.
    pub head: Sha,
}

impl std::ops::Deref for Ready {
    type Target = FakeGitHub;

    fn deref(&self) -> &FakeGitHub {
        &self.gh
    }
}

impl Ready {
    /// seamguard, in-process, against this fake.
    pub async fn start(&self) -> Seamguard {
        Seamguard::start(&self.gh).await
    }

    /// As [`start`](Self::start), with `serve` flags.
    pub async fn start_with(&self, flags: &[&str]) -> Seamguard {
        Seamguard::start_with(&self.gh, flags).await
    }

    /// Delivers `pull_request` `action` for #7 to `app`; it must be
    /// acknowledged (202).
    pub async fn send(&self, app: &Seamguard, action: &str) {
        let status = self
            .gh
            .deliver(&self.repo.pull_request_event(action, PR), &app.webhook())
            .await;
        assert_eq!(status, 202, "pull_request.{action} for #{PR}");
    }

    /// Waits for the completed `seamguard` run on #7's head.
    pub async fn completed_run(&self) -> CheckRun {
        completed_run(&self.gh, &self.head).await
    }

    /// Waits until #7 is merged.
    pub async fn wait_merged(&self) {
        self.gh
            .wait_for("#7 merged", |w| merged(w, REPO, PR), WAIT)
            .await;
    }

    /// Is #7 merged?
    pub fn merged(&self) -> bool {
        merged(&self.gh.world(), REPO, PR)
    }

    /// The bodies of every merge request for #7, in order: `PUT
    /// …/merge-async`, or `PUT …/merge` on an API root without it (whose
    /// probe, answered 404, merged nothing and is not one).
    pub fn merge_calls(&self) -> Vec<Value> {
        merge_requests(&self.gh, PR)
            .into_iter()
            .map(|r| r.body.unwrap_or_default())
            .collect()
    }
}

/// Every merge request for #`n`, in order: `PUT …/pulls/n/merge-async`
/// (but its 404, the probe of an API root without it) and `PUT
/// …/pulls/n/merge`.
pub fn merge_requests(gh: &FakeGitHub, n: u64) -> Vec<super::world::Recorded> {
    gh.requests()
        .into_iter()
        .filter(|r| r.is_merge_request(n))
        .collect()
}

/// The one merge request made for #`n`, asserting there was exactly one
/// and that it pinned `head`; answers its body (method, etc.).
pub fn one_merge_pinned(gh: &FakeGitHub, n: u64, head: &str) -> serde_json::Value {
    let merges = merge_requests(gh, n);
    assert_eq!(merges.len(), 1, "one merge call, made once nothing held it");
    let body = merges[0].body.clone().expect("a body");
    assert_eq!(body["sha"].as_str(), Some(head), "head pinned");
    body
}

/// `merge-async`'s 400 answer: GitHub did not merge, for `message`.
pub fn merge_async_failed(message: &str) -> String {
    serde_json::json!({ "status": "failed", "details": { "message": message } }).to_string()
}

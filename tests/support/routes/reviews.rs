//! What the fake knows about a pull request beyond its checks, as GitHub
//! keeps it: reviews (every one submitted, in order), code owners asked
//! for a review, review threads, commits that are not signed, deployments,
//! and the approvals each base requires (what GitHub's `reviewDecision`
//! answers against). `routes::graphql` answers the whole-gate query from
//! it; scenario steps add to it ([`RepoHandle::review`] and the others).

use std::collections::{BTreeMap, BTreeSet};

use crate::support::scenario::RepoHandle;
use crate::support::world::{Repo, Sha};

#[derive(Debug, Clone, Default)]
pub struct WholeGate {
    pub reviews: Vec<Review>,
    /// Per pull request: code owners (logins or `org/team`) asked for a
    /// review who have not given one.
    pub code_owner_requests: BTreeMap<u64, Vec<String>>,
    pub threads: Vec<Thread>,
    /// Commits with no signature (every other commit is verified-signed).
    pub unsigned: BTreeSet<Sha>,
    pub deployments: Vec<Deployment>,
    /// Approving reviews required on a base branch (GitHub's rule behind
    /// `reviewDecision`).
    pub required_approvals: BTreeMap<String, u32>,
}

#[derive(Debug, Clone)]
pub struct Review {
    pub number: u64,
    pub login: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub commit: Sha,
}

#[derive(Debug, Clone)]
pub struct Thread {
    pub number: u64,
    pub resolved: bool,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub sha: Sha,
    pub environment: String,
    /// The deployment's state (`ACTIVE`, `FAILURE`, `IN_PROGRESS`, …).
    pub state: String,
    /// Its latest status (`SUCCESS`, `FAILURE`, `IN_PROGRESS`, …).
    pub status: String,
}

impl WholeGate {
    /// The latest approving, change-requesting or dismissed review of each
    /// reviewer, in the order first seen (GitHub's
    /// `latestOpinionatedReviews`).
    pub fn latest_opinionated(&self, number: u64) -> Vec<Review> {
        let mut latest: Vec<Review> = Vec::new();
        for r in self.reviews.iter().filter(|r| {
            r.number == number
                && matches!(
                    r.state.as_str(),
                    "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
                )
        }) {
            match latest.iter_mut().find(|l| l.login == r.login) {
                Some(l) => *l = r.clone(),
                None => latest.push(r.clone()),
            }
        }
        latest
    }

    /// GitHub's `reviewDecision`: `None` where the base requires no review.
    pub fn review_decision(&self, number: u64, base: &str) -> Option<&'static str> {
        let required = *self.required_approvals.get(base)?;
        let latest = self.latest_opinionated(number);
        if latest.iter().any(|r| r.state == "CHANGES_REQUESTED") {
            return Some("CHANGES_REQUESTED");
        }
        let approvals = latest.iter().filter(|r| r.state == "APPROVED").count() as u32;
        let owners_pending = self
            .code_owner_requests
            .get(&number)
            .is_some_and(|o| !o.is_empty());
        Some(if approvals >= required && !owners_pending {
            "APPROVED"
        } else {
            "REVIEW_REQUIRED"
        })
    }
}

impl RepoHandle {
    /// Requires `count` approving reviews on `branch` (classic protection's
    /// `required_pull_request_reviews`, as `reviewDecision` answers it).
    pub fn require_approvals(&self, branch: &str, count: u32) -> &Self {
        self.edit(|r| {
            r.whole_gate
                .required_approvals
                .insert(branch.to_owned(), count);
        });
        self
    }

    /// `login` submits a review (`APPROVED`, `CHANGES_REQUESTED`,
    /// `COMMENTED`) on pull request #`pr`'s current head. A code owner's
    /// review answers their review request.
    pub fn review(&self, pr: u64, login: &str, state: &str) -> &Self {
        self.edit(|r: &mut Repo| {
            let commit = r.pulls[&pr].head_sha.clone();
            if let Some(owners) = r.whole_gate.code_owner_requests.get_mut(&pr) {
                owners.retain(|o| o != login);
            }
            r.whole_gate.reviews.push(Review {
                number: pr,
                login: login.to_owned(),
                state: state.to_owned(),
                commit,
            });
        });
        self
    }

    /// Asks `owner` (a login or `org/team`) for a review as a code owner.
    pub fn request_code_owner(&self, pr: u64, owner: &str) -> &Self {
        self.edit(|r| {
            r.whole_gate
                .code_owner_requests
                .entry(pr)
                .or_default()
                .push(owner.to_owned());
        });
        self
    }

    /// Opens a review thread on pull request #`pr`; returns its index.
    pub fn thread(&self, pr: u64) -> usize {
        self.edit(|r| {
            r.whole_gate.threads.push(Thread {
                number: pr,
                resolved: false,
            });
            r.whole_gate.threads.len() - 1
        })
    }

    /// Resolves the thread [`RepoHandle::thread`] returned.
    pub fn resolve_thread(&self, index: usize) -> &Self {
        self.edit(|r| r.whole_gate.threads[index].resolved = true);
        self
    }

    /// Marks `sha` as a commit with no signature.
    pub fn unsigned_commit(&self, sha: &str) -> &Self {
        self.edit(|r| {
            r.whole_gate.unsigned.insert(sha.to_owned());
        });
        self
    }

    /// A deployment of `sha` to `environment` whose latest status is
    /// `status` (`success`, `failure`, `in_progress`, …).
    pub fn deployment(&self, sha: &str, environment: &str, status: &str) -> &Self {
        let status = status.to_ascii_uppercase();
        let state = match status.as_str() {
            "SUCCESS" => "ACTIVE",
            "FAILURE" => "FAILURE",
            "ERROR" => "ERROR",
            "INACTIVE" => "INACTIVE",
            "QUEUED" => "QUEUED",
            "PENDING" => "PENDING",
            _ => "IN_PROGRESS",
        };
        self.edit(|r| {
            r.whole_gate.deployments.push(Deployment {
                sha: sha.to_owned(),
                environment: environment.to_owned(),
                state: state.to_owned(),
                status,
            });
        });
        self
    }
}

//! What the store holds: deliveries coming in and the work items they become.
//!
//! A [`Work`] names *what* to evaluate, never *why*: two triggers for the same
//! pull request are the same work, and [`Work::key`] is how the store sees
//! that. Keys are stable strings so they survive restarts and releases, and
//! they never collide across kinds: a repository name holds none of `#`, `@`
//! or `:`, and git refuses `:` in a branch name (`git check-ref-format`), so
//! `acme/app:mg:<sha>` can never also be a branch key.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One pull request in the line of a strict base branch: the line is the
/// strict-line rule's own type (`gate::strict_line`); the store keeps it.
pub use crate::gate::strict_line::LineEntry;
use crate::ids::{CheckRunId, CommitSha, DeliveryId, InstallationId, PrNumber, RepoName};

/// One thing to evaluate in one repository, on behalf of one installation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Work {
    pub installation: InstallationId,
    pub repo: RepoName,
    pub target: Target,
}

/// What in the repository a [`Work`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Evaluate one pull request. `head` is the head the delivery named,
    /// when it named one: a run can be put on it even while GitHub does not
    /// show the pull request yet.
    Pr {
        number: PrNumber,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        head: Option<CommitSha>,
    },
    /// A status or check event without PR numbers: find the open PRs whose
    /// head is this SHA, then evaluate each.
    Commit { sha: CommitSha },
    /// A push to a branch: re-evaluate the open PRs based on it. `name` is the
    /// short branch name (`main`, not `refs/heads/main`).
    BaseBranch { name: String },
    /// A merge queue group to check.
    MergeGroup {
        head_sha: CommitSha,
        base_ref: String,
    },
    /// A stack changed (a pull request stacked, merged or closed): its
    /// open pull requests above position `above` (1 is the bottom) are
    /// evaluated again.
    Stack { number: u64, above: u32 },
    /// The repository's branch protection, rulesets or default branch
    /// changed: what its branches require must be read again, and its
    /// opted-in pull requests evaluated against it.
    Requirements,
    /// A person's command on a pull request: `@seamguard recheck` or
    /// `explain` in a comment, or the check run's "Re-check" button.
    Command {
        number: PrNumber,
        command: Command,
        /// Who asked (their write access is checked before anything runs).
        author: String,
        /// The comment that holds the command; `None` for the button.
        comment: Option<u64>,
    },
}

/// What a person can ask seamguard to do on a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Evaluate now, and clear a "gave up" state for the current head.
    Recheck,
    /// Reply with the blockers and a link.
    Explain,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Recheck => "recheck",
            Command::Explain => "explain",
        }
    }
}

impl Work {
    /// Work on one pull request.
    pub fn pr(installation: InstallationId, repo: RepoName, number: PrNumber) -> Self {
        Self {
            installation,
            repo,
            target: Target::Pr { number, head: None },
        }
    }

    /// Work on the pull requests whose head is `sha`.
    pub fn commit(installation: InstallationId, repo: RepoName, sha: CommitSha) -> Self {
        Self {
            installation,
            repo,
            target: Target::Commit { sha },
        }
    }

    /// Work on the open pull requests based on branch `name`.
    pub fn base_branch(
        installation: InstallationId,
        repo: RepoName,
        name: impl Into<String>,
    ) -> Self {
        Self {
            installation,
            repo,
            target: Target::BaseBranch { name: name.into() },
        }
    }

    /// The coalescing key: triggers with the same key are one work item.
    ///
    /// `acme/app#7`, `acme/app@<sha>`, `acme/app:main`, `acme/app:mg:<sha>`,
    /// `acme/app!stack:3:1` (stack 3, above its bottom pull request),
    /// and per command `acme/app#7!recheck:c123` (comment 123) or
    /// `acme/app#7!recheck:button` (repeated clicks coalesce).
    /// The installation is not part of the key: a reinstalled app still means
    /// the same pull request.
    pub fn key(&self) -> String {
        let repo = &self.repo;
        match &self.target {
            Target::Pr { number, .. } => format!("{repo}#{}", number.0),
            Target::Commit { sha } => format!("{repo}@{sha}"),
            Target::BaseBranch { name } => format!("{repo}:{name}"),
            Target::MergeGroup { head_sha, .. } => format!("{repo}:mg:{head_sha}"),
            // Changes of one stack coalesce: the lowest one covers the rest
            // only if it is the one kept, so the position is in the key.
            Target::Stack { number, above } => format!("{repo}!stack:{number}:{above}"),
            // `!` follows no repository name and no pull request key.
            Target::Requirements => format!("{repo}!requirements"),
            Target::Command {
                number,
                command,
                comment,
                ..
            } => match comment {
                Some(id) => format!("{repo}#{}!{}:c{id}", number.0, command.as_str()),
                None => format!("{repo}#{}!{}:button", number.0, command.as_str()),
            },
        }
    }
}

/// A verified webhook delivery, reduced to what the store keeps.
///
/// The raw body is not stored: the work items carry everything the engine
/// needs, and keeping ingest small is what makes the 202 fast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// `X-GitHub-Delivery`; GitHub's redeliveries reuse it.
    pub id: DeliveryId,
    /// `X-GitHub-Event`, e.g. `pull_request`.
    pub event: String,
    /// The payload's `action`, where it has one.
    pub action: Option<String>,
    pub installation: Option<InstallationId>,
    /// When the delivery arrived; its work items are due from then, and
    /// retention ages the delivery from then.
    pub received_at: DateTime<Utc>,
    /// What this delivery asks to evaluate (may be empty, e.g. `ping`).
    pub work: Vec<Work>,
    /// How long after `received_at` its work becomes due: finished checks
    /// arrive in bursts, and a burst's deliveries within this time are one
    /// evaluation. A later trigger never makes the work due later (the
    /// queue keeps the earlier due time). Zero: due at once.
    #[serde(default)]
    pub settle: Duration,
    /// SHA-256 of the event name and the signed body: the same event and
    /// body again under another id
    /// (a captured delivery replayed) is a duplicate too, within the
    /// retention window. `None` deduplicates by id only.
    pub body_digest: Option<[u8; 32]>,
    /// Who pushed or labelled a pull request's head, as the delivery says:
    /// kept in the same transaction as the delivery, so no evaluation of
    /// its work runs without it.
    #[serde(skip)]
    pub activity: Option<crate::events::PrActivity>,
}

/// The answer to [`Store::ingest`](super::Store::ingest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ingested {
    /// Stored durably for the first time: answer 202.
    Stored,
    /// This delivery id was already stored (within the retention window):
    /// answer 200 and do nothing.
    Duplicate,
}

/// A work item leased to one worker.
///
/// Hand it back with [`Store::complete`](super::Store::complete) or
/// [`Store::retry_at`](super::Store::retry_at) (or `rerun_at`, `defer`). Until then, or until
/// `lease_until` passes, nobody else can claim the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub work: Work,
    pub key: String,
    /// Earlier runs of this item that failed: `retry_at` calls, expired
    /// leases and leases released after a crash. Zero on a first run; a
    /// completion (or a trigger that arrived during a run) starts afresh.
    pub attempts: u32,
    /// Earlier runs of this item that asked to run again (`rerun_at`: a
    /// merge answered pending, the head moved) since it last completed.
    /// Counted apart from `attempts`: a planned re-run is not a failure.
    pub reruns: u32,
    /// The lease ends here; after it, another worker may claim the item.
    pub lease_until: DateTime<Utc>,
    /// Identifies this lease, so a stale claim cannot finish someone else's.
    pub(crate) token: i64,
    /// What last asked for this work: `delivery <id> (<event>)` for a
    /// webhook, or the sweep or command that enqueued it. `None` for rows
    /// stored before causes were kept.
    pub cause: Option<String>,
}

/// How full the queue is, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// All work items, whatever their state.
    pub depth: u64,
    /// Items claimable now (including those whose lease has expired).
    pub due: u64,
    /// Items held under a live lease.
    pub leased: u64,
    /// Items waiting for a future `not_before`.
    pub scheduled: u64,
    /// How long the longest-waiting due item has been due; `None` when
    /// nothing is due.
    pub oldest_due_age: Option<Duration>,
}

/// One evaluation of one pull request, as its history keeps it: what the
/// page's history table and `/status` list, and the snapshot the page
/// renders (`web::snapshot::PageSnapshot` as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub repo: RepoName,
    pub pr: PrNumber,
    pub at: DateTime<Utc>,
    /// The delivery or sweep that caused it.
    pub cause: String,
    pub head: CommitSha,
    /// One word or two: `blocked`, `waiting`, `merged`…
    pub decision: String,
    /// The one-line reason.
    pub reason: String,
    /// GitHub requests this evaluation made.
    pub requests: u32,
    pub snapshot: String,
}

/// A work item whose last run failed, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedJob {
    pub key: String,
    pub attempts: u32,
    pub last_error: String,
    /// When it runs again; `None` when it is parked.
    pub due_at: Option<DateTime<Utc>>,
}

/// A work item held back for GitHub's rate budget (`Store::defer`): the
/// pull request's page and `/status` say that it waits, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetWait {
    pub key: String,
    /// When the budget has room for it again, as the deferral said.
    pub until: DateTime<Utc>,
    /// Which limit is spent, in the deferral's words.
    pub reason: String,
}

/// A check run seamguard opened and has not completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCheckRun {
    pub id: CheckRunId,
    pub repo: RepoName,
    pub installation: InstallationId,
    pub head: CommitSha,
    pub opened_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoName {
        "acme/app".parse().unwrap()
    }

    fn sha() -> CommitSha {
        "6dcb09b5b57875f334f61aebed695e2e4193db5e".parse().unwrap()
    }

    #[test]
    fn keys_name_the_target() {
        let inst = InstallationId(1);
        let cases = [
            (Work::pr(inst, repo(), PrNumber(7)), "acme/app#7"),
            (
                Work::commit(inst, repo(), sha()),
                "acme/app@6dcb09b5b57875f334f61aebed695e2e4193db5e",
            ),
            (Work::base_branch(inst, repo(), "main"), "acme/app:main"),
            (
                Work {
                    installation: inst,
                    repo: repo(),
                    target: Target::MergeGroup {
                        head_sha: sha(),
                        base_ref: "main".into(),
                    },
                },
                "acme/app:mg:6dcb09b5b57875f334f61aebed695e2e4193db5e",
            ),
            (
                Work {
                    installation: inst,
                    repo: repo(),
                    target: Target::Requirements,
                },
                "acme/app!requirements",
            ),
        ];
        for (work, key) in cases {
            assert_eq!(work.key(), key, "{work:?}");
        }
    }

    #[test]
    fn the_installation_is_not_part_of_the_key() {
        let a = Work::pr(InstallationId(1), repo(), PrNumber(7));
        let b = Work::pr(InstallationId(2), repo(), PrNumber(7));
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn work_serialises_with_a_kind_tag_and_round_trips() {
        let work = Work::pr(InstallationId(42), repo(), PrNumber(7));
        let json = serde_json::to_string(&work).unwrap();
        assert_eq!(
            json,
            r#"{"installation":42,"repo":"acme/app","target":{"kind":"pr","number":7}}"#
        );
        assert_eq!(serde_json::from_str::<Work>(&json).unwrap(), work);

        let mg = Work {
            installation: InstallationId(42),
            repo: repo(),
            target: Target::MergeGroup {
                head_sha: sha(),
                base_ref: "main".into(),
            },
        };
        let json = serde_json::to_string(&mg).unwrap();
        assert!(json.contains(r#""kind":"merge_group""#), "{json}");
        assert_eq!(serde_json::from_str::<Work>(&json).unwrap(), mg);
    }
}

//! One merge call: through GitHub's asynchronous merge where the API root
//! has it, through `PUT …/merge` where it does not. The engine's act step
//! calls [`call`] where it called `client.merge(...)`.
//!
//! The contract:
//!
//! - **At most one merge request per call.** A request is `PUT …/merge-async`
//!   (or, on an API root without it, `PUT …/merge`), always with the head
//!   pinned (`sha`) and the configured method. [`Called::sent`] says whether
//!   one was sent: every sent request is an attempt the caller counts
//!   against `merge.max_attempts`. Reads (the result endpoint, the pull
//!   request) are not requests to merge.
//! - **A promise is kept, not asked for again.** A 202 `pending` answer's
//!   uuid, and the uuid of a request GitHub already holds (409, adopted
//!   without a second request), is remembered in the store's meta under
//!   [`pending_key`] (`merge-async:{repo}#{pr}@{head}`). The next call for
//!   the same head reads that request's result instead of sending; only a
//!   result GitHub has forgotten (404: expired after 24 hours, or unknown)
//!   lets a new request go, in that same call.
//! - **The result is read a bounded few times** ([`Poll`]: by default five
//!   reads a second apart), then the call returns
//!   [`MergeCall::Pending`] with the uuid and since when it has been
//!   pending: the caller runs again later (or a `closed` delivery settles
//!   it first).
//! - **409 is adopted and told.** When the request GitHub holds asks for
//!   another method or another head than this call would, the pending
//!   answer carries the difference in words (`differs` of [`MergeCall::Pending`])
//!   for the check run.
//! - **Refusals go through [`merge_answer::classify`]**: a 400 `failed`
//!   answer and a `failed` result alike, as a 400; a synchronous merge's
//!   refusal with its own status. `answer` may say pending (`Required status
//!   check "test" is expected.`): retry later, bounded by the caller.
//! - **The asynchronous endpoint is probed once per API root.** Its 404 (with
//!   the pull request readable) is remembered on the `GitHub` value; every
//!   later call, for any pull request, goes to `PUT …/merge` at once (see
//!   [`InstallationClient::merge_async`]). The probe's 404 merged nothing and
//!   is not counted as a request.
//! - **An enqueue has no synchronous form.** With `merge_action:
//!   merge_queue` (the base requires GitHub's merge queue), an API root
//!   without the asynchronous merge gets nothing at all: the call answers
//!   [`MergeCall::Unavailable`], and the caller enqueues another way (the
//!   GraphQL mutation). `PUT …/merge` is never the fallback of an enqueue.
//! - **Errors are the caller's**: a transient or ambiguous failure of the
//!   merge request is returned as it is. After an ambiguous asynchronous
//!   request, asking again is safe (GitHub answers 409 with the request it
//!   holds); after an ambiguous synchronous one, read the pull request first.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::gate::merge_answer::{self, MergeAnswer};
use crate::github::api::{AsyncRequest, MergeAction, MergeAsync, MergeAsyncResult};
use crate::github::{GhError, InstallationClient};
use crate::ids::{CommitSha, PrNumber, RepoName};
use crate::store::{Store, StoreError};

/// How the result of an asynchronous merge is read within one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// Reads of the result endpoint at most (0: none; the call returns
    /// pending at once).
    pub reads: u32,
    /// The wait before each read.
    pub interval: Duration,
}

impl Default for Poll {
    /// Five reads a second apart: an ordinary merge is done by then, and a
    /// call never holds its worker more than five seconds.
    fn default() -> Self {
        Poll {
            reads: 5,
            interval: Duration::from_secs(1),
        }
    }
}

/// What one merge call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeCall {
    /// Merged (now, or already; its merge commit when GitHub said it).
    Merged { sha: Option<String> },
    /// In the base's merge queue (a `merge_queue` action).
    Enqueued { message: String },
    /// GitHub holds the request and has not finished it: run again later.
    Pending {
        uuid: String,
        /// When seamguard first saw this request.
        since: DateTime<Utc>,
        /// The request GitHub holds asks for something else than this call
        /// would (another method, another head), in words.
        differs: Option<String>,
    },
    /// GitHub's refusal, classified. `status` is the HTTP status of the
    /// answer that carried the message (400 for an asynchronous `failed`).
    Refused {
        status: u16,
        message: String,
        answer: MergeAnswer,
    },
    /// The request GitHub held is gone (its result expired or is unknown)
    /// and nothing was sent in its place this call: the next call sends.
    Lost { uuid: String },
    /// The API root has no asynchronous merge and the action has no
    /// synchronous form (an enqueue): nothing was sent.
    Unavailable,
}

/// A merge call's outcome, and whether a merge request was sent for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Called {
    pub call: MergeCall,
    /// A merge request went to GitHub: an attempt to count.
    pub sent: bool,
}

/// Why a merge call could not say what came of it.
#[derive(Debug, thiserror::Error)]
pub enum MergerError {
    #[error(transparent)]
    GitHub(#[from] GhError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The store's meta key under which a pending request for `head` is kept.
pub fn pending_key(repo: &RepoName, pr: PrNumber, head: &CommitSha) -> String {
    format!("merge-async:{repo}#{}@{head}", pr.0)
}

/// The store's meta key that marks `head` as enqueued: GitHub said it
/// joined the base's merge queue.
pub fn enqueued_key(repo: &RepoName, pr: PrNumber, head: &CommitSha) -> String {
    format!("merge-queue:{repo}#{}@{head}", pr.0)
}

/// The uuid of the request kept for `head` (GitHub holds it, unfinished).
pub async fn held(
    store: &Store,
    repo: &RepoName,
    pr: PrNumber,
    head: &CommitSha,
) -> Result<Option<String>, StoreError> {
    Ok(remembered(store, &pending_key(repo, pr, head))
        .await?
        .map(|(uuid, _)| uuid))
}

/// Forgets the request kept for `head`: its outcome was seen elsewhere
/// (the pull request is in the merge queue).
pub async fn settle(
    store: &Store,
    repo: &RepoName,
    pr: PrNumber,
    head: &CommitSha,
) -> Result<(), StoreError> {
    forget(store, &pending_key(repo, pr, head)).await
}

/// The request remembered for this head: its uuid and since when.
async fn remembered(
    store: &Store,
    key: &str,
) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
    let Some(value) = store.meta(key).await? else {
        return Ok(None);
    };
    let mut parts = value.split_whitespace();
    let (Some(uuid), since) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let since = since
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    Ok(Some((uuid.to_owned(), since)))
}

async fn remember(
    store: &Store,
    key: &str,
    uuid: &str,
    since: DateTime<Utc>,
) -> Result<(), StoreError> {
    store
        .set_meta(key, &format!("{uuid} {}", since.to_rfc3339()))
        .await
}

/// Forgets the request kept for a head (an empty value reads as none).
async fn forget(store: &Store, key: &str) -> Result<(), StoreError> {
    store.set_meta(key, "").await
}

/// What differs between the request GitHub holds and this call's, if
/// anything, in words.
fn differs(existing: &AsyncRequest, method: &str, head: &CommitSha) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = &existing.method
        && m != method
    {
        parts.push(format!("merges with `{m}`, not `{method}`"));
    }
    if let Some(h) = &existing.expected_head
        && h != head.as_str()
    {
        let short = |s: &str| s.chars().take(7).collect::<String>();
        parts.push(format!(
            "expects head {}, not {}",
            short(h),
            short(head.as_str())
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "a merge request already existed ({}): it {}",
            existing.uuid,
            parts.join(" and ")
        )
    })
}

fn refused(status: u16, message: String) -> MergeCall {
    let answer = merge_answer::classify(status, &message);
    MergeCall::Refused {
        status,
        message,
        answer,
    }
}

/// One merge seamguard asks for: the pull request and head, the method
/// and action, and how to reach GitHub and the store for it.
pub struct Merge<'a> {
    pub client: &'a InstallationClient,
    pub store: &'a Store,
    pub repo: &'a RepoName,
    pub pr: PrNumber,
    pub head: &'a CommitSha,
    pub method: &'a str,
    pub action: MergeAction,
    pub poll: Poll,
}

/// A request GitHub holds, being followed: its uuid, since when it is
/// known, and what differs from this call's (for the check run).
struct Held<'a> {
    key: &'a str,
    uuid: &'a str,
    since: DateTime<Utc>,
    differs: Option<String>,
}

/// Reads the request GitHub holds for `m.head`, if one is kept, sending
/// nothing (for a caller whose attempts are spent: the last one's outcome
/// is still to be read). `None`: no request is kept.
pub async fn follow_held(m: &Merge<'_>) -> Result<Option<MergeCall>, MergerError> {
    let key = pending_key(m.repo, m.pr, m.head);
    let Some((uuid, since)) = remembered(m.store, &key).await? else {
        return Ok(None);
    };
    let held = Held {
        key: &key,
        uuid: &uuid,
        since,
        differs: None,
    };
    Ok(Some(follow(m, held, true).await?))
}

/// Merges `m.pr` at `m.head` with `m.method` (see the module's contract).
pub async fn call(m: &Merge<'_>) -> Result<Called, MergerError> {
    let key = pending_key(m.repo, m.pr, m.head);
    if let Some(call) = follow_held(m).await? {
        // A request GitHub holds: read it, never send another.
        match call {
            MergeCall::Lost { uuid } => {
                tracing::info!(%uuid, "the asynchronous merge request expired; asking again");
            }
            call => return Ok(Called { call, sent: false }),
        }
    }
    let answer = m
        .client
        .merge_async(m.repo, m.pr, m.head, m.method, m.action)
        .await?;
    let now = Utc::now();
    let call = match answer {
        MergeAsync::Unavailable => {
            return match m.action {
                MergeAction::DirectMerge => synchronous(m).await,
                MergeAction::MergeQueue => Ok(Called {
                    call: MergeCall::Unavailable,
                    sent: false,
                }),
            };
        }
        MergeAsync::Merged { sha } => {
            forget(m.store, &key).await?;
            MergeCall::Merged { sha }
        }
        MergeAsync::Enqueued { message } => {
            forget(m.store, &key).await?;
            MergeCall::Enqueued { message }
        }
        MergeAsync::Failed { message } => refused(400, message),
        MergeAsync::Pending { uuid } => {
            remember(m.store, &key, &uuid, now).await?;
            let held = Held {
                key: &key,
                uuid: &uuid,
                since: now,
                differs: None,
            };
            follow(m, held, false).await?
        }
        MergeAsync::Existing(existing) => {
            let differs = differs(&existing, m.method, m.head);
            if let Some(d) = &differs {
                tracing::warn!(uuid = %existing.uuid, "{d}");
            }
            remember(m.store, &key, &existing.uuid, now).await?;
            let held = Held {
                key: &key,
                uuid: &existing.uuid,
                since: now,
                differs,
            };
            follow(m, held, false).await?
        }
    };
    Ok(Called { call, sent: true })
}

/// Reads the result of the held request up to `m.poll.reads` times (at
/// least once when `read_now`, the request having been made by an earlier
/// call).
async fn follow(m: &Merge<'_>, held: Held<'_>, read_now: bool) -> Result<MergeCall, MergerError> {
    let reads = if read_now {
        m.poll.reads.max(1)
    } else {
        m.poll.reads
    };
    for read in 0..reads {
        if !(read_now && read == 0) {
            tokio::time::sleep(m.poll.interval).await;
        }
        match m.client.merge_async_result(m.repo, m.pr, held.uuid).await? {
            MergeAsyncResult::Pending(_) => continue,
            MergeAsyncResult::Merged { sha } => {
                forget(m.store, held.key).await?;
                return Ok(MergeCall::Merged { sha });
            }
            MergeAsyncResult::Enqueued { message } => {
                // Done as a request: the queue holds the pull request now.
                forget(m.store, held.key).await?;
                return Ok(MergeCall::Enqueued { message });
            }
            MergeAsyncResult::Failed { message } => {
                // Rules are evaluated when the merge runs: the same table.
                forget(m.store, held.key).await?;
                return Ok(refused(400, message));
            }
            MergeAsyncResult::Expired => {
                forget(m.store, held.key).await?;
                return Ok(MergeCall::Lost {
                    uuid: held.uuid.to_owned(),
                });
            }
        }
    }
    Ok(MergeCall::Pending {
        uuid: held.uuid.to_owned(),
        since: held.since,
        differs: held.differs,
    })
}

/// `PUT …/merge` with the head pinned, on an API root without the
/// asynchronous merge.
async fn synchronous(m: &Merge<'_>) -> Result<Called, MergerError> {
    let call = match m.client.merge(m.repo, m.pr, m.head, m.method).await {
        Ok(result) => MergeCall::Merged { sha: result.sha },
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => match e.status {
            Some(status) => refused(status, e.message),
            None => return Err(e.into()),
        },
    };
    Ok(Called { call, sent: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(method: Option<&str>, head: Option<&str>) -> AsyncRequest {
        AsyncRequest {
            uuid: "630b9d5e".to_owned(),
            method: method.map(str::to_owned),
            action: Some("default".to_owned()),
            expected_head: head.map(str::to_owned),
        }
    }

    #[test]
    fn an_adopted_request_says_what_differs() {
        let head: CommitSha = "a".repeat(40).parse().unwrap();
        let other = "b".repeat(40);
        let cases = [
            (held(Some("merge"), Some(head.as_str())), None),
            (held(None, None), None),
            (
                held(Some("squash"), Some(head.as_str())),
                Some(
                    "a merge request already existed (630b9d5e): it merges with `squash`, not `merge`",
                ),
            ),
            (
                held(Some("squash"), Some(&other)),
                Some(
                    "a merge request already existed (630b9d5e): it merges with `squash`, not `merge` \
                     and expects head bbbbbbb, not aaaaaaa",
                ),
            ),
        ];
        for (existing, want) in cases {
            assert_eq!(
                differs(&existing, "merge", &head).as_deref(),
                want,
                "{existing:?}"
            );
        }
    }

    #[test]
    fn a_pending_request_is_kept_per_head() {
        let repo: RepoName = "acme/app".parse().unwrap();
        let head: CommitSha = "c".repeat(40).parse().unwrap();
        assert_eq!(
            pending_key(&repo, PrNumber(7), &head),
            format!("merge-async:acme/app#7@{}", "c".repeat(40))
        );
    }
}

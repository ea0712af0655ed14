//! Where the base requires GitHub's merge queue: whether to enqueue, and
//! how to say where a pull request stands. Pure.
//!
//! seamguard enqueues a head once. The queue state is read from GitHub at
//! every evaluation (never remembered): an entry means "queued, say where";
//! a request to enqueue that GitHub still holds (an asynchronous merge with
//! `merge_action: merge_queue`, answered 202 and not finished) means "read
//! its result, ask nothing new"; no entry after GitHub said this very head
//! was enqueued means GitHub took it out again — merged, or dequeued for a
//! reason GitHub names — and the same head is not enqueued a second time
//! (it would fail the same way). A new head is a new chance: GitHub drops a
//! pull request from the queue when its head moves, and every request pins
//! the head (`sha` of `merge-async`, `expectedHeadOid` of the GraphQL
//! mutation), so a stale head is never enqueued.

/// Where a pull request stands with its base's merge queue, as read at
/// this evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueState {
    /// The head GitHub shows for the pull request.
    pub head: Option<String>,
    /// Its entry in the queue, when it is in it.
    pub entry: Option<Queued>,
    /// GitHub's reason the last time it left the queue without merging
    /// (`CI_FAILURE`, `MERGE_CONFLICT`, …).
    pub last_removal: Option<String>,
}

/// A pull request's entry in the merge queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// 0 for the entry at the head of the queue.
    pub position: Option<u32>,
    /// `QUEUED`, `AWAITING_CHECKS`, `MERGEABLE`, `UNMERGEABLE`, `LOCKED`.
    pub state: String,
}

/// What seamguard asked of GitHub's queue for the evaluated head, before
/// this evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Nothing GitHub took: never asked, or refused.
    Nothing,
    /// A request to enqueue that GitHub holds and has not finished.
    Held,
    /// GitHub said the head was enqueued.
    Enqueued,
}

/// What to do about the merge queue for the evaluated head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueStep {
    /// Ask GitHub to enqueue the head, pinned.
    Enqueue,
    /// GitHub holds a request to enqueue this head: read its result,
    /// never send another.
    Follow,
    /// Already in the queue.
    Queued {
        position: Option<u32>,
        state: String,
    },
    /// seamguard enqueued this head and it is no longer queued.
    Removed { reason: Option<String> },
    /// GitHub shows another head than the one evaluated: evaluate that one.
    HeadMoved,
}

/// The step for `head`, given GitHub's queue state and what seamguard
/// already asked for this head.
pub fn step(state: &QueueState, head: &str, asked: Asked) -> QueueStep {
    if state.head.as_deref().is_some_and(|h| h != head) {
        return QueueStep::HeadMoved;
    }
    if let Some(entry) = &state.entry {
        return QueueStep::Queued {
            position: entry.position,
            state: entry.state.clone(),
        };
    }
    match asked {
        Asked::Held => QueueStep::Follow,
        Asked::Enqueued => QueueStep::Removed {
            reason: state.last_removal.clone(),
        },
        Asked::Nothing => QueueStep::Enqueue,
    }
}

/// GitHub's dequeue reason in words (the code is shown beside it).
pub fn reason_text(reason: &str) -> &'static str {
    match reason {
        "CI_FAILURE" => "a required check failed on the merge group",
        "CI_TIMEOUT" => "a required check did not report on the merge group in time",
        "MERGE_CONFLICT" => "it conflicts with the pull requests ahead of it",
        "MANUAL" => "someone removed it",
        "ALREADY_MERGED" => "it was already merged",
        "QUEUE_CLEARED" => "the queue was cleared",
        "ROLL_BACK" => "the queue rolled back",
        "BRANCH_PROTECTIONS" => "the branch's protections refused it",
        "GIT_TREE_INVALID" | "INVALID_MERGE_COMMIT" => "GitHub could not build its merge commit",
        "MERGE" => "it merged",
        _ => "GitHub did not say why",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entry: bool, removal: Option<&str>) -> QueueState {
        QueueState {
            head: Some("h1".into()),
            entry: entry.then(|| Queued {
                position: Some(1),
                state: "QUEUED".into(),
            }),
            last_removal: removal.map(str::to_owned),
        }
    }

    #[test]
    fn enqueue_once_per_head() {
        use Asked::{Enqueued, Held, Nothing};
        assert_eq!(step(&state(false, None), "h1", Nothing), QueueStep::Enqueue);
        assert_eq!(
            step(&state(true, None), "h1", Enqueued),
            QueueStep::Queued {
                position: Some(1),
                state: "QUEUED".into()
            }
        );
        // Queued by a person before seamguard saw it: not enqueued again.
        assert!(matches!(
            step(&state(true, None), "h1", Nothing),
            QueueStep::Queued { .. }
        ));
        assert_eq!(
            step(&state(false, Some("CI_FAILURE")), "h1", Enqueued),
            QueueStep::Removed {
                reason: Some("CI_FAILURE".into())
            }
        );
        // An earlier head's removal does not stop a new head.
        assert_eq!(
            step(&state(false, Some("CI_FAILURE")), "h1", Nothing),
            QueueStep::Enqueue
        );
        // GitHub shows another head than the one evaluated.
        assert_eq!(
            step(&state(true, None), "h2", Nothing),
            QueueStep::HeadMoved
        );
        assert_eq!(
            step(&state(false, None), "h2", Enqueued),
            QueueStep::HeadMoved
        );
        assert_eq!(step(&state(false, None), "h2", Held), QueueStep::HeadMoved);
    }

    #[test]
    fn a_request_github_holds_is_followed_not_repeated() {
        // Not in the queue yet: the request is read, never sent again, and
        // not taken for a removal.
        assert_eq!(
            step(&state(false, Some("CI_FAILURE")), "h1", Asked::Held),
            QueueStep::Follow
        );
        // In the queue already: where it stands is what is said.
        assert!(matches!(
            step(&state(true, None), "h1", Asked::Held),
            QueueStep::Queued { .. }
        ));
    }

    #[test]
    fn every_reason_has_words() {
        for r in [
            "CI_FAILURE",
            "MERGE_CONFLICT",
            "MANUAL",
            "UNKNOWN_REMOVAL_REASON",
        ] {
            assert!(!reason_text(r).is_empty());
        }
    }
}

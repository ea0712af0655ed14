//! What GitHub's answer to a merge call means, and what the merger does
//! next. Pure: the engine makes the call, this module decides.
//!
//! Incident 4: GitHub says `Required status check "X" is expected.` when one
//! required check is pending and `N of M required status checks are
//! expected.` when several are; only the plural was treated as "pending".
//! Here any refusal whose message mentions `expected` (either wording, and
//! the Enterprise form) or a base branch that moved is *pending*: retry
//! after a backoff, bounded. A moved head is a new evaluation. Everything
//! else is a refusal to report and wait on.
//!
//! The invariant that keeps the merger from looping is structural: every
//! call of the merge endpoint is an attempt on its head, counted in the
//! store before the answer is acted on, and [`may_call`] refuses a call once
//! `merge.max_attempts` are spent — whatever GitHub answered. A 409 whose
//! pull request still shows the evaluated head is not a head move: it is an
//! attempt like a pending answer, backed off and counted ([`next_step`]).

/// The meaning of a failed merge call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeAnswer {
    /// Checks are still settling or the base just moved: retry later.
    Pending,
    /// GitHub says the head moved: read the pull request to see whether it
    /// did.
    HeadMoved,
    /// `You're not authorized to push to this branch` (409): a permission
    /// that does not clear by itself; retried once in case a ruleset was
    /// just edited, then reported.
    NotAuthorized,
    /// GitHub will not merge this as it stands (conflicts, reviews,
    /// method not allowed, permissions): report it and wait for an event.
    Refused,
}

/// Calls a `NotAuthorized` answer gets on one head before it is reported
/// as a refusal: one retry covers a permission or ruleset being edited at
/// that moment; it never clears by waiting longer.
pub const NOT_AUTHORIZED_CALLS: u32 = 2;

/// Wordings of "not yet" in a 405 body, lower-case.
const PENDING_WORDINGS: &[&str] = &[
    // `Required status check "X" is expected.` / `2 of 3 required status
    // checks are expected.` / `... have not succeeded: 1 expected and 0 pending.`
    "expected",
    // `Base branch was modified. Review and try the merge again.`
    "base branch was modified",
    // `Required status check "X" is in progress.`
    "is in progress",
    "are in progress",
    // A merge from another actor (or a previous attempt) is running.
    "merge already in progress",
    // `Head branch is out of date.` on a strict base that moved since the
    // evaluation: evaluating again updates the branch.
    "is out of date",
];

/// Classifies a merge refusal by HTTP status and GitHub's message.
pub fn classify(status: u16, message: &str) -> MergeAnswer {
    let lower = message.to_ascii_lowercase();
    if lower.contains("not authorized to push") {
        return MergeAnswer::NotAuthorized;
    }
    if status == 409 || lower.contains("head branch was modified") {
        return MergeAnswer::HeadMoved;
    }
    if matches!(status, 405 | 422) && PENDING_WORDINGS.iter().any(|w| lower.contains(w)) {
        return MergeAnswer::Pending;
    }
    MergeAnswer::Refused
}

/// What one merge call came to, once the engine has read what it needs (the
/// pull request after a 409 or an ambiguous failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    Merged,
    /// A classified refusal; for [`MergeAnswer::HeadMoved`], `head_moved`
    /// says whether the pull request read right after shows another head.
    Answered {
        answer: MergeAnswer,
        head_moved: bool,
    },
    /// A 5xx or a dropped connection, and the pull request did not merge.
    Failed,
}

impl CallResult {
    /// The call's result as an identifier, for logs: `merged`, `failed`,
    /// or the answer's kind (`pending`, `head_moved`, `head_unmoved`,
    /// `not_authorized`, `refused`).
    pub fn as_str(&self) -> &'static str {
        match self {
            CallResult::Merged => "merged",
            CallResult::Failed => "failed",
            CallResult::Answered { answer, head_moved } => match answer {
                MergeAnswer::Pending => "pending",
                MergeAnswer::HeadMoved if *head_moved => "head_moved",
                MergeAnswer::HeadMoved => "head_unmoved",
                MergeAnswer::NotAuthorized => "not_authorized",
                MergeAnswer::Refused => "refused",
            },
        }
    }
}

/// What the merger does after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStep {
    /// Done: the pull request merged.
    Merged,
    /// Call again on the same head after a backoff.
    RetryLater,
    /// The head really moved: evaluate the new head from scratch.
    Reevaluate,
    /// GitHub refused: report it and wait for the next event.
    Refused,
    /// `merge.max_attempts` calls on this head: stop trying.
    GaveUp,
}

impl MergeStep {
    /// The step's identifier, for logs: `merged`, `retry_later`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            MergeStep::Merged => "merged",
            MergeStep::RetryLater => "retry_later",
            MergeStep::Reevaluate => "reevaluate",
            MergeStep::Refused => "refused",
            MergeStep::GaveUp => "gave_up",
        }
    }
}

/// May the merger call the merge endpoint for a head that has had
/// `attempts` calls already?
pub fn may_call(attempts: u32, max_attempts: u32) -> bool {
    attempts < max_attempts
}

/// The next step after a call that was the `attempt`-th on its head.
pub fn next_step(result: CallResult, attempt: u32, max_attempts: u32) -> MergeStep {
    let retry = || {
        if may_call(attempt, max_attempts) {
            MergeStep::RetryLater
        } else {
            MergeStep::GaveUp
        }
    };
    match result {
        CallResult::Merged => MergeStep::Merged,
        CallResult::Failed => retry(),
        CallResult::Answered { answer, head_moved } => match answer {
            MergeAnswer::HeadMoved if head_moved => MergeStep::Reevaluate,
            MergeAnswer::HeadMoved | MergeAnswer::Pending => retry(),
            MergeAnswer::NotAuthorized if attempt < NOT_AUTHORIZED_CALLS => retry(),
            MergeAnswer::NotAuthorized | MergeAnswer::Refused => MergeStep::Refused,
        },
    }
}

/// GitHub's message made fit to quote once: one line, each of its lines
/// without its closing full stop, no empty or `.`-only lines (multi-line
/// ruleset messages have both), ending in exactly one full stop.
pub fn clean_message(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(|l| l.trim().trim_end_matches(['.', ':']).trim_end())
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        return "(no message)".to_owned();
    }
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A heading line (`Repository rule violations found`) reads as
            // a lead-in to what follows.
            out.push_str(if i == 1 { ": " } else { ". " });
        }
        out.push_str(p);
    }
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real wordings and where they come from.
    #[test]
    fn real_wordings() {
        let cases: &[(u16, &str, MergeAnswer, &str)] = &[
            (
                405,
                r#"Required status check "check-branch-name" is expected."#,
                MergeAnswer::Pending,
                "incident 4, github.com (singular)",
            ),
            (
                405,
                "2 of 3 required status checks are expected.",
                MergeAnswer::Pending,
                "github.com (plural)",
            ),
            (
                405,
                "Repository rule violations found\n\n3 of 3 required status checks are expected.\n\n",
                MergeAnswer::Pending,
                "github.com, rulesets",
            ),
            (
                405,
                "Required status checks have not succeeded: 1 expected and 0 pending.",
                MergeAnswer::Pending,
                "GitHub Enterprise Server",
            ),
            (
                405,
                "Base branch was modified. Review and try the merge again.",
                MergeAnswer::Pending,
                "github.com, base moved during merge",
            ),
            (
                405,
                r#"Required status check "build" is in progress."#,
                MergeAnswer::Pending,
                "github.com, check still running",
            ),
            (
                405,
                "Head branch is out of date",
                MergeAnswer::Pending,
                "strict base that moved since the evaluation",
            ),
            (
                405,
                "Merge already in progress",
                MergeAnswer::Pending,
                "github.com, concurrent merge",
            ),
            (
                409,
                "Head branch was modified. Review and try the merge again.",
                MergeAnswer::HeadMoved,
                "REST docs sample (pulls/merge 409)",
            ),
            (
                409,
                "You're not authorized to push to this branch. Visit https://docs.github.com/articles/about-protected-branches/ for more information.",
                MergeAnswer::NotAuthorized,
                "github.com, push restrictions or a ruleset bypass list",
            ),
            (
                405,
                "Pull Request is not mergeable",
                MergeAnswer::Refused,
                "REST docs sample (pulls/merge 405)",
            ),
            (
                405,
                "At least 1 approving review is required by reviewers with write access.",
                MergeAnswer::Refused,
                "github.com, reviews missing",
            ),
            (
                405,
                "Merge commits are not allowed on this repository.",
                MergeAnswer::Refused,
                "github.com, method not allowed",
            ),
            (
                405,
                "Squash merges are not allowed on this repository.",
                MergeAnswer::Refused,
                "github.com, method not allowed",
            ),
            (
                403,
                "Resource not accessible by integration",
                MergeAnswer::Refused,
                "github.com, missing permission",
            ),
            (
                422,
                "Validation Failed",
                MergeAnswer::Refused,
                "github.com, bad body",
            ),
        ];
        for (status, message, want, source) in cases {
            assert_eq!(classify(*status, message), *want, "{source}: {message}");
        }
    }

    const MAX: u32 = 3;

    fn answered(answer: MergeAnswer, head_moved: bool) -> CallResult {
        CallResult::Answered { answer, head_moved }
    }

    /// Every answer class, at the first and at the last allowed attempt.
    #[test]
    fn every_answer_class_has_a_bounded_next_step() {
        use MergeStep::*;
        let cases: &[(CallResult, u32, MergeStep)] = &[
            (CallResult::Merged, 1, Merged),
            (CallResult::Failed, 1, RetryLater),
            (CallResult::Failed, MAX, GaveUp),
            (answered(MergeAnswer::Pending, false), 1, RetryLater),
            (answered(MergeAnswer::Pending, false), MAX, GaveUp),
            // A 409 on a head that did not move is an attempt like any other.
            (answered(MergeAnswer::HeadMoved, false), 1, RetryLater),
            (answered(MergeAnswer::HeadMoved, false), MAX, GaveUp),
            (answered(MergeAnswer::HeadMoved, true), 1, Reevaluate),
            (answered(MergeAnswer::HeadMoved, true), MAX, Reevaluate),
            (answered(MergeAnswer::NotAuthorized, false), 1, RetryLater),
            (answered(MergeAnswer::NotAuthorized, false), 2, Refused),
            (answered(MergeAnswer::Refused, false), 1, Refused),
        ];
        for (result, attempt, want) in cases {
            assert_eq!(
                next_step(*result, *attempt, MAX),
                *want,
                "{result:?} on attempt {attempt}"
            );
        }
    }

    fn any_result() -> impl proptest::strategy::Strategy<Value = CallResult> {
        use proptest::prelude::*;
        prop_oneof![
            Just(CallResult::Merged),
            Just(CallResult::Failed),
            (
                prop_oneof![
                    Just(MergeAnswer::Pending),
                    Just(MergeAnswer::HeadMoved),
                    Just(MergeAnswer::NotAuthorized),
                    Just(MergeAnswer::Refused),
                ],
                any::<bool>()
            )
                .prop_map(|(answer, head_moved)| answered(answer, head_moved)),
        ]
    }

    proptest::proptest! {
        /// The merger as the engine runs it — ask [`may_call`], call, count,
        /// take [`next_step`] — against any sequence of GitHub answers, with
        /// every refusal followed by another event: no head ever gets more
        /// than `max_attempts` calls, and only a real head move starts a
        /// new count.
        #[test]
        fn no_head_gets_more_than_max_attempts_calls(
            answers in proptest::collection::vec(any_result(), 1..60),
            max in 1u32..8,
        ) {
            let mut calls_per_head = vec![0u32];
            let mut answers = answers.into_iter();
            loop {
                let head = calls_per_head.len() - 1;
                if !may_call(calls_per_head[head], max) {
                    break;
                }
                let Some(result) = answers.next() else { break };
                calls_per_head[head] += 1;
                match next_step(result, calls_per_head[head], max) {
                    MergeStep::Merged => break,
                    MergeStep::Reevaluate => calls_per_head.push(0),
                    MergeStep::RetryLater | MergeStep::Refused | MergeStep::GaveUp => {}
                }
            }
            for calls in &calls_per_head {
                proptest::prop_assert!(*calls <= max, "{calls_per_head:?}");
            }
        }
    }

    #[test]
    fn messages_are_quoted_cleanly() {
        let cases = [
            (
                "Repository rule violations found\n\nChanges must be made through a pull request.\n\n",
                "Repository rule violations found: Changes must be made through a pull request.",
            ),
            (
                "Repository rule violations found\n\n.\n3 of 3 required status checks are expected..\n",
                "Repository rule violations found: 3 of 3 required status checks are expected.",
            ),
            (
                "Pull Request is not mergeable",
                "Pull Request is not mergeable.",
            ),
            (
                "Base branch was modified. Review and try the merge again.",
                "Base branch was modified. Review and try the merge again.",
            ),
            ("  \n", "(no message)"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_message(raw), want, "{raw:?}");
        }
    }
}

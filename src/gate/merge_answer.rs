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
//!
//! Three answers ask the caller to read before deciding: `N of M required
//! status checks have not succeeded` ([`MergeAnswer::ReadChecks`]: read the
//! checks, then [`reread_checks`]), `Pull Request is not mergeable`
//! ([`MergeAnswer::ReadMergeable`]: read `mergeable`/`mergeable_state`, then
//! [`not_mergeable`]), and a refusal tied to the merge method
//! ([`MergeAnswer::OtherMethod`], whose fix [`fix`] names). The `failed`
//! messages of an asynchronous merge (`merge-async`, status 400, or its
//! result) go through the same table as a 405.

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
    /// `2 of 3 required status checks have not succeeded`: which ones is
    /// not said. Read the checks again ([`reread_checks`]): pending if any
    /// is still running or missing, refused naming the failed ones
    /// otherwise.
    ReadChecks,
    /// Refused for the merge method (a base that requires signed commits
    /// refuses rebase merges, which GitHub cannot sign): another method
    /// would merge ([`fix`] names it).
    OtherMethod,
    /// `Pull Request is not mergeable`: says nothing of why. Read
    /// `mergeable`/`mergeable_state` and say which ([`not_mergeable`]).
    ReadMergeable,
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
    // `Waiting for Code Scanning results…`: code scanning is a merge rule
    // whose results are still being computed.
    "waiting for code scanning",
];

/// Statuses whose message can say "not yet": a 405 (`PUT …/merge`), a 422
/// (validation on some Enterprise Server versions) and a 400 (the `failed`
/// answer of `merge-async`; a `failed` result of its poll is read as one).
const MAY_BE_PENDING: &[u16] = &[400, 405, 422];

/// Classifies a merge refusal by HTTP status and GitHub's message.
pub fn classify(status: u16, message: &str) -> MergeAnswer {
    let lower = message.to_ascii_lowercase();
    if lower.contains("not authorized to push") {
        return MergeAnswer::NotAuthorized;
    }
    if status == 409 || lower.contains("head branch was modified") {
        return MergeAnswer::HeadMoved;
    }
    if !MAY_BE_PENDING.contains(&status) {
        return MergeAnswer::Refused;
    }
    if PENDING_WORDINGS.iter().any(|w| lower.contains(w)) {
        return MergeAnswer::Pending;
    }
    if lower.contains("have not succeeded") || lower.contains("has not succeeded") {
        return MergeAnswer::ReadChecks;
    }
    if lower.contains("cannot be automatically signed") {
        return MergeAnswer::OtherMethod;
    }
    if lower.contains("is not mergeable") {
        return MergeAnswer::ReadMergeable;
    }
    MergeAnswer::Refused
}

/// The fix to name beside an answer, when there is one to name.
pub fn fix(answer: MergeAnswer) -> Option<&'static str> {
    match answer {
        MergeAnswer::OtherMethod => Some(
            "the base requires signed commits and GitHub cannot sign a rebase merge: \
             set `merge.method` to `squash` or `merge`, which GitHub signs",
        ),
        _ => None,
    }
}

/// A required check as read again after [`MergeAnswer::ReadChecks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckNow {
    Passed,
    /// Queued or in progress.
    Running,
    /// Not reported on the head at all.
    Missing,
    Failed,
}

/// What the checks read again say of `N of M required status checks have
/// not succeeded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reread {
    /// One is still running or missing: retry later, bounded like any
    /// pending answer.
    Pending,
    /// Every one has finished and these failed: report them.
    Refused { failed: Vec<String> },
}

/// Pending while any required check is running or missing; refused naming
/// the failed ones once none is; pending when none failed either (GitHub's
/// answer came before the last check's report was counted).
pub fn reread_checks(checks: &[(String, CheckNow)]) -> Reread {
    if checks
        .iter()
        .any(|(_, c)| matches!(c, CheckNow::Running | CheckNow::Missing))
    {
        return Reread::Pending;
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|(_, c)| *c == CheckNow::Failed)
        .map(|(n, _)| n.clone())
        .collect();
    if failed.is_empty() {
        Reread::Pending
    } else {
        Reread::Refused { failed }
    }
}

/// What `mergeable`/`mergeable_state` say after `Pull Request is not
/// mergeable`: the answer to act on and why, in words for the check run.
pub fn not_mergeable(mergeable: Option<bool>, state: Option<&str>) -> (MergeAnswer, &'static str) {
    match state {
        Some("dirty") => (MergeAnswer::Refused, "it has conflicts with its base"),
        Some("blocked") => (
            MergeAnswer::Refused,
            "the base's rules block it (reviews, or checks GitHub requires)",
        ),
        Some("behind") => (MergeAnswer::Pending, "its head is behind its base"),
        Some("draft") => (MergeAnswer::Refused, "it is a draft"),
        _ if mergeable == Some(false) => (
            MergeAnswer::Refused,
            "GitHub reads it as not mergeable and says no more",
        ),
        Some("clean" | "unstable" | "has_hooks") if mergeable == Some(true) => {
            (MergeAnswer::Pending, "GitHub now reads it as mergeable")
        }
        _ => (
            MergeAnswer::Pending,
            "GitHub is still computing whether it can merge",
        ),
    }
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
                MergeAnswer::ReadChecks => "read_checks",
                MergeAnswer::OtherMethod => "other_method",
                MergeAnswer::ReadMergeable => "read_mergeable",
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
            // Unread, "have not succeeded" may still clear: bounded like
            // pending (the caller reads the checks to decide sooner).
            MergeAnswer::HeadMoved | MergeAnswer::Pending | MergeAnswer::ReadChecks => retry(),
            MergeAnswer::NotAuthorized if attempt < NOT_AUTHORIZED_CALLS => retry(),
            MergeAnswer::NotAuthorized
            | MergeAnswer::Refused
            | MergeAnswer::OtherMethod
            | MergeAnswer::ReadMergeable => MergeStep::Refused,
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
                MergeAnswer::ReadMergeable,
                "REST docs sample (pulls/merge 405); https://github.com/syndesisio/syndesis/pull/4452",
            ),
            (
                405,
                "Repository rule violations found\n\nRequired status check \"test\" is expected.",
                MergeAnswer::Pending,
                "ruleset multi-line form: https://github.com/microsoft/winget-pkgs/pull/379724 \
                 (its form, another rule); the check line as in incident 4",
            ),
            (
                405,
                "Waiting for Code Scanning results…",
                MergeAnswer::Pending,
                "issue #25 of this project (no public issue found quoting it)",
            ),
            (
                405,
                "2 of 3 required status checks have not succeeded",
                MergeAnswer::ReadChecks,
                "https://github.com/mikelward/scripts/pull/197",
            ),
            (
                405,
                "Base branch requires signed commits. Rebase merges cannot be automatically signed by GitHub",
                MergeAnswer::OtherMethod,
                "https://github.com/reitermarkus/automerge/issues/4612, \
                 https://github.com/reitermarkus/automerge/issues/160",
            ),
            (
                400,
                "Pull request is closed.",
                MergeAnswer::Refused,
                "merge-async 400 `failed` (REST docs sample)",
            ),
            (
                400,
                "Repository rule violations found\n\nRequired status check \"test\" is expected.",
                MergeAnswer::Pending,
                "merge-async `failed`: the same table as a 405",
            ),
            (
                400,
                "Merge conflict: the pull request could not be merged.",
                MergeAnswer::Refused,
                "merge-async result `failed` (REST docs sample)",
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
            (answered(MergeAnswer::ReadChecks, false), 1, RetryLater),
            (answered(MergeAnswer::ReadChecks, false), MAX, GaveUp),
            (answered(MergeAnswer::OtherMethod, false), 1, Refused),
            (answered(MergeAnswer::ReadMergeable, false), 1, Refused),
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
                    Just(MergeAnswer::ReadChecks),
                    Just(MergeAnswer::OtherMethod),
                    Just(MergeAnswer::ReadMergeable),
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
    fn checks_read_again_decide_pending_or_refused() {
        use CheckNow::*;
        let c = |n: &str, s| (n.to_owned(), s);
        let cases = [
            (
                vec![c("a", Passed), c("b", Running), c("c", Failed)],
                Reread::Pending,
            ),
            (vec![c("a", Passed), c("b", Missing)], Reread::Pending),
            (
                vec![c("a", Passed), c("b", Failed), c("c", Failed)],
                Reread::Refused {
                    failed: vec!["b".to_owned(), "c".to_owned()],
                },
            ),
            (vec![c("a", Passed)], Reread::Pending),
        ];
        for (checks, want) in cases {
            assert_eq!(reread_checks(&checks), want, "{checks:?}");
        }
    }

    #[test]
    fn not_mergeable_says_which() {
        let cases = [
            (
                Some(false),
                Some("dirty"),
                MergeAnswer::Refused,
                "conflicts",
            ),
            (Some(true), Some("blocked"), MergeAnswer::Refused, "block"),
            (Some(true), Some("behind"), MergeAnswer::Pending, "behind"),
            (None, Some("unknown"), MergeAnswer::Pending, "computing"),
            (
                Some(false),
                Some("unknown"),
                MergeAnswer::Refused,
                "not mergeable",
            ),
            (Some(true), Some("clean"), MergeAnswer::Pending, "now reads"),
        ];
        for (mergeable, state, answer, words) in cases {
            let (got, why) = not_mergeable(mergeable, state);
            assert_eq!(got, answer, "{state:?}");
            assert!(why.contains(words), "{state:?}: {why}");
        }
    }

    #[test]
    fn the_signed_commits_refusal_names_another_method() {
        let answer = classify(
            405,
            "Base branch requires signed commits. Rebase merges cannot be automatically signed by GitHub",
        );
        let named = fix(answer).expect("a fix is named");
        assert!(
            named.contains("squash") && named.contains("merge.method"),
            "{named}"
        );
        assert_eq!(fix(MergeAnswer::Refused), None);
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

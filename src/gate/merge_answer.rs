//! What GitHub's answer to a merge call means.
//!
//! Incident 4: GitHub says `Required status check "X" is expected.` when one
//! required check is pending and `N of M required status checks are
//! expected.` when several are; only the plural was treated as "pending".
//! Here any refusal whose message mentions `expected` (either wording, and
//! the Enterprise form) or a base branch that moved is *pending*: retry
//! after a backoff, bounded. A moved head is a new evaluation. Everything
//! else is a refusal to report and wait on.

/// The meaning of a failed merge call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeAnswer {
    /// Checks are still settling or the base just moved: retry later.
    Pending,
    /// The head is no longer the SHA that was evaluated: evaluate again.
    HeadMoved,
    /// GitHub will not merge this as it stands (conflicts, reviews,
    /// method not allowed, permissions): report it and wait for an event.
    Refused,
}

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
];

/// Classifies a merge refusal by HTTP status and GitHub's message.
pub fn classify(status: u16, message: &str) -> MergeAnswer {
    let lower = message.to_ascii_lowercase();
    if status == 409 || lower.contains("head branch was modified") {
        return MergeAnswer::HeadMoved;
    }
    if matches!(status, 405 | 422) && PENDING_WORDINGS.iter().any(|w| lower.contains(w)) {
        return MergeAnswer::Pending;
    }
    MergeAnswer::Refused
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
}

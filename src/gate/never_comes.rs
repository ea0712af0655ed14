//! Checks that will never come: evidence, from the base branch's recent
//! history, that a required check which has not reported on the head may
//! never report. Pure.
//!
//! A workflow with a path filter that skipped, a workflow without the
//! `merge_group` trigger, a check required from an App that is not
//! installed, a renamed context: the pull request waits forever and nobody
//! is told why. The evidence is what was observed on the last commits of
//! the base (read once per base SHA), and the words say only that — a
//! cause is offered as a likely one, never claimed.

/// How many commits of the base's history are read for evidence.
pub const HISTORY_DEPTH: usize = 20;

/// One check run or commit status seen on a commit of the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub context: String,
    /// The App that reported it (check runs only).
    pub app_id: Option<u64>,
}

/// The checks seen on each of the base's last commits, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseHistory {
    pub commits: Vec<Vec<Seen>>,
}

/// What the base's history says about a required check that has not
/// reported on the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Not reported, by anyone, on any of the last `commits` base commits.
    NeverOnBase { commits: usize },
    /// Required from App `app`, which never reported it there; `others`
    /// are the Apps that did report a check of that name.
    AppNeverReported {
        app: u64,
        others: Vec<u64>,
        commits: usize,
    },
    /// The base merges through a merge queue, whose merge groups land on
    /// these commits, and the check never appeared on them.
    NeverOnMergeGroup { commits: usize },
}

/// The evidence about one required check, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEvidence {
    pub context: String,
    pub app_id: Option<u64>,
    /// The base branch whose history was read.
    pub base: String,
    pub evidence: Evidence,
}

/// The evidence about the required check `context` (from App `app_id`, if
/// pinned), when there is any (`None`: it did report on the base's recent
/// history, or there is no history to read).
pub fn evidence(
    context: &str,
    app_id: Option<u64>,
    history: &BaseHistory,
    merge_queue: bool,
) -> Option<Evidence> {
    let commits = history.commits.len();
    if commits == 0 {
        return None;
    }
    let named = || {
        history
            .commits
            .iter()
            .flatten()
            .filter(|s| s.context == context)
    };
    let reported = named().any(|s| app_id.is_none_or(|app| s.app_id == Some(app)));
    if reported {
        return None;
    }
    if let Some(app) = app_id {
        let mut others: Vec<u64> = named().filter_map(|s| s.app_id).collect();
        others.sort_unstable();
        others.dedup();
        if !others.is_empty() {
            return Some(Evidence::AppNeverReported {
                app,
                others,
                commits,
            });
        }
    }
    Some(if merge_queue {
        Evidence::NeverOnMergeGroup { commits }
    } else {
        Evidence::NeverOnBase { commits }
    })
}

/// The observation, in words (shown from the first evaluation).
pub fn observed(e: &Evidence, base: &str) -> String {
    match e {
        Evidence::NeverOnBase { commits } | Evidence::NeverOnMergeGroup { commits } => {
            format!("not reported on any of the last {commits} commits of `{base}` either")
        }
        Evidence::AppNeverReported {
            app,
            others,
            commits,
        } => format!(
            "on the last {commits} commits of `{base}` it was reported only by {}, never by app {app}",
            others
                .iter()
                .map(|o| format!("app {o}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The likely cause and its fix (shown once `register_timeout` passed).
pub fn likely_fix(e: &Evidence) -> &'static str {
    match e {
        Evidence::NeverOnBase { .. } => {
            "it may never come: the workflow that reports it may not run for these changes (a \
             path or branch filter), or the check was renamed; compare the name in the branch's \
             rules with the checks that do run"
        }
        Evidence::AppNeverReported { .. } => {
            "it may never come: the rule pins it to an App that does not report it here (not \
             installed, or another App reports that name); pin the App that reports it, or allow \
             any source"
        }
        Evidence::NeverOnMergeGroup { .. } => {
            "it may never come: the base merges through a merge queue and the check never ran on \
             its merge groups; the workflow that reports it may lack the `merge_group` trigger"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(context: &str, app: Option<u64>) -> Seen {
        Seen {
            context: context.into(),
            app_id: app,
        }
    }

    #[test]
    fn evidence_is_only_what_was_observed() {
        let history = BaseHistory {
            commits: vec![
                vec![seen("lint", Some(15368)), seen("build", Some(99))],
                vec![seen("lint", Some(15368)), seen("ci/legacy", None)],
            ],
        };
        assert_eq!(evidence("lint", None, &history, false), None);
        assert_eq!(evidence("ci/legacy", None, &history, false), None);
        assert_eq!(
            evidence("test", None, &history, false),
            Some(Evidence::NeverOnBase { commits: 2 })
        );
        assert_eq!(
            evidence("test", None, &history, true),
            Some(Evidence::NeverOnMergeGroup { commits: 2 })
        );
        assert_eq!(
            evidence("lint", Some(7), &history, false),
            Some(Evidence::AppNeverReported {
                app: 7,
                others: vec![15368],
                commits: 2
            })
        );
        assert_eq!(evidence("lint", Some(15368), &history, false), None);
        assert_eq!(evidence("test", None, &BaseHistory::default(), false), None);
        let e = evidence("lint", Some(7), &history, false).unwrap();
        assert_eq!(
            observed(&e, "main"),
            "on the last 2 commits of `main` it was reported only by app 15368, never by app 7"
        );
    }
}

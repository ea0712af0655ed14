//! Stacked pull requests: when pull request *k* of a stack may merge.
//!
//! GitHub merges a stack from one request: `merge-async` on pull request
//! *k* merges every open pull request 1…*k* (1 is the bottom), atomically.
//! So *k*'s merge is also the merge of everything below it, and seamguard
//! asks for it only when every open pull request below passes seamguard's
//! guards and its gate ([`Readiness`]): otherwise *k* waits, naming the
//! lowest one that holds it back.
//!
//! One request per stack, not one per pull request: a ready pull request
//! whose upper neighbour is opted in and ready too waits for that
//! neighbour, which merges both (and so on up), so the merge is attempted
//! once, by the topmost opted-in pull request whose whole stack is ready.
//! A neighbour with no verdict on its head yet is waited for as well (it
//! is evaluated, and its verdict re-evaluates the stack).
//!
//! Each pull request's own readiness is judged on its own evaluation
//! ([`readiness`]) and kept with it; this rule reads the others' as the
//! engine found them (`engine::gather`), never asking GitHub itself.

use serde::{Deserialize, Serialize};

use crate::gate::decision::{Conclusion, GuardOutcome, GuardVerdict, MergePlan};
use crate::gate::required_checks::{GateReport, GateStatus};
use crate::ids::PrNumber;

/// Whether one pull request passes seamguard's guards and its gate on its
/// own (its place in the stack aside), and whether it is opted in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Readiness {
    pub ready: bool,
    pub opted_in: bool,
    /// What holds it back, in a few words (empty when ready).
    pub why: String,
}

/// What the guards and the gate make of one pull request on its own.
pub struct OwnFacts<'a> {
    pub conclusion: Conclusion,
    pub guards: &'a [GuardOutcome],
    pub gate: &'a GateReport,
    /// The base's other rules: what one waits for, if any.
    pub rule_waiting: Option<String>,
    pub draft: bool,
    /// The plan before the stack was looked at.
    pub plan: &'a MergePlan,
}

/// The pull request's own readiness: guards pass, not a draft, every
/// required check and rule of the base met and readable.
pub fn readiness(own: &OwnFacts<'_>) -> Readiness {
    let opted_in = !matches!(own.plan, MergePlan::NotOptedIn { .. });
    let not = |why: String| Readiness {
        ready: false,
        opted_in,
        why,
    };
    if own.conclusion != Conclusion::Success {
        let failed: Vec<&str> = own
            .guards
            .iter()
            .filter(|g| g.verdict == GuardVerdict::Failed)
            .map(|g| g.headline.as_str())
            .collect();
        return not(if failed.is_empty() {
            "a guard failed".to_owned()
        } else {
            failed.join("; ")
        });
    }
    if own.draft {
        return not("a draft".to_owned());
    }
    match own.gate.status() {
        GateStatus::Failed => {
            let failed: Vec<String> = own
                .gate
                .entries
                .iter()
                .filter(|e| e.state.is_failed())
                .map(|e| format!("`{}`", e.check.context))
                .collect();
            return not(format!("required check failed: {}", failed.join(", ")));
        }
        GateStatus::Waiting => {
            let waiting: Vec<String> = own
                .gate
                .blocking()
                .iter()
                .map(|c| format!("`{c}`"))
                .collect();
            return not(format!("waiting for {}", waiting.join(", ")));
        }
        GateStatus::Open => {}
    }
    if !own.gate.unreadable.is_empty() {
        return not("some of what its base requires could not be read".to_owned());
    }
    if let Some(why) = &own.rule_waiting {
        return not(why.clone());
    }
    Readiness {
        ready: true,
        opted_in,
        why: String::new(),
    }
}

/// What seamguard knows of one stack member's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The pull request this decision is about.
    This,
    /// Judged on its current head.
    Judged(Readiness),
    /// Not judged on its current head yet.
    Unknown,
}

/// One pull request of the stack, as the stack lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub number: PrNumber,
    pub title: String,
    pub open: bool,
    pub merged: bool,
    pub verdict: Verdict,
}

/// The stack a pull request is in, as gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFacts {
    /// The pull request's one-based position; `None` when GitHub did not
    /// say it (or the stack could not be placed).
    pub position: Option<usize>,
    /// Every pull request of the stack, bottom first (empty when the
    /// stack could not be read).
    pub members: Vec<Member>,
    /// The pull request's own readiness as its previous evaluation of the
    /// same head left it (a change, or a new head, re-evaluates the others).
    pub before: Option<Readiness>,
}

impl StackFacts {
    /// The open members other than this one with no verdict on their head:
    /// worth evaluating, since this one's plan may wait on them.
    pub fn unjudged(&self) -> Vec<PrNumber> {
        self.members
            .iter()
            .filter(|m| m.open && m.verdict == Verdict::Unknown)
            .map(|m| m.number)
            .collect()
    }

    /// The open members other than this one.
    pub fn others(&self) -> Vec<PrNumber> {
        self.members
            .iter()
            .filter(|m| m.open && m.verdict != Verdict::This)
            .map(|m| m.number)
            .collect()
    }
}

/// Which member holds the merge back, and why, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub number: PrNumber,
    pub why: String,
}

/// The plan once the stack is looked at: an acting plan (a merge, an
/// enqueue, a branch update, or their shadow forms) waits while a pull
/// request below holds it back; a merge also waits for a ready, opted-in
/// upper neighbour, which merges the stack with this one.
pub fn plan(plan: MergePlan, stack: &StackFacts) -> (MergePlan, Option<Hold>) {
    let acting = plan.acts()
        || matches!(
            plan,
            MergePlan::WouldMerge { .. } | MergePlan::WouldEnqueue | MergePlan::WouldUpdateBranch
        );
    if !acting {
        return (plan, None);
    }
    let waiting = |why: String| MergePlan::Waiting { why };
    let Some(position) = stack
        .position
        .filter(|p| *p >= 1 && *p <= stack.members.len())
    else {
        return (
            waiting(
                "this pull request is in a stack, and where in it could not be read: merging it \
                 would merge the pull requests below it"
                    .to_owned(),
            ),
            None,
        );
    };
    for m in stack.members[..position - 1].iter().filter(|m| m.open) {
        let why = match &m.verdict {
            Verdict::Judged(r) if r.ready => continue,
            Verdict::Judged(r) => r.why.clone(),
            Verdict::Unknown | Verdict::This => "no verdict from seamguard on its head yet".into(),
        };
        let hold = Hold {
            number: m.number,
            why: why.clone(),
        };
        return (
            waiting(format!("#{} below in the stack: {why}", m.number.0)),
            Some(hold),
        );
    }
    let merging = matches!(plan, MergePlan::Merge | MergePlan::WouldMerge { .. });
    if merging && let Some(up) = stack.members.get(position).filter(|m| m.open) {
        let why = match &up.verdict {
            Verdict::Judged(r) if r.ready && r.opted_in => format!(
                "#{} above in the stack is ready too: its merge takes this one with it",
                up.number.0
            ),
            Verdict::Unknown => format!(
                "#{} above in the stack has no verdict from seamguard on its head yet; its \
                 merge may take this one with it",
                up.number.0
            ),
            _ => return (plan, None),
        };
        return (waiting(why), None);
    }
    (plan, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(opted_in: bool) -> Verdict {
        Verdict::Judged(Readiness {
            ready: true,
            opted_in,
            why: String::new(),
        })
    }

    fn blocked(why: &str) -> Verdict {
        Verdict::Judged(Readiness {
            ready: false,
            opted_in: true,
            why: why.to_owned(),
        })
    }

    fn member(n: u64, verdict: Verdict) -> Member {
        Member {
            number: PrNumber(n),
            title: format!("#{n}"),
            open: true,
            merged: false,
            verdict,
        }
    }

    fn stack(position: usize, members: Vec<Member>) -> StackFacts {
        StackFacts {
            position: Some(position),
            members,
            before: None,
        }
    }

    fn why(plan: &MergePlan) -> &str {
        plan.reason().unwrap_or_default()
    }

    #[test]
    fn the_top_waits_naming_the_lowest_pull_request_below_that_blocks() {
        let s = stack(
            3,
            vec![
                member(40, ready(false)),
                member(41, blocked("1 conflict marker in 1 file")),
                member(42, Verdict::This),
            ],
        );
        let (plan, hold) = plan(MergePlan::Merge, &s);
        assert_eq!(
            why(&plan),
            "#41 below in the stack: 1 conflict marker in 1 file"
        );
        assert_eq!(hold.map(|h| h.number), Some(PrNumber(41)));
    }

    #[test]
    fn the_top_merges_when_everything_below_is_ready_opted_in_or_not() {
        let s = stack(
            3,
            vec![
                member(40, ready(false)),
                member(41, ready(true)),
                member(42, Verdict::This),
            ],
        );
        assert_eq!(plan(MergePlan::Merge, &s), (MergePlan::Merge, None));
    }

    #[test]
    fn merged_pull_requests_below_hold_nothing_back() {
        let mut gone = member(40, Verdict::Unknown);
        gone.open = false;
        gone.merged = true;
        let s = stack(2, vec![gone, member(41, Verdict::This)]);
        assert_eq!(plan(MergePlan::Merge, &s).0, MergePlan::Merge);
    }

    #[test]
    fn a_pull_request_below_with_no_verdict_yet_holds_the_merge() {
        let s = stack(
            2,
            vec![member(40, Verdict::Unknown), member(41, Verdict::This)],
        );
        assert_eq!(
            why(&plan(MergePlan::Merge, &s).0),
            "#40 below in the stack: no verdict from seamguard on its head yet"
        );
    }

    #[test]
    fn a_ready_pull_request_waits_for_its_ready_opted_in_upper_neighbour() {
        let s = stack(1, vec![member(40, Verdict::This), member(41, ready(true))]);
        assert_eq!(
            why(&plan(MergePlan::Merge, &s).0),
            "#41 above in the stack is ready too: its merge takes this one with it"
        );
    }

    #[test]
    fn an_upper_neighbour_not_opted_in_or_not_ready_leaves_the_merge_here() {
        for up in [ready(false), blocked("waiting for `test`")] {
            let s = stack(1, vec![member(40, Verdict::This), member(41, up)]);
            assert_eq!(plan(MergePlan::Merge, &s).0, MergePlan::Merge);
        }
    }

    #[test]
    fn an_upper_neighbour_with_no_verdict_yet_is_waited_for() {
        let s = stack(
            1,
            vec![member(40, Verdict::This), member(41, Verdict::Unknown)],
        );
        assert!(
            why(&plan(MergePlan::Merge, &s).0).starts_with("#41 above in the stack has no verdict")
        );
    }

    #[test]
    fn an_unknown_place_in_the_stack_never_merges() {
        let s = StackFacts {
            position: None,
            members: Vec::new(),
            before: None,
        };
        assert!(matches!(
            plan(MergePlan::Merge, &s).0,
            MergePlan::Waiting { .. }
        ));
    }

    #[test]
    fn plans_that_do_not_act_are_left_alone() {
        let s = stack(2, vec![member(40, blocked("x")), member(41, Verdict::This)]);
        let out = MergePlan::NotOptedIn {
            why: "no label".into(),
        };
        assert_eq!(plan(out.clone(), &s), (out, None));
    }

    #[test]
    fn the_shadow_merge_waits_like_the_merge() {
        let s = stack(2, vec![member(40, blocked("x")), member(41, Verdict::This)]);
        let sha = "a".repeat(40).parse().unwrap();
        assert!(matches!(
            plan(MergePlan::WouldMerge { sha }, &s).0,
            MergePlan::Waiting { .. }
        ));
    }

    #[test]
    fn readiness_names_the_failed_guard() {
        let guards = [GuardOutcome {
            name: "Conflict markers",
            verdict: GuardVerdict::Failed,
            headline: "2 conflict markers in 1 file".into(),
            details: String::new(),
        }];
        let gate = GateReport::default();
        let r = readiness(&OwnFacts {
            conclusion: Conclusion::Failure,
            guards: &guards,
            gate: &gate,
            rule_waiting: None,
            draft: false,
            plan: &MergePlan::Blocked {
                why: "a guard failed".into(),
            },
        });
        assert_eq!(
            r,
            Readiness {
                ready: false,
                opted_in: true,
                why: "2 conflict markers in 1 file".into()
            }
        );
    }

    #[test]
    fn readiness_of_a_clean_pull_request_not_opted_in_is_ready() {
        let gate = GateReport::default();
        let r = readiness(&OwnFacts {
            conclusion: Conclusion::Success,
            guards: &[],
            gate: &gate,
            rule_waiting: None,
            draft: false,
            plan: &MergePlan::NotOptedIn { why: "no".into() },
        });
        assert!(r.ready && !r.opted_in);
    }
}

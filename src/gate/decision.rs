//! The decision: from a snapshot's plain data to the check run's conclusion
//! and what to do about merging. Pure, table-tested.
//!
//! Two verdicts come out, deliberately separate. The check run's conclusion
//! reports the guards only: the gate's waiting never holds the check run
//! open (docs/ARCHITECTURE.md, "The decision's rules"). The merge plan
//! reads the guards, the gate, the pull request and its opt-in.
//!
//! Shadow mode (`mode: shadow`) is applied last, by [`Verdict::under`]: the
//! guards and the gate are decided exactly as in enforce mode, then the
//! posted conclusion becomes `neutral` and a merge becomes "would merge",
//! keeping what enforce mode would have done so the words can say it.

use crate::config::repo::{MergeMethod, Mode, RepoConfig};
use crate::gate::opt_in::{self, HeadFacts, OptIn, OptInSettings};
use crate::gate::required_checks::{GateReport, GateStatus};
use crate::ids::CommitSha;

/// A guard's verdict, as the decision and the summary see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardVerdict {
    Passed,
    Failed,
    /// Turned off in the config, or not applicable (a merge group).
    Skipped,
}

impl GuardVerdict {
    /// The verdict's identifier, for logs: `passed`, `failed`, `skipped`.
    pub fn as_str(&self) -> &'static str {
        match self {
            GuardVerdict::Passed => "passed",
            GuardVerdict::Failed => "failed",
            GuardVerdict::Skipped => "skipped",
        }
    }
}

/// One guard's outcome: its verdict, a one-line headline for the summary
/// table, and its own Markdown section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardOutcome {
    pub name: &'static str,
    pub verdict: GuardVerdict,
    pub headline: String,
    pub details: String,
}

/// The facts about the pull request that the decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrFacts {
    pub open: bool,
    pub merged: bool,
    pub draft: bool,
    pub labels: Vec<String>,
    /// GitHub's `mergeable_state` (`clean`, `behind`, `dirty`, `blocked`...).
    pub mergeable_state: Option<String>,
    /// The merge methods the base repository allows, as GitHub said them
    /// with the pull request (`None`: not said, so not held against it).
    pub allowed: AllowedMethods,
    /// Who stands behind the head: its author, pusher, and who opted it in.
    pub vouch: HeadFacts,
}

/// The repository's `allow_merge_commit`, `allow_squash_merge` and
/// `allow_rebase_merge`; each `None` when the answer left it out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowedMethods {
    pub merge: Option<bool>,
    pub squash: Option<bool>,
    pub rebase: Option<bool>,
}

impl AllowedMethods {
    /// `Some(false)` only when GitHub said the method is off.
    pub fn allows(&self, method: MergeMethod) -> Option<bool> {
        match method {
            MergeMethod::Merge => self.merge,
            MergeMethod::Squash => self.squash,
            MergeMethod::Rebase => self.rebase,
        }
    }

    /// The methods GitHub said are on, in `merge.method`'s spelling.
    fn on(&self) -> Vec<&'static str> {
        [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase]
            .into_iter()
            .filter(|m| self.allows(*m) == Some(true))
            .map(MergeMethod::as_str)
            .collect()
    }
}

/// The check run's conclusion for the guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
        }
    }
}

/// What to do about merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergePlan {
    /// Merge now, with the evaluated head pinned.
    Merge,
    /// The branch must be up to date first: ask GitHub to update it.
    UpdateBranch,
    /// The base requires GitHub's merge queue: enqueue with the head
    /// pinned (never `PUT …/merge`).
    Enqueue,
    /// The pull request did not opt in.
    NotOptedIn { why: String },
    /// Nothing to do: merged or closed.
    Done { why: String },
    /// Will not merge until something changes (a guard, a failed check).
    Blocked { why: String },
    /// Will merge when what it waits on arrives.
    Waiting { why: String },
    /// `merge.max_attempts` pending answers for this head: stop trying.
    GaveUp { attempts: u32 },
    /// A strict base's line: another pull request is updated and merged
    /// first (`text` says where this one stands).
    InLine { text: String },
    /// Shadow mode: enforce mode would merge now, with this head pinned.
    WouldMerge { sha: CommitSha },
    /// Shadow mode: enforce mode would update the branch first.
    WouldUpdateBranch,
    /// Shadow mode: enforce mode would add it to the merge queue.
    WouldEnqueue,
}

impl MergePlan {
    /// The plan's identifier, for logs and labels: `merge`, `waiting`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            MergePlan::Merge => "merge",
            MergePlan::UpdateBranch => "update_branch",
            MergePlan::NotOptedIn { .. } => "not_opted_in",
            MergePlan::Done { .. } => "done",
            MergePlan::Blocked { .. } => "blocked",
            MergePlan::Waiting { .. } => "waiting",
            MergePlan::GaveUp { .. } => "gave_up",
            MergePlan::WouldMerge { .. } => "would_merge",
            MergePlan::WouldUpdateBranch => "would_update_branch",
            MergePlan::Enqueue => "enqueue",
            MergePlan::InLine { .. } => "in_line",
            MergePlan::WouldEnqueue => "would_enqueue",
        }
    }

    /// Why, in words, where the plan carries a reason.
    pub fn reason(&self) -> Option<&str> {
        match self {
            MergePlan::NotOptedIn { why }
            | MergePlan::Done { why }
            | MergePlan::Blocked { why }
            | MergePlan::Waiting { why } => Some(why),
            _ => None,
        }
    }

    /// Does carrying out the plan change something on GitHub (a merge, an
    /// enqueue, an update of the branch)? Such a plan is only made on
    /// requirements read in the same evaluation.
    pub fn acts(&self) -> bool {
        matches!(
            self,
            MergePlan::Merge | MergePlan::UpdateBranch | MergePlan::Enqueue
        )
    }

    /// Is the pull request waiting on something that an event (or the
    /// reconciler) will bring?
    pub fn is_waiting(&self) -> bool {
        matches!(self, MergePlan::Waiting { .. } | MergePlan::InLine { .. })
    }
}

/// The decision for one head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The conclusion the check run is completed with.
    pub conclusion: Conclusion,
    pub plan: MergePlan,
    /// Shadow mode: the conclusion enforce mode would have posted.
    pub shadow_of: Option<Conclusion>,
}

impl Verdict {
    /// The verdict as `mode` acts on it. Enforce: unchanged. Shadow: the
    /// check run is always `neutral` (it never blocks), and a merge or a
    /// branch update becomes its "would" form; every other plan (waiting,
    /// blocked, not opted in) already says what enforce mode would do.
    pub fn under(self, mode: Mode, head: &CommitSha) -> Verdict {
        match mode {
            Mode::Enforce => self,
            Mode::Shadow => Verdict {
                conclusion: Conclusion::Neutral,
                plan: match self.plan {
                    MergePlan::Merge => MergePlan::WouldMerge { sha: head.clone() },
                    MergePlan::UpdateBranch => MergePlan::WouldUpdateBranch,
                    MergePlan::Enqueue => MergePlan::WouldEnqueue,
                    plan => plan,
                },
                shadow_of: Some(self.conclusion),
            },
        }
    }
}

/// The guards' conclusion: any failed guard fails the check run.
pub fn conclusion(guards: &[GuardOutcome]) -> Conclusion {
    if guards.iter().any(|g| g.verdict == GuardVerdict::Failed) {
        Conclusion::Failure
    } else {
        Conclusion::Success
    }
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `source` of an unparsable ruleset rule (`required_checks`).
const RULE_SOURCE: &str = "a ruleset rule";

/// The App permission a source needs that answered 403: protection and
/// rulesets need `administration: read`, the head's deployments
/// `deployments: read`; the pull request's own state `pull_requests: read`.
fn permission_for(source: &str) -> &'static str {
    match source {
        "deployments" => "deployments: read",
        "classic branch protection" | "repository rulesets" | RULE_SOURCE => "administration: read",
        _ => "pull_requests: read",
    }
}

/// Decides the check run's conclusion and the merge plan.
pub fn decide(
    pr: &PrFacts,
    config: &RepoConfig,
    guards: &[GuardOutcome],
    gate: &GateReport,
    merge_attempts: u32,
) -> Verdict {
    let conclusion = conclusion(guards);
    let plan = plan(pr, config, conclusion, gate, merge_attempts);
    Verdict {
        conclusion,
        plan,
        shadow_of: None,
    }
}

fn plan(
    pr: &PrFacts,
    config: &RepoConfig,
    conclusion: Conclusion,
    gate: &GateReport,
    merge_attempts: u32,
) -> MergePlan {
    if pr.merged {
        return MergePlan::Done {
            why: "merged".into(),
        };
    }
    if !pr.open {
        return MergePlan::Done {
            why: "closed".into(),
        };
    }
    let settings = OptInSettings {
        mode: config.merge.mode,
        label: &config.merge.label,
        always_authors: config.merge.always_authors,
    };
    let labelled = pr.labels.iter().any(|l| l == &config.merge.label);
    match opt_in::opt_in(&settings, labelled, &pr.vouch) {
        OptIn::In => {}
        OptIn::Out { why } | OptIn::Stopped { why, .. } => {
            return MergePlan::NotOptedIn { why };
        }
    }
    if pr.draft {
        return MergePlan::Waiting {
            why: "draft pull requests are never merged".into(),
        };
    }
    if conclusion != Conclusion::Success {
        return MergePlan::Blocked {
            why: "a guard failed".into(),
        };
    }
    match gate.status() {
        GateStatus::Failed => {
            let failed: Vec<&str> = gate
                .entries
                .iter()
                .filter(|e| e.state.is_failed())
                .map(|e| e.check.context.as_str())
                .collect();
            return MergePlan::Blocked {
                why: format!("required check failed: {}", list(&failed)),
            };
        }
        GateStatus::Waiting => {
            return MergePlan::Waiting {
                why: format!("waiting for {}", list(&gate.blocking())),
            };
        }
        GateStatus::Open => {}
    }
    if !gate.unreadable.is_empty() {
        // An acting plan never rests on requirements that could not be
        // read: what they would require is unknown, not nothing.
        let what: Vec<String> = gate
            .unreadable
            .iter()
            .map(|u| format!("{} ({})", u.source, u.reason))
            .collect();
        // A 403 is a permission the installation lacks (which one depends
        // on what was read); a rule that does not parse is the ruleset's to
        // fix; anything else may pass, and a recheck reads it again.
        let forbidden = |u: &&crate::gate::required_checks::Unreadable| {
            u.reason.starts_with("HTTP 403") || u.reason.starts_with("FORBIDDEN")
        };
        let mut grant: Vec<&str> = Vec::new();
        for u in gate.unreadable.iter().filter(forbidden) {
            let permission = permission_for(u.source);
            if !grant.contains(&permission) {
                grant.push(permission);
            }
        }
        let grant = grant
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        let bad_rule = gate.unreadable.iter().any(|u| u.source == RULE_SOURCE);
        let fix = match (grant.is_empty(), bad_rule) {
            (false, false) => format!(
                "Grant the App {grant} (accept the permission in the installation's settings) \
                 and comment `@seamguard recheck`"
            ),
            (false, true) => format!(
                "Grant the App {grant} (accept the permission in the installation's settings), \
                 fix the ruleset rule that does not parse, and comment `@seamguard recheck`"
            ),
            (true, true) => "Fix the ruleset rule that does not parse (or tell seamguard's \
                             maintainers if GitHub changed its shape), then comment \
                             `@seamguard recheck`"
                .to_owned(),
            (true, false) => "Comment `@seamguard recheck` to read it again".to_owned(),
        };
        return MergePlan::Blocked {
            why: format!(
                "seamguard could not read {}; it merges nothing it cannot see the rules for. {fix}",
                what.join(" and ")
            ),
        };
    }
    if pr.mergeable_state.as_deref() == Some("dirty") {
        return MergePlan::Blocked {
            why: "the branch conflicts with its base: merge the base into it (or rebase it \
                  onto the base), resolve the conflicts and push; seamguard evaluates the new \
                  head"
                .into(),
        };
    }
    if merge_attempts >= config.merge.max_attempts {
        return MergePlan::GaveUp {
            attempts: merge_attempts,
        };
    }
    if gate.merge_queue.is_some() {
        // GitHub's queue brings the branch up to date and merges it, with
        // the method its rule names.
        return MergePlan::Enqueue;
    }
    if pr.allowed.allows(config.merge.method) == Some(false) {
        // Said before any merge call (or a branch update that could only
        // end in a refused merge), instead of collecting GitHub's refusal.
        let on = pr.allowed.on();
        return MergePlan::Blocked {
            why: if on.is_empty() {
                format!(
                    "the repository does not allow `{}` merges; set `merge.method` to a method \
                     its settings allow",
                    config.merge.method.as_str()
                )
            } else {
                format!(
                    "the repository does not allow `{}` merges (it allows {}); set \
                     `merge.method` to one of them",
                    config.merge.method.as_str(),
                    list(&on)
                )
            },
        };
    }
    if gate.strict && pr.mergeable_state.as_deref() == Some("behind") {
        return if config.merge.update_branch {
            MergePlan::UpdateBranch
        } else {
            MergePlan::Waiting {
                why: "the branch is behind its base and the base requires it to be up to date \
                      (set `merge.update_branch: true` to let seamguard update it)"
                    .into(),
            }
        };
    }
    MergePlan::Merge
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::repo::RepoConfig;
    use crate::gate::opt_in::{Access, Person};
    use crate::gate::required_checks::{CheckState, GateEntry, RequiredCheck};

    fn pr() -> PrFacts {
        PrFacts {
            open: true,
            merged: false,
            draft: false,
            labels: vec!["automerge".into()],
            mergeable_state: Some("clean".into()),
            allowed: AllowedMethods::default(),
            vouch: HeadFacts {
                head: "1111111111111111111111111111111111111111".parse().unwrap(),
                in_base_repository: false,
                author: Person {
                    login: "octocat".into(),
                    access: Access::Write,
                },
                pushed_by: None,
                vouched_by: vec![],
            },
        }
    }

    fn guard(verdict: GuardVerdict) -> GuardOutcome {
        GuardOutcome {
            name: "Conflict markers",
            verdict,
            headline: String::new(),
            details: String::new(),
        }
    }

    fn gate(states: &[(&str, CheckState)]) -> GateReport {
        GateReport {
            entries: states
                .iter()
                .map(|(c, s)| GateEntry {
                    since: None,
                    check: RequiredCheck {
                        context: (*c).into(),
                        app_id: None,
                        sources: vec![],
                    },
                    state: s.clone(),
                })
                .collect(),
            strict: false,
            merge_queue: None,
            evidence: vec![],
            unreadable: vec![],
        }
    }

    fn passed() -> CheckState {
        CheckState::Passed {
            conclusion: "success".into(),
        }
    }

    #[test]
    fn table() {
        let cfg = RepoConfig::default();
        let mut always = RepoConfig::default();
        always.merge.mode = crate::config::repo::MergeMode::Always;
        let mut never = RepoConfig::default();
        never.merge.mode = crate::config::repo::MergeMode::Never;
        let ok = [guard(GuardVerdict::Passed)];
        let bad = [guard(GuardVerdict::Failed)];
        let open_gate = gate(&[("test", passed())]);
        let waiting = gate(&[
            ("lint", passed()),
            ("test", CheckState::Missing { overdue: false }),
        ]);
        let failed = gate(&[(
            "test",
            CheckState::Failed {
                conclusion: "failure".into(),
            },
        )]);
        let unlabeled = PrFacts {
            labels: vec![],
            ..pr()
        };
        let draft = PrFacts {
            draft: true,
            ..pr()
        };
        let merged = PrFacts {
            merged: true,
            open: false,
            ..pr()
        };
        let dirty = PrFacts {
            mergeable_state: Some("dirty".into()),
            ..pr()
        };

        let is = |v: Verdict| v.plan;
        assert_eq!(
            is(decide(&pr(), &cfg, &ok, &open_gate, 0)),
            MergePlan::Merge
        );
        assert!(matches!(
            is(decide(&unlabeled, &cfg, &ok, &open_gate, 0)),
            MergePlan::NotOptedIn { .. }
        ));
        assert_eq!(
            is(decide(&unlabeled, &always, &ok, &open_gate, 0)),
            MergePlan::Merge
        );
        assert!(matches!(
            is(decide(&pr(), &never, &ok, &open_gate, 0)),
            MergePlan::NotOptedIn { .. }
        ));
        assert!(matches!(
            is(decide(&draft, &cfg, &ok, &open_gate, 0)),
            MergePlan::Waiting { .. }
        ));
        assert!(matches!(
            is(decide(&merged, &cfg, &ok, &open_gate, 0)),
            MergePlan::Done { .. }
        ));
        assert!(matches!(
            is(decide(&pr(), &cfg, &bad, &open_gate, 0)),
            MergePlan::Blocked { .. }
        ));
        assert_eq!(
            is(decide(&pr(), &cfg, &ok, &waiting, 0)),
            MergePlan::Waiting {
                why: "waiting for `test`".into()
            }
        );
        assert_eq!(
            is(decide(&pr(), &cfg, &ok, &failed, 0)),
            MergePlan::Blocked {
                why: "required check failed: `test`".into()
            }
        );
        assert!(matches!(
            is(decide(&dirty, &cfg, &ok, &open_gate, 0)),
            MergePlan::Blocked { .. }
        ));
        assert_eq!(
            is(decide(&pr(), &cfg, &ok, &open_gate, 6)),
            MergePlan::GaveUp { attempts: 6 }
        );
        assert_eq!(
            is(decide(&pr(), &cfg, &ok, &open_gate, 5)),
            MergePlan::Merge
        );
    }

    #[test]
    fn a_push_nobody_with_write_access_stands_behind_stops_merging() {
        let ok = [guard(GuardVerdict::Passed)];
        let open_gate = gate(&[("test", passed())]);
        let mut fork = pr();
        fork.vouch.author.access = Access::NoWrite;
        fork.vouch.pushed_by = Some(Person {
            login: "mallory".into(),
            access: Access::NoWrite,
        });
        let plan = decide(&fork, &RepoConfig::default(), &ok, &open_gate, 0).plan;
        let MergePlan::NotOptedIn { why } = plan else {
            panic!("{plan:?}");
        };
        assert!(why.contains("@mallory pushed `1111111`"), "{why}");
        fork.vouch.vouched_by.push(Person {
            login: "maintainer".into(),
            access: Access::Write,
        });
        assert_eq!(
            decide(&fork, &RepoConfig::default(), &ok, &open_gate, 0).plan,
            MergePlan::Merge
        );
    }

    #[test]
    fn requirements_that_could_not_be_read_never_carry_an_acting_plan() {
        let ok = [guard(GuardVerdict::Passed)];
        let mut unreadable = gate(&[("test", passed())]);
        unreadable
            .unreadable
            .push(crate::gate::required_checks::Unreadable {
                source: "classic branch protection",
                reason: "HTTP 403: Resource not accessible by integration".into(),
            });
        let plan = decide(&pr(), &RepoConfig::default(), &ok, &unreadable, 0).plan;
        let MergePlan::Blocked { why } = plan else {
            panic!("{plan:?}");
        };
        assert!(
            why.contains("could not read classic branch protection"),
            "{why}"
        );
        assert!(why.contains("`administration: read`"), "{why}");
    }

    #[test]
    fn what_could_not_be_read_says_which_permission_or_step_clears_it() {
        use crate::gate::required_checks::Unreadable;
        let ok = [guard(GuardVerdict::Passed)];
        let why_with = |unreadable: Vec<Unreadable>| {
            let mut g = gate(&[("test", passed())]);
            g.unreadable = unreadable;
            match decide(&pr(), &RepoConfig::default(), &ok, &g, 0).plan {
                MergePlan::Blocked { why } => why,
                plan => panic!("{plan:?}"),
            }
        };
        let deployments = Unreadable {
            source: "deployments",
            reason: "FORBIDDEN: Resource not accessible by integration".into(),
        };
        let protection = Unreadable {
            source: "classic branch protection",
            reason: "HTTP 403: Resource not accessible by integration".into(),
        };
        let why = why_with(vec![deployments.clone()]);
        assert!(
            why.ends_with(
                "Grant the App `deployments: read` (accept the permission in the installation's \
                 settings) and comment `@seamguard recheck`"
            ),
            "{why}"
        );
        let why = why_with(vec![protection, deployments]);
        assert!(
            why.contains("Grant the App `administration: read` and `deployments: read`"),
            "{why}"
        );
        // A query GitHub refused for another reason: read it again.
        let why = why_with(vec![Unreadable {
            source: "the pull request's reviews",
            reason: "GraphQL: Something went wrong".into(),
        }]);
        assert!(
            why.ends_with("Comment `@seamguard recheck` to read it again"),
            "{why}"
        );
    }

    #[test]
    fn conclusion_reports_guards_only() {
        let waiting = gate(&[("test", CheckState::Missing { overdue: false })]);
        let v = decide(
            &pr(),
            &RepoConfig::default(),
            &[guard(GuardVerdict::Passed)],
            &waiting,
            0,
        );
        assert_eq!(v.conclusion, Conclusion::Success);
        let v = decide(
            &pr(),
            &RepoConfig::default(),
            &[guard(GuardVerdict::Passed), guard(GuardVerdict::Failed)],
            &waiting,
            0,
        );
        assert_eq!(v.conclusion, Conclusion::Failure);
        let v = decide(
            &pr(),
            &RepoConfig::default(),
            &[guard(GuardVerdict::Skipped)],
            &waiting,
            0,
        );
        assert_eq!(v.conclusion, Conclusion::Success);
    }

    #[test]
    fn a_method_the_repository_does_not_allow_is_said_before_any_merge_call() {
        let config = RepoConfig::default(); // squash
        let green = gate(&[("ci", passed())]);
        let squash_off = PrFacts {
            allowed: AllowedMethods {
                merge: Some(true),
                squash: Some(false),
                rebase: Some(true),
            },
            ..pr()
        };
        let plan = decide(
            &squash_off,
            &config,
            &[guard(GuardVerdict::Passed)],
            &green,
            0,
        )
        .plan;
        assert_eq!(
            plan,
            MergePlan::Blocked {
                why: "the repository does not allow `squash` merges (it allows `merge`, \
                      `rebase`); set `merge.method` to one of them"
                    .into()
            }
        );
        // Unknown (the answer left the fields out) is never held against it,
        // and an allowed method merges.
        let unknown = PrFacts {
            allowed: AllowedMethods {
                squash: None,
                ..squash_off.allowed
            },
            ..pr()
        };
        assert_eq!(
            decide(&unknown, &config, &[guard(GuardVerdict::Passed)], &green, 0).plan,
            MergePlan::Merge
        );
        let allowed = PrFacts {
            allowed: AllowedMethods {
                squash: Some(true),
                ..squash_off.allowed
            },
            ..pr()
        };
        assert_eq!(
            decide(&allowed, &config, &[guard(GuardVerdict::Passed)], &green, 0).plan,
            MergePlan::Merge
        );
        // A still-waiting pull request says what it waits on first.
        let waiting = gate(&[("ci", CheckState::Missing { overdue: false })]);
        assert!(matches!(
            decide(
                &squash_off,
                &config,
                &[guard(GuardVerdict::Passed)],
                &waiting,
                0
            )
            .plan,
            MergePlan::Waiting { .. }
        ));
    }

    #[test]
    fn strict_policy_and_a_branch_behind() {
        let mut g = gate(&[("test", passed())]);
        g.strict = true;
        let behind = PrFacts {
            mergeable_state: Some("behind".into()),
            ..pr()
        };
        let mut cfg = RepoConfig::default();
        assert!(matches!(
            decide(&behind, &cfg, &[], &g, 0).plan,
            MergePlan::Waiting { .. }
        ));
        cfg.merge.update_branch = true;
        assert_eq!(
            decide(&behind, &cfg, &[], &g, 0).plan,
            MergePlan::UpdateBranch
        );
    }

    #[test]
    fn a_merge_queue_base_enqueues_instead_of_merging_or_updating() {
        let mut g = gate(&[("test", passed())]);
        g.strict = true;
        g.merge_queue = Some(crate::gate::required_checks::MergeQueueRule {
            ruleset: crate::gate::required_checks::Source::Config,
            merge_method: None,
        });
        let behind = PrFacts {
            mergeable_state: Some("behind".into()),
            ..pr()
        };
        let cfg = RepoConfig::default();
        let ok = [guard(GuardVerdict::Passed)];
        assert_eq!(decide(&behind, &cfg, &ok, &g, 0).plan, MergePlan::Enqueue);
        assert_eq!(decide(&pr(), &cfg, &ok, &g, 0).plan, MergePlan::Enqueue);
        let waiting = GateReport {
            merge_queue: g.merge_queue.clone(),
            ..gate(&[("test", CheckState::Missing { overdue: false })])
        };
        assert!(decide(&pr(), &cfg, &ok, &waiting, 0).plan.is_waiting());
        let head: CommitSha = "b".repeat(40).parse().unwrap();
        assert_eq!(
            decide(&pr(), &cfg, &ok, &g, 0)
                .under(Mode::Shadow, &head)
                .plan,
            MergePlan::WouldEnqueue
        );
    }

    #[test]
    fn shadow_mode_is_neutral_and_never_merges() {
        let head: CommitSha = "a".repeat(40).parse().unwrap();
        let open_gate = gate(&[("test", passed())]);
        let cfg = RepoConfig::default();
        let failed = decide(&pr(), &cfg, &[guard(GuardVerdict::Failed)], &open_gate, 0)
            .under(Mode::Shadow, &head);
        assert_eq!(failed.conclusion, Conclusion::Neutral);
        assert_eq!(failed.shadow_of, Some(Conclusion::Failure));
        assert!(matches!(failed.plan, MergePlan::Blocked { .. }));

        let ready = decide(&pr(), &cfg, &[guard(GuardVerdict::Passed)], &open_gate, 0);
        assert_eq!(ready.clone().under(Mode::Enforce, &head), ready);
        let shadow = ready.under(Mode::Shadow, &head);
        assert_eq!(shadow.conclusion, Conclusion::Neutral);
        assert_eq!(shadow.shadow_of, Some(Conclusion::Success));
        assert_eq!(shadow.plan, MergePlan::WouldMerge { sha: head });
    }
}

//! One evaluation as the rules see it: a [`Snapshot`] of everything a
//! decision needs, and [`decide`], the one pure function from it to a
//! [`Decision`]. Nothing here reads GitHub or the store: the engine gathers
//! the snapshot (`engine::gather`), converts GitHub's answers into these
//! types, and carries the decision out (`engine::act`).
//!
//! A strict base's line is the one step between deciding and acting that
//! needs the store (joining the line is a write that orders replicas): the
//! engine joins or leaves as [`Decision::line_step`] says and hands the line
//! back to [`Decision::placed`], which is pure too.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::repo::{Mode, RepoConfig};
use crate::gate::decision::{self, Conclusion, GuardOutcome, MergePlan, PrFacts, Verdict};
use crate::gate::independent_review::{self, Authorship, Policy};
use crate::gate::never_comes::{self, BaseHistory, CheckEvidence};
use crate::gate::required_checks::{self, CheckState, GateReport, GateStatus, Requirements};
use crate::gate::required_checks::{RunSeen, StatusSeen};
use crate::gate::row_since::{self, PriorRow};
use crate::gate::stack::{self, Hold, Member, Readiness, StackFacts};
use crate::gate::strict_line::{self, LineEntry, Place};
use crate::gate::summary::{self, CHECK_NAME, MergeNote, Rendered};
use crate::gate::whole_gate::{self, PrGateState, Rule, RuleRow, WholeGateRules};
use crate::ids::{CommitSha, PrNumber};

/// Everything one decision about one head of one pull request rests on.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub number: PrNumber,
    pub head: CommitSha,
    /// The base branch's name (`main`).
    pub base: String,
    /// The base branch's tip the guards compared against and the config
    /// was read at.
    pub base_tip: CommitSha,
    pub pr: PrFacts,
    /// The repository's config, read at the base tip the guards ran against.
    pub config: RepoConfig,
    pub guards: Vec<GuardOutcome>,
    /// What the base requires, with where each requirement comes from.
    pub requirements: Requirements,
    /// Every other rule of the base (reviews, conversations, signatures,
    /// deployments, ...), each with its source.
    pub rules: WholeGateRules,
    /// What GitHub knows about the pull request against those rules; `None`
    /// when not read (no rule asks about it).
    pub pr_gate: Option<PrGateState>,
    /// Who wrote the pull request and who asked for it (its author,
    /// assignees and commits' people), read with `pr_gate` only when
    /// `agents.independent_approvals` is on; `None` otherwise.
    pub authorship: Option<Authorship>,
    /// Every check run on the head, seamguard's own included: the decision
    /// replaces its own with the result it is about to write.
    pub runs: Vec<RunSeen>,
    /// The App's id, which tells seamguard's own run from a namesake's.
    pub app_id: u64,
    /// Commit statuses on the head; `None` when not read (only read when a
    /// required context has no check run: see [`Snapshot::needs_statuses`]).
    pub statuses: Option<Vec<StatusSeen>>,
    /// When seamguard first saw this head.
    pub first_seen: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Merge calls already made on this head.
    pub merge_attempts: u32,
    /// The base's recent history of checks, when some required check is
    /// missing on the head (see [`Snapshot::needs_base_history`]).
    pub base_history: Option<BaseHistory>,
    /// The previous evaluation's rows of the whole gate, each with since
    /// when it stood so (empty for the first, or with no rules).
    pub prior_rows: Vec<PriorRow>,
    /// The stack the pull request is in, with the others' verdicts; `None`
    /// for a pull request in no stack.
    pub stack: Option<StackFacts>,
}

/// The stack as the decision saw it: this pull request's own readiness
/// (kept with the evaluation for the others to read), the members, and
/// the one below that holds the merge back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackReport {
    pub own: Readiness,
    pub members: Vec<Member>,
    pub hold: Option<Hold>,
}

/// What seamguard does with one head: the check run's conclusion and words,
/// the plan, and the gate as it stood.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub conclusion: Conclusion,
    /// Shadow mode: the conclusion enforce mode would have posted.
    pub shadow_of: Option<Conclusion>,
    pub plan: MergePlan,
    /// The required checks with their states and since when.
    pub gate: GateReport,
    pub guards: Vec<GuardOutcome>,
    /// The base's other rules and where each stands.
    pub rows: Vec<RuleRow>,
    /// Since when each of `rows` stands as it does, in the same order.
    pub rows_since: Vec<DateTime<Utc>>,
    /// The base is strict and seamguard keeps its line (see
    /// [`in_strict_line`]).
    pub strict_line: bool,
    /// The stack, for a stacked pull request.
    pub stack: Option<StackReport>,
    /// Evaluate again after this long with no event: what the plan waits
    /// for (GitHub computing mergeability) announces itself with none.
    pub recheck: Option<Duration>,
    notes: Vec<String>,
    register_timeout: Duration,
    /// Carries `merge.priority_label`: ahead in the line.
    priority: bool,
    draft: bool,
}

/// What the engine does with the line before acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStep {
    /// The base keeps no line, or this plan does not concern it.
    None,
    /// Ready (or running its checks): take or keep a place.
    Join { priority: bool },
    /// No longer ready: step out, so the next one goes.
    Leave,
}

impl Snapshot {
    /// The check run seamguard is about to write, as the gate reads it (a
    /// repository may require `seamguard` itself).
    fn own_run(&self) -> RunSeen {
        RunSeen {
            id: u64::MAX,
            name: CHECK_NAME.to_owned(),
            app_id: Some(self.app_id),
            status: "completed".to_owned(),
            conclusion: Some(decision::conclusion(&self.all_guards()).as_str().to_owned()),
            started_at: Some(self.now),
            completed_at: Some(self.now),
        }
    }

    /// The independent-review guard's verdict: `None` when it is off
    /// (`agents.independent_approvals: 0`) or its facts were not read.
    pub fn independent_review(&self) -> Option<independent_review::Outcome> {
        let facts = self.authorship.as_ref()?;
        let reviews = self
            .pr_gate
            .as_ref()
            .map(|s| s.reviews.as_slice())
            .unwrap_or_default();
        let last_push_approval = self
            .rules
            .rules
            .iter()
            .any(|r| r.rule == Rule::LastPushApproval);
        independent_review::judge(
            facts,
            reviews,
            self.head.as_str(),
            &Policy {
                required: self.config.agents.independent_approvals,
                accounts: &self.config.agents.accounts,
                last_push_approval,
            },
        )
    }

    /// The guards the gatherer ran, and the independent-review guard when
    /// it is on: its verdict rests on the reviews, so it is judged here.
    pub fn all_guards(&self) -> Vec<GuardOutcome> {
        let mut guards = self.guards.clone();
        if let Some(outcome) = self.independent_review() {
            guards.push(outcome.guard());
        }
        guards
    }

    /// Whether the pull request's authorship is worth reading: only when
    /// the independent-review guard is on.
    pub fn needs_authorship(&self) -> bool {
        self.config.agents.independent_approvals > 0
    }

    /// The runs the gate judges: every other run on the head, and
    /// seamguard's own as this evaluation's guards make it.
    fn runs_judged(&self) -> Vec<RunSeen> {
        let mut runs: Vec<RunSeen> = self
            .runs
            .iter()
            .filter(|r| !(r.name == CHECK_NAME && r.app_id == Some(self.app_id)))
            .cloned()
            .collect();
        runs.push(self.own_run());
        runs
    }

    /// Commit statuses are worth a request only when some required context
    /// that any App may report has no check run on the head.
    pub fn needs_statuses(&self) -> bool {
        self.requirements.checks.iter().any(|c| {
            c.app_id.is_none()
                && c.context != CHECK_NAME
                && !self.runs.iter().any(|r| r.name == c.context)
        })
    }

    /// The required checks where they stand, without the base's evidence.
    pub fn gate(&self) -> GateReport {
        let overdue = self.now - self.first_seen
            > chrono::Duration::from_std(self.config.required_checks.register_timeout)
                .unwrap_or_default();
        required_checks::gate(
            &self.requirements,
            &self.runs_judged(),
            self.statuses.as_deref().unwrap_or_default(),
            overdue,
            Some(self.first_seen),
        )
    }

    /// Does seamguard know whether the branch merges cleanly? Only asked
    /// where the whole gate was read (its query answers `mergeable`): GitHub
    /// answers `UNKNOWN` while it computes, as right after every push.
    pub fn mergeability_known(&self) -> bool {
        let rest = self
            .pr
            .mergeable_state
            .as_deref()
            .is_some_and(|s| s != "unknown");
        match &self.pr_gate {
            Some(state) => rest || state.mergeable != whole_gate::Mergeable::Unknown,
            None => true,
        }
    }

    /// The base's history is worth reading only when a required check has
    /// not reported on the head at all.
    pub fn needs_base_history(&self) -> bool {
        !self.gate().missing().is_empty()
    }
}

/// How long after finding GitHub still computing mergeability (past the
/// gather step's own short re-reads) the pull request is evaluated again.
pub const MERGEABILITY_RECHECK: Duration = Duration::from_secs(5);

/// The lowest conclusion an evaluation of these guards may end with, even
/// when it fails half-way: in shadow mode always `neutral`.
pub fn floor(guards: &[GuardOutcome], mode: Mode) -> Conclusion {
    match mode {
        Mode::Enforce => decision::conclusion(guards),
        Mode::Shadow => Conclusion::Neutral,
    }
}

/// The decision about `snapshot`'s head.
pub fn decide(snapshot: &Snapshot) -> Decision {
    let mut gate = snapshot.gate();
    if let Some(history) = &snapshot.base_history {
        gate.evidence = evidence(&gate, history, &snapshot.base);
    }
    let rows = match &snapshot.pr_gate {
        Some(state) => whole_gate::rows(&snapshot.rules, state),
        None => Vec::new(),
    };
    let rows_since = row_since::since(&rows, &snapshot.prior_rows, snapshot.now);
    let guards = snapshot.all_guards();
    let Verdict {
        conclusion,
        mut plan,
        shadow_of,
    } = decision::decide(
        &snapshot.pr,
        &snapshot.config,
        &guards,
        &gate,
        snapshot.merge_attempts,
    )
    .under(snapshot.config.mode, &snapshot.head);
    // A rule GitHub would refuse the merge for is waited for, never called
    // against: no merge, enqueue or update while one is unmet.
    let rule_waiting = whole_gate::waiting_for(&rows);
    if plan.acts()
        && let Some(why) = &rule_waiting
    {
        plan = MergePlan::Waiting { why: why.clone() };
    }
    // GitHub still computing mergeability (as right after a push) is
    // neither clean nor dirty: wait, and read it again shortly.
    let mut recheck = None;
    if plan.acts() && !snapshot.mergeability_known() {
        plan = MergePlan::Waiting {
            why: "GitHub is still computing whether the branch merges cleanly with its base; \
                  seamguard reads it again in a few seconds"
                .into(),
        };
        recheck = Some(MERGEABILITY_RECHECK);
    }
    // A stacked pull request's merge merges everything below it: it waits
    // for those, and for a ready upper neighbour that merges them all.
    let stack = snapshot.stack.as_ref().map(|facts| {
        let own = stack::readiness(&stack::OwnFacts {
            conclusion: shadow_of.unwrap_or(conclusion),
            guards: &guards,
            gate: &gate,
            rule_waiting: rule_waiting.clone(),
            draft: snapshot.pr.draft,
            plan: &plan,
        });
        let (placed, hold) = stack::plan(plan.clone(), facts);
        plan = placed;
        StackReport {
            own,
            members: facts.members.clone(),
            hold,
        }
    });
    let strict_line = in_strict_line(&gate, &snapshot.config);
    let priority = snapshot
        .config
        .merge
        .priority_label
        .as_ref()
        .is_some_and(|l| snapshot.pr.labels.contains(l));
    Decision {
        conclusion,
        shadow_of,
        plan,
        gate,
        guards,
        rows,
        rows_since,
        strict_line,
        stack,
        recheck,
        notes: snapshot.config.notes.clone(),
        register_timeout: snapshot.config.required_checks.register_timeout,
        priority,
        draft: snapshot.pr.draft,
    }
}

/// What the base's history says about each required check missing on the
/// head.
fn evidence(gate: &GateReport, history: &BaseHistory, base: &str) -> Vec<CheckEvidence> {
    gate.entries
        .iter()
        .filter(|e| matches!(e.state, CheckState::Missing { .. }))
        .filter_map(|e| {
            never_comes::evidence(
                &e.check.context,
                e.check.app_id,
                history,
                gate.merge_queue.is_some(),
            )
            .map(|evidence| CheckEvidence {
                context: e.check.context.clone(),
                app_id: e.check.app_id,
                base: base.to_owned(),
                evidence,
            })
        })
        .collect()
}

/// One at a time on a strict base: branches must be up to date, there is
/// no merge queue (GitHub's queue does this itself), seamguard may update
/// branches (`merge.update_branch`), and it acts (not shadow mode).
pub fn in_strict_line(gate: &GateReport, config: &RepoConfig) -> bool {
    gate.strict
        && gate.merge_queue.is_none()
        && config.merge.update_branch
        && config.mode == Mode::Enforce
}

impl Decision {
    /// The check run's words, with what came of acting when there is
    /// something to say.
    pub fn render(&self, note: Option<&MergeNote>) -> Rendered {
        let out = summary::render(&summary::Report {
            guards: &self.guards,
            gate: &self.gate,
            conclusion: self.conclusion,
            shadow_of: self.shadow_of,
            plan: &self.plan,
            merge: note,
            register_timeout: self.register_timeout,
        });
        let mut out = summary::with_notes(out, &self.notes);
        if !self.rows.is_empty() {
            out.summary.push_str("\n\n**The base's other rules:**\n\n");
            out.summary
                .push_str(&whole_gate::render_rows_since(&self.rows, &self.rows_since));
        }
        out
    }

    /// Whether this pull request takes a place in its base's line, leaves
    /// it, or has nothing to do with one.
    pub fn line_step(&self) -> LineStep {
        if !self.strict_line {
            return LineStep::None;
        }
        let ready = match &self.plan {
            MergePlan::Merge | MergePlan::UpdateBranch => true,
            // Its required checks are running (or not registered yet).
            // Or only waiting for GitHub to compute its mergeability.
            MergePlan::Waiting { .. } => {
                !self.draft && (self.gate.status() == GateStatus::Waiting || self.recheck.is_some())
            }
            _ => false,
        };
        if ready {
            LineStep::Join {
                priority: self.priority,
            }
        } else {
            LineStep::Leave
        }
    }

    /// The plan once pull request `number` has its place in `line` (as the
    /// store holds it after joining): only the first in line keeps a merge
    /// or an update; the others wait, told where they stand. Also answers
    /// the lead to evaluate when it looks stuck.
    pub fn placed(
        mut self,
        line: &[LineEntry],
        number: PrNumber,
        head: &CommitSha,
        base: &str,
        now: DateTime<Utc>,
    ) -> (Decision, Option<PrNumber>) {
        let mut stuck = None;
        self.plan = match strict_line::place(line, number, now) {
            Place::First => {
                let updating = line
                    .iter()
                    .find(|e| e.pr == number)
                    .and_then(|e| e.updating_head.as_deref())
                    == Some(head.as_str());
                match self.plan {
                    MergePlan::UpdateBranch if updating => MergePlan::Waiting {
                        why: format!(
                            "1st in line for `{base}`; the branch is being updated with its base"
                        ),
                    },
                    MergePlan::Waiting { why } => MergePlan::Waiting {
                        why: format!("1st in line for `{base}`; {why}"),
                    },
                    plan => plan,
                }
            }
            Place::Behind {
                place,
                lead,
                lead_updating,
                lead_stale,
            } => {
                if lead_stale {
                    stuck = Some(lead);
                }
                let mut text = strict_line::behind_text(place, base, lead, lead_updating);
                if let MergePlan::Waiting { why } = &self.plan {
                    text.push_str(&format!(" (this one is also {why})"));
                }
                MergePlan::InLine { text }
            }
        };
        (self, stuck)
    }
}

//! Whole evaluations as a table: a snapshot in, a decision out — no
//! runtime, no fake GitHub. Each row starts from a pull request that is
//! ready to merge (opted in by its writer author, guards passed, its one
//! required check green) and changes one or two facts; the row says the
//! conclusion, the plan and a phrase the check run's words must carry.

use chrono::{DateTime, Duration, TimeZone, Utc};
use seamguard::config::repo::RepoConfig;
use seamguard::gate::decision::{
    AllowedMethods, Conclusion, GuardOutcome, GuardVerdict, MergePlan, PrFacts,
};
use seamguard::gate::evaluation::{self, Decision, LineStep, Snapshot};
use seamguard::gate::independent_review::{Authorship, CommitSeen, GitPerson};
use seamguard::gate::never_comes::{BaseHistory, Seen};
use seamguard::gate::opt_in::{Access, HeadFacts, Person};
use seamguard::gate::required_checks::{
    self, ClassicChecks, ProtectedCheck, RulesetRule, RunSeen, Source, StatusSeen, Unreadable,
};
use seamguard::gate::strict_line::LineEntry;
use seamguard::gate::whole_gate::{
    AskedRule, PrGateState, ReviewDecision, ReviewSeen, Rule, WholeGateRules,
};
use seamguard::ids::PrNumber;

const APP: u64 = 77;
const HEAD: &str = "1111111111111111111111111111111111111111";
const BASE_TIP: &str = "2222222222222222222222222222222222222222";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

fn writer(login: &str) -> Person {
    Person {
        login: login.into(),
        access: Access::Write,
    }
}

fn guard(name: &'static str, verdict: GuardVerdict) -> GuardOutcome {
    GuardOutcome {
        name,
        headline: format!("{name}: {}", verdict.as_str()),
        verdict,
        details: String::new(),
    }
}

fn run(name: &str, app: u64, status: &str, conclusion: Option<&str>) -> RunSeen {
    RunSeen {
        id: 1,
        name: name.into(),
        app_id: Some(app),
        status: status.into(),
        conclusion: conclusion.map(str::to_owned),
        started_at: Some(t0()),
        completed_at: conclusion.map(|_| t0() + Duration::seconds(30)),
    }
}

fn protection(strict: bool, contexts: &[&str]) -> ClassicChecks {
    ClassicChecks {
        strict,
        checks: contexts
            .iter()
            .map(|c| ProtectedCheck {
                context: (*c).into(),
                app_id: None,
            })
            .collect(),
    }
}

fn config(yaml: &str) -> RepoConfig {
    RepoConfig::parse(yaml).expect("a valid config")
}

/// A pull request ready to merge: `ci` is required by classic protection
/// and passed; both guards passed; its writer author labelled it.
fn ready() -> Snapshot {
    Snapshot {
        number: PrNumber(7),
        head: HEAD.parse().unwrap(),
        base: "main".into(),
        base_tip: BASE_TIP.parse().unwrap(),
        pr: PrFacts {
            open: true,
            merged: false,
            draft: false,
            labels: vec!["automerge".into()],
            mergeable_state: Some("clean".into()),
            allowed: AllowedMethods::default(),
            vouch: HeadFacts {
                head: HEAD.parse().unwrap(),
                in_base_repository: true,
                author: writer("octocat"),
                pushed_by: Some(writer("octocat")),
                vouched_by: vec![writer("octocat")],
            },
        },
        config: config("merge:\n  mode: label\n  label: automerge\n"),
        guards: vec![
            guard("Conflict markers", GuardVerdict::Passed),
            guard("Merge sources", GuardVerdict::Passed),
        ],
        requirements: required_checks::requirements(Some(&protection(false, &["ci"])), &[], &[]),
        rules: WholeGateRules::default(),
        pr_gate: None,
        authorship: None,
        runs: vec![run("ci", 1, "completed", Some("success"))],
        app_id: APP,
        statuses: None,
        first_seen: t0(),
        now: t0() + Duration::minutes(2),
        merge_attempts: 0,
        base_history: None,
        prior_rows: Vec::new(),
        stack: None,
    }
}

struct Row {
    name: &'static str,
    change: fn(&mut Snapshot),
    conclusion: Conclusion,
    plan: &'static str,
    /// A phrase the plan's reason or the check run's words carry.
    says: &'static str,
}

fn words(d: &Decision) -> String {
    let r = d.render(None);
    format!(
        "{} {} {} {}",
        d.plan.reason().unwrap_or(""),
        r.title,
        r.summary,
        r.text.unwrap_or_default()
    )
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "ready: merge with the head pinned",
            change: |_| {},
            conclusion: Conclusion::Success,
            plan: "merge",
            says: "ci",
        },
        Row {
            name: "a guard failed: failure, no merge",
            change: |s| s.guards[0] = guard("Conflict markers", GuardVerdict::Failed),
            conclusion: Conclusion::Failure,
            plan: "blocked",
            says: "a guard failed",
        },
        Row {
            name: "the required check is running: wait for it",
            change: |s| s.runs = vec![run("ci", 1, "in_progress", None)],
            conclusion: Conclusion::Success,
            plan: "waiting",
            says: "waiting for `ci`",
        },
        Row {
            name: "the required check failed: blocked, naming it",
            change: |s| s.runs = vec![run("ci", 1, "completed", Some("failure"))],
            conclusion: Conclusion::Success,
            plan: "blocked",
            says: "required check failed: `ci`",
        },
        Row {
            name: "a required check never registered: waited for",
            change: |s| s.runs.clear(),
            conclusion: Conclusion::Success,
            plan: "waiting",
            says: "`ci`",
        },
        Row {
            name: "a commit status satisfies a context no check run reports",
            change: |s| {
                s.runs.clear();
                s.statuses = Some(vec![StatusSeen {
                    context: "ci".into(),
                    state: "success".into(),
                    updated_at: Some(t0()),
                }]);
            },
            conclusion: Conclusion::Success,
            plan: "merge",
            says: "ci",
        },
        Row {
            name: "another App's run named `seamguard` is not seamguard's",
            change: |s| {
                s.requirements = required_checks::requirements(
                    Some(&ClassicChecks {
                        strict: false,
                        checks: vec![ProtectedCheck {
                            context: "seamguard".into(),
                            app_id: Some(APP),
                        }],
                    }),
                    &[],
                    &[],
                );
                s.runs = vec![run("seamguard", 9, "completed", Some("failure"))];
            },
            conclusion: Conclusion::Success,
            plan: "merge",
            says: "seamguard",
        },
        Row {
            name: "not labelled: not opted in",
            change: |s| s.pr.labels.clear(),
            conclusion: Conclusion::Success,
            plan: "not_opted_in",
            says: "automerge",
        },
        Row {
            name: "a push by someone without write access after the label stops merging",
            change: |s| {
                s.pr.vouch.in_base_repository = false;
                s.pr.vouch.pushed_by = Some(Person {
                    login: "mallory".into(),
                    access: Access::NoWrite,
                });
                s.pr.vouch.vouched_by.clear();
            },
            conclusion: Conclusion::Success,
            plan: "not_opted_in",
            says: "mallory",
        },
        Row {
            name: "a draft waits",
            change: |s| s.pr.draft = true,
            conclusion: Conclusion::Success,
            plan: "waiting",
            says: "draft",
        },
        Row {
            name: "conflicts with the base: blocked",
            change: |s| s.pr.mergeable_state = Some("dirty".into()),
            conclusion: Conclusion::Success,
            plan: "blocked",
            says: "conflict",
        },
        Row {
            name: "protection could not be read: nothing acts on it",
            change: |s| {
                s.requirements.unreadable.push(Unreadable {
                    source: "classic branch protection",
                    reason: "HTTP 403: Resource not accessible by integration".into(),
                })
            },
            conclusion: Conclusion::Success,
            plan: "blocked",
            says: "administration: read",
        },
        Row {
            name: "strict base, branch behind: update it first",
            change: |s| {
                s.requirements =
                    required_checks::requirements(Some(&protection(true, &["ci"])), &[], &[]);
                s.pr.mergeable_state = Some("behind".into());
                s.config = config("merge:\n  mode: label\n  update_branch: true\n");
            },
            conclusion: Conclusion::Success,
            plan: "update_branch",
            says: "up to date",
        },
        Row {
            name: "the base requires GitHub's merge queue: enqueue, never merge",
            change: |s| {
                s.requirements = required_checks::requirements(
                    Some(&protection(false, &["ci"])),
                    &[RulesetRule::MergeQueue {
                        ruleset: Source::Ruleset {
                            id: Some(3),
                            source: None,
                        },
                        merge_method: Some("SQUASH".into()),
                    }],
                    &[],
                );
            },
            conclusion: Conclusion::Success,
            plan: "enqueue",
            says: "queue",
        },
        Row {
            name: "merge attempts spent: give up",
            change: |s| s.merge_attempts = s.config.merge.max_attempts,
            conclusion: Conclusion::Success,
            plan: "gave_up",
            says: "attempt",
        },
        Row {
            name: "shadow mode: neutral, and only says it would merge",
            change: |s| s.config = config("mode: shadow\nmerge:\n  mode: label\n"),
            conclusion: Conclusion::Neutral,
            plan: "would_merge",
            says: "1111111",
        },
        Row {
            name: "shadow mode keeps a guard's failure as what enforce would post",
            change: |s| {
                s.config = config("mode: shadow\n");
                s.guards[1] = guard("Merge sources", GuardVerdict::Failed);
            },
            conclusion: Conclusion::Neutral,
            plan: "blocked",
            says: "shadow",
        },
        Row {
            name: "agent-written, approved only by its co-author: the guard fails, no merge",
            change: |s| agent_written(s, "alice"),
            conclusion: Conclusion::Failure,
            plan: "blocked",
            says: "@alice approved, but is co-author of 1 commit with claude[bot]",
        },
        Row {
            name: "agent-written, approved by someone else: merge",
            change: |s| agent_written(s, "bob"),
            conclusion: Conclusion::Success,
            plan: "merge",
            says: "1 independent approval: @bob",
        },
        Row {
            name: "merged already: done",
            change: |s| {
                s.pr.merged = true;
                s.pr.open = false;
            },
            conclusion: Conclusion::Success,
            plan: "done",
            says: "merged",
        },
    ]
}

/// `agents.independent_approvals: 1`, a commit by `claude[bot]` naming
/// alice as co-author, and `approver`'s approval of the head.
fn agent_written(s: &mut Snapshot, approver: &str) {
    s.config = config("merge:\n  label: automerge\nagents:\n  independent_approvals: 1\n");
    let bot = GitPerson {
        name: Some("claude[bot]".into()),
        email: Some("209825114+claude[bot]@users.noreply.github.com".into()),
        login: None,
    };
    s.authorship = Some(Authorship {
        author: Some("octocat".into()),
        assignees: Vec::new(),
        commits: vec![CommitSeen {
            short: "1111111".into(),
            author: Some(bot.clone()),
            committer: Some(bot),
            message: "Work\n\nCo-authored-by: alice <9+alice@users.noreply.github.com>".into(),
        }],
        complete: true,
    });
    s.pr_gate = Some(PrGateState {
        reviews: vec![ReviewSeen {
            login: approver.into(),
            approved: true,
            commit: Some(HEAD.into()),
        }],
        ..PrGateState::default()
    });
}

#[test]
fn whole_evaluations() {
    let mut failures = Vec::new();
    for row in rows() {
        let mut snapshot = ready();
        (row.change)(&mut snapshot);
        let d = evaluation::decide(&snapshot);
        let said = words(&d);
        if d.conclusion != row.conclusion
            || d.plan.as_str() != row.plan
            || !said.to_lowercase().contains(&row.says.to_lowercase())
        {
            failures.push(format!(
                "{}: got {} / {} — {:?}\n  words: {}",
                row.name,
                d.conclusion.as_str(),
                d.plan.as_str(),
                d.plan.reason(),
                said.chars().take(400).collect::<String>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn statuses_and_base_history_are_asked_for_only_when_a_context_has_no_run() {
    let mut s = ready();
    assert!(!s.needs_statuses());
    assert!(!s.needs_base_history());
    s.runs.clear();
    assert!(s.needs_statuses(), "`ci` has no run: a status may carry it");
    assert!(s.needs_base_history(), "`ci` never reported on the head");
    // seamguard's own required check is this evaluation's result: never a
    // reason to read statuses.
    s.requirements =
        required_checks::requirements(Some(&protection(false, &["seamguard"])), &[], &[]);
    assert!(!s.needs_statuses());
}

#[test]
fn the_base_history_is_evidence_in_the_decision() {
    let mut s = ready();
    s.runs.clear();
    // `ci` reported on none of the base's last commits.
    s.base_history = Some(BaseHistory {
        commits: vec![
            vec![Seen {
                context: "lint".into(),
                app_id: Some(1),
            }];
            20
        ],
    });
    let d = evaluation::decide(&s);
    assert_eq!(d.gate.evidence.len(), 1);
    assert_eq!(d.gate.evidence[0].context, "ci");
    assert_eq!(d.gate.evidence[0].base, "main");
}

#[test]
fn an_overdue_check_is_said_to_be_overdue() {
    let mut s = ready();
    s.runs.clear();
    s.now = s.first_seen + Duration::hours(2);
    let d = evaluation::decide(&s);
    assert!(matches!(
        d.gate.entries[0].state,
        required_checks::CheckState::Missing { overdue: true }
    ));
}

fn entry(pr: u64, minutes: i64) -> LineEntry {
    LineEntry {
        pr: PrNumber(pr),
        priority: false,
        entered_at: t0() + Duration::minutes(minutes),
        updating_head: None,
        updated_at: t0() + Duration::minutes(minutes),
    }
}

fn strict_behind() -> Snapshot {
    let mut s = ready();
    s.requirements = required_checks::requirements(Some(&protection(true, &["ci"])), &[], &[]);
    s.pr.mergeable_state = Some("behind".into());
    s.config = config("merge:\n  mode: label\n  update_branch: true\n");
    s
}

#[test]
fn a_strict_base_keeps_a_line_and_only_its_first_acts() {
    let s = strict_behind();
    let d = evaluation::decide(&s);
    assert_eq!(d.line_step(), LineStep::Join { priority: false });

    // Second in line: waits behind #3, told so.
    let line = [entry(3, 0), entry(7, 1)];
    let (placed, stuck) = d
        .clone()
        .placed(&line, PrNumber(7), &s.head, &s.base, s.now);
    assert!(stuck.is_none());
    assert_eq!(placed.plan.as_str(), "in_line");
    assert!(words(&placed).contains("#3"), "{}", words(&placed));

    // First: updates its branch.
    let line = [entry(7, 0), entry(3, 1)];
    let (placed, _) = d
        .clone()
        .placed(&line, PrNumber(7), &s.head, &s.base, s.now);
    assert_eq!(placed.plan, MergePlan::UpdateBranch);

    // First, and its update is under way: waits for it rather than asking
    // again.
    let mut updating = entry(7, 0);
    updating.updating_head = Some(HEAD.into());
    let (placed, _) = d.placed(&[updating], PrNumber(7), &s.head, &s.base, s.now);
    assert_eq!(placed.plan.as_str(), "waiting");
    assert!(words(&placed).contains("being updated"));
}

#[test]
fn a_stuck_lead_is_named_for_evaluation() {
    let s = strict_behind();
    let d = evaluation::decide(&s);
    let line = [entry(3, -60), entry(7, 0)];
    let (_, stuck) = d.placed(&line, PrNumber(7), &s.head, &s.base, s.now);
    assert_eq!(stuck, Some(PrNumber(3)));
}

#[test]
fn a_pull_request_no_longer_ready_leaves_the_line() {
    let mut s = strict_behind();
    s.guards[0] = guard("Conflict markers", GuardVerdict::Failed);
    assert_eq!(evaluation::decide(&s).line_step(), LineStep::Leave);
    // Shadow mode keeps no line.
    let mut s = strict_behind();
    s.config = config("mode: shadow\nmerge:\n  update_branch: true\n");
    assert_eq!(evaluation::decide(&s).line_step(), LineStep::None);
}

/// A rule beyond the checks that is unmet holds an acting plan back, and
/// the words name it; GitHub's own review verdict clears it.
#[test]
fn an_unmet_review_rule_waits_instead_of_merging() {
    let mut s = ready();
    s.rules = WholeGateRules {
        rules: vec![AskedRule {
            rule: Rule::ApprovingReviews { count: 1 },
            source: Source::Ruleset {
                id: Some(7),
                source: None,
            },
        }],
    };
    s.pr_gate = Some(PrGateState {
        review_decision: Some(ReviewDecision::ReviewRequired),
        ..PrGateState::default()
    });
    let d = evaluation::decide(&s);
    assert_eq!(d.plan.as_str(), "waiting", "{:?}", d.plan);
    assert!(words(&d).contains("1 approving review"), "{}", words(&d));
    assert!(words(&d).contains("ruleset 7"), "{}", words(&d));

    s.pr_gate = Some(PrGateState {
        review_decision: Some(ReviewDecision::Approved),
        ..PrGateState::default()
    });
    assert_eq!(evaluation::decide(&s).plan, MergePlan::Merge);
}

/// An unmet rule says since when it stands so: the previous evaluation's
/// time while it stays the same, the evaluation's own once it changes.
#[test]
fn an_unmet_rule_says_since_when_it_waits() {
    use seamguard::gate::row_since::PriorRow;
    let mut s = ready();
    s.rules = WholeGateRules {
        rules: vec![AskedRule {
            rule: Rule::ConversationResolution,
            source: Source::Protection,
        }],
    };
    s.pr_gate = Some(PrGateState {
        unresolved_threads: Some(2),
        ..PrGateState::default()
    });
    // The first evaluation: since now.
    let first = evaluation::decide(&s);
    assert_eq!(first.rows_since, vec![s.now]);
    let summary = first.render(None).summary;
    assert!(
        summary.contains("unresolved") && summary.contains("since 2026-"),
        "{summary}"
    );

    // Ten minutes later, nothing changed: the time is kept.
    let earlier = s.now;
    s.prior_rows = first
        .rows
        .iter()
        .zip(&first.rows_since)
        .map(|(row, since)| PriorRow {
            key: row.key(),
            since: *since,
        })
        .collect();
    s.now = earlier + Duration::minutes(10);
    let again = evaluation::decide(&s);
    assert_eq!(again.rows_since, vec![earlier]);
    let line = earlier.format("%Y-%m-%d %H:%M").to_string();
    assert!(again.render(None).summary.contains(&line));

    // One conversation resolved: a new state, since this evaluation.
    s.pr_gate = Some(PrGateState {
        unresolved_threads: Some(1),
        ..PrGateState::default()
    });
    assert_eq!(evaluation::decide(&s).rows_since, vec![s.now]);
}

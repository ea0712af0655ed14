//! The words people read: the `seamguard` check run's title, summary and
//! text. Kept in one module and snapshot-tested, so a change of wording is
//! a visible diff.
//!
//! The summary is a short Markdown table — each guard and its verdict —
//! then the merge gate (which required checks were read, from where, and
//! their states) and the merge line. Each guard's own details go to the
//! text. GitHub caps each at 65,535 characters; [`MAX_TEXT`] keeps well
//! under it and cuts on a line boundary.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::gate::decision::{Conclusion, GuardOutcome, GuardVerdict, MergePlan};
use crate::gate::merge_answer::clean_message;
use crate::gate::merge_queue;
use crate::gate::never_comes;
use crate::gate::required_checks::{CheckState, GateReport};

/// GitHub rejects check run summaries and texts over 65,535 characters;
/// the margin leaves room for the truncation note.
pub const MAX_TEXT: usize = 60_000;

/// The check run's name: one per head SHA.
pub const CHECK_NAME: &str = "seamguard";

/// What a check run shows, in the rules' own words: its title, its
/// Markdown summary and details. The engine writes it (with the
/// annotations) as GitHub's check-run output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
}

/// Everything the summary shows.
pub struct Report<'a> {
    pub guards: &'a [GuardOutcome],
    pub gate: &'a GateReport,
    pub conclusion: Conclusion,
    /// Shadow mode: what enforce mode would have concluded (the check run
    /// itself is `neutral`).
    pub shadow_of: Option<Conclusion>,
    pub plan: &'a MergePlan,
    /// What happened on the merge call (or the branch update), when one
    /// was made: it replaces the plan's merge line and title.
    pub merge: Option<&'a MergeNote>,
    pub register_timeout: Duration,
}

/// What the merge call (or the branch update) answered, for the check run.
/// GitHub's message is kept raw here and quoted once, cleaned, when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeNote {
    /// Attempt `attempt` of `max` answered `answer`; another follows after
    /// `wait`.
    Retrying {
        attempt: u32,
        max: u32,
        answer: String,
        wait: Duration,
    },
    /// GitHub refused the merge; the next change to the pull request tries
    /// again.
    Refused { answer: String },
    /// `attempts` calls on this head; the last answered `answer` (unknown
    /// when the attempts were spent before this evaluation).
    GaveUp {
        attempts: u32,
        answer: Option<String>,
    },
    /// Asking GitHub to update the branch failed.
    UpdateFailed { answer: String },
    /// In the merge queue of `base` (GitHub's position and state).
    Queued {
        base: String,
        position: Option<u32>,
        state: String,
    },
    /// seamguard enqueued this head and GitHub took it out again, for
    /// GitHub's `reason`.
    Dequeued {
        base: String,
        reason: Option<String>,
    },
    /// GitHub refused to enqueue.
    EnqueueRefused { answer: String },
    /// Neither `update-branch` nor merging the base into the head branch
    /// is possible (`why`); the pull request left its base's line.
    CannotUpdate { why: String },
    /// GitHub holds an asynchronous merge request for this head and has
    /// not finished it: its uuid and state, since when seamguard knows it,
    /// when it was last read, what differs from the request seamguard
    /// would have sent (a request adopted on 409), and the wait before the
    /// next read. `queue`: the request adds the pull request to this
    /// base's merge queue (`merge_action: merge_queue`) instead of merging.
    InFlight {
        uuid: String,
        state: String,
        since: DateTime<Utc>,
        read_at: DateTime<Utc>,
        differs: Option<String>,
        wait: Duration,
        queue: Option<String>,
    },
}

/// `1 file`, `2 files`: a count and its noun, singular or plural.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// GitHub's words, cleaned and quoted once.
fn quoted(answer: &str) -> String {
    format!("“{}”", clean_message(answer))
}

/// What the check run's title says in shadow mode, before what enforce mode
/// would have concluded.
const SHADOW_PREFIX: &str = "Shadow mode";

fn icon(verdict: &GuardVerdict) -> &'static str {
    match verdict {
        GuardVerdict::Passed => "✅ pass",
        GuardVerdict::Failed => "❌ fail",
        GuardVerdict::Skipped => "⏭️ skipped",
    }
}

fn state_text(state: &CheckState, register_timeout: Duration) -> String {
    match state {
        CheckState::Passed { conclusion } => format!("✅ {conclusion}"),
        CheckState::Failed { conclusion } => format!("❌ {conclusion}"),
        CheckState::Pending { status } => format!("⏳ {}", status.replace('_', " ")),
        CheckState::Missing { overdue: false } => "⏳ not registered yet".to_owned(),
        CheckState::Missing { overdue: true } => format!(
            "⚠️ never registered (waited {}); is the workflow that provides it running?",
            humantime::format_duration(register_timeout)
        ),
    }
}

/// Escapes a value for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn note_text(note: &MergeNote) -> String {
    match note {
        MergeNote::Retrying {
            attempt,
            max,
            answer,
            wait,
        } => format!(
            "⏳ merge attempt {attempt} of {max} answered {}; trying again in about {}",
            quoted(answer),
            plural(wait.as_secs().max(1) as usize, "second")
        ),
        MergeNote::Refused { answer } => format!(
            "⛔ GitHub refused the merge: {}; seamguard will try again on the next change to this \
             pull request",
            quoted(answer)
        ),
        MergeNote::GaveUp { attempts, answer } => format!(
            "🛑 stopped after {} on this head{}; seamguard stopped trying, push a new commit to \
             try again",
            plural(*attempts as usize, "merge attempt"),
            answer
                .as_deref()
                .map(|a| format!(" (the last answered {})", quoted(a)))
                .unwrap_or_default()
        ),
        MergeNote::UpdateFailed { answer } => {
            format!("⛔ updating the branch failed: {}", quoted(answer))
        }
        MergeNote::Queued {
            base,
            position,
            state,
        } => {
            let at = position
                .map(|p| format!(" at position {p}"))
                .unwrap_or_default();
            let state = if state.is_empty() {
                String::new()
            } else {
                format!(", `{state}`")
            };
            format!(
                "🚂 queued in `{base}`'s merge queue{at}{state}, with the head SHA pinned; \
                 GitHub's queue merges it"
            )
        }
        MergeNote::Dequeued { base, reason } => match reason.as_deref() {
            Some("MERGE") => format!("✅ merged by `{base}`'s merge queue"),
            Some(code) => format!(
                "⛔ GitHub removed it from `{base}`'s merge queue: {} (`{code}`); seamguard \
                 enqueues again when a new commit is pushed",
                merge_queue::reason_text(code)
            ),
            None => format!(
                "⛔ it is no longer in `{base}`'s merge queue (GitHub did not say why); \
                 seamguard enqueues again when a new commit is pushed"
            ),
        },
        MergeNote::CannotUpdate { why } => format!(
            "⛔ the branch is behind its base and seamguard cannot update it: {why}; update it \
             (or allow edits by maintainers), and it takes its place in line again"
        ),
        MergeNote::EnqueueRefused { answer } => format!(
            "⛔ GitHub refused to add it to the merge queue: {}; seamguard will try again on the \
             next change to this pull request",
            quoted(answer)
        ),
        MergeNote::InFlight {
            uuid,
            state,
            since,
            read_at,
            differs,
            wait,
            queue,
        } => {
            let time = |t: &DateTime<Utc>| t.format("%H:%M:%S UTC").to_string();
            let differs = differs
                .as_deref()
                .map(|d| format!(" ⚠️ {}", cell(d)))
                .unwrap_or_default();
            let doing = match queue {
                Some(base) => format!("adding it to `{base}`'s merge queue"),
                None => "merging it".to_owned(),
            };
            format!(
                "⏳ GitHub is {doing} with the head SHA pinned: merge request `{uuid}` is \
                 `{state}` (requested {}, last read {}); seamguard reads it again in about {}{differs}",
                time(since),
                time(read_at),
                plural(wait.as_secs().max(1) as usize, "second")
            )
        }
    }
}

fn plan_text(plan: &MergePlan) -> String {
    match plan {
        MergePlan::Merge => "🚀 ready: merging with the head SHA pinned".to_owned(),
        MergePlan::UpdateBranch => "🔄 updating the branch with its base first".to_owned(),
        MergePlan::Enqueue => {
            "🚂 ready: adding it to the merge queue with the head SHA pinned".to_owned()
        }
        MergePlan::NotOptedIn { why } => format!("not merging: {why}"),
        MergePlan::Done { why } => format!("nothing to do: {why}"),
        MergePlan::Blocked { why } => format!("⛔ blocked: {why}"),
        MergePlan::Waiting { why } => format!("⏳ {why}"),
        MergePlan::InLine { text } => format!("⏳ {text}"),
        MergePlan::GaveUp { attempts } => format!(
            "🛑 stopped after {} on this head. seamguard stopped trying; push a new commit to \
             try again",
            plural(*attempts as usize, "merge attempt")
        ),
        MergePlan::WouldMerge { sha } => format!(
            "👻 shadow mode: would merge now, with `{sha}` pinned (shadow mode never merges)"
        ),
        MergePlan::WouldUpdateBranch => {
            "👻 shadow mode: would update the branch with its base first".to_owned()
        }
        MergePlan::WouldEnqueue => {
            "👻 shadow mode: would add it to the merge queue (shadow mode never merges)".to_owned()
        }
    }
}

/// The merge line: what the merge call answered when one was made, else
/// the plan (the check run's `**Merge:**` line, and the page's reason).
pub fn merge_line(plan: &MergePlan, note: Option<&MergeNote>) -> String {
    match note {
        Some(note) => note_text(note),
        None => plan_text(plan),
    }
}

fn title(report: &Report<'_>) -> String {
    let failed: Vec<&str> = report
        .guards
        .iter()
        .filter(|g| g.verdict == GuardVerdict::Failed)
        .map(|g| g.headline.as_str())
        .collect();
    let shadow = report.shadow_of.is_some();
    if !failed.is_empty() {
        return if shadow {
            format!("{SHADOW_PREFIX} · would fail: {}", failed.join("; "))
        } else {
            failed.join("; ")
        };
    }
    let merge = match (report.merge, report.plan) {
        (Some(MergeNote::Retrying { .. }), _) => "merge pending, retrying",
        (Some(MergeNote::Refused { .. }), _) => "merge refused",
        (Some(MergeNote::GaveUp { .. }), _) => "merge attempts exhausted",
        (Some(MergeNote::UpdateFailed { .. }), _) => "branch update failed",
        (Some(MergeNote::Queued { .. }), _) => "in the merge queue",
        (Some(MergeNote::Dequeued { reason, .. }), _) if reason.as_deref() == Some("MERGE") => {
            "merged by the merge queue"
        }
        (Some(MergeNote::Dequeued { .. }), _) => "removed from the merge queue",
        (Some(MergeNote::EnqueueRefused { .. }), _) => "merge queue refused",
        (Some(MergeNote::CannotUpdate { .. }), _) => "cannot update the branch",
        (Some(MergeNote::InFlight { queue: Some(_), .. }), _) => "joining the merge queue",
        (Some(MergeNote::InFlight { .. }), _) => "merge in progress",
        (None, plan) => plan_title(plan),
    };
    let pass = if shadow {
        format!("{SHADOW_PREFIX} · would pass")
    } else {
        "All guards pass".to_owned()
    };
    if merge.is_empty() {
        pass
    } else {
        format!("{pass} · {merge}")
    }
}

fn plan_title(plan: &MergePlan) -> &'static str {
    match plan {
        MergePlan::Merge => "merging",
        MergePlan::UpdateBranch => "updating branch",
        MergePlan::Enqueue => "enqueuing",
        MergePlan::WouldEnqueue => "would enqueue",
        MergePlan::WouldMerge { .. } => "would merge now",
        MergePlan::WouldUpdateBranch => "would update branch",
        MergePlan::Waiting { .. } => "waiting for the merge gate",
        MergePlan::InLine { .. } => "waiting in line",
        MergePlan::Blocked { .. } => "merge blocked",
        MergePlan::GaveUp { .. } => "merge attempts exhausted",
        MergePlan::NotOptedIn { .. } | MergePlan::Done { .. } => "",
    }
}

/// Cuts `text` to at most [`MAX_TEXT`] bytes on a line boundary.
pub fn clip(mut text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut cut = MAX_TEXT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if let Some(nl) = text[..cut].rfind('\n') {
        cut = nl;
    }
    text.truncate(cut);
    text.push_str("\n\n… (cut to fit GitHub's limit)\n");
    text
}

/// The check run output for an evaluation (annotations are added by the
/// caller, in batches).
pub fn render(report: &Report<'_>) -> Rendered {
    let mut s = String::new();
    s.push_str("| guard | verdict | |\n|---|---|---|\n");
    for g in report.guards {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            g.name,
            icon(&g.verdict),
            cell(&g.headline)
        ));
    }
    s.push('\n');
    let gate = report.gate;
    if gate.entries.is_empty() {
        s.push_str("**Merge gate:** no required checks on the base branch");
    } else {
        let passed = gate.entries.iter().filter(|e| e.state.is_passed()).count();
        s.push_str(&format!(
            "**Merge gate:** {passed} of {} passed",
            plural(gate.entries.len(), "required check")
        ));
    }
    if gate.strict {
        s.push_str(" · the branch must be up to date");
    }
    if gate.merge_queue.is_some() {
        s.push_str(" · merges go through GitHub's merge queue");
    }
    s.push('\n');
    if !gate.entries.is_empty() {
        s.push_str("\n| required check | from | state |\n|---|---|---|\n");
        for e in &gate.entries {
            let from: Vec<String> = e.check.sources.iter().map(|s| s.to_string()).collect();
            let mut name = format!("`{}`", cell(&e.check.context));
            if let Some(app) = e.check.app_id {
                name.push_str(&format!(" (app {app})"));
            }
            let mut state = state_text(&e.state, report.register_timeout);
            let seen = gate
                .evidence
                .iter()
                .find(|v| v.context == e.check.context && v.app_id == e.check.app_id);
            if let (CheckState::Missing { overdue }, Some(v)) = (&e.state, seen) {
                let observed = never_comes::observed(&v.evidence, &v.base);
                state = if *overdue {
                    format!(
                        "⚠️ never registered (waited {}); {observed}; {}",
                        humantime::format_duration(report.register_timeout),
                        never_comes::likely_fix(&v.evidence)
                    )
                } else {
                    format!("⏳ not registered yet; {observed}")
                };
            }
            s.push_str(&format!(
                "| {name} | {} | {} |\n",
                cell(&from.join(", ")),
                cell(&state)
            ));
        }
    }
    for u in &gate.unreadable {
        s.push_str(&format!(
            "\n> ⚠️ {} could not be read ({}): what it requires is unknown, so seamguard \
             will not merge, enqueue or update this pull request until it can be read.\n",
            u.source, u.reason
        ));
    }
    let merge_line = match report.merge {
        Some(note) => note_text(note),
        None => plan_text(report.plan),
    };
    s.push_str(&format!("\n**Merge:** {merge_line}\n"));
    if let Some(would) = report.shadow_of {
        s.push_str(&format!(
            "\n> **Shadow mode** (`mode: shadow`): enforce mode would conclude `{}`. This check \
             stays neutral and seamguard never merges; set `mode: enforce` to make it count.\n",
            would.as_str()
        ));
    }
    let details: Vec<&str> = report
        .guards
        .iter()
        .map(|g| g.details.as_str())
        .filter(|d| !d.trim().is_empty())
        .collect();
    Rendered {
        title: title(report),
        summary: clip(s),
        text: (!details.is_empty()).then(|| clip(details.join("\n\n"))),
    }
}

/// `out` with the config loader's notes (a file it ignored) under the summary.
pub fn with_notes(mut out: Rendered, notes: &[String]) -> Rendered {
    notes
        .iter()
        .for_each(|n| out.summary.push_str(&format!("\n> ℹ️ {n}\n")));
    out
}

/// The check run when `.github/seamguard.yml` is invalid: guards and
/// merging stay off until it is fixed.
pub fn invalid_config(problems: &[String]) -> Rendered {
    let mut s = String::from(
        "`.github/seamguard.yml` on the base branch is invalid, so the guards and merging are off \
         for this pull request until it is fixed:\n\n",
    );
    for p in problems {
        s.push_str(&format!("- {p}\n"));
    }
    s.push_str("\nRun `seamguard check-config .github/seamguard.yml` locally to check a fix.\n");
    Rendered {
        title: format!(
            "Invalid configuration ({})",
            plural(problems.len(), "problem")
        ),
        summary: clip(s),
        text: None,
    }
}

/// Said in the summary when GitHub would not take some of the findings'
/// annotations: the conclusion stands, the findings are in the details.
pub fn annotations_not_sent(sent: usize, total: usize, answer: &str) -> String {
    format!(
        "\n> ⚠️ GitHub took {sent} of {} and refused the rest ({}); every finding is listed \
         in this check's details.\n",
        plural(total, "annotation"),
        quoted(answer)
    )
}

/// The open check run's summary while its evaluation waits for GitHub's
/// rate limits (`why` says which and until when).
pub fn budget_wait(why: &str) -> String {
    format!(
        "seamguard is {why}: this installation has spent what GitHub allows for now. \
         The evaluation is kept and continues by itself then; nothing needs doing."
    )
}

/// The check run when seamguard itself failed (fail-safe): the error is in
/// the summary, and the conclusion is the repository's choice — unless
/// `held` (the guards had already found problems on this commit): then it
/// stays `failure`, since a verdict is never weakened.
pub fn internal_error(error: &str, conclusion: Conclusion, held: bool) -> Rendered {
    let policy = match conclusion {
        Conclusion::Failure if held => {
            "seamguard's guards had already found problems on this commit, so this check stays \
             failed."
        }
        Conclusion::Failure => {
            "This repository fails closed (`on_internal_error: failure`), so this check fails."
        }
        _ => {
            "This repository fails open (`on_internal_error: neutral`), so this check is neutral and \
             does not block merging on its own."
        }
    };
    Rendered {
        title: "seamguard could not finish its checks".to_owned(),
        summary: clip(format!(
            "seamguard hit an internal error while evaluating this commit. {policy}\n\n\
             ```\n{}\n```\n\nRe-run this check to try again.\n",
            error.replace("```", "'''")
        )),
        text: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::required_checks::{GateEntry, RequiredCheck, Source, Unreadable};

    fn guards(conflicts_failed: bool) -> Vec<GuardOutcome> {
        vec![
            GuardOutcome {
                name: "Conflict markers",
                verdict: if conflicts_failed {
                    GuardVerdict::Failed
                } else {
                    GuardVerdict::Passed
                },
                headline: if conflicts_failed {
                    "3 conflict markers in 2 files".into()
                } else {
                    "none added".into()
                },
                details: if conflicts_failed {
                    "### Conflict markers\n- `src/a.rs`: 2\n- `README.md`: 1".into()
                } else {
                    String::new()
                },
            },
            GuardOutcome {
                name: "Merge sources",
                verdict: GuardVerdict::Passed,
                headline: "3 commits, no merges from other branches".into(),
                details: String::new(),
            },
        ]
    }

    fn gate() -> GateReport {
        let check = |c: &str, sources: Vec<Source>| RequiredCheck {
            context: c.into(),
            app_id: None,
            sources,
        };
        GateReport {
            entries: vec![
                GateEntry {
                    since: None,
                    check: check("lint", vec![Source::Protection]),
                    state: CheckState::Passed {
                        conclusion: "success".into(),
                    },
                },
                GateEntry {
                    since: None,
                    check: check(
                        "test",
                        vec![Source::Ruleset {
                            id: Some(42),
                            source: Some("acme/app".into()),
                        }],
                    ),
                    state: CheckState::Missing { overdue: false },
                },
                GateEntry {
                    since: None,
                    check: check("e2e", vec![Source::Config]),
                    state: CheckState::Pending {
                        status: "in_progress".into(),
                    },
                },
            ],
            strict: false,
            merge_queue: None,
            evidence: vec![],
            unreadable: vec![Unreadable {
                source: "classic branch protection",
                reason: "HTTP 403: Resource not accessible by integration".into(),
            }],
        }
    }

    #[test]
    fn waiting_for_a_late_check() {
        let guards = guards(false);
        let gate = gate();
        let plan = MergePlan::Waiting {
            why: "waiting for `test`, `e2e`".into(),
        };
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Success,
            shadow_of: None,
            plan: &plan,
            merge: None,
            register_timeout: Duration::from_secs(1800),
        });
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
        assert!(out.text.is_none());
    }

    #[test]
    fn failed_guard_and_overdue_check() {
        let guards = guards(true);
        let mut gate = gate();
        gate.entries[1].state = CheckState::Missing { overdue: true };
        gate.unreadable.clear();
        let plan = MergePlan::Blocked {
            why: "a guard failed".into(),
        };
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Failure,
            shadow_of: None,
            plan: &plan,
            merge: None,
            register_timeout: Duration::from_secs(1800),
        });
        insta::assert_snapshot!(format!(
            "{}\n---\n{}\n---\n{}",
            out.title,
            out.summary,
            out.text.unwrap()
        ));
    }

    #[test]
    fn refusal_note_and_no_requirements() {
        let guards = guards(false);
        let gate = GateReport::default();
        let plan = MergePlan::Merge;
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Success,
            shadow_of: None,
            plan: &plan,
            merge: Some(&MergeNote::Refused {
                answer: "At least 1 approving review is required by reviewers with write access."
                    .into(),
            }),
            register_timeout: Duration::from_secs(1800),
        });
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
    }

    #[test]
    fn shadow_mode_would_fail() {
        let mut guards = guards(true);
        guards[0].headline = "2 conflict markers".into();
        let gate = GateReport::default();
        let plan = MergePlan::Blocked {
            why: "a guard failed".into(),
        };
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Neutral,
            shadow_of: Some(Conclusion::Failure),
            plan: &plan,
            merge: None,
            register_timeout: Duration::from_secs(1800),
        });
        assert_eq!(out.title, "Shadow mode · would fail: 2 conflict markers");
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
    }

    #[test]
    fn shadow_mode_would_merge() {
        let guards = guards(false);
        let gate = GateReport::default();
        let plan = MergePlan::WouldMerge {
            sha: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
        };
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Neutral,
            shadow_of: Some(Conclusion::Success),
            plan: &plan,
            merge: None,
            register_timeout: Duration::from_secs(1800),
        });
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
    }

    #[test]
    fn invalid_config_and_internal_error() {
        let out = invalid_config(&[
            "line 3, column 5: unknown key `ignroe` (did you mean `ignore`?)".into(),
            "line 7, column 9: expected one of label, always, never".into(),
        ]);
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
        let out = internal_error(
            "panicked at src/gate/x.rs:1: boom",
            Conclusion::Neutral,
            false,
        );
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
        let out = internal_error("check-runs: HTTP 404: Not Found", Conclusion::Failure, true);
        assert!(out.summary.contains("stays failed"), "{}", out.summary);
    }

    fn one_required_check() -> GateReport {
        GateReport {
            entries: vec![GateEntry {
                since: None,
                check: RequiredCheck {
                    context: "test".into(),
                    app_id: None,
                    sources: vec![Source::Protection],
                },
                state: CheckState::Passed {
                    conclusion: "success".into(),
                },
            }],
            strict: false,
            merge_queue: None,
            evidence: vec![],
            unreadable: vec![],
        }
    }

    fn merge_line(note: &MergeNote) -> (String, String) {
        let guards = guards(false);
        let gate = one_required_check();
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Success,
            shadow_of: None,
            plan: &MergePlan::Merge,
            merge: Some(note),
            register_timeout: Duration::from_secs(1800),
        });
        let line = out
            .summary
            .lines()
            .find(|l| l.starts_with("**Merge:**"))
            .expect("a merge line")
            .to_owned();
        (out.title, line)
    }

    /// After a refusal or giving up, neither the title nor the merge line
    /// says "merging", and GitHub's message is quoted once, cleanly.
    #[test]
    fn the_merge_line_tells_the_truth() {
        let ruleset =
            "Repository rule violations found\n\nChanges must be made through a pull request.\n\n";
        let (title, line) = merge_line(&MergeNote::GaveUp {
            attempts: 3,
            answer: Some(ruleset.into()),
        });
        insta::assert_snapshot!(format!("{title}\n{line}"), @r"
        All guards pass · merge attempts exhausted
        **Merge:** 🛑 stopped after 3 merge attempts on this head (the last answered “Repository rule violations found: Changes must be made through a pull request.”); seamguard stopped trying, push a new commit to try again
        ");
        let (title, line) = merge_line(&MergeNote::Refused {
            answer: "You're not authorized to push to this branch.".into(),
        });
        insta::assert_snapshot!(format!("{title}\n{line}"), @r"
        All guards pass · merge refused
        **Merge:** ⛔ GitHub refused the merge: “You're not authorized to push to this branch.”; seamguard will try again on the next change to this pull request
        ");
        let (title, line) = merge_line(&MergeNote::Retrying {
            attempt: 1,
            max: 6,
            answer: "Head branch was modified. Review and try the merge again.".into(),
            wait: Duration::from_millis(1500),
        });
        insta::assert_snapshot!(format!("{title}\n{line}"), @r"
        All guards pass · merge pending, retrying
        **Merge:** ⏳ merge attempt 1 of 6 answered “Head branch was modified. Review and try the merge again.”; trying again in about 1 second
        ");
        for (title, line) in [
            merge_line(&MergeNote::GaveUp {
                attempts: 1,
                answer: None,
            }),
            merge_line(&MergeNote::Refused { answer: "x".into() }),
        ] {
            assert!(!title.contains("merging"), "{title}");
            assert!(!line.contains("merging"), "{line}");
        }
    }

    /// One of anything is singular.
    #[test]
    fn singular_counts() {
        let guards = guards(false);
        let gate = one_required_check();
        let out = render(&Report {
            guards: &guards,
            gate: &gate,
            conclusion: Conclusion::Success,
            shadow_of: None,
            plan: &MergePlan::GaveUp { attempts: 1 },
            merge: None,
            register_timeout: Duration::from_secs(1800),
        });
        assert!(
            out.summary.contains("1 of 1 required check passed"),
            "{}",
            out.summary
        );
        assert!(
            out.summary
                .contains("stopped after 1 merge attempt on this head"),
            "{}",
            out.summary
        );
        assert_eq!(
            invalid_config(&["x".into()]).title,
            "Invalid configuration (1 problem)"
        );
        let note = annotations_not_sent(50, 51, "Not Found");
        assert!(note.contains("50 of 51 annotations"), "{note}");
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(0, "file"), "0 files");
    }

    #[test]
    fn clip_cuts_on_a_line() {
        let text = "x\n".repeat(MAX_TEXT);
        let clipped = clip(text);
        assert!(clipped.len() < MAX_TEXT + 100);
        assert!(clipped.ends_with("(cut to fit GitHub's limit)\n"));
    }
}

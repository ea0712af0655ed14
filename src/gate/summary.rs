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

use crate::gate::decision::{Conclusion, GuardOutcome, GuardVerdict, MergePlan};
use crate::gate::required_checks::{CheckState, GateReport};
use crate::github::models::CheckOutput;

/// GitHub rejects check run summaries and texts over 65,535 characters;
/// the margin leaves room for the truncation note.
pub const MAX_TEXT: usize = 60_000;

/// The check run's name: one per head SHA.
pub const CHECK_NAME: &str = "seamguard";

/// Everything the summary shows.
pub struct Report<'a> {
    pub guards: &'a [GuardOutcome],
    pub gate: &'a GateReport,
    pub conclusion: Conclusion,
    /// Shadow mode: what enforce mode would have concluded (the check run
    /// itself is `neutral`).
    pub shadow_of: Option<Conclusion>,
    pub plan: &'a MergePlan,
    /// What happened on the merge call, when one was made.
    pub merge_note: Option<&'a str>,
    pub register_timeout: Duration,
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

fn plan_text(plan: &MergePlan) -> String {
    match plan {
        MergePlan::Merge => "🚀 ready: merging with the head SHA pinned".to_owned(),
        MergePlan::UpdateBranch => "🔄 updating the branch with its base first".to_owned(),
        MergePlan::NotOptedIn { why } => format!("not merging: {why}"),
        MergePlan::Done { why } => format!("nothing to do: {why}"),
        MergePlan::Blocked { why } => format!("⛔ blocked: {why}"),
        MergePlan::Waiting { why } => format!("⏳ {why}"),
        MergePlan::GaveUp { attempts } => format!(
            "🛑 stopped after {attempts} merge attempts on this head; GitHub kept answering \
             that checks are pending. Push a new commit or re-run this check to try again"
        ),
        MergePlan::WouldMerge { sha } => format!(
            "👻 shadow mode: would merge now, with `{sha}` pinned (shadow mode never merges)"
        ),
        MergePlan::WouldUpdateBranch => {
            "👻 shadow mode: would update the branch with its base first".to_owned()
        }
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
    let merge = match report.plan {
        MergePlan::Merge => "merging",
        MergePlan::UpdateBranch => "updating branch",
        MergePlan::WouldMerge { .. } => "would merge now",
        MergePlan::WouldUpdateBranch => "would update branch",
        MergePlan::Waiting { .. } => "waiting for the merge gate",
        MergePlan::Blocked { .. } => "merge blocked",
        MergePlan::GaveUp { .. } => "merge attempts exhausted",
        MergePlan::NotOptedIn { .. } | MergePlan::Done { .. } => "",
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
pub fn render(report: &Report<'_>) -> CheckOutput {
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
            "**Merge gate:** {passed} of {} required checks passed",
            gate.entries.len()
        ));
    }
    if gate.strict {
        s.push_str(" · the branch must be up to date");
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
            s.push_str(&format!(
                "| {name} | {} | {} |\n",
                cell(&from.join(", ")),
                state_text(&e.state, report.register_timeout)
            ));
        }
    }
    for u in &gate.unreadable {
        s.push_str(&format!(
            "\n> {} could not be read ({}); it is treated as requiring nothing.\n",
            u.source, u.reason
        ));
    }
    s.push_str(&format!("\n**Merge:** {}\n", plan_text(report.plan)));
    if let Some(would) = report.shadow_of {
        s.push_str(&format!(
            "\n> **Shadow mode** (`mode: shadow`): enforce mode would conclude `{}`. This check \
             stays neutral and seamguard never merges; set `mode: enforce` to make it count.\n",
            would.as_str()
        ));
    }
    if let Some(note) = report.merge_note {
        s.push_str(&format!("\n{note}\n"));
    }
    let details: Vec<&str> = report
        .guards
        .iter()
        .map(|g| g.details.as_str())
        .filter(|d| !d.trim().is_empty())
        .collect();
    CheckOutput {
        title: title(report),
        summary: clip(s),
        text: (!details.is_empty()).then(|| clip(details.join("\n\n"))),
        annotations: Vec::new(),
    }
}

/// The check run when `.github/seamguard.yml` is invalid: guards and
/// merging stay off until it is fixed.
pub fn invalid_config(problems: &[String]) -> CheckOutput {
    let mut s = String::from(
        "`.github/seamguard.yml` on the base branch is invalid, so the guards and merging are off \
         for this pull request until it is fixed:\n\n",
    );
    for p in problems {
        s.push_str(&format!("- {p}\n"));
    }
    s.push_str("\nRun `seamguard check-config .github/seamguard.yml` locally to check a fix.\n");
    CheckOutput {
        title: format!(
            "Invalid configuration ({} problem{})",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ),
        summary: clip(s),
        text: None,
        annotations: Vec::new(),
    }
}

/// The check run when seamguard itself failed (fail-safe): the error is in
/// the summary, and the conclusion is the repository's choice.
pub fn internal_error(error: &str, conclusion: Conclusion) -> CheckOutput {
    let policy = match conclusion {
        Conclusion::Failure => {
            "This repository fails closed (`on_internal_error: failure`), so this check fails."
        }
        _ => {
            "This repository fails open (`on_internal_error: neutral`), so this check is neutral and \
             does not block merging on its own."
        }
    };
    CheckOutput {
        title: "seamguard could not finish its checks".to_owned(),
        summary: clip(format!(
            "seamguard hit an internal error while evaluating this commit. {policy}\n\n\
             ```\n{}\n```\n\nRe-run this check to try again.\n",
            error.replace("```", "'''")
        )),
        text: None,
        annotations: Vec::new(),
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
                    check: check("lint", vec![Source::Protection]),
                    state: CheckState::Passed {
                        conclusion: "success".into(),
                    },
                },
                GateEntry {
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
                    check: check("e2e", vec![Source::Config]),
                    state: CheckState::Pending {
                        status: "in_progress".into(),
                    },
                },
            ],
            strict: false,
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
            merge_note: None,
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
            merge_note: None,
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
            merge_note: Some(
                "GitHub refused the merge: At least 1 approving review is required by reviewers with write access.",
            ),
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
            merge_note: None,
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
            merge_note: None,
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
        let out = internal_error("panicked at src/gate/x.rs:1: boom", Conclusion::Neutral);
        insta::assert_snapshot!(format!("{}\n---\n{}", out.title, out.summary));
    }

    #[test]
    fn clip_cuts_on_a_line() {
        let text = "x\n".repeat(MAX_TEXT);
        let clipped = clip(text);
        assert!(clipped.len() < MAX_TEXT + 100);
        assert!(clipped.ends_with("(cut to fit GitHub's limit)\n"));
    }
}

//! The pages' markup: maud templates, checked at compile time, every value
//! escaped by the template engine. No scripts: everything is readable
//! with JavaScript off.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::snapshot::{Attempt, PageSnapshot, budget_wait_line};
use crate::github::RateBudget;
use crate::ids::{PrNumber, RepoName};
use crate::store::{BudgetWait, Evaluation, FailedJob, QueueStats};

const CSS: &str = include_str!("style.css");

/// The version shown in the footer and on the landing page.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

/// `blocked` → `blocked`, `gave up` → `gave-up`: a CSS class.
fn class(word: &str) -> String {
    word.replace(' ', "-")
}

/// The frame every page shares: head, style, header and footer.
pub(super) fn layout(title: &str, where_: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.top {
                    span.brand { "seamguard" }
                    span.place { (where_) }
                }
                main { (body) }
                footer { "seamguard " (VERSION) " · guards the merge seam" }
            }
        }
    }
}

/// The link to `path` at line `line` of the head commit on GitHub.
fn file_link(repo_url: Option<&str>, head: &str, path: &str, line: u32) -> Option<String> {
    // Each path segment percent-encoded (a space, `#` or `?` in a file
    // name must not end the path).
    let path: Vec<String> = path
        .split('/')
        .map(|seg| {
            url::form_urlencoded::byte_serialize(seg.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect();
    repo_url.map(|r| {
        format!(
            "{}/blob/{head}/{}#L{line}",
            r.trim_end_matches('/'),
            path.join("/")
        )
    })
}

/// Merge attempts on the latest head, oldest first, from its history.
fn attempts_on_head<'a>(history: &'a [(Evaluation, PageSnapshot)], head: &str) -> Vec<&'a Attempt> {
    let mut attempts: Vec<&Attempt> = history
        .iter()
        .filter(|(e, _)| e.head.as_str() == head)
        .filter_map(|(_, s)| s.merge.attempt.as_ref())
        .collect();
    attempts.reverse();
    attempts
}

/// The pull request's note while its evaluation waits for GitHub's budget.
fn budget_wait_note(wait: Option<&BudgetWait>) -> Markup {
    html! {
        @if let Some(w) = wait {
            p.note id="budget-wait" {
                "seamguard is " strong { (budget_wait_line(w)) } ": this installation has spent "
                "what GitHub allows for now. The evaluation is kept and continues by itself "
                "then; nothing needs doing."
                @if !w.reason.is_empty() { br; span.muted { (w.reason) } }
            }
        }
    }
}

/// The pull request's page: `history` newest first, each evaluation with
/// its decoded snapshot; `wait`, when its evaluation is held back for
/// GitHub's budget.
pub fn pull_page(
    repo: &RepoName,
    number: PrNumber,
    history: &[(Evaluation, PageSnapshot)],
    wait: Option<&BudgetWait>,
) -> Markup {
    let where_ = format!("{repo}#{}", number.0);
    let Some((latest, snap)) = history.first() else {
        return layout(
            &format!("{where_} · seamguard"),
            &where_,
            html! {
                div.card {
                    h1 { (repo.to_string()) " #" (number.0) }
                    @if wait.is_some() {
                        (budget_wait_note(wait))
                    } @else {
                        p { "seamguard has not evaluated this pull request yet. Comment "
                            code { "@seamguard recheck" } " on it to evaluate it now." }
                    }
                }
            },
        );
    };
    let head = latest.head.as_str();
    let attempts = attempts_on_head(history, head);
    let rules = super::page_json::rules_with_since(history);
    let body = html! {
        h1 { (snap.title) " " span.muted { "#" (number.0) } }
        div.sub {
            (repo.to_string()) " · head " code { (short(head)) } " → " code { (snap.base) }
            " · evaluated " (when(latest.at))
        }
        (budget_wait_note(wait))
        section.card.verdict.(class(&latest.decision)) id="verdict" {
            div.word { (latest.decision) }
            div.reason { (latest.reason) }
            div.muted {
                "check run: " span.badge.(snap.conclusion) { (snap.conclusion) } " " (snap.headline)
            }
            @if let Some(would) = &snap.shadow_of {
                p.note { "Shadow mode: enforce mode would conclude " strong { (would) }
                    "; this check stays neutral and seamguard never merges." }
            }
            @if !snap.unblock.is_empty() {
                h2 style="margin-top:12px" { "What would unblock it" }
                ul { @for line in &snap.unblock { li { (line) } } }
            }
        }
        section.card id="guards" {
            h2 { "Guards" }
            table {
                thead { tr { th { "guard" } th { "verdict" } th { "" } } }
                tbody {
                    @for g in &snap.guards {
                        tr {
                            td { (g.name) }
                            td { span.badge.(g.verdict) { (g.verdict) } }
                            td {
                                (g.headline)
                                @if !g.findings.is_empty() {
                                    ul.findings {
                                        @for f in &g.findings {
                                            li {
                                                @match file_link(snap.repo_url.as_deref(), head, &f.path, f.line) {
                                                    Some(url) => { a.mono href=(url) { (f.path) ":" (f.line) } }
                                                    None => { span.mono { (f.path) ":" (f.line) } }
                                                }
                                                " — " (f.message)
                                            }
                                        }
                                    }
                                    @if g.findings_left_out > 0 {
                                        p.muted { "… and " (g.findings_left_out) " more (see the check run's annotations)" }
                                    }
                                }
                                @if !g.details.trim().is_empty() {
                                    details { summary { "details" } pre { (g.details) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card id="gate" {
            h2 { "Merge gate" }
            @if snap.gate.checks.is_empty() {
                p.muted { "No required checks on " code { (snap.base) } "." }
            } @else {
                table {
                    thead { tr { th { "required check" } th { "required by" } th { "state" } th { "since" } } }
                    tbody {
                        @for c in &snap.gate.checks {
                            tr {
                                td {
                                    code { (c.context) }
                                    @if let Some(app) = c.app_id { span.muted { " (app " (app) ")" } }
                                }
                                td { (c.sources.join(", ")) }
                                td {
                                    span.badge.(c.state) { (c.state) } " " (c.detail)
                                    @if c.never_reported { div.note { "never reported on this head" } }
                                }
                                td { @if let Some(t) = c.since { (when(t)) } }
                            }
                        }
                    }
                }
            }
            @if snap.gate.strict { p.muted { "The branch must be up to date with its base." } }
            @for u in &snap.gate.unreadable { p.note { (u) "; it is treated as requiring nothing." } }
            @if !rules.is_empty() {
                table id="rules" {
                    thead { tr { th { "other rule of the base" } th { "state" } th { "since" } } }
                    tbody {
                        @for r in &rules {
                            tr {
                                td { (r.asked) }
                                td {
                                    span.badge.(r.state) { (r.state.replace('_', " ")) }
                                    @if !r.detail.is_empty() { " " (r.detail) }
                                    @if let Some(clear) = &r.clear { div.note { (clear) } }
                                }
                                td { @if let Some(t) = r.since { (when(t)) } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(stack) = &snap.stack {
            section.card id="stack" {
                h2 { "Stack" }
                p.muted { "Merging this pull request merges every open one below it, in one request; "
                    "seamguard asks for it only when each of them passes." }
                table {
                    thead { tr { th { "pull request" } th { "verdict" } th { "" } } }
                    tbody {
                        @for m in stack.members.iter().rev() {
                            tr {
                                td { "#" (m.number) " " (m.title) }
                                td { span.badge.(m.verdict) { (m.verdict.replace('_', " ")) } }
                                td {
                                    (m.detail)
                                    @if m.blocks { div.note { "holds this pull request's merge back" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card id="merge" {
            h2 { "Merge" }
            p { (snap.merge.plan) }
            @if attempts.is_empty() {
                p.muted { "No merge attempts on this head." }
            } @else {
                table {
                    thead { tr { th { "attempt" } th { "time" } th { "GitHub answered" } } }
                    tbody {
                        @for a in &attempts {
                            tr {
                                td { (a.number) " of " (snap.merge.max_attempts) }
                                td { @if let Some(t) = a.at { (when(t)) } }
                                td { (a.answer) }
                            }
                        }
                    }
                }
            }
            @if let Some(r) = &snap.merge.request {
                p.request {
                    "Asynchronous merge request " code { (r.uuid) } ": " (r.state)
                    @if let Some(t) = r.since { ", requested " (when(t)) }
                    @if let Some(t) = r.read_at { ", last read " (when(t)) }
                }
            }
            @if let Some(t) = snap.merge.next_retry {
                p { "Next retry: " (when(t)) }
            }
        }
        section.card id="history" {
            h2 { "History" }
            table {
                thead { tr { th { "time" } th { "cause" } th { "head" } th { "decision" } th { "reason" } th { "GitHub requests" } } }
                tbody {
                    @for (e, _) in history {
                        tr {
                            td { (when(e.at)) }
                            td.mono { (e.cause) }
                            td { code { (short(e.head.as_str())) } }
                            td { span.badge.(class(&e.decision)) { (e.decision) } }
                            td { (e.reason) }
                            td { (e.requests) }
                        }
                    }
                }
            }
        }
        p.muted { "Shown from seamguard's store as of its last evaluation; this page never asks GitHub. "
            "Programs can read the same facts as JSON at this address with "
            code { "Accept: application/json" } "." }
    };
    layout(&format!("{where_} · seamguard"), &where_, body)
}

/// `/`: what this is, the version, health (`None`: not known yet).
/// Nothing private.
pub fn landing(healthy: Option<bool>) -> Markup {
    layout(
        "seamguard",
        "",
        html! {
            section.card {
                h1 { "seamguard" }
                p { "A GitHub App that stands at the merge seam of a repository: it fails pull requests whose head adds git conflict markers or merges history from the wrong branch, reads the branch's real required checks, and merges opted-in pull requests only when that gate says so, with the head SHA pinned." }
                p { "Each pull request it checks gets a page, linked from its " code { "seamguard" } " check run." }
            }
            section.card {
                table {
                    tbody {
                        tr { th { "version" } td { (VERSION) } }
                        tr { th { "health" } td {
                            @match healthy {
                                Some(true) => span.badge.pass { "ok" },
                                Some(false) => span.badge.fail { "store unavailable" },
                                None => span.badge { "checking" },
                            }
                        } }
                    }
                }
            }
        },
    )
}

/// Everything `/status` shows.
pub struct StatusView<'a> {
    pub recent: &'a [(Evaluation, Option<String>)],
    pub queue: Option<QueueStats>,
    pub budgets: &'a [RateBudget],
    pub failed: &'a [FailedJob],
    /// Work held back for GitHub's budget, each with its page's link when
    /// it is a pull request's.
    pub waiting: &'a [(BudgetWait, Option<String>)],
    pub now: DateTime<Utc>,
}

/// `/status`: the operator's overview.
pub fn status(v: &StatusView<'_>) -> Markup {
    layout(
        "status · seamguard",
        "status",
        html! {
            h1 { "Status" }
            div.sub { "as of " (when(v.now)) }
            section.card id="queue" {
                h2 { "Queue" }
                @match &v.queue {
                    Some(q) => { table { tbody {
                        tr { th { "work items" } td { (q.depth) } }
                        tr { th { "due now" } td { (q.due) } }
                        tr { th { "running" } td { (q.leased) } }
                        tr { th { "scheduled" } td { (q.scheduled) } }
                        tr { th { "oldest due for" } td { @match q.oldest_due_age {
                            Some(age) => { (humantime::format_duration(std::time::Duration::from_secs(age.as_secs())).to_string()) }
                            None => { "nothing due" }
                        } } }
                    } } }
                    None => { p.note { "the store could not be read" } }
                }
            }
            section.card id="budgets" {
                h2 { "Rate-limit budgets" }
                @if v.budgets.is_empty() {
                    p.muted { "GitHub has not reported a rate-limit window since this process started." }
                } @else {
                    table {
                        thead { tr { th { "who" } th { "remaining" } th { "resets" } } }
                        tbody { @for b in v.budgets { tr { td { (b.who) } td { (b.remaining) } td { (when(b.reset)) } } } }
                    }
                }
            }
            section.card id="waiting" {
                h2 { "Waiting for GitHub's write budget" }
                @if v.waiting.is_empty() {
                    p.muted { "Nothing." }
                } @else {
                    table {
                        thead { tr { th { "work" } th { "waits" } th { "why" } } }
                        tbody { @for (w, link) in v.waiting { tr {
                            td.mono { @match link {
                                Some(l) => { a href=(l) { (w.key) } }
                                None => { (w.key) }
                            } }
                            td { (budget_wait_line(w)) }
                            td { (w.reason) }
                        } } }
                    }
                }
            }
            section.card id="failed" {
                h2 { "Failed jobs" }
                @if v.failed.is_empty() {
                    p.muted { "None." }
                } @else {
                    table {
                        thead { tr { th { "work" } th { "attempts" } th { "next run" } th { "last error" } } }
                        tbody { @for f in v.failed { tr {
                            td.mono { (f.key) }
                            td { (f.attempts) }
                            td { @match f.due_at { Some(t) => { (when(t)) } None => { "parked" } } }
                            td { (f.last_error) }
                        } } }
                    }
                }
            }
            section.card id="recent" {
                h2 { "Recent evaluations" }
                table {
                    thead { tr { th { "time" } th { "pull request" } th { "cause" } th { "decision" } th { "reason" } th { "requests" } } }
                    tbody { @for (e, link) in v.recent { tr {
                        td { (when(e.at)) }
                        td { @match link {
                            Some(l) => { a href=(l) { (e.repo.to_string()) "#" (e.pr.0) } }
                            None => { span { (e.repo.to_string()) "#" (e.pr.0) } }
                        } }
                        td.mono { (e.cause) }
                        td { span.badge.(class(&e.decision)) { (e.decision) } }
                        td { (e.reason) }
                        td { (e.requests) }
                    } } }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::snapshot::{CheckView, Finding, GateView, GuardView, MergeView, RuleView};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    fn evaluation(secs: i64, decision: &str, reason: &str, requests: u32) -> Evaluation {
        Evaluation {
            repo: "acme/app".parse().unwrap(),
            pr: PrNumber(7),
            at: at(secs),
            cause: "delivery d-1 (pull_request.opened)".into(),
            head: HEAD.parse().unwrap(),
            decision: decision.into(),
            reason: reason.into(),
            requests,
            snapshot: String::new(),
        }
    }

    fn waiting() -> PageSnapshot {
        PageSnapshot {
            title: "Parse <the> new format".into(),
            repo_url: Some("https://github.com/acme/app".into()),
            head: HEAD.into(),
            base: "main".into(),
            conclusion: "success".into(),
            shadow_of: None,
            headline: "All guards pass · merge pending, retrying".into(),
            unblock: vec!["`test` must finish and pass".into()],
            guards: vec![GuardView {
                name: "Conflict markers".into(),
                verdict: "pass".into(),
                headline: "none added (1 file scanned)".into(),
                details: String::new(),
                findings: vec![Finding {
                    path: "src/a b.rs".into(),
                    line: 3,
                    message: "a marker".into(),
                }],
                findings_left_out: 2,
            }],
            gate: GateView {
                strict: true,
                checks: vec![CheckView {
                    context: "test".into(),
                    app_id: Some(15368),
                    sources: vec!["branch protection".into(), "ruleset 42".into()],
                    state: "missing".into(),
                    detail: "not registered yet".into(),
                    since: Some(at(0)),
                    never_reported: true,
                    overdue: false,
                }],
                unreadable: vec!["repository rulesets could not be read (HTTP 403)".into()],
                rules: vec![RuleView {
                    kind: "conversation".into(),
                    asked: "conversations resolved before merging, required by branch protection"
                        .into(),
                    source: "branch protection".into(),
                    state: "unmet".into(),
                    detail: "2 conversations unresolved".into(),
                    clear: Some("the pull request's author or a reviewer can resolve them".into()),
                    since: None,
                }],
            },
            merge: MergeView {
                plan: "merge attempt 1 of 6 answered “Required status check is expected”".into(),
                attempt: Some(Attempt {
                    at: Some(at(60)),
                    number: 1,
                    answer: "Required status check \"test\" is expected".into(),
                }),
                next_retry: Some(at(90)),
                max_attempts: 6,
                request: None,
            },
            blockers: Vec::new(),
            stack: None,
        }
    }

    /// The markup broken at each tag, so a wording change is a readable diff.
    fn lines(markup: Markup) -> String {
        let html = markup.into_string();
        // The words, not the styling.
        let html = match (html.find("<style>"), html.find("</style>")) {
            (Some(a), Some(b)) => format!("{}<style>…{}", &html[..a], &html[b..]),
            _ => html,
        };
        html.replace('>', ">\n")
    }

    #[test]
    fn the_page_shows_every_section_escaped() {
        let repo: RepoName = "acme/app".parse().unwrap();
        let history = vec![
            (
                evaluation(60, "waiting", "merge attempt 1 of 6", 9),
                waiting(),
            ),
            (
                evaluation(0, "blocked", "blocked: a guard failed", 12),
                PageSnapshot::default(),
            ),
        ];
        let html = pull_page(&repo, PrNumber(7), &history, None).into_string();
        assert!(
            html.contains("Parse &lt;the&gt; new format"),
            "escaped: {html}"
        );
        assert!(!html.contains("<the>"));
        assert!(!html.to_ascii_lowercase().contains("<script"));
        insta::assert_snapshot!(lines(pull_page(&repo, PrNumber(7), &history, None)));
    }

    #[test]
    fn a_stacked_pull_request_shows_its_stack_and_which_one_blocks() {
        use crate::web::snapshot::{StackMemberView, StackView};
        let repo: RepoName = "acme/app".parse().unwrap();
        let member = |number: u64, verdict: &str, detail: &str, blocks: bool| StackMemberView {
            number,
            title: format!("part {number}"),
            verdict: verdict.into(),
            detail: detail.into(),
            blocks,
        };
        let page = PageSnapshot {
            stack: Some(StackView {
                own: Default::default(),
                members: vec![
                    member(40, "ready", "", false),
                    member(41, "not_ready", "3 conflict markers in 1 file", true),
                    member(42, "this", "", false),
                ],
                blocked_by: Some(41),
            }),
            ..waiting()
        };
        let history = vec![(evaluation(60, "waiting", "#41 below in the stack", 9), page)];
        let html = lines(pull_page(&repo, PrNumber(42), &history, None));
        let section = &html[html.find("id=\"stack\"").expect("a stack section")..];
        let section = &section[..section.find("</section>").expect("closed")];
        insta::assert_snapshot!(section);
    }

    #[test]
    fn a_page_without_history_says_so() {
        let repo: RepoName = "acme/app".parse().unwrap();
        let html = pull_page(&repo, PrNumber(7), &[], None).into_string();
        assert!(
            html.contains("has not evaluated this pull request yet"),
            "{html}"
        );
    }

    #[test]
    fn a_page_waiting_for_the_budget_says_until_when() {
        let repo: RepoName = "acme/app".parse().unwrap();
        let wait = BudgetWait {
            key: "acme/app#7".into(),
            until: DateTime::from_timestamp(1_800_000_000 + 3_787, 0).unwrap(),
            reason: "waiting for GitHub's limit on content-creating requests".into(),
        };
        let line = "waiting for GitHub's write budget until 09:03:07 UTC";
        assert_eq!(budget_wait_line(&wait), line);
        let history = vec![(evaluation(0, "waiting", "waiting for `test`", 9), waiting())];
        for history in [&history[..], &[]] {
            let html = pull_page(&repo, PrNumber(7), history, Some(&wait)).into_string();
            assert!(html.contains(line), "{html}");
            assert!(html.contains("content-creating requests"), "{html}");
        }
        let html = pull_page(&repo, PrNumber(7), &history, None).into_string();
        assert!(!html.contains("write budget"), "{html}");
    }

    #[test]
    fn the_landing_page_names_no_repository() {
        let html = landing(Some(true)).into_string();
        assert!(html.contains(VERSION) && html.contains("badge pass"));
        let html = landing(Some(false)).into_string();
        assert!(html.contains("store unavailable"));
    }
}

//! The pull request's page as JSON, for programs: a coding agent waiting on
//! its pull request reads the check run's `details_url` with
//! `Accept: application/json` and learns what holds the merge back and
//! what to do next, with no HTML to scrape.
//!
//! The same signed link, the same store-only answer as the HTML page
//! (built from the same stored [`PageSnapshot`]s), the same refusals —
//! as JSON. The format is stable: [`VERSION`] says which it is. Within a
//! version fields are only ever added (a reader ignores what it does not
//! know) and `kind` may gain values (a reader treats an unknown kind as
//! `other`); renaming or removing a field, or changing what one means,
//! makes a new version.
//!
//! Each field's Rust name is its JSON name, and is the format: renaming a
//! field here changes what agents read, and the snapshot test of the whole
//! shape (`the_json_page_lists_each_blocker_with_since_who_and_fix`) fails
//! until the version rule is followed.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::snapshot::{BlockerView, PageSnapshot, RuleView};
use crate::ids::{PrNumber, RepoName};
use crate::store::{BudgetWait, Evaluation};

/// The format's version (the `version` field).
pub const VERSION: u32 = 1;

/// The page's JSON answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageJson {
    pub version: u32,
    /// `owner/name`.
    pub repository: String,
    pub number: u64,
    pub title: Option<String>,
    /// The head SHA the latest evaluation judged; `null` before the first.
    pub head: Option<String>,
    pub base: Option<String>,
    /// When the latest evaluation ended; `null` before the first.
    pub evaluated_at: Option<DateTime<Utc>>,
    /// What seamguard concluded; `null` before the first evaluation.
    pub verdict: Option<VerdictJson>,
    /// What holds the merge back; empty when nothing does.
    pub blockers: Vec<BlockerJson>,
    /// Every rule of the base besides its required checks, met or not.
    pub rules: Vec<RuleJson>,
    /// The required checks, passed or not.
    pub checks: Vec<CheckJson>,
    pub merge: Option<MergeJson>,
    /// Set while the evaluation is held back for GitHub's rate budget:
    /// until when, and why (`null` otherwise).
    pub budget_wait: Option<BudgetWaitJson>,
    /// The stack, for a stacked pull request (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackJson>,
}

/// An evaluation held back for GitHub's rate budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetWaitJson {
    /// When the budget has room for it; it runs by itself then.
    pub until: DateTime<Utc>,
    /// Which limit is spent, in GitHub's budget governor's words.
    pub reason: String,
    /// The same in one line, as the page says it: `waiting for GitHub's
    /// write budget until 14:03:07 UTC`.
    pub message: String,
}

impl BudgetWaitJson {
    pub fn new(wait: &BudgetWait) -> Self {
        Self {
            until: wait.until,
            reason: wait.reason.clone(),
            message: super::snapshot::budget_wait_line(wait),
        }
    }
}

/// The stack a pull request is in: each pull request, bottom first, with
/// seamguard's verdict on it, and which one holds this one's merge back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackJson {
    pub pull_requests: Vec<StackMemberJson>,
    /// The number of the pull request below that holds the merge back.
    pub blocked_by: Option<u64>,
}

/// One pull request of the stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackMemberJson {
    pub number: u64,
    pub title: String,
    /// `this`, `ready`, `not_ready`, `unknown`, `merged`, `closed`.
    pub verdict: String,
    pub detail: String,
    pub blocks: bool,
}

/// The verdict of the latest evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictJson {
    /// In a word or two: `merged`, `merging`, `waiting`, `blocked`,
    /// `gave up`, `not opted in`, `in line`, `done`…
    pub decision: String,
    /// Its reason in one line.
    pub reason: String,
    /// The `seamguard` check run's conclusion (`success`, `failure`,
    /// `neutral`).
    pub conclusion: String,
    /// The check run's title.
    pub title: String,
    /// Shadow mode: what enforce mode would have concluded.
    pub shadow_of: Option<String>,
}

/// One thing that holds the merge back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockerJson {
    /// `check`, `review`, `code_owner`, `conversation`, `signature`,
    /// `deployment`, `conflict`, `guard`, `history`, `merge_method`,
    /// `lock`, `budget`, `other`.
    pub kind: String,
    /// What it is: the check's name, the guard's, the rule as asked.
    pub what: String,
    /// Where it comes from: `branch protection`, `ruleset 7`, `seamguard`,
    /// `GitHub`…
    pub source: Option<String>,
    /// Its state in a word: `unmet`, `failed`, `pending`, `missing`,
    /// `dirty`, `spent`, `refused`…
    pub state: String,
    /// The state in words.
    pub detail: String,
    /// Since when it has stood so (as far back as the page's history
    /// goes); `null` when not known.
    pub since: Option<DateTime<Utc>>,
    /// Who can clear it.
    pub who: Option<String>,
    /// How to clear it, in one sentence.
    pub fix: String,
}

/// One rule of the base besides its required checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleJson {
    pub kind: String,
    /// What it asks, with where from.
    pub asked: String,
    pub source: String,
    /// `met`, `unmet`, `unknown` or `not_checked`.
    pub state: String,
    pub detail: String,
    /// Who can clear it, and how, in words; `null` unless unmet.
    pub clear: Option<String>,
    /// Since when it has been in this state.
    pub since: Option<DateTime<Utc>>,
}

/// One required check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckJson {
    pub name: String,
    /// The App that must report it, when pinned.
    pub app_id: Option<u64>,
    pub sources: Vec<String>,
    /// `passed`, `failed`, `pending` or `missing`.
    pub state: String,
    pub detail: String,
    pub since: Option<DateTime<Utc>>,
}

/// The merge: the plan and the attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeJson {
    pub plan: String,
    /// Merge calls on the latest head, oldest first.
    pub attempts: Vec<AttemptJson>,
    pub max_attempts: u32,
    /// When seamguard tries again.
    pub next_retry: Option<DateTime<Utc>>,
    /// The asynchronous merge request GitHub holds and has not finished
    /// (`null` when there is none).
    pub request: Option<AsyncRequestJson>,
}

/// An asynchronous merge request GitHub holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AsyncRequestJson {
    pub uuid: String,
    /// GitHub's state for it (`pending`, …).
    pub state: String,
    /// Since when seamguard knows it.
    pub since: Option<DateTime<Utc>>,
    /// When seamguard last read it.
    pub read_at: Option<DateTime<Utc>>,
}

/// One merge call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptJson {
    pub number: u32,
    pub at: Option<DateTime<Utc>>,
    /// `merged`, or GitHub's words.
    pub answer: String,
}

/// A refusal or failure as JSON (the page's status code, this body).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorJson {
    pub version: u32,
    /// `not_found` (an unknown page, or a link seamguard did not sign),
    /// `store_unavailable`.
    pub error: String,
    pub message: String,
}

impl ErrorJson {
    pub fn new(error: &str, message: &str) -> Self {
        Self {
            version: VERSION,
            error: error.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// Whether the request prefers JSON to HTML: `application/json` is listed
/// (`application/*` counts too) with a quality above zero and at least that
/// of `text/html`. A browser, which lists `text/html` and only `*/*` after
/// it, gets the HTML page.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let mut json: Option<f32> = None;
    let mut html: f32 = 0.0;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    (k.trim().eq_ignore_ascii_case("q")).then(|| v.trim().parse::<f32>().ok())?
                })
                .next()
                .unwrap_or(1.0);
            match media.as_str() {
                "application/json" | "application/*" => {
                    json = Some(json.map_or(q, |j| j.max(q)));
                }
                "text/html" | "text/*" | "application/xhtml+xml" => html = html.max(q),
                _ => {}
            }
        }
    }
    json.is_some_and(|j| j > 0.0 && j >= html)
}

/// When each item of the newest snapshot reached its state: walking back
/// through `snapshots` (newest first, each with its evaluation's time)
/// while the item stood the same way, the time of the oldest such
/// evaluation. An item that already knows its time keeps it.
fn since_of<T>(
    snapshots: &[(DateTime<Utc>, &[T])],
    item: &T,
    same: impl Fn(&T, &T) -> bool,
) -> Option<DateTime<Utc>> {
    let mut since = None;
    for (at, items) in snapshots {
        if items.iter().any(|other| same(item, other)) {
            since = Some(*at);
        } else {
            break;
        }
    }
    since
}

/// The newest evaluation's blockers, each with its "since".
pub fn blockers_with_since(history: &[(Evaluation, PageSnapshot)]) -> Vec<BlockerView> {
    let Some((_, latest)) = history.first() else {
        return Vec::new();
    };
    let all: Vec<(DateTime<Utc>, &[BlockerView])> = history
        .iter()
        .map(|(e, s)| (e.at, s.blockers.as_slice()))
        .collect();
    latest
        .blockers
        .iter()
        .map(|b| BlockerView {
            since: b.since.or_else(|| since_of(&all, b, BlockerView::same_as)),
            ..b.clone()
        })
        .collect()
}

/// The newest evaluation's whole-gate rules, each with its "since".
pub fn rules_with_since(history: &[(Evaluation, PageSnapshot)]) -> Vec<RuleView> {
    let Some((_, latest)) = history.first() else {
        return Vec::new();
    };
    let all: Vec<(DateTime<Utc>, &[RuleView])> = history
        .iter()
        .map(|(e, s)| (e.at, s.gate.rules.as_slice()))
        .collect();
    latest
        .gate
        .rules
        .iter()
        .map(|r| RuleView {
            since: r.since.or_else(|| since_of(&all, r, RuleView::same_as)),
            ..r.clone()
        })
        .collect()
}

/// The page as JSON: `history` newest first, as the HTML page takes it.
pub fn page(repo: &RepoName, number: PrNumber, history: &[(Evaluation, PageSnapshot)]) -> PageJson {
    let Some((latest, snap)) = history.first() else {
        return PageJson {
            version: VERSION,
            repository: repo.to_string(),
            number: number.0,
            title: None,
            head: None,
            base: None,
            evaluated_at: None,
            verdict: None,
            blockers: Vec::new(),
            rules: Vec::new(),
            checks: Vec::new(),
            merge: None,
            budget_wait: None,
            stack: None,
        };
    };
    let head = latest.head.as_str();
    let mut attempts: Vec<AttemptJson> = history
        .iter()
        .filter(|(e, _)| e.head.as_str() == head)
        .filter_map(|(_, s)| s.merge.attempt.as_ref())
        .map(|a| AttemptJson {
            number: a.number,
            at: a.at,
            answer: a.answer.clone(),
        })
        .collect();
    attempts.reverse();
    PageJson {
        version: VERSION,
        repository: repo.to_string(),
        number: number.0,
        title: Some(snap.title.clone()),
        head: Some(head.to_owned()),
        base: Some(snap.base.clone()),
        evaluated_at: Some(latest.at),
        verdict: Some(VerdictJson {
            decision: latest.decision.clone(),
            reason: latest.reason.clone(),
            conclusion: snap.conclusion.clone(),
            title: snap.headline.clone(),
            shadow_of: snap.shadow_of.clone(),
        }),
        blockers: blockers_with_since(history)
            .into_iter()
            .map(|b| BlockerJson {
                kind: b.kind,
                what: b.what,
                source: b.source,
                state: b.state,
                detail: b.detail,
                since: b.since,
                who: b.who,
                fix: b.fix,
            })
            .collect(),
        rules: rules_with_since(history)
            .into_iter()
            .map(|r| RuleJson {
                kind: r.kind,
                asked: r.asked,
                source: r.source,
                state: r.state,
                detail: r.detail,
                clear: r.clear,
                since: r.since,
            })
            .collect(),
        checks: snap
            .gate
            .checks
            .iter()
            .map(|c| CheckJson {
                name: c.context.clone(),
                app_id: c.app_id,
                sources: c.sources.clone(),
                state: c.state.clone(),
                detail: c.detail.clone(),
                since: c.since,
            })
            .collect(),
        merge: Some(MergeJson {
            plan: snap.merge.plan.clone(),
            attempts,
            max_attempts: snap.merge.max_attempts,
            next_retry: snap.merge.next_retry,
            request: snap.merge.request.as_ref().map(|r| AsyncRequestJson {
                uuid: r.uuid.clone(),
                state: r.state.clone(),
                since: r.since,
                read_at: r.read_at,
            }),
        }),
        budget_wait: None,
        stack: snap.stack.as_ref().map(|st| StackJson {
            pull_requests: st
                .members
                .iter()
                .map(|m| StackMemberJson {
                    number: m.number,
                    title: m.title.clone(),
                    verdict: m.verdict.clone(),
                    detail: m.detail.clone(),
                    blocks: m.blocks,
                })
                .collect(),
            blocked_by: st.blocked_by,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::required_checks::Source;
    use crate::gate::whole_gate::{RowState, Rule, RuleRow};
    use crate::web::snapshot::{self, BlockerFacts, CheckView, GateView, MergeView};
    use axum::http::HeaderValue;

    const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn evaluation(secs: i64) -> Evaluation {
        Evaluation {
            repo: "acme/app".parse().unwrap(),
            pr: PrNumber(7),
            at: at(secs),
            cause: "delivery d-1 (pull_request.opened)".into(),
            head: HEAD.parse().unwrap(),
            decision: "waiting".into(),
            reason: "waiting for 1 approving review and 2 conversations to be resolved".into(),
            requests: 5,
            snapshot: String::new(),
        }
    }

    fn review_row() -> RuleRow {
        RuleRow {
            rule: Rule::ApprovingReviews { count: 1 },
            source: Source::Ruleset {
                id: Some(7),
                source: None,
            },
            state: RowState::Unmet {
                why: "none yet".into(),
                who: Some("anyone with write access can approve".into()),
            },
        }
    }

    fn conversation_row(unresolved: u32) -> RuleRow {
        RuleRow {
            rule: Rule::ConversationResolution,
            source: Source::Protection,
            state: if unresolved == 0 {
                RowState::Met
            } else {
                RowState::Unmet {
                    why: format!("{unresolved} conversations unresolved"),
                    who: Some("the pull request's author or a reviewer can resolve them".into()),
                }
            },
        }
    }

    /// The snapshot an evaluation with these rows stores (the gate's
    /// `ci` passed).
    fn snapshot_with(rows: &[RuleRow]) -> PageSnapshot {
        let gate = crate::gate::required_checks::GateReport {
            entries: Vec::new(),
            strict: false,
            merge_queue: None,
            evidence: Vec::new(),
            unreadable: Vec::new(),
        };
        let plan = crate::gate::decision::MergePlan::Waiting {
            why: "waiting for 1 approving review".into(),
        };
        PageSnapshot {
            title: "Parse the new format".into(),
            head: HEAD.into(),
            base: "main".into(),
            conclusion: "success".into(),
            headline: "All guards pass · waiting for 1 approving review".into(),
            gate: GateView {
                checks: vec![CheckView {
                    context: "ci".into(),
                    sources: vec!["branch protection".into()],
                    state: "passed".into(),
                    detail: "success".into(),
                    since: Some(at(-30)),
                    ..CheckView::default()
                }],
                rules: snapshot::rule_views(rows, &[]),
                ..GateView::default()
            },
            blockers: snapshot::blockers(&BlockerFacts {
                guards: &[],
                gate: &gate,
                since: &[],
                rows,
                rows_since: &[],
                plan: &plan,
                note: None,
                mergeable_state: Some("blocked"),
                base: "main",
                max_attempts: 6,
            }),
            merge: MergeView {
                plan: "waiting for 1 approving review".into(),
                max_attempts: 6,
                ..MergeView::default()
            },
            ..PageSnapshot::default()
        }
    }

    #[test]
    fn the_json_page_lists_each_blocker_with_since_who_and_fix() {
        let repo: RepoName = "acme/app".parse().unwrap();
        // Oldest last: the review has been missing since the first
        // evaluation; the second conversation came with the newest.
        let history = vec![
            (
                evaluation(120),
                snapshot_with(&[review_row(), conversation_row(2)]),
            ),
            (
                evaluation(60),
                snapshot_with(&[review_row(), conversation_row(1)]),
            ),
            (
                evaluation(0),
                snapshot_with(&[review_row(), conversation_row(0)]),
            ),
        ];
        let page = page(&repo, PrNumber(7), &history);
        assert_eq!(page.version, VERSION);
        let kinds: Vec<(&str, Option<DateTime<Utc>>)> = page
            .blockers
            .iter()
            .map(|b| (b.kind.as_str(), b.since))
            .collect();
        assert_eq!(
            kinds,
            [("review", Some(at(0))), ("conversation", Some(at(120)))]
        );
        let conversations = &page.rules[1];
        assert_eq!(
            (conversations.state.as_str(), conversations.since),
            ("unmet", Some(at(120)))
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&page).unwrap());
    }

    #[test]
    fn before_any_evaluation_the_json_page_says_so() {
        let repo: RepoName = "acme/app".parse().unwrap();
        let json = serde_json::to_value(page(&repo, PrNumber(7), &[])).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["repository"], "acme/app");
        assert!(json["verdict"].is_null() && json["evaluated_at"].is_null());
        assert_eq!(json["blockers"], serde_json::json!([]));
    }

    #[test]
    fn json_only_when_the_request_prefers_it() {
        let asks = |accept: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(a) = accept {
                h.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
            }
            wants_json(&h)
        };
        // What browsers send.
        assert!(!asks(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
        )));
        assert!(!asks(None));
        assert!(!asks(Some("*/*")));
        assert!(asks(Some("application/json")));
        assert!(asks(Some("Application/JSON; charset=utf-8")));
        assert!(asks(Some("text/html;q=0.5, application/json")));
        assert!(asks(Some("application/json, text/html")));
        assert!(!asks(Some("application/json;q=0")));
        assert!(!asks(Some("application/json;q=0.4, text/html")));
    }
}

//! A pull request's page: reading its history from the store and rendering
//! it, with the history full (`HISTORY_PER_PR` evaluations, each with a
//! realistic snapshot: two guards, 20 findings, 5 required checks).
//!
//! `cargo bench --bench page_render` (release build; never part of
//! `cargo test`). Prints the median of each step over many runs: the store
//! read (SQLite in a temporary directory), decoding the snapshots, and the
//! template render; and the page's size. Writing one evaluation (the cost
//! an evaluation adds) is timed too.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use seamguard::ids::{PrNumber, RepoName};
use seamguard::store::{Evaluation, HISTORY_PER_PR, Store, StoreOptions};
use seamguard::web::snapshot::{
    Attempt, CheckView, Finding, GateView, GuardView, MergeView, PageSnapshot,
};
use seamguard::web::views;

/// Timed repetitions per step; the median is reported.
const RUNS: usize = 200;

const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn snapshot(n: usize) -> PageSnapshot {
    PageSnapshot {
        title: format!("Parse the new format, take {n}"),
        repo_url: Some("https://github.com/acme/app".into()),
        head: HEAD.into(),
        base: "main".into(),
        conclusion: "failure".into(),
        shadow_of: None,
        headline: "3 conflict markers in 1 file".into(),
        unblock: vec![
            "fix the Conflict markers finding".into(),
            "`test` must finish and pass".into(),
        ],
        guards: vec![
            GuardView {
                name: "Conflict markers".into(),
                verdict: "fail".into(),
                headline: "20 conflict markers in 4 files".into(),
                details: "line\n".repeat(40),
                findings: (0..20)
                    .map(|i| Finding {
                        path: format!("src/module_{}/file.rs", i % 4),
                        line: 10 + i,
                        message: "This line is a git conflict marker (<<<<<<<)".into(),
                    })
                    .collect(),
                findings_left_out: 0,
            },
            GuardView {
                name: "Merge sources".into(),
                verdict: "pass".into(),
                headline: "3 commits, no merge commits".into(),
                details: "ok\n".repeat(10),
                findings: Vec::new(),
                findings_left_out: 0,
            },
        ],
        gate: GateView {
            strict: true,
            checks: (0..5)
                .map(|i| CheckView {
                    context: format!("ci / job {i}"),
                    app_id: Some(15368),
                    sources: vec!["branch protection".into(), "ruleset 42".into()],
                    state: "pending".into(),
                    detail: "in progress".into(),
                    since: Some(Utc::now()),
                    never_reported: false,
                    overdue: false,
                })
                .collect(),
            unreadable: Vec::new(),
            rules: Vec::new(),
        },
        merge: MergeView {
            plan: "merge attempt 2 of 6 answered …".into(),
            attempt: Some(Attempt {
                at: Some(Utc::now()),
                number: 2,
                answer: "Required status check \"test\" is expected".into(),
            }),
            next_retry: Some(Utc::now()),
            max_attempts: 6,
            request: None,
        },
        blockers: Vec::new(),
        stack: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = Store::open(&url, StoreOptions::default()).await?;
        let repo: RepoName = "acme/app".parse()?;
        let mut writes = Vec::new();
        for n in 0..HISTORY_PER_PR * 2 {
            let e = Evaluation {
                repo: repo.clone(),
                pr: PrNumber(7),
                at: Utc::now(),
                cause: format!(
                    "delivery 58474f00-b361-11eb-836d-0e4f3503cc{n:02} (check_run.completed)"
                ),
                head: HEAD.parse()?,
                decision: "waiting".into(),
                reason: "waiting for `test`".into(),
                requests: 10,
                snapshot: serde_json::to_string(&snapshot(n))?,
            };
            let t = Instant::now();
            store.record_evaluation(&e).await?;
            writes.push(t.elapsed());
        }
        let (mut reads, mut decodes, mut renders) = (Vec::new(), Vec::new(), Vec::new());
        let mut size = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let history = store
                .evaluations(&repo, PrNumber(7), HISTORY_PER_PR)
                .await?;
            reads.push(t.elapsed());
            let t = Instant::now();
            let history: Vec<_> = history
                .into_iter()
                .map(|e| {
                    let s = serde_json::from_str::<PageSnapshot>(&e.snapshot).unwrap_or_default();
                    (e, s)
                })
                .collect();
            decodes.push(t.elapsed());
            let t = Instant::now();
            let html =
                black_box(views::pull_page(&repo, PrNumber(7), &history, None)).into_string();
            renders.push(t.elapsed());
            size = html.len();
        }
        println!(
            "history of {HISTORY_PER_PR} evaluations; medians of {RUNS} runs ({} writes)",
            writes.len()
        );
        println!(
            "record_evaluation (SQLite, trim included): {:?}",
            median(writes)
        );
        println!("store read:       {:?}", median(reads));
        println!("snapshot decode:  {:?}", median(decodes));
        println!("template render:  {:?}", median(renders));
        println!("page size:        {} KiB", size / 1024);
        store.close().await;
        anyhow::Ok(())
    })
}

//! Several `seamguard serve` replicas on one PostgreSQL database (issue 14),
//! with the real binary: deliveries spread over both, a replica killed with
//! SIGKILL at random moments and restarted, and a replica killed in the
//! middle of an evaluation. Needs `SEAMGUARD_TEST_POSTGRES`; without it each
//! test passes after one line saying the PostgreSQL suite was skipped.

mod store_backends;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use store_backends::{Backend, TestDb};
use support::binary::{self, Process};
use support::flows::{WAIT, feature_pr, merged};
use support::{Delivery, FakeGitHub, WEBHOOK_SECRET};

/// Short, so a dead replica's work is taken over in seconds.
const LEASE: Duration = Duration::from_secs(2);

/// The environment of one replica: its own directory, the shared database.
fn replica_env(gh: &FakeGitHub, dir: &Path, db: &TestDb) -> Vec<(String, String)> {
    let mut env = binary::env(gh, dir);
    for (k, v) in &mut env {
        if k == "DATABASE_URL" {
            v.clone_from(&db.url);
        }
    }
    env.push(("WORK_LEASE".to_owned(), format!("{}s", LEASE.as_secs())));
    env
}

/// POSTs `d` to `url` as GitHub would; the status, or `None` when nothing
/// answered (the replica is dead).
async fn send(client: &reqwest::Client, url: &str, d: &Delivery) -> Option<u16> {
    let mut request = client.post(url).body(d.bytes());
    for (k, v) in d.headers(WEBHOOK_SECRET) {
        request = request.header(k, v);
    }
    request.send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_killed_at_random_lose_nothing_and_never_act_twice() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    const PRS: u64 = 12;
    const ROUNDS: usize = 4;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let heads: HashMap<u64, String> = (1..=PRS)
        .map(|n| {
            let head = feature_pr(&repo, n, &format!("feature-{n}"), &["automerge"]);
            (n, head.as_str().to_owned())
        })
        .collect();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let envs: Vec<_> = dirs
        .iter()
        .map(|d| replica_env(&gh, d.path(), &db))
        .collect();
    let mut replicas = [Process::spawn(&envs[0]), Process::spawn(&envs[1])];
    let client = reqwest::Client::new();

    let mut acknowledged: Vec<Delivery> = Vec::new();
    let mut kills = 0;
    for round in 0..ROUNDS {
        let kill_after = rand::random_range(1..=PRS);
        for n in 1..=PRS {
            if n == kill_after {
                // Replica 0 dies wherever it is: claiming, evaluating,
                // merging, committing an ingest.
                replicas[0].kill9();
                kills += 1;
            }
            let action = if round == 0 { "opened" } else { "synchronize" };
            let d = repo.pull_request_event(action, n);
            // Spread over both; a dead replica's share is redelivered to
            // the other, as GitHub's redelivery would.
            let first = usize::from(n % 2 == 0);
            let mut status = send(&client, &replicas[first].webhook(), &d).await;
            // 200: the same body was stored before (a later round's
            // `synchronize` of a merged pull request is the same bytes).
            if !matches!(status, Some(200 | 202)) {
                status = send(&client, &replicas[1 - first].webhook(), &d).await;
            }
            match status {
                Some(200 | 202) => acknowledged.push(d),
                other => panic!("no live replica stored delivery {}: {other:?}", d.guid),
            }
        }
        if replicas[0].child.try_wait().unwrap().is_some() {
            replicas[0] = Process::spawn(&envs[0]);
        }
    }
    assert_eq!(kills, ROUNDS, "killed once a round");

    // Settles: every pull request merged with its run completed.
    gh.wait_for(
        "every pull request evaluated and merged",
        |w| {
            (1..=PRS).all(|n| {
                merged(w, "acme/app", n)
                    && w.check_runs_named("seamguard")
                        .any(|r| r.is_completed() && r.head_sha.as_str() == heads[&n])
            })
        },
        WAIT * 2,
    )
    .await;
    {
        let world = gh.world();
        for (n, head) in &heads {
            let runs: Vec<_> = world
                .check_runs_named("seamguard")
                .filter(|r| r.head_sha.as_str() == head.as_str())
                .collect();
            assert_eq!(
                runs.len(),
                1,
                "one check run on the head of #{n}: {runs:#?}"
            );
            assert!(runs[0].is_completed(), "#{n} left in progress");
        }
    }
    for n in 1..=PRS {
        // A replica killed between GitHub's 202 and keeping its uuid leaves
        // the request with GitHub: the other asks again, and GitHub answers
        // 409 with the request it holds (adopted, not a second merge).
        let answers: Vec<u16> = support::ready::merge_requests(&gh, n)
            .iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(
            answers.iter().filter(|s| **s != 409).count(),
            1,
            "#{n} merged once: {answers:?}"
        );
        let held = gh.with_world(|w| w.async_merges.values().filter(|m| m.number == n).count());
        assert!(held <= 1, "#{n}: one request held by GitHub, not {held}");
    }
    // Every acknowledged delivery is stored: each is now a duplicate.
    for d in &acknowledged {
        let status = send(&client, &replicas[1].webhook(), d).await;
        assert_eq!(status, Some(200), "{} was acknowledged but lost", d.guid);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_evaluation_leaves_the_check_run_to_the_other() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut first = Process::spawn(&replica_env(&gh, dirs[0].path(), &db));
    // The evaluation stops mid-way, before its run is written (the
    // completion creates it): the compare hangs (long past the kill), once.
    gh.fail_next("GET /compare/*", 502, "{}")
        .delay(Duration::from_secs(120));
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &first.webhook())
            .await,
        202
    );
    gh.wait_for(
        "the first replica asked for the compare",
        |w| {
            w.attempts
                .iter()
                .any(|a| a.method == "GET" && a.path.contains("/compare/"))
        },
        WAIT,
    )
    .await;
    let second = Process::spawn(&replica_env(&gh, dirs[1].path(), &db));
    first.kill9();
    let killed = Instant::now();

    let h = head.clone();
    gh.wait_for(
        "the other replica completed the run within the lease and a few seconds",
        move |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.head_sha == h && r.is_completed())
        },
        LEASE + Duration::from_secs(8),
    )
    .await;
    println!(
        "hand-over: completed {:?} after the kill (lease {LEASE:?})",
        killed.elapsed()
    );
    let runs = gh
        .world()
        .check_runs_named("seamguard")
        .filter(|r| r.head_sha == head)
        .count();
    assert_eq!(runs, 1, "one check run, completed, not a second one");
    drop(second);
}

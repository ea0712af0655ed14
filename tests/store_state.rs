//! The small per-PR and per-SHA state the engine keeps in the store: merge
//! attempts, first sightings, check runs, waiting marks, meta values.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seamguard::ids::{CheckRunId, CommitSha, InstallationId, PrNumber, RepoName};
use seamguard::store::{Store, StoreOptions, Work};
use tempfile::TempDir;

async fn open() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Store::open(&url, StoreOptions::default()).await.unwrap();
    (dir, store)
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn repo() -> RepoName {
    "acme/app".parse().unwrap()
}

/// Merge attempts recorded on `head` of `acme/app#pr`.
async fn attempts(store: &Store, pr: u64, head: &CommitSha) -> u32 {
    store
        .merge_attempts(&repo(), PrNumber(pr), head)
        .await
        .unwrap()
}

/// Records one on `head` of `acme/app#pr`; the count after it.
async fn record(store: &Store, pr: u64, head: &CommitSha, outcome: &str) -> u32 {
    store
        .record_merge_attempt(&repo(), PrNumber(pr), head, outcome)
        .await
        .unwrap()
}

fn sha(c: char) -> CommitSha {
    c.to_string().repeat(40).parse().unwrap()
}

#[tokio::test]
async fn merge_attempts_are_counted_per_pull_request_and_head() {
    let (_dir, store) = open().await;
    let (a, b) = (sha('a'), sha('b'));
    assert_eq!(attempts(&store, 7, &a).await, 0);

    assert_eq!(record(&store, 7, &a, "pending").await, 1);
    assert_eq!(record(&store, 7, &a, "transient").await, 2);
    assert_eq!(attempts(&store, 7, &a).await, 2);

    // A new head starts over; other PRs and repos are their own.
    assert_eq!(attempts(&store, 7, &b).await, 0);
    assert_eq!(record(&store, 7, &b, "pending").await, 1);
    assert_eq!(attempts(&store, 8, &a).await, 0);
    let other: RepoName = "acme/other".parse().unwrap();
    assert_eq!(
        store.merge_attempts(&other, PrNumber(7), &a).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn first_seen_keeps_the_first_sighting() {
    let (_dir, store) = open().await;
    assert_eq!(
        store.first_seen(&repo(), &sha('a'), t(10)).await.unwrap(),
        t(10)
    );
    assert_eq!(
        store.first_seen(&repo(), &sha('a'), t(99)).await.unwrap(),
        t(10)
    );
    assert_eq!(
        store.first_seen(&repo(), &sha('b'), t(50)).await.unwrap(),
        t(50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_sightings_agree() {
    let (_dir, store) = open().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.first_seen(&repo(), &sha('c'), t(i)).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

#[tokio::test]
async fn stale_check_runs_are_those_left_in_progress() {
    let (_dir, store) = open().await;
    let inst = InstallationId(42);
    store
        .check_run_opened(&repo(), inst, &sha('a'), CheckRunId(1), t(0))
        .await
        .unwrap();
    store
        .check_run_opened(&repo(), inst, &sha('b'), CheckRunId(2), t(10))
        .await
        .unwrap();
    store
        .check_run_opened(&repo(), inst, &sha('c'), CheckRunId(3), t(100))
        .await
        .unwrap();
    store
        .check_run_completed(CheckRunId(2), "digest-2")
        .await
        .unwrap();

    let stale = store.stale_check_runs(t(50)).await.unwrap();
    assert_eq!(stale.len(), 1);
    let run = &stale[0];
    assert_eq!(
        (
            run.id,
            &run.repo,
            run.installation,
            &run.head,
            run.opened_at
        ),
        (CheckRunId(1), &repo(), inst, &sha('a'), t(0))
    );

    let stale: Vec<_> = store
        .stale_check_runs(t(101))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        stale,
        [CheckRunId(1), CheckRunId(3)],
        "oldest first, completed ones left out"
    );
}

#[tokio::test]
async fn a_check_run_digest_is_kept_until_the_run_is_reopened() {
    let (_dir, store) = open().await;
    let id = CheckRunId(9_000_000_000);
    assert_eq!(store.check_run_digest(id).await.unwrap(), None);
    store
        .check_run_opened(&repo(), InstallationId(1), &sha('a'), id, t(0))
        .await
        .unwrap();
    assert_eq!(store.check_run_digest(id).await.unwrap(), None);
    store.check_run_completed(id, "sha256:abc").await.unwrap();
    assert_eq!(
        store.check_run_digest(id).await.unwrap().as_deref(),
        Some("sha256:abc")
    );

    // Re-running the evaluation sets the run in progress again.
    store
        .check_run_opened(&repo(), InstallationId(1), &sha('a'), id, t(5))
        .await
        .unwrap();
    assert_eq!(store.check_run_digest(id).await.unwrap(), None);
    assert_eq!(
        store.stale_check_runs(t(6)).await.unwrap()[0].opened_at,
        t(5)
    );
}

#[tokio::test]
async fn waiting_work_is_listed_least_recently_marked_first() {
    let (_dir, store) = open().await;
    let work = |n| Work::pr(InstallationId(42), repo(), PrNumber(n));
    store.set_waiting(&work(1), true, t(0)).await.unwrap();
    store.set_waiting(&work(2), true, t(1)).await.unwrap();
    store.set_waiting(&work(3), true, t(2)).await.unwrap();
    assert_eq!(
        store.waiting(10).await.unwrap(),
        [work(1), work(2), work(3)]
    );

    // #1 is evaluated again and still waits: it goes to the back.
    store.set_waiting(&work(1), true, t(3)).await.unwrap();
    assert_eq!(store.waiting(2).await.unwrap(), [work(2), work(3)]);

    store.set_waiting(&work(2), false, t(4)).await.unwrap();
    store.set_waiting(&work(9), false, t(4)).await.unwrap();
    assert_eq!(store.waiting(10).await.unwrap(), [work(3), work(1)]);
}

#[tokio::test]
async fn meta_values_are_set_and_replaced() {
    let (_dir, store) = open().await;
    assert_eq!(store.meta("hook_deliveries.cursor").await.unwrap(), None);
    store
        .set_meta("hook_deliveries.cursor", "100")
        .await
        .unwrap();
    store
        .set_meta("hook_deliveries.cursor", "250")
        .await
        .unwrap();
    assert_eq!(
        store
            .meta("hook_deliveries.cursor")
            .await
            .unwrap()
            .as_deref(),
        Some("250")
    );
}

#[tokio::test]
async fn prune_removes_per_pr_records_nobody_touched_within_the_age() {
    let (_dir, store) = open().await;
    let inst = InstallationId(42);
    let work = Work::pr(inst, repo(), PrNumber(1));
    store.first_seen(&repo(), &sha('a'), t(0)).await.unwrap();
    store.set_waiting(&work, true, t(0)).await.unwrap();
    store
        .check_run_opened(&repo(), inst, &sha('a'), CheckRunId(1), t(0))
        .await
        .unwrap();
    store
        .check_run_opened(&repo(), inst, &sha('b'), CheckRunId(2), t(0))
        .await
        .unwrap();
    store.check_run_completed(CheckRunId(2), "d").await.unwrap();
    store
        .record_merge_attempt(&repo(), PrNumber(1), &sha('a'), "pending")
        .await
        .unwrap();
    store
        .first_seen(&repo(), &sha('b'), Utc::now())
        .await
        .unwrap();

    // Merge attempts and completions are stamped with the wall clock; prune
    // from far enough ahead that they are old too.
    let now = Utc::now() + chrono::Duration::days(30);
    let removed = store
        .prune(now, Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(
        removed, 5,
        "first sightings (2), waiting mark, completed run, merge attempts"
    );

    assert!(store.waiting(10).await.unwrap().is_empty());
    assert_eq!(
        store
            .merge_attempts(&repo(), PrNumber(1), &sha('a'))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.check_run_digest(CheckRunId(2)).await.unwrap(), None);
    // The watchdog still owns the run left in progress.
    assert_eq!(
        store.stale_check_runs(now).await.unwrap()[0].id,
        CheckRunId(1)
    );
}

#[tokio::test]
async fn prune_keeps_recent_per_pr_records() {
    let (_dir, store) = open().await;
    let now = Utc::now();
    store.first_seen(&repo(), &sha('a'), now).await.unwrap();
    store
        .record_merge_attempt(&repo(), PrNumber(1), &sha('a'), "pending")
        .await
        .unwrap();
    assert_eq!(
        store.prune(now, Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .first_seen(&repo(), &sha('a'), now + chrono::Duration::hours(1))
            .await
            .unwrap()
            .timestamp_millis(),
        now.timestamp_millis()
    );
    assert_eq!(
        store
            .merge_attempts(&repo(), PrNumber(1), &sha('a'))
            .await
            .unwrap(),
        1
    );
}

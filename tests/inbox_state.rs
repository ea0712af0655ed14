//! The small per-PR and per-SHA state the engine keeps in the inbox: merge
//! attempts, first sightings, check runs, waiting marks, meta values.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seamguard::ids::{CheckRunId, CommitSha, InstallationId, PrNumber, RepoName};
use seamguard::inbox::{Inbox, InboxOptions, Work};
use tempfile::TempDir;

async fn open() -> (TempDir, Inbox) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    let inbox = Inbox::open(&url, InboxOptions::default()).await.unwrap();
    (dir, inbox)
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn repo() -> RepoName {
    "acme/app".parse().unwrap()
}

/// Merge attempts recorded on `head` of `acme/app#pr`.
async fn attempts(inbox: &Inbox, pr: u64, head: &CommitSha) -> u32 {
    inbox
        .merge_attempts(&repo(), PrNumber(pr), head)
        .await
        .unwrap()
}

/// Records one on `head` of `acme/app#pr`; the count after it.
async fn record(inbox: &Inbox, pr: u64, head: &CommitSha, outcome: &str) -> u32 {
    inbox
        .record_merge_attempt(&repo(), PrNumber(pr), head, outcome)
        .await
        .unwrap()
}

fn sha(c: char) -> CommitSha {
    c.to_string().repeat(40).parse().unwrap()
}

#[tokio::test]
async fn merge_attempts_are_counted_per_pull_request_and_head() {
    let (_dir, inbox) = open().await;
    let (a, b) = (sha('a'), sha('b'));
    assert_eq!(attempts(&inbox, 7, &a).await, 0);

    assert_eq!(record(&inbox, 7, &a, "pending").await, 1);
    assert_eq!(record(&inbox, 7, &a, "transient").await, 2);
    assert_eq!(attempts(&inbox, 7, &a).await, 2);

    // A new head starts over; other PRs and repos are their own.
    assert_eq!(attempts(&inbox, 7, &b).await, 0);
    assert_eq!(record(&inbox, 7, &b, "pending").await, 1);
    assert_eq!(attempts(&inbox, 8, &a).await, 0);
    let other: RepoName = "acme/other".parse().unwrap();
    assert_eq!(
        inbox.merge_attempts(&other, PrNumber(7), &a).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn first_seen_keeps_the_first_sighting() {
    let (_dir, inbox) = open().await;
    assert_eq!(
        inbox.first_seen(&repo(), &sha('a'), t(10)).await.unwrap(),
        t(10)
    );
    assert_eq!(
        inbox.first_seen(&repo(), &sha('a'), t(99)).await.unwrap(),
        t(10)
    );
    assert_eq!(
        inbox.first_seen(&repo(), &sha('b'), t(50)).await.unwrap(),
        t(50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_sightings_agree() {
    let (_dir, inbox) = open().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.first_seen(&repo(), &sha('c'), t(i)).await.unwrap() })
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
    let (_dir, inbox) = open().await;
    let inst = InstallationId(42);
    inbox
        .check_run_opened(&repo(), inst, &sha('a'), CheckRunId(1), t(0))
        .await
        .unwrap();
    inbox
        .check_run_opened(&repo(), inst, &sha('b'), CheckRunId(2), t(10))
        .await
        .unwrap();
    inbox
        .check_run_opened(&repo(), inst, &sha('c'), CheckRunId(3), t(100))
        .await
        .unwrap();
    inbox
        .check_run_completed(CheckRunId(2), "digest-2")
        .await
        .unwrap();

    let stale = inbox.stale_check_runs(t(50)).await.unwrap();
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

    let stale: Vec<_> = inbox
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
    let (_dir, inbox) = open().await;
    let id = CheckRunId(9_000_000_000);
    assert_eq!(inbox.check_run_digest(id).await.unwrap(), None);
    inbox
        .check_run_opened(&repo(), InstallationId(1), &sha('a'), id, t(0))
        .await
        .unwrap();
    assert_eq!(inbox.check_run_digest(id).await.unwrap(), None);
    inbox.check_run_completed(id, "sha256:abc").await.unwrap();
    assert_eq!(
        inbox.check_run_digest(id).await.unwrap().as_deref(),
        Some("sha256:abc")
    );

    // Re-running the evaluation sets the run in progress again.
    inbox
        .check_run_opened(&repo(), InstallationId(1), &sha('a'), id, t(5))
        .await
        .unwrap();
    assert_eq!(inbox.check_run_digest(id).await.unwrap(), None);
    assert_eq!(
        inbox.stale_check_runs(t(6)).await.unwrap()[0].opened_at,
        t(5)
    );
}

#[tokio::test]
async fn waiting_work_is_listed_least_recently_marked_first() {
    let (_dir, inbox) = open().await;
    let work = |n| Work::pr(InstallationId(42), repo(), PrNumber(n));
    inbox.set_waiting(&work(1), true, t(0)).await.unwrap();
    inbox.set_waiting(&work(2), true, t(1)).await.unwrap();
    inbox.set_waiting(&work(3), true, t(2)).await.unwrap();
    assert_eq!(
        inbox.waiting(10).await.unwrap(),
        [work(1), work(2), work(3)]
    );

    // #1 is evaluated again and still waits: it goes to the back.
    inbox.set_waiting(&work(1), true, t(3)).await.unwrap();
    assert_eq!(inbox.waiting(2).await.unwrap(), [work(2), work(3)]);

    inbox.set_waiting(&work(2), false, t(4)).await.unwrap();
    inbox.set_waiting(&work(9), false, t(4)).await.unwrap();
    assert_eq!(inbox.waiting(10).await.unwrap(), [work(3), work(1)]);
}

#[tokio::test]
async fn meta_values_are_set_and_replaced() {
    let (_dir, inbox) = open().await;
    assert_eq!(inbox.meta("hook_deliveries.cursor").await.unwrap(), None);
    inbox
        .set_meta("hook_deliveries.cursor", "100")
        .await
        .unwrap();
    inbox
        .set_meta("hook_deliveries.cursor", "250")
        .await
        .unwrap();
    assert_eq!(
        inbox
            .meta("hook_deliveries.cursor")
            .await
            .unwrap()
            .as_deref(),
        Some("250")
    );
}

#[tokio::test]
async fn prune_removes_per_pr_records_nobody_touched_within_the_age() {
    let (_dir, inbox) = open().await;
    let inst = InstallationId(42);
    let work = Work::pr(inst, repo(), PrNumber(1));
    inbox.first_seen(&repo(), &sha('a'), t(0)).await.unwrap();
    inbox.set_waiting(&work, true, t(0)).await.unwrap();
    inbox
        .check_run_opened(&repo(), inst, &sha('a'), CheckRunId(1), t(0))
        .await
        .unwrap();
    inbox
        .check_run_opened(&repo(), inst, &sha('b'), CheckRunId(2), t(0))
        .await
        .unwrap();
    inbox.check_run_completed(CheckRunId(2), "d").await.unwrap();
    inbox
        .record_merge_attempt(&repo(), PrNumber(1), &sha('a'), "pending")
        .await
        .unwrap();
    inbox
        .first_seen(&repo(), &sha('b'), Utc::now())
        .await
        .unwrap();

    // Merge attempts and completions are stamped with the wall clock; prune
    // from far enough ahead that they are old too.
    let now = Utc::now() + chrono::Duration::days(30);
    let removed = inbox
        .prune(now, Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(
        removed, 5,
        "first sightings (2), waiting mark, completed run, merge attempts"
    );

    assert!(inbox.waiting(10).await.unwrap().is_empty());
    assert_eq!(
        inbox
            .merge_attempts(&repo(), PrNumber(1), &sha('a'))
            .await
            .unwrap(),
        0
    );
    assert_eq!(inbox.check_run_digest(CheckRunId(2)).await.unwrap(), None);
    // The watchdog still owns the run left in progress.
    assert_eq!(
        inbox.stale_check_runs(now).await.unwrap()[0].id,
        CheckRunId(1)
    );
}

#[tokio::test]
async fn prune_keeps_recent_per_pr_records() {
    let (_dir, inbox) = open().await;
    let now = Utc::now();
    inbox.first_seen(&repo(), &sha('a'), now).await.unwrap();
    inbox
        .record_merge_attempt(&repo(), PrNumber(1), &sha('a'), "pending")
        .await
        .unwrap();
    assert_eq!(
        inbox.prune(now, Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(
        inbox
            .first_seen(&repo(), &sha('a'), now + chrono::Duration::hours(1))
            .await
            .unwrap()
            .timestamp_millis(),
        now.timestamp_millis()
    );
    assert_eq!(
        inbox
            .merge_attempts(&repo(), PrNumber(1), &sha('a'))
            .await
            .unwrap(),
        1
    );
}

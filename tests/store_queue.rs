//! The store as a queue: deduplication, coalescing, leases, retries,
//! restarts and retention. One suite, two backends: every behavioural test
//! runs against a SQLite file in a temp directory (`sqlite::`) and against
//! a fresh PostgreSQL database (`postgres::`, when `SEAMGUARD_TEST_POSTGRES`
//! is set); the few that are about one backend's mechanics say so.

mod store_backends;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use seamguard::ids::{CommitSha, DeliveryId, InstallationId, PrNumber, RepoName};
use seamguard::store::{Claim, Ingested, NewDelivery, Store, StoreError, StoreOptions, Work};
use sqlx::Connection;
use store_backends::{Backend, TestDb};

const LEASE: Duration = Duration::from_secs(60);

struct Opened {
    db: TestDb,
    store: Store,
}

impl Opened {
    /// A fresh store of `backend`; `None` when that backend is not
    /// available (PostgreSQL not configured).
    async fn open(backend: Backend) -> Option<Self> {
        Self::open_with(backend, StoreOptions::default()).await
    }

    async fn open_with(backend: Backend, opts: StoreOptions) -> Option<Self> {
        let db = TestDb::new(backend).await?;
        let store = Store::open(&db.url, opts).await.unwrap();
        Some(Self { db, store })
    }
}

/// A fixed clock: `t(s)` is `s` seconds after an arbitrary epoch.
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn pr(n: u64) -> Work {
    Work::pr(InstallationId(42), "acme/app".parse().unwrap(), PrNumber(n))
}

fn delivery(id: &str, at: DateTime<Utc>, work: Vec<Work>) -> NewDelivery {
    NewDelivery {
        id: id.parse::<DeliveryId>().unwrap(),
        event: "pull_request".into(),
        action: Some("synchronize".into()),
        installation: Some(InstallationId(42)),
        received_at: at,
        settle: std::time::Duration::ZERO,
        work,
        body_digest: None,
        activity: None,
    }
}

fn keys(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|c| c.key.as_str()).collect()
}

/// Ingests `d`, which must succeed (stored or duplicate).
async fn ingest(store: &Store, d: NewDelivery) {
    store.ingest(d).await.unwrap();
}

/// Claims up to `max` items due at `now` under [`LEASE`]; their keys.
async fn claimed(store: &Store, now: DateTime<Utc>, max: usize) -> Vec<String> {
    let claims = store.claim(now, max, LEASE).await.unwrap();
    keys(&claims).into_iter().map(str::to_owned).collect()
}

async fn a_duplicate_delivery_is_acknowledged_but_not_enqueued_again(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;

    assert_eq!(
        store
            .ingest(delivery("d-1", t(0), vec![pr(7)]))
            .await
            .unwrap(),
        Ingested::Stored
    );
    assert_eq!(
        store
            .ingest(delivery("d-1", t(1), vec![pr(7)]))
            .await
            .unwrap(),
        Ingested::Duplicate
    );
    assert!(store.has_delivery(&"d-1".parse().unwrap()).await.unwrap());
    assert!(!store.has_delivery(&"d-2".parse().unwrap()).await.unwrap());
    assert_eq!(store.queue_stats(t(1)).await.unwrap().depth, 1);

    let claims = store.claim(t(1), 10, LEASE).await.unwrap();
    assert_eq!(keys(&claims), ["acme/app#7"]);
    assert_eq!(claims[0].work, pr(7));
    assert_eq!(claims[0].attempts, 0);
    store.complete(&claims[0]).await.unwrap();

    // GitHub's redelivery of an evaluated delivery reuses its id: nothing to do.
    assert_eq!(
        store
            .ingest(delivery("d-1", t(2), vec![pr(7)]))
            .await
            .unwrap(),
        Ingested::Duplicate
    );
    assert!(store.claim(t(2), 10, LEASE).await.unwrap().is_empty());
    assert_eq!(store.queue_stats(t(2)).await.unwrap().depth, 0);
}

async fn old_and_new_ids_arriving_together_are_told_apart(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    for id in ["old-1", "old-2"] {
        ingest(&s.store, delivery(id, t(0), vec![])).await;
    }
    // Sent together, so they share batches: the new ones are stored and
    // enqueue their work, the old ones are duplicates and enqueue nothing.
    let sent = [
        ("old-1", 1),
        ("new-1", 2),
        ("old-2", 3),
        ("new-2", 4),
        ("new-3", 5),
    ];
    let results = futures::future::join_all(
        sent.iter()
            .map(|(id, n)| s.store.ingest(delivery(id, t(1), vec![pr(*n)]))),
    )
    .await;
    let results: Vec<Ingested> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        results,
        [
            Ingested::Duplicate,
            Ingested::Stored,
            Ingested::Duplicate,
            Ingested::Stored,
            Ingested::Stored
        ]
    );
    let claims = s.store.claim(t(1), 10, LEASE).await.unwrap();
    let mut claimed = keys(&claims);
    claimed.sort();
    assert_eq!(claimed, ["acme/app#2", "acme/app#4", "acme/app#5"]);
}

async fn a_duplicate_inside_one_batch_is_stored_once(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let results = futures::future::join_all(
        (0..20).map(|_| s.store.ingest(delivery("same", t(0), vec![pr(1)]))),
    )
    .await;
    let stored = results
        .iter()
        .filter(|r| matches!(r, Ok(Ingested::Stored)))
        .count();
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Ok(Ingested::Duplicate)))
        .count();
    assert_eq!((stored, duplicates), (1, 19));
}

async fn a_delivery_without_work_is_only_recorded(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    assert_eq!(
        s.store
            .ingest(delivery("ping", t(0), vec![]))
            .await
            .unwrap(),
        Ingested::Stored
    );
    assert!(
        s.store
            .has_delivery(&"ping".parse().unwrap())
            .await
            .unwrap()
    );
    assert_eq!(s.store.queue_stats(t(0)).await.unwrap().depth, 0);
    assert_eq!(s.store.next_due().await.unwrap(), None);
}

async fn two_hundred_concurrent_deliveries_for_one_pr_are_one_work_item(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = s.store.clone();
            tokio::spawn(async move {
                store
                    .ingest(delivery(&format!("d-{i}"), t(i % 7), vec![pr(7)]))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), Ingested::Stored);
    }
    let stats = s.store.queue_stats(t(10)).await.unwrap();
    assert_eq!((stats.depth, stats.due), (1, 1));
    // Coalesced to the earliest trigger.
    assert_eq!(s.store.next_due().await.unwrap(), Some(t(0)));

    // Concurrent claimers: exactly one of them gets the item.
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let store = s.store.clone();
            tokio::spawn(async move { store.claim(t(10), 10, LEASE).await })
        })
        .collect();
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap().unwrap());
    }
    assert_eq!(keys(&claimed), ["acme/app#7"]);
    assert!(s.store.claim(t(11), 10, LEASE).await.unwrap().is_empty());
}

async fn many_keys_are_each_claimed_by_exactly_one_worker(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let ingests = (0..300).map(|i| {
        s.store
            .ingest(delivery(&format!("d-{i}"), t(0), vec![pr(i % 100)]))
    });
    for result in futures::future::join_all(ingests).await {
        result.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = s.store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claims = store.claim(t(1), 7, LEASE).await.unwrap();
                    if claims.is_empty() {
                        return mine;
                    }
                    mine.extend(claims.into_iter().map(|c| c.key));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 100, "every key claimed once");
    assert_eq!(distinct.len(), 100);
}

async fn a_trigger_during_a_run_keeps_the_item_for_another_run(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    let first = store.claim(t(1), 10, LEASE).await.unwrap();
    assert_eq!(keys(&first), ["acme/app#7"]);

    // A check finishes while the evaluation runs.
    ingest(store, delivery("d-2", t(2), vec![pr(7)])).await;
    assert!(
        store.claim(t(3), 10, LEASE).await.unwrap().is_empty(),
        "one worker per key"
    );

    store.complete(&first[0]).await.unwrap();
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(t(2)),
        "due from the new trigger"
    );
    let second = store.claim(t(3), 10, LEASE).await.unwrap();
    assert_eq!(keys(&second), ["acme/app#7"]);
    assert_eq!(second[0].attempts, 0, "the first run succeeded");

    store.complete(&second[0]).await.unwrap();
    assert_eq!(store.queue_stats(t(4)).await.unwrap().depth, 0);
}

async fn a_scheduled_trigger_during_a_run_keeps_its_time(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    store.enqueue(pr(7), t(0)).await.unwrap();
    let claim = store.claim(t(0), 1, LEASE).await.unwrap();
    store.enqueue(pr(7), t(300)).await.unwrap();
    store.complete(&claim[0]).await.unwrap();
    assert!(store.claim(t(299), 1, LEASE).await.unwrap().is_empty());
    assert_eq!(claimed(store, t(300), 1).await, ["acme/app#7"]);
}

async fn an_expired_lease_makes_the_item_claimable_again(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    let crashed = store.claim(t(0), 10, LEASE).await.unwrap();
    assert_eq!(crashed[0].lease_until, t(60));
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(t(60)),
        "the dispatcher wakes when the lease ends"
    );

    let stats = store.queue_stats(t(59)).await.unwrap();
    assert_eq!((stats.leased, stats.due), (1, 0));
    assert!(store.claim(t(59), 10, LEASE).await.unwrap().is_empty());

    let again = store.claim(t(60), 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), ["acme/app#7"]);
    assert_eq!(again[0].attempts, 1, "the lost run counts as an attempt");
}

async fn a_stale_claim_cannot_finish_the_new_holders_run(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    let slow = store.claim(t(0), 10, LEASE).await.unwrap().remove(0);
    let fresh = store.claim(t(61), 10, LEASE).await.unwrap().remove(0);

    store.complete(&slow).await.unwrap();
    store.retry_at(&slow, t(0), "stale").await.unwrap();
    let stats = store.queue_stats(t(62)).await.unwrap();
    assert_eq!(
        (stats.depth, stats.leased),
        (1, 1),
        "still held by the fresh claim"
    );
    assert!(store.claim(t(62), 10, LEASE).await.unwrap().is_empty());

    store.complete(&fresh).await.unwrap();
    assert_eq!(store.queue_stats(t(62)).await.unwrap().depth, 0);
}

async fn retry_at_schedules_the_item_no_earlier_than_asked(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    let claim = store.claim(t(0), 10, LEASE).await.unwrap().remove(0);
    store
        .retry_at(&claim, t(30), "Required status check \"test\" is expected.")
        .await
        .unwrap();

    assert_eq!(store.next_due().await.unwrap(), Some(t(30)));
    let stats = store.queue_stats(t(10)).await.unwrap();
    assert_eq!((stats.depth, stats.scheduled, stats.due), (1, 1, 0));
    assert!(store.claim(t(29), 10, LEASE).await.unwrap().is_empty());

    let again = store.claim(t(30), 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), ["acme/app#7"]);
    assert_eq!(again[0].attempts, 1);
}

async fn defer_schedules_the_item_without_counting_an_attempt(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    let claim = store.claim(t(0), 10, LEASE).await.unwrap().remove(0);
    store
        .defer(&claim, t(40), "waiting for GitHub's rate limit")
        .await
        .unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(t(40)));
    assert!(store.claim(t(39), 10, LEASE).await.unwrap().is_empty());
    let again = store.claim(t(40), 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), ["acme/app#7"]);
    assert_eq!(again[0].attempts, 0, "held back, not tried");
    assert_eq!(again[0].reruns, 0, "held back, not re-run");
}

/// `t(0)` plus `ms` milliseconds.
fn ms(ms: i64) -> DateTime<Utc> {
    t(0) + chrono::Duration::milliseconds(ms)
}

/// A finished check's delivery at `at`, whose work waits `settle` for the
/// rest of its burst.
fn check_done(id: &str, at: DateTime<Utc>, settle: Duration) -> NewDelivery {
    NewDelivery {
        event: "check_run".into(),
        action: Some("completed".into()),
        settle,
        ..delivery(id, at, vec![pr(7)])
    }
}

/// Eight checks finishing within 700 ms are one work item, due a settle
/// after the first of them: later ones never push it back.
async fn a_burst_of_finished_checks_is_one_item_due_a_settle_after_the_first(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    let settle = Duration::from_secs(1);
    for i in 0..8 {
        ingest(store, check_done(&format!("d-{i}"), ms(i * 100), settle)).await;
    }
    assert_eq!(store.next_due().await.unwrap(), Some(ms(1000)));
    let stats = store.queue_stats(ms(700)).await.unwrap();
    assert_eq!((stats.depth, stats.due, stats.scheduled), (1, 0, 1));
    assert!(store.claim(ms(999), 10, LEASE).await.unwrap().is_empty());
    let claims = store.claim(ms(1000), 10, LEASE).await.unwrap();
    assert_eq!(keys(&claims), ["acme/app#7"]);
    store.complete(&claims[0]).await.unwrap();
    assert_eq!(
        store.queue_stats(ms(1000)).await.unwrap().depth,
        0,
        "one evaluation for the burst"
    );
}

/// A delivery that does not settle (a push) makes the settling item due at
/// once: the earlier due time wins, whichever came first.
async fn a_push_during_the_settle_runs_the_item_at_once(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, check_done("d-1", ms(0), Duration::from_secs(1))).await;
    ingest(store, delivery("d-2", ms(200), vec![pr(7)])).await;
    assert_eq!(store.next_due().await.unwrap(), Some(ms(200)));
    assert_eq!(claimed(store, ms(200), 10).await, ["acme/app#7"]);
}

/// A check that finishes while the item runs makes it due again a settle
/// after that check, so the rest of its burst joins the re-run.
async fn a_check_finishing_during_a_run_settles_before_the_rerun(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    let settle = Duration::from_secs(1);
    ingest(store, check_done("d-1", ms(0), settle)).await;
    let first = store.claim(ms(1000), 10, LEASE).await.unwrap();
    assert_eq!(keys(&first), ["acme/app#7"]);
    ingest(store, check_done("d-2", ms(1200), settle)).await;
    ingest(store, check_done("d-3", ms(1500), settle)).await;
    store.complete(&first[0]).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(ms(2200)));
    assert!(store.claim(ms(2199), 10, LEASE).await.unwrap().is_empty());
    assert_eq!(claimed(store, ms(2200), 10).await, ["acme/app#7"]);
}

/// A deferral for GitHub's budget is kept as a wait with its time and
/// reason, not as a failure; it ends when the item runs again.
async fn a_deferral_is_read_back_as_a_wait_for_the_budget(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    let repo: RepoName = "acme/app".parse().unwrap();
    ingest(store, delivery("d-1", t(0), vec![pr(7), pr(8)])).await;
    let claims = store.claim(t(0), 10, LEASE).await.unwrap();
    let (seven, eight) = (&claims[0], &claims[1]);
    assert_eq!(keys(&claims), ["acme/app#7", "acme/app#8"]);
    let why = "waiting for GitHub's limit on content-creating requests until 22:13:40 UTC";
    store.defer(seven, t(40), why).await.unwrap();
    store.retry_at(eight, t(30), "HTTP 502").await.unwrap();

    let wait = store
        .budget_wait(&repo, PrNumber(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (wait.key.as_str(), wait.until, wait.reason.as_str()),
        ("acme/app#7", t(40), why)
    );
    assert_eq!(
        store.budget_wait(&repo, PrNumber(8)).await.unwrap(),
        None,
        "a failure is no wait"
    );
    assert_eq!(store.budget_waits().await.unwrap(), [wait]);
    let failed = store.failed_jobs().await.unwrap();
    assert_eq!(
        failed.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["acme/app#8"],
        "a deferral is not a failure"
    );

    let again = store.claim(t(40), 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), ["acme/app#8", "acme/app#7"]);
    assert_eq!(
        store.budget_wait(&repo, PrNumber(7)).await.unwrap(),
        None,
        "running again"
    );
    assert!(store.budget_waits().await.unwrap().is_empty());
}

/// Work on #7 that names the head a `pull_request` delivery carried.
fn pr_at(head: &str) -> Work {
    Work {
        target: seamguard::store::Target::Pr {
            number: PrNumber(7),
            head: Some(head.parse().unwrap()),
        },
        ..pr(7)
    }
}

/// A push stored while #7's evaluation of its old head runs supersedes
/// that evaluation; a trigger that names no head, or the same head, does not.
async fn a_push_during_a_run_supersedes_the_head_it_evaluates(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    let (old, new) = ("1".repeat(40), "2".repeat(40));
    let (old_sha, new_sha): (CommitSha, CommitSha) = (old.parse().unwrap(), new.parse().unwrap());
    ingest(store, delivery("d-1", t(0), vec![pr_at(&old)])).await;
    let claim = store.claim(t(0), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(store.superseded(&claim.work, &old_sha).await.unwrap(), None);
    ingest(store, delivery("d-2", t(1), vec![pr(7)])).await;
    assert_eq!(
        store.superseded(&claim.work, &old_sha).await.unwrap(),
        None,
        "a review names no head"
    );
    ingest(store, delivery("d-3", t(2), vec![pr_at(&old)])).await;
    assert_eq!(store.superseded(&claim.work, &old_sha).await.unwrap(), None);
    ingest(store, delivery("d-4", t(3), vec![pr_at(&new)])).await;
    assert_eq!(
        store.superseded(&claim.work, &old_sha).await.unwrap(),
        Some(new_sha.clone())
    );
    assert_eq!(store.superseded(&claim.work, &new_sha).await.unwrap(), None);
    store.complete(&claim).await.unwrap();
    let again = store.claim(t(3), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(
        store.superseded(&again.work, &new_sha).await.unwrap(),
        None,
        "the re-run is not superseded by what it runs for"
    );
}

/// Planned re-runs (merge pending, head moved) are counted apart from
/// failures: however many there were, a failing job still has all its
/// attempts; a trigger that lands during a run starts both counts afresh.
async fn planned_reruns_do_not_use_up_attempts(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    for i in 0..9 {
        let claim = store.claim(t(i), 10, LEASE).await.unwrap().remove(0);
        assert_eq!(
            (claim.attempts, claim.reruns),
            (0, u32::try_from(i).unwrap())
        );
        store
            .rerun_at(&claim, t(i + 1), "merge attempt: Base branch was modified")
            .await
            .unwrap();
    }
    assert_eq!(store.next_due().await.unwrap(), Some(t(9)));
    let claim = store.claim(t(9), 10, LEASE).await.unwrap().remove(0);
    assert_eq!(
        (claim.attempts, claim.reruns),
        (0, 9),
        "nine re-runs, no failure"
    );
    store
        .retry_at(&claim, t(10), "GitHub failed: 502")
        .await
        .unwrap();
    let failed = store.failed_jobs().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 1, "one failure: {failed:?}");
    let claim = store.claim(t(10), 10, LEASE).await.unwrap().remove(0);
    assert_eq!((claim.attempts, claim.reruns), (1, 9));

    // A trigger during the run: completing keeps the item, both counts reset.
    ingest(store, delivery("d-2", t(10), vec![pr(7)])).await;
    store.complete(&claim).await.unwrap();
    let claim = store.claim(t(11), 10, LEASE).await.unwrap().remove(0);
    assert_eq!((claim.attempts, claim.reruns), (0, 0));
}

/// GitHub's budget ledger a server on this store is wired with (a table
/// on PostgreSQL, memory on the embedded store): leases are all or nothing
/// and never pass a cap; a pause holds until its time, the latest winning.
async fn the_budget_ledger_caps_leases_and_keeps_pauses(backend: Backend) {
    use seamguard::github::budget::{CONTENT_MINUTE, LeaseAnswer, LedgerAsk, REST_POINTS};
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    assert_eq!(
        s.store.shared_budget_ledger().is_some(),
        backend == Backend::Postgres,
        "only replicas on PostgreSQL share a ledger"
    );
    let ledger = seamguard::server::budget_ledger(&s.store);
    assert_eq!(ledger.shared(), backend == Backend::Postgres);
    let store = &ledger;
    let id = InstallationId(9);
    let ask = |want| {
        [
            LedgerAsk {
                window: REST_POINTS,
                want: 5 * want,
                cap: REST_POINTS.cap,
            },
            LedgerAsk {
                window: CONTENT_MINUTE,
                want,
                cap: 10,
            },
        ]
    };
    assert_eq!(
        store.lease(id, t(0), &ask(6)).await.unwrap(),
        LeaseAnswer::Granted
    );
    let refused = store.lease(id, t(1), &ask(5)).await.unwrap();
    assert!(
        matches!(refused, LeaseAnswer::Denied { until, .. } if until > t(1)),
        "{refused:?}"
    );
    assert_eq!(
        store.lease(id, t(1), &ask(4)).await.unwrap(),
        LeaseAnswer::Granted
    );
    // Another installation has its own budget.
    assert_eq!(
        store
            .lease(InstallationId(10), t(1), &ask(10))
            .await
            .unwrap(),
        LeaseAnswer::Granted
    );
    // Past the window (and its guard bucket), the units are back.
    assert_eq!(
        store.lease(id, t(80), &ask(10)).await.unwrap(),
        LeaseAnswer::Granted
    );

    assert_eq!(store.paused_until(id, t(0)).await.unwrap(), None);
    store.pause(id, t(60)).await.unwrap();
    store.pause(id, t(30)).await.unwrap();
    assert_eq!(store.paused_until(id, t(10)).await.unwrap(), Some(t(60)));
    assert_eq!(store.paused_until(id, t(61)).await.unwrap(), None);
    assert_eq!(
        store.paused_until(InstallationId(10), t(10)).await.unwrap(),
        None
    );
}

async fn a_trigger_during_a_run_overrides_the_retry_backoff(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    let claim = store.claim(t(0), 10, LEASE).await.unwrap().remove(0);
    ingest(store, delivery("d-2", t(5), vec![pr(7)])).await;
    store.retry_at(&claim, t(300), "transient").await.unwrap();
    assert_eq!(claimed(store, t(5), 10).await, ["acme/app#7"]);
}

async fn enqueue_coalesces_to_the_earliest_due_time(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    store.enqueue(pr(1), t(100)).await.unwrap();
    store.enqueue(pr(1), t(50)).await.unwrap();
    store.enqueue(pr(1), t(200)).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(t(50)));
    assert_eq!(store.queue_stats(t(0)).await.unwrap().depth, 1);
    assert!(store.claim(t(49), 10, LEASE).await.unwrap().is_empty());
    assert_eq!(claimed(store, t(50), 10).await, ["acme/app#1"]);
}

async fn claims_come_earliest_first_and_at_most_max(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    store.enqueue(pr(3), t(3)).await.unwrap();
    store.enqueue(pr(1), t(1)).await.unwrap();
    store.enqueue(pr(2), t(2)).await.unwrap();
    assert!(store.claim(t(9), 0, LEASE).await.unwrap().is_empty());
    assert_eq!(claimed(store, t(9), 2).await, ["acme/app#1", "acme/app#2"]);
    assert_eq!(claimed(store, t(9), 2).await, ["acme/app#3"]);
}

async fn work_kinds_keep_their_own_keys(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let repo: RepoName = "acme/app".parse().unwrap();
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e".parse().unwrap();
    let work = vec![
        pr(7),
        Work::commit(InstallationId(42), repo.clone(), sha),
        Work::base_branch(InstallationId(42), repo, "main"),
    ];
    ingest(&s.store, delivery("d-1", t(0), work.clone())).await;
    let mut claimed: Vec<Work> = s
        .store
        .claim(t(0), 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.work)
        .collect();
    claimed.sort_by_key(Work::key);
    let mut expected = work;
    expected.sort_by_key(Work::key);
    assert_eq!(claimed, expected);
}

#[tokio::test]
async fn after_a_crash_unfinished_work_resumes() {
    let Opened { db, store } = Opened::open(Backend::Sqlite).await.unwrap();
    ingest(&store, delivery("d-1", t(0), vec![pr(1)])).await;
    ingest(&store, delivery("d-2", t(0), vec![pr(2)])).await;
    let running = store
        .claim(t(1), 1, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(keys(&running), ["acme/app#1"]);
    // The process dies: no complete, no close.
    drop(running);
    drop(store);

    let restarted = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    assert!(
        restarted
            .has_delivery(&"d-2".parse().unwrap())
            .await
            .unwrap(),
        "acknowledged deliveries survive"
    );
    // Until released, the dead worker's lease still holds #1.
    let other = restarted.claim(t(2), 10, LEASE).await.unwrap();
    assert_eq!(keys(&other), ["acme/app#2"]);
    restarted.complete(&other[0]).await.unwrap();

    assert_eq!(restarted.release_all_leases().await.unwrap(), 1);
    let resumed = restarted.claim(t(2), 10, LEASE).await.unwrap();
    assert_eq!(keys(&resumed), ["acme/app#1"]);
    assert_eq!(resumed[0].attempts, 1);
    assert_eq!(
        restarted
            .ingest(delivery("d-1", t(3), vec![pr(1)]))
            .await
            .unwrap(),
        Ingested::Duplicate,
        "deduplication survives a restart"
    );
}

async fn prune_removes_old_deliveries_and_keeps_the_dedup_window(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    ingest(store, delivery("old", t(0), vec![])).await;
    ingest(store, delivery("recent", t(7200), vec![])).await;

    let removed = store
        .prune(t(3 * 3600), Duration::from_secs(2 * 3600))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!store.has_delivery(&"old".parse().unwrap()).await.unwrap());
    assert!(
        store
            .has_delivery(&"recent".parse().unwrap())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .ingest(delivery("recent", t(3 * 3600), vec![]))
            .await
            .unwrap(),
        Ingested::Duplicate
    );
    assert_eq!(
        store
            .ingest(delivery("old", t(3 * 3600), vec![]))
            .await
            .unwrap(),
        Ingested::Stored
    );
}

async fn prune_leaves_queued_work_alone(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    ingest(&s.store, delivery("d-1", t(0), vec![pr(7)])).await;
    s.store
        .prune(t(1_000_000), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(claimed(&s.store, t(1_000_000), 10).await, ["acme/app#7"]);
}

async fn prune_works_through_a_large_backlog(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let ingests = (0..12_345).map(|i| {
        s.store
            .ingest(delivery(&format!("d-{i}"), t(i % 100), vec![]))
    });
    for result in futures::future::join_all(ingests).await {
        assert_eq!(result.unwrap(), Ingested::Stored);
    }
    let removed = s
        .store
        .prune(t(200), Duration::from_secs(50))
        .await
        .unwrap();
    assert_eq!(removed, 12_345);
    assert!(!s.store.has_delivery(&"d-0".parse().unwrap()).await.unwrap());
}

async fn head_activity_is_read_back_and_pruned_with_the_retention_age(backend: Backend) {
    use seamguard::events::{Activity, Actor, PrActivity};
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let repo: seamguard::ids::RepoName = "Acme/App".parse().unwrap();
    let head: seamguard::ids::CommitSha =
        "1111111111111111111111111111111111111111".parse().unwrap();
    let activity = |login: &str, what: Activity| PrActivity {
        repo: repo.clone(),
        pr: seamguard::ids::PrNumber(7),
        head: head.clone(),
        actor: Actor {
            login: login.into(),
            bot: false,
        },
        what,
    };
    let store = &s.store;
    store
        .record_activity(&activity("mallory", Activity::Pushed), t(0))
        .await
        .unwrap();
    store
        .record_activity(
            &activity(
                "octocat",
                Activity::Labeled {
                    label: "AutoMerge".into(),
                },
            ),
            t(7200),
        )
        .await
        .unwrap();
    let other: seamguard::ids::RepoName = "acme/app".parse().unwrap();
    let seen = store
        .head_activity(&other, seamguard::ids::PrNumber(7), &head, "automerge")
        .await
        .unwrap();
    assert_eq!(seen.pushed_by.unwrap().login, "mallory");
    assert_eq!(seen.vouched_by.len(), 1);
    assert_eq!(seen.vouched_by[0].login, "octocat");

    store
        .prune(t(3 * 3600), Duration::from_secs(2 * 3600))
        .await
        .unwrap();
    let seen = store
        .head_activity(&other, seamguard::ids::PrNumber(7), &head, "automerge")
        .await
        .unwrap();
    assert_eq!(seen.pushed_by, None, "older than the retention age");
    assert_eq!(seen.vouched_by.len(), 1, "still within it");
}

async fn a_deliverys_activity_is_stored_with_it(backend: Backend) {
    use seamguard::events::{Activity, Actor, PrActivity};
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let repo: seamguard::ids::RepoName = "acme/app".parse().unwrap();
    let head: seamguard::ids::CommitSha =
        "2222222222222222222222222222222222222222".parse().unwrap();
    let pushed = |id: &str, login: &str| NewDelivery {
        activity: Some(PrActivity {
            repo: repo.clone(),
            pr: PrNumber(7),
            head: head.clone(),
            actor: Actor {
                login: login.into(),
                bot: false,
            },
            what: Activity::Pushed,
        }),
        ..delivery(id, t(0), vec![pr(7)])
    };
    // Two in one batch for the same head: the later one wins.
    let (a, b) = futures::join!(
        s.store.ingest(pushed("d-1", "mallory")),
        s.store.ingest(pushed("d-2", "mallory"))
    );
    assert_eq!(
        (a.unwrap(), b.unwrap()),
        (Ingested::Stored, Ingested::Stored)
    );
    let seen = s
        .store
        .head_activity(&repo, PrNumber(7), &head, "automerge")
        .await
        .unwrap();
    assert_eq!(seen.pushed_by.unwrap().login, "mallory");
}

async fn the_same_signed_body_under_another_id_is_a_duplicate(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let body = |id: &str, digest: u8| NewDelivery {
        body_digest: Some([digest; 32]),
        ..delivery(id, t(0), vec![pr(7)])
    };
    assert_eq!(
        s.store.ingest(body("d-1", 1)).await.unwrap(),
        Ingested::Stored
    );
    assert_eq!(
        s.store.ingest(body("d-2", 1)).await.unwrap(),
        Ingested::Duplicate,
        "a replay under a new id"
    );
    assert!(
        s.store.has_delivery(&"d-2".parse().unwrap()).await.unwrap(),
        "acknowledged, so its id is stored too"
    );
    assert_eq!(
        s.store.ingest(body("d-3", 2)).await.unwrap(),
        Ingested::Stored
    );
    // In one batch too: the first of two identical bodies is stored.
    let (a, b) = futures::join!(
        s.store.ingest(body("d-4", 3)),
        s.store.ingest(body("d-5", 3))
    );
    let mut answers = [a.unwrap(), b.unwrap()];
    answers.sort_by_key(|a| *a == Ingested::Duplicate);
    assert_eq!(answers, [Ingested::Stored, Ingested::Duplicate]);
}

async fn wakeups_are_notified_after_an_ingest_commits(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let wakeups = s.store.wakeups();
    ingest(&s.store, delivery("d-1", t(0), vec![pr(7)])).await;
    // The permit was stored at the commit: this returns at once.
    tokio::time::timeout(Duration::from_secs(10), wakeups.notified())
        .await
        .expect("notified after ingest");
}

#[tokio::test]
async fn only_commits_that_make_work_due_wake_the_dispatcher() {
    let s = Opened::open(Backend::Sqlite).await.unwrap();
    let store = &s.store;
    let wakeups = store.wakeups();
    let woken = || wakeups.notified().now_or_never().is_some();

    ingest(store, delivery("d-1", t(0), vec![pr(7)])).await;
    assert!(woken(), "ingest with work");
    ingest(store, delivery("d-2", t(0), vec![])).await;
    let first = store.claim(t(0), 10, LEASE).await.unwrap();
    assert!(!woken(), "ingest without work, claim");

    ingest(store, delivery("d-3", t(1), vec![pr(7)])).await;
    assert!(woken(), "ingest during a run");
    store.complete(&first[0]).await.unwrap();
    assert!(woken(), "complete with a rerun");

    let second = store.claim(t(1), 10, LEASE).await.unwrap();
    store.complete(&second[0]).await.unwrap();
    assert!(!woken(), "complete that deletes");

    store.enqueue(pr(8), t(9)).await.unwrap();
    assert!(woken(), "enqueue");
    let third = store.claim(t(9), 10, LEASE).await.unwrap();
    store.retry_at(&third[0], t(20), "later").await.unwrap();
    assert!(woken(), "retry");
    store.set_meta("k", "v").await.unwrap();
    assert!(!woken(), "state writes");
}

async fn a_waiting_dispatcher_is_woken_by_an_ingest(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let wakeups = s.store.wakeups();
    let dispatcher = {
        let store = s.store.clone();
        tokio::spawn(async move {
            loop {
                let claims = store.claim(Utc::now(), 10, LEASE).await.unwrap();
                if !claims.is_empty() {
                    return claims;
                }
                wakeups.notified().await;
            }
        })
    };
    ingest(&s.store, delivery("d-1", Utc::now(), vec![pr(7)])).await;
    let claims = tokio::time::timeout(Duration::from_secs(10), dispatcher)
        .await
        .expect("dispatcher woke")
        .unwrap();
    assert_eq!(keys(&claims), ["acme/app#7"]);
}

async fn queue_stats_report_depth_and_the_age_of_the_oldest_due_item(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    let store = &s.store;
    assert_eq!(store.queue_stats(t(0)).await.unwrap().oldest_due_age, None);
    store.enqueue(pr(1), t(0)).await.unwrap();
    store.enqueue(pr(2), t(5)).await.unwrap();
    store.enqueue(pr(3), t(100)).await.unwrap();
    let stats = store.queue_stats(t(10)).await.unwrap();
    assert_eq!(
        (stats.depth, stats.due, stats.scheduled, stats.leased),
        (3, 2, 1, 0)
    );
    assert_eq!(stats.oldest_due_age, Some(Duration::from_secs(10)));

    store.claim(t(10), 1, LEASE).await.unwrap();
    let stats = store.queue_stats(t(10)).await.unwrap();
    assert_eq!(
        (stats.depth, stats.due, stats.scheduled, stats.leased),
        (3, 1, 1, 1)
    );
    assert_eq!(stats.oldest_due_age, Some(Duration::from_secs(5)));
}

async fn a_closed_store_fails_ping_and_ingest(backend: Backend) {
    let Some(s) = Opened::open(backend).await else {
        return;
    };
    s.store.ping().await.unwrap();
    let other_handle = s.store.clone();
    s.store.close().await;
    assert!(matches!(other_handle.ping().await, Err(StoreError::Closed)));
    assert!(matches!(
        other_handle
            .ingest(delivery("d-1", t(0), vec![pr(1)]))
            .await,
        Err(StoreError::Closed)
    ));
    assert!(
        other_handle
            .has_delivery(&"d-1".parse().unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_store_locked_by_another_process_fails_ping_and_ingest_until_released() {
    let s = Opened::open_with(
        Backend::Sqlite,
        StoreOptions {
            busy_timeout: Duration::from_millis(100),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let mut intruder = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut intruder)
        .await
        .unwrap();

    assert!(matches!(
        s.store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let refused = s.store.ingest(delivery("d-1", t(0), vec![pr(1)])).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );

    sqlx::query("ROLLBACK")
        .execute(&mut intruder)
        .await
        .unwrap();
    s.store.ping().await.unwrap();
    // Not stored before, so GitHub's redelivery is stored now.
    assert_eq!(
        s.store
            .ingest(delivery("d-1", t(1), vec![pr(1)]))
            .await
            .unwrap(),
        Ingested::Stored
    );
}

#[tokio::test]
async fn open_refuses_what_is_not_a_usable_database() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "this is not a database, just some text that is long enough ".repeat(100),
    )
    .unwrap();
    let opened = Store::open(
        &format!("sqlite://{}", text.display()),
        StoreOptions::default(),
    )
    .await;
    assert!(opened.is_err());

    for url in ["sqlite::memory:", "mysql://localhost/seamguard"] {
        let opened = Store::open(url, StoreOptions::default()).await;
        assert!(
            matches!(opened, Err(StoreError::InvalidUrl { .. })),
            "{url}"
        );
    }
}

#[tokio::test]
async fn open_creates_the_file_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/lib/seamguard/store.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url, StoreOptions::default()).await.unwrap();
    assert!(path.exists());
    let mut look = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut look)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    store.set_meta("cursor", "17").await.unwrap();
    store.close().await;
    let again = Store::open(&url, StoreOptions::default()).await.unwrap();
    assert_eq!(again.meta("cursor").await.unwrap().as_deref(), Some("17"));
}

/// Each shared test, once per backend.
macro_rules! on_both_backends {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $( $(#[$attr])* async fn $name() { super::$name(super::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( $(#[$attr])* async fn $name() { super::$name(super::Backend::Postgres).await } )*
        }
    };
}

on_both_backends! {
    #[tokio::test]
    a_duplicate_delivery_is_acknowledged_but_not_enqueued_again,
    #[tokio::test]
    old_and_new_ids_arriving_together_are_told_apart,
    #[tokio::test]
    a_duplicate_inside_one_batch_is_stored_once,
    #[tokio::test]
    a_delivery_without_work_is_only_recorded,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    two_hundred_concurrent_deliveries_for_one_pr_are_one_work_item,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    many_keys_are_each_claimed_by_exactly_one_worker,
    #[tokio::test]
    a_trigger_during_a_run_keeps_the_item_for_another_run,
    #[tokio::test]
    a_scheduled_trigger_during_a_run_keeps_its_time,
    #[tokio::test]
    an_expired_lease_makes_the_item_claimable_again,
    #[tokio::test]
    a_stale_claim_cannot_finish_the_new_holders_run,
    #[tokio::test]
    retry_at_schedules_the_item_no_earlier_than_asked,
    #[tokio::test]
    defer_schedules_the_item_without_counting_an_attempt,
    #[tokio::test]
    a_burst_of_finished_checks_is_one_item_due_a_settle_after_the_first,
    #[tokio::test]
    a_push_during_the_settle_runs_the_item_at_once,
    #[tokio::test]
    a_check_finishing_during_a_run_settles_before_the_rerun,
    #[tokio::test]
    a_deferral_is_read_back_as_a_wait_for_the_budget,
    #[tokio::test]
    a_push_during_a_run_supersedes_the_head_it_evaluates,
    #[tokio::test]
    planned_reruns_do_not_use_up_attempts,
    #[tokio::test]
    the_budget_ledger_caps_leases_and_keeps_pauses,
    #[tokio::test]
    a_trigger_during_a_run_overrides_the_retry_backoff,
    #[tokio::test]
    enqueue_coalesces_to_the_earliest_due_time,
    #[tokio::test]
    claims_come_earliest_first_and_at_most_max,
    #[tokio::test]
    work_kinds_keep_their_own_keys,
    #[tokio::test]
    prune_removes_old_deliveries_and_keeps_the_dedup_window,
    #[tokio::test]
    prune_leaves_queued_work_alone,
    #[tokio::test]
    prune_works_through_a_large_backlog,
    #[tokio::test]
    head_activity_is_read_back_and_pruned_with_the_retention_age,
    #[tokio::test]
    the_same_signed_body_under_another_id_is_a_duplicate,
    #[tokio::test]
    a_deliverys_activity_is_stored_with_it,
    #[tokio::test]
    wakeups_are_notified_after_an_ingest_commits,
    #[tokio::test]
    a_waiting_dispatcher_is_woken_by_an_ingest,
    #[tokio::test]
    queue_stats_report_depth_and_the_age_of_the_oldest_due_item,
    #[tokio::test]
    a_closed_store_fails_ping_and_ingest,
}

/// Replicas leasing GitHub's budget at the same moment take turns: the sum
/// of their grants never passes the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_leasing_at_once_never_pass_the_cap_together() {
    use seamguard::github::budget::{CONTENT_MINUTE, LeaseAnswer, LedgerAsk};
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let replicas = [
        seamguard::server::budget_ledger(&db.open().await),
        seamguard::server::budget_ledger(&db.open().await),
    ];
    let ask = [LedgerAsk {
        window: CONTENT_MINUTE,
        want: 1,
        cap: 25,
    }];
    let id = InstallationId(3);
    let tasks: Vec<_> = (0..80)
        .map(|i| {
            let store = replicas[i % 2].clone();
            tokio::spawn(async move { store.lease(id, t(0), &ask).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        if task.await.unwrap() == LeaseAnswer::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 25);
}

/// PostgreSQL mechanics: two replicas on one database. A commit on one
/// wakes the other's dispatcher (`NOTIFY`), and the sweeps' advisory lock
/// is held by one replica at a time and moves when its holder goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_wake_each_other_and_take_turns_at_the_sweeps() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let one = db.open().await;
    let two = db.open().await;
    // Drain the wake-ups from start-up and the listener's (re)connect.
    let wakeups = two.wakeups();
    while wakeups.notified().now_or_never().is_some() {}
    one.ingest(delivery("d-1", t(0), vec![pr(7)]))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), wakeups.notified())
        .await
        .expect("the other replica was woken by the commit");
    assert_eq!(claimed(&two, t(1), 10).await, ["acme/app#7"]);
    assert!(
        claimed(&one, t(1), 10).await.is_empty(),
        "one worker per key"
    );

    assert!(one.sweep_leader().await.unwrap());
    assert!(!two.sweep_leader().await.unwrap(), "one replica at a time");
    assert!(one.sweep_leader().await.unwrap(), "kept while alive");
    one.close().await;
    // The server ends the closed session (and frees its advisory lock) on
    // its own time, after the client's goodbye: a moment on a busy server.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !two.sweep_leader().await.unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "moves when its holder goes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    two.close().await;
}

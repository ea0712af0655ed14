//! The pull requests' evaluation history in the store: bounded per pull
//! request, removed with the delivery retention, listed newest first, and
//! the cause of each claim (the delivery or the sweep that asked). One
//! suite, both backends, as `store_queue`.

mod store_backends;

use std::time::Duration;

use chrono::{DateTime, Utc};
use seamguard::ids::{DeliveryId, InstallationId, PrNumber, RepoName};
use seamguard::store::{Evaluation, HISTORY_PER_PR, NewDelivery, Store, Work};
use store_backends::{Backend, TestDb};

const LEASE: Duration = Duration::from_secs(60);
const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn repo() -> RepoName {
    "acme/app".parse().unwrap()
}

fn evaluation(pr: u64, at: DateTime<Utc>, n: u32) -> Evaluation {
    Evaluation {
        repo: repo(),
        pr: PrNumber(pr),
        at,
        cause: format!("delivery d-{n} (pull_request.synchronize)"),
        head: HEAD.parse().unwrap(),
        decision: "waiting".into(),
        reason: format!("waiting for `test` ({n})"),
        requests: n,
        snapshot: format!("{{\"title\":\"evaluation {n}\"}}"),
    }
}

async fn open(backend: Backend) -> Option<(TestDb, Store)> {
    let db = TestDb::new(backend).await?;
    let store = db.open().await;
    Some((db, store))
}

async fn the_history_keeps_the_newest_evaluations_of_each_pull_request(backend: Backend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let extra = 7;
    for n in 0..(HISTORY_PER_PR as u32 + extra) {
        store
            .record_evaluation(&evaluation(7, t(i64::from(n)), n))
            .await
            .unwrap();
    }
    store
        .record_evaluation(&evaluation(8, t(0), 1000))
        .await
        .unwrap();

    let kept = store
        .evaluations(&repo(), PrNumber(7), HISTORY_PER_PR * 2)
        .await
        .unwrap();
    assert_eq!(kept.len(), HISTORY_PER_PR, "bounded per pull request");
    let newest = HISTORY_PER_PR as u32 + extra - 1;
    assert_eq!(
        kept[0],
        evaluation(7, t(i64::from(newest)), newest),
        "newest first, whole"
    );
    assert_eq!(kept.last().unwrap().requests, extra, "the oldest ones went");
    // Another pull request's history is its own.
    let other = store.evaluations(&repo(), PrNumber(8), 10).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].requests, 1000);
    // Across pull requests, for /status: newest first.
    let recent = store.recent_evaluations(3).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|e| (e.pr.0, e.requests))
            .collect::<Vec<_>>(),
        [(7, newest), (7, newest - 1), (7, newest - 2)]
    );
}

async fn the_history_goes_with_the_delivery_retention(backend: Backend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    store
        .record_evaluation(&evaluation(7, t(0), 1))
        .await
        .unwrap();
    store
        .record_evaluation(&evaluation(7, t(7200), 2))
        .await
        .unwrap();
    let removed = store
        .prune(t(3 * 3600), Duration::from_secs(2 * 3600))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let kept = store.evaluations(&repo(), PrNumber(7), 10).await.unwrap();
    assert_eq!(kept.iter().map(|e| e.requests).collect::<Vec<_>>(), [2]);
}

async fn a_claim_names_its_latest_cause(backend: Backend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let work = Work::pr(InstallationId(42), repo(), PrNumber(7));
    store
        .ingest(NewDelivery {
            id: "d-1".parse::<DeliveryId>().unwrap(),
            event: "pull_request".into(),
            action: Some("opened".into()),
            installation: Some(InstallationId(42)),
            received_at: t(0),
            settle: std::time::Duration::ZERO,
            work: vec![work.clone()],
            body_digest: None,
            activity: None,
        })
        .await
        .unwrap();
    let claims = store.claim(t(1), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].work, work);
    assert_eq!(
        claims[0].cause.as_deref(),
        Some("delivery d-1 (pull_request.opened)")
    );
    store.complete(&claims[0]).await.unwrap();

    store
        .enqueue_because(work.clone(), t(2), "reconciler sweep")
        .await
        .unwrap();
    let claims = store.claim(t(3), 10, LEASE).await.unwrap();
    assert_eq!(claims[0].cause.as_deref(), Some("reconciler sweep"));
    // A failed run is listed for /status with its error until it is done.
    store
        .retry_at(&claims[0], t(60), "GitHub failed: 502")
        .await
        .unwrap();
    let failed = store.failed_jobs().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].key, "acme/app#7");
    assert_eq!(failed[0].last_error, "GitHub failed: 502");
    assert_eq!(failed[0].due_at, Some(t(60)));
}

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
    the_history_keeps_the_newest_evaluations_of_each_pull_request,
    #[tokio::test]
    the_history_goes_with_the_delivery_retention,
    #[tokio::test]
    a_claim_names_its_latest_cause,
}

//! A strict base's line in the store (`Store::line_*`): order, keeping a
//! place, leaving, moving to another base, the head being updated, and a
//! restart. One suite, two backends (PostgreSQL when
//! `SEAMGUARD_TEST_POSTGRES` is set).

mod store_backends;

use chrono::{DateTime, Utc};
use seamguard::ids::{CommitSha, PrNumber, RepoName};
use seamguard::store::Store;
use store_backends::{Backend, TestDb};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn repo() -> RepoName {
    "acme/app".parse().unwrap()
}

fn numbers(line: &[seamguard::store::LineEntry]) -> Vec<u64> {
    line.iter().map(|e| e.pr.0).collect()
}

async fn join(store: &Store, base: &str, pr: u64, priority: bool, at: i64) -> Vec<u64> {
    numbers(
        &store
            .line_join(&repo(), base, PrNumber(pr), priority, t(at))
            .await
            .unwrap(),
    )
}

async fn the_line_keeps_order_places_and_priority(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.open().await;
    assert_eq!(join(&store, "main", 41, false, 10).await, vec![41]);
    assert_eq!(join(&store, "main", 7, false, 20).await, vec![41, 7]);
    assert_eq!(join(&store, "main", 9, false, 30).await, vec![41, 7, 9]);
    // Joining again keeps the place (and refreshes the entry).
    assert_eq!(join(&store, "main", 41, false, 40).await, vec![41, 7, 9]);
    let line = store.line(&repo(), "main").await.unwrap();
    assert_eq!((line[0].entered_at, line[0].updated_at), (t(10), t(40)));
    // The priority label jumps the line; losing it goes back to its place.
    assert_eq!(join(&store, "main", 9, true, 50).await, vec![9, 41, 7]);
    assert_eq!(join(&store, "main", 9, false, 60).await, vec![41, 7, 9]);
    // Another base is another line; moving there starts at its end.
    assert_eq!(join(&store, "release", 5, false, 70).await, vec![5]);
    assert_eq!(join(&store, "release", 7, false, 80).await, vec![5, 7]);
    assert_eq!(
        numbers(&store.line(&repo(), "main").await.unwrap()),
        vec![41, 9]
    );
    // Leaving names the line it left.
    assert_eq!(
        store
            .line_leave(&repo(), PrNumber(41))
            .await
            .unwrap()
            .as_deref(),
        Some("main")
    );
    assert_eq!(store.line_leave(&repo(), PrNumber(41)).await.unwrap(), None);
    assert_eq!(
        numbers(&store.line(&repo(), "main").await.unwrap()),
        vec![9]
    );
    let other: RepoName = "acme/other".parse().unwrap();
    assert!(store.line(&other, "main").await.unwrap().is_empty());
}

async fn the_updating_head_is_kept_until_the_base_changes_and_survives_a_restart(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let head: CommitSha = "a".repeat(40).parse().unwrap();
    {
        let store = db.open().await;
        join(&store, "main", 7, false, 10).await;
        store
            .line_updating(&repo(), PrNumber(7), Some(&head), t(20))
            .await
            .unwrap();
        join(&store, "main", 7, false, 30).await;
        let line = store.line(&repo(), "main").await.unwrap();
        assert_eq!(line[0].updating_head.as_deref(), Some(head.as_str()));
        store.close().await;
    }
    let store = db.open().await;
    let line = store.line(&repo(), "main").await.unwrap();
    assert_eq!(numbers(&line), vec![7], "the line survives a restart");
    assert_eq!(line[0].updating_head.as_deref(), Some(head.as_str()));
    store
        .line_updating(&repo(), PrNumber(7), None, t(40))
        .await
        .unwrap();
    assert_eq!(
        store.line(&repo(), "main").await.unwrap()[0].updating_head,
        None
    );
    store
        .line_updating(&repo(), PrNumber(7), Some(&head), t(50))
        .await
        .unwrap();
    // Retargeted to another base: no update is under way there.
    join(&store, "release", 7, false, 60).await;
    assert_eq!(
        store.line(&repo(), "release").await.unwrap()[0].updating_head,
        None
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )*
        }
    };
}

on_both_backends! {
    the_line_keeps_order_places_and_priority,
    the_updating_head_is_kept_until_the_base_changes_and_survives_a_restart,
}

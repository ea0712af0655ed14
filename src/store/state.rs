//! Small per-PR and per-SHA state the engine keeps across evaluations, as
//! SQL: merge attempts per head, when a head was first seen, the check runs
//! seamguard opened, the work waiting on checks, and a key/value table.
//!
//! Every write here is an upsert keyed by what it describes, so running one
//! twice (a retried evaluation) leaves the same state, except
//! `record_merge_attempt`, which counts on purpose.

use sqlx::SqliteConnection;

use super::error::StoreError;

/// Counts one more merge attempt on `(repo, pr, head)`; returns the count.
pub(crate) async fn record_merge_attempt(
    conn: &mut SqliteConnection,
    repo: &str,
    pr: i64,
    head: &str,
    outcome: &str,
    at: i64,
) -> Result<u32, StoreError> {
    let attempts: i64 = sqlx::query_scalar(
        "INSERT INTO merge_attempts (repo, pr, head, attempts, last_outcome, updated_at)
         VALUES (?1, ?2, ?3, 1, ?4, ?5)
         ON CONFLICT (repo, pr, head) DO UPDATE SET
             attempts = attempts + 1, last_outcome = excluded.last_outcome, updated_at = excluded.updated_at
         RETURNING attempts",
    )
    .bind(repo)
    .bind(pr)
    .bind(head)
    .bind(outcome)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(u32::try_from(attempts).unwrap_or(u32::MAX))
}

/// Forgets the merge attempts counted on one head (a person asked for a
/// re-check: "gave up" is cleared for this head only).
pub(crate) async fn forget_merge_attempts(
    conn: &mut SqliteConnection,
    repo: &str,
    pr: i64,
    head: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM merge_attempts WHERE repo = ?1 AND pr = ?2 AND head = ?3")
        .bind(repo)
        .bind(pr)
        .bind(head)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records `at` as the first sighting of `head` unless one is stored;
/// returns the stored one.
pub(crate) async fn first_seen(
    conn: &mut SqliteConnection,
    repo: &str,
    head: &str,
    at: i64,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO first_seen (repo, head, seen_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )
    .bind(repo)
    .bind(head)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    let seen: i64 =
        sqlx::query_scalar("SELECT seen_at FROM first_seen WHERE repo = ?1 AND head = ?2")
            .bind(repo)
            .bind(head)
            .fetch_one(&mut *conn)
            .await?;
    Ok(seen)
}

/// Records a check run as in progress. Opening it again (a re-run) starts
/// it over: not completed, no digest.
pub(crate) async fn check_run_opened(
    conn: &mut SqliteConnection,
    id: i64,
    repo: &str,
    installation: i64,
    head: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO check_runs (id, repo, installation, head, opened_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET
             repo = excluded.repo, installation = excluded.installation, head = excluded.head,
             opened_at = excluded.opened_at, completed_at = NULL, digest = NULL",
    )
    .bind(id)
    .bind(repo)
    .bind(installation)
    .bind(head)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a check run as completed with the digest of its output. A run
/// seamguard never recorded as opened is ignored: there is nothing to watch.
pub(crate) async fn check_run_completed(
    conn: &mut SqliteConnection,
    id: i64,
    digest: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE check_runs SET completed_at = ?2, digest = ?3 WHERE id = ?1")
        .bind(id)
        .bind(at)
        .bind(digest)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks work as waiting on checks (keeping when it started waiting), or
/// clears the mark when `payload` is `None`.
pub(crate) async fn set_waiting(
    conn: &mut SqliteConnection,
    key: &str,
    payload: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    match payload {
        Some(payload) => sqlx::query(
            "INSERT INTO waiting (key, payload, since, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (key) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(payload)
        .bind(at),
        None => sqlx::query("DELETE FROM waiting WHERE key = ?1").bind(key),
    }
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn set_meta(
    conn: &mut SqliteConnection,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

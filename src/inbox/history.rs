//! Each pull request's evaluation history, as SQL for both backends.
//!
//! One row per evaluation, written by the engine when the evaluation ends
//! (never by the HTTP layer). The history is bounded twice: at most
//! [`HISTORY_PER_PR`] rows per pull request (the insert trims the oldest in
//! the same transaction, so the bound holds whatever crashes), and rows
//! older than the delivery retention go with `prune`
//! (`retention::CHUNKS` and its PostgreSQL twin).

use std::str::FromStr;

use sqlx::{PgConnection, SqliteConnection};

use super::columns;
use super::error::StoreError;
use super::work::{Evaluation, FailedJob};
use crate::ids::{CommitSha, PrNumber, RepoName};

/// Evaluations kept per pull request: a busy pull request's last day or
/// two of pushes and check events, and a page that stays small.
pub const HISTORY_PER_PR: usize = 50;

/// Failed jobs listed on `/status` at most.
pub(crate) const FAILED_JOBS_LIMIT: i64 = 50;

/// A row of `evaluations` as both backends read it.
pub(crate) type Row = (
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
);

/// The columns of a [`Row`], in order, for `concat!` into static SQL.
macro_rules! evaluation_columns {
    () => {
        "repo, pr, at, cause, head, decision, reason, requests, snapshot"
    };
}
pub(crate) use evaluation_columns;

pub(crate) fn decode(
    (repo, pr, at, cause, head, decision, reason, requests, snapshot): Row,
) -> Result<Evaluation, StoreError> {
    Ok(Evaluation {
        repo: RepoName::from_str(&repo).map_err(|e| StoreError::Invalid(e.to_string()))?,
        pr: PrNumber(columns::unid(pr)),
        at: columns::time(at)?,
        cause,
        head: CommitSha::from_str(&head).map_err(|e| StoreError::Invalid(e.to_string()))?,
        decision,
        reason,
        requests: u32::try_from(requests).unwrap_or(u32::MAX),
        snapshot,
    })
}

pub(crate) fn decode_all(rows: Vec<Row>) -> Result<Vec<Evaluation>, StoreError> {
    rows.into_iter().map(decode).collect()
}

/// A `work_items` row (key, attempts, last_error, due_at) as a failed job.
pub(crate) fn failed_job(
    (key, attempts, last_error, due_at): (String, i64, String, i64),
) -> FailedJob {
    FailedJob {
        key,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error,
        due_at: (due_at != columns::PARKED)
            .then(|| columns::time(due_at).ok())
            .flatten(),
    }
}

/// Inserts `e` and trims its pull request's history to [`HISTORY_PER_PR`].
pub(crate) async fn insert_sqlite(
    conn: &mut SqliteConnection,
    e: &Evaluation,
) -> Result<(), StoreError> {
    let repo = e.repo.to_string();
    let pr = columns::id(e.pr.0);
    sqlx::query(
        "INSERT INTO evaluations (repo, pr, at, cause, head, decision, reason, requests, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(&repo)
    .bind(pr)
    .bind(columns::millis(e.at))
    .bind(&e.cause)
    .bind(e.head.as_str())
    .bind(&e.decision)
    .bind(&e.reason)
    .bind(i64::from(e.requests))
    .bind(&e.snapshot)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM evaluations WHERE repo = ?1 AND pr = ?2 AND id <=
             (SELECT id FROM evaluations WHERE repo = ?1 AND pr = ?2
              ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    )
    .bind(&repo)
    .bind(pr)
    .bind(HISTORY_PER_PR as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// [`insert_sqlite`] on PostgreSQL, inside the caller's transaction.
pub(crate) async fn insert_postgres(
    conn: &mut PgConnection,
    e: &Evaluation,
) -> Result<(), StoreError> {
    let repo = e.repo.to_string();
    let pr = columns::id(e.pr.0);
    sqlx::query(
        "INSERT INTO evaluations (repo, pr, at, cause, head, decision, reason, requests, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&repo)
    .bind(pr)
    .bind(columns::millis(e.at))
    .bind(&e.cause)
    .bind(e.head.as_str())
    .bind(&e.decision)
    .bind(&e.reason)
    .bind(i64::from(e.requests))
    .bind(&e.snapshot)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM evaluations WHERE repo = $1 AND pr = $2 AND id <=
             (SELECT id FROM evaluations WHERE repo = $1 AND pr = $2
              ORDER BY id DESC LIMIT 1 OFFSET $3)",
    )
    .bind(&repo)
    .bind(pr)
    .bind(HISTORY_PER_PR as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

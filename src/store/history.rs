//! Each pull request's evaluation history, as SQL for both backends.
//!
//! One row per evaluation, written by the engine when the evaluation ends
//! (never by the HTTP layer). The history is bounded twice: at most
//! [`HISTORY_PER_PR`] rows per pull request (the insert trims the oldest in
//! the same transaction, so the bound holds whatever crashes), and rows
//! older than the delivery retention go with `prune`
//! (`retention::CHUNKS` and its PostgreSQL twin).

use std::str::FromStr;

use super::columns;
use super::error::StoreError;
use super::work::{BudgetWait, Evaluation, FailedJob};
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

/// A `work_items` row (key, deferred_until, last_error) as a wait for
/// GitHub's budget.
pub(crate) fn budget_wait(
    (key, until, reason): (String, i64, Option<String>),
) -> Result<BudgetWait, StoreError> {
    Ok(BudgetWait {
        key,
        until: columns::time(until)?,
        reason: reason.unwrap_or_default(),
    })
}

// The statements below are written once for both backends, with `$N`
// placeholders, which SQLite reads as numbered parameters too (each
// statement names them in increasing order).

/// Inserts `e` and trims its pull request's history to [`HISTORY_PER_PR`],
/// on the caller's connection (inside its transaction, where it has one).
pub(crate) async fn insert<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    e: &Evaluation,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let repo = e.repo.to_string();
    let pr = columns::id(e.pr.0);
    sqlx::query(
        "INSERT INTO evaluations (repo, pr, at, cause, head, decision, reason, requests, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(repo.clone())
    .bind(pr)
    .bind(columns::millis(e.at))
    .bind(e.cause.clone())
    .bind(e.head.to_string())
    .bind(e.decision.clone())
    .bind(e.reason.clone())
    .bind(i64::from(e.requests))
    .bind(e.snapshot.clone())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM evaluations WHERE repo = $1 AND pr = $2 AND id <=
             (SELECT id FROM evaluations WHERE repo = $1 AND pr = $2
              ORDER BY id DESC LIMIT 1 OFFSET $3)",
    )
    .bind(repo)
    .bind(pr)
    .bind(HISTORY_PER_PR as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The last `limit` evaluations of pull request `pr`, newest first.
pub(crate) async fn of_pr<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: &RepoName,
    pr: PrNumber,
    limit: usize,
) -> Result<Vec<Evaluation>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Row: for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        evaluation_columns!(),
        " FROM evaluations WHERE repo = $1 AND pr = $2 ORDER BY id DESC LIMIT $3"
    ))
    .bind(repo.to_string())
    .bind(columns::id(pr.0))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(exec)
    .await?;
    decode_all(rows)
}

/// The last `limit` evaluations of any pull request, newest first.
pub(crate) async fn recent<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    limit: usize,
) -> Result<Vec<Evaluation>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Row: for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        evaluation_columns!(),
        " FROM evaluations ORDER BY at DESC, id DESC LIMIT $1"
    ))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(exec)
    .await?;
    decode_all(rows)
}

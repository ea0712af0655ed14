//! Read-only queries written once for both backends, generic over sqlx's
//! database as [`history`](super::history) is: each statement uses `$N`
//! placeholders (SQLite reads them as numbered parameters, each named in
//! increasing order) and types both dialects decode the same way.
//! `sqlite.rs` runs them on its reader pool, `postgres.rs` on its pool.

use super::columns;
use super::error::StoreError;
use super::history::{self, FAILED_JOBS_LIMIT};
use super::work::{BudgetWait, FailedJob, OpenCheckRun, QueueStats};
use crate::ids::{CheckRunId, CommitSha, PrNumber, RepoName};

/// Stale check runs returned per watchdog sweep; the rest come next sweep.
pub(crate) const STALE_CHECK_RUNS_LIMIT: i64 = 500;

/// A small stored value, e.g. the hook-deliveries cursor.
pub(crate) async fn meta<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    key: &str,
) -> Result<Option<String>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
        .bind(key.to_owned())
        .fetch_optional(exec)
        .await?;
    Ok(row.map(|(value,)| value))
}

/// Merge attempts recorded on this head of this pull request.
pub(crate) async fn merge_attempts<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: &RepoName,
    pr: PrNumber,
    head: &CommitSha,
) -> Result<u32, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    // `attempts` is an INTEGER (four bytes on PostgreSQL): widened, so
    // both dialects answer the same type.
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT CAST(attempts AS BIGINT) FROM merge_attempts
         WHERE repo = $1 AND pr = $2 AND head = $3",
    )
    .bind(repo.to_string())
    .bind(columns::id(pr.0))
    .bind(head.to_string())
    .fetch_optional(exec)
    .await?;
    Ok(row.map_or(0, |(n,)| u32::try_from(n).unwrap_or(0)))
}

/// The digest of what was last written to check run `id`, if recorded.
pub(crate) async fn check_run_digest<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    id: CheckRunId,
) -> Result<Option<String>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (Option<String>,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT digest FROM check_runs WHERE id = $1")
            .bind(columns::id(id.0))
            .fetch_optional(exec)
            .await?;
    Ok(row.and_then(|(digest,)| digest))
}

/// Check runs opened before `opened_before` and never completed, oldest
/// first, at most [`STALE_CHECK_RUNS_LIMIT`].
pub(crate) async fn stale_check_runs<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    opened_before: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<OpenCheckRun>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64, String, i64, String, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(
        "SELECT id, repo, installation, head, opened_at FROM check_runs
         WHERE completed_at IS NULL AND opened_at < $1
         ORDER BY opened_at, id LIMIT $2",
    )
    .bind(columns::millis(opened_before))
    .bind(STALE_CHECK_RUNS_LIMIT)
    .fetch_all(exec)
    .await?;
    rows.into_iter().map(columns::open_check_run).collect()
}

/// Work items whose last run failed, for `/status` (those only held back
/// for GitHub's budget are [`budget_waits`], not failures).
pub(crate) async fn failed_jobs<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
) -> Result<Vec<FailedJob>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String, i64, String, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT key, CAST(attempts AS BIGINT), last_error, due_at FROM work_items
         WHERE last_error IS NOT NULL AND deferred_until IS NULL ORDER BY key LIMIT $1",
    )
    .bind(FAILED_JOBS_LIMIT)
    .fetch_all(exec)
    .await?;
    Ok(rows.into_iter().map(history::failed_job).collect())
}

/// Work items held back for GitHub's rate budget and not running, soonest
/// first, for `/status`.
pub(crate) async fn budget_waits<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
) -> Result<Vec<BudgetWait>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String, i64, Option<String>): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
        "SELECT key, deferred_until, last_error FROM work_items
         WHERE deferred_until IS NOT NULL AND lease_token IS NULL
         ORDER BY deferred_until, key LIMIT $1",
    )
    .bind(FAILED_JOBS_LIMIT)
    .fetch_all(exec)
    .await?;
    rows.into_iter().map(history::budget_wait).collect()
}

/// Whether the work item `key` is held back for GitHub's rate budget (and
/// not running), and until when.
pub(crate) async fn budget_wait<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    key: &str,
) -> Result<Option<BudgetWait>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String, i64, Option<String>): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let row: Option<(String, i64, Option<String>)> = sqlx::query_as(
        "SELECT key, deferred_until, last_error FROM work_items
         WHERE key = $1 AND deferred_until IS NOT NULL AND lease_token IS NULL",
    )
    .bind(key.to_owned())
    .fetch_optional(exec)
    .await?;
    row.map(history::budget_wait).transpose()
}

/// The head a push announced for the work item `key` while it is leased
/// (a trigger recorded during the run, whose payload names a head), if any.
pub(crate) async fn head_announced_during_run<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    key: &str,
) -> Result<Option<CommitSha>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT payload FROM work_items
         WHERE key = $1 AND lease_token IS NOT NULL AND rerun_at IS NOT NULL",
    )
    .bind(key.to_owned())
    .fetch_optional(exec)
    .await?;
    let Some((payload,)) = row else {
        return Ok(None);
    };
    Ok(match columns::decode_work(key, &payload)?.target {
        super::work::Target::Pr { head, .. } => head,
        _ => None,
    })
}

/// The queue's depth, what is due and leased, and how long the oldest due
/// item has waited. `FILTER` on aggregates: PostgreSQL, and SQLite since
/// 3.30.
pub(crate) async fn queue_stats<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<QueueStats, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64, i64, i64, Option<i64>): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let now_ms = columns::millis(now);
    let (depth, due, leased, oldest): (i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE due_at <= $1),
                count(*) FILTER (WHERE lease_token IS NOT NULL AND due_at > $1),
                min(due_at) FILTER (WHERE due_at <= $1)
         FROM work_items",
    )
    .bind(now_ms)
    .fetch_one(exec)
    .await?;
    let (depth, due, leased) = (
        columns::count(depth),
        columns::count(due),
        columns::count(leased),
    );
    Ok(QueueStats {
        depth,
        due,
        leased,
        scheduled: depth.saturating_sub(due + leased),
        oldest_due_age: oldest
            .map(|t| std::time::Duration::from_millis(columns::count(now_ms.saturating_sub(t)))),
    })
}

/// When the next item becomes claimable (a due item, or a lease that
/// expires); `None` when the queue is empty. Parked items never are.
pub(crate) async fn next_due<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (Option<i64>,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let (due,): (Option<i64>,) =
        sqlx::query_as("SELECT min(due_at) FROM work_items WHERE due_at < $1")
            .bind(columns::PARKED)
            .fetch_one(exec)
            .await?;
    due.map(columns::time).transpose()
}

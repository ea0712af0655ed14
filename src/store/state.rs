//! Small per-PR and per-SHA state the engine keeps across evaluations, as
//! SQL written once for both backends: merge attempts per head, when a head
//! was first seen, the check runs seamguard opened, the work waiting on
//! checks, the strict line, and a key/value table.
//!
//! Each statement is generic over sqlx's database, as
//! [`history`](super::history) and [`reads`](super::reads) are: `$N`
//! placeholders (SQLite reads them as numbered parameters, each named in
//! increasing order), `ON CONFLICT … DO UPDATE` and `RETURNING`, which both
//! dialects accept. SQLite runs them on its single writer's connection (or
//! its reader pool, for a read), PostgreSQL on its pool.
//!
//! Every write here is an upsert keyed by what it describes, so running one
//! twice (a retried evaluation) leaves the same state, except
//! `record_merge_attempt`, which counts on purpose.

use super::columns;
use super::error::StoreError;
use super::work::LineEntry;
use super::work::Work;
use crate::ids::{DeliveryId, PrNumber};

/// Counts one more merge attempt on `(repo, pr, head)`; returns the count.
pub(crate) async fn record_merge_attempt<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    pr: i64,
    head: String,
    outcome: String,
    at: i64,
) -> Result<u32, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    // `attempts` is an INTEGER (four bytes on PostgreSQL): widened, so both
    // dialects answer the same type.
    let (attempts,): (i64,) = sqlx::query_as(
        "INSERT INTO merge_attempts (repo, pr, head, attempts, last_outcome, updated_at)
         VALUES ($1, $2, $3, 1, $4, $5)
         ON CONFLICT (repo, pr, head) DO UPDATE SET
             attempts = merge_attempts.attempts + 1,
             last_outcome = excluded.last_outcome, updated_at = excluded.updated_at
         RETURNING CAST(attempts AS BIGINT)",
    )
    .bind(repo)
    .bind(pr)
    .bind(head)
    .bind(outcome)
    .bind(at)
    .fetch_one(exec)
    .await?;
    Ok(u32::try_from(attempts).unwrap_or(u32::MAX))
}

/// Forgets the merge attempts counted on one head (a person asked for a
/// re-check: "gave up" is cleared for this head only).
pub(crate) async fn forget_merge_attempts<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    pr: i64,
    head: String,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query("DELETE FROM merge_attempts WHERE repo = $1 AND pr = $2 AND head = $3")
        .bind(repo)
        .bind(pr)
        .bind(head)
        .execute(exec)
        .await?;
    Ok(())
}

/// The stored first sighting of `head`, if any (a read: no write needed
/// once a head has been seen).
pub(crate) async fn seen_at<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    head: String,
) -> Result<Option<i64>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT seen_at FROM first_seen WHERE repo = $1 AND head = $2")
            .bind(repo)
            .bind(head)
            .fetch_optional(exec)
            .await?;
    Ok(row.map(|(at,)| at))
}

/// Records `at` as the first sighting of `head` unless one is stored;
/// returns the stored one. The no-op update makes `RETURNING` answer the
/// stored row too, in one statement.
pub(crate) async fn first_seen<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    head: String,
    at: i64,
) -> Result<i64, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let (seen,): (i64,) = sqlx::query_as(
        "INSERT INTO first_seen (repo, head, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT (repo, head) DO UPDATE SET seen_at = first_seen.seen_at
         RETURNING seen_at",
    )
    .bind(repo)
    .bind(head)
    .bind(at)
    .fetch_one(exec)
    .await?;
    Ok(seen)
}

/// Records a check run as in progress. Opening it again (a re-run) starts
/// it over: not completed, no digest.
pub(crate) async fn check_run_opened<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    id: i64,
    repo: String,
    installation: i64,
    head: String,
    at: i64,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO check_runs (id, repo, installation, head, opened_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET
             repo = excluded.repo, installation = excluded.installation, head = excluded.head,
             opened_at = excluded.opened_at, completed_at = NULL, digest = NULL",
    )
    .bind(id)
    .bind(repo)
    .bind(installation)
    .bind(head)
    .bind(at)
    .execute(exec)
    .await?;
    Ok(())
}

/// Records a check run as completed with the digest of its output. A run
/// seamguard never recorded as opened is ignored: there is nothing to watch.
pub(crate) async fn check_run_completed<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    id: i64,
    digest: String,
    at: i64,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query("UPDATE check_runs SET completed_at = $2, digest = $3 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(digest)
        .execute(exec)
        .await?;
    Ok(())
}

/// Marks work as waiting on checks (keeping when it started waiting), or
/// clears the mark when `payload` is `None`.
pub(crate) async fn set_waiting<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    key: String,
    payload: Option<String>,
    at: i64,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    match payload {
        Some(payload) => sqlx::query(
            "INSERT INTO waiting (key, payload, since, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (key) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(payload)
        .bind(at),
        None => sqlx::query("DELETE FROM waiting WHERE key = $1").bind(key),
    }
    .execute(exec)
    .await?;
    Ok(())
}

/// Whether the work keyed `key` is marked waiting.
pub(crate) async fn is_waiting<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    key: String,
) -> Result<bool, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (bool,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let (found,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM waiting WHERE key = $1)")
        .bind(key)
        .fetch_one(exec)
        .await?;
    Ok(found)
}

/// Up to `limit` waiting work items, least recently marked first, so a
/// reconciler that enqueues them in turn gets round all of them.
pub(crate) async fn waiting<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    limit: usize,
) -> Result<Vec<Work>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String, String): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, payload FROM waiting ORDER BY updated_at, key LIMIT $1")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(exec)
            .await?;
    Ok(columns::decode_waiting(rows))
}

pub(crate) async fn set_meta<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    key: String,
    value: String,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(exec)
    .await?;
    Ok(())
}

/// Whether a delivery with this id is stored.
pub(crate) async fn has_delivery<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    id: &DeliveryId,
) -> Result<bool, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (bool,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let (found,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)")
            .bind(columns::delivery_key(id.as_str()).into_owned())
            .fetch_one(exec)
            .await?;
    Ok(found)
}

/// Puts `pr` in the strict line of `base` (or moves it there from another
/// base's line, where it starts over), keeping its place when it is in it.
pub(crate) async fn line_join<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    base: String,
    pr: i64,
    priority: bool,
    at: i64,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO strict_queue
             (repo, pr, base, priority, entered_at, updating_head, updated_at)
         VALUES ($1, $2, $3, $4, $5, NULL, $5)
         ON CONFLICT (repo, pr) DO UPDATE SET
             entered_at = CASE WHEN strict_queue.base = excluded.base
                 THEN strict_queue.entered_at ELSE excluded.entered_at END,
             updating_head = CASE WHEN strict_queue.base = excluded.base
                 THEN strict_queue.updating_head ELSE NULL END,
             base = excluded.base,
             priority = excluded.priority,
             updated_at = excluded.updated_at",
    )
    .bind(repo)
    .bind(pr)
    .bind(base)
    .bind(priority)
    .bind(at)
    .execute(exec)
    .await?;
    Ok(())
}

/// Takes `pr` out of its strict line; answers the base it was in.
pub(crate) async fn line_leave<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    pr: i64,
) -> Result<Option<String>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let row: Option<(String,)> =
        sqlx::query_as("DELETE FROM strict_queue WHERE repo = $1 AND pr = $2 RETURNING base")
            .bind(repo)
            .bind(pr)
            .fetch_optional(exec)
            .await?;
    Ok(row.map(|(base,)| base))
}

/// Records the head seamguard asked GitHub to update `pr` to (or none).
pub(crate) async fn line_updating<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    pr: i64,
    head: Option<String>,
    at: i64,
) -> Result<(), StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE strict_queue SET updating_head = $3, updated_at = $4
         WHERE repo = $1 AND pr = $2",
    )
    .bind(repo)
    .bind(pr)
    .bind(head)
    .bind(at)
    .execute(exec)
    .await?;
    Ok(())
}

/// A row of `strict_queue` as both backends read it (`priority` is an
/// INTEGER 0/1 on SQLite and a BOOLEAN on PostgreSQL; sqlx decodes both).
type LineRow = (i64, bool, i64, Option<String>, i64);

/// The strict line of `base`, first in line first.
pub(crate) async fn line<'e, DB: sqlx::Database>(
    exec: impl sqlx::Executor<'e, Database = DB>,
    repo: String,
    base: String,
) -> Result<Vec<LineEntry>, StoreError>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    LineRow: for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let rows: Vec<LineRow> = sqlx::query_as(
        "SELECT pr, priority, entered_at, updating_head, updated_at FROM strict_queue
         WHERE repo = $1 AND base = $2 ORDER BY priority DESC, entered_at, pr",
    )
    .bind(repo)
    .bind(base)
    .fetch_all(exec)
    .await?;
    rows.into_iter()
        .map(|(pr, priority, entered, updating, updated)| {
            Ok(LineEntry {
                pr: PrNumber(columns::unid(pr)),
                priority,
                entered_at: columns::time(entered)?,
                updating_head: updating,
                updated_at: columns::time(updated)?,
            })
        })
        .collect()
}

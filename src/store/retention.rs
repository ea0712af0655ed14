//! Retention: what `prune` removes, one bounded chunk at a time.
//!
//! Removed once older than the retention age: deliveries (so the
//! deduplication window *is* the retention age; a redelivery of an older id
//! is evaluated again, which is harmless because evaluations are
//! idempotent), merge-attempt counts and first sightings of heads, completed
//! check runs, waiting marks nobody refreshed, and evaluations in the pull
//! requests' histories, who pushed and opted in each head (a head older
//! than that with nothing since counts as its author's push), and when a
//! person's command was last refused. Never removed: work items
//! (they are the queue) and check runs still in progress (the watchdog's).
//!
//! Each chunk is one writer job, so a large backlog never holds the writer
//! in one long transaction: ingests keep committing between chunks.

use super::error::StoreError;

/// Rows one prune chunk deletes per table: a few milliseconds of writer
/// time, so ingests keep committing while a large backlog is pruned.
pub(crate) const PRUNE_CHUNK: i64 = 5_000;

/// Rows removed by one chunk, and whether any table may hold more.
pub(crate) struct Pruned {
    pub removed: u64,
    pub more: bool,
}

/// Each statement deletes at most `$2` rows older than `$1`; both dialects
/// run them as written.
const CHUNKS: [&str; 7] = [
    "DELETE FROM deliveries WHERE id IN
         (SELECT id FROM deliveries WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
    "DELETE FROM merge_attempts WHERE (repo, pr, head) IN
         (SELECT repo, pr, head FROM merge_attempts WHERE updated_at < $1 LIMIT $2)",
    "DELETE FROM first_seen WHERE (repo, head) IN
         (SELECT repo, head FROM first_seen WHERE seen_at < $1 LIMIT $2)",
    "DELETE FROM check_runs WHERE id IN
         (SELECT id FROM check_runs WHERE completed_at < $1 LIMIT $2)",
    "DELETE FROM waiting WHERE key IN
         (SELECT key FROM waiting WHERE updated_at < $1 LIMIT $2)",
    "DELETE FROM evaluations WHERE id IN
         (SELECT id FROM evaluations WHERE at < $1 ORDER BY at LIMIT $2)",
    // When a person's command was last refused (`engine::commands`): millis.
    "DELETE FROM meta WHERE key IN
         (SELECT key FROM meta WHERE key >= 'command-refusal:' AND key < 'command-refusal;'
          AND CAST(value AS BIGINT) < $1 LIMIT $2)",
];

/// Who pushed and opted in each head (`activity`): JSON with `at`. The one
/// statement written per dialect: SQLite reads a JSON field with
/// `json_extract` on text, PostgreSQL with `->>` on a `json` cast, and
/// neither accepts the other's form (a cast to `json` is numeric in SQLite).
pub(crate) const SQLITE_ACTIVITY: &str = "DELETE FROM meta WHERE key IN
     (SELECT key FROM meta WHERE key >= 'head:' AND key < 'head;'
      AND json_extract(value, '$.at') < $1 LIMIT $2)";
pub(crate) const POSTGRES_ACTIVITY: &str = "DELETE FROM meta WHERE key IN
     (SELECT key FROM meta WHERE key >= 'head:' AND key < 'head;'
      AND (value::json ->> 'at')::bigint < $1 LIMIT $2)";

/// The rows a statement changed: each backend's query result has it as an
/// inherent method, not through a trait sqlx shares.
pub(crate) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

/// Deletes one chunk of each kind of expired row, `activity` being the
/// dialect's statement for the activity rows.
pub(crate) async fn prune_chunk<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    activity: &'static str,
    cutoff: i64,
    limit: i64,
) -> Result<Pruned, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut pruned = Pruned {
        removed: 0,
        more: false,
    };
    for sql in CHUNKS.into_iter().chain([activity]) {
        let done = sqlx::query(sql)
            .bind(cutoff)
            .bind(limit)
            .execute(&mut *conn)
            .await?;
        pruned.removed += done.rows();
        pruned.more |= done.rows() >= u64::try_from(limit).unwrap_or(0);
    }
    Ok(pruned)
}

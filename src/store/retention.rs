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

use sqlx::SqliteConnection;

use super::error::StoreError;

/// Rows removed by one chunk, and whether any table may hold more.
pub(crate) struct Pruned {
    pub removed: u64,
    pub more: bool,
}

/// Each statement deletes at most `?2` rows older than `?1`.
const CHUNKS: [&str; 8] = [
    "DELETE FROM deliveries WHERE id IN
         (SELECT id FROM deliveries WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)",
    "DELETE FROM merge_attempts WHERE (repo, pr, head) IN
         (SELECT repo, pr, head FROM merge_attempts WHERE updated_at < ?1 LIMIT ?2)",
    "DELETE FROM first_seen WHERE (repo, head) IN
         (SELECT repo, head FROM first_seen WHERE seen_at < ?1 LIMIT ?2)",
    "DELETE FROM check_runs WHERE id IN
         (SELECT id FROM check_runs WHERE completed_at < ?1 LIMIT ?2)",
    "DELETE FROM waiting WHERE key IN
         (SELECT key FROM waiting WHERE updated_at < ?1 LIMIT ?2)",
    "DELETE FROM evaluations WHERE id IN
         (SELECT id FROM evaluations WHERE at < ?1 ORDER BY at LIMIT ?2)",
    // Who pushed and opted in each head (`activity`): JSON with `at`.
    "DELETE FROM meta WHERE key IN
         (SELECT key FROM meta WHERE key >= 'head:' AND key < 'head;'
          AND json_extract(value, '$.at') < ?1 LIMIT ?2)",
    // When a person's command was last refused (`engine::commands`): millis.
    "DELETE FROM meta WHERE key IN
         (SELECT key FROM meta WHERE key >= 'command-refusal:' AND key < 'command-refusal;'
          AND CAST(value AS INTEGER) < ?1 LIMIT ?2)",
];

pub(crate) async fn prune_chunk(
    conn: &mut SqliteConnection,
    cutoff: i64,
    limit: i64,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned {
        removed: 0,
        more: false,
    };
    for sql in CHUNKS {
        let done = sqlx::query(sql)
            .bind(cutoff)
            .bind(limit)
            .execute(&mut *conn)
            .await?;
        pruned.removed += done.rows_affected();
        pruned.more |= done.rows_affected() >= u64::try_from(limit).unwrap_or(0);
    }
    Ok(pruned)
}

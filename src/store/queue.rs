//! The work queue: coalescing, leases, completion and retries, as SQL.
//!
//! One row per work key. Its life:
//!
//! ```text
//!            upsert (due = min)                 claim (due <= now)
//!   (none) ─────────────────────▶ idle, due_at ───────────────────▶ leased
//!                                   ▲   ▲                           │ │ │
//!      retry_at / rerun_at: due = min(not_before, rerun)            │ │ │
//!                                   │   └───────────────────────────┘ │ │
//!      complete with rerun_at: due = rerun_at                         │ │
//!                                   └─────────────────────────────────┘ │
//!      complete without rerun_at: deleted ◀─────────────────────────────┘
//! ```
//!
//! The race this avoids: a trigger that arrives while a worker evaluates
//! the item must not be lost, yet must not start a second worker on the same
//! key. So an upsert on a leased row only records `rerun_at`, and `complete`
//! keeps such a row (due again) instead of deleting it.
//!
//! While leased, `due_at` holds the lease expiry: the one `(due_at, key)`
//! index then answers both "what is due" and "whose lease has expired", and
//! `next_due` naturally wakes the dispatcher when a crashed worker's lease
//! runs out. Every finishing statement matches `lease_token` too, so a worker
//! whose lease expired and was re-claimed cannot finish the new holder's run.

use sqlx::SqliteConnection;

use super::columns::{self, PARKED};
use super::error::StoreError;
use super::work::Claim;

/// A work item to upsert, encoded for its columns.
pub(crate) struct NewWork {
    pub key: String,
    pub payload: String,
    pub due: i64,
}

impl NewWork {
    pub(crate) fn as_row(&self) -> WorkRow<'_> {
        WorkRow {
            key: &self.key,
            payload: &self.payload,
            due: self.due,
        }
    }
}

/// A borrowed [`NewWork`], after coalescing.
pub(crate) struct WorkRow<'a> {
    pub key: &'a str,
    pub payload: &'a str,
    pub due: i64,
}

/// Work rows merged by key: the earliest due time, the latest payload (one
/// row per key, as an upsert may touch a row only once per statement).
#[derive(Default)]
pub(crate) struct Coalesced<'a> {
    index: std::collections::HashMap<&'a str, usize>,
    pub rows: Vec<WorkRow<'a>>,
}

impl<'a> Coalesced<'a> {
    /// The work of the deliveries of `batch` that were stored (`answers`,
    /// in the same order), coalesced.
    pub(crate) fn of_stored(
        batch: &'a [super::columns::EncodedDelivery],
        answers: &[super::work::Ingested],
    ) -> Coalesced<'a> {
        let mut work = Coalesced::default();
        for (d, answer) in batch.iter().zip(answers) {
            if *answer == super::work::Ingested::Stored {
                d.work.iter().for_each(|row| work.add(row));
            }
        }
        work
    }

    pub(crate) fn add(&mut self, row: &'a NewWork) {
        match self.index.get(row.key.as_str()) {
            Some(&i) => {
                let kept = &mut self.rows[i];
                kept.payload = row.payload.as_str();
                kept.due = kept.due.min(row.due);
            }
            None => {
                self.index.insert(row.key.as_str(), self.rows.len());
                self.rows.push(WorkRow {
                    key: row.key.as_str(),
                    payload: row.payload.as_str(),
                    due: row.due,
                });
            }
        }
    }
}

/// Inserts or coalesces work items (one statement for any number of rows;
/// each key must appear once). An idle row becomes due at the earlier of its
/// two due times; a leased row keeps its lease and records the trigger in
/// `rerun_at`.
pub(crate) async fn upsert(
    conn: &mut SqliteConnection,
    rows: &[WorkRow<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows: Vec<(&str, &str, i64)> = rows.iter().map(|r| (r.key, r.payload, r.due)).collect();
    let rows = serde_json::to_string(&rows).map_err(|e| StoreError::encoding("work batch", e))?;
    sqlx::query(
        "INSERT INTO work_items (key, payload, due_at)
         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each(?1) AS j WHERE true
         ON CONFLICT (key) DO UPDATE SET
             payload  = excluded.payload,
             due_at   = CASE WHEN lease_token IS NULL THEN min(due_at, excluded.due_at) ELSE due_at END,
             rerun_at = CASE WHEN lease_token IS NULL THEN NULL
                             ELSE min(coalesce(rerun_at, excluded.due_at), excluded.due_at) END",
    )
    .bind(rows)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Leases up to `max` due items, earliest first, until `lease_until`.
pub(crate) async fn claim(
    conn: &mut SqliteConnection,
    now: i64,
    max: i64,
    lease_until: i64,
    token: i64,
) -> Result<Vec<Claim>, StoreError> {
    let due: Vec<(String, String, i64, i64, bool)> = sqlx::query_as(
        "SELECT key, payload, attempts, reruns, lease_token IS NOT NULL FROM work_items
         WHERE due_at <= ?1 ORDER BY due_at, key LIMIT ?2",
    )
    .bind(now)
    .bind(max)
    .fetch_all(&mut *conn)
    .await?;
    let until = columns::time(lease_until)?;

    let mut claims = Vec::with_capacity(due.len());
    for (key, payload, attempts, reruns, expired) in due {
        match columns::decode_work(&key, &payload) {
            Ok(work) => claims.push(Claim {
                work,
                attempts: u32::try_from(attempts + i64::from(expired)).unwrap_or(u32::MAX),
                reruns: u32::try_from(reruns).unwrap_or(u32::MAX),
                cause: columns::decode_cause(&payload),
                key,
                lease_until: until,
                token,
            }),
            Err(e) => {
                tracing::error!(key, error = %e, "parking a work item whose payload does not decode");
                park(conn, &key, &e.to_string()).await?;
            }
        }
    }
    if claims.is_empty() {
        return Ok(claims);
    }
    let keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
    let keys = serde_json::to_string(&keys).map_err(|e| StoreError::encoding("claimed keys", e))?;
    // A row still leased here had its lease expire: that run counts as an
    // attempt. Triggers recorded during it are covered by this new run.
    sqlx::query(
        "UPDATE work_items
         SET lease_token = ?1, claimed_at = ?2, due_at = ?3, rerun_at = NULL, deferred_until = NULL,
             attempts = attempts + (lease_token IS NOT NULL)
         WHERE key IN (SELECT value FROM json_each(?4))",
    )
    .bind(token)
    .bind(now)
    .bind(lease_until)
    .bind(keys)
    .execute(&mut *conn)
    .await?;
    Ok(claims)
}

/// Keeps an undecodable row without ever claiming it; the key's next
/// trigger replaces its payload and makes it due again.
async fn park(conn: &mut SqliteConnection, key: &str, why: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE work_items SET lease_token = NULL, claimed_at = NULL, rerun_at = NULL, due_at = ?2, last_error = ?3,
             deferred_until = NULL
         WHERE key = ?1",
    )
    .bind(key)
    .bind(PARKED)
    .bind(why)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How a `complete` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// The item is gone.
    Done,
    /// A trigger arrived during the run: the item is due again.
    Rerun,
    /// The claim's lease had expired and someone else holds the item now
    /// (or it was already finished): nothing changed.
    LeaseLost,
}

pub(crate) async fn complete(
    conn: &mut SqliteConnection,
    key: &str,
    token: i64,
) -> Result<Finished, StoreError> {
    let rerun = sqlx::query(
        "UPDATE work_items
         SET lease_token = NULL, claimed_at = NULL, due_at = rerun_at, rerun_at = NULL,
             attempts = 0, reruns = 0, last_error = NULL
         WHERE key = ?1 AND lease_token = ?2 AND rerun_at IS NOT NULL",
    )
    .bind(key)
    .bind(token)
    .execute(&mut *conn)
    .await?;
    if rerun.rows_affected() > 0 {
        return Ok(Finished::Rerun);
    }
    let deleted = sqlx::query("DELETE FROM work_items WHERE key = ?1 AND lease_token = ?2")
        .bind(key)
        .bind(token)
        .execute(&mut *conn)
        .await?;
    Ok(if deleted.rows_affected() > 0 {
        Finished::Done
    } else {
        Finished::LeaseLost
    })
}

/// Why a claim is given back to run again, and so which counter grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveBack {
    /// The run failed: `attempts` grows, and decides when the job gives up.
    Failed,
    /// The run asked to look again later (merge pending, head moved): a
    /// planned re-run, not a failure; `reruns` grows, and paces re-runs.
    Rerun,
    /// The work was not tried, only held back (GitHub's budget): neither.
    /// The row keeps when it was held back until (`deferred_until`), for
    /// the pages that say so.
    Deferred,
}

impl GiveBack {
    /// What `attempts` and `reruns` grow by.
    pub(crate) fn increments(self) -> (i32, i32) {
        match self {
            GiveBack::Failed => (1, 0),
            GiveBack::Rerun => (0, 1),
            GiveBack::Deferred => (0, 0),
        }
    }

    /// What `deferred_until` becomes when a claim is given back until
    /// `not_before` for this reason.
    pub(crate) fn deferred_until(self, not_before: i64) -> Option<i64> {
        (self == GiveBack::Deferred).then_some(not_before)
    }
}

/// Releases the lease and schedules the item again, growing the counter
/// `why` names. A trigger that arrived during the run wins over the
/// backoff: new information is worth a look now. Returns false when the
/// lease was lost.
pub(crate) async fn retry(
    conn: &mut SqliteConnection,
    key: &str,
    token: i64,
    not_before: i64,
    reason: &str,
    why: GiveBack,
) -> Result<bool, StoreError> {
    let (attempts, reruns) = why.increments();
    let done = sqlx::query(
        "UPDATE work_items
         SET lease_token = NULL, claimed_at = NULL, rerun_at = NULL,
             due_at = min(?3, coalesce(rerun_at, ?3)),
             attempts = attempts + ?5, reruns = reruns + ?6, last_error = ?4,
             deferred_until = ?7
         WHERE key = ?1 AND lease_token = ?2",
    )
    .bind(key)
    .bind(token)
    .bind(not_before)
    .bind(reason)
    .bind(attempts)
    .bind(reruns)
    .bind(why.deferred_until(not_before))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Makes every leased item due again, from when it was claimed (it was due
/// then at the latest). The interrupted run counts as an attempt.
pub(crate) async fn release_all(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE work_items
         SET lease_token = NULL, rerun_at = NULL, claimed_at = NULL,
             due_at = min(coalesce(claimed_at, due_at), coalesce(rerun_at, claimed_at, due_at)),
             attempts = attempts + 1
         WHERE lease_token IS NOT NULL",
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Moves a live lease's expiry to `lease_until`; false when the lease was
/// lost (expired and taken, or finished).
pub(crate) async fn renew(
    conn: &mut SqliteConnection,
    key: &str,
    token: i64,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE work_items SET due_at = ?3 WHERE key = ?1 AND lease_token = ?2")
        .bind(key)
        .bind(token)
        .bind(lease_until)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

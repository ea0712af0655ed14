//! The shared backend of [`Store`](super::Store): PostgreSQL, any number of
//! `seamguard serve` replicas on one database.
//!
//! The rules are the embedded store's (see `queue` for a work item's life);
//! what changes is who enforces them:
//!
//! - **Ingest** commits before it answers, with the server's own durability
//!   (`synchronous_commit` left as configured, `on` by default). Concurrent
//!   deliveries are gathered into one transaction (group commit, as the
//!   embedded writer does) by a small batcher with a few transactions in
//!   flight. Rows are written in key order, so two replicas' batches that
//!   share keys wait on each other instead of deadlocking.
//! - **Claims** pick due rows with `FOR UPDATE SKIP LOCKED` and lease them in
//!   the same statement: two replicas claiming at once never get the same
//!   key, and neither waits for the other. Every finishing statement matches
//!   the lease token, and `complete` deletes only a row with no rerun
//!   recorded (PostgreSQL re-checks the condition on a row a concurrent
//!   upsert just changed), so a trigger that lands mid-finish is kept.
//! - **Wake-ups** go through `NOTIFY seamguard_work` in the committing
//!   transaction; each replica `LISTEN`s and wakes its dispatcher. The
//!   dispatcher's poll (and its sleep until the next due time or lease
//!   expiry) stays as the safety net for a notification lost with a
//!   connection.
//! - **Sweeps** run where the session-level advisory lock
//!   [`SWEEPS_LOCK`] is held, on a connection kept for it: when that
//!   replica dies its session ends, the lock is released, and the next
//!   replica to look takes it.
//! - **Start-up** releases nobody's leases: another replica may be running
//!   them; a dead one's leases run out and are claimed again.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, Row};
use tokio::sync::{Mutex, Notify, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::columns::{self, EncodedDelivery, PARKED};
use super::error::StoreError;
use super::history;
use super::options::StoreOptions;
use super::queue::{Coalesced, GiveBack, NewWork, WorkRow};
use super::retention;
use super::state;
use super::work::{Claim, Evaluation, Ingested, NewDelivery, Work};
use crate::github::budget::{LeaseAnswer, LedgerAsk, Window, decide_lease};
use crate::github::governor::{BudgetStore, LedgerError};
use crate::ids::InstallationId;
use futures::future::BoxFuture;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("src/store/migrations_postgres");

/// The channel every replica listens on for "work became due".
const WAKE_CHANNEL: &str = "seamguard_work";
/// The first key of the per-installation advisory lock the budget ledger
/// is leased under (the second is the installation); the two-key form
/// never collides with the sweeps' one-key lock.
const BUDGET_LOCK: i32 = 0x5EA9_B0D6;

/// The advisory lock whose holder runs the sweeps (an arbitrary constant:
/// "seamguard" in ASCII, so it is recognisable in `pg_locks`).
const SWEEPS_LOCK: i64 = 0x7365_616d_6775_6172;
/// Ingest transactions in flight at once: enough to keep the server's
/// group commit busy while the next batch gathers, few enough to leave
/// connections for claims and the engine.
const INGEST_TRANSACTIONS: usize = 4;
/// After the listener's connection fails, try again this often.
const LISTEN_RETRY: Duration = Duration::from_secs(1);
/// The `meta` row `/readyz` writes to prove the store can commit.
const READY_PROBE_KEY: &str = "readyz.probe";

/// A delivery waiting for the batcher, and who waits for its answer.
type Pending = (
    EncodedDelivery,
    oneshot::Sender<Result<Ingested, StoreError>>,
);

/// The shared store. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
    connect: PgConnectOptions,
    ingests: mpsc::Sender<Pending>,
    wakeups: Arc<Notify>,
    /// The connection holding [`SWEEPS_LOCK`], while this replica leads.
    leader: Arc<Mutex<Option<PgConnection>>>,
    stop: CancellationToken,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("closed", &self.pool.is_closed())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// The pool reads run on (the shared reads in `state`, `reads` and
    /// `history` take it from the facade).
    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn open(url: &str, opts: &StoreOptions) -> Result<PgStore, StoreError> {
        let connect = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
            url: url.to_owned(),
            why: e.to_string(),
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.postgres_connections.max(2))
            .acquire_timeout(opts.busy_timeout)
            .connect_with(connect.clone())
            .await?;
        {
            let mut conn = pool.acquire().await?;
            // Replicas starting together: the migrator's own advisory lock
            // lets one migrate while the others wait.
            MIGRATOR
                .run_direct(None, &mut *conn, false)
                .await
                .map_err(|e| StoreError::from_migration(e, &MIGRATOR))?;
        }
        let wakeups = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let (ingests, queue) = mpsc::channel(opts.queue_capacity.max(1));
        tokio::spawn(batch_ingests(
            pool.clone(),
            queue,
            opts.max_batch.max(1),
            wakeups.clone(),
        ));
        tokio::spawn(listen(pool.clone(), wakeups.clone(), stop.clone()));
        Ok(PgStore {
            pool,
            connect,
            ingests,
            wakeups,
            leader: Arc::new(Mutex::new(None)),
            stop,
        })
    }

    pub(crate) async fn ingest(&self, d: NewDelivery) -> Result<Ingested, StoreError> {
        if self.pool.is_closed() {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        let pending = (EncodedDelivery::new(d)?, reply);
        self.ingests
            .send(pending)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn enqueue(
        &self,
        work: Work,
        not_before: DateTime<Utc>,
        cause: &str,
    ) -> Result<(), StoreError> {
        let row = NewWork {
            key: work.key(),
            payload: columns::encode_work_because(&work, cause)?,
            due: columns::millis(not_before),
        };
        let mut tx = self.pool.begin().await?;
        upsert(&mut tx, &[row.as_row()]).await?;
        notify(&mut tx).await?;
        tx.commit().await?;
        self.wakeups.notify_one();
        Ok(())
    }

    pub(crate) async fn claim(
        &self,
        now: DateTime<Utc>,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now_ms = columns::millis(now);
        let lease_until = columns::after(now, lease);
        let until = columns::time(lease_until)?;
        let token = rand::random::<i64>();
        // A row still leased here had its lease expire: that run counts as
        // an attempt. Triggers recorded during it are covered by this run.
        let rows: Vec<(String, String, i32, i32, i64)> = sqlx::query_as(
            "WITH picked AS (
                 SELECT key, due_at FROM work_items
                 WHERE due_at <= $1 ORDER BY due_at, key LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE work_items w
             SET lease_token = $3, claimed_at = $1, due_at = $4, rerun_at = NULL,
                 deferred_until = NULL,
                 attempts = w.attempts + CASE WHEN w.lease_token IS NULL THEN 0 ELSE 1 END
             FROM picked WHERE w.key = picked.key
             RETURNING w.key, w.payload, w.attempts, w.reruns, picked.due_at",
        )
        .bind(now_ms)
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .bind(token)
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows;
        rows.sort_by(|a, b| (a.4, &a.0).cmp(&(b.4, &b.0)));
        let mut claims = Vec::with_capacity(rows.len());
        for (key, payload, attempts, reruns, _) in rows {
            match columns::decode_work(&key, &payload) {
                Ok(work) => claims.push(Claim {
                    work,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    reruns: u32::try_from(reruns).unwrap_or(0),
                    key,
                    lease_until: until,
                    token,
                    cause: columns::decode_cause(&payload),
                }),
                Err(e) => {
                    tracing::error!(key, error = %e, "parking a work item whose payload does not decode");
                    sqlx::query(
                        "UPDATE work_items SET lease_token = NULL, claimed_at = NULL, rerun_at = NULL,
                             due_at = $2, last_error = $3, deferred_until = NULL
                         WHERE key = $1 AND lease_token = $4",
                    )
                    .bind(&key)
                    .bind(PARKED)
                    .bind(e.to_string())
                    .bind(token)
                    .execute(&self.pool)
                    .await?;
                }
            }
        }
        Ok(claims)
    }

    pub(crate) async fn renew(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE work_items SET due_at = $3 WHERE key = $1 AND lease_token = $2")
                .bind(&claim.key)
                .bind(claim.token)
                .bind(columns::after(now, lease))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn complete(&self, claim: &Claim) -> Result<(), StoreError> {
        // Delete only a row without a rerun: an upsert that records one
        // concurrently makes PostgreSQL re-check this condition on the
        // updated row, and the row stays.
        let deleted = sqlx::query(
            "DELETE FROM work_items WHERE key = $1 AND lease_token = $2 AND rerun_at IS NULL",
        )
        .bind(&claim.key)
        .bind(claim.token)
        .execute(&self.pool)
        .await?;
        if deleted.rows_affected() > 0 {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let rerun = sqlx::query(
            "UPDATE work_items
             SET lease_token = NULL, claimed_at = NULL, due_at = rerun_at, rerun_at = NULL,
                 attempts = 0, reruns = 0, last_error = NULL
             WHERE key = $1 AND lease_token = $2 AND rerun_at IS NOT NULL",
        )
        .bind(&claim.key)
        .bind(claim.token)
        .execute(&mut *tx)
        .await?;
        if rerun.rows_affected() > 0 {
            notify(&mut tx).await?;
            tx.commit().await?;
            self.wakeups.notify_one();
        } else {
            tx.commit().await?;
            tracing::warn!(key = %claim.key, "completed a claim whose lease had been lost; its current holder finishes it");
        }
        Ok(())
    }

    /// The lease released and the row due again, growing the counter
    /// `why` names (see `queue::retry`).
    pub(crate) async fn give_back(
        &self,
        claim: &Claim,
        not_before: DateTime<Utc>,
        reason: &str,
        why: GiveBack,
    ) -> Result<(), StoreError> {
        let (attempts, reruns) = why.increments();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE work_items
             SET lease_token = NULL, claimed_at = NULL, rerun_at = NULL,
                 due_at = least($3, coalesce(rerun_at, $3)),
                 attempts = attempts + $5, reruns = reruns + $6, last_error = $4,
                 deferred_until = $7
             WHERE key = $1 AND lease_token = $2",
        )
        .bind(&claim.key)
        .bind(claim.token)
        .bind(columns::millis(not_before))
        .bind(reason)
        .bind(attempts)
        .bind(reruns)
        .bind(why.deferred_until(columns::millis(not_before)))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            notify(&mut tx).await?;
        }
        tx.commit().await?;
        if done.rows_affected() > 0 {
            self.wakeups.notify_one();
        } else {
            tracing::warn!(key = %claim.key, ?why, "gave back a claim whose lease had been lost; its current holder decides");
        }
        Ok(())
    }

    pub(crate) fn wakeups(&self) -> Arc<Notify> {
        self.wakeups.clone()
    }

    pub(crate) async fn sweep_leader(&self) -> Result<bool, StoreError> {
        let mut leader = self.leader.lock().await;
        if let Some(conn) = leader.as_mut() {
            if conn.ping().await.is_ok() {
                return Ok(true);
            }
            // The session (and with it the lock) is gone.
            tracing::warn!("lost the sweeps' advisory lock with its connection");
            *leader = None;
        }
        let mut conn = PgConnection::connect_with(&self.connect).await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SWEEPS_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if got {
            tracing::info!("this replica runs the sweeps");
            *leader = Some(conn);
        } else {
            let _ = conn.close().await;
        }
        Ok(got)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        if self.pool.is_closed() {
            return Err(StoreError::Closed);
        }
        let at = columns::millis(Utc::now()).to_string();
        state::set_meta(&self.pool, READY_PROBE_KEY.to_owned(), at).await
    }

    pub(crate) async fn prune(
        &self,
        now: DateTime<Utc>,
        older_than: Duration,
    ) -> Result<u64, StoreError> {
        let cutoff = columns::millis(now).saturating_sub(columns::duration_ms(older_than));
        let mut removed = 0;
        loop {
            let mut conn = self.pool.acquire().await?;
            let chunk = retention::prune_chunk::<sqlx::Postgres>(
                &mut conn,
                retention::POSTGRES_ACTIVITY,
                cutoff,
                retention::PRUNE_CHUNK,
            )
            .await?;
            removed += chunk.removed;
            if !chunk.more {
                return Ok(removed);
            }
        }
    }

    pub(crate) async fn record_evaluation(&self, e: &Evaluation) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        history::insert::<sqlx::Postgres>(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Leases GitHub budget for `installation`, all or nothing, under a
    /// transaction-scoped advisory lock per installation: replicas asking
    /// at once take turns, so the sum of their grants never passes a cap.
    pub(crate) async fn budget_lease(
        &self,
        installation: InstallationId,
        now: DateTime<Utc>,
        asks: &[LedgerAsk],
    ) -> Result<LeaseAnswer, StoreError> {
        let inst = installation.0 as i64;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(BUDGET_LOCK)
            .bind((installation.0 % i32::MAX as u64) as i32)
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(String, i64, i32)> = sqlx::query_as(
            "SELECT budget_limit, bucket, spent FROM github_budget WHERE installation = $1",
        )
        .bind(inst)
        .fetch_all(&mut *tx)
        .await?;
        let spent_of = |w: &Window| -> Vec<(i64, u32)> {
            rows.iter()
                .filter(|(l, _, _)| l == w.limit.as_str())
                .map(|(_, b, s)| (*b, (*s).max(0) as u32))
                .collect()
        };
        let answer = decide_lease(asks, now, spent_of);
        if answer == LeaseAnswer::Granted {
            for ask in asks {
                let bucket = ask.window.bucket(now);
                sqlx::query(
                    "INSERT INTO github_budget (installation, budget_limit, bucket, spent)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (installation, budget_limit, bucket)
                     DO UPDATE SET spent = github_budget.spent + excluded.spent",
                )
                .bind(inst)
                .bind(ask.window.limit.as_str())
                .bind(bucket)
                .bind(ask.want as i32)
                .execute(&mut *tx)
                .await?;
                // Buckets that left the window: once per bucket, not per lease.
                let first = ask.window.first_counted(bucket);
                if spent_of(&ask.window).iter().any(|(b, _)| *b < first) {
                    sqlx::query(
                        "DELETE FROM github_budget
                         WHERE installation = $1 AND budget_limit = $2 AND bucket < $3",
                    )
                    .bind(inst)
                    .bind(ask.window.limit.as_str())
                    .bind(first)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(answer)
    }

    /// Records a pause every replica honours (a later one already there
    /// wins).
    pub(crate) async fn budget_pause(
        &self,
        installation: InstallationId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO github_pauses (installation, until_ms) VALUES ($1, $2)
             ON CONFLICT (installation)
             DO UPDATE SET until_ms = greatest(github_pauses.until_ms, excluded.until_ms)",
        )
        .bind(installation.0 as i64)
        .bind(columns::millis(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pause in force for `installation` at `now`.
    pub(crate) async fn budget_paused_until(
        &self,
        installation: InstallationId,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let until: Option<i64> = sqlx::query_scalar(
            "SELECT until_ms FROM github_pauses WHERE installation = $1 AND until_ms > $2",
        )
        .bind(installation.0 as i64)
        .bind(columns::millis(now))
        .fetch_optional(&self.pool)
        .await?;
        until.map(columns::time).transpose()
    }

    pub(crate) async fn close(&self) {
        self.stop.cancel();
        if let Some(conn) = self.leader.lock().await.take() {
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// GitHub's budget ledger shared by every replica on this database.
impl BudgetStore for PgStore {
    fn lease<'a>(
        &'a self,
        installation: InstallationId,
        now: DateTime<Utc>,
        asks: &'a [LedgerAsk],
    ) -> BoxFuture<'a, Result<LeaseAnswer, LedgerError>> {
        Box::pin(async move { Ok(self.budget_lease(installation, now, asks).await?) })
    }

    fn pause(
        &self,
        installation: InstallationId,
        until: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), LedgerError>> {
        Box::pin(async move { Ok(self.budget_pause(installation, until).await?) })
    }

    fn paused_until(
        &self,
        installation: InstallationId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Option<DateTime<Utc>>, LedgerError>> {
        Box::pin(async move { Ok(self.budget_paused_until(installation, now).await?) })
    }

    fn shared(&self) -> bool {
        true
    }
}

/// `NOTIFY`, delivered to every listener when `tx` commits.
async fn notify(tx: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WAKE_CHANNEL)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Upserts work rows (each key once), in key order. An idle row becomes due
/// at the earlier of its two due times; a leased row keeps its lease and
/// records the trigger in `rerun_at`.
async fn upsert(conn: &mut PgConnection, rows: &[WorkRow<'_>]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&WorkRow<'_>> = rows.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(b.key));
    let keys: Vec<&str> = sorted.iter().map(|r| r.key).collect();
    let payloads: Vec<&str> = sorted.iter().map(|r| r.payload).collect();
    let dues: Vec<i64> = sorted.iter().map(|r| r.due).collect();
    sqlx::query(
        "INSERT INTO work_items (key, payload, due_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ORDER BY 1
         ON CONFLICT (key) DO UPDATE SET
             payload  = excluded.payload,
             due_at   = CASE WHEN work_items.lease_token IS NULL
                             THEN least(work_items.due_at, excluded.due_at)
                             ELSE work_items.due_at END,
             rerun_at = CASE WHEN work_items.lease_token IS NULL THEN NULL
                             ELSE least(coalesce(work_items.rerun_at, excluded.due_at), excluded.due_at) END",
    )
    .bind(keys)
    .bind(payloads)
    .bind(dues)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gathers concurrent ingests into one transaction each, a few in flight.
async fn batch_ingests(
    pool: PgPool,
    mut queue: mpsc::Receiver<Pending>,
    max_batch: usize,
    wakeups: Arc<Notify>,
) {
    let in_flight = Arc::new(Semaphore::new(INGEST_TRANSACTIONS));
    loop {
        // Wait for a free transaction first, so deliveries gather meanwhile.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(max_batch);
        if queue.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        let (pool, wakeups) = (pool.clone(), wakeups.clone());
        tokio::spawn(async move {
            let (batch, replies): (Vec<EncodedDelivery>, Vec<_>) = batch.into_iter().unzip();
            let result = store_batch(&pool, &batch).await;
            match result {
                Ok((answers, wake)) => {
                    if wake {
                        wakeups.notify_one();
                    }
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, deliveries = batch.len(), "store batch failed");
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
            drop(permit);
        });
    }
}

/// One transaction: the batch's new deliveries and their work, coalesced.
async fn store_batch(
    pool: &PgPool,
    batch: &[EncodedDelivery],
) -> Result<(Vec<Ingested>, bool), StoreError> {
    let firsts =
        columns::firsts_in_batch(batch.iter().map(|d| (d.id.as_str(), d.digest.as_deref())));
    let mut rows: Vec<(&str, &EncodedDelivery)> = batch
        .iter()
        .zip(&firsts)
        .flat_map(|(d, (id, digest))| {
            let id = id.then_some(d.id.as_str());
            let digest = d.digest.as_deref().filter(|_| *digest);
            id.into_iter().chain(digest).map(move |key| (key, d))
        })
        .collect();
    let first: Vec<bool> = firsts.iter().map(|(id, digest)| *id && *digest).collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut tx = pool.begin().await?;
    let stored: HashSet<String> = sqlx::query(
        "INSERT INTO deliveries (id, event, action, installation, received_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) ORDER BY 1
         ON CONFLICT (id) DO NOTHING
         RETURNING id",
    )
    .bind(rows.iter().map(|(k, _)| *k).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, d)| d.event.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, d)| d.action.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, d)| d.installation).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, d)| d.received_at).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| row.try_get::<String, _>(0))
    .collect::<Result<_, _>>()?;

    let answers: Vec<Ingested> = batch
        .iter()
        .zip(&first)
        .map(|(d, first)| {
            let new = |k: &str| stored.contains(k);
            if *first && new(&d.id) && d.digest.as_deref().is_none_or(new) {
                Ingested::Stored
            } else {
                Ingested::Duplicate
            }
        })
        .collect();
    let work = Coalesced::of_stored(batch, &answers);
    // One row per key (an upsert may not touch a row twice in one
    // statement): the batch's latest value wins, as one at a time would.
    let meta: std::collections::BTreeMap<&str, &str> = batch
        .iter()
        .zip(&answers)
        .filter(|(_, a)| **a == Ingested::Stored)
        .flat_map(|(d, _)| &d.meta)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !meta.is_empty() {
        sqlx::query(
            "INSERT INTO meta (key, value)
             SELECT * FROM unnest($1::text[], $2::text[])
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(meta.keys().copied().collect::<Vec<_>>())
        .bind(meta.values().copied().collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    let wake = !work.rows.is_empty();
    if wake {
        upsert(&mut tx, &work.rows).await?;
        notify(&mut tx).await?;
    }
    tx.commit().await?;
    Ok((answers, wake))
}

/// Wakes this replica's dispatcher on every `NOTIFY` from any replica. A
/// lost connection is retried; every (re)connect wakes the dispatcher once,
/// for what may have been missed meanwhile.
async fn listen(pool: PgPool, wakeups: Arc<Notify>, stop: CancellationToken) {
    loop {
        let listener = listen_once(&pool, &wakeups);
        tokio::select! {
            _ = stop.cancelled() => return,
            result = listener => {
                if let Err(e) = result {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "listening for work notifications failed; retrying");
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(LISTEN_RETRY) => {}
        }
    }
}

/// One listening session: returns only with the error that ended it.
async fn listen_once(pool: &PgPool, wakeups: &Notify) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(WAKE_CHANNEL).await?;
    wakeups.notify_one();
    loop {
        // `None` is a lost connection that the listener re-opens: anything
        // may have been missed meanwhile, so wake either way.
        let _ = listener.try_recv().await?;
        wakeups.notify_one();
    }
}

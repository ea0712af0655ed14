//! The single writer: every write goes through one task and one connection.
//!
//! A 202 promises that the delivery is on disk, and an fsync costs about as
//! much for one row as for five hundred. So callers do not write: they send
//! their write to this task and wait. The task takes *everything* queued (up
//! to a bounded batch), runs it in ONE `BEGIN IMMEDIATE` transaction, commits
//! and only answers each caller once the commit is on disk. Under load the
//! cost of a commit is shared by hundreds of deliveries, and when idle a
//! lone delivery is committed at once — group commit with no added timer.
//!
//! Durability, off the writer's path: with a WAL file to hand, the
//! connection runs `synchronous=NORMAL` (a commit writes its frames to the
//! WAL without an fsync) and a second thread, the syncer, `fdatasync`s the
//! WAL after each commit and only then answers that batch's callers — the
//! same guarantee as `synchronous=FULL`, which fsyncs the WAL inside the
//! commit, but the writer executes the next batch while the disk flushes
//! the last one. Commits reach the syncer in order, and one fsync covers
//! every frame written before it, so a batch is answered only when it and
//! everything before it is durable; a crash loses only frames nobody was
//! told about, which WAL recovery discards by checksum. (SQLite syncs the
//! WAL before every checkpoint in NORMAL mode too, so the database file
//! never holds a frame the WAL did not.) An fsync that fails poisons the
//! store: from then on every write is answered with the error (503 to
//! GitHub, which redelivers), since after a failed fsync Linux may report
//! the next one clean with the data gone. Without a WAL file to hand the
//! connection stays `synchronous=FULL` and batches are answered after the
//! commit.
//!
//! Deliveries take a fast path: the whole batch is inserted with one
//! statement (rows passed as one JSON array, unpacked by `json_each`, so the
//! statement is prepared once whatever the batch size), and their work items
//! are coalesced by key in memory and upserted with one more. Every other
//! write is a [`Job`]: an async closure over the connection, run inside its
//! own savepoint, so one failing job is rolled back and answered with its
//! error without failing the rest of the batch.
//!
//! **The writer heals.** A failed batch (disk full, an I/O error) is rolled
//! back and answered with its error, and the connection is left in
//! autocommit, so the next batch begins afresh: deliveries are accepted
//! again as soon as the cause is gone, with no restart. When not even the
//! rollback works, the connection is replaced by a fresh one before the
//! next batch (and, with a syncer, its WAL file handed to the syncer).
//!
//! Any two writes in one batch were sent concurrently (a caller waits for its
//! answer before sending again), so running deliveries first and then the
//! jobs in arrival order is a valid serial order.

use std::collections::HashSet;
use std::fs::File;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use futures::future::BoxFuture;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use super::columns::EncodedDelivery;
use super::error::StoreError;
use super::queue::{self, Coalesced};
use super::work::Ingested;

/// Opens a fresh write connection after a failure a rollback could not
/// clear (the connection's worker died, an I/O error left it unusable). The
/// flag says whether the syncer owns the fsync: then the new connection
/// runs `synchronous=NORMAL` and its WAL file comes back with it; without
/// one, it must stay `synchronous=FULL`.
pub(crate) type Reopen = Box<
    dyn Fn(bool) -> BoxFuture<'static, Result<(SqliteConnection, Option<File>), StoreError>>
        + Send
        + Sync,
>;

/// How a [`Job`] ran.
enum Ran {
    /// Failed: its savepoint must be rolled back.
    Failed,
    /// Succeeded; `wakes` when it may have made work due.
    Done { wakes: bool },
}

/// A write other than an ingest, run inside the batch transaction.
trait Job: Send {
    /// Runs the write, keeping its output until [`Job::settle`].
    fn run<'a>(&'a mut self, conn: &'a mut SqliteConnection) -> BoxFuture<'a, Ran>;
    /// Answers the caller once the batch has committed (or failed).
    fn settle(self: Box<Self>, batch: Result<(), StoreError>);
}

/// A typed [`Job`]: the closure's output goes back to the caller, but only
/// after the commit.
struct Call<T, F> {
    f: Option<F>,
    wakes: fn(&T) -> bool,
    out: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + 'static,
{
    fn run<'a>(&'a mut self, conn: &'a mut SqliteConnection) -> BoxFuture<'a, Ran> {
        Box::pin(async move {
            let out = match self.f.take() {
                Some(f) => f(conn).await,
                // Run twice would be a writer bug; answer rather than panic.
                None => Err(StoreError::Closed),
            };
            let ran = match &out {
                Ok(value) => Ran::Done {
                    wakes: (self.wakes)(value),
                },
                Err(_) => Ran::Failed,
            };
            self.out = Some(out);
            ran
        })
    }

    fn settle(self: Box<Self>, batch: Result<(), StoreError>) {
        let answer = match (self.out, batch) {
            (Some(Err(own)), _) => Err(own),
            (_, Err(batch)) => Err(batch),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Closed),
        };
        // The caller may have given up (e.g. its request was cancelled).
        let _ = self.reply.send(answer);
    }
}

enum Message {
    Ingest(
        EncodedDelivery,
        oneshot::Sender<Result<Ingested, StoreError>>,
    ),
    Job(Box<dyn Job>),
    Close,
}

/// The handle callers hold; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Message>,
    stopped: watch::Receiver<bool>,
}

impl Writer {
    /// Starts the writer task on `conn`. `wakeups` is notified after every
    /// commit that may have made work due.
    /// `wal` is the database's WAL file, opened: when given, the connection
    /// must run `synchronous=NORMAL` and the syncer makes each commit
    /// durable; when `None`, the connection must run `synchronous=FULL`.
    /// `reopen` replaces the connection when a failed batch left it
    /// unusable.
    pub(crate) fn spawn(
        conn: SqliteConnection,
        queue: usize,
        max_batch: usize,
        wakeups: Arc<Notify>,
        wal: Option<File>,
        reopen: Reopen,
    ) -> Self {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let (stopped_tx, stopped) = watch::channel(false);
        let (durable, syncer) = match wal {
            Some(wal) => {
                let (committed, pending) = std_mpsc::channel();
                let notify = wakeups.clone();
                match std::thread::Builder::new()
                    .name("store-syncer".to_owned())
                    .spawn(move || sync_loop(wal, &pending, &notify))
                {
                    Ok(thread) => (Durability::Syncer(committed), Some(thread)),
                    Err(e) => {
                        tracing::error!(error = %e, "the store syncer's thread did not start");
                        (Durability::Failed(io_error(e)), None)
                    }
                }
            }
            None => (Durability::AtCommit, None),
        };
        // Its own thread and runtime: the one writer is the serial part of
        // ingestion, and each of its statements is a hand-off to sqlx's
        // SQLite thread and back; on the shared runtime every hand-back
        // queued behind the connections it was holding up (BENCHMARKS.md).
        let thread = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        runtime.block_on(run(conn, rx, max_batch.max(1), wakeups, durable, reopen));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the store writer's runtime did not start")
                    }
                }
                // `run` dropped its sender: the syncer answers what it holds
                // and ends.
                if let Some(syncer) = syncer
                    && let Err(panic) = syncer.join()
                {
                    // Its batches were answered with an error as they were
                    // dropped (their callers saw the store closed).
                    tracing::error!(
                        panic = panic_text(panic.as_ref()),
                        "the store syncer panicked; writes it held were answered with an error"
                    );
                }
                let _ = stopped_tx.send(true);
            });
        if let Err(e) = thread {
            tracing::error!(error = %e, "the store writer's thread did not start");
        }
        Self { tx, stopped }
    }

    pub(crate) async fn ingest(&self, op: EncodedDelivery) -> Result<Ingested, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Message::Ingest(op, reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in the next batch and returns its output once committed.
    /// When `wakes` says of the output that work may have become due, the
    /// dispatcher is notified after the commit.
    pub(crate) async fn call<T, F>(&self, wakes: fn(&T) -> bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Call {
            f: Some(f),
            wakes,
            out: None,
            reply,
        });
        self.send(Message::Job(job)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn send(&self, message: Message) -> Result<(), StoreError> {
        self.tx.send(message).await.map_err(|_| StoreError::Closed)
    }

    /// Asks the writer to stop after the batch it is in, and waits until its
    /// connection is closed. Writes queued behind the stop are answered
    /// [`StoreError::Closed`].
    pub(crate) async fn close(&self) {
        // A failed send means the writer is already stopping.
        let _ = self.tx.send(Message::Close).await;
        let mut stopped = self.stopped.clone();
        // An error means the task is gone (runtime shut down): also stopped.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

async fn run(
    conn: SqliteConnection,
    mut rx: mpsc::Receiver<Message>,
    max_batch: usize,
    wakeups: Arc<Notify>,
    durable: Durability,
    reopen: Reopen,
) {
    // `None` after a failure left the connection unusable: the next batch
    // opens another before it runs.
    let mut conn = Some(conn);
    let mut messages = Vec::with_capacity(max_batch);
    let mut closing = false;
    while !closing {
        // Zero means every handle is gone: nobody can send again.
        if rx.recv_many(&mut messages, max_batch).await == 0 {
            break;
        }
        let mut ingests = Vec::new();
        let mut jobs = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Ingest(op, reply) => ingests.push((op, reply)),
                Message::Job(job) => jobs.push(job),
                Message::Close => closing = true,
            }
        }
        if conn.is_none() {
            match reopen(matches!(durable, Durability::Syncer(_))).await {
                Ok((fresh, wal)) => {
                    if let (Durability::Syncer(syncer), Some(wal)) = (&durable, wal) {
                        // Queued behind the batches of the old connection,
                        // which the old file's fsync still covers.
                        let _ = syncer.send(ToSyncer::Wal(wal));
                    }
                    tracing::info!("the store writer reopened its connection");
                    conn = Some(fresh);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the store writer cannot reopen its connection");
                    fail(ingests, jobs, &e);
                    continue;
                }
            }
        }
        let Some(live) = conn.as_mut() else { continue };
        if !commit_batch(live, ingests, jobs, &wakeups, &durable).await {
            conn = None;
        }
    }
    rx.close();
    while let Some(message) = rx.recv().await {
        match message {
            Message::Ingest(_, reply) => {
                let _ = reply.send(Err(StoreError::Closed));
            }
            Message::Job(job) => job.settle(Err(StoreError::Closed)),
            Message::Close => {}
        }
    }
    if let Some(conn) = conn
        && let Err(e) = conn.close().await
    {
        tracing::warn!(error = %e, "closing the store writer connection failed");
    }
}

/// Answers every write of a batch that could not run with `e`.
fn fail(ingests: Vec<(EncodedDelivery, IngestReply)>, jobs: Vec<Box<dyn Job>>, e: &StoreError) {
    for (_, reply) in ingests {
        let _ = reply.send(Err(e.clone()));
    }
    for job in jobs {
        job.settle(Err(e.clone()));
    }
}

/// Brings the connection back to autocommit after a failed batch, so the
/// next one can begin: a failure may leave the transaction open (an error
/// mid-batch) or SQLite may have rolled it back itself (`SQLITE_FULL` at
/// commit). Returns false when even that fails: the connection is replaced.
async fn recover(conn: &mut SqliteConnection) -> bool {
    match sqlx::query("ROLLBACK").execute(&mut *conn).await {
        Ok(_) => true,
        Err(sqlx::Error::Database(e)) if e.message().contains("no transaction is active") => true,
        Err(e) => {
            tracing::error!(error = %e, "the store writer could not roll back a failed batch; reopening its connection");
            false
        }
    }
}

type IngestReply = oneshot::Sender<Result<Ingested, StoreError>>;

/// How a committed batch becomes durable before it is answered.
enum Durability {
    /// `synchronous=FULL`: the commit itself fsync'd the WAL.
    AtCommit,
    /// The syncer fsyncs the WAL, then answers.
    Syncer(std_mpsc::Sender<ToSyncer>),
    /// The syncer could not start: nothing can be promised.
    Failed(StoreError),
}

/// What the writer hands the syncer, in commit order.
enum ToSyncer {
    /// A batch to make durable and answer.
    Batch(Committed),
    /// The WAL of a reopened connection: later batches are fsync'd there.
    Wal(File),
}

/// A committed batch, waiting to be answered.
struct Committed {
    replies: Vec<(IngestReply, Ingested)>,
    jobs: Vec<Box<dyn Job>>,
    wake: bool,
}

impl Committed {
    /// Answers every caller: their results once `durable` is `Ok`, its
    /// error otherwise.
    fn answer(self, durable: Result<(), StoreError>, wakeups: &Notify) {
        match durable {
            Ok(()) => {
                if self.wake {
                    // notify_one keeps a permit when nobody waits yet, so a
                    // dispatcher between "claim found nothing" and "wait"
                    // does not miss this.
                    wakeups.notify_one();
                }
                for (reply, result) in self.replies {
                    let _ = reply.send(Ok(result));
                }
                for job in self.jobs {
                    job.settle(Ok(()));
                }
            }
            Err(e) => {
                for (reply, _) in self.replies {
                    let _ = reply.send(Err(e.clone()));
                }
                for job in self.jobs {
                    job.settle(Err(e.clone()));
                }
            }
        }
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(Arc::new(sqlx::Error::Io(e)))
}

/// The syncer: takes every batch committed since its last fsync, fsyncs
/// the WAL once for all of them, answers them in order. Ends when the
/// writer drops its sender.
fn sync_loop(mut wal: File, pending: &std_mpsc::Receiver<ToSyncer>, wakeups: &Notify) {
    let mut poisoned: Option<StoreError> = None;
    while let Ok(first) = pending.recv() {
        let mut group = Vec::new();
        for message in std::iter::once(first).chain(pending.try_iter()) {
            match message {
                ToSyncer::Batch(committed) => group.push(committed),
                ToSyncer::Wal(file) => {
                    // The batches before it were written to the old file.
                    sync_group(&wal, &mut poisoned, std::mem::take(&mut group), wakeups);
                    wal = file;
                }
            }
        }
        sync_group(&wal, &mut poisoned, group, wakeups);
    }
}

/// One fsync for `group`, then its answers.
fn sync_group(
    wal: &File,
    poisoned: &mut Option<StoreError>,
    group: Vec<Committed>,
    wakeups: &Notify,
) {
    if group.is_empty() {
        return;
    }
    {
        let durable = match &*poisoned {
            Some(e) => Err(e.clone()),
            None => fsync(wal).map_err(|e| {
                tracing::error!(
                    error = %e,
                    "fsync of the store WAL failed: no write is acknowledged from now on; \
                     restart seamguard once the disk is healthy"
                );
                let e = io_error(e);
                *poisoned = Some(e.clone());
                e
            }),
        };
        for committed in group {
            committed.answer(durable.clone(), wakeups);
        }
    }
}

/// `fdatasync`s the WAL. A panic here (a bug, not an I/O error) is an
/// fsync that did not happen: it is returned as an error, so the batches
/// waiting on it are answered with it and the store is poisoned as after a
/// failed fsync, instead of the thread dying with their answers.
fn fsync(wal: &File) -> std::io::Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::failpoint::hit("store.syncer.fsync");
        wal.sync_data()
    }))
    .unwrap_or_else(|panic| {
        Err(std::io::Error::other(format!(
            "the store syncer panicked: {}",
            panic_text(panic.as_ref())
        )))
    })
}

/// A panic's message, when it has one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_owned()
    }
}

/// Runs, commits and answers one batch. Returns false when the connection
/// is unusable after a failure and must be replaced.
async fn commit_batch(
    conn: &mut SqliteConnection,
    ingests: Vec<(EncodedDelivery, IngestReply)>,
    mut jobs: Vec<Box<dyn Job>>,
    wakeups: &Notify,
    durable: &Durability,
) -> bool {
    if ingests.is_empty() && jobs.is_empty() {
        return true;
    }
    let (ops, replies): (Vec<EncodedDelivery>, Vec<IngestReply>) = ingests.into_iter().unzip();
    let outcome = execute(conn, &ops, &mut jobs).await;
    let (ingested, wake) = match outcome {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(error = %e, deliveries = ops.len(), writes = jobs.len(), "store batch failed");
            // Clean up before answering: a caller that retries at once
            // must find a writer that can begin.
            let usable = recover(conn).await;
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            for job in jobs {
                job.settle(Err(e.clone()));
            }
            return usable;
        }
    };
    let committed = Committed {
        replies: replies.into_iter().zip(ingested).collect(),
        jobs,
        wake,
    };
    match durable {
        Durability::AtCommit => committed.answer(Ok(()), wakeups),
        Durability::Syncer(syncer) => {
            if let Err(std_mpsc::SendError(ToSyncer::Batch(committed))) =
                syncer.send(ToSyncer::Batch(committed))
            {
                // The syncer is gone (it panicked): nothing is durable.
                committed.answer(Err(StoreError::Closed), wakeups);
            }
        }
        Durability::Failed(e) => committed.answer(Err(e.clone()), wakeups),
    }
    true
}

/// Runs one batch in one transaction. Returns each delivery's outcome and
/// whether work may have become due. On an error the transaction may still
/// be open: the caller rolls it back (`recover`).
///
/// The transaction is driven with plain statements, not sqlx's
/// `Transaction`: sqlx counts its depth itself, and when SQLite ends a
/// transaction on its own (a `COMMIT` that fails with `SQLITE_FULL` rolls
/// back) that count stays up and every later `BEGIN` was refused until a
/// restart (issue 13).
async fn execute(
    conn: &mut SqliteConnection,
    ingests: &[EncodedDelivery],
    jobs: &mut [Box<dyn Job>],
) -> Result<(Vec<Ingested>, bool), StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let ingested = store_deliveries(conn, ingests).await?;
    let mut wake = ingests
        .iter()
        .zip(&ingested)
        .any(|(op, result)| *result == Ingested::Stored && !op.work.is_empty());
    for job in jobs.iter_mut() {
        sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
        match job.run(conn).await {
            Ran::Done { wakes } => {
                sqlx::query("RELEASE job").execute(&mut *conn).await?;
                wake |= wakes;
            }
            Ran::Failed => {
                sqlx::query("ROLLBACK TO job").execute(&mut *conn).await?;
                sqlx::query("RELEASE job").execute(&mut *conn).await?;
            }
        }
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok((ingested, wake))
}

/// One delivery row, in the order the insert statement unpacks it.
type DeliveryRow<'a> = (&'a str, &'a str, Option<&'a str>, Option<i64>, i64);

/// Inserts the batch's deliveries; a new one has its work upserted, an id
/// already stored (or repeated within the batch) is a duplicate.
async fn store_deliveries(
    conn: &mut SqliteConnection,
    batch: &[EncodedDelivery],
) -> Result<Vec<Ingested>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let firsts =
        super::columns::firsts_in_batch(batch.iter().map(|d| (d.id.as_str(), d.digest.as_deref())));
    let rows: Vec<DeliveryRow<'_>> = batch
        .iter()
        .zip(&firsts)
        .flat_map(|(d, (id, digest))| {
            let id = id.then_some(d.id.as_str());
            let digest = d.digest.as_deref().filter(|_| *digest);
            id.into_iter().chain(digest).map(move |key| {
                (
                    key,
                    d.event.as_str(),
                    d.action.as_deref(),
                    d.installation,
                    d.received_at,
                )
            })
        })
        .collect();
    let first: Vec<bool> = firsts.iter().map(|(id, digest)| *id && *digest).collect();
    let rows =
        serde_json::to_string(&rows).map_err(|e| StoreError::encoding("delivery batch", e))?;
    // Ask for the ids already stored (nearly always none) rather than have
    // the insert return every new id: sqlx hands rows from its SQLite thread
    // to this task through a small channel, and under load a batch of
    // hundreds of returned rows stalled the one writer on that hand-off
    // (BENCHMARKS.md, Ingestion). Both run in this batch's transaction.
    let stored: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT id FROM deliveries
         WHERE id IN (SELECT j.value ->> 0 FROM json_each(?1) AS j)",
    )
    .bind(&rows)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    sqlx::query(
        "INSERT INTO deliveries (id, event, action, installation, received_at)
         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4
         FROM json_each(?1) AS j WHERE true
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(rows)
    .execute(&mut *conn)
    .await?;

    let ingested: Vec<Ingested> = batch
        .iter()
        .zip(&first)
        .map(|(d, first)| {
            let new = |k: &str| !stored.contains(k);
            if *first && new(&d.id) && d.digest.as_deref().is_none_or(new) {
                Ingested::Stored
            } else {
                Ingested::Duplicate
            }
        })
        .collect();

    let work = Coalesced::of_stored(batch, &ingested);
    queue::upsert(conn, &work.rows).await?;
    for (d, result) in batch.iter().zip(&ingested) {
        if *result == Ingested::Stored {
            for (key, value) in &d.meta {
                super::state::set_meta(&mut *conn, key.clone(), value.clone()).await?;
            }
        }
    }
    Ok(ingested)
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    async fn writer() -> (tempfile::TempDir, Writer, Arc<Notify>) {
        writer_syncing(|_| None).await
    }

    /// A writer whose syncer fsyncs what `wal` opens (given the database
    /// path), in WAL mode with `synchronous=NORMAL`.
    async fn writer_syncing(
        wal: impl FnOnce(&std::path::Path) -> Option<File>,
    ) -> (tempfile::TempDir, Writer, Arc<Notify>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut conn = SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let wal = wal(&path);
        if wal.is_some() {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let wakeups = Arc::new(Notify::new());
        let reopen: Reopen = Box::new(move |_| {
            let opts = opts.clone();
            Box::pin(async move { Ok((SqliteConnection::connect_with(&opts).await?, None)) })
        });
        (
            dir,
            Writer::spawn(conn, 16, 16, wakeups.clone(), wal, reopen),
            wakeups,
        )
    }

    fn insert(
        v: Option<i64>,
    ) -> impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<u64, StoreError>>
    {
        move |c| {
            async move {
                let done = sqlx::query("INSERT INTO t (v) VALUES (?1)")
                    .bind(v)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected())
            }
            .boxed()
        }
    }

    fn count()
    -> impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<i64, StoreError>> {
        |c| {
            async move {
                Ok(sqlx::query_scalar("SELECT count(*) FROM t")
                    .fetch_one(&mut *c)
                    .await?)
            }
            .boxed()
        }
    }

    /// Writes a row, then fails: a half-done write.
    fn half_done()
    -> impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<u64, StoreError>> {
        |c| {
            async move {
                sqlx::query("INSERT INTO t (v) VALUES (100)")
                    .execute(&mut *c)
                    .await?;
                sqlx::query("INSERT INTO t (v) VALUES (NULL)")
                    .execute(&mut *c)
                    .await?;
                Ok(2)
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn a_failing_write_is_rolled_back_alone() {
        let (_dir, writer, _) = writer().await;
        // Sent together, so they share one batch (the writer task has not
        // run yet on this single-threaded runtime).
        let (ok, failed, also_ok) = tokio::join!(
            writer.call(|_| false, insert(Some(1))),
            writer.call(|_| false, half_done()),
            writer.call(|_| false, insert(Some(2))),
        );
        assert_eq!(ok.unwrap(), 1);
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "{failed:?}"
        );
        assert_eq!(also_ok.unwrap(), 1);
        // Both good rows, and nothing of the half-done write.
        assert_eq!(writer.call(|_| false, count()).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn the_dispatcher_is_woken_only_when_a_write_says_so() {
        let (_dir, writer, wakeups) = writer().await;
        writer.call(|_| false, insert(Some(1))).await.unwrap();
        assert!(wakeups.notified().now_or_never().is_none());
        writer.call(|n| *n > 0, insert(Some(2))).await.unwrap();
        assert!(wakeups.notified().now_or_never().is_some());
        // A failed write wakes nobody, whatever it would have said.
        writer.call(|_| true, insert(None)).await.unwrap_err();
        assert!(wakeups.notified().now_or_never().is_none());
    }

    #[tokio::test]
    async fn with_a_syncer_writes_are_answered_after_the_wal_fsync() {
        let (_dir, writer, wakeups) = writer_syncing(|db| {
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            Some(File::options().write(true).open(wal).unwrap())
        })
        .await;
        let calls: Vec<_> = (0..40)
            .map(|v| writer.call(|_| true, insert(Some(v))))
            .collect();
        for answer in futures::future::join_all(calls).await {
            assert_eq!(answer.unwrap(), 1);
        }
        assert_eq!(writer.call(|_| false, count()).await.unwrap(), 40);
        // Woken after the fsync, as without a syncer.
        tokio::time::timeout(std::time::Duration::from_secs(5), wakeups.notified())
            .await
            .unwrap();
        writer.close().await;
    }

    #[tokio::test]
    async fn a_failed_fsync_answers_an_error_and_every_later_write_too() {
        // fsync on a pipe fails (EINVAL): the stand-in for a disk that
        // reports an I/O error.
        let (_dir, writer, wakeups) = writer_syncing(|_| {
            let (_reader, pipe) = std::io::pipe().unwrap();
            Some(File::from(std::os::fd::OwnedFd::from(pipe)))
        })
        .await;
        for _ in 0..2 {
            let answer = writer.call(|_| true, insert(Some(1))).await;
            assert!(
                matches!(answer, Err(StoreError::Unavailable(_))),
                "{answer:?}"
            );
        }
        // Nothing committed-but-not-durable woke the dispatcher.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), wakeups.notified())
                .await
                .is_err()
        );
        writer.close().await;
    }

    #[tokio::test]
    async fn a_panicking_syncer_answers_an_error_and_every_later_write_too() {
        let (_dir, writer, wakeups) = writer_syncing(|db| {
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            Some(File::options().write(true).open(wal).unwrap())
        })
        .await;
        writer.call(|_| false, insert(Some(1))).await.unwrap();
        crate::failpoint::arm(
            "store.syncer.fsync",
            crate::failpoint::Action::PanicOnce("syncer exploded on purpose".into()),
        );
        let answer = writer.call(|_| true, insert(Some(2))).await;
        match answer {
            Err(StoreError::Unavailable(e)) => {
                assert!(e.to_string().contains("syncer exploded on purpose"), "{e}")
            }
            other => panic!("committed but not durable, answered {other:?}"),
        }
        // Poisoned: nothing is acknowledged from now on.
        let later = writer.call(|_| true, insert(Some(3))).await;
        assert!(
            matches!(later, Err(StoreError::Unavailable(_))),
            "{later:?}"
        );
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), wakeups.notified())
                .await
                .is_err(),
            "nothing undurable woke the dispatcher"
        );
        writer.close().await;
    }

    #[tokio::test]
    async fn writes_after_close_are_refused() {
        let (_dir, writer, _) = writer().await;
        let other = writer.clone();
        writer.close().await;
        assert!(other.is_closed());
        assert!(matches!(
            other.call(|_| false, count()).await,
            Err(StoreError::Closed)
        ));
    }
}

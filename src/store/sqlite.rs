//! The embedded backend of [`Store`](super::Store): SQLite, one process.
//!
//! Writes go to the single writer (see `writer`); reads go to a small pool
//! of `query_only` connections, which WAL lets read beside the writer
//! without blocking it. A read issued after a write returned sees that
//! write: the writer answers only after the commit.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::Notify;

use super::columns::{self, EncodedDelivery};
use super::error::StoreError;
use super::history;
use super::options::StoreOptions;
use super::queue::{self, Finished, GiveBack, NewWork};
use super::retention;
use super::state;
use super::work::{Claim, Evaluation, Ingested, NewDelivery, Work};
use super::writer::{Reopen, Writer};

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("src/store/migrations");

/// After a checkpoint the WAL file is truncated back to this size, so one
/// burst does not leave a large file behind for good.
const JOURNAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
/// The `meta` row `/readyz` writes to prove the store can commit.
const READY_PROBE_KEY: &str = "readyz.probe";

/// The embedded store. Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub(crate) struct SqliteStore {
    writer: Writer,
    reader: SqlitePool,
    wakeups: Arc<Notify>,
    /// The exclusive lock beside the database file, held until
    /// [`Store::close`] or the last clone is dropped.
    lock: Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("closed", &self.writer.is_closed())
            .finish_non_exhaustive()
    }
}

/// Applies the embedded migrations on the connection itself
/// (`run_direct`): `Migrator::run` goes through `Acquire`, whose future rustc
/// cannot prove `Send` for every lifetime, and `Store::open` must be
/// awaitable inside a spawned task.
async fn migrate(mut conn: SqliteConnection) -> Result<SqliteConnection, StoreError> {
    MIGRATOR
        .run_direct(None, &mut conn, false)
        .await
        .map_err(|e| StoreError::from_migration(e, &MIGRATOR))?;
    Ok(conn)
}

/// The lock file beside a database: `seamguard.db` → `seamguard.db.lock`.
fn lock_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    name.into()
}

/// Takes the exclusive lock that makes the embedded store single-process,
/// and writes this process's id into the lock file so a second process can
/// say who holds it. The lock is the kernel's (`flock`): it goes away with
/// the process however it ends, so a crash never leaves a stale lock.
fn lock_beside(url: &str, db: &std::path::Path) -> Result<std::fs::File, StoreError> {
    use std::io::{Read, Seek, Write};
    let path = lock_path(db);
    let cannot = |e: std::io::Error| StoreError::InvalidUrl {
        url: url.to_owned(),
        why: format!("cannot open the lock file {}: {e}", path.display()),
    };
    let mut file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(cannot)?;
    let locked = file.try_lock();
    match locked {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(StoreError::Locked {
                url: url.to_owned(),
                lock: path.display().to_string(),
                holder: match holder.trim() {
                    "" => "its process id not yet written".to_owned(),
                    pid => pid.to_owned(),
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(cannot(e)),
    }
    let pid = format!("pid {}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()))
        .map_err(cannot)?;
    Ok(file)
}

/// Open options that create a file readable by its owner only (0600).
fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// The store holds private repository names, titles and findings: its
/// file is created 0600 before SQLite opens it, and SQLite gives its `-wal`
/// and `-shm` files the database file's mode. A file that already exists
/// keeps the mode its owner gave it.
fn create_private(db: &std::path::Path) -> std::io::Result<()> {
    match private_options().write(true).create_new(true).open(db) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens the database's WAL file so the writer's syncer can fsync it, and
/// then moves the write connection to `synchronous=NORMAL` (the syncer
/// answers a batch only after its fsync; see `writer`). When the file
/// cannot be opened (a VFS that names it differently, say) the connection
/// stays `FULL`, which fsyncs inside each commit: slower, as durable.
async fn open_wal(
    opts: &SqliteConnectOptions,
    conn: &mut SqliteConnection,
) -> Result<Option<std::fs::File>, StoreError> {
    // SQLite names the WAL after the database's real path (symlinks
    // resolved); the migrations have written to it, so it exists.
    let db = opts.get_filename();
    let wal = std::fs::canonicalize(db).map(|real| {
        let mut name = real.into_os_string();
        name.push("-wal");
        std::path::PathBuf::from(name)
    });
    match wal.and_then(|path| std::fs::OpenOptions::new().write(true).open(path)) {
        Ok(file) => {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await?;
            Ok(Some(file))
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                database = %db.display(),
                "the store's WAL file cannot be opened for fsync; committing with synchronous=FULL"
            );
            Ok(None)
        }
    }
}

impl SqliteStore {
    /// The pool reads run on (the shared reads in `state`, `reads` and
    /// `history` take it from the facade).
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Runs `f` on the single writer's connection, in its next batch (the
    /// shared writes in `state` take it from the facade).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
            ) -> futures::future::BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.writer.call(never, f).await
    }

    /// Opens the store at `database_url` (`sqlite://path`), creating the file
    /// and its directory if missing, switching it to WAL and applying the
    /// migrations.
    pub(crate) async fn open(
        database_url: &str,
        opts: &StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        let base = parse_url(database_url)?.busy_timeout(opts.busy_timeout);
        // SQLite creates the file but not its directory.
        if let Some(dir) = base
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::InvalidUrl {
                    url: database_url.to_owned(),
                    why: format!("cannot create {}: {e}", dir.display()),
                })?;
        }

        if base.get_filename() != std::path::Path::new(":memory:") {
            create_private(base.get_filename()).map_err(|e| StoreError::InvalidUrl {
                url: database_url.to_owned(),
                why: format!("cannot create {}: {e}", base.get_filename().display()),
            })?;
        }
        let write = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL in WAL mode fsyncs the log at every commit: the 202 means
            // the delivery survives a power cut, not only a crash. (Once the
            // WAL file is open the writer's syncer takes over that fsync; see
            // `open_wal`.)
            .synchronous(SqliteSynchronous::Full)
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES.to_string())
            // The statement journal of the batched upserts stays in memory
            // instead of spilling to a temporary file: −9 % CPU per
            // delivery on ingest (BENCHMARKS.md).
            .pragma("temp_store", "memory");
        // Before anything touches the database: a second process must not
        // migrate, release leases or write.
        let lock = lock_beside(database_url, base.get_filename())?;
        let conn = SqliteConnection::connect_with(&write).await?;
        let mut conn = migrate(conn).await?;
        let wal = open_wal(&base, &mut conn).await?;

        let read = base.clone().pragma("query_only", "ON");
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.read_connections.max(1))
            .acquire_timeout(opts.busy_timeout)
            .connect_with(read)
            .await?;

        let wakeups = Arc::new(Notify::new());
        let reopen: Reopen = Box::new(move |hand_over_fsync| {
            let (write, base) = (write.clone(), base.clone());
            Box::pin(async move {
                let mut conn = SqliteConnection::connect_with(&write).await?;
                let wal = if hand_over_fsync {
                    open_wal(&base, &mut conn).await?
                } else {
                    None
                };
                Ok((conn, wal))
            })
        });
        let writer = Writer::spawn(
            conn,
            opts.queue_capacity,
            opts.max_batch,
            wakeups.clone(),
            wal,
            reopen,
        );
        Ok(SqliteStore {
            writer,
            reader,
            wakeups,
            lock: Arc::new(std::sync::Mutex::new(Some(lock))),
        })
    }

    /// Stores a delivery and upserts its work items in the same transaction.
    /// `Ok` means it is on disk. A delivery id already stored (within the
    /// retention window) changes nothing and answers `Duplicate`.
    pub(crate) async fn ingest(&self, d: NewDelivery) -> Result<Ingested, StoreError> {
        self.writer.ingest(EncodedDelivery::new(d)?).await
    }

    /// Schedules `work` to run no earlier than `not_before` (schedules,
    /// reconciler, merge retries). An existing item for the same key keeps
    /// the earlier due time; if it is running, it runs again afterwards.
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
        self.writer
            .call(always, move |c| {
                async move { queue::upsert(c, &[row.as_row()]).await }.boxed()
            })
            .await
    }

    /// Leases up to `max` items due at `now`, earliest first. Each key is
    /// held by one claim at a time: it is not returned again until the claim
    /// is completed or retried, or `lease` runs out.
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
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let token = rand::random::<i64>();
        self.writer
            .call(never, move |c| {
                queue::claim(c, now_ms, max, lease_until, token).boxed()
            })
            .await
    }

    /// Extends a live lease to `now + lease`; false when it was lost.
    pub(crate) async fn renew(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let (key, token) = (claim.key.clone(), claim.token);
        let until = columns::after(now, lease);
        self.writer
            .call(never, move |c| {
                async move { queue::renew(c, &key, token, until).await }.boxed()
            })
            .await
    }

    /// Finishes a claim: the item is deleted, unless a trigger arrived while
    /// it ran, in which case it stays, due at that trigger's time. A claim
    /// whose lease was lost to another worker changes nothing.
    pub(crate) async fn complete(&self, claim: &Claim) -> Result<(), StoreError> {
        let (key, token) = (claim.key.clone(), claim.token);
        let finished = self
            .writer
            .call(
                |finished| *finished == Finished::Rerun,
                move |c| async move { queue::complete(c, &key, token).await }.boxed(),
            )
            .await?;
        if finished == Finished::LeaseLost {
            tracing::warn!(key = %claim.key, "completed a claim whose lease had been lost; its current holder finishes it");
        }
        Ok(())
    }

    /// Gives a claim back to run again no earlier than `not_before` (or
    /// sooner, if a trigger arrived while it ran): `why` says which counter
    /// grows, and `reason` is kept for diagnosis. A lost lease changes
    /// nothing.
    pub(crate) async fn give_back(
        &self,
        claim: &Claim,
        not_before: DateTime<Utc>,
        reason: &str,
        why: GiveBack,
    ) -> Result<(), StoreError> {
        let (key, token, reason) = (claim.key.clone(), claim.token, reason.to_owned());
        let due = columns::millis(not_before);
        let kept = self
            .writer
            .call(
                |kept| *kept,
                move |c| {
                    async move { queue::retry(c, &key, token, due, &reason, why).await }.boxed()
                },
            )
            .await?;
        if !kept {
            tracing::warn!(key = %claim.key, ?why, "gave back a claim whose lease had been lost; its current holder decides");
        }
        Ok(())
    }

    /// Notified after each commit that made work due: an ingest with work,
    /// an enqueue, a complete that keeps its item for a rerun, a retry, a
    /// release. Meant for one dispatcher:
    /// `notify_one` keeps a permit when nobody waits, so a wake-up between
    /// an empty claim and the wait is not lost.
    pub(crate) fn wakeups(&self) -> Arc<Notify> {
        self.wakeups.clone()
    }

    /// Makes every leased item claimable again. For start-up of the single
    /// process that embeds the store: no worker of a previous run is alive.
    pub(crate) async fn release_all_leases(&self) -> Result<u64, StoreError> {
        self.writer
            .call(|released| *released > 0, |c| queue::release_all(c).boxed())
            .await
    }

    /// Checks that the store can be read and written (`/readyz`).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        if self.writer.is_closed() {
            return Err(StoreError::Closed);
        }
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_schema")
            .fetch_one(&self.reader)
            .await?;
        // A real write through the writer: a disk that is full, or a writer
        // that cannot commit, fails here, not only on the next delivery.
        let at = columns::millis(Utc::now()).to_string();
        self.writer
            .call(never, move |c| {
                state::set_meta(&mut *c, READY_PROBE_KEY.to_owned(), at).boxed()
            })
            .await
    }

    /// Removes deliveries received before `now - older_than`, and per-PR
    /// records not touched since (see `retention`). Returns the rows removed.
    /// Runs in bounded chunks, so ingests keep flowing meanwhile.
    pub(crate) async fn prune(
        &self,
        now: DateTime<Utc>,
        older_than: Duration,
    ) -> Result<u64, StoreError> {
        let cutoff = columns::millis(now).saturating_sub(columns::duration_ms(older_than));
        let mut removed = 0;
        loop {
            let chunk = self
                .writer
                .call(never, move |c| {
                    retention::prune_chunk::<sqlx::Sqlite>(
                        c,
                        retention::SQLITE_ACTIVITY,
                        cutoff,
                        retention::PRUNE_CHUNK,
                    )
                    .boxed()
                })
                .await?;
            removed += chunk.removed;
            if !chunk.more {
                return Ok(removed);
            }
        }
    }

    /// Adds an evaluation to its pull request's history (trimmed to
    /// [`history::HISTORY_PER_PR`] in the same transaction).
    pub(crate) async fn record_evaluation(&self, e: &Evaluation) -> Result<(), StoreError> {
        let e = e.clone();
        self.writer
            .call(never, move |c| {
                async move { history::insert::<sqlx::Sqlite>(c, &e).await }.boxed()
            })
            .await
    }

    /// Stops the writer after the batch in flight and closes every
    /// connection. Later calls on any clone fail with [`StoreError::Closed`].
    pub(crate) async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        // Unlocked once closed, so the same process may open it again.
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }
}

/// For writes that never make work due.
fn never<T>(_: &T) -> bool {
    false
}

/// For writes that may always make work due.
fn always<T>(_: &T) -> bool {
    true
}

fn parse_url(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    let invalid = |why: &str| StoreError::InvalidUrl {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    if !url.starts_with("sqlite:") {
        return Err(invalid(
            "expected sqlite://PATH (one process) or postgres://… (several replicas)",
        ));
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(invalid(
            "an in-memory database cannot be shared by the writer and the readers; use a file",
        ));
    }
    SqliteConnectOptions::from_str(url).map_err(|e| invalid(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    /// The store's files hold private data: created 0600 whatever the
    /// umask (the database, its WAL and shared memory, and the lock).
    #[cfg(unix)]
    #[tokio::test]
    async fn the_stores_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let url = format!("sqlite://{}", db.display());
        let store = SqliteStore::open(&url, &StoreOptions::default())
            .await
            .unwrap();
        store
            .write(|c| state::set_meta(c, "k".to_owned(), "v".to_owned()).boxed())
            .await
            .unwrap();
        let mut seen = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", entry.path().display());
            seen += 1;
        }
        assert!(seen >= 3, "the database, its WAL and the lock at least");
        store.close().await;
    }

    /// Rows stored before migration 0002 hold ids as sent; the migration
    /// must key them exactly as `delivery_key` keys new ones, or a
    /// redelivery after an upgrade would be taken for a new delivery.
    #[tokio::test]
    async fn the_migration_keys_stored_ids_as_new_ones_are_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        let store = SqliteStore::open(&url, &StoreOptions::default())
            .await
            .unwrap();
        let ids = [
            "58474f00-b361-11eb-836d-0e4f3503ccbe",
            "0B989BA4-242F-11E5-81E1-C7B6966D2516",
            "58474f00-b361-41eb-836d-0e4f3503ccbe",
            "58474f00-b361-11eb-836d-0e4f3503ccb",
            "58474f00-b361-11eb-836d-0e4f3503cczz",
            "58474f00-b361-11eb-836d-0e4f3503ccbe0",
            "--------------1---------------------",
            "d-1",
        ];
        // As the previous version stored them (as sent), then migrated.
        let rows: Vec<String> = ids
            .iter()
            .map(|id| format!("('{id}', 'ping', 0)"))
            .collect();
        let sql = format!(
            "INSERT INTO deliveries (id, event, received_at) VALUES {};\n{}\n{}",
            rows.join(", "),
            include_str!("migrations/0002_delivery_keys.sql"),
            include_str!("migrations/0005_delivery_ids_lower_case.sql")
        );
        store
            .writer
            .call(
                |_| false,
                move |c| {
                    async move {
                        // Fixed test ids, no outside input.
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut *c)
                            .await?;
                        Ok(())
                    }
                    .boxed()
                },
            )
            .await
            .unwrap();
        let mut stored: Vec<String> = sqlx::query_scalar("SELECT id FROM deliveries")
            .fetch_all(&store.reader)
            .await
            .unwrap();
        let mut expected: Vec<String> = ids
            .iter()
            .map(|id| columns::delivery_key(&id.to_ascii_lowercase()).into_owned())
            .collect();
        stored.sort();
        expected.sort();
        assert_eq!(stored, expected);
        assert!(stored.contains(&"1e5242f0b989ba4 81e1-c7b6966d2516".to_owned()));
        for id in ids {
            assert!(
                state::has_delivery(store.reader(), &id.parse().unwrap())
                    .await
                    .unwrap(),
                "{id}"
            );
        }
        store.close().await;
    }

    /// The syncer's fsync is what makes a 202 durable, so the WAL file must
    /// be found on a fresh store and on a reopened one (SQLite deletes the
    /// WAL when the last connection closes); only then may the writer's
    /// connection leave `synchronous=FULL`.
    #[tokio::test]
    async fn the_wal_is_found_and_only_then_is_the_commit_fsync_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        for _ in 0..2 {
            SqliteStore::open(&url, &StoreOptions::default())
                .await
                .unwrap()
                .close()
                .await;
            let base = parse_url(&url).unwrap();
            let mut conn = migrate(
                SqliteConnection::connect_with(&base.clone().journal_mode(SqliteJournalMode::Wal))
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
            assert!(open_wal(&base, &mut conn).await.unwrap().is_some());
            assert_eq!(
                synchronous(&mut conn).await,
                1,
                "NORMAL once the syncer owns the fsync"
            );
            conn.close().await.unwrap();
        }

        // A database whose WAL cannot be opened keeps FULL.
        let elsewhere = parse_url(&format!(
            "sqlite://{}",
            dir.path().join("missing/none.db").display()
        ))
        .unwrap();
        let mut conn = SqliteConnection::connect_with(
            &parse_url(&url)
                .unwrap()
                .synchronous(SqliteSynchronous::Full),
        )
        .await
        .unwrap();
        assert!(open_wal(&elsewhere, &mut conn).await.unwrap().is_none());
        assert_eq!(
            synchronous(&mut conn).await,
            2,
            "FULL when there is no WAL to fsync"
        );
    }

    async fn synchronous(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(conn)
            .await
            .unwrap()
    }
}

//! Tuning for [`Store::open`](super::Store::open), shared by both backends.

use std::time::Duration;

/// Reads are short point lookups; two connections let `/readyz` and a
/// metrics scrape run beside the dispatcher without queueing.
pub(crate) const DEFAULT_READ_CONNECTIONS: u32 = 2;
/// One transaction of 512 deliveries commits in a few milliseconds; larger
/// batches add latency without throughput once the fsync is shared.
pub(crate) const DEFAULT_MAX_BATCH: usize = 512;
/// Writes waiting for the writer. Beyond this, callers wait (backpressure)
/// instead of the queue growing without bound during a disk stall.
pub(crate) const DEFAULT_QUEUE_CAPACITY: usize = 8192;
/// How long to wait for a lock another process holds (a second seamguard on
/// the same file, a `sqlite3` shell) before failing: well inside GitHub's
/// 10-second delivery timeout, long enough to ride out a checkpoint.
pub(crate) const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Ingest batches, claims and the engine's small writes in flight at once;
/// a few more than the workers, and far below PostgreSQL's 100.
pub(crate) const DEFAULT_POSTGRES_CONNECTIONS: u32 = 10;

/// Tuning for [`Store::open`]; the defaults suit one process on a small
/// machine.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the read pool.
    pub read_connections: u32,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Writes that may wait for the writer before callers are held back.
    pub queue_capacity: usize,
    /// How long to wait on a lock held by another connection.
    pub busy_timeout: Duration,
    /// Connections to PostgreSQL (the server's own group commit shares
    /// the fsync among the transactions in flight).
    pub postgres_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            read_connections: DEFAULT_READ_CONNECTIONS,
            max_batch: DEFAULT_MAX_BATCH,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            postgres_connections: DEFAULT_POSTGRES_CONNECTIONS,
        }
    }
}

//! The durable inbox: deliveries, work items, leases, schedules and the
//! small per-PR state the engine keeps between evaluations.
//!
//! **Nothing acknowledged is lost.** [`Inbox::ingest`] returns only after
//! the delivery and its work items are committed and fsync'd. One writer
//! task owns the only write connection and commits whatever is queued as one
//! transaction (group commit), so durability costs one fsync per batch, not
//! per delivery. Reads use a separate small pool; in WAL mode they never
//! block the writer.
//!
//! **Triggers coalesce; one worker per key.** A delivery becomes [`Work`]
//! items keyed by [`Work::key`] (a pull request, a SHA, a branch). Many
//! triggers for one key are one row. [`Inbox::claim`] leases rows; a leased
//! key is not handed out again until the claim is completed, retried, or
//! its lease expires (a crashed worker). A trigger that arrives during a
//! run marks the row to run again, so [`Inbox::complete`] keeps it instead
//! of deleting it: no trigger is lost to the race between "evaluation read
//! GitHub" and "evaluation finished". Leases carry a token, so a worker
//! whose lease expired cannot complete the new holder's run.
//!
//! **Time is an argument.** Everything that compares times takes `now`, so
//! tests move the clock instead of sleeping.
//!
//! **A narrow interface.** [`Inbox`] is a concrete type whose methods are
//! each a small transaction on plain tables. A server database for several
//! replicas can provide the same methods: `claim` becomes an
//! `UPDATE … WHERE key IN (SELECT … FOR UPDATE SKIP LOCKED)`, the lease
//! token already makes finishing safe across processes, and group commit
//! becomes the database's own. Only [`Inbox::release_all_leases`] is
//! specific to one embedded process (with replicas, expiry alone recovers).

mod columns;
mod error;
mod queue;
mod retention;
mod state;
mod store;
mod work;
mod writer;

pub use error::StoreError;
pub use store::{Inbox, InboxOptions};
pub use work::{Claim, Command, Ingested, NewDelivery, OpenCheckRun, QueueStats, Target, Work};

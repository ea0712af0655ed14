//! The durable store: deliveries, work items, leases, schedules and the
//! small per-PR state the engine keeps between evaluations.
//!
//! **Nothing acknowledged is lost.** [`Store::ingest`] returns only after
//! the delivery and its work items are committed and fsync'd. One writer
//! task owns the only write connection and commits whatever is queued as one
//! transaction (group commit), so durability costs one fsync per batch, not
//! per delivery. Reads use a separate small pool; in WAL mode they never
//! block the writer.
//!
//! **Triggers coalesce; one worker per key.** A delivery becomes [`Work`]
//! items keyed by [`Work::key`] (a pull request, a SHA, a branch). Many
//! triggers for one key are one row. [`Store::claim`] leases rows; a leased
//! key is not handed out again until the claim is completed, retried, or
//! its lease expires (a crashed worker). A trigger that arrives during a
//! run marks the row to run again, so [`Store::complete`] keeps it instead
//! of deleting it: no trigger is lost to the race between "evaluation read
//! GitHub" and "evaluation finished". Leases carry a token, so a worker
//! whose lease expired cannot complete the new holder's run.
//!
//! **Time is an argument.** Everything that compares times takes `now`, so
//! tests move the clock instead of sleeping.
//!
//! **A narrow interface, two backends.** [`Store`] is the one type the
//! engine and the server see; `DATABASE_URL` picks what is behind it
//! (`store`): the embedded SQLite store for one process (`sqlite`, with its
//! single writer in `writer` and its SQL in `queue`, `state`, `retention`),
//! or PostgreSQL for several replicas (`postgres`), where `claim` is an
//! `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`, the lease token makes
//! finishing safe across processes, leases are renewed while work runs,
//! wake-ups are `NOTIFY`, and the sweeps run under an advisory lock. Only
//! [`Store::release_all_leases`] differs in kind: the embedded store's file
//! lock proves no other process lives, so it releases every lease at start;
//! a shared store releases none (expiry recovers a dead replica's).

mod activity;
mod columns;
mod error;
mod facade;
mod history;
mod options;
mod postgres;
mod queue;
mod reads;
mod retention;
mod sqlite;
mod state;
mod work;
mod writer;

pub use activity::HeadActivity;
pub use error::StoreError;
pub use facade::Store;
pub use history::HISTORY_PER_PR;
pub use options::StoreOptions;
pub use work::{
    BudgetWait, Claim, Command, Evaluation, FailedJob, Ingested, LineEntry, NewDelivery,
    OpenCheckRun, QueueStats, Target, Work,
};

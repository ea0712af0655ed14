//! [`Store`]: the handle the server, the dispatcher and the engine share,
//! over one of two backends chosen by `DATABASE_URL`.
//!
//! - `sqlite://PATH` (the default): the embedded store, one process
//!   (`sqlite`); a second process on the same file refuses to start.
//! - `postgres://…` or `postgresql://…`: a server database shared by any
//!   number of replicas (`postgres`): leases with `FOR UPDATE SKIP LOCKED`,
//!   wake-ups with `LISTEN`/`NOTIFY`, sweeps under an advisory lock.
//!
//! Both give the same answers to the same calls; one behavioural test suite
//! runs against each (`tests/store_*.rs`). An enum rather than a trait
//! object: the set of backends is closed, and every call site stays a plain
//! async method call.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;

use super::columns;
use super::error::StoreError;
use super::history;
use super::options::StoreOptions;
use super::postgres::PgStore;
use super::queue::GiveBack;
use super::reads;
use super::sqlite::SqliteStore;
use super::state;
use super::work::{
    BudgetWait, Claim, Evaluation, FailedJob, Ingested, LineEntry, NewDelivery, OpenCheckRun,
    QueueStats, Work,
};
use crate::github::governor::BudgetStore;
use crate::ids::{CheckRunId, CommitSha, DeliveryId, InstallationId, PrNumber, RepoName};

/// The durable store. Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqliteStore),
    /// Boxed behind an `Arc`: it is much larger than the SQLite handle,
    /// and every clone of the store is the same store anyway.
    Postgres(std::sync::Arc<PgStore>),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Sqlite(s) => s.fmt(f),
            Backend::Postgres(p) => p.fmt(f),
        }
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:ident, $b:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $call,
            Backend::Postgres($b) => $call,
        }
    };
}

/// Runs one of the reads written once for both dialects (`state`, `reads`,
/// `history`) on whichever backend's read pool this is: a read needs no
/// method of its own on either backend.
macro_rules! read {
    ($self:ident, $read:path $(, $arg:expr)* $(,)?) => {
        match &$self.backend {
            Backend::Sqlite(b) => $read(b.reader() $(, $arg)*).await,
            Backend::Postgres(b) => $read(b.reader() $(, $arg)*).await,
        }
    };
}

/// Runs one of the writes written once for both dialects (`state`) on
/// whichever backend this is: through the embedded store's single writer
/// (which owns its one write connection, so the arguments are evaluated
/// first and moved to it), or on PostgreSQL's pool.
macro_rules! write {
    ($self:ident, $write:path $(, $name:ident = $arg:expr)* $(,)?) => {{
        $(let $name = $arg;)*
        match &$self.backend {
            Backend::Sqlite(b) => {
                b.write(move |c| $write(&mut *c $(, $name)*).boxed()).await
            }
            Backend::Postgres(b) => $write(b.reader() $(, $name)*).await,
        }
    }};
}

impl Store {
    /// Opens the store `database_url` names and brings its schema up to
    /// date: `sqlite://PATH` (created if missing, with its directory) or
    /// `postgres://…`. A schema newer than this build knows is refused.
    pub async fn open(database_url: &str, opts: StoreOptions) -> Result<Store, StoreError> {
        let backend = if is_postgres(database_url) {
            Backend::Postgres(std::sync::Arc::new(
                PgStore::open(database_url, &opts).await?,
            ))
        } else {
            Backend::Sqlite(SqliteStore::open(database_url, &opts).await?)
        };
        Ok(Store { backend })
    }

    /// Whether several processes may share this store.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Stores a delivery and upserts its work items in the same transaction.
    /// `Ok` means it is committed durably. A delivery id already stored
    /// (within the retention window) changes nothing and answers `Duplicate`.
    pub async fn ingest(&self, d: NewDelivery) -> Result<Ingested, StoreError> {
        each!(self, b => b.ingest(d).await)
    }

    /// Schedules `work` to run no earlier than `not_before` (schedules,
    /// reconciler, merge retries). An existing item for the same key keeps
    /// the earlier due time; if it is running, it runs again afterwards.
    pub async fn enqueue(&self, work: Work, not_before: DateTime<Utc>) -> Result<(), StoreError> {
        self.enqueue_because(work, not_before, "scheduled").await
    }

    /// [`enqueue`](Self::enqueue), naming what asked for it (a sweep, a
    /// command, a fan-out): the evaluation's history shows it as the cause.
    pub async fn enqueue_because(
        &self,
        work: Work,
        not_before: DateTime<Utc>,
        cause: &str,
    ) -> Result<(), StoreError> {
        each!(self, b => b.enqueue(work, not_before, cause).await)
    }

    /// Leases up to `max` items due at `now`, earliest first. Each key is
    /// held by one claim at a time, across every process on the store: it
    /// is not returned again until the claim is completed or retried, or
    /// `lease` runs out.
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        each!(self, b => b.claim(now, max, lease).await)
    }

    /// Extends a claim's lease to `now + lease` while its work runs, so a
    /// slow evaluation is never taken over. False when the lease was
    /// already lost (it ran out and another worker holds the key).
    pub async fn renew(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        each!(self, b => b.renew(claim, now, lease).await)
    }

    /// Finishes a claim: the item is deleted, unless a trigger arrived while
    /// it ran, in which case it stays, due at that trigger's time. A claim
    /// whose lease was lost to another worker changes nothing.
    pub async fn complete(&self, claim: &Claim) -> Result<(), StoreError> {
        each!(self, b => b.complete(claim).await)
    }

    /// Gives a claim whose run failed back to run again no earlier than
    /// `not_before` (or sooner, if a trigger arrived while it ran):
    /// `attempts` grows by one and `reason` is kept for diagnosis. A lost
    /// lease changes nothing.
    pub async fn retry_at(
        &self,
        claim: &Claim,
        not_before: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        each!(self, b => b.give_back(claim, not_before, reason, GiveBack::Failed).await)
    }

    /// Gives a claim back to run again as its run planned (a merge answered
    /// pending, the head moved): as [`retry_at`](Self::retry_at), but
    /// `reruns` grows instead of `attempts`, so planned re-runs never use
    /// up the attempts a failing job has.
    pub async fn rerun_at(
        &self,
        claim: &Claim,
        not_before: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        each!(self, b => b.give_back(claim, not_before, reason, GiveBack::Rerun).await)
    }

    /// Gives a claim back to run no earlier than `not_before` without
    /// counting anything: the work was not tried, only held back (GitHub's
    /// rate budget is spent until then). A lost lease changes nothing.
    pub async fn defer(
        &self,
        claim: &Claim,
        not_before: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        each!(self, b => b.give_back(claim, not_before, reason, GiveBack::Deferred).await)
    }

    /// When the next item becomes claimable (a due item, or a lease that
    /// expires), for the dispatcher's sleep; `None` when the queue is empty.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        read!(self, reads::next_due)
    }

    /// Notified after each commit that made work due, by this process or
    /// (PostgreSQL) any other on the store. Meant for one dispatcher:
    /// `notify_one` keeps a permit when nobody waits, so a wake-up between
    /// an empty claim and the wait is not lost.
    pub fn wakeups(&self) -> std::sync::Arc<tokio::sync::Notify> {
        each!(self, b => b.wakeups())
    }

    /// Makes every leased item claimable again, for start-up. Only the
    /// embedded store does this (its lock proves no other process lives);
    /// on a shared store it releases nothing and answers 0, since another
    /// replica's leases may be live; expiry recovers a dead one's.
    pub async fn release_all_leases(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.release_all_leases().await,
            Backend::Postgres(_) => Ok(0),
        }
    }

    /// Whether this process should run the periodic sweeps now: always on
    /// the embedded store; on a shared one, while it holds the sweeps'
    /// advisory lock (one replica at a time; another takes it when that
    /// one's session ends).
    pub async fn sweep_leader(&self) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(true),
            Backend::Postgres(b) => b.sweep_leader().await,
        }
    }

    /// Checks that the store can be read and written (`/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        each!(self, b => b.ping().await)
    }

    /// Queue depth and age, for `/metrics`.
    pub async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, StoreError> {
        read!(self, reads::queue_stats, now)
    }

    /// Removes deliveries received before `now - older_than`, and per-PR
    /// records not touched since (see `retention`). Returns the rows removed.
    /// Runs in bounded chunks, so ingests keep flowing meanwhile.
    pub async fn prune(&self, now: DateTime<Utc>, older_than: Duration) -> Result<u64, StoreError> {
        each!(self, b => b.prune(now, older_than).await)
    }

    /// Whether a delivery with this id is stored.
    pub async fn has_delivery(&self, id: &DeliveryId) -> Result<bool, StoreError> {
        read!(self, state::has_delivery, id)
    }

    /// Merge attempts recorded on this head of this pull request.
    pub async fn merge_attempts(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        head: &CommitSha,
    ) -> Result<u32, StoreError> {
        read!(self, reads::merge_attempts, repo, pr, head)
    }

    /// Puts pull request `pr` in the line of the strict base `base` (or
    /// keeps its place there, with `priority` updated) and returns that
    /// line: priority first, then the oldest entry. A pull request is in
    /// one line at a time; moving to another base starts at its end.
    pub async fn line_join(
        &self,
        repo: &RepoName,
        base: &str,
        pr: PrNumber,
        priority: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<LineEntry>, StoreError> {
        write!(
            self,
            state::line_join,
            r = repo.to_string(),
            b = base.to_owned(),
            n = columns::id(pr.0),
            p = priority,
            at = columns::millis(now),
        )?;
        self.line(repo, base).await
    }

    /// Takes `pr` out of whatever line it is in (merged, closed, no longer
    /// ready); returns the base of that line when it was in one.
    pub async fn line_leave(
        &self,
        repo: &RepoName,
        pr: PrNumber,
    ) -> Result<Option<String>, StoreError> {
        write!(
            self,
            state::line_leave,
            r = repo.to_string(),
            n = columns::id(pr.0)
        )
    }

    /// The line of `base`, first in line first.
    pub async fn line(&self, repo: &RepoName, base: &str) -> Result<Vec<LineEntry>, StoreError> {
        read!(self, state::line, repo.to_string(), base.to_owned())
    }

    /// Records that seamguard asked GitHub to update `pr` at `head` (or,
    /// with `None`, that no update is under way).
    pub async fn line_updating(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        head: Option<&CommitSha>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        write!(
            self,
            state::line_updating,
            r = repo.to_string(),
            n = columns::id(pr.0),
            h = head.map(|h| h.to_string()),
            at = columns::millis(now),
        )
    }

    /// Counts a merge attempt on this head (with its outcome, for diagnosis)
    /// and returns the new count.
    pub async fn record_merge_attempt(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        head: &CommitSha,
        outcome: &str,
    ) -> Result<u32, StoreError> {
        write!(
            self,
            state::record_merge_attempt,
            r = repo.to_string(),
            n = columns::id(pr.0),
            h = head.to_string(),
            outcome = outcome.to_owned(),
            // Only retention reads this time; the wall clock is good enough.
            at = columns::millis(Utc::now()),
        )
    }

    /// Forgets the merge attempts on this head, so a re-check requested by
    /// a person may try to merge again (`merge.max_attempts` counts afresh).
    pub async fn forget_merge_attempts(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        head: &CommitSha,
    ) -> Result<(), StoreError> {
        write!(
            self,
            state::forget_merge_attempts,
            r = repo.to_string(),
            n = columns::id(pr.0),
            h = head.to_string(),
        )
    }

    /// When seamguard first saw `head` in `repo`: `now` on the first call,
    /// the stored time on every later one.
    pub async fn first_seen(
        &self,
        repo: &RepoName,
        head: &CommitSha,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        // A read first: a head already seen costs the writer nothing.
        let stored = read!(self, state::seen_at, repo.to_string(), head.to_string())?;
        let seen = match stored {
            Some(seen) => seen,
            None => write!(
                self,
                state::first_seen,
                r = repo.to_string(),
                h = head.to_string(),
                at = columns::millis(now)
            )?,
        };
        columns::time(seen)
    }

    /// Records a check run seamguard opened on `head`, as in progress.
    pub async fn check_run_opened(
        &self,
        repo: &RepoName,
        installation: InstallationId,
        head: &CommitSha,
        id: CheckRunId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        write!(
            self,
            state::check_run_opened,
            id = columns::id(id.0),
            r = repo.to_string(),
            installation = columns::id(installation.0),
            h = head.to_string(),
            at = columns::millis(now),
        )
    }

    /// Records a check run as completed, with a digest of the output sent,
    /// so an identical update can be skipped next time.
    pub async fn check_run_completed(
        &self,
        id: CheckRunId,
        output_digest: &str,
    ) -> Result<(), StoreError> {
        write!(
            self,
            state::check_run_completed,
            id = columns::id(id.0),
            digest = output_digest.to_owned(),
            at = columns::millis(Utc::now()),
        )
    }

    /// The digest recorded when this check run was last completed.
    pub async fn check_run_digest(&self, id: CheckRunId) -> Result<Option<String>, StoreError> {
        read!(self, reads::check_run_digest, id)
    }

    /// Check runs still in progress that were opened before `opened_before`,
    /// oldest first (at most a few hundred per call), for the watchdog.
    pub async fn stale_check_runs(
        &self,
        opened_before: DateTime<Utc>,
    ) -> Result<Vec<OpenCheckRun>, StoreError> {
        read!(self, reads::stale_check_runs, opened_before)
    }

    /// Marks `work` as waiting on checks (or not), so the reconciler
    /// re-evaluates it even if the event that should wake it is lost.
    pub async fn set_waiting(
        &self,
        work: &Work,
        waiting: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let encoded = if waiting {
            Some(columns::encode_work(work)?)
        } else {
            None
        };
        write!(
            self,
            state::set_waiting,
            key = work.key(),
            payload = encoded,
            at = columns::millis(now),
        )
    }

    /// Whether `work` is marked waiting: its last evaluation would merge
    /// when what it waits on arrives.
    pub async fn is_waiting(&self, work: &Work) -> Result<bool, StoreError> {
        read!(self, state::is_waiting, work.key())
    }

    /// Up to `limit` waiting work items, least recently marked first, so a
    /// reconciler that enqueues them in turn gets round all of them.
    pub async fn waiting(&self, limit: usize) -> Result<Vec<Work>, StoreError> {
        read!(self, state::waiting, limit)
    }

    /// Adds an evaluation to its pull request's history, keeping the
    /// newest [`HISTORY_PER_PR`](super::HISTORY_PER_PR) of that pull
    /// request (older ones also go with `prune`).
    pub async fn record_evaluation(&self, e: &Evaluation) -> Result<(), StoreError> {
        each!(self, b => b.record_evaluation(e).await)
    }

    /// The newest `limit` evaluations of one pull request, newest first.
    pub async fn evaluations(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        limit: usize,
    ) -> Result<Vec<Evaluation>, StoreError> {
        read!(self, history::of_pr, repo, pr, limit)
    }

    /// The newest `limit` evaluations of any pull request, for `/status`.
    pub async fn recent_evaluations(&self, limit: usize) -> Result<Vec<Evaluation>, StoreError> {
        read!(self, history::recent, limit)
    }

    /// Work items whose last run failed (retrying or parked), for `/status`.
    pub async fn failed_jobs(&self) -> Result<Vec<FailedJob>, StoreError> {
        read!(self, reads::failed_jobs)
    }

    /// Whether the evaluation of `head` for `work` (running under its
    /// claim) was superseded: a delivery naming another head of the pull
    /// request (a push, `synchronize`) was stored while it ran. Its work
    /// then runs again for that head, so this one need write nothing on
    /// `head`. Answers the newer head.
    pub async fn superseded(
        &self,
        work: &Work,
        head: &CommitSha,
    ) -> Result<Option<CommitSha>, StoreError> {
        let key = work.key();
        let announced = read!(self, reads::head_announced_during_run, &key)?;
        Ok(announced.filter(|h| h != head))
    }

    /// Work items held back for GitHub's rate budget, soonest first, for
    /// `/status`.
    pub async fn budget_waits(&self) -> Result<Vec<BudgetWait>, StoreError> {
        read!(self, reads::budget_waits)
    }

    /// Whether the work on pull request `pr` is held back for GitHub's
    /// rate budget, and until when, for its page.
    pub async fn budget_wait(
        &self,
        repo: &RepoName,
        pr: PrNumber,
    ) -> Result<Option<BudgetWait>, StoreError> {
        let key = Work::pr(InstallationId(0), repo.clone(), pr).key();
        read!(self, reads::budget_wait, &key)
    }

    /// A small stored value, e.g. the hook-deliveries cursor.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        read!(self, reads::meta, key)
    }

    /// Stores a small value under `key`, replacing any.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        write!(
            self,
            state::set_meta,
            key = key.to_owned(),
            value = value.to_owned()
        )
    }

    /// Stops the writer after the batch in flight and closes every
    /// connection. Later calls on any clone fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        each!(self, b => b.close().await)
    }
}

impl Store {
    /// GitHub's rate budget ledger every replica on this store leases from
    /// (`github::governor`), so together they spend no more than one would
    /// and a pause one replica was told of holds for all: a table on
    /// PostgreSQL. `None` on the embedded store, which one process owns:
    /// whoever wires the server keeps the budget in memory then.
    pub fn shared_budget_ledger(&self) -> Option<std::sync::Arc<dyn BudgetStore>> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(b) => Some(b.clone()),
        }
    }
}

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

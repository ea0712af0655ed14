//! The engine: takes work from the store and carries it out.
//!
//! A dispatcher claims due work items (each under a lease, so one worker at
//! a time per pull request), runs at most `workers` at once, and reports
//! back to the store: done, or retry at a time (merge pending, GitHub
//! blinking). Triggers that arrive while an item runs make the store keep it
//! for another run, so nothing is lost and nothing runs twice at once.
//!
//! Periodic sweeps live in [`sweeps`]: the missed-webhook sweep, the
//! reconciler of pull requests waiting on checks, the check-run watchdog
//! and retention.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::github::{GhError, GitHub};
use crate::ids::{AppId, CommitSha, RepoName};
use crate::store::{Claim, Store, StoreError, Target};

mod act;
pub mod check_run;
pub mod commands;
pub mod config_cache;
mod evaluate;
mod fan_out;
mod gate_facts;
mod gather;
mod guards;
mod merge_group;
pub mod merger;
pub mod requirements_cache;
mod subject;
pub mod sweeps;
mod vouch;

pub use act::merge_backoff;

/// A claimed item is leased for this long unless `WORK_LEASE` says
/// otherwise. The lease is renewed while the work runs (every third of it),
/// so only a dead worker's lease runs out, and its item is taken again.
pub const LEASE: Duration = Duration::from_secs(60);

/// A job that fails transiently is retried this many times (with backoff)
/// before the check run is completed fail-safe. Only failed runs count:
/// planned re-runs (merge pending, head moved) are counted apart.
pub const MAX_JOB_ATTEMPTS: u32 = 8;

/// First backoff step of a failed job; doubles per attempt up to
/// [`MAX_JOB_BACKOFF`].
const JOB_BACKOFF: Duration = Duration::from_secs(5);
const MAX_JOB_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// An evaluation may ask to run again at once (the head moved during the
/// merge) this many times in a row; after that its re-runs are backed off
/// like failed jobs, so no evaluation loops on itself.
pub const MAX_IMMEDIATE_RERUNS: u32 = 3;

/// A re-run asked for less than this far ahead counts as immediate.
const IMMEDIATE: Duration = Duration::from_secs(1);

/// A budget deferral always says when; should one not, look again after
/// this long.
const BUDGET_DEFER_FALLBACK: Duration = Duration::from_secs(5);

/// Without a due item or a wake-up, the dispatcher still looks this often
/// (a safety net for a missed notification).
const IDLE_POLL: Duration = Duration::from_secs(30);

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub app_id: AppId,
    pub workers: usize,
    pub merge_retry_base: Duration,
    pub github_retry_base: Duration,
    pub reconcile_interval: Option<Duration>,
    pub redelivery_interval: Option<Duration>,
    pub delivery_retention: Duration,
    /// The lease on a claimed item, renewed while it runs.
    pub lease: Duration,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Run again at that time (merge pending, head moved).
    RetryAt(chrono::DateTime<Utc>, String),
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    GitHub(GhError),
    /// GitHub does not show a pull request a delivery named (404): its run
    /// is up, saying so, and the job retries with backoff.
    #[error("GitHub does not show the pull request yet: {0}")]
    NotShownYet(GhError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl EvalError {
    /// Worth retrying the job later.
    pub fn is_transient(&self) -> bool {
        match self {
            EvalError::GitHub(e) => {
                e.is_transient() || e.kind == crate::github::ErrorKind::Unauthorized
            }
            EvalError::Store(_) | EvalError::NotShownYet(_) => true,
            EvalError::Internal(_) => false,
        }
    }

    /// Held back by the budget governor: GitHub's limits are spent for now.
    fn is_deferred(&self) -> bool {
        matches!(self, EvalError::GitHub(e) if e.is_deferred())
    }

    /// GitHub says the thing asked about is not there (404, 410): nothing
    /// to come back to.
    fn is_gone(&self) -> bool {
        matches!(self, EvalError::GitHub(e) if matches!(e.status, Some(404 | 410)))
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            EvalError::GitHub(e) => e.retry_after,
            _ => None,
        }
    }
}

/// Every engine started in this process, held weakly: a stopped engine's
/// last clone drops and it leaves the list. Read by [`Engine::in_process`].
static STARTED: std::sync::Mutex<Vec<std::sync::Weak<Inner>>> = std::sync::Mutex::new(Vec::new());

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub struct Inner {
    gh: GitHub,
    store: Store,
    cfg: EngineConfig,
    configs: config_cache::ConfigCache,
    /// What each base branch requires, as read shortly before.
    requirements: requirements_cache::RequirementsCache,
    /// Write-access answers for commands, kept briefly.
    permissions: commands::PermissionCache,
    /// The checks seen on each base SHA's recent history (evidence for
    /// checks that will never come), per (repository, base SHA).
    base_histories: std::sync::Mutex<
        std::collections::HashMap<(RepoName, CommitSha), crate::gate::never_comes::BaseHistory>,
    >,
    /// `PUBLIC_URL`: where the pull request pages are (`explain` links them).
    public_url: Option<url::Url>,
    /// Signed links to the pull request pages: every check run's
    /// `details_url`, and `explain`'s link. `None` without `PUBLIC_URL`.
    links: Option<crate::web::link::PageLinks>,
    /// This App's slug, asked of GitHub the first time a bot's push must
    /// be told apart from the App's own.
    own_slug: tokio::sync::OnceCell<String>,
    /// Deliveries come through a webhook proxy (`WEBHOOK_PROXY_URL`):
    /// GitHub's delivery log shows the proxy's answers, not seamguard's.
    via_proxy: bool,
}

impl std::ops::Deref for Engine {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

fn job_backoff(attempt: u32) -> Duration {
    let step = JOB_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_JOB_BACKOFF);
    step.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

/// When a job that asked to run again `at` really runs: as asked, unless
/// it is immediate and the item has already re-run `reruns` times in a row
/// without completing; then after a job backoff.
pub fn pace_rerun(
    at: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
    reruns: u32,
) -> chrono::DateTime<Utc> {
    let immediate = at - now < chrono::Duration::from_std(IMMEDIATE).unwrap_or_default();
    if immediate && reruns >= MAX_IMMEDIATE_RERUNS {
        let wait = job_backoff(reruns - MAX_IMMEDIATE_RERUNS);
        now + chrono::Duration::from_std(wait).unwrap_or_default()
    } else {
        at
    }
}

impl Engine {
    pub fn new(gh: GitHub, store: Store, cfg: EngineConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                gh,
                store,
                cfg,
                configs: config_cache::ConfigCache::default(),
                requirements: requirements_cache::RequirementsCache::default(),
                permissions: commands::PermissionCache::default(),
                base_histories: Default::default(),
                public_url: None,
                links: None,
                own_slug: tokio::sync::OnceCell::new(),
                via_proxy: false,
            }),
        }
    }

    /// Deliveries come through a webhook proxy: the missed-webhook sweep
    /// trusts only the store, not GitHub's log of the proxy's answers.
    /// Call before [`start`](Self::start).
    pub fn through_webhook_proxy(mut self, yes: bool) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.via_proxy = yes,
            None => tracing::error!("through_webhook_proxy after the engine was shared; ignored"),
        }
        self
    }

    /// Sets `PUBLIC_URL`, which `@seamguard explain` links the pull
    /// request's page under. Call before [`start`](Self::start).
    pub fn with_public_url(mut self, public_url: Option<url::Url>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.public_url = public_url,
            None => tracing::warn!("the engine is already shared; PUBLIC_URL not set"),
        }
        self
    }

    /// Sets the signed page links the check runs' `details_url` and
    /// `explain` use. Call before [`start`](Self::start).
    pub fn with_page_links(mut self, links: Option<crate::web::link::PageLinks>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.links = links,
            None => tracing::warn!("the engine is already shared; page links not set"),
        }
        self
    }

    /// The engines started in this process that are still running. A test
    /// that runs seamguard in-process asks their stores whether anything is
    /// due or leased, to know seamguard is idle before it asserts that
    /// something did not happen.
    pub fn in_process() -> Vec<Engine> {
        let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
        started.retain(|weak| weak.strong_count() > 0);
        started
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .map(|inner| Engine { inner })
            .collect()
    }

    /// The GitHub API root this engine calls.
    pub fn github_api(&self) -> &url::Url {
        self.gh.api_url()
    }

    /// The store this engine takes its work from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs the dispatcher and the sweeps until `shutdown`; in-flight jobs
    /// are tracked by `tracker` so the caller can wait for them.
    pub fn start(&self, shutdown: CancellationToken, tracker: &TaskTracker) {
        STARTED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&self.inner));
        let engine = self.clone();
        let (s, t) = (shutdown.clone(), tracker.clone());
        tracker.spawn(async move { engine.dispatch(s, t).await });
        sweeps::start(self.clone(), shutdown, tracker);
    }

    async fn dispatch(self, shutdown: CancellationToken, tracker: TaskTracker) {
        let slots = Arc::new(Semaphore::new(self.cfg.workers));
        let wakeups = self.store.wakeups();
        loop {
            let notified = wakeups.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shutdown.is_cancelled() {
                break;
            }
            let free = slots.available_permits();
            if free > 0 {
                match self.store.claim(Utc::now(), free, self.cfg.lease).await {
                    Ok(claims) => {
                        for claim in claims {
                            let permit = slots
                                .clone()
                                .acquire_owned()
                                .await
                                .expect("semaphore never closes");
                            let engine = self.clone();
                            tracker.spawn(async move {
                                engine.run(claim).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "could not claim work"),
                }
            }
            let wait = match self.store.next_due().await {
                Ok(Some(at)) => (at - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(IDLE_POLL),
                Ok(None) => IDLE_POLL,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the queue");
                    IDLE_POLL
                }
            };
            // A full house waits for a slot rather than spinning on due items.
            let wait = if slots.available_permits() == 0 {
                IDLE_POLL
            } else {
                wait.max(Duration::from_millis(5))
            };
            let slot_freed = {
                let slots = slots.clone();
                async move {
                    // Resolves when at least one slot is free again.
                    let _p = slots.acquire().await;
                }
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(wait) => {}
                _ = slot_freed, if slots.available_permits() == 0 => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::info!("dispatcher stopped taking work");
    }

    /// Runs one claimed item and reports back to the store.
    async fn run(&self, claim: Claim) {
        // `installation_id` and `repo` are on the job span, so every line
        // the job logs (down to the GitHub client's) names them.
        let span = tracing::info_span!(
            "job",
            installation_id = claim.work.installation.0,
            repo = %claim.work.repo,
            key = %claim.key,
            attempt = claim.attempts + 1
        );
        self.run_in(claim).instrument(span).await
    }

    async fn run_in(&self, claim: Claim) {
        let last_attempt = claim.attempts + 1 >= MAX_JOB_ATTEMPTS;
        let work = AssertUnwindSafe(self.process(&claim, last_attempt)).catch_unwind();
        // The lease is renewed for as long as the work runs, so a slow
        // evaluation is never taken over by another worker or replica.
        let result = tokio::select! {
            result = work => result,
            never = self.renew_lease(&claim) => match never {},
        };
        let report = match result {
            Ok(Ok(Outcome::Done)) => self.store.complete(&claim).await,
            Ok(Ok(Outcome::RetryAt(at, reason))) => {
                // A planned re-run, not a failure: it grows `reruns`, which
                // paces it, and leaves the attempts a failure may use alone.
                let paced = pace_rerun(at, Utc::now(), claim.reruns);
                if paced != at {
                    tracing::warn!(key = %claim.key, reruns = claim.reruns, %reason, "re-running at once again and again; backing off");
                }
                self.store.rerun_at(&claim, paced, &reason).await
            }
            Ok(Err(e)) if e.is_deferred() => {
                // Not a failure and not an attempt: the work waits in the
                // store until GitHub's budget has room, however long.
                let wait = e.retry_after().unwrap_or(BUDGET_DEFER_FALLBACK);
                tracing::info!(key = %claim.key, reason = %e, wait_ms = wait.as_millis() as u64, "deferred for GitHub's budget");
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                self.store.defer(&claim, at, &e.to_string()).await
            }
            Ok(Err(e)) if e.is_transient() && !last_attempt => {
                let wait = e
                    .retry_after()
                    .unwrap_or_else(|| job_backoff(claim.attempts));
                tracing::warn!(key = %claim.key, error = %e, attempt = claim.attempts + 1, wait_ms = wait.as_millis() as u64, "job failed; retrying later");
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                self.store.retry_at(&claim, at, &e.to_string()).await
            }
            Ok(Err(e)) => {
                tracing::error!(key = %claim.key, error = %e, "job failed");
                metrics::counter!("seamguard_jobs_failed_total").increment(1);
                if e.is_transient()
                    || (matches!(claim.work.target, Target::Pr { .. }) && !e.is_gone())
                {
                    // GitHub stayed down through every retry, or the pull
                    // request could not be read at all (its head unknown,
                    // so no run to complete): hand the work to the
                    // reconciler rather than drop what was acknowledged.
                    if let Err(err) = self.store.set_waiting(&claim.work, true, Utc::now()).await {
                        tracing::error!(key = %claim.key, error = %err, "could not park the work for the reconciler");
                    }
                }
                self.store.complete(&claim).await
            }
            Err(panic) => {
                tracing::error!(key = %claim.key, "job panicked outside an evaluation: {:?}", panic.downcast_ref::<&str>());
                metrics::counter!("seamguard_jobs_failed_total").increment(1);
                self.store.complete(&claim).await
            }
        };
        if let Err(e) = report {
            // The lease runs out and the item is taken again: nothing lost.
            tracing::error!(key = %claim.key, error = %e, "could not report the job to the store");
        }
    }

    /// Renews `claim`'s lease every third of its length, forever (the
    /// caller drops this future when the work ends). A failed renewal is
    /// tried again at the next tick; a lost lease is logged, since its new
    /// holder will evaluate again and the evaluation is idempotent.
    async fn renew_lease(&self, claim: &Claim) -> std::convert::Infallible {
        let lease = self.cfg.lease;
        let mut tick = tokio::time::interval(lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match self.store.renew(claim, Utc::now(), lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(key = %claim.key, "the lease on this work was lost; another worker holds it now")
                }
                Err(e) => {
                    tracing::warn!(key = %claim.key, error = %e, "could not renew the lease; trying again")
                }
            }
        }
    }

    async fn process(&self, claim: &Claim, last_attempt: bool) -> Result<Outcome, EvalError> {
        let work = &claim.work;
        // What the history names as this run's cause.
        let cause = match (&claim.cause, claim.attempts + claim.reruns) {
            (Some(c), 0) => c.clone(),
            (Some(c), n) => format!("{c}, run {}", n + 1),
            (None, 0) => "scheduled".to_owned(),
            (None, n) => format!("retry {n}"),
        };
        match &work.target {
            Target::Pr { number, .. } => {
                self.evaluate_pr(work, *number, last_attempt, &cause).await
            }
            Target::Commit { sha } => self.fan_out_commit(work, sha, &cause).await,
            Target::BaseBranch { name } => self.fan_out_base(work, name, &cause).await,
            Target::Requirements => self.requirements_changed(work, &cause).await,
            Target::Stack { number, above } => {
                self.stack_changed(work, *number, *above, &cause).await
            }
            Target::MergeGroup { head_sha, base_ref } => {
                self.evaluate_merge_group(work, head_sha, base_ref, last_attempt)
                    .await
            }
            Target::Command {
                number,
                command,
                author,
                comment,
            } => {
                self.run_command(work, *number, *command, author, *comment)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_reruns_are_bounded_then_backed_off() {
        let now = Utc::now();
        for reruns in 0..MAX_IMMEDIATE_RERUNS {
            assert_eq!(pace_rerun(now, now, reruns), now, "re-run {reruns}");
        }
        for reruns in MAX_IMMEDIATE_RERUNS..MAX_IMMEDIATE_RERUNS + 20 {
            let paced = pace_rerun(now, now, reruns);
            assert!(
                paced - now >= chrono::Duration::from_std(JOB_BACKOFF / 2).unwrap(),
                "re-run {reruns} is backed off: {:?}",
                paced - now
            );
        }
        // A re-run asked for later is left as asked.
        let later = now + chrono::Duration::seconds(30);
        assert_eq!(pace_rerun(later, now, 50), later);
    }
}

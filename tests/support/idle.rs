//! Knowing that seamguard is idle, so that a test may assert that something
//! did *not* happen.
//!
//! A test that sleeps and then asserts that nothing happened passes on a
//! slow machine without exercising anything: the evaluation it meant to
//! catch had not even started. Instead, [`FakeGitHub::wait_idle`] waits
//! until seamguard has nothing left to do:
//!
//! - in the store of every seamguard running in this process against this
//!   fake (`Engine::in_process`): no work item due now, none leased (a job
//!   holds its item's lease from its claim until it reports back, so no
//!   evaluation is running), and nothing scheduled before a horizon
//!   ([`IDLE_HORIZON`] by default: the tests' retry bases are milliseconds,
//!   a failed job's backoff a few seconds, a check's registration timeout
//!   half an hour);
//! - at the fake: no request of seamguard's in flight (the proxy counts a
//!   connection from its accept until its answer is sent).
//!
//! It re-checks after every request the fake answers and every few
//! milliseconds (the store has no notification to wait on), and fails the
//! test with what is still going on when seamguard does not settle.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seamguard::engine::Engine;

use super::FakeGitHub;
use super::flows::WAIT;

/// How far ahead "nothing to do" looks by default: work scheduled later
/// than this (a registration timeout's re-evaluation, a backoff of minutes)
/// does not keep seamguard from being idle now.
pub const IDLE_HORIZON: Duration = Duration::from_secs(10);

/// How often the stores are asked again while waiting.
const POLL: Duration = Duration::from_millis(10);

/// What seamguard and the fake are doing, as one look saw it.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// seamguards (engines) running in this process against this fake.
    pub engines: usize,
    /// Work items due now, in all their stores.
    pub due: u64,
    /// Work items held under a live lease (jobs running).
    pub leased: u64,
    /// The earliest time any of them has work scheduled.
    pub next_due: Option<DateTime<Utc>>,
    /// seamguard's requests the fake has not finished answering.
    pub in_flight: usize,
    /// A store that could not be read, with why.
    pub unreadable: Option<String>,
}

impl Activity {
    /// Nothing running, nothing due, nothing scheduled before `now +
    /// horizon`, nothing in flight.
    pub fn is_idle(&self, now: DateTime<Utc>, horizon: Duration) -> bool {
        let later = now + chrono::Duration::from_std(horizon).expect("a short horizon");
        self.engines > 0
            && self.unreadable.is_none()
            && self.due == 0
            && self.leased == 0
            && self.in_flight == 0
            && self.next_due.is_none_or(|at| at >= later)
    }
}

impl FakeGitHub {
    /// The seamguards running in this process that call this fake.
    fn engines(&self) -> Vec<Engine> {
        let ours = [self.api_url(), self.direct_url()];
        let ours: Vec<&str> = ours.iter().map(|u| u.trim_end_matches('/')).collect();
        Engine::in_process()
            .into_iter()
            .filter(|e| ours.contains(&e.github_api().as_str().trim_end_matches('/')))
            .collect()
    }

    /// seamguard's requests this fake has not finished answering.
    pub fn in_flight(&self) -> usize {
        self.shared
            .in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// One look at what seamguard and the fake are doing.
    pub async fn activity(&self) -> Activity {
        let now = Utc::now();
        let engines = self.engines();
        let mut activity = Activity {
            engines: engines.len(),
            in_flight: self.in_flight(),
            ..Activity::default()
        };
        for engine in engines {
            let store = engine.store();
            match (store.queue_stats(now).await, store.next_due().await) {
                (Ok(stats), Ok(next)) => {
                    activity.due += stats.due;
                    activity.leased += stats.leased;
                    activity.next_due = match (activity.next_due, next) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                (Err(e), _) | (_, Err(e)) => activity.unreadable = Some(e.to_string()),
            }
        }
        // Asked last: a request that started while the stores were read is
        // still seen.
        activity.in_flight = activity.in_flight.max(self.in_flight());
        activity
    }

    /// Waits until seamguard is idle: nothing due, nothing leased, nothing
    /// scheduled within [`IDLE_HORIZON`], no request in flight. Only then
    /// may a test assert that something did not happen.
    pub async fn wait_idle(&self) {
        self.wait_idle_within(IDLE_HORIZON).await
    }

    /// As [`wait_idle`](Self::wait_idle), with work scheduled later than
    /// `horizon` from now allowed to wait (a test that knows seamguard
    /// deferred something on purpose).
    pub async fn wait_idle_within(&self, horizon: Duration) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.shared_notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let activity = self.activity().await;
            if activity.is_idle(Utc::now(), horizon) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let world = self.world();
                panic!(
                    "fake GitHub: seamguard did not become idle within {WAIT:?}: {activity:?}\n{}",
                    world.dump()
                );
            }
            let _ = tokio::time::timeout(POLL, notified).await;
        }
    }
}

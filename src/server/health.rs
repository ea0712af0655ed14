//! The store's health, as `/readyz` and `/` report it.
//!
//! A probe is a real write (the store is ready only if it commits, fsync
//! and all), so it is not made per request: anyone can load `/` in a loop,
//! and a flood of fsync'd probes slowed signed ingest eightfold. A result
//! younger than [`PROBE_INTERVAL`] is reused; one probe runs at a time and
//! callers that arrive meanwhile share its result. `/` never waits for a
//! probe another request started: it shows the last result instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How long a probe's result stands: at most one write a second, whatever
/// the request rate, while an orchestrator's readiness check (every few
/// seconds) still sees each change within a second.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The last probe's result, and the one probe in flight.
#[derive(Default)]
pub struct Health {
    last: Mutex<Option<(Instant, bool)>>,
    probing: tokio::sync::Mutex<()>,
}

impl Health {
    /// The last result if it is younger than [`PROBE_INTERVAL`].
    fn fresh(&self, now: Instant) -> Option<bool> {
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.filter(|(at, _)| now.saturating_duration_since(*at) < PROBE_INTERVAL)
            .map(|(_, ok)| ok)
    }

    fn last(&self) -> Option<bool> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(_, ok)| ok)
    }

    async fn probe(&self, store: &Store) -> bool {
        metrics::counter!("seamguard_store_probes_total").increment(1);
        let ok = match store.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "store unavailable");
                false
            }
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), ok));
        ok
    }

    /// Whether the store commits: a result at most [`PROBE_INTERVAL`] old,
    /// probing (or waiting for the probe in flight) when there is none.
    pub async fn check(&self, store: &Store) -> bool {
        if let Some(ok) = self.fresh(Instant::now()) {
            return ok;
        }
        let _one = self.probing.lock().await;
        if let Some(ok) = self.fresh(Instant::now()) {
            return ok;
        }
        self.probe(store).await
    }

    /// As [`check`](Self::check), but never waits on a probe already in
    /// flight: then the last result (`None` before the first one).
    pub async fn check_or_last(&self, store: &Store) -> Option<bool> {
        if let Some(ok) = self.fresh(Instant::now()) {
            return Some(ok);
        }
        let Ok(_one) = self.probing.try_lock() else {
            return self.last();
        };
        if let Some(ok) = self.fresh(Instant::now()) {
            return Some(ok);
        }
        Some(self.probe(store).await)
    }
}

//! The budget governor: the state behind [`super::budget`]'s rules, one
//! account per installation, and the shared ledger it leases from.
//!
//! Before a request is sent, [`Governor::admit`] checks the installation's
//! pause, primary window and requests in flight, then takes the request's
//! cost from grants leased for the current bucket of each counted window.
//! Grants come from a [`BudgetStore`]: in memory for one process, the
//! store's ledger table when replicas share a PostgreSQL database, leased
//! a few units at a time so a busy replica asks the database seldom. What
//! does not fit now is waited for briefly (a worker holding a slot for a
//! few seconds is cheaper than a store round trip), and beyond that handed
//! back as [`ErrorKind::Deferred`]: the engine puts the work back in the
//! store for then, without counting an attempt.
//!
//! After the answer, [`Governor::observe`] records the primary window from
//! the headers, and a secondary-limit answer pauses the installation here
//! and in the store, where every replica sees it within [`PAUSE_POLL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;

use super::budget::{
    self, LeaseAnswer, LedgerAsk, Limit, Limits, MemoryLedger, PrimaryWindow, Priority, Window,
};
use super::client::{ErrorKind, GhError};
use crate::ids::InstallationId;

/// How long a call waits inside the client for budget before it is handed
/// back to the store: long enough to ride out a bucket's edge (6 s), short
/// enough that workers are not all asleep while other installations have
/// budget.
pub const INLINE_WAIT: Duration = Duration::from_secs(8);

/// A replica looks at the shared pause this often while it sends: a
/// secondary limit another replica ran into holds here within this time,
/// at one small read a second per busy installation.
pub const PAUSE_POLL: chrono::Duration = chrono::Duration::seconds(1);

/// Without a time to wait for (a full house of requests in flight), look
/// again after this long, or as soon as one finishes.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(100);

/// Why the budget ledger could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The shared ledger (a database table) could not be read or written.
    #[error("the budget ledger is unavailable: {0}")]
    Unavailable(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

/// Where grants and pauses live, chosen when the server is wired: in
/// memory ([`MemoryLedger`]) for one process (the embedded store, or a
/// client without a store); a table every replica leases from when they
/// share a PostgreSQL store.
pub trait BudgetStore: Send + Sync {
    /// Leases every ask in `now`'s bucket, all or nothing.
    fn lease<'a>(
        &'a self,
        installation: InstallationId,
        now: DateTime<Utc>,
        asks: &'a [LedgerAsk],
    ) -> BoxFuture<'a, Result<LeaseAnswer, LedgerError>>;

    /// Records a pause for every process on the store.
    fn pause(
        &self,
        installation: InstallationId,
        until: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), LedgerError>>;

    /// The pause in force at `now`, if any.
    fn paused_until(
        &self,
        installation: InstallationId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Option<DateTime<Utc>>, LedgerError>>;

    /// Whether other processes lease from it too (then grants are leased
    /// in blocks and the pause is polled).
    fn shared(&self) -> bool;
}

impl BudgetStore for MemoryLedger {
    fn lease<'a>(
        &'a self,
        installation: InstallationId,
        now: DateTime<Utc>,
        asks: &'a [LedgerAsk],
    ) -> BoxFuture<'a, Result<LeaseAnswer, LedgerError>> {
        let answer = MemoryLedger::lease(self, installation.0, now, asks);
        Box::pin(async move { Ok(answer) })
    }

    fn pause(
        &self,
        installation: InstallationId,
        until: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), LedgerError>> {
        MemoryLedger::pause(self, installation.0, until);
        Box::pin(async { Ok(()) })
    }

    fn paused_until(
        &self,
        installation: InstallationId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Option<DateTime<Utc>>, LedgerError>> {
        let until = MemoryLedger::paused_until(self, installation.0, now);
        Box::pin(async move { Ok(until) })
    }

    fn shared(&self) -> bool {
        false
    }
}

/// One installation's view.
#[derive(Debug, Default)]
struct Account {
    in_flight: u32,
    /// Units leased and not yet spent, per window: only good in their
    /// bucket.
    grants: HashMap<Limit, (i64, u32)>,
    /// What this process spent per window and bucket (for the metrics).
    spent: HashMap<Limit, Vec<(i64, u32)>>,
    paused_until: Option<DateTime<Utc>>,
    pause_read_at: Option<DateTime<Utc>>,
    primary: Option<PrimaryWindow>,
    /// A content-creating window refused even a `Merge` write (the
    /// reserve is spent) until then: an evaluation started before it would
    /// spend its reads and be deferred at its first write, reading
    /// everything again later.
    writes_full_until: Option<(Limit, DateTime<Utc>)>,
    /// A content-creating window refused a `High` write (a report) until
    /// then: only evaluations that may act should spend reads now.
    reports_full_until: Option<(Limit, DateTime<Utc>)>,
    /// What `Merge` writes spent per content-creating window and bucket:
    /// the demand the merge reserve is sized from.
    merge_spent: HashMap<Limit, Vec<(i64, u32)>>,
}

impl Account {
    /// The units of `window` kept for merges now ([`budget::merge_reserve`]
    /// of what merges spent in the window just past).
    fn reserve(&self, window: &Window, now: DateTime<Utc>) -> u32 {
        let bucket = window.bucket(now);
        let spent = self
            .merge_spent
            .get(&window.limit)
            .map(|rows| {
                rows.iter()
                    .filter(|(b, _)| window.counts(*b, bucket))
                    .map(|(_, u)| u)
                    .sum()
            })
            .unwrap_or(0);
        budget::merge_reserve(window, spent)
    }

    /// Counts a `Merge` write's units toward the reserve's demand.
    fn note_merge(&mut self, window: &Window, units: u32, now: DateTime<Utc>) {
        let bucket = window.bucket(now);
        let rows = self.merge_spent.entry(window.limit).or_default();
        rows.retain(|(b, _)| *b >= window.first_counted(bucket));
        match rows.iter_mut().find(|(b, _)| *b == bucket) {
            Some((_, u)) => *u += units,
            None => rows.push((bucket, units)),
        }
    }

    fn left(&self, window: &Window, now: DateTime<Utc>) -> u32 {
        match self.grants.get(&window.limit) {
            Some((bucket, left)) if *bucket == window.bucket(now) => *left,
            _ => 0,
        }
    }
}

/// Admission to send one request; dropping it ends the request's turn in
/// flight.
pub struct Ticket {
    governor: Option<(Arc<Governor>, InstallationId)>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some((governor, id)) = self.governor.take() {
            let mut accounts = governor.lock();
            if let Some(account) = accounts.get_mut(&id.0) {
                account.in_flight = account.in_flight.saturating_sub(1);
            }
            drop(accounts);
            governor.finished.notify_waiters();
        }
    }
}

enum Step {
    Go,
    Lease(Vec<LedgerAsk>),
    Wait(Limit, Option<DateTime<Utc>>),
}

/// The budget governor of one client.
pub struct Governor {
    store: Arc<dyn BudgetStore>,
    limits: Limits,
    windows: [Window; 4],
    enabled: bool,
    accounts: Mutex<HashMap<u64, Account>>,
    finished: Notify,
}

impl Governor {
    /// A governor over `store` keeping under `limits`; with
    /// `limits.enabled` false it admits everything (the replay benchmark's
    /// comparison).
    pub fn new(store: Arc<dyn BudgetStore>, limits: Limits) -> Self {
        Self {
            store,
            enabled: limits.enabled,
            windows: limits.windows(),
            limits,
            accounts: Mutex::new(HashMap::new()),
            finished: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Account>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the request fits every limit of `id`, for at most
    /// [`INLINE_WAIT`] (not at all unless `patient`); after that a
    /// [`ErrorKind::Deferred`] error says which limit is full and when to
    /// come back.
    pub async fn admit(
        self: &Arc<Self>,
        id: InstallationId,
        route: &'static str,
        method: &reqwest::Method,
        priority: Priority,
        patient: bool,
    ) -> Result<Ticket, GhError> {
        if !self.enabled {
            return Ok(Ticket { governor: None });
        }
        let cost: Vec<(Window, u32)> = budget::cost(method, budget::Api::of_route(route))
            .iter()
            .map(|(w, units)| (self.window(w.limit), units))
            .collect();
        let max_in_flight = self.limits.max_in_flight();
        let shared = self.store.shared();
        let started = Utc::now();
        loop {
            let now = Utc::now();
            if shared {
                self.refresh_pause(id, now).await;
            }
            let step = {
                let mut accounts = self.lock();
                let account = accounts.entry(id.0).or_default();
                match budget::local_check(
                    now,
                    priority,
                    account.paused_until,
                    account.primary,
                    account.in_flight,
                    max_in_flight,
                ) {
                    Err((limit, until)) => Step::Wait(limit, until),
                    Ok(()) => {
                        let missing: Vec<LedgerAsk> = cost
                            .iter()
                            .filter(|(w, units)| account.left(w, now) < *units)
                            .map(|&(window, units)| LedgerAsk {
                                window,
                                want: if shared {
                                    units.max(window.block)
                                } else {
                                    units
                                },
                                cap: window
                                    .cap_with_reserve(priority, account.reserve(&window, now)),
                            })
                            .collect();
                        if missing.is_empty() {
                            for &(window, units) in &cost {
                                if priority == Priority::Merge && window.limit.creates_content() {
                                    account.note_merge(&window, units, now);
                                }
                                let bucket = window.bucket(now);
                                if let Some((_, left)) = account.grants.get_mut(&window.limit) {
                                    *left -= units;
                                }
                                let rows = account.spent.entry(window.limit).or_default();
                                rows.retain(|(b, _)| *b >= window.first_counted(bucket));
                                match rows.iter_mut().find(|(b, _)| *b == bucket) {
                                    Some((_, u)) => *u += units,
                                    None => rows.push((bucket, units)),
                                }
                                let used: u32 = rows.iter().map(|(_, u)| u).sum();
                                metrics::counter!("seamguard_github_budget_spent_total", "limit" => window.limit.as_str())
                                    .increment(u64::from(units));
                                metrics::gauge!("seamguard_github_budget_remaining", "installation" => id.0.to_string(), "limit" => window.limit.as_str())
                                    .set(f64::from(window.cap.saturating_sub(used)));
                            }
                            metrics::counter!("seamguard_github_budget_spent_total", "limit" => Limit::Primary.as_str())
                                .increment(1);
                            account.in_flight += 1;
                            Step::Go
                        } else {
                            Step::Lease(missing)
                        }
                    }
                }
            };
            let (limit, until) = match step {
                Step::Go => {
                    return Ok(Ticket {
                        governor: Some((self.clone(), id)),
                    });
                }
                Step::Lease(asks) => match self.store.lease(id, now, &asks).await {
                    Ok(LeaseAnswer::Granted) => {
                        let mut accounts = self.lock();
                        let account = accounts.entry(id.0).or_default();
                        for ask in &asks {
                            let bucket = ask.window.bucket(now);
                            let slot = account
                                .grants
                                .entry(ask.window.limit)
                                .or_insert((bucket, 0));
                            if slot.0 != bucket {
                                *slot = (bucket, 0);
                            }
                            slot.1 += ask.want;
                        }
                        continue;
                    }
                    Ok(LeaseAnswer::Denied { limit, until }) => {
                        if limit.creates_content() && priority >= Priority::High {
                            let mut accounts = self.lock();
                            let account = accounts.entry(id.0).or_default();
                            let full = if priority == Priority::Merge {
                                &mut account.writes_full_until
                            } else {
                                &mut account.reports_full_until
                            };
                            *full = Some((limit, until));
                        }
                        (limit, Some(until))
                    }
                    Err(e) => {
                        return Err(GhError {
                            route,
                            kind: ErrorKind::Transient,
                            status: None,
                            message: format!("the shared GitHub budget could not be read: {e}"),
                            retry_after: None,
                        });
                    }
                },
                Step::Wait(limit, until) => (limit, until),
            };
            let now = Utc::now();
            let wait = until
                .map(|u| (u - now).to_std().unwrap_or_default())
                .unwrap_or(IN_FLIGHT_POLL);
            let waited = (now - started).to_std().unwrap_or_default();
            let until_or_soon = until.unwrap_or(now + chrono::Duration::seconds(1));
            if !patient {
                // Not deferred: the caller skips what was worth sending
                // only now (and counts that where it matters).
                tracing::debug!(route, installation = %id, limit = limit.as_str(), "GitHub budget has no room now; not sent");
                return Err(deferred(route, limit, until_or_soon, now));
            }
            if waited + wait > INLINE_WAIT {
                metrics::counter!("seamguard_github_requests_deferred_total", "limit" => limit.as_str())
                    .increment(1);
                tracing::info!(route, installation = %id, limit = limit.as_str(), priority = priority.as_str(), until = %until_or_soon, "GitHub budget spent; deferring");
                return Err(deferred(route, limit, until_or_soon, now));
            }
            metrics::counter!("seamguard_github_budget_waits_total", "limit" => limit.as_str())
                .increment(1);
            if until.is_some() {
                tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
            } else {
                let _ = tokio::time::timeout(wait, self.finished.notified()).await;
            }
        }
    }

    /// This governor's version of a counted window.
    fn window(&self, limit: Limit) -> Window {
        self.windows
            .iter()
            .copied()
            .find(|w| w.limit == limit)
            .unwrap_or(budget::REST_POINTS)
    }

    /// Reads the shared pause when the last read is older than
    /// [`PAUSE_POLL`]. A store that cannot answer leaves the last reading.
    async fn refresh_pause(&self, id: InstallationId, now: DateTime<Utc>) {
        let due = {
            let accounts = self.lock();
            accounts
                .get(&id.0)
                .and_then(|a| a.pause_read_at)
                .is_none_or(|at| now - at >= PAUSE_POLL)
        };
        if !due {
            return;
        }
        match self.store.paused_until(id, now).await {
            Ok(until) => {
                let mut accounts = self.lock();
                let account = accounts.entry(id.0).or_default();
                account.pause_read_at = Some(now);
                account.paused_until = account.paused_until.max(until);
            }
            Err(e) => {
                tracing::warn!(installation = %id, error = %e, "could not read the shared GitHub pause")
            }
        }
    }

    /// Learns from an answer: the primary window from its headers, and a
    /// pause from a secondary-limit answer.
    pub async fn observe(
        &self,
        id: InstallationId,
        status: u16,
        headers: &HeaderMap,
        body: &str,
        now: DateTime<Utc>,
    ) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core");
        if resource == "core"
            && let (Some(remaining), Some(reset)) =
                (num("x-ratelimit-remaining"), num("x-ratelimit-reset"))
            && let Some(reset) = DateTime::from_timestamp(reset as i64, 0)
        {
            let limit = num("x-ratelimit-limit").unwrap_or(remaining.max(5000));
            let mut accounts = self.lock();
            let account = accounts.entry(id.0).or_default();
            account.primary = Some(PrimaryWindow {
                limit,
                remaining,
                reset,
            });
            metrics::gauge!("seamguard_github_budget_remaining", "installation" => id.0.to_string(), "limit" => Limit::Primary.as_str())
                .set(remaining as f64);
        }
        if !is_secondary_limit(status, body) {
            return;
        }
        // GitHub's word when it gives one (`Retry-After: 0` means now);
        // otherwise the minute GitHub asks for after a secondary limit. A
        // bare 429 that says no more (a proxy's, say) is left to the
        // client's backoff.
        let wait = match super::client::retry_after(headers, now) {
            Some(w) => chrono::Duration::from_std(w).unwrap_or_default(),
            None if names_secondary_limit(body) => chrono::Duration::milliseconds(
                (budget::DEFAULT_PAUSE_SECS as f64 * 1000.0 / self.limits.speed) as i64,
            ),
            None => return,
        };
        let until = now + wait;
        metrics::counter!("seamguard_github_secondary_limits_total").increment(1);
        tracing::warn!(installation = %id, %until, "GitHub answered with a secondary rate limit; pausing the installation");
        {
            let mut accounts = self.lock();
            let account = accounts.entry(id.0).or_default();
            account.paused_until = account.paused_until.max(Some(until));
        }
        if let Err(e) = self.store.pause(id, until).await {
            tracing::warn!(installation = %id, error = %e, "could not share the GitHub pause");
        }
    }

    /// When work that ends in writes should not start for `id`: a
    /// content-creating window refused a write of `priority` (`Merge`: even
    /// the reserve is spent; `High`: reports are) until later, or the
    /// installation is paused. The error is the deferral to hand back.
    pub fn writes_deferred(
        &self,
        id: InstallationId,
        priority: Priority,
        route: &'static str,
    ) -> Option<GhError> {
        if !self.enabled {
            return None;
        }
        let now = Utc::now();
        let (limit, until) = self.refusal(id, priority, now)?;
        metrics::counter!("seamguard_github_requests_deferred_total", "limit" => limit.as_str())
            .increment(1);
        Some(deferred(route, limit, until, now))
    }

    /// Whether writes of `priority` for `id` are refused until later (as
    /// [`Governor::writes_deferred`] says, without counting a deferral).
    pub fn writes_held(&self, id: InstallationId, priority: Priority) -> bool {
        self.enabled && self.refusal(id, priority, Utc::now()).is_some()
    }

    /// Which limit refuses writes of `priority` for `id`, and until when.
    fn refusal(
        &self,
        id: InstallationId,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> Option<(Limit, DateTime<Utc>)> {
        let accounts = self.lock();
        let account = accounts.get(&id.0)?;
        let refused = match priority {
            Priority::Merge => account.writes_full_until,
            _ => [account.reports_full_until, account.writes_full_until]
                .into_iter()
                .flatten()
                .max_by_key(|(_, until)| *until),
        };
        let full = refused.filter(|(_, u)| *u > now);
        let paused = account
            .paused_until
            .filter(|u| *u > now)
            .map(|u| (Limit::Paused, u));
        paused.or(full)
    }

    /// Whether a call of `priority` would be sent now for `id` without
    /// waiting on the pause or the primary window: the reconciler asks
    /// before it enqueues a round of sweeps.
    pub fn affordable(&self, id: InstallationId, priority: Priority) -> bool {
        if !self.enabled {
            return true;
        }
        let accounts = self.lock();
        let Some(account) = accounts.get(&id.0) else {
            return true;
        };
        budget::local_check(
            Utc::now(),
            priority,
            account.paused_until,
            account.primary,
            account.in_flight,
            self.limits.max_in_flight(),
        )
        .is_ok()
    }
}

/// A 429, or a 403 whose message names a secondary rate limit or abuse
/// detection (GitHub's two wordings over the years). A 403 for the spent
/// primary window is not one: its headers already say when it resets.
pub fn is_secondary_limit(status: u16, body: &str) -> bool {
    status == 429 || (status == 403 && names_secondary_limit(body))
}

/// GitHub's wordings of a secondary limit.
fn names_secondary_limit(body: &str) -> bool {
    let text = body.to_ascii_lowercase();
    text.contains("secondary rate limit") || text.contains("abuse")
}

/// The error of a call held back for later.
fn deferred(
    route: &'static str,
    limit: Limit,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> GhError {
    GhError {
        route,
        kind: ErrorKind::Deferred,
        status: None,
        message: format!(
            "waiting for {} until {}",
            limit.describe(),
            until.format("%H:%M:%S UTC")
        ),
        retry_after: Some((until - now).to_std().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_limit_answers_are_recognised() {
        assert!(is_secondary_limit(429, ""));
        assert!(is_secondary_limit(
            403,
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#
        ));
        assert!(is_secondary_limit(
            403,
            "You have triggered an abuse detection mechanism."
        ));
        assert!(!is_secondary_limit(
            403,
            "API rate limit exceeded for installation ID 1."
        ));
        assert!(!is_secondary_limit(
            403,
            "Resource not accessible by integration"
        ));
    }

    #[tokio::test]
    async fn a_full_window_defers_low_priority_first_and_a_pause_holds_everything() {
        let ledger = Arc::new(MemoryLedger::default());
        let governor = Arc::new(Governor::new(ledger.clone(), Limits::default()));
        let id = InstallationId(5);
        let now = Utc::now();
        // Fill the content window to the Low share (70 % of 70 = 49).
        let fill = [LedgerAsk {
            window: budget::CONTENT_MINUTE,
            want: budget::CONTENT_MINUTE.cap_for(Priority::Low),
            cap: budget::CONTENT_MINUTE.cap,
        }];
        assert_eq!(ledger.lease(id.0, now, &fill), LeaseAnswer::Granted);
        let route = "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}";
        // A write worth making only now is refused at once, not waited for.
        let started = std::time::Instant::now();
        let err = governor
            .admit(id, route, &reqwest::Method::PATCH, Priority::Low, false)
            .await
            .err()
            .expect("the Low share is spent");
        assert!(err.is_deferred());
        assert!(started.elapsed() < Duration::from_secs(1), "not waited for");
        let err = governor
            .admit(id, route, &reqwest::Method::PATCH, Priority::Low, true)
            .await
            .err()
            .expect("the Low share is spent");
        assert_eq!(err.kind, ErrorKind::Deferred);
        assert!(err.retry_after.is_some());
        assert!(err.message.contains("content-creating"), "{}", err.message);
        // Nothing says yet that writes are refused even to High.
        assert!(
            governor
                .writes_deferred(id, Priority::High, "evaluation")
                .is_none()
        );
        // A completion still goes.
        let ticket = governor
            .admit(id, route, &reqwest::Method::PATCH, Priority::High, true)
            .await
            .expect("High has the rest of the cap");
        drop(ticket);

        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "30".parse().unwrap());
        governor
            .observe(
                id,
                403,
                &headers,
                "You have exceeded a secondary rate limit",
                Utc::now(),
            )
            .await;
        let err = governor
            .admit(id, "GET /x", &reqwest::Method::GET, Priority::High, true)
            .await
            .err()
            .expect("paused");
        assert_eq!(err.kind, ErrorKind::Deferred);
        assert!(err.message.contains("secondary"), "{}", err.message);
        assert!(ledger.paused_until(id.0, Utc::now()).is_some());
        assert!(
            governor
                .writes_deferred(id, Priority::Merge, "evaluation")
                .is_some_and(|e| e.is_deferred())
        );
        assert!(!governor.affordable(id, Priority::Background));
        // Another installation is not paused.
        assert!(governor.affordable(InstallationId(6), Priority::Background));
    }

    #[tokio::test]
    async fn a_refused_report_holds_reports_and_a_refused_merge_holds_everything() {
        let ledger = Arc::new(MemoryLedger::default());
        let governor = Arc::new(Governor::new(ledger.clone(), Limits::default()));
        let id = InstallationId(11);
        let w = budget::CONTENT_HOUR;
        // Reports have spent all but the reserve of the hour.
        let reserve = budget::merge_reserve(&w, 0);
        let fill = [LedgerAsk {
            window: w,
            want: w.cap - reserve,
            cap: w.cap,
        }];
        assert_eq!(ledger.lease(id.0, Utc::now(), &fill), LeaseAnswer::Granted);
        let route = "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}";
        let err = governor
            .admit(id, route, &reqwest::Method::PATCH, Priority::High, true)
            .await
            .err()
            .expect("reports may not spend the reserve");
        assert!(err.is_deferred());
        let held = governor
            .writes_deferred(id, Priority::High, "evaluation")
            .expect("evaluations that only report wait whole");
        assert!(
            held.retry_after
                .is_some_and(|w| w > Duration::from_secs(60))
        );
        assert!(
            governor
                .writes_deferred(id, Priority::Merge, "evaluation")
                .is_none(),
            "evaluations that would merge go"
        );
        // The reserve is the merges': every unit of it, then no more.
        for _ in 0..reserve {
            drop(
                governor
                    .admit(
                        id,
                        "PUT /merge-async",
                        &reqwest::Method::PUT,
                        Priority::Merge,
                        false,
                    )
                    .await
                    .expect("the reserve has room"),
            );
        }
        let err = governor
            .admit(
                id,
                "PUT /merge-async",
                &reqwest::Method::PUT,
                Priority::Merge,
                true,
            )
            .await
            .err()
            .expect("the hour is spent");
        assert!(err.is_deferred());
        assert!(
            governor
                .writes_deferred(id, Priority::Merge, "evaluation")
                .is_some(),
            "now every evaluation waits whole"
        );
        assert!(
            governor
                .writes_deferred(InstallationId(12), Priority::Merge, "evaluation")
                .is_none()
        );
    }

    #[tokio::test]
    async fn switched_off_it_admits_everything() {
        let ledger = Arc::new(MemoryLedger::default());
        let governor = Arc::new(Governor::new(
            ledger,
            Limits {
                enabled: false,
                ..Limits::default()
            },
        ));
        for _ in 0..200 {
            governor
                .admit(
                    InstallationId(1),
                    "POST /x",
                    &reqwest::Method::POST,
                    Priority::Background,
                    true,
                )
                .await
                .expect("no governor");
        }
    }
}

//! The budget governor's rules: what GitHub allows an installation, what
//! seamguard allows itself, and whether one more request fits now.
//!
//! GitHub limits an installation in two ways (REST docs, "Rate limits for
//! the REST API"):
//!
//! - the **primary** limit: requests per hour, counted by GitHub and told in
//!   every answer's `X-RateLimit-*` headers;
//! - **secondary** limits, never told in advance: at most 100 requests in
//!   flight, 900 points a minute on the REST API (2,000 on GraphQL; a read
//!   costs 1 point, a mutating request 5), and 80 content-creating requests
//!   a minute and 500 an hour. Past them GitHub answers 403 or 429 and may
//!   block the App for a while.
//!
//! The secondary limits are counted here, in **buckets**: a window of length
//! `W` is cut into `N` buckets, and a request is admitted when the units
//! spent in every bucket that overlaps `[now - W, now]` (the current one and
//! the `N` before it) — and one bucket more, for requests that reach GitHub
//! later than they left — plus its own, stay under the cap. Whatever sliding
//! window GitHub counts in, it never sees more than that sum, so the cap
//! holds without knowing GitHub's bucket boundaries. Counting in buckets is
//! what lets replicas share a budget: a bucket's units are leased from the
//! store in small blocks ([`LedgerAsk`]), and a block is only good within its
//! bucket, so what a replica spends is always within what it recorded.
//!
//! **Priority.** Under pressure the budget goes to what changes outcomes:
//! each [`Priority`] may only spend up to its share of each cap (and must
//! leave a larger reserve of the primary window), so merges and check-run
//! completions pass while `in_progress` updates and sweeps wait.
//!
//! **The merge reserve.** What finishes work — merge calls, enqueues,
//! updates of a strict line's first pull request, and the completion an
//! evaluation writes just before one of them — goes at [`Priority::Merge`],
//! and part of each content-creating window is kept for it alone: no report
//! of another pull request may spend it ([`merge_reserve`] states the rule).
//! On a busy hour reports wait, and a ready pull request still merges.
//!
//! Everything here is a pure function of counters and a clock; the client
//! (`super::client`) does the waiting, the leasing and the metrics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use reqwest::Method;

/// How much a call matters when the budget is short. Ordered: a higher
/// priority may spend more of every limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Periodic sweeps (reconciler, watchdog, redelivery): they only catch
    /// what was missed, and come round again.
    Background,
    /// Writes that only show progress (`in_progress` check runs).
    Low,
    /// An evaluation's reads.
    Normal,
    /// What changes what people see: check-run completions (reports).
    High,
    /// What finishes work: merge calls, enqueues, a strict line's branch
    /// update, and the completion written just before one of them. Only it
    /// may spend the merge reserve of the content-creating windows.
    Merge,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Background => "background",
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Merge => "merge",
        }
    }

    /// The share of each secondary cap this priority may fill. The gaps
    /// are what is left for the priorities above it.
    fn share(self) -> f64 {
        match self {
            Priority::Merge | Priority::High => 1.0,
            Priority::Normal => 0.85,
            Priority::Low => 0.7,
            Priority::Background => 0.5,
        }
    }

    /// Requests of the primary window this priority leaves unspent: the
    /// last ones go to merges and completions.
    fn primary_reserve(self, limit: u64) -> u64 {
        let share = match self {
            Priority::Merge | Priority::High => 0.0,
            Priority::Normal => 0.02,
            Priority::Low => 0.05,
            Priority::Background => 0.10,
        };
        PRIMARY_RESERVE.max((limit as f64 * share) as u64)
    }

    pub const ALL: [Priority; 5] = [
        Priority::Background,
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Merge,
    ];
}

/// Below this many requests left in the primary window even merges wait
/// for the reset: other work (and humans using the same App) needs a
/// margin, and GitHub's 403 would cost more than the wait.
pub const PRIMARY_RESERVE: u64 = 20;

/// A secondary-limit pause without `Retry-After`: GitHub asks to wait at
/// least a minute before trying again.
pub const DEFAULT_PAUSE_SECS: i64 = 60;

/// Which limit held a request back (the `limit` label of the metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The hourly window of the `X-RateLimit-*` headers.
    Primary,
    /// Requests in flight.
    Concurrency,
    /// REST points per minute.
    RestPoints,
    /// GraphQL points per minute.
    GraphqlPoints,
    /// Content-creating requests per minute.
    ContentMinute,
    /// Content-creating requests per hour.
    ContentHour,
    /// GitHub answered with a secondary rate limit: everything waits.
    Paused,
}

impl Limit {
    /// Stable name: a metric label and the store's key.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Primary => "primary",
            Limit::Concurrency => "concurrency",
            Limit::RestPoints => "rest_points",
            Limit::GraphqlPoints => "graphql_points",
            Limit::ContentMinute => "content_minute",
            Limit::ContentHour => "content_hour",
            Limit::Paused => "secondary_pause",
        }
    }

    /// How people read it in a check run.
    pub fn describe(self) -> &'static str {
        match self {
            Limit::Primary => "GitHub's hourly rate limit",
            Limit::Concurrency => "GitHub's limit on concurrent requests",
            Limit::RestPoints | Limit::GraphqlPoints => "GitHub's per-minute request limit",
            Limit::ContentMinute | Limit::ContentHour => {
                "GitHub's limit on content-creating requests"
            }
            Limit::Paused => "a secondary rate limit GitHub reported",
        }
    }

    /// A window of content-creating requests (where the merge reserve is
    /// kept).
    pub fn creates_content(self) -> bool {
        matches!(self, Limit::ContentMinute | Limit::ContentHour)
    }

    pub const ALL: [Limit; 7] = [
        Limit::Primary,
        Limit::Concurrency,
        Limit::RestPoints,
        Limit::GraphqlPoints,
        Limit::ContentMinute,
        Limit::ContentHour,
        Limit::Paused,
    ];
}

/// A counted limit: a window cut into buckets, GitHub's number and the
/// cap seamguard keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: Limit,
    /// Window length, in milliseconds (of real time: a replay may shrink
    /// it, see [`Limits::speed`]).
    pub millis: i64,
    /// Buckets per window: more is finer (less held back at a bucket's
    /// edge) but more rows in the store.
    pub buckets: i64,
    /// What GitHub documents.
    pub github: u32,
    /// What seamguard allows itself: a margin below GitHub's, for clock
    /// drift and for humans using the same installation.
    pub cap: u32,
    /// Units leased from a shared store at a time: big enough that a busy
    /// replica asks seldom, small enough that an idle one wastes little.
    pub block: u32,
}

impl Window {
    fn bucket_millis(&self) -> i64 {
        (self.millis / self.buckets).max(1)
    }

    /// This window with GitHub's number `github` (an Enterprise Server may
    /// set its own), seamguard's cap and block following from it, and its
    /// length divided by `speed`.
    pub fn scaled(mut self, github: u32, speed: f64) -> Window {
        self.github = github;
        self.cap = cap_below(github);
        self.block = self.block.min((self.cap / 10).max(1));
        self.millis = ((self.millis as f64) / speed.max(1e-3)).max(self.buckets as f64) as i64;
        self
    }

    /// The oldest bucket still counted at bucket `now`: the `N` that
    /// overlap the window, and one more as a guard against requests
    /// reaching GitHub later than they were admitted (network jitter).
    pub fn first_counted(&self, now: i64) -> i64 {
        now - self.buckets - 1
    }

    /// The bucket `now` falls in.
    pub fn bucket(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp_millis().div_euclid(self.bucket_millis())
    }

    /// When `bucket` begins.
    pub fn bucket_start(&self, bucket: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(bucket * self.bucket_millis()).unwrap_or_default()
    }

    /// The cap a priority may fill, with no merge reserve.
    pub fn cap_for(&self, priority: Priority) -> u32 {
        ((self.cap as f64) * priority.share()).floor().max(1.0) as u32
    }

    /// The cap a priority may fill when `reserve` units of this window are
    /// kept for [`Priority::Merge`]: every other priority stays below
    /// `cap - reserve` as well as below its own share.
    pub fn cap_with_reserve(&self, priority: Priority, reserve: u32) -> u32 {
        let share = self.cap_for(priority);
        if priority == Priority::Merge || !self.limit.creates_content() {
            return share;
        }
        share.min(self.cap.saturating_sub(reserve)).max(1)
    }

    /// Whether `bucket` is within the window that ends with bucket `now`.
    pub fn counts(&self, bucket: i64, now: i64) -> bool {
        bucket >= self.first_counted(now) && bucket <= now
    }
}

/// The merge reserve's smallest share of a content-creating window: room
/// for a few merges even on a window's first minute.
pub const MERGE_RESERVE_MIN: f64 = 0.05;

/// The fewest units the merge reserve keeps: one merge (its completion
/// and its call).
const MERGE_RESERVE_UNITS: f64 = 2.0;

/// The merge reserve's largest share: reports of every other pull request
/// keep three quarters of the window.
pub const MERGE_RESERVE_MAX: f64 = 0.25;

/// The units of a content-creating window kept for [`Priority::Merge`],
/// sized from demand: one and a half times what merges spent in the
/// window just past (`merge_spent`, a sliding window like every count
/// here), and never less than [`MERGE_RESERVE_MIN`] of the cap (and two
/// units: one merge's completion and call) nor more than
/// [`MERGE_RESERVE_MAX`] (but the floor, on a window of a few units). On GitHub.com's
/// 500 an hour (seamguard's cap 444) that is 23 to 111 writes an hour; a
/// day that merged 40 in its last hour keeps 60.
pub fn merge_reserve(window: &Window, merge_spent: u32) -> u32 {
    if !window.limit.creates_content() {
        return 0;
    }
    let cap = f64::from(window.cap);
    let floor = (cap * MERGE_RESERVE_MIN)
        .ceil()
        .max(MERGE_RESERVE_UNITS)
        .min(cap);
    let ceiling = (cap * MERGE_RESERVE_MAX).floor().max(floor);
    (f64::from(merge_spent) * 1.5).ceil().clamp(floor, ceiling) as u32
}

/// 900 points a minute on REST.
pub const REST_POINTS: Window = Window {
    limit: Limit::RestPoints,
    millis: 60_000,
    buckets: 10,
    github: 900,
    cap: cap_below(900),
    block: 20,
};

/// 2,000 points a minute on GraphQL.
pub const GRAPHQL_POINTS: Window = Window {
    limit: Limit::GraphqlPoints,
    millis: 60_000,
    buckets: 10,
    github: 2000,
    cap: cap_below(2000),
    block: 20,
};

/// 80 content-creating requests a minute.
pub const CONTENT_MINUTE: Window = Window {
    limit: Limit::ContentMinute,
    millis: 60_000,
    buckets: 10,
    github: 80,
    cap: cap_below(80),
    block: 2,
};

/// 500 content-creating requests an hour, in one-minute buckets.
pub const CONTENT_HOUR: Window = Window {
    limit: Limit::ContentHour,
    millis: 3_600_000,
    buckets: 60,
    github: 500,
    cap: cap_below(500),
    block: 2,
};

/// The margin seamguard keeps below each of GitHub's numbers: a ninth,
/// for clock drift and for people using the same installation (900 → 800,
/// 80 → 71, 500 → 444).
pub const fn cap_below(github: u32) -> u32 {
    let cap = github.saturating_sub(github.div_ceil(9));
    if cap == 0 { 1 } else { cap }
}

/// GitHub's numbers the governor keeps under (GitHub.com's by default; an
/// Enterprise Server sets its own), and whether it runs at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Off: every request goes at once (only for comparison runs).
    pub enabled: bool,
    pub rest_points: u32,
    pub graphql_points: u32,
    pub content_minute: u32,
    pub content_hour: u32,
    /// Requests in flight per installation, across every replica.
    pub concurrency: u32,
    /// Replicas expected to share an installation: each keeps to its share
    /// of `concurrency` (in-flight requests are not leased).
    pub replicas: u32,
    /// Windows run this many times faster than real time: a replay on a
    /// fake GitHub whose clock runs fast. 1 against GitHub.
    pub speed: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            enabled: true,
            rest_points: REST_POINTS.github,
            graphql_points: GRAPHQL_POINTS.github,
            content_minute: CONTENT_MINUTE.github,
            content_hour: CONTENT_HOUR.github,
            concurrency: 100,
            replicas: 2,
            speed: 1.0,
        }
    }
}

impl Limits {
    /// Reads `key=value` pairs separated by commas (`GITHUB_RATE_LIMITS`):
    /// `rest_points`, `graphql_points`, `content_minute`, `content_hour`,
    /// `concurrency`, `replicas` (whole numbers) and `speed`; unnamed keys
    /// keep GitHub's numbers.
    pub fn parse(spec: &str) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {pair:?}"))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "speed" {
                limits.speed = value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| format!("speed: expected a positive number, got {value:?}"))?;
                continue;
            }
            let n = value
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{key}: expected a positive whole number, got {value:?}"))?;
            match key {
                "rest_points" => limits.rest_points = n,
                "graphql_points" => limits.graphql_points = n,
                "content_minute" => limits.content_minute = n,
                "content_hour" => limits.content_hour = n,
                "concurrency" => limits.concurrency = n,
                "replicas" => limits.replicas = n,
                other => return Err(format!("unknown limit {other:?}")),
            }
        }
        Ok(limits)
    }

    /// The counted windows under these numbers.
    pub fn windows(&self) -> [Window; 4] {
        [
            REST_POINTS.scaled(self.rest_points, self.speed),
            GRAPHQL_POINTS.scaled(self.graphql_points, self.speed),
            CONTENT_MINUTE.scaled(self.content_minute, self.speed),
            CONTENT_HOUR.scaled(self.content_hour, self.speed),
        ]
    }

    /// Requests one process keeps in flight per installation: its share of
    /// GitHub's concurrency limit, with the same margin as the rest.
    pub fn max_in_flight(&self) -> u32 {
        (cap_below(self.concurrency) / self.replicas.max(1)).max(1)
    }
}

/// What one request costs against the counted windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// `(window, units)`; only the windows it touches.
    pub units: [(Window, u32); 3],
    pub len: usize,
}

impl Cost {
    pub fn iter(&self) -> impl Iterator<Item = (Window, u32)> + '_ {
        self.units[..self.len].iter().copied()
    }
}

/// Which API a request goes to, as its cost depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Rest,
    /// A GraphQL document with only queries: 1 point, creates nothing.
    GraphqlQuery,
    /// A GraphQL document with a mutation: 5 points, creates content.
    GraphqlMutation,
}

impl Api {
    /// From the call's route: GraphQL routes are spelled
    /// `POST /graphql query <Name>` or `POST /graphql mutation <name>`; a
    /// GraphQL route that says neither is counted as a mutation, which is
    /// never less than what it costs.
    pub fn of_route(route: &str) -> Api {
        match route.strip_prefix("POST /graphql") {
            None => Api::Rest,
            Some(rest) if rest.trim_start().starts_with("query ") => Api::GraphqlQuery,
            Some(_) => Api::GraphqlMutation,
        }
    }
}

/// What a request costs (GitHub's secondary-limit points): REST GET, HEAD
/// and OPTIONS and GraphQL queries are reads (1 point); REST POST, PATCH,
/// PUT and DELETE and GraphQL mutations are 5 points and create content.
pub fn cost(method: &Method, api: Api) -> Cost {
    let (points, reads) = match api {
        Api::Rest => (
            REST_POINTS,
            matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS),
        ),
        Api::GraphqlQuery => (GRAPHQL_POINTS, true),
        Api::GraphqlMutation => (GRAPHQL_POINTS, false),
    };
    if reads {
        Cost {
            units: [(points, 1), (points, 0), (points, 0)],
            len: 1,
        }
    } else {
        Cost {
            units: [(points, 5), (CONTENT_MINUTE, 1), (CONTENT_HOUR, 1)],
            len: 3,
        }
    }
}

/// Whether `want` more units fit in `window` at bucket `now`, given what
/// was spent per bucket (`(bucket, units)`, any order, old ones ignored).
/// `Err` holds the first bucket in which they will fit (when enough of the
/// oldest spending has left the window), or `None` if they never can.
pub fn fits(
    spent: &[(i64, u32)],
    window: &Window,
    now: i64,
    want: u32,
    cap: u32,
) -> Result<(), Option<i64>> {
    if want > cap {
        return Err(None);
    }
    let first = window.first_counted(now);
    let mut live: Vec<(i64, u32)> = spent
        .iter()
        .copied()
        .filter(|(b, u)| *b >= first && *b <= now && *u > 0)
        .collect();
    let used: u64 = live.iter().map(|(_, u)| u64::from(*u)).sum();
    if used + u64::from(want) <= u64::from(cap) {
        return Ok(());
    }
    live.sort_unstable();
    let mut left = used;
    for (bucket, units) in live {
        left -= u64::from(units);
        if left + u64::from(want) <= u64::from(cap) {
            // The first bucket that no longer counts that one.
            return Err(Some(bucket + window.buckets + 2));
        }
    }
    Err(None)
}

/// One window's share of a lease: `want` units in the current bucket if
/// the window's total stays within `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerAsk {
    pub window: Window,
    pub want: u32,
    pub cap: u32,
}

/// A ledger's answer to a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// Every ask was granted, in the bucket of `now`.
    Granted,
    /// Nothing was granted: `limit` is full until `until`.
    Denied { limit: Limit, until: DateTime<Utc> },
}

/// Decides a lease against spent buckets, all or nothing: the one rule
/// every ledger (in memory or in a database) applies. `spent(window)` gives
/// that window's spending per bucket.
pub fn decide_lease(
    asks: &[LedgerAsk],
    now: DateTime<Utc>,
    spent: impl Fn(&Window) -> Vec<(i64, u32)>,
) -> LeaseAnswer {
    for ask in asks {
        let bucket = ask.window.bucket(now);
        if let Err(when) = fits(&spent(&ask.window), &ask.window, bucket, ask.want, ask.cap) {
            let until = match when {
                Some(b) => ask.window.bucket_start(b),
                // More than the cap at once: a window from now.
                None => now + chrono::Duration::milliseconds(ask.window.millis),
            };
            return LeaseAnswer::Denied {
                limit: ask.window.limit,
                until,
            };
        }
    }
    LeaseAnswer::Granted
}

/// The in-memory ledger: the embedded store's (one process) and the
/// client's when it runs without a store (setup, doctor, tests).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: std::sync::Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    /// `(installation, limit)` → spent per bucket.
    spent: HashMap<(u64, Limit), Vec<(i64, u32)>>,
    paused: HashMap<u64, DateTime<Utc>>,
}

impl MemoryLedger {
    /// Leases the asks for `installation` at `now`, all or nothing.
    pub fn lease(&self, installation: u64, now: DateTime<Utc>, asks: &[LedgerAsk]) -> LeaseAnswer {
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let answer = decide_lease(asks, now, |w| {
            state
                .spent
                .get(&(installation, w.limit))
                .cloned()
                .unwrap_or_default()
        });
        if answer == LeaseAnswer::Granted {
            for ask in asks {
                let bucket = ask.window.bucket(now);
                let rows = state
                    .spent
                    .entry((installation, ask.window.limit))
                    .or_default();
                rows.retain(|(b, _)| *b >= ask.window.first_counted(bucket));
                match rows.iter_mut().find(|(b, _)| *b == bucket) {
                    Some((_, units)) => *units += ask.want,
                    None => rows.push((bucket, ask.want)),
                }
            }
        }
        answer
    }

    /// Holds every request of `installation` until `until` (a later pause
    /// already recorded wins).
    pub fn pause(&self, installation: u64, until: DateTime<Utc>) {
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let slot = state.paused.entry(installation).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// The pause in force for `installation` at `now`, if any.
    pub fn paused_until(&self, installation: u64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        state
            .paused
            .get(&installation)
            .copied()
            .filter(|u| *u > now)
    }

    /// Units spent in `window`'s current bucket range (for metrics).
    pub fn spent_in_window(&self, installation: u64, window: &Window, now: DateTime<Utc>) -> u32 {
        let state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let first = window.first_counted(window.bucket(now));
        state
            .spent
            .get(&(installation, window.limit))
            .map(|rows| {
                rows.iter()
                    .filter(|(b, _)| *b >= first)
                    .map(|(_, u)| u)
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// What the primary window looked like in the last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryWindow {
    pub limit: u64,
    pub remaining: u64,
    pub reset: DateTime<Utc>,
}

/// The local checks before any counted window: a pause, the primary window
/// and requests in flight. `Err` names the limit and when to look again
/// (`None`: when a request in flight finishes).
pub fn local_check(
    now: DateTime<Utc>,
    priority: Priority,
    paused_until: Option<DateTime<Utc>>,
    primary: Option<PrimaryWindow>,
    in_flight: u32,
    max_in_flight: u32,
) -> Result<(), (Limit, Option<DateTime<Utc>>)> {
    if let Some(until) = paused_until.filter(|u| *u > now) {
        return Err((Limit::Paused, Some(until)));
    }
    if let Some(w) = primary.filter(|w| w.reset > now) {
        let reserve = priority.primary_reserve(w.limit);
        // Requests in flight will each spend one more.
        if w.remaining.saturating_sub(u64::from(in_flight)) <= reserve {
            return Err((Limit::Primary, Some(w.reset + RESET_MARGIN)));
        }
    }
    let cap = ((f64::from(max_in_flight)) * priority.share()).max(1.0) as u32;
    if in_flight >= cap {
        return Err((Limit::Concurrency, None));
    }
    Ok(())
}

/// `x-ratelimit-reset` is whole seconds, and clocks drift: wait this much
/// past it.
pub const RESET_MARGIN: chrono::Duration = chrono::Duration::seconds(1);

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests in flight one process allows by default (44 of 100, over
    /// two replicas).
    const M: u32 = 44;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn a_request_fits_until_the_cap_then_waits_for_the_oldest_bucket() {
        let w = CONTENT_MINUTE; // 6 s buckets
        let spent = vec![(100, 30), (105, 40)];
        assert_eq!(fits(&spent, &w, 105, 0, 70), Ok(()));
        assert_eq!(fits(&spent, &w, 105, 1, 70), Err(Some(112)));
        // Once bucket 100 is outside [now - 11, now], it no longer counts.
        assert_eq!(fits(&spent, &w, 112, 30, 70), Ok(()));
        assert_eq!(fits(&spent, &w, 111, 1, 70), Err(Some(112)));
        // Both buckets needed to leave: the later one decides.
        assert_eq!(fits(&spent, &w, 105, 50, 70), Err(Some(117)));
        assert_eq!(fits(&spent, &w, 105, 71, 70), Err(None));
    }

    #[test]
    fn no_sliding_window_ever_sees_more_than_the_cap() {
        // Spend greedily every 100 ms for three minutes; then check every
        // 60-second window GitHub could count in.
        let w = CONTENT_MINUTE;
        let ledger = MemoryLedger::default();
        let mut sent = Vec::new();
        for step in 0..1800 {
            let now = at(1_000_000 + step * 100);
            let ask = [LedgerAsk {
                window: w,
                want: 1,
                cap: w.cap,
            }];
            if ledger.lease(1, now, &ask) == LeaseAnswer::Granted {
                sent.push(now.timestamp_millis());
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| **t < start + 60_000)
                .count();
            assert!(
                in_window as u32 <= w.cap,
                "{in_window} in the minute from {start}"
            );
        }
        // And the governor does not starve: over three minutes most of the
        // cap was used.
        assert!(sent.len() as u32 >= 2 * w.cap, "{} sent", sent.len());
    }

    #[test]
    fn lower_priorities_leave_room_for_higher_ones() {
        let w = REST_POINTS;
        let ledger = MemoryLedger::default();
        let now = at(5_000_000);
        let ask = |p: Priority| {
            [LedgerAsk {
                window: w,
                want: 1,
                cap: w.cap_for(p),
            }]
        };
        let mut background = 0;
        while ledger.lease(7, now, &ask(Priority::Background)) == LeaseAnswer::Granted {
            background += 1;
        }
        assert_eq!(background, 400);
        let mut high = 0;
        while ledger.lease(7, now, &ask(Priority::High)) == LeaseAnswer::Granted {
            high += 1;
        }
        assert_eq!(high, 400, "the rest of the cap is there for merges");
        // Another installation has its own budget.
        assert_eq!(
            ledger.lease(8, now, &ask(Priority::Background)),
            LeaseAnswer::Granted
        );
    }

    #[test]
    fn the_merge_reserve_follows_demand_within_its_bounds() {
        // GitHub.com's hour: cap 444, reserve 22..=111.
        assert_eq!(merge_reserve(&CONTENT_HOUR, 0), 23);
        assert_eq!(merge_reserve(&CONTENT_HOUR, 40), 60);
        assert_eq!(merge_reserve(&CONTENT_HOUR, 500), 111);
        // The minute: cap 71, reserve 4..=17.
        assert_eq!(merge_reserve(&CONTENT_MINUTE, 0), 4);
        assert_eq!(merge_reserve(&CONTENT_MINUTE, 6), 9);
        // Points windows keep no reserve.
        assert_eq!(merge_reserve(&REST_POINTS, 100), 0);
        // A small window keeps one merge's two units, or all it has.
        assert_eq!(merge_reserve(&CONTENT_MINUTE.scaled(20, 1.0), 0), 2);
        assert_eq!(merge_reserve(&CONTENT_MINUTE.scaled(2, 1.0), 0), 1);
    }

    #[test]
    fn reports_cannot_spend_the_merge_reserve_and_merges_can() {
        let w = CONTENT_HOUR;
        let ledger = MemoryLedger::default();
        let now = at(7_000_000);
        let reserve = merge_reserve(&w, 40);
        let ask = |p: Priority| {
            [LedgerAsk {
                window: w,
                want: 1,
                cap: w.cap_with_reserve(p, reserve),
            }]
        };
        let mut reports = 0;
        while ledger.lease(3, now, &ask(Priority::High)) == LeaseAnswer::Granted {
            reports += 1;
        }
        assert_eq!(reports, w.cap - reserve, "reports stop at the reserve");
        assert_eq!(
            ledger.lease(3, now, &ask(Priority::Low)),
            ledger.lease(3, now, &ask(Priority::High)),
            "nothing below Merge gets in"
        );
        let mut merges = 0;
        while ledger.lease(3, now, &ask(Priority::Merge)) == LeaseAnswer::Granted {
            merges += 1;
        }
        assert_eq!(merges, reserve, "the reserve is the merges'");
        // Points windows are shared as before.
        assert_eq!(
            REST_POINTS.cap_with_reserve(Priority::High, 50),
            REST_POINTS.cap
        );
    }

    #[test]
    fn a_lease_is_all_or_nothing() {
        let ledger = MemoryLedger::default();
        let now = at(9_000_000);
        let full = [LedgerAsk {
            window: CONTENT_MINUTE,
            want: CONTENT_MINUTE.cap,
            cap: CONTENT_MINUTE.cap,
        }];
        assert_eq!(ledger.lease(1, now, &full), LeaseAnswer::Granted);
        let mutation = cost(&Method::POST, Api::Rest);
        let asks: Vec<LedgerAsk> = mutation
            .iter()
            .map(|(window, want)| LedgerAsk {
                window,
                want,
                cap: window.cap,
            })
            .collect();
        let answer = ledger.lease(1, now, &asks);
        assert!(
            matches!(answer, LeaseAnswer::Denied { limit: Limit::ContentMinute, until } if until > now),
            "{answer:?}"
        );
        // The points were not taken by the refused lease.
        assert_eq!(ledger.spent_in_window(1, &REST_POINTS, now), 0);
    }

    #[test]
    fn limits_parse_and_keep_their_margin() {
        let d = Limits::default();
        assert_eq!(d.windows().map(|w| w.cap), [800, 1777, 71, 444]);
        assert_eq!(d.max_in_flight(), M);
        let ghes = Limits::parse("content_minute=8, rest_points=60,speed=10").unwrap();
        let [rest, _, content, hour] = ghes.windows();
        assert_eq!((rest.cap, content.cap, hour.cap), (53, 7, 444));
        assert_eq!(content.millis, 6_000);
        assert!(content.block <= 1 && rest.block == 5);
        assert!(Limits::parse("content_minute=0").is_err());
        assert!(Limits::parse("bogus=3").is_err());
        assert!(Limits::parse("speed=-1").is_err());
        assert_eq!(Limits::parse("").unwrap(), d);
    }

    #[test]
    fn costs_follow_githubs_points() {
        let read = cost(&Method::GET, Api::Rest);
        assert_eq!(read.iter().collect::<Vec<_>>(), vec![(REST_POINTS, 1)]);
        let write = cost(&Method::PATCH, Api::Rest);
        assert_eq!(
            write.iter().collect::<Vec<_>>(),
            vec![(REST_POINTS, 5), (CONTENT_MINUTE, 1), (CONTENT_HOUR, 1)]
        );
        let mutation = Api::of_route("POST /graphql mutation enqueuePullRequest");
        assert_eq!(mutation, Api::GraphqlMutation);
        let graphql = cost(&Method::POST, mutation);
        assert_eq!(
            graphql.iter().collect::<Vec<_>>(),
            vec![(GRAPHQL_POINTS, 5), (CONTENT_MINUTE, 1), (CONTENT_HOUR, 1)]
        );
        // A query reads: one GraphQL point, no content created.
        let query = Api::of_route("POST /graphql query BaseHistory");
        assert_eq!(
            cost(&Method::POST, query).iter().collect::<Vec<_>>(),
            vec![(GRAPHQL_POINTS, 1)]
        );
        assert_eq!(Api::of_route("POST /graphql"), Api::GraphqlMutation);
        assert_eq!(
            Api::of_route("POST /repos/{owner}/{repo}/check-runs"),
            Api::Rest
        );
    }

    #[test]
    fn pause_primary_reserve_and_concurrency() {
        let now = at(1_000_000_000);
        let later = now + chrono::Duration::seconds(30);
        assert_eq!(
            local_check(now, Priority::High, Some(later), None, 0, M),
            Err((Limit::Paused, Some(later)))
        );
        // An expired pause holds nothing.
        assert_eq!(
            local_check(later, Priority::High, Some(now), None, 0, M),
            Ok(())
        );

        let window = PrimaryWindow {
            limit: 5000,
            remaining: 300,
            reset: later,
        };
        // 300 left: above the merge reserve (20) and Normal's 2 % (100),
        // below the sweeps' 10 % (500).
        assert_eq!(
            local_check(now, Priority::High, None, Some(window), 0, M),
            Ok(())
        );
        assert_eq!(
            local_check(now, Priority::Normal, None, Some(window), 0, M),
            Ok(())
        );
        assert_eq!(
            local_check(now, Priority::Background, None, Some(window), 0, M),
            Err((Limit::Primary, Some(later + RESET_MARGIN)))
        );
        // Requests in flight count as spent: 120 left with 30 in flight is
        // within Normal's reserve.
        let low = PrimaryWindow {
            remaining: 120,
            ..window
        };
        assert_eq!(
            local_check(now, Priority::Normal, None, Some(low), 0, M),
            Ok(())
        );
        assert_eq!(
            local_check(now, Priority::Normal, None, Some(low), 30, M),
            Err((Limit::Primary, Some(later + RESET_MARGIN)))
        );
        // A window past its reset holds nothing.
        let spent = PrimaryWindow {
            remaining: 0,
            ..window
        };
        assert_eq!(
            local_check(later, Priority::Background, None, Some(spent), 0, M),
            Ok(())
        );

        assert_eq!(
            local_check(now, Priority::High, None, None, M, M),
            Err((Limit::Concurrency, None))
        );
        assert_eq!(
            local_check(now, Priority::Background, None, None, M / 2, M),
            Err((Limit::Concurrency, None))
        );
        assert_eq!(
            local_check(now, Priority::High, None, None, M - 1, M),
            Ok(())
        );
    }

    #[test]
    fn every_limit_has_its_series_from_the_start() {
        let names: Vec<&str> = Limit::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(names, crate::telemetry::BUDGET_LIMITS);
    }

    #[test]
    fn pauses_keep_the_latest() {
        let ledger = MemoryLedger::default();
        let now = at(1_000);
        ledger.pause(3, now + chrono::Duration::seconds(60));
        ledger.pause(3, now + chrono::Duration::seconds(10));
        assert_eq!(
            ledger.paused_until(3, now),
            Some(now + chrono::Duration::seconds(60))
        );
        assert_eq!(ledger.paused_until(4, now), None);
        assert_eq!(
            ledger.paused_until(3, now + chrono::Duration::seconds(61)),
            None
        );
    }
}

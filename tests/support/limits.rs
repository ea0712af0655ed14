//! GitHub's rate limits, enforced per installation — opt-in per scenario
//! ([`crate::support::FakeGitHub::enforce_rate_limits`]), so every other
//! test keeps the fake's single relaxed window.
//!
//! As GitHub documents them (REST docs, "Rate limits for the REST API"):
//!
//! - **primary**: `limit` requests per window (an hour) per installation,
//!   told in `X-RateLimit-Limit/Remaining/Used/Reset/Resource`; past it, 403
//!   `API rate limit exceeded for installation ID N.` with remaining 0. A
//!   `304 Not Modified` costs nothing.
//! - **secondary**: 900 points a minute (a GET, HEAD or OPTIONS 1, anything
//!   else 5), 80 content-creating requests (POST, PATCH, PUT, DELETE) a
//!   minute and 500 an hour — counted over a *sliding* window, strictly.
//!   Past one, 403 `You have exceeded a secondary rate limit…` with
//!   `Retry-After`, and every request of the installation gets the same
//!   answer until then (GitHub blocks for a while).
//!
//! The fake's clock can run `speed` times faster than real time: every
//! window and pause is that much shorter, and the headers say the real
//! times, so a client honouring them behaves as it would against GitHub.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::routes::Answer;

/// GitHub's secondary-limit message (REST docs).
pub const SECONDARY_MESSAGE: &str = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE.";

/// The limits a scenario runs under; `Default` is GitHub's for an
/// installation.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests per primary window.
    pub primary: u64,
    /// REST points per minute.
    pub points_per_minute: u32,
    /// Content-creating requests per minute and per hour.
    pub content_per_minute: u32,
    pub content_per_hour: u32,
    /// How long a secondary limit blocks the installation (GitHub: "a few
    /// minutes"; one here), in the fake's time.
    pub block_secs: i64,
    /// The fake's clock runs this many times faster than real time.
    pub speed: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            primary: 5000,
            points_per_minute: 900,
            content_per_minute: 80,
            content_per_hour: 500,
            block_secs: 60,
            speed: 1.0,
        }
    }
}

#[derive(Debug)]
struct Account {
    window_reset: DateTime<Utc>,
    used: u64,
    points: VecDeque<(DateTime<Utc>, u32)>,
    content: VecDeque<DateTime<Utc>>,
    blocked_until: Option<DateTime<Utc>>,
}

/// The per-installation counters.
#[derive(Debug)]
pub struct Enforcer {
    pub limits: RateLimits,
    accounts: HashMap<u64, Account>,
    /// Secondary-limit answers given (the replay's target is 0).
    pub secondary_answers: u64,
    /// Primary-limit answers given.
    pub primary_answers: u64,
    /// Most primary-window requests any installation spent in one window.
    pub peak_used: u64,
}

impl Enforcer {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            accounts: HashMap::new(),
            secondary_answers: 0,
            primary_answers: 0,
            peak_used: 0,
        }
    }

    /// A duration of the fake's time, in real time.
    fn real(&self, fake: Duration) -> Duration {
        Duration::milliseconds((fake.num_milliseconds() as f64 / self.limits.speed) as i64)
    }

    fn account(&mut self, installation: u64, now: DateTime<Utc>) -> &mut Account {
        let hour = self.real(Duration::hours(1));
        let account = self
            .accounts
            .entry(installation)
            .or_insert_with(|| Account {
                window_reset: now + hour,
                used: 0,
                points: VecDeque::new(),
                content: VecDeque::new(),
                blocked_until: None,
            });
        if now >= account.window_reset {
            account.window_reset = now + hour;
            account.used = 0;
        }
        account
    }

    /// Counts a request of `installation`; `Some` is GitHub's refusal.
    pub fn admit(&mut self, installation: u64, method: &str, now: DateTime<Utc>) -> Option<Answer> {
        let (minute, hour) = (
            self.real(Duration::minutes(1)),
            self.real(Duration::hours(1)),
        );
        let block = self.real(Duration::seconds(self.limits.block_secs));
        let limits = self.limits.clone();
        let account = self.account(installation, now);
        if let Some(until) = account.blocked_until.filter(|u| *u > now) {
            self.secondary_answers += 1;
            return Some(secondary(until, now));
        }
        if account.used >= limits.primary {
            self.primary_answers += 1;
            return Some(Answer::error(
                403,
                &format!("API rate limit exceeded for installation ID {installation}."),
            ));
        }
        let reads = matches!(method, "GET" | "HEAD" | "OPTIONS");
        let cost = if reads { 1 } else { 5 };
        while account
            .points
            .front()
            .is_some_and(|(t, _)| *t <= now - minute)
        {
            account.points.pop_front();
        }
        while account.content.front().is_some_and(|t| *t <= now - hour) {
            account.content.pop_front();
        }
        let points: u32 = account.points.iter().map(|(_, p)| p).sum();
        let content_minute = account
            .content
            .iter()
            .filter(|t| **t > now - minute)
            .count() as u32;
        let content_hour = account.content.len() as u32;
        let over = points + cost > limits.points_per_minute
            || (!reads
                && (content_minute + 1 > limits.content_per_minute
                    || content_hour + 1 > limits.content_per_hour));
        if over {
            let until = now + block;
            account.blocked_until = Some(until);
            self.secondary_answers += 1;
            return Some(secondary(until, now));
        }
        account.points.push_back((now, cost));
        if !reads {
            account.content.push_back(now);
        }
        account.used += 1;
        let used = account.used;
        self.peak_used = self.peak_used.max(used);
        None
    }

    /// A `304 Not Modified` costs no primary budget.
    pub fn refund(&mut self, installation: u64, now: DateTime<Utc>) {
        let account = self.account(installation, now);
        account.used = account.used.saturating_sub(1);
    }

    /// `X-RateLimit-*` for `installation`: limit, remaining, used, reset.
    pub fn headers(&mut self, installation: u64, now: DateTime<Utc>) -> (u64, u64, u64, i64) {
        let limit = self.limits.primary;
        let account = self.account(installation, now);
        (
            limit,
            limit.saturating_sub(account.used),
            account.used,
            // GitHub's reset is whole seconds; round up so a client waiting
            // for it is never early.
            (account.window_reset.timestamp_millis() + 999) / 1000,
        )
    }
}

fn secondary(until: DateTime<Utc>, now: DateTime<Utc>) -> Answer {
    let secs = ((until - now).num_milliseconds() + 999) / 1000;
    Answer::error(403, SECONDARY_MESSAGE).header("retry-after", secs.max(1).to_string())
}

//! The one client: every HTTP request seamguard makes to GitHub goes through
//! [`GitHub::send`].
//!
//! It owns authentication (App JWT or an installation token from the cache),
//! classification ([`super::classify`]), retries (exponential backoff with
//! full jitter, bounded in attempts and total delay, `Retry-After` and
//! `x-ratelimit-reset` honoured), the per-installation view of the primary
//! rate limit, timeouts, and the metrics of every call. A call site only says
//! what the call is ([`Call`]); it never decides how to retry.
//!
//! Non-idempotent calls (creating a check run, merging) are marked
//! [`Replay::IfNotSent`]: they are retried automatically only when the
//! failure proves GitHub did not act (rate limited, connection refused).
//! After an ambiguous failure the caller reads state before trying again.
//!
//! Every installation call passes the budget governor ([`super::governor`])
//! first: GitHub's primary and secondary rate limits, spent by priority
//! ([`Call::priority`]); what does not fit soon comes back
//! [`ErrorKind::Deferred`], for the engine to run later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{AppCredentials, InstallationToken, TokenCache};
use super::budget::{Limits, MemoryLedger, Priority};
use super::classify::{self, Class};
use super::governor::{BudgetStore, Governor};
use crate::ids::InstallationId;

tokio::task_local! {
    /// The requests of the task in [`counting_requests`].
    static REQUESTS: Arc<std::sync::atomic::AtomicU32>;
}

/// Runs `work`, counting every request it sends to GitHub (retries too, a
/// 304 too: each is a request GitHub answered) in `counter`. An evaluation
/// runs in one task, so this is its cost, for its history.
pub async fn counting_requests<F: std::future::Future>(
    counter: Arc<std::sync::atomic::AtomicU32>,
    work: F,
) -> F::Output {
    REQUESTS.scope(counter, work).await
}

fn count_request() {
    let _ = REQUESTS.try_with(|c| c.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
}

/// One installation's primary rate-limit window as last answered, for
/// `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBudget {
    /// `app` for the App's JWT, else the installation id.
    pub who: String,
    pub remaining: u64,
    pub reset: DateTime<Utc>,
}

/// GitHub asks every client to name itself.
const USER_AGENT: &str = concat!("seamguard/", env!("CARGO_PKG_VERSION"));

/// The REST API version seamguard is written against.
const API_VERSION: &str = "2022-11-28";

/// Below this many requests left in the window, wait for the reset instead of
/// spending the last ones: other work for the installation (and humans using
/// the same App) needs a margin, and GitHub's 403 would cost more.
const RATE_LIMIT_RESERVE: u64 = 20;

/// `x-ratelimit-reset` is whole seconds (the reset happens somewhere within
/// that second), and clocks drift: wait this much past it.
const RESET_MARGIN: chrono::Duration = chrono::Duration::seconds(1);

/// Error bodies are kept for messages and classification, but a proxy's HTML
/// error page should not flood a check run summary.
const MAX_ERROR_TEXT: usize = 500;

/// Conditional requests: GET answers with an `ETag` are kept (bodies up to
/// this size) and asked again with `If-None-Match`; GitHub's 304 costs no
/// rate limit. Large answers (big compares) change with every push anyway.
const MAX_CACHED_BODY: usize = 512 * 1024;

/// Entries kept before the cache starts over: a few thousand recent
/// resources cover the repositories in play at once, bounded in memory by
/// `MAX_CACHE_ENTRIES * MAX_CACHED_BODY` at worst.
const MAX_CACHE_ENTRIES: usize = 2_048;

/// How retries back off. The defaults suit production; tests shrink them.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First backoff step (before jitter).
    pub min_delay: Duration,
    /// Largest backoff step (before jitter).
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Bound on the sum of backoff sleeps for one call.
    pub max_total: Duration,
    /// A `Retry-After` or rate-limit reset further away than this is not
    /// slept through inside a call: the error goes up with its `retry_after`
    /// and the job is rescheduled for then.
    pub max_inline_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            // One second lets a blinking gateway recover; doubling to 32 s
            // over five retries covers a minute-long GitHub incident.
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(32),
            max_retries: 5,
            max_total: Duration::from_secs(120),
            max_inline_wait: Duration::from_secs(60),
        }
    }
}

/// Per-request timeouts.
#[derive(Debug, Clone)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            // GitHub answers most calls in well under a second; 30 s total
            // covers a large compare or files page, and anything slower is
            // better retried than waited on.
            connect: Duration::from_secs(10),
            total: Duration::from_secs(30),
        }
    }
}

/// Who a call authenticates as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// The App itself (JWT): installation tokens, hook deliveries.
    App,
    /// An installation token: everything about a repository.
    Installation(InstallationId),
    /// No credentials: the manifest conversion during setup.
    Anonymous,
}

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads and idempotent writes: retry any transient failure.
    Safe,
    /// Non-idempotent writes: retry only when GitHub provably did not act.
    IfNotSent,
}

/// One request, named by its route template (for metrics and logs).
#[derive(Debug, Clone)]
pub struct Call {
    /// e.g. `GET /repos/{owner}/{repo}/pulls/{pull_number}`.
    pub route: &'static str,
    pub method: Method,
    /// Path below the API root, without a leading slash, already encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub accept: &'static str,
    pub replay: Replay,
    /// What the call is worth when GitHub's budget is short.
    pub priority: Priority,
    /// Whether the call may wait for budget (and be deferred after
    /// [`INLINE_WAIT`](super::governor::INLINE_WAIT)); `false`: sent now or
    /// deferred at once (a write worth making only if it costs no wait).
    pub patient: bool,
    /// The most bytes of the answer read: a longer body is not read
    /// further and the call fails with [`ErrorKind::TooLarge`].
    pub max_body: usize,
    /// Non-2xx statuses whose body is the answer (read by the caller as a
    /// [`Reply`], not turned into an error): `merge-async` answers 400 and
    /// 409 with the same result object as its 2xx. Never retried.
    pub answers: &'static [u16],
}

/// The largest answer read from GitHub for a call that sets no cap of its
/// own: far above any comparison page or file listing GitHub gives (it
/// withholds patches of large diffs), and a bound on what one hostile or
/// broken answer can cost.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

impl Call {
    pub fn get(route: &'static str, path: String) -> Self {
        Self {
            route,
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            accept: "application/vnd.github+json",
            replay: Replay::Safe,
            priority: Priority::Normal,
            patient: true,
            max_body: MAX_ANSWER_BYTES,
            answers: &[],
        }
    }

    pub fn with_body(
        route: &'static str,
        method: Method,
        path: String,
        body: serde_json::Value,
    ) -> Self {
        Self {
            body: Some(body),
            method,
            ..Self::get(route, path)
        }
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn accept(mut self, accept: &'static str) -> Self {
        self.accept = accept;
        self
    }

    pub fn replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Reads at most `bytes` of the answer (see [`Call::max_body`]).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Reads these non-2xx statuses as answers (see [`Call::answers`]).
    pub fn answers(mut self, statuses: &'static [u16]) -> Self {
        self.answers = statuses;
        self
    }

    /// Sent now or not at all: deferred at once rather than wait for budget.
    pub fn impatient(mut self) -> Self {
        self.patient = false;
        self
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// Parses the body; a shape mismatch names the JSON path that failed.
    pub fn json<T: DeserializeOwned>(&self, route: &'static str) -> Result<T, GhError> {
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| GhError {
            route,
            // A body cut short by a proxy or a dropped connection: retry.
            kind: if e.inner().is_eof() {
                ErrorKind::Ambiguous
            } else {
                ErrorKind::Decode
            },
            status: Some(self.status.as_u16()),
            message: format!("unexpected response shape at `{}`: {}", e.path(), e.inner()),
            retry_after: None,
        })
    }

    /// The `rel="next"` URL of the `Link` header, if any.
    pub fn next_page(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| p.trim() == r#"rel="next""#)
                .then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
        })
    }
}

/// Whether `url` has the scheme, host and port of `api`, and no userinfo.
fn same_origin(api: &Url, url: &Url) -> bool {
    url.scheme() == api.scheme()
        && url.host_str() == api.host_str()
        && url.port_or_known_default() == api.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
}

/// The path of `url` below the API root `api` (without a leading slash),
/// when `url` is on the root's origin and its path is under the root's and
/// holds no empty segment (`a//b`: a join of it could name another host).
fn below_api_root(api: &Url, url: &Url) -> Option<String> {
    let rest = url.path().strip_prefix(api.path())?;
    (same_origin(api, url) && !rest.starts_with('/') && !rest.contains("//"))
        .then(|| rest.to_owned())
}

/// How a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying later (after the in-call retries were spent).
    Transient,
    /// Transient, but GitHub may have acted on the request (a 5xx or a
    /// dropped connection after the request was sent): read before retrying.
    Ambiguous,
    /// The credentials were refused.
    Unauthorized,
    /// An answer: 404, 405, 409, 422...; the caller decides what it means.
    Permanent,
    /// GitHub answered 2xx with a body we could not read.
    Decode,
    /// Never sent: GitHub's rate budget for the installation is spent until
    /// `retry_after`. Not a failure: run the work again then.
    Deferred,
    /// The answer was longer than the call's [`Call::max_body`]; it was not
    /// read further. Not retried: the same answer would come again.
    TooLarge,
}

/// A failed GitHub call, with everything needed to decide what next.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{route}: {}{message}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
pub struct GhError {
    pub route: &'static str,
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub message: String,
    /// When GitHub said (or the rate-limit window implies) to come back.
    pub retry_after: Option<Duration>,
}

impl GhError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Transient | ErrorKind::Ambiguous | ErrorKind::Deferred
        )
    }

    /// Held back by the budget governor, never sent to GitHub.
    pub fn is_deferred(&self) -> bool {
        self.kind == ErrorKind::Deferred
    }

    /// The answer was longer than the call allows (see [`Call::max_body`]).
    pub fn is_too_large(&self) -> bool {
        self.kind == ErrorKind::TooLarge
    }

    pub fn is_status(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    fn retryable(&self, replay: Replay) -> bool {
        matches!(
            (self.kind, replay),
            (ErrorKind::Transient, _) | (ErrorKind::Ambiguous, Replay::Safe)
        )
    }

    fn reason(&self) -> String {
        if self.kind == ErrorKind::Deferred {
            return "budget".to_owned();
        }
        match self.status {
            Some(s) => s.to_string(),
            None => "transport".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct RateWindow {
    remaining: u64,
    reset: DateTime<Utc>,
}

/// Settings of the client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// REST root, e.g. `https://api.github.com/` or `https://HOST/api/v3/`.
    pub api_url: Url,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
}

/// The GitHub client. Cheap to clone.
#[derive(Clone)]
pub struct GitHub {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api: Url,
    app: Option<AppCredentials>,
    tokens: TokenCache,
    retry: RetryPolicy,
    windows: Mutex<HashMap<Auth, RateWindow>>,
    governor: Arc<Governor>,
    etags: Mutex<HashMap<(Auth, &'static str, String), Cached>>,
    /// Whether this API root has `merge-async`: learned once (see
    /// [`GitHub::merge_async_known`]), never per pull request.
    merge_async: Mutex<Option<bool>>,
}

/// A GET answer kept for conditional requests.
#[derive(Clone)]
struct Cached {
    etag: HeaderValue,
    headers: HeaderMap,
    body: Bytes,
}

impl GitHub {
    pub fn new(config: ClientConfig, app: Option<AppCredentials>) -> anyhow::Result<Self> {
        let mut api = config.api_url;
        if !api.path().ends_with('/') {
            let path = format!("{}/", api.path());
            api.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.total)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api,
                app,
                tokens: TokenCache::default(),
                retry: config.retry,
                windows: Mutex::new(HashMap::new()),
                governor: Arc::new(Governor::new(
                    Arc::new(MemoryLedger::default()),
                    Limits::default(),
                )),
                etags: Mutex::new(HashMap::new()),
                merge_async: Mutex::new(None),
            }),
        })
    }

    /// Governs installation calls with `store`'s budget (shared by every
    /// replica on a PostgreSQL store) under `limits`. Call before the
    /// client is cloned.
    pub fn with_budget(mut self, store: Arc<dyn BudgetStore>, limits: Limits) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.governor = Arc::new(Governor::new(store, limits)),
            None => tracing::warn!("the GitHub client is already shared; budget store not set"),
        }
        self
    }

    /// Whether a call of `priority` for `installation` would go now, as far
    /// as the pause and the primary window tell (sweeps ask before a round).
    pub fn affordable(&self, installation: InstallationId, priority: Priority) -> bool {
        self.inner.governor.affordable(installation, priority)
    }

    /// Whether writes of `priority` for `installation` are refused until
    /// later (see `Governor::writes_held`).
    pub fn writes_held(&self, installation: InstallationId, priority: Priority) -> bool {
        self.inner.governor.writes_held(installation, priority)
    }

    /// A deferral for work on `installation` that would spend reads and
    /// then find its writes of `priority` refused (`Merge` for work that may
    /// act, `High` for work that would only report; see
    /// `Governor::writes_deferred`).
    pub fn writes_deferred(
        &self,
        installation: InstallationId,
        priority: Priority,
    ) -> Option<GhError> {
        self.inner
            .governor
            .writes_deferred(installation, priority, "evaluation (GitHub's budget)")
    }

    /// The App's credentials; `None` in setup mode (before the App exists).
    pub fn app(&self) -> Option<&AppCredentials> {
        self.inner.app.as_ref()
    }

    pub fn api_url(&self) -> &Url {
        &self.inner.api
    }

    /// Whether this API root has the asynchronous merge endpoint, once it
    /// is known (`None` before the first answer that tells).
    pub fn merge_async_known(&self) -> Option<bool> {
        *self
            .inner
            .merge_async
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers whether this API root has the asynchronous merge endpoint
    /// (for every installation and pull request served through it).
    pub fn set_merge_async(&self, available: bool) {
        *self
            .inner
            .merge_async
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(available);
    }

    /// The rate-limit windows GitHub last reported, per installation (and
    /// for the App itself), for the operator's `/status`.
    pub fn rate_budgets(&self) -> Vec<RateBudget> {
        let windows = self.inner.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut budgets: Vec<RateBudget> = windows
            .iter()
            .map(|(auth, w)| RateBudget {
                who: match auth {
                    Auth::App => "app".to_owned(),
                    Auth::Installation(id) => format!("installation {id}"),
                    Auth::Anonymous => "anonymous".to_owned(),
                },
                remaining: w.remaining,
                reset: w.reset,
            })
            .collect();
        budgets.sort_by(|a, b| a.who.cmp(&b.who));
        budgets
    }

    /// Sends a call: authenticated, classified, retried. A 401 on an
    /// installation token drops the cached token, mints a new one and tries
    /// once more.
    pub async fn send(&self, auth: Auth, call: &Call) -> Result<Reply, GhError> {
        self.request(auth, call, Ok).await
    }

    /// Sends a call and parses its body as `T` (the JSON path of a mismatch
    /// is in the error). A truncated body is retried like a dropped
    /// connection.
    pub async fn json<T: DeserializeOwned>(&self, auth: Auth, call: &Call) -> Result<T, GhError> {
        self.request(auth, call, |reply| reply.json(call.route))
            .await
    }

    /// Sends a call and hands the reply to `parse`, retrying both together.
    pub async fn request<T>(
        &self,
        auth: Auth,
        call: &Call,
        parse: impl Fn(Reply) -> Result<T, GhError>,
    ) -> Result<T, GhError> {
        match self.send_with_retries(auth, call, &parse).await {
            Err(e) if e.kind == ErrorKind::Unauthorized => {
                let Auth::Installation(id) = auth else {
                    return Err(e);
                };
                // `send_once` already dropped the refused token from the
                // cache (only that one: a worker refused at the same time
                // must not drop the token another just minted); the next
                // attempt gets a fresh one, minted once for all of them.
                tracing::warn!(route = call.route, installation = %id, "token refused; trying once more with a fresh one");
                self.send_with_retries(auth, call, &parse).await
            }
            other => other,
        }
    }

    /// Follows `rel="next"` links from `first`, collecting every page's
    /// items with `items` (which pulls the list out of one page's reply).
    pub async fn paginate<T>(
        &self,
        auth: Auth,
        first: Call,
        max_pages: usize,
        mut items: impl FnMut(&Reply) -> Result<Vec<T>, GhError>,
    ) -> Result<Vec<T>, GhError> {
        let mut out = Vec::new();
        let mut call = first;
        for _ in 0..max_pages {
            let reply = self.send(auth, &call).await?;
            out.extend(items(&reply)?);
            match reply.next_page() {
                Some(next) => call = self.call_for_url(&call, &next)?,
                None => break,
            }
        }
        Ok(out)
    }

    /// Same route, the page GitHub linked to. The link is resolved first
    /// (against the page it came on, as a browser would), then must stay
    /// under `GITHUB_API_URL`: the same scheme, host and port, a path below
    /// the API root's, and no empty segment that a later join could read as
    /// another host (`//evil.example/…`). Anything else ends pagination
    /// with an error: a token is never sent anywhere else.
    fn call_for_url(&self, call: &Call, next: &str) -> Result<Call, GhError> {
        let here = self.url_for(call)?;
        let url = here
            .join(next)
            .map_err(|e| self.bad_link(call.route, next, &e.to_string()))?;
        let path = below_api_root(&self.inner.api, &url)
            .ok_or_else(|| self.bad_link(call.route, next, "outside the API root"))?;
        let query = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Call {
            path,
            query,
            ..call.clone()
        })
    }

    /// The absolute URL of `call`, which must stay on the API root's
    /// origin, under its path (or be GraphQL's endpoint beside it): a path
    /// that joins to another host (`//evil.example/…`) is never sent.
    fn url_for(&self, call: &Call) -> Result<Url, GhError> {
        let bad = |why: String| GhError {
            route: call.route,
            kind: ErrorKind::Permanent,
            status: None,
            message: format!("bad path {:?}: {why}", call.path),
            retry_after: None,
        };
        let api = &self.inner.api;
        let url = api.join(&call.path).map_err(|e| bad(e.to_string()))?;
        let graphql = api.join(super::api::GRAPHQL_PATH).ok();
        let allowed = below_api_root(api, &url).is_some()
            || graphql.is_some_and(|g| same_origin(api, &url) && url.path() == g.path());
        if !allowed {
            return Err(bad("outside the API root".to_owned()));
        }
        Ok(url)
    }

    fn bad_link(&self, route: &'static str, next: &str, why: &str) -> GhError {
        GhError {
            route,
            kind: ErrorKind::Permanent,
            status: None,
            message: format!("unusable pagination link {next:?}: {why}"),
            retry_after: None,
        }
    }

    async fn send_with_retries<T>(
        &self,
        auth: Auth,
        call: &Call,
        parse: &impl Fn(Reply) -> Result<T, GhError>,
    ) -> Result<T, GhError> {
        let policy = &self.inner.retry;
        let backoff = ExponentialBuilder::new()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_retries)
            .with_total_delay(Some(policy.max_total));
        let max_inline = policy.max_inline_wait;
        (|| async { parse(self.send_once(auth, call).await?) })
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &GhError| e.retryable(call.replay))
            .adjust(move |e: &GhError, step: Option<Duration>| {
                let step = step?;
                match e.retry_after {
                    Some(wait) if wait > max_inline => None,
                    Some(wait) => Some(wait),
                    None => Some(full_jitter(step)),
                }
            })
            .notify(|e: &GhError, wait: Duration| {
                metrics::counter!("seamguard_github_retries_total", "reason" => e.reason())
                    .increment(1);
                tracing::warn!(route = e.route, error = %e, wait_ms = wait.as_millis() as u64, "retrying GitHub call");
            })
            .await
    }

    /// The `Authorization` value for `auth`, and the installation token it
    /// carries (to drop exactly that one if GitHub refuses it).
    async fn authorization(
        &self,
        auth: Auth,
    ) -> Result<Option<(String, Option<InstallationToken>)>, GhError> {
        match auth {
            Auth::Anonymous => Ok(None),
            Auth::App => {
                let sign_error = |message: String| GhError {
                    route: "sign App JWT",
                    kind: ErrorKind::Permanent,
                    status: None,
                    message,
                    retry_after: None,
                };
                let app =
                    self.inner.app.as_ref().ok_or_else(|| {
                        sign_error("no App credentials are configured".to_owned())
                    })?;
                let jwt = app.jwt(Utc::now()).map_err(|e| sign_error(e.to_string()))?;
                Ok(Some((format!("Bearer {jwt}"), None)))
            }
            Auth::Installation(id) => {
                let token = self
                    .inner
                    .tokens
                    .get(id, Utc::now, || self.mint_token(id))
                    .await?;
                // `Bearer` works for every token type; some Enterprise
                // Server installations accept nothing else.
                Ok(Some((format!("Bearer {}", token.secret()), Some(token))))
            }
        }
    }

    async fn mint_token(&self, id: InstallationId) -> Result<InstallationToken, GhError> {
        #[derive(serde::Deserialize)]
        struct Minted {
            token: String,
            expires_at: Option<String>,
        }
        const ROUTE: &str = "POST /app/installations/{installation_id}/access_tokens";
        let call = Call::with_body(
            ROUTE,
            Method::POST,
            format!("app/installations/{}/access_tokens", id.0),
            serde_json::json!({}),
        );
        let minted: Minted =
            Box::pin(self.send_with_retries(Auth::App, &call, &|r: Reply| r.json(ROUTE))).await?;
        metrics::counter!("seamguard_token_refreshes_total").increment(1);
        tracing::debug!(installation = %id, "minted installation token");
        Ok(InstallationToken::from_response(
            minted.token,
            minted.expires_at.as_deref(),
            Utc::now(),
        ))
    }

    async fn send_once(&self, auth: Auth, call: &Call) -> Result<Reply, GhError> {
        // Held until the answer is read: one of the requests in flight.
        let _ticket = match auth {
            Auth::Installation(id) => Some(
                self.inner
                    .governor
                    .admit(id, call.route, &call.method, call.priority, call.patient)
                    .await?,
            ),
            _ => {
                self.respect_rate_limit(auth, call.route).await?;
                None
            }
        };
        let (authorization, token) = match self.authorization(auth).await? {
            Some((value, token)) => (Some(value), token),
            None => (None, None),
        };
        let mut url = self.url_for(call)?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        let cache_key = (call.method == Method::GET).then(|| (auth, call.accept, url.to_string()));
        let cached = cache_key.as_ref().and_then(|key| {
            self.inner
                .etags
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .cloned()
        });
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .header("accept", call.accept)
            .header("x-github-api-version", API_VERSION);
        if let Some(cached) = &cached {
            request = request.header("if-none-match", cached.etag.clone());
        }
        if let Some(value) = authorization {
            let mut value = HeaderValue::from_str(&value).map_err(|_| GhError {
                route: call.route,
                kind: ErrorKind::Permanent,
                status: None,
                message: "credential is not a valid header value".into(),
                retry_after: None,
            })?;
            value.set_sensitive(true);
            request = request.header("authorization", value);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let started = std::time::Instant::now();
        count_request();
        let outcome = request.send().await;
        metrics::histogram!("seamguard_github_request_seconds", "route" => call.route)
            .record(started.elapsed().as_secs_f64());
        let response = match outcome {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(call, &e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.record_rate_window(auth, &headers);
        let body = match read_capped(response, call.max_body).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => return Err(self.transport_error(call, &e)),
            Err(BodyError::TooLarge(declared)) => {
                metrics::counter!("seamguard_github_answers_too_large_total", "route" => call.route)
                    .increment(1);
                return Err(GhError {
                    route: call.route,
                    kind: ErrorKind::TooLarge,
                    status: Some(status.as_u16()),
                    message: match declared {
                        Some(n) => format!(
                            "answer of {n} bytes is larger than the {} read for this call",
                            call.max_body
                        ),
                        None => format!(
                            "answer is larger than the {} bytes read for this call",
                            call.max_body
                        ),
                    },
                    retry_after: None,
                });
            }
        };
        if let Auth::Installation(id) = auth {
            let text = if status.is_client_error() {
                String::from_utf8_lossy(&body)
            } else {
                Default::default()
            };
            self.inner
                .governor
                .observe(id, status.as_u16(), &headers, &text, Utc::now())
                .await;
        }
        metrics::counter!(
            "seamguard_github_requests_total",
            "route" => call.route,
            "status" => status.as_str().to_owned()
        )
        .increment(1);
        if status == StatusCode::NOT_MODIFIED
            && let Some(cached) = cached
        {
            // Unchanged since the kept answer: serve it, at no rate cost.
            return Ok(Reply {
                status: StatusCode::OK,
                headers: cached.headers,
                body: cached.body,
            });
        }
        if call.answers.contains(&status.as_u16()) {
            return Ok(Reply {
                status,
                headers,
                body,
            });
        }
        if status.is_success() {
            if let (Some(key), Some(etag)) = (cache_key, headers.get("etag"))
                && body.len() <= MAX_CACHED_BODY
            {
                let mut etags = self.inner.etags.lock().unwrap_or_else(|p| p.into_inner());
                if etags.len() >= MAX_CACHE_ENTRIES {
                    etags.clear();
                }
                etags.insert(
                    key,
                    Cached {
                        etag: etag.clone(),
                        headers: headers.clone(),
                        body: body.clone(),
                    },
                );
            }
            return Ok(Reply {
                status,
                headers,
                body,
            });
        }
        let text = String::from_utf8_lossy(&body);
        let message = error_message(&text);
        let class = classify::classify_status(status.as_u16(), &text);
        if let (Class::Unauthorized, Auth::Installation(id), Some(token)) = (class, auth, &token) {
            // Race-free: forgets this token only if it is still the cached
            // one, never a replacement another worker minted meanwhile.
            self.inner.tokens.invalidate(id, token).await;
        }
        let kind = match class {
            Class::Transient if status.is_server_error() => ErrorKind::Ambiguous,
            Class::Transient => ErrorKind::Transient,
            Class::Unauthorized if auth == Auth::Anonymous => ErrorKind::Permanent,
            Class::Unauthorized => ErrorKind::Unauthorized,
            Class::Permanent => ErrorKind::Permanent,
        };
        let retry_after = (kind != ErrorKind::Permanent)
            .then(|| retry_after(&headers, Utc::now()))
            .flatten();
        Err(GhError {
            route: call.route,
            kind,
            status: Some(status.as_u16()),
            message,
            retry_after,
        })
    }

    fn transport_error(&self, call: &Call, e: &reqwest::Error) -> GhError {
        let chain = error_chain(e);
        // A refused connection never reached GitHub; anything after the
        // request left (a reset, a timeout, a truncated body) may have. Any
        // transport failure is worth retrying: biased toward transient.
        let kind = if e.is_connect() && !e.is_timeout() {
            ErrorKind::Transient
        } else {
            ErrorKind::Ambiguous
        };
        GhError {
            route: call.route,
            kind,
            status: None,
            message: chain,
            retry_after: None,
        }
    }

    fn record_rate_window(&self, auth: Auth, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        // The window kept is REST's (`core`); GraphQL answers carry their
        // own (`graphql`), with other numbers, which must not stand for it.
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core");
        if !resource.eq_ignore_ascii_case("core") {
            return;
        }
        let (Some(remaining), Some(reset)) =
            (num("x-ratelimit-remaining"), num("x-ratelimit-reset"))
        else {
            return;
        };
        let Some(reset) = DateTime::from_timestamp(reset as i64, 0) else {
            return;
        };
        if let Auth::Installation(id) = auth {
            metrics::gauge!("seamguard_github_rate_limit_remaining", "installation" => id.0.to_string())
                .set(remaining as f64);
        }
        let mut windows = self.inner.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.insert(auth, RateWindow { remaining, reset });
    }

    /// Slows down before GitHub says no: when the window is nearly spent,
    /// wait for its reset (or hand the wait to the scheduler if it is long).
    async fn respect_rate_limit(&self, auth: Auth, route: &'static str) -> Result<(), GhError> {
        let window = {
            let windows = self.inner.windows.lock().unwrap_or_else(|p| p.into_inner());
            windows.get(&auth).copied()
        };
        let Some(window) = window else { return Ok(()) };
        let now = Utc::now();
        let reset = window.reset + RESET_MARGIN;
        if window.remaining > RATE_LIMIT_RESERVE || reset <= now {
            return Ok(());
        }
        let wait = (reset - now).to_std().unwrap_or_default();
        if wait > self.inner.retry.max_inline_wait {
            return Err(GhError {
                route,
                kind: ErrorKind::Transient,
                status: None,
                message: format!(
                    "rate limit nearly spent ({} left) until {}",
                    window.remaining, window.reset
                ),
                retry_after: Some(wait),
            });
        }
        tracing::info!(
            route,
            wait_ms = wait.as_millis() as u64,
            "waiting for the rate-limit window to reset"
        );
        tokio::time::sleep(wait).await;
        let mut windows = self.inner.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.remove(&auth);
        Ok(())
    }
}

/// Full jitter: a uniform wait in `[0, step]` (AWS architecture blog,
/// "Exponential Backoff And Jitter"): it spreads retrying clients best.
fn full_jitter(step: Duration) -> Duration {
    step.mul_f64(rand::random::<f64>())
}

/// `Retry-After` (seconds or an HTTP date), else the rate-limit reset when
/// the window is spent.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(value) = headers.get("retry-after").and_then(|v| v.to_str().ok()) {
        if let Ok(secs) = value.trim().parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(value.trim()) {
            return Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default());
        }
    }
    let remaining = headers.get("x-ratelimit-remaining")?.to_str().ok()?;
    if remaining.trim() != "0" {
        return None;
    }
    let reset = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()?;
    let reset = DateTime::from_timestamp(reset, 0)? + RESET_MARGIN;
    Some((reset - now).to_std().unwrap_or_default())
}

/// GitHub's `{"message": ...}` when present, else the text, shortened.
fn error_message(text: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        message: String,
    }
    let message = serde_json::from_str::<Body>(text)
        .map(|b| b.message)
        .unwrap_or_else(|_| text.trim().to_owned());
    let mut message: String = message.chars().take(MAX_ERROR_TEXT).collect();
    if message.is_empty() {
        message.push_str("(empty body)");
    }
    message
}

/// The whole chain of a transport error, outermost first: the root cause
/// ("connection reset by peer") is what the classifier needs.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why an answer's body was not read whole.
enum BodyError {
    Transport(reqwest::Error),
    /// Longer than allowed; the length it declared, if it did.
    TooLarge(Option<u64>),
}

/// Reads an answer's body as it streams in, stopping (and dropping the
/// connection) as soon as it passes `cap` bytes: a declared length above
/// the cap is refused before any byte is read.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Bytes, BodyError> {
    let declared = response.content_length();
    if let Some(n) = declared
        && n > cap as u64
    {
        return Err(BodyError::TooLarge(Some(n)));
    }
    // A declared length sizes the buffer once; never above the cap.
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(cap));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge(declared));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_date_and_reset() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));

        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Thu, 01 Jan 1970 00:17:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(20)));

        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1030"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(31)));

        h.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn a_link_must_stay_under_the_api_root() {
        let under = |api: &str, link: &str| {
            let api = Url::parse(api).unwrap();
            let link = Url::parse(api.as_str()).unwrap().join(link).unwrap();
            below_api_root(&api, &link)
        };
        let gh = "https://api.github.com/";
        assert_eq!(
            under(gh, "https://api.github.com/repositories/1/pulls?page=2").as_deref(),
            Some("repositories/1/pulls")
        );
        // A scheme-relative remainder, another host, port, scheme or path,
        // and credentials in the URL are all refused.
        for link in [
            "https://api.github.com///evil.example/x",
            "https://api.github.com/repos//x",
            "https://evil.example/repos",
            "https://api.github.com:8443/repos",
            "http://api.github.com/repos",
            "https://user:pw@api.github.com/repos",
            "//evil.example/repos",
        ] {
            assert_eq!(under(gh, link), None, "{link}");
        }
        let ghe = "https://ghe.example.com/api/v3/";
        assert_eq!(
            under(ghe, "/api/v3/repos/a/b/pulls?page=3").as_deref(),
            Some("repos/a/b/pulls")
        );
        assert_eq!(under(ghe, "/api/v3/../../admin"), None);
        assert_eq!(under(ghe, "https://ghe.example.com/other/v3/repos"), None);
        assert_eq!(
            under(ghe, "https://ghe.example.com:443/api/v3/repos").as_deref(),
            Some("repos")
        );
    }

    #[test]
    fn next_page_from_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(
                r#"<https://api.github.com/repositories/1/pulls/7/files?page=2>; rel="next", <https://api.github.com/repositories/1/pulls/7/files?page=5>; rel="last""#,
            ),
        );
        let reply = Reply {
            status: StatusCode::OK,
            headers,
            body: Bytes::new(),
        };
        assert_eq!(
            reply.next_page().as_deref(),
            Some("https://api.github.com/repositories/1/pulls/7/files?page=2")
        );
    }

    #[test]
    fn error_messages_are_short_and_prefer_github_message() {
        assert_eq!(
            error_message(r#"{"message":"Not Found","documentation_url":"x"}"#),
            "Not Found"
        );
        assert_eq!(error_message(""), "(empty body)");
        assert_eq!(error_message(&"x".repeat(2000)).len(), MAX_ERROR_TEXT);
    }

    #[test]
    fn full_jitter_stays_within_the_step() {
        for _ in 0..100 {
            assert!(full_jitter(Duration::from_millis(100)) <= Duration::from_millis(100));
        }
    }
}

//! [`FakeGitHub`]: the world, one wiremock responder in front of it, and a
//! TCP proxy in front of that.
//!
//! ```text
//!  seamguard ──HTTP──▶ proxy (transport faults, attempt log)
//!                        └──▶ wiremock MockServer ──▶ Responder
//!                                 record · auth · hooks · canned faults
//!                                 · route table · rate-limit headers
//!                                           └──▶ World (one mutex)
//! ```
//!
//! Everything that answers is synchronous and holds the world's mutex for
//! the whole request, so each request sees and leaves a consistent world,
//! and a test's predicate never observes half a merge. After every request
//! (and every change a test makes through the scenario API) the fake
//! notifies waiters: [`FakeGitHub::wait_for`] re-checks its predicate then,
//! never on a timer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Notify;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

use seamguard::github::auth::AppCredentials;
use seamguard::github::{ClientConfig, GitHub, RetryPolicy, Timeouts};
use seamguard::ids::AppId;

use super::faults::{FaultHandle, Hook, HookHandle, RouteFilter, TransportHandle, Trigger};
use super::openapi::{self, Operation};
use super::proxy::{Proxy, TransportFault};
use super::routes::{self, Answer, Ctx};
use super::scenario::RepoHandle;
use super::world::{Installation, ManifestApp, OwnerType, Recorded, Repo, SeenAuth, World};

/// The fake App's id (any number works; this one is easy to spot in logs).
pub const APP_ID: u64 = 4242;

/// The installation every repository belongs to unless a test says otherwise.
pub const INSTALLATION_ID: u64 = 1;

/// GitHub refuses App JWTs whose `exp` is more than ten minutes ahead.
const MAX_JWT_LIFETIME_SECS: i64 = 10 * 60;

/// GitHub tolerates a little clock drift on `iat`; so does the fake.
const JWT_CLOCK_SKEW_SECS: i64 = 30;

/// State shared by the responder, the proxy and every handle.
pub struct Shared {
    world: Mutex<World>,
    notify: Notify,
    jwt_key: DecodingKey,
    prefix: String,
    /// Connections the proxy has accepted and not finished: a request of
    /// seamguard's that has not had its whole answer (see
    /// [`FakeGitHub::wait_idle`]).
    pub(crate) in_flight: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// The world, locked. A panic in a test thread does not poison it for
    /// the dump that explains the panic.
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every `wait_for`.
    pub fn changed(&self) {
        self.notify.notify_waiters();
    }

    /// Changes the world and wakes waiters.
    pub fn edit<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let out = f(&mut self.lock());
        self.changed();
        out
    }
}

/// Settings of a fake; `Default` is what most tests want.
#[derive(Debug, Clone)]
pub struct Options {
    pub app_id: u64,
    pub installation: u64,
    /// The account the default installation belongs to.
    pub account: String,
    /// A path prefix for the API root, e.g. `/api/v3` as on GitHub
    /// Enterprise Server.
    pub api_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            app_id: APP_ID,
            installation: INSTALLATION_ID,
            account: "acme".to_owned(),
            api_prefix: String::new(),
        }
    }
}

/// A stateful fake of GitHub's REST API for seamguard's tests.
pub struct FakeGitHub {
    pub(crate) shared: Arc<Shared>,
    server: MockServer,
    proxy: Proxy,
    options: Options,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

impl FakeGitHub {
    /// A fake with the default App and installation 1.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let public = std::fs::read(fixture("test-app-key.pub.pem")).expect("read test public key");
        let jwt_key = DecodingKey::from_rsa_pem(&public).expect("test public key is an RSA PEM");
        let server = MockServer::start().await;
        let mut world = World::new(options.app_id, String::new());
        world.installations.insert(
            options.installation,
            Installation {
                id: options.installation,
                account: options.account.clone(),
            },
        );
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            notify: Notify::new(),
            jwt_key,
            prefix: options.api_prefix.trim_end_matches('/').to_owned(),
            in_flight: Default::default(),
        });
        Mock::given(any())
            .respond_with(Responder {
                shared: shared.clone(),
            })
            .mount(&server)
            .await;
        let proxy = Proxy::start(*server.address(), shared.clone()).await;
        let fake = Self {
            shared,
            server,
            proxy,
            options,
        };
        let api = fake.api_url();
        fake.shared.lock().api_url = api.trim_end_matches('/').to_owned();
        fake
    }

    /// The API root seamguard should use (`GITHUB_API_URL`): the proxy.
    pub fn api_url(&self) -> String {
        format!("http://{}{}/", self.proxy.addr(), self.shared.prefix)
    }

    /// The API root without the proxy (no transport faults, no attempt log).
    pub fn direct_url(&self) -> String {
        format!("{}{}/", self.server.uri(), self.shared.prefix)
    }

    pub fn app_id(&self) -> u64 {
        self.options.app_id
    }

    pub fn installation_id(&self) -> u64 {
        self.options.installation
    }

    /// The test App's private key (PEM) and its path, for seamguard's
    /// settings.
    pub fn private_key_path() -> PathBuf {
        fixture("test-app-key.pem")
    }

    pub fn private_key_pem() -> Vec<u8> {
        std::fs::read(Self::private_key_path()).expect("read test private key")
    }

    pub fn app_credentials(&self) -> AppCredentials {
        AppCredentials::from_pem(AppId(self.options.app_id), &Self::private_key_pem())
            .expect("test key signs")
    }

    /// A client configuration aimed at the fake, with retries shrunk to
    /// milliseconds so fault tests stay fast.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            api_url: self.api_url().parse().expect("proxy URL parses"),
            retry: RetryPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(20),
                max_retries: 3,
                max_total: Duration::from_secs(2),
                max_inline_wait: Duration::from_secs(2),
            },
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
        }
    }

    /// seamguard's real client, authenticated as the fake's App.
    pub fn client(&self) -> GitHub {
        GitHub::new(self.client_config(), Some(self.app_credentials())).expect("client builds")
    }

    /// The environment `seamguard serve` needs to run against this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("APP_ID".into(), self.options.app_id.to_string()),
            (
                "PRIVATE_KEY_PATH".into(),
                Self::private_key_path().display().to_string(),
            ),
            ("GITHUB_API_URL".into(), self.api_url()),
            (
                "WEBHOOK_SECRET".into(),
                super::deliveries::WEBHOOK_SECRET.into(),
            ),
        ]
    }

    /// A repository, created on first use: installation [`INSTALLATION_ID`],
    /// owned by an organization, default branch `main` with one commit.
    pub fn repo(&self, full_name: &str) -> RepoHandle {
        let (owner, name) = full_name
            .split_once('/')
            .unwrap_or_else(|| panic!("repository name {full_name:?} is not owner/name"));
        let installation = self.options.installation;
        self.shared.edit(|w| {
            let key = full_name.to_ascii_lowercase();
            if !w.repos.contains_key(&key) {
                let id = 100_000 + w.next_id();
                let mut repo = Repo::new(id, owner, name, OwnerType::Organization, installation);
                let first = repo.commit_changes(
                    &[],
                    "Initial commit",
                    &[("README.md", Some(format!("# {name}\n").as_bytes()))],
                );
                repo.set_branch("main", &first);
                w.repos.insert(key, repo);
            }
        });
        RepoHandle::new(self.shared.clone(), full_name)
    }

    /// Adds another installation of the App.
    pub fn install(&self, id: u64, account: &str) {
        self.shared.edit(|w| {
            w.installations.insert(
                id,
                Installation {
                    id,
                    account: account.to_owned(),
                },
            );
        });
    }

    /// The fake's change notification (every answered request, every
    /// change through the scenario API).
    pub(crate) fn shared_notify(&self) -> &Notify {
        &self.shared.notify
    }

    /// The world, locked for reading. Do not hold it across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.shared.lock()
    }

    /// Changes the world directly (and wakes waiters).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.shared.edit(f)
    }

    // ---- faults ----------------------------------------------------------

    /// Answers the next request matching `route` (e.g. `"PUT
    /// /pulls/7/merge"`) with `status` and `body` instead of serving it.
    /// Refine with `.times(n)`, `.header(..)`, `.after_acting()`.
    pub fn fail_next(&self, route: &str, status: u16, body: &str) -> FaultHandle {
        let id = self
            .shared
            .edit(|w| w.faults.add_rule(route, status, body.as_bytes()));
        FaultHandle {
            shared: self.shared.clone(),
            id,
        }
    }

    /// Serves the next matching request for real, then answers `status`
    /// and `body` instead: the work happened, the answer was lost.
    pub fn act_then_fail_next(&self, route: &str, status: u16, body: &str) -> FaultHandle {
        self.fail_next(route, status, body).after_acting()
    }

    /// Breaks the connection of the next request matching `route` at the
    /// proxy. Refine with `.times(n)` and `.before_github()`.
    pub fn transport_fault_next(&self, route: &str, fault: TransportFault) -> TransportHandle {
        let id = self.shared.edit(|w| w.faults.add_transport(route, fault));
        TransportHandle {
            shared: self.shared.clone(),
            id,
        }
    }

    /// Runs `f` on the world once `n` more requests have been answered (a
    /// check that registers late, a branch that moves mid-evaluation).
    pub fn after_requests(
        &self,
        n: usize,
        f: impl FnOnce(&mut World) + Send + 'static,
    ) -> HookHandle {
        let id = self.shared.edit(|w| {
            let id = w.faults.id();
            w.faults.hooks.push(Hook {
                id,
                trigger: Trigger::AfterRequests(n.max(1)),
                action: Box::new(f),
                what: format!("a change after {n} more requests"),
                optional: false,
            });
            id
        });
        HookHandle {
            shared: self.shared.clone(),
            id,
        }
    }

    /// Runs `f` on the world just before the next request matching `route`
    /// is answered.
    pub fn before_next(
        &self,
        route: &str,
        f: impl FnOnce(&mut World) + Send + 'static,
    ) -> HookHandle {
        self.before_nth(route, 1, f)
    }

    /// Runs `f` on the world just before the `n`-th request from now that
    /// matches `route` is answered (1: the next; a check that passes
    /// before the third merge call).
    pub fn before_nth(
        &self,
        route: &str,
        n: usize,
        f: impl FnOnce(&mut World) + Send + 'static,
    ) -> HookHandle {
        let filter = RouteFilter::parse(route);
        let id = self.shared.edit(|w| {
            let id = w.faults.id();
            w.faults.hooks.push(Hook {
                id,
                what: format!("a change before request {n} of {filter}"),
                trigger: Trigger::Before(filter, n.max(1) - 1),
                action: Box::new(f),
                optional: false,
            });
            id
        });
        HookHandle {
            shared: self.shared.clone(),
            id,
        }
    }

    /// Revokes every installation token handed out so far: the next call
    /// with one is a 401 `Bad credentials`; newly minted tokens work.
    pub fn revoke_tokens(&self) {
        self.shared.edit(|w| {
            for t in w.tokens.values_mut() {
                t.revoked = true;
            }
        });
    }

    /// Life of the tokens minted from now on (e.g. four minutes, to prove
    /// a client refreshes before use).
    pub fn set_token_lifetime(&self, life: Duration) {
        self.shared.edit(|w| {
            w.token_policy.lifetime = chrono::Duration::from_std(life).expect("short duration")
        });
    }

    /// Length of the tokens minted from now on (`ghs_` included).
    pub fn set_token_length(&self, length: usize) {
        self.shared.edit(|w| w.token_policy.length = length);
    }

    /// Sets what `x-ratelimit-remaining` says (0 makes repository calls
    /// answer 403 `API rate limit exceeded`) and when the window resets.
    pub fn set_rate_limit(&self, remaining: u64, reset_in: Duration) {
        self.shared.edit(|w| {
            w.rate.remaining = remaining;
            w.rate.reset = Utc::now() + chrono::Duration::from_std(reset_in).expect("short");
        });
    }

    /// Enforces GitHub's primary and secondary rate limits per
    /// installation from now on (see [`super::limits`]).
    pub fn enforce_rate_limits(&self, limits: super::limits::RateLimits) {
        self.shared
            .edit(|w| w.limits = Some(super::limits::Enforcer::new(limits)));
    }

    /// Secondary-limit answers the fake gave (with limits enforced).
    pub fn secondary_answers(&self) -> u64 {
        self.shared
            .lock()
            .limits
            .as_ref()
            .map_or(0, |l| l.secondary_answers)
    }

    /// Makes merges wait for green required checks, answering 405 with
    /// GitHub's wording (`Required status check "test" is expected.`). The
    /// default, as on GitHub; kept for the tests that say so.
    pub fn enforce_required_checks(&self) {
        self.shared.edit(|w| w.enforce_required_checks = true);
    }

    /// Makes this API root lack the asynchronous merge, as GitHub
    /// Enterprise Server does: `PUT …/merge-async` and its result answer 404.
    pub fn without_merge_async(&self) {
        self.shared.edit(|w| w.merge_async_missing = true);
    }

    /// Ages every asynchronous merge request past GitHub's 24 hours: its
    /// result answers 404 and it no longer blocks a new request.
    pub fn expire_async_merges(&self) {
        self.shared.edit(|w| {
            for m in w.async_merges.values_mut() {
                m.updated_at -= chrono::Duration::hours(25);
            }
        });
    }

    /// Reads of an asynchronous merge's result answered `pending` before the
    /// merge runs (1 by default).
    pub fn set_async_merge_reads(&self, reads: u32) {
        self.shared.edit(|w| w.async_merge_reads = reads);
    }

    /// Has every asynchronous merge run on its own `after` it was accepted,
    /// as GitHub runs it, instead of on a read of its result: a task of
    /// the fake runs each when it is due (and its `merged_at` is then).
    /// For measuring latency; tests keep the default, where a read runs it.
    pub fn run_async_merges_after(&self, after: Duration) {
        self.shared.edit(|w| w.async_merge_runs_after = Some(after));
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            loop {
                let Some(strong) = shared.upgrade() else {
                    return;
                };
                let changed = strong.notify.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let (ran, next) = routes::pulls::run_due(&mut strong.lock());
                if ran {
                    strong.changed();
                }
                let wait = next.map_or(Duration::from_secs(1), |at| {
                    (at - Utc::now()).to_std().unwrap_or_default()
                });
                // A new request wakes it (every request ends in `changed`);
                // so does the next one coming due. The fake outlives a
                // wait by a second at most.
                let _ = tokio::time::timeout(wait, changed).await;
            }
        });
    }

    /// Reads of a pull request that answer unknown mergeability after each
    /// push (1 by default; 0 computes it at once).
    pub fn set_unknown_reads_after_push(&self, reads: u32) {
        self.shared.edit(|w| w.unknown_reads_after_push = reads);
    }

    /// A manifest code that converts (once) into a new App's credentials.
    pub fn manifest_code(&self, code: &str) -> ManifestApp {
        self.shared.edit(|w| {
            let id = w.next_id();
            let app = ManifestApp {
                id,
                slug: format!("seamguard-{id}"),
                pem: String::from_utf8(Self::private_key_pem()).expect("PEM is text"),
                webhook_secret: format!("whsec-{code}"),
                client_id: format!("Iv1.{:016x}", id),
                client_secret: format!("secret-{code}"),
                used: false,
            };
            w.manifest_codes.insert(code.to_owned(), app.clone());
            app
        })
    }

    // ---- what happened ---------------------------------------------------

    /// Every request the fake answered, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// How many answered requests match `method` and the path suffix `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared.lock().count(method, path)
    }

    /// How many requests for `route` reached the proxy (faulted ones too).
    pub fn attempts(&self, route: &str) -> usize {
        let filter = RouteFilter::parse(route);
        self.shared
            .lock()
            .attempts
            .iter()
            .filter(|a| filter.matches(&a.method, &a.path))
            .count()
    }

    /// Requests that matched no route of the fake (answered 404): a test
    /// that sees one has found a route the fake should grow.
    pub fn unrouted(&self) -> Vec<Recorded> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.route.is_none())
            .cloned()
            .collect()
    }

    /// The OpenAPI violations seen so far, forgotten (a test that provokes
    /// one on purpose takes it, so the fake's drop does not fail on it).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().conformance.violations)
    }

    /// A live installation token of `installation`, for raw requests.
    pub fn token_for(&self, installation: u64) -> String {
        self.shared.edit(|w| w.mint_token(installation).0)
    }

    /// Forgets the request and attempt logs (the world stays).
    pub fn reset_counts(&self) {
        self.shared.edit(|w| {
            w.requests.clear();
            w.attempts.clear();
        });
    }

    /// Waits until `done` holds for the world, re-checking after every
    /// request and every change; panics with a dump of the world and the
    /// last requests after `timeout`.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&World) -> bool, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            // Registered before the check: a change between the check and
            // the await still wakes us.
            notified.as_mut().enable();
            if done(&self.shared.lock()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let world = self.shared.lock();
                if done(&world) {
                    return;
                }
                panic!(
                    "fake GitHub: timed out after {timeout:?} waiting for {what}\n{}\npending faults: {:?}",
                    world.dump(),
                    world.faults.pending()
                );
            }
        }
    }
}

/// Every fake ends by holding its requests and answers to GitHub's
/// contract, and the test to its script: a violation fails the test that
/// made it, and so does a fault the test installed that never fired (the
/// test did not exercise what it meant to), unless marked optional.
impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let (ledger, unfired) = {
            let world = self.shared.lock();
            (world.conformance.clone(), world.faults.unfired())
        };
        openapi::record(&ledger);
        if std::thread::panicking() {
            return;
        }
        if !ledger.violations.is_empty() {
            panic!(
                "the fake GitHub saw {} violation(s) of GitHub's OpenAPI description:\n  {}",
                ledger.violations.len(),
                ledger.violations.join("\n  ")
            );
        }
        if !unfired.is_empty() {
            panic!(
                "the test scripted {} fault(s) that never fired (mark one `.optional()` if \
                 that is expected):\n  {}",
                unfired.len(),
                unfired.join("\n  ")
            );
        }
    }
}

/// The one wiremock responder: every request goes through here.
struct Responder {
    shared: Arc<Shared>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let answer = self.answer(request);
        self.shared.changed();
        answer
    }
}

impl Responder {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let method = request.method.as_str().to_ascii_uppercase();
        let raw_path = request.url.path();
        let prefix = &self.shared.prefix;
        let path = match raw_path.strip_prefix(prefix.as_str()) {
            Some(p) if p.starts_with('/') => p.to_owned(),
            _ if prefix.is_empty() => raw_path.to_owned(),
            // Outside the API root altogether.
            _ => raw_path.to_owned(),
        };
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let body: Option<Value> = if request.body.is_empty() {
            None
        } else {
            serde_json::from_slice(&request.body).ok()
        };
        let host = header("host").unwrap_or_else(|| "127.0.0.1".to_owned());
        let mut world = self.shared.lock();
        let auth = authenticate(&world, &self.shared.jwt_key, header("authorization"));
        let ctx = Ctx {
            method: method.clone(),
            path: path.clone(),
            params: Vec::new(),
            query: query.clone(),
            body: body.clone(),
            accept: header("accept"),
            auth: auth.clone(),
            link_base: format!("http://{host}{prefix}"),
        };

        for hook in world.faults.take_before(&method, &path) {
            (hook.action)(&mut world);
        }
        let operation = check_request(
            &mut world,
            &method,
            &path,
            &query,
            &request.body,
            body.as_ref(),
        );
        let rule = world.faults.take_rule(&method, &path);
        let mut delay = None;
        let answer = match rule {
            Some(rule) if !rule.after_acting => {
                delay = rule.delay;
                canned(&rule.body, rule.status, &rule.headers)
            }
            rule => {
                let served = serve(&mut world, ctx);
                let served = match operation {
                    Some(op) => conform(&mut world, op, served),
                    None => served,
                };
                match rule {
                    Some(rule) => {
                        delay = rule.delay;
                        canned(&rule.body, rule.status, &rule.headers)
                    }
                    None => conditional(
                        &mut world,
                        &method,
                        served,
                        header("if-none-match"),
                        header("authorization"),
                    ),
                }
            }
        };

        let installation = match &auth {
            SeenAuth::Installation(id) => Some(*id),
            _ => None,
        };
        let now = Utc::now();
        if answer.status == 304
            && let (Some(limits), Some(id)) = (world.limits.as_mut(), installation)
        {
            limits.refund(id, now);
        }
        let seq = world.requests.len() as u64 + 1;
        let route = routes::find(&method, &path).ok().map(|(r, _)| r.pattern);
        world.requests.push(Recorded {
            seq,
            method,
            path,
            query,
            route,
            auth,
            accept: header("accept"),
            body,
            status: answer.status,
            message: (answer.status >= 400)
                .then(|| serde_json::from_slice::<Value>(&answer.body).ok())
                .flatten()
                .and_then(|v| {
                    // merge-async's answers carry it in their details.
                    v["message"]
                        .as_str()
                        .or(v["details"]["message"].as_str())
                        .map(str::to_owned)
                }),
            at: std::time::Instant::now(),
        });
        for hook in world.faults.take_after_request() {
            (hook.action)(&mut world);
        }

        let rate = world.rate.clone();
        let (limit, remaining, used, reset) = match (world.limits.as_mut(), installation) {
            (Some(limits), Some(id)) => limits.headers(id, now),
            _ => (
                rate.limit,
                rate.remaining,
                rate.limit.saturating_sub(rate.remaining),
                rate.reset.timestamp(),
            ),
        };
        let mut template = ResponseTemplate::new(answer.status)
            .insert_header("content-type", answer.content_type)
            .insert_header("x-ratelimit-limit", limit.to_string().as_str())
            .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
            .insert_header("x-ratelimit-reset", reset.to_string().as_str())
            .insert_header("x-ratelimit-used", used.to_string().as_str())
            .insert_header("x-ratelimit-resource", "core")
            .insert_header("x-github-api-version-selected", "2022-11-28")
            .insert_header("x-github-request-id", format!("FAKE:{seq:08X}").as_str());
        for (k, v) in &answer.headers {
            template = template.insert_header(k.as_str(), v.as_str());
        }
        template = template.set_body_raw(answer.body, answer.content_type);
        if let Some(d) = delay {
            template = template.set_delay(d);
        }
        template
    }
}

/// GitHub's conditional requests: every successful GET carries an `ETag`
/// (a weak validator of the body, its type and the credentials: GitHub's
/// answers `Vary` on `Authorization`, so a new token's first request never
/// matches an ETag kept from the old one); a request whose `If-None-Match`
/// names it is answered `304 Not Modified` with no body, and does not count
/// against the rate limit.
fn conditional(
    world: &mut World,
    method: &str,
    answer: Answer,
    if_none_match: Option<String>,
    authorization: Option<String>,
) -> Answer {
    if method != "GET" || answer.status != 200 {
        return answer;
    }
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(answer.content_type.as_bytes());
    h.update(authorization.unwrap_or_default().as_bytes());
    h.update(&answer.body);
    let etag = format!("W/\"{}\"", hex::encode(&h.finalize()[..16]));
    let matches = if_none_match
        .as_deref()
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        world.rate.remaining = (world.rate.remaining + 1).min(world.rate.limit);
        world.not_modified += 1;
        return Answer {
            status: 304,
            body: Vec::new(),
            content_type: answer.content_type,
            headers: vec![("etag".to_owned(), etag)],
        };
    }
    answer.header("etag", etag)
}

/// Checks a request against GitHub's OpenAPI description, counting it
/// under its operation; the operation, when there is one.
fn check_request(
    world: &mut World,
    method: &str,
    path: &str,
    query: &[(String, String)],
    raw_body: &[u8],
    body: Option<&Value>,
) -> Option<&'static Operation> {
    // GraphQL is not in the REST description: `routes::graphql` holds it
    // to GitHub's schema instead.
    if method == "POST" && path == "/graphql" {
        return None;
    }
    let contract = openapi::contract();
    let Some(op) = contract.operation(method, path) else {
        world.conformance.violations.push(format!(
            "{method} {path}: no such operation in GitHub's OpenAPI description"
        ));
        return None;
    };
    *world.conformance.checked.entry(op.name()).or_default() += 1;
    if body.is_none() && !raw_body.is_empty() {
        world
            .conformance
            .violations
            .push(format!("{}: the request body is not JSON", op.name()));
    }
    let mut violations = contract.check_query(op, query);
    violations.extend(contract.check_request(op, body));
    world.conformance.violations.extend(violations);
    Some(op)
}

/// Checks a served JSON answer against the operation's response schema and
/// thins it to the properties GitHub requires.
fn conform(world: &mut World, op: &Operation, mut answer: Answer) -> Answer {
    let mut json = answer
        .content_type
        .starts_with("application/json")
        .then(|| serde_json::from_slice::<Value>(&answer.body).ok())
        .flatten();
    let violations = openapi::contract().check_response(op, answer.status, json.as_mut());
    if let Some(json) = json.filter(|_| violations.is_empty()) {
        answer.body = serde_json::to_vec(&json).expect("JSON serializes");
    }
    world.conformance.violations.extend(violations);
    answer
}

/// Routes a request and runs its handler.
fn serve(world: &mut World, mut ctx: Ctx) -> Answer {
    match routes::find(&ctx.method, &ctx.path) {
        Ok((route, params)) => {
            ctx.params = params;
            routes::dispatch(world, route, &ctx)
        }
        Err(405) => Answer::error(405, "Method Not Allowed"),
        Err(_) => Answer::not_found(),
    }
}

/// A canned answer: JSON when the body is JSON, text otherwise.
fn canned(body: &[u8], status: u16, headers: &[(String, String)]) -> Answer {
    let json = serde_json::from_slice::<Value>(body).is_ok();
    Answer {
        status,
        body: body.to_vec(),
        content_type: if json {
            "application/json; charset=utf-8"
        } else {
            "text/html; charset=utf-8"
        },
        headers: headers.to_vec(),
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    #[allow(dead_code)]
    iss: String,
}

/// Checks an App JWT as GitHub does: RS256 under the App's public key,
/// `iss` the App id as a string, `iat` not in the future, `exp` in the
/// future but at most ten minutes away.
fn verify_jwt(key: &DecodingKey, app_id: u64, token: &str) -> Result<(), String> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    validation.set_issuer(&[app_id.to_string()]);
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|e| format!("A JSON web token could not be decoded ({e})"))?;
    let now = Utc::now().timestamp();
    if data.claims.iat > now + JWT_CLOCK_SKEW_SECS {
        return Err("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued".into());
    }
    if data.claims.exp > now + MAX_JWT_LIFETIME_SECS {
        return Err("'Expiration time' claim ('exp') is too far in the future".into());
    }
    Ok(())
}

/// Who the `Authorization` header says the caller is.
fn authenticate(world: &World, key: &DecodingKey, header: Option<String>) -> SeenAuth {
    let Some(header) = header else {
        return SeenAuth::None;
    };
    let (scheme, credential) = header.split_once(' ').unwrap_or(("", header.as_str()));
    let credential = credential.trim();
    let looks_like_jwt = credential.split('.').count() == 3;
    if scheme.eq_ignore_ascii_case("bearer") && looks_like_jwt {
        return match verify_jwt(key, world.app_id, credential) {
            Ok(()) => SeenAuth::App,
            Err(why) => SeenAuth::Refused(why),
        };
    }
    // Installation tokens only as `Bearer`, as some Enterprise Server
    // installations require: a client sending `token …` is caught here.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return SeenAuth::Refused("Bad credentials".into());
    }
    match world.tokens.get(credential) {
        Some(t) if !t.revoked && t.expires_at > Utc::now() => {
            SeenAuth::Installation(t.installation)
        }
        _ => SeenAuth::Refused("Bad credentials".into()),
    }
}

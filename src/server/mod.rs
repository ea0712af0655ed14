//! The HTTP layer and the process around it.
//!
//! The router is thin: `POST /webhook` verifies, stores and acknowledges
//! ([`webhook`]); `GET /healthz`, `/readyz` and `/metrics` report. All the
//! work happens in the engine, off the request path. Shutdown on SIGTERM or
//! SIGINT stops accepting, lets in-flight requests and evaluations finish
//! (bounded by `SHUTDOWN_GRACE`), then exits; anything unfinished is still
//! in the store and resumes on the next start.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that a
//! client that trickles its request headers is cut off after
//! [`HEADER_READ_TIMEOUT`], and so that their number stays within the
//! process's descriptors: [`connections`] bounds them and closes idle ones
//! when the server is crowded. The webhook handler bounds body bytes and
//! body time itself ([`webhook`]).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::settings::{AppSettings, ServeArgs, Settings, redact};
use crate::engine::{Engine, EngineConfig};
use crate::github::budget::MemoryLedger;
use crate::github::governor::BudgetStore;
use crate::github::{ClientConfig, GitHub, RetryPolicy, Timeouts};
use crate::store::{Store, StoreError, StoreOptions};
use crate::telemetry;

pub mod connections;
pub mod health;
pub mod proxy;
pub mod setup;
pub mod webhook;

/// How long a client may take to send a request's headers. GitHub sends a
/// delivery's ~2 KiB of headers at once and gives up after 10 s in all, so
/// a client still sending headers then is not a delivery anyone waits for.
/// (hyper counts an idle keep-alive connection's wait for its next request
/// against this too: idle connections close after it.)
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (out of file descriptors, usually) before
/// trying again, so the loop does not spin while connections close.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// `seamguard serve`.
pub fn run(args: ServeArgs) -> ExitCode {
    let settings = match args.validate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("seamguard: {}", redact(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(settings.log_format, &settings.rust_log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seamguard: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    let result = runtime.block_on(async {
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            signals.cancel();
        });
        serve(settings, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, said once: not a log line and then the same words.
            eprintln!("seamguard: {}", redact(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Resolves on SIGINT or SIGTERM. A handler that cannot be installed
/// is said once and then never fires: it must not read as a signal and stop
/// the server the moment it starts.
async fn wait_for_signal() {
    #[cfg(unix)]
    let term = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        term.recv().await;
        Ok(())
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<std::io::Result<()>>();
    until_signal(tokio::signal::ctrl_c(), term).await
}

/// The first of `interrupt` and `terminate` that fires; one that fails (its
/// handler could not be installed) is logged and waits forever instead.
async fn until_signal(
    interrupt: impl Future<Output = std::io::Result<()>>,
    terminate: impl Future<Output = std::io::Result<()>>,
) {
    async fn or_never(name: &'static str, signal: impl Future<Output = std::io::Result<()>>) {
        if let Err(e) = signal.await {
            tracing::warn!(error = %e, "cannot listen for {name}; it will not stop the server");
            std::future::pending::<()>().await;
        }
    }
    tokio::select! {
        _ = or_never("SIGINT", interrupt) => {}
        _ = or_never("SIGTERM", terminate) => {}
    }
}

/// Runs the server until `shutdown`: the App when credentials exist, else
/// setup mode (which switches to the App once it has registered one).
pub async fn serve(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.listen_addr)
        .await
        .map_err(|e| anyhow::anyhow!("LISTEN_ADDR: cannot bind {}: {e}", settings.listen_addr))?;
    serve_on(listener, settings, shutdown).await
}

/// [`serve`] on a listener the caller bound (tests bind port 0).
pub async fn serve_on(
    listener: TcpListener,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let (listener, settings) = match settings.app {
        Some(_) => (listener, settings),
        None => match setup::serve_setup(listener, addr, &settings, shutdown.clone()).await? {
            // Registered: serve the new App on the same address.
            Some(app) => (
                TcpListener::bind(addr).await?,
                Settings {
                    app: Some(app),
                    ..settings
                },
            ),
            None => return Ok(()),
        },
    };
    let app = settings.app.clone().expect("credentials present");
    serve_app(listener, addr, settings, app, shutdown).await
}

/// Shared state of the App's routes.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub webhook: Arc<webhook::WebhookState>,
    /// The pages: pull requests', `/`, `/status`.
    pub web: Arc<crate::web::WebState>,
    /// The store's health, probed at most once a second (`/readyz`, `/`).
    pub health: Arc<health::Health>,
    /// `METRICS_TOKEN`: the bearer `/metrics` asks for; `None`, open.
    pub metrics_token: Option<crate::config::settings::Secret>,
}

/// GitHub's rate budget ledger for a server on `store`: the table every
/// replica leases from when they share a PostgreSQL store (together they
/// spend no more than one would, and a pause one was told of holds for
/// all); in memory otherwise, since the embedded store has one process.
pub fn budget_ledger(store: &Store) -> Arc<dyn BudgetStore> {
    store
        .shared_budget_ledger()
        .unwrap_or_else(|| Arc::new(MemoryLedger::default()))
}

/// The App's router: webhook, health, readiness, metrics.
pub fn router(state: AppState) -> Router {
    let webhook_routes = Router::new()
        // The handler reads the body itself, within `webhook::MAX_BODY`
        // and the shared body budget.
        .route("/webhook", post(webhook::receive))
        .with_state(state.webhook.clone());
    let pages = Router::new()
        .route("/", get(crate::web::landing))
        .route("/status", get(crate::web::status))
        .route("/{owner}/{repo}/pull/{number}", get(crate::web::pull_page))
        .with_state(state.web.clone());
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/setup/installed", get(setup::installed))
        .route("/setup/callback", get(setup::already_registered))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(webhook_routes)
        .merge(pages)
        // An unknown path and a refused page answer the same (as JSON
        // when JSON is asked for, as a refused page does).
        .fallback(crate::web::unknown_path)
}

/// `GET /readyz`: whether the store commits, probed at most once a second.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.check(&state.store).await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
    }
}

/// `GET /metrics`: Prometheus text; with `METRICS_TOKEN` set, only for
/// its bearer (installation ids and traffic are not for everyone).
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token
        && !crate::web::bearer_matches(&headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response();
    }
    if let Ok(stats) = state.store.queue_stats(Utc::now()).await {
        metrics::gauge!("seamguard_queue_depth").set(stats.depth as f64);
        metrics::gauge!("seamguard_queue_due").set(stats.due as f64);
        metrics::gauge!("seamguard_queue_oldest_due_age_seconds")
            .set(stats.oldest_due_age.unwrap_or_default().as_secs_f64());
    }
    metrics::gauge!("seamguard_webhook_body_bytes_in_flight")
        .set(state.webhook.budget.in_flight() as f64);
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        telemetry::render_metrics(),
    )
        .into_response()
}

async fn serve_app(
    listener: TcpListener,
    addr: SocketAddr,
    settings: Settings,
    app: AppSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _ = telemetry::metrics_handle();
    let store = Store::open(&settings.database_url, StoreOptions::default())
        .await
        .map_err(|e| match e {
            // Already one line naming DATABASE_URL and the other process.
            StoreError::Locked { .. } => anyhow::anyhow!(redact(&e.to_string())),
            e => anyhow::anyhow!(redact(&format!(
                "DATABASE_URL: cannot open {}: {e}",
                settings.database_url
            ))),
        })?;
    // The embedded store's lock proves no other process runs its work;
    // a shared store releases nothing (another replica may be running it).
    let released = store.release_all_leases().await?;
    if released > 0 {
        tracing::info!(
            items = released,
            "resuming work left unfinished by the last run"
        );
    }
    // The page links' key: derived from the first webhook secret (see
    // `web::link`), so it needs no setting and every replica agrees.
    let signer = crate::web::link::PageSigner::from_webhook_secret(
        app.webhook_secrets
            .first()
            .map(|s| s.expose())
            .unwrap_or_default(),
    );
    let links = settings
        .public_url
        .clone()
        .map(|public_url| crate::web::link::PageLinks {
            public_url,
            signer: signer.clone(),
        });
    let tuning = &settings.tuning;
    let gh = GitHub::new(
        ClientConfig {
            api_url: settings.api_url.clone(),
            retry: RetryPolicy {
                min_delay: tuning.github_retry_base,
                max_delay: tuning.github_retry_base.saturating_mul(32),
                ..RetryPolicy::default()
            },
            timeouts: Timeouts::default(),
        },
        Some(app.credentials.clone()),
    )?
    .with_budget(budget_ledger(&store), tuning.github_limits.clone());
    let engine = Engine::new(
        gh.clone(),
        store.clone(),
        EngineConfig {
            app_id: app.credentials.app_id(),
            workers: tuning.workers,
            merge_retry_base: tuning.merge_retry_base,
            github_retry_base: tuning.github_retry_base,
            reconcile_interval: tuning.reconcile_interval,
            redelivery_interval: tuning.redelivery_interval,
            delivery_retention: tuning.delivery_retention,
            lease: tuning.work_lease,
        },
    )
    .with_public_url(settings.public_url.clone())
    .with_page_links(links.clone())
    .through_webhook_proxy(settings.webhook_proxy_url.is_some());
    let tracker = TaskTracker::new();
    let work_stop = CancellationToken::new();
    engine.start(work_stop.clone(), &tracker);
    let health = Arc::new(health::Health::default());
    let state = AppState {
        store: store.clone(),
        health: health.clone(),
        metrics_token: settings.metrics_token.clone(),
        webhook: Arc::new(webhook::WebhookState {
            secrets: app.webhook_secrets.clone(),
            app_id: Some(app.credentials.app_id()),
            store: store.clone(),
            budget: webhook::BodyBudget::default(),
            check_settle: tuning.check_settle,
        }),
        web: Arc::new(crate::web::WebState {
            store: store.clone(),
            signer,
            links,
            status_token: settings.status_token.clone(),
            gh: Some(gh),
            health,
        }),
    };
    // WEBHOOK_PROXY_URL: deliveries through the proxy channel too, into
    // the same handler as `POST /webhook`; stopped with HTTP.
    let proxy = settings.webhook_proxy_url.clone().map(|url| {
        tokio::spawn(proxy::run(
            url,
            state.webhook.clone(),
            shutdown.child_token(),
        ))
    });
    tracing::info!(%addr, api = %redact(settings.api_url.as_str()), app_id = %app.credentials.app_id(), "seamguard listening on {addr}");
    serve_http(listener, router(state), shutdown.clone()).await;
    if let Some(proxy) = proxy {
        let _ = proxy.await;
    }
    // HTTP has stopped; let in-flight evaluations finish, bounded.
    work_stop.cancel();
    tracker.close();
    if tokio::time::timeout(tuning.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace ran out; unfinished work resumes on the next start");
    }
    store.close().await;
    tracing::info!("seamguard stopped");
    Ok(())
}

/// Serves `app` on `listener` over HTTP/1.1 until `shutdown`, then stops
/// accepting, lets each connection finish the request it is in, and returns
/// once every connection has closed. At most as many connections as the
/// descriptor limit allows are held ([`connections`]).
pub async fn serve_http(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let limit = connections::descriptor_limit();
    let held = connections::Connections::new(connections::max_for(limit));
    tracing::debug!(
        descriptors = limit,
        max_connections = held.max(),
        "connections bounded"
    );
    let tasks = TaskTracker::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = held.room() => {}
        }
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let connection = Arc::new(held.accepted());
        let service = ConnectionService {
            inner: TowerToHyperService::new(app.clone()),
            connection: connection.clone(),
        };
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                // Closed to make room: idle, so nothing is cut short but
                // an answer still being flushed, which gets a moment.
                _ = connection.shed().cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(connections::SHED_FLUSH, conn.as_mut()).await;
                    return;
                }
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

/// The router for one connection: each request marks the connection busy
/// until its answer has been written.
struct ConnectionService {
    inner: TowerToHyperService<Router>,
    connection: Arc<connections::Connection>,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for ConnectionService {
    type Response = hyper::Response<Answer>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let busy = self.connection.busy();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = match answer.await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| Answer { body, _busy: busy }))
        })
    }
}

/// An answer's body, holding its connection busy until hyper has written
/// it and let it go.
struct Answer {
    body: axum::body::Body,
    _busy: connections::Busy,
}

impl http_body::Body for Answer {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn failed() -> std::future::Ready<std::io::Result<()>> {
        std::future::ready(Err(std::io::Error::other("no signal handler")))
    }

    #[tokio::test]
    async fn a_signal_handler_that_cannot_be_installed_is_not_a_signal() {
        let pending = std::future::pending::<std::io::Result<()>>;
        assert!(until_signal(failed(), pending()).now_or_never().is_none());
        assert!(until_signal(pending(), failed()).now_or_never().is_none());
        assert!(until_signal(failed(), failed()).now_or_never().is_none());
        // A real signal still stops it, whichever handler failed.
        assert!(
            until_signal(failed(), std::future::ready(Ok(())))
                .now_or_never()
                .is_some()
        );
        assert!(
            until_signal(std::future::ready(Ok(())), pending())
                .now_or_never()
                .is_some()
        );
    }
}

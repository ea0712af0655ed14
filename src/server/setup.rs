//! Setup mode: register the GitHub App from its manifest, from a browser.
//!
//! `seamguard serve` with no App credentials anywhere starts here instead of
//! failing. Setup belongs to the person at the console: at start (and after
//! a failed exchange) it prints one line with a one-time link,
//! `http://localhost:3000/?setup=<secret>`, like a notebook server's token.
//! `/`, `/org` and `/setup/callback` without that secret show only where to
//! find the link; with it, `/` posts the manifest (`app-manifest.yml`, with
//! this server's public URL) to GitHub's app-creation form. The manifest's
//! `state` is derived from the secret (an HMAC), so the callback GitHub
//! sends back, `/setup/callback?code=…&state=…`, proves it came from a form
//! only the link could show. The secret is claimed under a lock *before*
//! the code is exchanged (`POST /app-manifests/{code}/conversions`): at most
//! one exchange runs per secret; a failed one retires the secret and prints
//! a new link. The new App's id, key and webhook secret are written to the
//! credentials file, which is never overwritten: through a fresh name
//! created exclusively with mode 0600 (no link followed) before a byte of
//! the key is written, then linked into place, which fails if the file
//! exists. Then the server switches to serving the App on the same address.
//!
//! Setup mode binds loopback unless `LISTEN_ADDR` (or `HOST`) or
//! `PUBLIC_URL` say otherwise (`config::settings`). Pages come from the
//! templates in `web::setup`, are never cached, and send no `Referer` (the
//! link's secret is in the address bar). No JavaScript.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::settings::{AppSettings, CredentialsFile, Secret, Settings};
use crate::github::auth::AppCredentials;
use crate::github::{ClientConfig, GitHub, RetryPolicy, Timeouts};
use crate::ids::AppId;
use crate::web::setup as pages;

/// Bytes of randomness in a setup secret: 256 bits, nothing to guess.
const SECRET_BYTES: usize = 32;

/// What the manifest `state` is an HMAC of, under the setup secret.
const STATE_CONTEXT: &[u8] = b"seamguard setup: GitHub App manifest state";

/// The current one-time secret and whether an exchange has claimed it.
struct OneTime {
    secret: String,
    claimed: bool,
}

struct SetupState {
    gh: GitHub,
    web_url: Url,
    public_url: Option<Url>,
    /// `WEBHOOK_PROXY_URL`: the manifest's webhook URL when set.
    proxy: Option<Url>,
    /// The port this server listens on, for the tunnel commands.
    port: u16,
    /// Where the console's link points (without its secret).
    console: Url,
    credentials_file: std::path::PathBuf,
    one_time: Mutex<OneTime>,
    done: Mutex<Option<tokio::sync::oneshot::Sender<AppSettings>>>,
}

/// The outcome of claiming the secret for an exchange.
enum Claim {
    /// Claimed: this request runs the one exchange.
    Won,
    /// The `state` is not the current secret's.
    Forbidden,
    /// Another request already claimed it.
    Taken,
}

impl SetupState {
    fn one_time(&self) -> std::sync::MutexGuard<'_, OneTime> {
        self.one_time.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current secret when `given` is it.
    fn secret_if(&self, given: Option<&str>) -> Option<String> {
        let one = self.one_time();
        given
            .filter(|g| same(g, &one.secret))
            .map(|_| one.secret.clone())
    }

    /// Claims the secret whose manifest state `state` is, atomically.
    fn claim(&self, state: Option<&str>) -> Claim {
        let mut one = self.one_time();
        if !state.is_some_and(|s| same(s, &manifest_state(&one.secret))) {
            return Claim::Forbidden;
        }
        if one.claimed {
            return Claim::Taken;
        }
        one.claimed = true;
        Claim::Won
    }

    /// Retires the claimed secret after a failed exchange and prints a
    /// fresh link.
    fn renew(&self) {
        let secret = new_secret();
        *self.one_time() = OneTime {
            secret: secret.clone(),
            claimed: false,
        };
        self.announce(&secret);
    }

    /// The console's one line.
    fn announce(&self, secret: &str) {
        let mut link = self.console.clone();
        link.set_query(Some(&format!("setup={secret}")));
        tracing::warn!(
            "setup mode: open {link} to register the GitHub App (only this link can, once)"
        );
    }
}

fn new_secret() -> String {
    hex::encode(rand::random::<[u8; SECRET_BYTES]>())
}

/// The manifest `state` for `secret`: only the link's holder sees it, and
/// the secret itself never travels to GitHub.
fn manifest_state(secret: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(STATE_CONTEXT);
    hex::encode(mac.finalize().into_bytes())
}

/// Compares two secrets in constant time (their digests, so the length
/// does not show either).
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(a.as_slice(), b.as_slice()).into()
}

/// Where the console link points: `PUBLIC_URL`, else this machine.
fn console_base(addr: SocketAddr, public_url: Option<&Url>) -> Url {
    if let Some(u) = public_url {
        return u.clone();
    }
    let ip = addr.ip();
    let text = if ip.is_loopback() || ip.is_unspecified() {
        format!("http://localhost:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    };
    Url::parse(&text).expect("an address makes a URL")
}

/// GitHub's web root for an API root: `api.github.com` → `github.com`,
/// `https://HOST/api/v3` → `https://HOST`.
pub fn web_url(api: &Url) -> Url {
    let mut web = api.clone();
    if api.host_str() == Some("api.github.com") {
        let _ = web.set_host(Some("github.com"));
        web.set_path("/");
    } else {
        let path = api.path().trim_end_matches('/');
        let path = path.strip_suffix("/api/v3").unwrap_or(path);
        web.set_path(&format!("{path}/"));
    }
    web.set_query(None);
    web
}

/// A setup page: never cached, and no `Referer` leaves it (the address
/// may hold the secret).
fn show(status: StatusCode, markup: maud::Markup) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(markup.into_string()),
    )
        .into_response()
}

fn locked() -> Response {
    show(StatusCode::FORBIDDEN, pages::locked())
}

/// Setup mode on `listener` until the App is registered (returns its
/// settings, with the listener closed so the caller can bind the App) or
/// `shutdown` (returns `None`).
pub async fn serve_setup(
    listener: TcpListener,
    addr: SocketAddr,
    settings: &Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<AppSettings>> {
    let gh = GitHub::new(
        ClientConfig {
            api_url: settings.api_url.clone(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
        },
        None,
    )?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let secret = new_secret();
    let state = Arc::new(SetupState {
        gh,
        web_url: web_url(&settings.api_url),
        public_url: settings.public_url.clone(),
        proxy: settings.webhook_proxy_url.clone(),
        port: addr.port(),
        console: console_base(addr, settings.public_url.as_ref()),
        credentials_file: settings.credentials_file.clone(),
        one_time: Mutex::new(OneTime {
            secret: secret.clone(),
            claimed: false,
        }),
        done: Mutex::new(Some(tx)),
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/org", get(org))
        .route("/setup/callback", get(callback))
        .route("/setup/installed", get(installed))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "setup mode: no App registered yet\n",
                )
            }),
        )
        .fallback(crate::web::not_found)
        .with_state(state.clone());
    tracing::warn!(%addr, "setup mode listening on {addr} (no App credentials yet)");
    state.announce(&secret);
    let stop = shutdown.child_token();
    let server = tokio::spawn(super::serve_http(listener, app, stop.clone()));
    let outcome = tokio::select! {
        app = rx => app.ok(),
        _ = shutdown.cancelled() => None,
    };
    stop.cancel();
    server.await?;
    Ok(outcome)
}

/// The first value of a header that a proxy may have appended to
/// (`X-Forwarded-Proto: https, http` names the client's side first).
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// This server's URL as the browser sees it: `PUBLIC_URL` when set, else
/// the request's `Host`, with `X-Forwarded-Proto` and `X-Forwarded-Host`
/// from a TLS proxy in front honoured.
fn public_base(state: &SetupState, headers: &HeaderMap) -> Url {
    if let Some(u) = &state.public_url {
        return u.clone();
    }
    let scheme = match first_value(headers, "x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = first_value(headers, "x-forwarded-host")
        .or_else(|| first_value(headers, "host"))
        .unwrap_or("localhost:3000");
    Url::parse(&format!("{scheme}://{host}/"))
        .unwrap_or_else(|_| Url::parse("http://localhost:3000/").expect("valid"))
}

/// The webhook URL of the manifest rooted at `base`: the proxy channel
/// when `WEBHOOK_PROXY_URL` is set (GitHub posts there; seamguard reads it).
fn hook_url(base: &Url, proxy: Option<&Url>) -> Url {
    match proxy {
        Some(proxy) => proxy.clone(),
        None => base.join("webhook").unwrap_or_else(|_| base.clone()),
    }
}

/// The manifest JSON rooted at `base`, its webhook URL `hook`, or the
/// error page to show.
fn manifest_for(base: &Url, hook: &Url) -> Result<String, Box<Response>> {
    crate::config::manifest::manifest_json(Some(base))
        .map(|mut m| {
            m["hook_attributes"]["url"] = hook.as_str().into();
            m.to_string()
        })
        .map_err(|e| {
            Box::new(show(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::failed(
                    "Setup failed",
                    &format!("The App manifest could not be built: {e}"),
                ),
            ))
        })
}

/// The warning shown above the buttons when GitHub would refuse the App
/// because its webhook URL is not public.
fn reachability<'a>(
    state: &SetupState,
    hook: &'a str,
    why: &'a Option<String>,
) -> Option<pages::Reachability<'a>> {
    why.as_deref().map(|why| pages::Reachability {
        hook,
        why,
        public_url_set: state.public_url.is_some(),
        proxy_set: state.proxy.is_some(),
        port: state.port,
    })
}

#[derive(serde::Deserialize)]
struct SetupQuery {
    setup: Option<String>,
}

/// `/?setup=…`: the registration page, for the link's holder only.
async fn index(
    State(state): State<Arc<SetupState>>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Response {
    let Some(secret) = state.secret_if(q.setup.as_deref()) else {
        return locked();
    };
    let base = public_base(&state, &headers);
    let hook = hook_url(&base, state.proxy.as_ref());
    let manifest = match manifest_for(&base, &hook) {
        Ok(m) => m,
        Err(page) => return *page,
    };
    let personal = state
        .web_url
        .join(&format!(
            "settings/apps/new?state={}",
            manifest_state(&secret)
        ))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let why = crate::config::manifest::not_public(&hook);
    let hook = hook.to_string();
    let file = state.credentials_file.display().to_string();
    show(
        StatusCode::OK,
        pages::register(&pages::Register {
            hook: &hook,
            file: &file,
            personal_action: &personal,
            manifest: &manifest,
            base: base.as_str(),
            setup: &secret,
            proxy: state.proxy.is_some(),
            warning: reachability(&state, &hook, &why),
        }),
    )
}

#[derive(serde::Deserialize)]
struct OrgQuery {
    org: Option<String>,
    setup: Option<String>,
}

/// Without JavaScript a form cannot put a typed value into its action URL,
/// so the organization's name comes here first and this page holds the
/// form aimed at that organization.
async fn org(
    State(state): State<Arc<SetupState>>,
    headers: HeaderMap,
    Query(q): Query<OrgQuery>,
) -> Response {
    let Some(secret) = state.secret_if(q.setup.as_deref()) else {
        return locked();
    };
    let org = q.org.unwrap_or_default();
    let valid = !org.is_empty()
        && org.len() <= 39
        && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !org.starts_with('-');
    if !valid {
        return show(
            StatusCode::BAD_REQUEST,
            pages::failed(
                "Not an organization name",
                "Organization names are letters, digits and hyphens; go back and correct it.",
            ),
        );
    }
    let base = public_base(&state, &headers);
    let hook = hook_url(&base, state.proxy.as_ref());
    let manifest = match manifest_for(&base, &hook) {
        Ok(m) => m,
        Err(page) => return *page,
    };
    let action = state
        .web_url
        .join(&format!(
            "organizations/{org}/settings/apps/new?state={}",
            manifest_state(&secret)
        ))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let why = crate::config::manifest::not_public(&hook);
    let hook = hook.to_string();
    show(
        StatusCode::OK,
        pages::register_org(
            &org,
            &action,
            &manifest,
            reachability(&state, &hook, &why),
            &secret,
        ),
    )
}

#[derive(serde::Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
}

async fn callback(State(state): State<Arc<SetupState>>, Query(q): Query<Callback>) -> Response {
    let file_name = state.credentials_file.display().to_string();
    let failed = |status, title: &str, msg: &str| show(status, pages::failed(title, msg));
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 200) else {
        return match state.claim_check(q.state.as_deref()) {
            false => locked(),
            true => failed(
                StatusCode::BAD_REQUEST,
                "Missing code",
                "GitHub's callback carries a `code` parameter; this request had none.",
            ),
        };
    };
    if std::fs::symlink_metadata(&state.credentials_file).is_ok() {
        // Checked before the claim: nothing is exchanged that could not
        // be saved, and the code stays good for GitHub's hour.
        return match state.claim_check(q.state.as_deref()) {
            false => locked(),
            true => failed(
                StatusCode::CONFLICT,
                "Credentials file exists",
                &format!(
                    "`{file_name}` already exists, and seamguard never overwrites a credentials \
                     file. Move it away and open this page again, or start `seamguard serve` \
                     with it."
                ),
            ),
        };
    }
    match state.claim(q.state.as_deref()) {
        Claim::Won => {}
        Claim::Forbidden => return locked(),
        Claim::Taken => {
            return failed(
                StatusCode::CONFLICT,
                "Already used",
                "This setup link was already used to register an App; the server is switching to \
                 serving it (or, if that failed, printed a new link on its console).",
            );
        }
    }
    let conversion = match state.gh.convert_manifest(&code).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "manifest conversion failed");
            state.renew();
            let msg = if e.is_status(404) || e.is_status(422) {
                "GitHub did not accept this code: it is unknown, expired (codes last one hour) or \
                 was already used. A new setup link was printed on seamguard's console; open it to \
                 create the App again."
                    .to_owned()
            } else {
                format!(
                    "GitHub could not be reached to finish the registration ({}). A new setup link \
                     was printed on seamguard's console; open it to try again.",
                    e.message
                )
            };
            return failed(StatusCode::BAD_GATEWAY, "Registration not finished", &msg);
        }
    };
    let gone = |why: String| {
        tracing::error!(app_id = conversion.id, "{why}");
        failed(
            StatusCode::BAD_GATEWAY,
            "Registration not finished",
            &format!(
                "{why} The App {} (id {}) exists on GitHub; delete it in its settings and restart \
                 `seamguard serve` to register another.",
                conversion.slug.as_deref().unwrap_or("seamguard"),
                conversion.id
            ),
        )
    };
    let Some(secret) = conversion.webhook_secret.clone().filter(|s| !s.is_empty()) else {
        return gone("GitHub's answer had no webhook secret.".to_owned());
    };
    let credentials =
        match AppCredentials::from_pem(AppId(conversion.id), conversion.pem.as_bytes()) {
            Ok(c) => c,
            Err(e) => return gone(format!("GitHub's key did not load: {e}.")),
        };
    let file = CredentialsFile {
        app_id: conversion.id,
        private_key: conversion.pem.clone(),
        webhook_secret: secret.clone(),
        slug: conversion.slug.clone(),
        html_url: conversion.html_url.clone(),
    };
    if let Err(e) = write_private(&state.credentials_file, &file) {
        return gone(format!("Writing `{file_name}` failed: {e}."));
    }
    tracing::info!(app_id = conversion.id, file = %state.credentials_file.display(), "App registered; credentials saved");
    if let Some(tx) = state.done.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = tx.send(AppSettings {
            credentials,
            webhook_secrets: vec![Secret::new(secret.into_bytes())],
        });
    }
    let install = conversion
        .html_url
        .as_deref()
        .map(|u| format!("{}/installations/new", u.trim_end_matches('/')));
    show(
        StatusCode::OK,
        pages::registered(
            conversion.slug.as_deref().unwrap_or("seamguard"),
            conversion.id,
            &file_name,
            install.as_deref(),
        ),
    )
}

impl SetupState {
    /// Whether `state` is the current secret's manifest state (without
    /// claiming it): only then does a callback learn more than the locked
    /// page.
    fn claim_check(&self, state: Option<&str>) -> bool {
        let one = self.one_time();
        state.is_some_and(|s| same(s, &manifest_state(&one.secret)))
    }
}

/// Where GitHub sends the browser after someone installs the App (the
/// manifest's `setup_url`), in setup mode and when serving.
pub async fn installed() -> Response {
    show(StatusCode::OK, pages::installed())
}

/// `/setup/callback` once the App exists: a reused link gets a clear page.
pub async fn already_registered() -> Response {
    show(StatusCode::CONFLICT, pages::already_registered())
}

/// Writes the credentials readable by this user only, never replacing a
/// file: into a fresh name beside `path`, created exclusively (no existing
/// file or link is opened) with mode 0600 before a byte is written, synced,
/// then hard-linked to `path` — which fails if anything is there — and the
/// fresh name removed.
pub fn write_private(path: &Path, file: &CredentialsFile) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(file)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "credentials".to_owned());
    let tmp = dir.join(format!(
        ".{name}.{}.tmp",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(&json)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    // The fresh name goes either way; `path` is the file now, or nothing.
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(std::io::Error::new(
                e.kind(),
                format!(
                    "{} already exists; seamguard never overwrites a credentials file",
                    path.display()
                ),
            ));
        }
        other => other?,
    }
    // The new name is durable once its directory is.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls() {
        let u = |s: &str| web_url(&Url::parse(s).unwrap()).to_string();
        assert_eq!(u("https://api.github.com"), "https://github.com/");
        assert_eq!(
            u("https://ghe.example.com/api/v3"),
            "https://ghe.example.com/"
        );
        assert_eq!(
            u("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/"
        );
        assert_eq!(u("http://127.0.0.1:9999/"), "http://127.0.0.1:9999/");
    }
}

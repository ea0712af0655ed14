//! Setup mode: register the GitHub App from its manifest, from a browser.
//!
//! `seamguard serve` with no App credentials anywhere starts here instead of
//! failing. `GET /` explains what will happen and offers a button that posts
//! the manifest (`app-manifest.yml`, with this server's public URL) to
//! GitHub's app-creation form, for a personal account or an organization.
//! GitHub sends the browser back to `/setup/callback?code=…&state=…`; the
//! code is exchanged (`POST /app-manifests/{code}/conversions`) for the new
//! App's id, key and webhook secret, which are written to the credentials
//! file with mode 0600. Then the server switches to serving the App on the
//! same address. The `state` parameter is this server's one-time token: a
//! callback without it, or a code GitHub refuses, gets a clear page.
//!
//! Plain server-rendered HTML, no JavaScript.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::settings::{AppSettings, CredentialsFile, Secret, Settings};
use crate::github::auth::AppCredentials;
use crate::github::{ClientConfig, GitHub, RetryPolicy, Timeouts};
use crate::ids::AppId;

struct SetupState {
    gh: GitHub,
    web_url: Url,
    public_url: Option<Url>,
    /// The port this server listens on, for the tunnel commands.
    port: u16,
    credentials_file: std::path::PathBuf,
    /// The one-time `state` token GitHub must hand back.
    token: String,
    used: Mutex<bool>,
    done: Mutex<Option<tokio::sync::oneshot::Sender<AppSettings>>>,
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · seamguard</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         code,pre{{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}}\
         button{{font-size:1rem;padding:.5rem 1rem;cursor:pointer}} form{{margin:1rem 0}}\
         label{{display:block;margin:.5rem 0}}</style></head>\
         <body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
    ))
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
    let state = Arc::new(SetupState {
        gh,
        web_url: web_url(&settings.api_url),
        public_url: settings.public_url.clone(),
        port: addr.port(),
        credentials_file: settings.credentials_file.clone(),
        token: hex::encode(rand::random::<[u8; 16]>()),
        used: Mutex::new(false),
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
        .with_state(state);
    tracing::warn!(%addr, "no App credentials: starting in setup mode; open http://{addr}/ to register the GitHub App");
    let registered = CancellationToken::new();
    let stop = shutdown.clone();
    let reg = registered.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = reg.cancelled() => {}
                }
            })
            .await
    });
    let outcome = tokio::select! {
        app = rx => app.ok(),
        _ = shutdown.cancelled() => None,
    };
    registered.cancel();
    server.await??;
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

/// The warning shown above the buttons when GitHub would refuse the App
/// because its webhook URL is not public, with the fix.
fn reachability_warning(state: &SetupState, base: &Url) -> String {
    let Some(why) = crate::config::manifest::not_public(base) else {
        return String::new();
    };
    let fix = if state.public_url.is_some() {
        "<code>PUBLIC_URL</code> is set to this address: set it to this server's public https URL"
    } else {
        "Set <code>PUBLIC_URL</code> to this server's public https URL and restart"
    };
    format!(
        "<div role=\"alert\" style=\"border:2px solid #c00;padding:.5rem 1rem;margin:1rem 0\">\
         <p><strong>GitHub will refuse this App.</strong> Its webhook URL would be \
         <code>{hook}</code>; {why}.</p>\
         <p>{fix} (for instance <code>PUBLIC_URL=https://seamguard.example.org</code>). \
         Developing on this machine? Start a tunnel to it, such as <code>cloudflared tunnel --url \
         http://localhost:{port}</code> or <code>ngrok http {port}</code>, set <code>PUBLIC_URL</code> \
         to the https URL it prints, and open this page again. Behind a TLS proxy, have it send \
         <code>X-Forwarded-Proto</code> and <code>X-Forwarded-Host</code>.</p></div>",
        hook = escape(
            base.join("webhook")
                .map(|u| u.to_string())
                .unwrap_or_default()
                .as_str()
        ),
        why = escape(&why),
        port = state.port,
    )
}

/// The manifest JSON rooted at `base`, or the error page to show.
fn manifest_for(base: &Url) -> Result<String, (StatusCode, Html<String>)> {
    crate::config::manifest::manifest_json(Some(base))
        .map(|m| m.to_string())
        .map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                page(
                    "Setup failed",
                    &format!(
                        "<p>The App manifest could not be built: {}</p>",
                        escape(&e.to_string())
                    ),
                ),
            )
        })
}

async fn index(
    State(state): State<Arc<SetupState>>,
    headers: HeaderMap,
) -> (StatusCode, Html<String>) {
    let base = public_base(&state, &headers);
    let manifest = match manifest_for(&base) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let personal = state
        .web_url
        .join(&format!("settings/apps/new?state={}", state.token))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let body = format!(
        "<p>seamguard has no GitHub App credentials yet. This page registers a new, private GitHub App \
         for it from its manifest, in three steps:</p>{warning}\
         <ol><li>You press a button below; your browser posts seamguard's App manifest to GitHub \
         (name, webhook URL <code>{hook}</code>, and the permissions it needs: checks, contents and \
         pull requests write; statuses, administration and metadata read).</li>\
         <li>GitHub asks you to confirm and create the App, then sends you back here.</li>\
         <li>seamguard exchanges the one-time code for the App's id, private key and webhook secret, \
         saves them to <code>{file}</code> (readable only by this user), and starts serving. Install \
         the App on your repositories from the link it shows.</li></ol>\
         <form action=\"{personal}\" method=\"post\">\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
         <button type=\"submit\">Create the App on my personal account</button></form>\
         <form method=\"get\" action=\"/org\"><label>Or for an organization: \
         <input name=\"org\" required pattern=\"[A-Za-z0-9][A-Za-z0-9-]*\" placeholder=\"my-org\"></label>\
         <button type=\"submit\">Continue</button></form>\
         <p><small>This server's public URL is <code>{base}</code>; set <code>PUBLIC_URL</code> if \
         GitHub must reach it at another address.</small></p>",
        hook = escape(
            base.join("webhook")
                .map(|u| u.to_string())
                .unwrap_or_default()
                .as_str()
        ),
        file = escape(&state.credentials_file.display().to_string()),
        personal = escape(&personal),
        manifest = escape(&manifest),
        base = escape(base.as_str()),
        warning = reachability_warning(&state, &base),
    );
    (StatusCode::OK, page("Register seamguard on GitHub", &body))
}

#[derive(serde::Deserialize)]
struct OrgQuery {
    org: Option<String>,
}

/// Without JavaScript a form cannot put a typed value into its action URL,
/// so the organization's name comes here first and this page holds the
/// form aimed at that organization.
async fn org(
    State(state): State<Arc<SetupState>>,
    headers: HeaderMap,
    Query(q): Query<OrgQuery>,
) -> (StatusCode, Html<String>) {
    let org = q.org.unwrap_or_default();
    let valid = !org.is_empty()
        && org.len() <= 39
        && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !org.starts_with('-');
    if !valid {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Not an organization name",
                "<p>Organization names are letters, digits and hyphens.</p><p><a href=\"/\">Back</a></p>",
            ),
        );
    }
    let base = public_base(&state, &headers);
    let manifest = match manifest_for(&base) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let action = state
        .web_url
        .join(&format!(
            "organizations/{org}/settings/apps/new?state={}",
            state.token
        ))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let body = format!(
        "<p>Register seamguard as a GitHub App owned by the organization <strong>{o}</strong> \
         (you must be one of its owners).</p>{warning}\
         <form action=\"{action}\" method=\"post\">\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
         <button type=\"submit\">Create the App for {o}</button></form><p><a href=\"/\">Back</a></p>",
        o = escape(&org),
        action = escape(&action),
        manifest = escape(&manifest),
        warning = reachability_warning(&state, &base),
    );
    (
        StatusCode::OK,
        page("Register seamguard for an organization", &body),
    )
}

#[derive(serde::Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
}

async fn callback(
    State(state): State<Arc<SetupState>>,
    Query(q): Query<Callback>,
) -> (StatusCode, Html<String>) {
    let bad = |status, title: &str, msg: &str| {
        (
            status,
            page(
                title,
                &format!("<p>{msg}</p><p><a href=\"/\">Start again</a></p>"),
            ),
        )
    };
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 200) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "Missing code",
            "GitHub's callback carries a <code>code</code> parameter; this request had none.",
        );
    };
    if q.state.as_deref() != Some(state.token.as_str()) {
        return bad(
            StatusCode::BAD_REQUEST,
            "Unexpected callback",
            "This callback does not carry the token this server issued. Start the registration from this server's page.",
        );
    }
    if *state.used.lock().unwrap_or_else(|p| p.into_inner()) {
        return bad(
            StatusCode::CONFLICT,
            "Already registered",
            "This setup already created an App; the server is switching to serving it.",
        );
    }
    let conversion = match state.gh.convert_manifest(&code).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "manifest conversion failed");
            let msg = if e.is_status(404) || e.is_status(422) {
                "GitHub did not accept this code: it is unknown, expired (codes last one hour) or was already used. Start again to create the App.".to_owned()
            } else {
                format!(
                    "GitHub could not be reached to finish the registration ({}). Reload this page to try again.",
                    escape(&e.message)
                )
            };
            return bad(StatusCode::BAD_GATEWAY, "Registration not finished", &msg);
        }
    };
    let Some(secret) = conversion.webhook_secret.clone().filter(|s| !s.is_empty()) else {
        return bad(
            StatusCode::BAD_GATEWAY,
            "Registration not finished",
            "GitHub's answer had no webhook secret.",
        );
    };
    let credentials =
        match AppCredentials::from_pem(AppId(conversion.id), conversion.pem.as_bytes()) {
            Ok(c) => c,
            Err(e) => {
                return bad(
                    StatusCode::BAD_GATEWAY,
                    "Registration not finished",
                    &format!("GitHub's key did not load: {}", escape(&e.to_string())),
                );
            }
        };
    let file = CredentialsFile {
        app_id: conversion.id,
        private_key: conversion.pem.clone(),
        webhook_secret: secret.clone(),
        slug: conversion.slug.clone(),
        html_url: conversion.html_url.clone(),
    };
    if let Err(e) = write_private(&state.credentials_file, &file) {
        return bad(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not save the credentials",
            &format!(
                "Writing {} failed: {}",
                escape(&state.credentials_file.display().to_string()),
                escape(&e.to_string())
            ),
        );
    }
    *state.used.lock().unwrap_or_else(|p| p.into_inner()) = true;
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
        .map(|u| format!("<p>Next, <a href=\"{0}/installations/new\">install the App</a> on the repositories it should guard.</p>", escape(u)))
        .unwrap_or_default();
    let body = format!(
        "<p>The GitHub App <strong>{slug}</strong> (id {id}) is registered. Its id, private key and webhook \
         secret are saved in <code>{file}</code> with mode 0600.</p>{install}\
         <p>This server is switching to serving the App now. To start it again later, run:</p>\
         <pre>seamguard serve</pre><p>in this directory (it reads <code>{file}</code>), or set \
         <code>APP_ID</code>, <code>PRIVATE_KEY_PATH</code> and <code>WEBHOOK_SECRET</code>.</p>",
        slug = escape(conversion.slug.as_deref().unwrap_or("seamguard")),
        id = conversion.id,
        file = escape(&state.credentials_file.display().to_string()),
    );
    (StatusCode::OK, page("seamguard is registered", &body))
}

/// Where GitHub sends the browser after someone installs the App (the
/// manifest's `setup_url`), in setup mode and when serving.
pub async fn installed() -> Html<String> {
    page(
        "seamguard is installed",
        "<p>seamguard now guards the repositories you selected. Each pull request gets a \
         <code>seamguard</code> check: conflict markers, merge sources, and the merge gate.</p>\
         <p>Configure it per repository in <code>.github/seamguard.yml</code> (org-wide defaults go in \
         the same path of your organization's <code>.github</code> repository). To have seamguard merge \
         a pull request, add the <code>automerge</code> label, or set <code>merge.mode: always</code>.</p>",
    )
}

/// `/setup/callback` once the App exists: a reused link gets a clear page.
pub async fn already_registered() -> (StatusCode, Html<String>) {
    (
        StatusCode::CONFLICT,
        page(
            "Already registered",
            "<p>This server already has its GitHub App and is serving it. A setup code can be used \
             only once; nothing was changed.</p>",
        ),
    )
}

/// Writes the credentials readable by this user only (0600), atomically.
pub fn write_private(path: &Path, file: &CredentialsFile) -> std::io::Result<()> {
    use std::io::Write;
    let json = serde_json::to_vec_pretty(file)?;
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
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

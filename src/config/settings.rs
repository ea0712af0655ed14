//! Server settings: environment variables, each also a `serve` flag.
//!
//! Names follow Probot's conventions (`APP_ID`, `PRIVATE_KEY_PATH`,
//! `WEBHOOK_SECRET`...) so an App can move over. Everything is checked
//! before the server binds: a missing or invalid setting is one line naming
//! the variable and what is wrong, and exit status 2.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::github::auth::AppCredentials;
use crate::ids::AppId;

/// Where setup mode writes the new App's credentials, and where `serve`
/// reads them when the environment names none.
pub const DEFAULT_CREDENTIALS_FILE: &str = "seamguard-credentials.json";

/// `seamguard serve` flags. Each reads its environment variable too.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// GitHub App id.
    #[arg(long, env = "APP_ID")]
    pub app_id: Option<String>,
    /// Path of the App's PEM private key.
    #[arg(long, env = "PRIVATE_KEY_PATH")]
    pub private_key_path: Option<PathBuf>,
    /// The App's PEM private key itself (instead of a path).
    #[arg(long, env = "PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// Webhook secret; a comma-separated list lets a secret be rotated.
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// REST base URL; GitHub Enterprise Server uses https://HOST/api/v3
    /// [default: https://api.github.com].
    #[arg(long, env = "GITHUB_API_URL", hide_env_values = true)]
    pub github_api_url: Option<String>,
    /// Probot's name: the GitHub Enterprise Server host, for
    /// GITHUB_API_URL=https://HOST/api/v3 (GITHUB_API_URL wins).
    #[arg(long, env = "GHE_HOST", hide_env_values = true)]
    pub ghe_host: Option<String>,
    /// The store (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://seamguard.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Address to bind [default: 0.0.0.0:3000].
    #[arg(long, env = "LISTEN_ADDR")]
    pub listen_addr: Option<String>,
    /// Probot's name: the port to bind, on HOST (LISTEN_ADDR wins).
    #[arg(long, env = "PORT")]
    pub port: Option<String>,
    /// Probot's name: the address to bind, with PORT (LISTEN_ADDR wins).
    #[arg(long, env = "HOST")]
    pub host: Option<String>,
    /// `pretty` or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "pretty")]
    pub log_format: String,
    /// tracing filter, e.g. `info` or `seamguard=debug` [default: info].
    #[arg(long, env = "RUST_LOG")]
    pub rust_log: Option<String>,
    /// Probot's name: trace, debug, info, warn, error or fatal (RUST_LOG wins).
    #[arg(long, env = "LOG_LEVEL")]
    pub log_level: Option<String>,
    /// This server's public URL (setup mode builds the App manifest with it).
    #[arg(long, env = "PUBLIC_URL", hide_env_values = true)]
    pub public_url: Option<String>,
    /// Probot's name: a webhook proxy channel (smee.io's protocol, e.g.
    /// https://smee.io/<channel>) to receive deliveries through when GitHub
    /// cannot reach this server; setup mode registers it as the webhook URL.
    #[arg(long, env = "WEBHOOK_PROXY_URL", hide_env_values = true)]
    pub webhook_proxy_url: Option<String>,
    /// Bearer token for the operator page /status; unset: no such page.
    #[arg(long, env = "STATUS_TOKEN", hide_env_values = true)]
    pub status_token: Option<String>,
    /// Bearer token for /metrics; unset: /metrics is open (bind it to a
    /// private address).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Credentials file written by setup mode, read when APP_ID is unset.
    #[arg(long, env = "CREDENTIALS_FILE", default_value = DEFAULT_CREDENTIALS_FILE)]
    pub credentials_file: PathBuf,
    /// Evaluations running at once.
    #[arg(long, env = "WORKERS", default_value_t = 8)]
    pub workers: usize,
    /// How long processed deliveries are kept (deduplication window).
    #[arg(long, env = "DELIVERY_RETENTION", default_value = "7d")]
    pub delivery_retention: String,
    /// How often the missed-webhook sweep runs (0 disables it).
    #[arg(long, env = "REDELIVERY_INTERVAL", default_value = "5m")]
    pub redelivery_interval: String,
    /// How often PRs waiting on checks are re-evaluated (0 disables it).
    #[arg(long, env = "RECONCILE_INTERVAL", default_value = "10m")]
    pub reconcile_interval: String,
    /// First backoff step of GitHub call retries.
    #[arg(long, env = "GITHUB_RETRY_BASE", default_value = "1s")]
    pub github_retry_base: String,
    /// First backoff step between merge attempts on pending wording.
    #[arg(long, env = "MERGE_RETRY_BASE", default_value = "15s")]
    pub merge_retry_base: String,
    /// How long in-flight work may run after SIGTERM before exit.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "20s")]
    pub shutdown_grace: String,
    /// A claimed work item's lease, renewed while it runs: when a replica
    /// dies, another takes its work this long after its last renewal.
    #[arg(long, env = "WORK_LEASE", default_value = "60s")]
    pub work_lease: String,
    /// The GitHub budget governor: `on` keeps each installation inside
    /// GitHub's primary and secondary rate limits; `off` only for comparison.
    #[arg(long, env = "GITHUB_GOVERNOR", default_value = "on")]
    pub github_governor: String,
    /// GitHub's rate limits where they differ from GitHub.com's (an
    /// Enterprise Server's own): `key=value,…` of `rest_points`,
    /// `graphql_points`, `content_minute`, `content_hour`, `concurrency`,
    /// and `replicas` (how many share an installation's concurrency).
    #[arg(long, env = "GITHUB_RATE_LIMITS", default_value = "")]
    pub github_rate_limits: String,
    /// How long the work of a finished check, status or deployment waits
    /// for the rest of its burst, from the first of them (0 disables).
    #[arg(long, env = "CHECK_SETTLE", default_value = "1s")]
    pub check_settle: String,
}

/// Renewal runs at a third of the lease; below a second the renewals
/// themselves would be most of the store's traffic.
const MIN_WORK_LEASE: Duration = Duration::from_secs(1);

/// A `/status` or `/metrics` token shorter than this is refused: it is a
/// password reachable from the internet.
const MIN_STATUS_TOKEN: usize = 16;

/// A setting that is missing or invalid: the variable and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct SettingError {
    pub var: &'static str,
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> SettingError {
    SettingError {
        var,
        problem: problem.into(),
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A webhook secret; never printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Intervals and limits of the running server.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub workers: usize,
    pub delivery_retention: Duration,
    pub redelivery_interval: Option<Duration>,
    pub reconcile_interval: Option<Duration>,
    pub github_retry_base: Duration,
    pub merge_retry_base: Duration,
    pub shutdown_grace: Duration,
    pub work_lease: Duration,
    /// GitHub's limits the budget governor keeps under, and whether it runs.
    pub github_limits: crate::github::budget::Limits,
    /// How long work caused by a finished check waits for the rest of its
    /// burst (`CHECK_SETTLE`, already on the replay clock of
    /// `GITHUB_RATE_LIMITS`' `speed`); zero runs it at once.
    pub check_settle: Duration,
}

/// The App's credentials once validated.
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub credentials: AppCredentials,
    pub webhook_secrets: Vec<Secret>,
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None`: no credentials anywhere, so the server starts in setup mode.
    pub app: Option<AppSettings>,
    pub api_url: Url,
    pub database_url: String,
    pub listen_addr: SocketAddr,
    pub log_format: LogFormat,
    pub rust_log: String,
    pub public_url: Option<Url>,
    /// `WEBHOOK_PROXY_URL`: the channel deliveries come through as well as
    /// `POST /webhook` (`server::proxy`).
    pub webhook_proxy_url: Option<Url>,
    /// `STATUS_TOKEN`: the bearer token `/status` answers; `None`, no page.
    pub status_token: Option<Secret>,
    /// `METRICS_TOKEN`: the bearer token `/metrics` asks for; `None`, open.
    pub metrics_token: Option<Secret>,
    pub credentials_file: PathBuf,
    pub tuning: Tuning,
}

/// What setup mode writes and `serve` reads back.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CredentialsFile {
    pub app_id: u64,
    pub private_key: String,
    pub webhook_secret: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn duration(var: &'static str, text: &str) -> Result<Duration, SettingError> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        bad(
            var,
            format!("expected a duration like 30s or 5m, got {text:?}: {e}"),
        )
    })
}

fn optional_interval(var: &'static str, text: &str) -> Result<Option<Duration>, SettingError> {
    let d = if text.trim() == "0" {
        Duration::ZERO
    } else {
        duration(var, text)?
    };
    Ok((!d.is_zero()).then_some(d))
}

/// Parses an http(s) URL, naming the variable when it is not one.
pub fn http_url(var: &'static str, text: &str) -> Result<Url, SettingError> {
    let url =
        Url::parse(text.trim()).map_err(|e| bad(var, format!("not a URL ({e}): {text:?}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(var, format!("expected an http(s) URL, got {text:?}")));
    }
    Ok(url)
}

/// What a redacted secret reads as.
const REDACTED: &str = "***";

/// Names of URL query parameters that carry a secret (PostgreSQL's
/// `?password=`, tokens in a proxy URL).
const SECRET_PARAMS: &[&str] = &["password", "sslpassword", "token", "secret", "key"];

/// `text` with the password of every URL in it replaced by `***`
/// (`postgres://seamguard:***@db/seamguard`), and the values of query
/// parameters named like a secret too. Whatever seamguard shows of a
/// setting or of an error that may quote one passes through here: a
/// password is never printed, logged or rendered.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The URL runs to the first character no URL holds unescaped.
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        out.push_str(&redact_url_rest(url));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Redacts one URL after its `scheme://`: the password of its userinfo
/// and secret-named query values.
fn redact_url_rest(url: &str) -> String {
    let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, path) = url.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let (path, fragment) = match path.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (path, None),
    };
    let path = match path.split_once('?') {
        Some((p, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _))
                        if SECRET_PARAMS
                            .iter()
                            .any(|s| k.to_ascii_lowercase().contains(s)) =>
                    {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{p}?{}", query.join("&"))
        }
        None => path.to_owned(),
    };
    match fragment {
        Some(f) => format!("{authority}{path}#{f}"),
        None => format!("{authority}{path}"),
    }
}

/// GitHub's REST root when no setting names another.
const DEFAULT_API_URL: &str = "https://api.github.com";

/// Where `serve` listens when no setting says: every interface, Probot's port.
const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:3000";

/// Where setup mode listens when no setting says: this machine only. The
/// person registering the App is at its console; nobody else should reach
/// the setup pages unless `LISTEN_ADDR`, `HOST` or `PUBLIC_URL` ask for it.
const SETUP_HOST: &str = "127.0.0.1";

/// Probot's default port, used with `HOST` alone.
const DEFAULT_PORT: &str = "3000";

impl ServeArgs {
    /// The REST root: `GITHUB_API_URL`, else Probot's `GHE_HOST`, else github.com.
    fn api_url(&self) -> Result<Url, SettingError> {
        if let Some(url) = non_empty(&self.github_api_url) {
            return http_url("GITHUB_API_URL", url);
        }
        match non_empty(&self.ghe_host) {
            Some(host) if host.contains("://") => http_url("GHE_HOST", &format!("{host}/api/v3")),
            Some(host) => http_url("GHE_HOST", &format!("https://{host}/api/v3")),
            None => http_url("GITHUB_API_URL", DEFAULT_API_URL),
        }
    }

    /// The bind address: `LISTEN_ADDR`, else Probot's `HOST` and `PORT`;
    /// with none of them, every interface, or loopback for setup mode
    /// (`setup`) unless `PUBLIC_URL` says GitHub reaches it from outside.
    fn listen_addr(&self, setup: bool) -> Result<SocketAddr, SettingError> {
        let loopback = setup && non_empty(&self.public_url).is_none();
        let (var, text) = match (
            non_empty(&self.listen_addr),
            non_empty(&self.host),
            non_empty(&self.port),
        ) {
            (Some(addr), _, _) => ("LISTEN_ADDR", addr.to_owned()),
            (None, None, None) if !loopback => ("LISTEN_ADDR", DEFAULT_LISTEN_ADDR.to_owned()),
            (None, host, port) => {
                let port = port.unwrap_or(DEFAULT_PORT);
                if port.parse::<u16>().is_err() {
                    return Err(bad("PORT", format!("expected a port number, got {port:?}")));
                }
                let host = host.unwrap_or(if loopback { SETUP_HOST } else { "0.0.0.0" });
                let host = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]")
                } else {
                    host.to_owned()
                };
                ("HOST", format!("{host}:{port}"))
            }
        };
        text.parse().map_err(|_| {
            bad(
                var,
                match var {
                    "HOST" => format!("expected an IP address like 0.0.0.0, got {text:?}"),
                    _ => format!("expected HOST:PORT like 0.0.0.0:3000, got {text:?}"),
                },
            )
        })
    }

    /// The tracing filter: `RUST_LOG`, else Probot's `LOG_LEVEL`, else `info`.
    fn rust_log(&self) -> Result<String, SettingError> {
        if let Some(filter) = non_empty(&self.rust_log) {
            tracing_subscriber::EnvFilter::try_new(filter)
                .map_err(|e| bad("RUST_LOG", format!("not a tracing filter: {e}")))?;
            return Ok(filter.to_owned());
        }
        match non_empty(&self.log_level)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok("info".to_owned()),
            Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => Ok(level.to_owned()),
            Some("fatal") => Ok("error".to_owned()),
            Some(other) => Err(bad(
                "LOG_LEVEL",
                format!("expected trace, debug, info, warn, error or fatal, got {other:?}"),
            )),
        }
    }

    /// Checks every setting; the first problem is the error.
    pub fn validate(&self) -> Result<Settings, SettingError> {
        let api_url = self.api_url()?;
        let app = self.app_settings()?;
        let listen_addr = self.listen_addr(app.is_none())?;
        let log_format = match self.log_format.trim() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("expected pretty or json, got {other:?}"),
                ));
            }
        };
        let rust_log = self.rust_log()?;
        let url = &self.database_url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                format!(
                    "expected sqlite://PATH (one process) or postgres://… (several replicas), got {:?}",
                    redact(url)
                ),
            ));
        }
        let work_lease = duration("WORK_LEASE", &self.work_lease)?;
        if work_lease < MIN_WORK_LEASE {
            return Err(bad(
                "WORK_LEASE",
                format!(
                    "must be at least {}",
                    humantime::format_duration(MIN_WORK_LEASE)
                ),
            ));
        }
        let public_url = non_empty(&self.public_url)
            .map(|u| http_url("PUBLIC_URL", u))
            .transpose()?;
        let webhook_proxy_url = non_empty(&self.webhook_proxy_url)
            .map(|u| http_url("WEBHOOK_PROXY_URL", u))
            .transpose()?;
        if self.workers == 0 {
            return Err(bad("WORKERS", "must be at least 1"));
        }
        let mut github_limits = crate::github::budget::Limits::parse(&self.github_rate_limits)
            .map_err(|e| bad("GITHUB_RATE_LIMITS", e))?;
        github_limits.enabled = match self.github_governor.trim() {
            "on" => true,
            "off" => false,
            other => {
                return Err(bad(
                    "GITHUB_GOVERNOR",
                    format!("expected on or off, got {other:?}"),
                ));
            }
        };
        let check_settle = optional_interval("CHECK_SETTLE", &self.check_settle)?
            .map(|d| d.div_f64(github_limits.speed))
            .unwrap_or_default();
        let status_token = bearer_token("STATUS_TOKEN", "/status", &self.status_token)?;
        let metrics_token = bearer_token("METRICS_TOKEN", "/metrics", &self.metrics_token)?;
        let tuning = Tuning {
            workers: self.workers,
            delivery_retention: duration("DELIVERY_RETENTION", &self.delivery_retention)?,
            redelivery_interval: optional_interval(
                "REDELIVERY_INTERVAL",
                &self.redelivery_interval,
            )?,
            reconcile_interval: optional_interval("RECONCILE_INTERVAL", &self.reconcile_interval)?,
            github_retry_base: duration("GITHUB_RETRY_BASE", &self.github_retry_base)?,
            merge_retry_base: duration("MERGE_RETRY_BASE", &self.merge_retry_base)?,
            shutdown_grace: duration("SHUTDOWN_GRACE", &self.shutdown_grace)?,
            work_lease,
            github_limits,
            check_settle,
        };
        Ok(Settings {
            app,
            api_url,
            database_url: self.database_url.clone(),
            listen_addr,
            log_format,
            rust_log,
            public_url,
            webhook_proxy_url,
            status_token,
            metrics_token,
            credentials_file: self.credentials_file.clone(),
            tuning,
        })
    }

    /// The App's credentials from the environment, else from the
    /// credentials file setup mode wrote, else `None` (setup mode).
    fn app_settings(&self) -> Result<Option<AppSettings>, SettingError> {
        let app_id = non_empty(&self.app_id);
        let key_inline = non_empty(&self.private_key);
        let secret = non_empty(&self.webhook_secret);
        let any = app_id.is_some()
            || key_inline.is_some()
            || self.private_key_path.is_some()
            || secret.is_some();
        if !any {
            return self.credentials_from_file();
        }
        let app_id = app_id.ok_or_else(|| bad("APP_ID", "missing (the GitHub App's id)"))?;
        let app_id: u64 = app_id.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
            bad(
                "APP_ID",
                format!("expected a positive integer, got {app_id:?}"),
            )
        })?;
        let (pem, var) = match (&self.private_key_path, key_inline) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "PRIVATE_KEY",
                    "and PRIVATE_KEY_PATH are both set; keep one (the key itself, or the path of its file)",
                ));
            }
            (Some(path), None) => {
                let pem = std::fs::read(path).map_err(|e| {
                    bad(
                        "PRIVATE_KEY_PATH",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                (pem, "PRIVATE_KEY_PATH")
            }
            (None, Some(inline)) => (inline_pem(inline)?, "PRIVATE_KEY"),
            (None, None) => {
                return Err(bad(
                    "PRIVATE_KEY_PATH",
                    "missing: set PRIVATE_KEY_PATH (a PEM file) or PRIVATE_KEY (its contents)",
                ));
            }
        };
        let credentials =
            AppCredentials::from_pem(AppId(app_id), &pem).map_err(|e| bad(var, e.to_string()))?;
        let secret =
            secret.ok_or_else(|| bad("WEBHOOK_SECRET", "missing (the App's webhook secret)"))?;
        Ok(Some(AppSettings {
            credentials,
            webhook_secrets: parse_secrets(secret)?,
        }))
    }

    fn credentials_from_file(&self) -> Result<Option<AppSettings>, SettingError> {
        const VAR: &str = "CREDENTIALS_FILE";
        let text = match std::fs::read_to_string(&self.credentials_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(bad(
                    VAR,
                    format!("cannot read {}: {e}", self.credentials_file.display()),
                ));
            }
        };
        let file: CredentialsFile = serde_json::from_str(&text).map_err(|e| {
            bad(
                VAR,
                format!(
                    "{} is not a credentials file: {e}",
                    self.credentials_file.display()
                ),
            )
        })?;
        let credentials = AppCredentials::from_pem(AppId(file.app_id), file.private_key.as_bytes())
            .map_err(|e| bad(VAR, e.to_string()))?;
        Ok(Some(AppSettings {
            credentials,
            webhook_secrets: parse_secrets(&file.webhook_secret)?,
        }))
    }
}

/// An optional bearer token guarding `page`: unset is `None`; set, it must
/// be long enough to be a password.
fn bearer_token(
    var: &'static str,
    page: &str,
    value: &Option<String>,
) -> Result<Option<Secret>, SettingError> {
    match non_empty(value) {
        Some(t) if t.len() < MIN_STATUS_TOKEN => Err(bad(
            var,
            format!("must be at least {MIN_STATUS_TOKEN} characters (it guards {page})"),
        )),
        Some(t) => Ok(Some(Secret::new(t.as_bytes().to_vec()))),
        None => Ok(None),
    }
}

/// The PEM of an inline `PRIVATE_KEY`: the PEM itself (environments that
/// cannot hold newlines often carry `\n`), or, as Probot accepts, the PEM
/// base64-encoded.
fn inline_pem(inline: &str) -> Result<Vec<u8>, SettingError> {
    if inline.contains("-----BEGIN") {
        return Ok(inline.replace("\\n", "\n").into_bytes());
    }
    use base64::Engine as _;
    let compact: String = inline.split_whitespace().collect();
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        Ok(pem) if pem.starts_with(b"-----BEGIN") => Ok(pem),
        _ => Err(bad(
            "PRIVATE_KEY",
            "neither a PEM key (-----BEGIN …) nor a base64-encoded one",
        )),
    }
}

/// `a,b` → two secrets (rotation); empty items are an error, not ignored.
fn parse_secrets(text: &str) -> Result<Vec<Secret>, SettingError> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad(
            "WEBHOOK_SECRET",
            "holds an empty secret (check the commas)",
        ));
    }
    Ok(parts
        .into_iter()
        .map(|p| Secret::new(p.as_bytes()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn args(flags: &[&str]) -> ServeArgs {
        let mut argv = vec![
            "serve",
            "--credentials-file",
            "/nonexistent/seamguard-credentials.json",
        ];
        argv.extend_from_slice(flags);
        Harness::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn no_credentials_at_all_means_setup_mode_on_loopback() {
        let s = args(&[]).validate().unwrap();
        assert!(s.app.is_none());
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.api_url.as_str(), "https://api.github.com/");
        // Unless a setting says where to listen or that GitHub reaches it.
        let s = args(&["--port", "8080"]).validate().unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:8080");
        let s = args(&["--listen-addr", "0.0.0.0:3000"]).validate().unwrap();
        assert_eq!(s.listen_addr.to_string(), "0.0.0.0:3000");
        let s = args(&["--public-url", "https://guard.example.org"])
            .validate()
            .unwrap();
        assert_eq!(s.listen_addr.to_string(), "0.0.0.0:3000");
    }

    #[test]
    fn each_problem_names_its_variable() {
        let cases: &[(&[&str], &str)] = &[
            (&["--app-id", "12"], "PRIVATE_KEY_PATH"),
            (&["--app-id", "x", "--webhook-secret", "s"], "APP_ID"),
            (&["--webhook-secret", "s"], "APP_ID"),
            (
                &["--app-id", "1", "--private-key-path", "/nonexistent.pem"],
                "PRIVATE_KEY_PATH",
            ),
            (
                &["--app-id", "1", "--private-key", "not a key"],
                "PRIVATE_KEY",
            ),
            (&["--github-api-url", "not a url"], "GITHUB_API_URL"),
            (&["--github-api-url", "ftp://x"], "GITHUB_API_URL"),
            (&["--webhook-proxy-url", "smee.io/abc"], "WEBHOOK_PROXY_URL"),
            (&["--listen-addr", "localhost"], "LISTEN_ADDR"),
            (&["--log-format", "xml"], "LOG_FORMAT"),
            (&["--database-url", "mysql://x"], "DATABASE_URL"),
            (&["--work-lease", "10ms"], "WORK_LEASE"),
            (&["--check-settle", "soon"], "CHECK_SETTLE"),
            (&["--merge-retry-base", "soon"], "MERGE_RETRY_BASE"),
            (&["--port", "http"], "PORT"),
            (&["--host", "localhost"], "HOST"),
            (&["--log-level", "loud"], "LOG_LEVEL"),
            (
                &[
                    "--app-id",
                    "1",
                    "--private-key",
                    "x",
                    "--private-key-path",
                    "/k.pem",
                ],
                "PRIVATE_KEY",
            ),
        ];
        for (flags, var) in cases {
            let err = args(flags).validate().unwrap_err();
            assert_eq!(err.var, *var, "{flags:?}: {err}");
        }
    }

    #[test]
    fn the_check_settle_runs_on_the_replay_clock_and_zero_turns_it_off() {
        let settle = |flags: &[&str]| args(flags).validate().unwrap().tuning.check_settle;
        assert_eq!(settle(&[]), Duration::from_secs(1));
        assert_eq!(settle(&["--check-settle", "0"]), Duration::ZERO);
        assert_eq!(
            settle(&["--check-settle", "1s", "--github-rate-limits", "speed=120"]),
            Duration::from_secs(1).div_f64(120.0)
        );
    }

    #[test]
    fn probot_names_are_aliases_and_seamguard_names_win() {
        let s = args(&["--port", "8080"]).validate().unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:8080", "setup mode");
        let s = args(&["--host", "127.0.0.1", "--port", "9"])
            .validate()
            .unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:9");
        let s = args(&["--host", "::1"]).validate().unwrap();
        assert_eq!(s.listen_addr.to_string(), "[::1]:3000");
        let s = args(&["--listen-addr", "127.0.0.1:1", "--port", "2"])
            .validate()
            .unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:1");

        let s = args(&["--log-level", "FATAL"]).validate().unwrap();
        assert_eq!(s.rust_log, "error");
        let s = args(&["--log-level", "debug", "--rust-log", "seamguard=trace"])
            .validate()
            .unwrap();
        assert_eq!(s.rust_log, "seamguard=trace");

        let s = args(&["--ghe-host", "github.acme.com"]).validate().unwrap();
        assert_eq!(s.api_url.as_str(), "https://github.acme.com/api/v3");
        let s = args(&[
            "--ghe-host",
            "x.dev",
            "--github-api-url",
            "https://y.dev/api/v3",
        ])
        .validate()
        .unwrap();
        assert_eq!(s.api_url.as_str(), "https://y.dev/api/v3");
    }

    #[test]
    fn an_inline_key_may_be_base64_encoded() {
        use base64::Engine as _;
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(pem);
        assert_eq!(inline_pem(&encoded).unwrap(), pem.as_bytes());
        assert_eq!(
            inline_pem(&pem.replace('\n', "\\n")).unwrap(),
            pem.as_bytes()
        );
        assert_eq!(inline_pem("bm9wZQ==").unwrap_err().var, "PRIVATE_KEY");
    }

    #[test]
    fn secrets_rotate_and_are_never_printed() {
        let secrets = parse_secrets("old, new").unwrap();
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[1].expose(), b"new");
        assert!(!format!("{secrets:?}").contains("new"));
        assert!(parse_secrets("a,,b").is_err());
    }

    #[test]
    fn passwords_in_urls_are_never_shown() {
        assert_eq!(
            redact("DATABASE_URL: cannot open postgres://seamguard:hunter2@db:5432/sg: refused"),
            "DATABASE_URL: cannot open postgres://seamguard:***@db:5432/sg: refused"
        );
        assert_eq!(
            redact("\"postgresql://u:p@ss:w@h/d?sslmode=require&password=x#f\" and https://a:b@c/"),
            "\"postgresql://u:***@h/d?sslmode=require&password=***#f\" and https://a:***@c/"
        );
        for plain in [
            "sqlite://seamguard.db",
            "sqlite:///var/lib/seamguard/seamguard.db",
            "postgres://seamguard@db/sg",
            "https://api.github.com/",
            "no url at all",
        ] {
            assert_eq!(redact(plain), plain);
        }
        let e = args(&["--database-url", "mysql://root:hunter2@db/x"])
            .validate()
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn a_status_token_is_optional_and_never_short() {
        assert!(args(&[]).validate().unwrap().status_token.is_none());
        let s = args(&["--status-token", "0123456789abcdef-long"])
            .validate()
            .unwrap();
        assert_eq!(s.status_token.unwrap().expose(), b"0123456789abcdef-long");
        let e = args(&["--status-token", "short"]).validate().unwrap_err();
        assert_eq!(e.var, "STATUS_TOKEN");
        assert!(args(&[]).validate().unwrap().metrics_token.is_none());
        let e = args(&["--metrics-token", "short"]).validate().unwrap_err();
        assert_eq!(e.var, "METRICS_TOKEN");
    }
}

//! `seamguard doctor`: is this deployment able to work?
//!
//! It reads the same settings as `serve` and checks, against GitHub and the
//! store, what a first deployment usually gets wrong: a key that does not
//! load or is not the App's, an App missing a permission an event needs
//! (`merge_queues` for `merge_group`), an installation whose owner has not
//! accepted a new permission, a webhook URL GitHub cannot reach, a store
//! that does not open, a `PUBLIC_URL` that is missing or not https.
//!
//! Each check prints one line: `✓` and what was found, or `✗`, what is
//! wrong and the fix. Every check runs even after one fails, so one run
//! lists every problem. Exit 0: all good; 1: a problem; 2: the checks could
//! not run (no credentials at all, or no runtime).

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;

use crate::config::manifest::{self, Needs};
use crate::config::settings::{ServeArgs, Settings, redact};
use crate::github::{ClientConfig, GhError, GitHub, RetryPolicy, Timeouts};
use crate::ids::InstallationId;
use crate::store::{Store, StoreOptions};

/// Everything checked out.
const EXIT_GOOD: u8 = 0;
/// At least one check failed.
const EXIT_PROBLEM: u8 = 1;
/// The checks could not run.
const EXIT_CANNOT_RUN: u8 = 2;

/// A doctor waits for GitHub less than a server does: two quick retries
/// ride out a blink, and an operator at a prompt learns of an outage in
/// seconds, not minutes.
fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        max_retries: 2,
        max_total: Duration::from_secs(5),
        max_inline_wait: Duration::from_secs(5),
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    /// What was found (✓) or what is wrong (✗).
    pub said: String,
    /// How to fix it (✗ only).
    pub fix: Option<String>,
}

impl Check {
    fn good(said: impl Into<String>) -> Self {
        Self {
            ok: true,
            said: said.into(),
            fix: None,
        }
    }

    fn bad(said: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            ok: false,
            said: said.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fix {
            None => write!(f, "✓ {}", self.said),
            Some(fix) => write!(f, "✗ {} — fix: {fix}", self.said),
        }
    }
}

/// `seamguard doctor`.
pub fn run(args: ServeArgs) -> ExitCode {
    let settings = match args.validate() {
        Ok(settings) => settings,
        Err(e) => {
            let fix = match e.var {
                "PRIVATE_KEY" | "PRIVATE_KEY_PATH" | "CREDENTIALS_FILE" => {
                    "give the App's private key as downloaded from its settings page (PEM), \
                     in PRIVATE_KEY_PATH or PRIVATE_KEY"
                }
                _ => "correct that setting; `seamguard serve --help` lists each",
            };
            println!(
                "{}",
                redact(&Check::bad(format!("settings: {e}"), fix).to_string())
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seamguard: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    let Some(checks) = runtime.block_on(checks(&settings, &mut |c| {
        println!("{}", redact(&c.to_string()))
    })) else {
        return ExitCode::from(EXIT_CANNOT_RUN);
    };
    if checks.iter().all(|c| c.ok) {
        ExitCode::from(EXIT_GOOD)
    } else {
        ExitCode::from(EXIT_PROBLEM)
    }
}

/// Runs every check, handing each to `out` as it completes; `None` when
/// there is nothing to check (no App credentials at all).
pub async fn checks(settings: &Settings, out: &mut dyn FnMut(&Check)) -> Option<Vec<Check>> {
    let mut all = Vec::new();
    let mut say = |check: Check, all: &mut Vec<Check>| {
        out(&check);
        all.push(check);
    };
    let Some(app) = &settings.app else {
        say(
            Check::bad(
                "no App credentials: APP_ID, PRIVATE_KEY_PATH and WEBHOOK_SECRET are unset and \
                 there is no credentials file",
                "run `seamguard serve` once to register the App from its manifest, or set them",
            ),
            &mut all,
        );
        return None;
    };
    let credentials = &app.credentials;
    say(
        match credentials.jwt(Utc::now()) {
            Ok(_) => Check::good(format!(
                "the private key loads and signs an App JWT (App id {})",
                credentials.app_id()
            )),
            Err(e) => Check::bad(
                format!("the private key does not sign: {e}"),
                "download a new private key from the App's settings page",
            ),
        },
        &mut all,
    );
    let gh = GitHub::new(
        ClientConfig {
            api_url: settings.api_url.clone(),
            retry: retry_policy(),
            timeouts: Timeouts::default(),
        },
        Some(credentials.clone()),
    );
    match gh {
        Ok(gh) => {
            for check in github_checks(&gh, settings).await {
                say(check, &mut all);
            }
        }
        Err(e) => say(
            Check::bad(
                format!("no HTTP client for GitHub: {e:#}"),
                "check GITHUB_API_URL",
            ),
            &mut all,
        ),
    }
    say(store_check(&settings.database_url).await, &mut all);
    say(public_url_check(settings), &mut all);
    Some(all)
}

/// GitHub's refusal or failure, worded for the check that needed the call.
fn unreachable(what: &str, e: &GhError, settings: &Settings) -> Check {
    if e.is_status(401) {
        return Check::bad(
            format!(
                "GitHub refused the App's JWT for {what} (401: {})",
                e.message
            ),
            "the key is not this App's, or APP_ID is wrong: download a new private key from the \
             App's settings page and check APP_ID there",
        );
    }
    Check::bad(
        format!(
            "GitHub at {} did not answer {what}: {}",
            settings.api_url, e.message
        ),
        "check GITHUB_API_URL and this machine's connection to it",
    )
}

async fn github_checks(gh: &GitHub, settings: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    let app = match gh.app_info().await {
        Ok(app) => app,
        Err(e) => {
            checks.push(unreachable("GET /app", &e, settings));
            return checks;
        }
    };
    let owner = app.owner.as_ref().map(|o| o.login.as_str()).unwrap_or("?");
    let slug = app.slug.clone().unwrap_or_else(|| app.name.clone());
    checks.push(Check::good(format!(
        "GitHub accepts the App's JWT: App `{slug}` (id {}), owned by {owner}",
        app.id
    )));
    let settings_page = app
        .html_url
        .clone()
        .unwrap_or_else(|| format!("the settings page of App `{slug}`"));
    let needs = match manifest::needs() {
        Ok(needs) => needs,
        Err(e) => {
            checks.push(Check::bad(
                format!("the built-in manifest does not read: {e:#}"),
                "this is a bug in seamguard; report it",
            ));
            return checks;
        }
    };
    checks.push(app_permissions_check(
        &needs,
        &app.permissions,
        &settings_page,
    ));
    checks.push(app_events_check(&needs, &app.events, &settings_page));
    match gh.app_installations().await {
        Ok(installations) if installations.is_empty() => checks.push(Check::bad(
            format!("App `{slug}` is installed nowhere, so it receives no events"),
            format!("install it on the repositories to guard: {settings_page}/installations/new"),
        )),
        Ok(installations) => {
            for inst in installations {
                checks.push(installation_check(gh, &needs, &inst).await);
            }
        }
        Err(e) => checks.push(unreachable("GET /app/installations", &e, settings)),
    }
    match gh.app_hook_config().await {
        Ok(hook) => checks.extend(hook_checks(&hook, &settings_page)),
        Err(e) => checks.push(unreachable("GET /app/hook/config", &e, settings)),
    }
    checks
}

fn app_permissions_check(needs: &Needs, granted: &serde_json::Value, page: &str) -> Check {
    let missing = manifest::missing_permissions(needs, granted);
    if missing.is_empty() {
        return Check::good("the App has every permission seamguard needs");
    }
    Check::bad(
        format!("the App lacks the permission {}", missing.join(", ")),
        format!(
            "grant it under \"Permissions & events\" at {page}; each installation's owner then \
             accepts the change"
        ),
    )
}

fn app_events_check(needs: &Needs, events: &[String], page: &str) -> Check {
    let missing: Vec<&str> = needs
        .events
        .iter()
        .filter(|e| !events.contains(e))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Check::good("the App is subscribed to every event seamguard reads");
    }
    Check::bad(
        format!(
            "the App is not subscribed to the event {}",
            missing.join(", ")
        ),
        format!("tick it under \"Permissions & events\" → \"Subscribe to events\" at {page}"),
    )
}

async fn installation_check(
    gh: &GitHub,
    needs: &Needs,
    inst: &crate::github::models::InstallationInfo,
) -> Check {
    // GitHub may leave the account out (`null`): then the installation is
    // named by its id alone.
    let account = inst.account.as_ref().map(|a| a.login.as_str());
    let name = match account {
        Some(login) => format!("installation {} ({login})", inst.id),
        None => format!("installation {}", inst.id),
    };
    let owner = account.map_or_else(
        || "an owner of the installation's account".to_owned(),
        |login| format!("an owner of {login}"),
    );
    let approve = inst
        .html_url
        .clone()
        .unwrap_or_else(|| format!("the settings of installation {}", inst.id));
    if inst.suspended_at.is_some() {
        return Check::bad(
            format!("{name} is suspended"),
            format!("unsuspend it at {approve}"),
        );
    }
    let repos = match gh
        .installation(InstallationId(inst.id))
        .repository_count()
        .await
    {
        Ok(n) => format!("{n} repositor{}", if n == 1 { "y" } else { "ies" }),
        Err(e) => format!("repositories unknown ({})", e.message),
    };
    let missing = manifest::missing_permissions(needs, &inst.permissions);
    if missing.is_empty() {
        Check::good(format!("{name}: {repos}, every permission accepted"))
    } else {
        Check::bad(
            format!(
                "{name}: {repos}, has not accepted the permission {}",
                missing.join(", ")
            ),
            format!("{owner} approves the App's new permissions at {approve}"),
        )
    }
}

fn hook_checks(hook: &crate::github::models::HookConfig, page: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let fix_url = format!(
        "set the Webhook URL at {page} to this server's public https URL followed by /webhook"
    );
    checks.push(match hook.url.as_deref().map(url::Url::parse) {
        None | Some(Err(_)) => Check::bad("the App has no webhook URL", fix_url),
        Some(Ok(url)) => match manifest::not_public(&url) {
            Some(why) => Check::bad(format!("webhook URL {url}: {why}"), fix_url),
            None if url.scheme() != "https" => Check::bad(
                format!("webhook URL {url} is not https: deliveries and their signatures travel in the clear"),
                fix_url,
            ),
            None => Check::good(format!("webhook URL {url} is public")),
        },
    });
    checks.push(match hook.content_type.as_deref() {
        Some("json") => Check::good("webhook content type is json"),
        other => Check::bad(
            format!(
                "webhook content type is {}, and seamguard reads JSON bodies only",
                other.unwrap_or("unset")
            ),
            format!("choose application/json as the webhook's content type at {page}"),
        ),
    });
    checks.push(match hook.secret.as_deref() {
        Some(s) if !s.is_empty() => Check::good("webhook secret is set"),
        _ => Check::bad(
            "the App's webhook has no secret, so no delivery can be verified",
            format!("set a webhook secret at {page} and the same value in WEBHOOK_SECRET"),
        ),
    });
    checks
}

async fn store_check(database_url: &str) -> Check {
    // Shown without its password; errors may quote the URL too.
    let shown = redact(database_url);
    match Store::open(database_url, StoreOptions::default()).await {
        Ok(store) => match store.ping().await {
            Ok(()) => Check::good(format!("the store {shown} opens and is migrated")),
            Err(e) => Check::bad(
                redact(&format!(
                    "the store {shown} opened but does not answer: {e}"
                )),
                "check DATABASE_URL and the database's health",
            ),
        },
        Err(e) => Check::bad(
            redact(&format!("the store {shown} cannot be opened: {e}")),
            "check DATABASE_URL: for sqlite, the directory must be writable by this user",
        ),
    }
}

fn public_url_check(settings: &Settings) -> Check {
    let Some(url) = &settings.public_url else {
        if let Some(proxy) = &settings.webhook_proxy_url {
            // The first hour's set-up: GitHub delivers to the proxy.
            return Check::good(format!(
                "PUBLIC_URL is not set; deliveries come through the webhook proxy {proxy} \
                 (check runs get no details link until PUBLIC_URL is set)"
            ));
        }
        return Check::bad(
            "PUBLIC_URL is not set: check runs get no details link and setup guesses the address",
            "set PUBLIC_URL to this server's public https URL",
        );
    };
    if let Some(why) = manifest::not_public(url) {
        return Check::bad(
            format!("PUBLIC_URL {url}: {why}"),
            "set PUBLIC_URL to the https URL GitHub and browsers reach this server at",
        );
    }
    if url.scheme() != "https" {
        return Check::bad(
            format!("PUBLIC_URL {url} is not https"),
            "serve seamguard behind TLS and set PUBLIC_URL to its https URL",
        );
    }
    Check::good(format!("PUBLIC_URL {url} is public and https"))
}

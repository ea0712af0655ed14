//! The pages people read: each pull request's page (the `seamguard` check
//! run's details link), the public landing page `/`, and the operator's
//! `/status`.
//!
//! Every page is rendered from the store alone: an evaluation writes its
//! snapshot ([`snapshot::PageSnapshot`]) into the pull request's history,
//! and the page reads it back. No page asks GitHub anything, so a page view
//! costs no rate limit and shows exactly what the evaluation saw.
//!
//! Who may see what: a pull request's page answers only a link signed by
//! this server ([`link`]); anything else — no signature, a forged or
//! expired one, a link for another pull request — gets the same 404 as an
//! unknown path, so a guess learns nothing, not even whether the
//! repository exists. `/status` answers only `Authorization: Bearer
//! <STATUS_TOKEN>` (compared in constant time), and not at all when no
//! token is set. `/` shows nothing about any repository.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::config::settings::Secret;
use crate::github::GitHub;
use crate::ids::{PrNumber, RepoName};
use crate::store::{HISTORY_PER_PR, Store};

pub mod link;
pub mod page_json;
pub mod setup;
pub mod snapshot;
pub mod views;

use link::{PageLinks, PageSigner};
use snapshot::PageSnapshot;

/// Evaluations listed on `/status`.
const STATUS_RECENT: usize = 30;

/// The body of every 404: an unknown path and a page without a valid
/// signature are indistinguishable.
pub const NOT_FOUND: &str = "Not Found\n";

/// What the pages need. Shared by the routes.
pub struct WebState {
    pub store: Store,
    /// Checks the links of pull request pages.
    pub signer: PageSigner,
    /// Where the pages are, to link them from `/status`; `None` links
    /// them relative to this server.
    pub links: Option<PageLinks>,
    /// `STATUS_TOKEN`; `None`: no `/status`.
    pub status_token: Option<Secret>,
    /// For the rate-limit budgets on `/status` (read from memory; no
    /// call is made).
    pub gh: Option<GitHub>,
    /// The store's health, probed at most once a second: `/` shows it
    /// without a write of its own.
    pub health: Arc<crate::server::health::Health>,
}

/// The 404 every refusal answers. (`Vary: Accept`: asked for JSON, the
/// same refusal answers [`page_json::ErrorJson`].)
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::VARY, "Accept"),
        ],
        NOT_FOUND,
    )
        .into_response()
}

fn html(markup: maud::Markup) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(markup.into_string()),
    )
        .into_response()
}

/// A JSON answer of the pull request's page (never cached: it changes with
/// each evaluation, and it is private).
fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec_pretty(body) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            (
                status,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "no-store"),
                    (header::REFERRER_POLICY, "no-referrer"),
                    (header::VARY, "Accept"),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not encode the page as JSON");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// An unknown path: the 404 a refused page answers, as the request asked
/// for it.
pub async fn unknown_path(headers: HeaderMap) -> Response {
    page_not_found(page_json::wants_json(&headers)).await
}

/// The refusal of a page, as the request asked for it: the unknown-path
/// 404, or its JSON twin.
async fn page_not_found(as_json: bool) -> Response {
    if as_json {
        json(
            StatusCode::NOT_FOUND,
            &page_json::ErrorJson::new("not_found", NOT_FOUND.trim_end()),
        )
    } else {
        not_found().await
    }
}

/// `GET /{owner}/{repo}/pull/{number}?exp=…&sig=…`: HTML, or JSON when the
/// request prefers `application/json` ([`page_json`]), from the same
/// stored snapshots and behind the same signature.
pub async fn pull_page(
    State(web): State<Arc<WebState>>,
    Path((owner, name, number)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let as_json = page_json::wants_json(&headers);
    let (Ok(repo), Ok(number)) = (RepoName::new(owner, name), number.parse::<u64>()) else {
        return page_not_found(as_json).await;
    };
    let number = PrNumber(number);
    let exp = query.get("exp").and_then(|e| e.parse::<i64>().ok());
    let sig = query.get("sig");
    let (Some(exp), Some(sig)) = (exp, sig) else {
        return page_not_found(as_json).await;
    };
    if !web.signer.verify(&repo, number, exp, sig, Utc::now()) {
        return page_not_found(as_json).await;
    }
    let history = match web.store.evaluations(&repo, number, HISTORY_PER_PR).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the pull request's history");
            if as_json {
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &page_json::ErrorJson::new("store_unavailable", "store unavailable"),
                );
            }
            return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response();
        }
    };
    let history: Vec<_> = history
        .into_iter()
        .map(|e| {
            let snap = serde_json::from_str::<PageSnapshot>(&e.snapshot).unwrap_or_default();
            (e, snap)
        })
        .collect();
    // A page that cannot say whether its pull request waits still shows
    // everything else it knows.
    let wait = web
        .store
        .budget_wait(&repo, number)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read whether the pull request waits for GitHub's budget");
            None
        });
    if as_json {
        let mut page = page_json::page(&repo, number, &history);
        page.budget_wait = wait.as_ref().map(page_json::BudgetWaitJson::new);
        return json(StatusCode::OK, &page);
    }
    let mut page = html(views::pull_page(&repo, number, &history, wait.as_ref()));
    page.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    page
}

/// `GET /`: the public landing page. Its health is the last probe's (at
/// most a second old): a flood of `/` makes no store writes.
pub async fn landing(State(web): State<Arc<WebState>>) -> Response {
    let healthy = web.health.check_or_last(&web.store).await;
    html(views::landing(healthy))
}

/// Whether `headers` carry `Authorization: Bearer <token>`. Both sides are
/// hashed first, so the constant-time compare does not leak the length.
pub(crate) fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let a = Sha256::digest(given.trim().as_bytes());
    let b = Sha256::digest(token.expose());
    subtle::ConstantTimeEq::ct_eq(a.as_slice(), b.as_slice()).into()
}

/// `GET /status`: only with `STATUS_TOKEN` set, and only for its bearer.
pub async fn status(State(web): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(token) = &web.status_token else {
        return not_found().await;
    };
    if !bearer_matches(&headers, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response();
    }
    let now = Utc::now();
    let recent = web
        .store
        .recent_evaluations(STATUS_RECENT)
        .await
        .unwrap_or_default();
    let recent: Vec<_> = recent
        .into_iter()
        .map(|e| {
            let link = page_link(&web, &e.repo, e.pr, now);
            (e, Some(link))
        })
        .collect();
    let queue = web.store.queue_stats(now).await.ok();
    let failed = web.store.failed_jobs().await.unwrap_or_default();
    let waiting: Vec<_> = web
        .store
        .budget_waits()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|w| {
            let link = pr_of_key(&w.key).map(|(repo, pr)| page_link(&web, &repo, pr, now));
            (w, link)
        })
        .collect();
    let budgets = web
        .gh
        .as_ref()
        .map(GitHub::rate_budgets)
        .unwrap_or_default();
    html(views::status(&views::StatusView {
        recent: &recent,
        queue,
        budgets: &budgets,
        failed: &failed,
        waiting: &waiting,
        now,
    }))
}

/// The signed link to a pull request's page, for `/status`.
fn page_link(web: &WebState, repo: &RepoName, pr: PrNumber, now: chrono::DateTime<Utc>) -> String {
    match &web.links {
        Some(links) => links.url(repo, pr, now),
        None => {
            let exp = PageSigner::expiry(now);
            format!(
                "/{}/{}/pull/{}?exp={exp}&sig={}",
                repo.owner(),
                repo.name(),
                pr.0,
                web.signer.sign(repo, pr, exp)
            )
        }
    }
}

/// The pull request a work key names (`acme/app#7`); `None` for other
/// work (a commit, a branch, a command).
fn pr_of_key(key: &str) -> Option<(RepoName, PrNumber)> {
    let (repo, number) = key.split_once('#')?;
    Some((repo.parse().ok()?, PrNumber(number.parse().ok()?)))
}

//! `POST /webhook`: verify, parse, store, acknowledge — nothing else.
//!
//! The order is fixed. The signature is checked first (an unauthenticated
//! caller learns nothing but 401), then the headers, then the body is parsed
//! as the JSON of its event — exactly one JSON value, nothing after it (400
//! names the JSON path) — then the delivery and the work it causes are
//! stored in one durable commit, and only then is it acknowledged with 202.
//! A delivery id seen before is answered 200 and not processed again
//! (GitHub's redeliveries reuse the id). No GitHub call is ever made here.
//!
//! The hard part is staying inside memory and inside GitHub's 10 seconds
//! under traffic nobody chose. The signature covers the whole body, so a
//! body is buffered whole before anything else is known about it; every
//! buffered body is charged to one [`BodyBudget`] of [`BODY_BUDGET`] bytes,
//! by its `Content-Length` before a byte of it is read (or by the capacity
//! its buffer grows to, when it has none). Anyone can declare 25 MiB, so
//! bodies over [`SMALL_BODY`] share only part of the budget: the last
//! [`SMALL_RESERVE`] is for small bodies, which is what GitHub sends nearly
//! always, and no number of unsigned large declarations can crowd them out.
//! A delivery that does not fit is answered 503 with `Retry-After` at once,
//! without reading its body: nothing is stored, so nothing is lost —
//! GitHub's redelivery or the missed-delivery sweep brings it back. A body
//! must keep arriving at [`MIN_BODY_RATE`] after a [`BODY_GRACE`] (a client
//! trickling a byte at a time holds its share for two seconds, not ten),
//! and whole within [`BODY_READ_TIMEOUT`]; otherwise it is dropped with
//! 408, releasing its share; a store
//! that does not commit within [`INGEST_DEADLINE`] (a write lock held by
//! another process, a stalled disk) gets 503 with `Retry-After` well before
//! GitHub's own timeout. That abandoned commit may still land later; the
//! redelivery is then answered 200 as a duplicate, so a delivery is never
//! lost and never processed twice.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::settings::Secret;
use crate::events;
use crate::ids::{AppId, DeliveryId};
use crate::store::{Ingested, NewDelivery, Store};

/// GitHub caps webhook payloads at 25 MB; anything larger is not GitHub.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// Bytes of request bodies buffered at once, all deliveries together: two
/// bodies of GitHub's maximum side by side plus room for thousands of
/// ordinary (~10 KiB) ones, on a process that idles at ~15 MiB.
pub const BODY_BUDGET: usize = 64 * 1024 * 1024;

/// A body up to this size is *small*: GitHub's deliveries nearly always
/// are (a large pull request's event is tens of KiB).
pub const SMALL_BODY: usize = 1024 * 1024;

/// The part of [`BODY_BUDGET`] only small bodies may use: sixteen at their
/// largest, or thousands of ordinary deliveries, whatever large bodies hold.
pub const SMALL_RESERVE: usize = 16 * 1024 * 1024;

/// How long a client may take to send its body. GitHub counts a delivery
/// failed when it has no answer within 10 s, so a body still arriving then
/// can no longer be acknowledged in time; its budget is better spent.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a body may take before it must arrive at [`MIN_BODY_RATE`]:
/// room for a connection's slow start and a pause in transit.
pub const BODY_GRACE: Duration = Duration::from_secs(2);

/// The slowest a body may arrive after [`BODY_GRACE`], on average since it
/// started: 1 Mbit/s, a hundredth of what GitHub sends at, so only a
/// client holding its share on purpose is cut off.
pub const MIN_BODY_RATE: u64 = 128 * 1024;

/// How long the store may take to commit a delivery before the handler
/// gives up with 503: half of GitHub's 10 s, leaving the rest for the body
/// to arrive and the answer to travel back.
pub const INGEST_DEADLINE: Duration = Duration::from_secs(5);

/// `Retry-After` of a 503, in seconds: a body budget frees as bodies finish
/// (each within [`BODY_READ_TIMEOUT`]), and a store stall that outlasts it
/// is better left to the missed-delivery sweep than hammered.
const RETRY_AFTER_SECONDS: u64 = 10;

/// The shared allowance of body bytes in memory ([`BODY_BUDGET`] unless a
/// test or benchmark asks for another), of which bodies over [`SMALL_BODY`]
/// may hold all but [`SMALL_RESERVE`].
pub struct BodyBudget {
    total: usize,
    small_body: usize,
    /// Every charged byte.
    all: Arc<Semaphore>,
    /// The bytes of bodies over `small_body`, charged here as well.
    large: Arc<Semaphore>,
}

impl BodyBudget {
    /// A budget of `total` bytes with the default reserve for small bodies
    /// (a quarter of `total` at most).
    pub fn new(total: usize) -> Self {
        Self::with_reserve(total, SMALL_RESERVE.min(total / 4), SMALL_BODY)
    }

    /// A budget of `total` bytes of which `reserve` is for bodies of at
    /// most `small_body` bytes.
    pub fn with_reserve(total: usize, reserve: usize, small_body: usize) -> Self {
        Self {
            total,
            small_body,
            all: Arc::new(Semaphore::new(total)),
            large: Arc::new(Semaphore::new(total.saturating_sub(reserve))),
        }
    }

    /// Bytes currently charged to bodies being read or handled.
    pub fn in_flight(&self) -> usize {
        self.total - self.all.available_permits()
    }

    /// Charges `bytes` now, or refuses: a delivery never waits for budget
    /// (waiting would spend GitHub's 10 s holding a connection open).
    fn take(&self, bytes: usize) -> Result<Charge, Refusal> {
        let mut charge = Charge {
            all: take(&self.all, 0)?,
            large: None,
        };
        charge.grow(self, bytes)?;
        Ok(charge)
    }
}

fn take(pool: &Arc<Semaphore>, bytes: usize) -> Result<OwnedSemaphorePermit, Refusal> {
    let permits = u32::try_from(bytes).map_err(|_| Refusal::OverBudget)?;
    pool.clone()
        .try_acquire_many_owned(permits)
        .map_err(|_| Refusal::OverBudget)
}

impl Default for BodyBudget {
    fn default() -> Self {
        Self::new(BODY_BUDGET)
    }
}

/// Bytes charged to one body, given back when it is dropped.
struct Charge {
    all: OwnedSemaphorePermit,
    /// The same bytes in the large bodies' share, once over `small_body`.
    large: Option<OwnedSemaphorePermit>,
}

impl Charge {
    fn bytes(&self) -> usize {
        self.all.num_permits()
    }

    /// Charges `more` bytes on top, or refuses (keeping what it had).
    fn grow(&mut self, budget: &BodyBudget, more: usize) -> Result<(), Refusal> {
        let total = self.bytes() + more;
        // A large body takes its whole size from the large share first, so
        // it never eats into the small bodies' reserve.
        let large = if total > budget.small_body {
            let held = self.large.as_ref().map_or(0, |p| p.num_permits());
            Some(take(&budget.large, total - held)?)
        } else {
            None
        };
        let all = take(&budget.all, more)?;
        self.all.merge(all);
        match (&mut self.large, large) {
            (Some(held), Some(extra)) => held.merge(extra),
            (slot @ None, Some(extra)) => *slot = Some(extra),
            (_, None) => {}
        }
        Ok(())
    }
}

/// What the webhook handler needs: secrets, the App id (to ignore its own
/// checks), the store and the body budget.
pub struct WebhookState {
    pub secrets: Vec<Secret>,
    pub app_id: Option<AppId>,
    pub store: Store,
    pub budget: BodyBudget,
    /// How long a finished check's work waits for the rest of its burst
    /// (`CHECK_SETTLE`, on the replay clock); zero runs it at once.
    pub check_settle: Duration,
}

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Mismatch,
}

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`) against every configured
/// secret (rotation), in constant time per comparison.
pub fn verify_signature(
    secrets: &[Secret],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.expose()).expect("HMAC accepts any key length");
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// `sha256=<hex>` of `body` under `secret`: what GitHub sends.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn count(event: &str, outcome: &'static str) {
    let event = if events::KNOWN_EVENTS.contains(&event) {
        event.to_owned()
    } else {
        // Unknown event names are counted together: a label per arbitrary
        // header value would let a caller grow the metric without bound.
        "other".to_owned()
    };
    metrics::counter!("seamguard_deliveries_total", "event" => event, "outcome" => outcome)
        .increment(1);
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Why a body was not read to the end.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    TooLarge,
    OverBudget,
    TimedOut,
    /// Arriving slower than [`MIN_BODY_RATE`] after [`BODY_GRACE`].
    TooSlow,
    Broken(String),
}

impl Refusal {
    fn outcome(&self) -> &'static str {
        match self {
            Refusal::TooLarge => "too_large",
            Refusal::OverBudget => "over_budget",
            Refusal::TimedOut => "body_timeout",
            Refusal::TooSlow => "body_too_slow",
            Refusal::Broken(_) => "bad_request",
        }
    }

    fn into_response(self) -> Response {
        match self {
            Refusal::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body over 25 MiB\n").into_response()
            }
            Refusal::OverBudget => retry_later("too many bodies in flight; redeliver later\n"),
            Refusal::TimedOut => {
                (StatusCode::REQUEST_TIMEOUT, "body not received in time\n").into_response()
            }
            Refusal::TooSlow => {
                (StatusCode::REQUEST_TIMEOUT, "body arriving too slowly\n").into_response()
            }
            Refusal::Broken(_) => (StatusCode::BAD_REQUEST, "body not received\n").into_response(),
        }
    }
}

/// 503 with `Retry-After`: nothing was stored, so the delivery must come
/// again (GitHub's redelivery, or the missed-delivery sweep).
fn retry_later(message: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS))],
        message,
    )
        .into_response()
}

/// The declared `Content-Length`, if any (hyper has already refused a
/// malformed one).
fn content_length(headers: &HeaderMap) -> Option<usize> {
    header(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// When a body that has delivered `received` bytes since `started` falls
/// behind the slowest pace allowed ([`MIN_BODY_RATE`] after [`BODY_GRACE`]).
fn behind_at(started: tokio::time::Instant, received: usize) -> tokio::time::Instant {
    let allowed = Duration::from_secs_f64(received as f64 / MIN_BODY_RATE as f64);
    started + BODY_GRACE + allowed
}

/// Reads the whole body into one buffer, charged to `budget` before it
/// grows: by `declared` up front when the client sent `Content-Length`,
/// else by the buffer's capacity as it doubles. The next bytes must come
/// before the body falls behind [`MIN_BODY_RATE`].
async fn read_body(
    body: Body,
    declared: Option<usize>,
    budget: &BodyBudget,
) -> Result<(Bytes, Charge), Refusal> {
    if declared.is_some_and(|len| len > MAX_BODY) {
        return Err(Refusal::TooLarge);
    }
    let mut charge = budget.take(declared.unwrap_or(0))?;
    let mut buf: Vec<u8> = Vec::with_capacity(charge.bytes());
    let mut stream = body.into_data_stream();
    let started = tokio::time::Instant::now();
    loop {
        let next = tokio::time::timeout_at(behind_at(started, buf.len()), stream.next());
        let Some(chunk) = next.await.map_err(|_| Refusal::TooSlow)? else {
            break;
        };
        let chunk = chunk.map_err(|e| Refusal::Broken(e.to_string()))?;
        let needed = buf.len() + chunk.len();
        if needed > MAX_BODY {
            return Err(Refusal::TooLarge);
        }
        if needed > buf.capacity() {
            // Only without Content-Length (hyper never lets a body run past
            // the length it declared): grow by doubling, charged first.
            let capacity = needed.max(buf.capacity() * 2).min(MAX_BODY);
            charge.grow(budget, capacity - charge.bytes())?;
            buf.reserve_exact(capacity - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(buf), charge))
}

pub async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let event_header = header(&headers, "x-github-event").unwrap_or("");
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        read_body(body, content_length(&headers), &state.budget),
    )
    .await
    .unwrap_or(Err(Refusal::TimedOut));
    let (body, charge) = match read {
        Ok(read) => read,
        Err(refusal) => {
            tracing::warn!(
                reason = ?refusal,
                declared = content_length(&headers),
                in_flight = state.budget.in_flight(),
                "webhook body not read"
            );
            count(event_header, refusal.outcome());
            return refusal.into_response();
        }
    };
    ingest_read(&state, &headers, body, charge).await
}

/// What `POST /webhook` does with a body it has read whole: verify, parse,
/// store, and the answer GitHub would get. The webhook proxy
/// (`server::proxy`) feeds each delivery it receives here, so a delivery
/// that arrives through it is refused, stored and deduplicated exactly as
/// one posted to `/webhook`: a body over [`MAX_BODY`] is refused, and one
/// is charged to the body budget while it is parsed (503 when it does not
/// fit).
pub async fn ingest(state: &WebhookState, headers: &HeaderMap, body: Bytes) -> Response {
    let charged = if body.len() > MAX_BODY {
        Err(Refusal::TooLarge)
    } else {
        state.budget.take(body.len())
    };
    match charged {
        Ok(charge) => ingest_read(state, headers, body, charge).await,
        Err(refusal) => {
            count(
                header(headers, "x-github-event").unwrap_or(""),
                refusal.outcome(),
            );
            refusal.into_response()
        }
    }
}

/// [`ingest`], with the body's charge to the budget given back once the
/// body is parsed.
async fn ingest_read(
    state: &WebhookState,
    headers: &HeaderMap,
    body: Bytes,
    charge: Charge,
) -> Response {
    let event_header = header(headers, "x-github-event").unwrap_or("");
    if let Err(e) = verify_signature(
        &state.secrets,
        header(headers, "x-hub-signature-256"),
        &body,
    ) {
        tracing::warn!(reason = ?e, "webhook signature refused");
        count(event_header, "unauthorized");
        return (StatusCode::UNAUTHORIZED, "bad or missing signature\n").into_response();
    }
    if !events::valid_event_name(event_header) {
        count("other", "bad_request");
        return (
            StatusCode::BAD_REQUEST,
            "missing or malformed X-GitHub-Event\n",
        )
            .into_response();
    }
    let event = event_header;
    let Some(id) = header(headers, "x-github-delivery").and_then(|d| d.parse::<DeliveryId>().ok())
    else {
        count(event, "bad_request");
        return (
            StatusCode::BAD_REQUEST,
            "missing or malformed X-GitHub-Delivery\n",
        )
            .into_response();
    };
    let span = tracing::info_span!(
        "delivery",
        delivery = %id,
        event,
        installation_id = tracing::field::Empty,
        repo = tracing::field::Empty,
        pr = tracing::field::Empty
    );
    let _enter = span.enter();
    let parsed = events::parse(event, &body, state.app_id);
    // A captured signed body replayed under another id is the same
    // delivery: the digest of the event and body is a deduplication key
    // beside the id.
    let body_digest: [u8; 32] = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(event.as_bytes());
        h.update([0]);
        h.update(&body);
        h.finalize().into()
    };
    // The parsed delivery owns what it needs: the body's budget is free
    // before the store is waited on.
    drop((body, charge));
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "malformed webhook body");
            count(event, "bad_request");
            return (
                StatusCode::BAD_REQUEST,
                "body is not the JSON of this event\n",
            )
                .into_response();
        }
    };
    if let Some(installation) = parsed.installation {
        span.record("installation_id", installation.0);
    }
    if let Some(first) = parsed.work.first() {
        span.record("repo", tracing::field::display(&first.repo));
        if let crate::store::Target::Pr { number, .. } = first.target {
            span.record("pr", number.0);
        }
    }
    let known = events::KNOWN_EVENTS.contains(&event);
    let work_items = parsed.work.len();
    drop(_enter);
    let delivery = NewDelivery {
        id,
        event: event.to_owned(),
        action: parsed.action,
        installation: parsed.installation,
        received_at: chrono::Utc::now(),
        settle: if parsed.settles {
            state.check_settle
        } else {
            Duration::ZERO
        },
        work: parsed.work,
        body_digest: Some(body_digest),
        activity: parsed.activity,
    };
    let stored = tokio::time::timeout(INGEST_DEADLINE, state.store.ingest(delivery)).await;
    let _enter = span.enter();
    match stored {
        Ok(Ok(Ingested::Stored)) => {
            tracing::info!(work_items, "delivery stored");
            count(event, if known { "accepted" } else { "ignored" });
            (StatusCode::ACCEPTED, "accepted\n").into_response()
        }
        Ok(Ok(Ingested::Duplicate)) => {
            tracing::info!("duplicate delivery; already stored");
            count(event, "duplicate");
            (StatusCode::OK, "duplicate delivery\n").into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not store delivery");
            count(event, "store_error");
            retry_later("store unavailable; redeliver later\n")
        }
        Err(_) => {
            tracing::error!(
                deadline = ?INGEST_DEADLINE,
                "the store did not commit the delivery in time"
            );
            count(event, "store_timeout");
            retry_later("store too slow; redeliver later\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[usize]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|&n| Ok(Bytes::from(vec![b' '; n])))
            .collect();
        Body::from_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_declared_length_is_charged_before_the_body_is_read() {
        let budget = BodyBudget::with_reserve(1000, 0, 1000);
        let held = budget.take(700).unwrap();
        // Refused on its Content-Length alone: the body is never polled.
        let never_read =
            Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        assert_eq!(
            read_body(never_read, Some(400), &budget).await.err(),
            Some(Refusal::OverBudget)
        );
        let (body, charge) = read_body(chunked(&[100, 200]), Some(300), &budget)
            .await
            .unwrap();
        assert_eq!(
            (body.len(), charge.bytes(), budget.in_flight()),
            (300, 300, 1000)
        );
        drop((held, charge));
        assert_eq!(budget.in_flight(), 0);
        assert_eq!(
            read_body(chunked(&[]), Some(MAX_BODY + 1), &budget)
                .await
                .err(),
            Some(Refusal::TooLarge)
        );
    }

    #[tokio::test]
    async fn large_bodies_never_take_the_small_bodies_reserve() {
        // 1000 bytes, of which 400 are for bodies of at most 100.
        let budget = BodyBudget::with_reserve(1000, 400, 100);
        let never_read =
            || Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let large = budget.take(500).unwrap();
        // Another large body fits only in what is left of the large share.
        assert_eq!(
            read_body(never_read(), Some(200), &budget).await.err(),
            Some(Refusal::OverBudget)
        );
        let mid = budget.take(100).unwrap();
        assert_eq!(budget.in_flight(), 600);
        // Small bodies still fit, up to the whole budget.
        let small: Vec<Charge> = (0..4).map(|_| budget.take(100).unwrap()).collect();
        assert_eq!(budget.in_flight(), 1000);
        assert_eq!(budget.take(1).err(), Some(Refusal::OverBudget));
        drop((large, mid, small));
        assert_eq!(budget.in_flight(), 0);
        // A body without a length moves to the large share as it grows
        // past the small size, and is refused there when it is full.
        let held = budget.take(600).unwrap();
        assert_eq!(
            read_body(chunked(&[50, 50, 50]), None, &budget).await.err(),
            Some(Refusal::OverBudget)
        );
        drop(held);
        assert_eq!(budget.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_body_that_falls_behind_the_minimum_rate_is_cut_off() {
        let budget = BodyBudget::new(64 * 1024 * 1024);
        // One byte, then nothing: cut off once the grace is over, long
        // before the body's deadline would have.
        let trickle = Body::from_stream(
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{"))])
                .chain(futures::stream::pending()),
        );
        let read = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            read_body(trickle, Some(25 * 1024 * 1024), &budget),
        )
        .await
        .expect("cut off before the body's deadline");
        assert_eq!(read.err(), Some(Refusal::TooSlow));
        assert_eq!(budget.in_flight(), 0, "its share is back");
        // A body that keeps twice the pace is read to the end.
        let chunk = MIN_BODY_RATE as usize / 2;
        let steady = futures::stream::unfold(0, move |n| async move {
            (n < 12).then_some(())?;
            tokio::time::sleep(Duration::from_millis(250)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(vec![b' '; chunk])),
                n + 1,
            ))
        });
        let (body, _) = read_body(Body::from_stream(steady), None, &budget)
            .await
            .unwrap();
        assert_eq!(body.len(), 12 * chunk);
    }

    #[tokio::test]
    async fn without_a_length_the_buffer_is_charged_as_it_grows() {
        let budget = BodyBudget::with_reserve(1000, 0, 1000);
        let (body, charge) = read_body(chunked(&[10, 10, 10, 300]), None, &budget)
            .await
            .unwrap();
        assert_eq!(body.len(), 330);
        assert!(
            charge.bytes() >= 330 && charge.bytes() <= 1000,
            "{}",
            charge.bytes()
        );
        assert_eq!(budget.in_flight(), charge.bytes());
        drop(charge);
        // Growing past the budget is refused mid-stream, and what was
        // charged so far is given back.
        assert_eq!(
            read_body(chunked(&[400, 400, 400]), None, &budget)
                .await
                .err(),
            Some(Refusal::OverBudget)
        );
        assert_eq!(budget.in_flight(), 0);
    }

    /// GitHub's documented test vector ("Validating webhook deliveries").
    #[test]
    fn github_documented_vector() {
        let secret = Secret::new("It's a Secret to Everybody");
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(secret.expose(), b"Hello, World!"), expected);
        assert_eq!(
            verify_signature(&[secret], Some(expected), b"Hello, World!"),
            Ok(())
        );
    }

    #[test]
    fn rotation_missing_malformed_and_mismatch() {
        let old = Secret::new("old");
        let new = Secret::new("new");
        let sig = sign(b"old", b"{}");
        assert_eq!(
            verify_signature(&[new.clone(), old], Some(&sig), b"{}"),
            Ok(())
        );
        assert_eq!(
            verify_signature(std::slice::from_ref(&new), Some(&sig), b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(std::slice::from_ref(&new), None, b"{}"),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(std::slice::from_ref(&new), Some("sha1=abc"), b"{}"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&[new], Some("sha256=zz"), b"{}"),
            Err(SignatureError::Malformed)
        );
    }
}

//! `POST /webhook`: verify, parse, store, acknowledge — nothing else.
//!
//! The order is fixed. The signature is checked first (an unauthenticated
//! caller learns nothing but 401), then the headers, then the body is parsed
//! as the JSON of its event (400 names the JSON path), then the delivery and
//! the work it causes are stored in one durable commit, and only then is it
//! acknowledged with 202. A delivery id seen before is answered 200 and not
//! processed again (GitHub's redeliveries reuse the id). A store failure is
//! 503, never 202: GitHub may redeliver, and the missed-delivery sweep will
//! find it. No GitHub call is ever made here.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::settings::Secret;
use crate::events;
use crate::ids::{AppId, DeliveryId};
use crate::inbox::{Inbox, Ingested, NewDelivery};

/// GitHub caps webhook payloads at 25 MB; anything larger is not GitHub.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// What the webhook handler needs: secrets, the App id (to ignore its own
/// checks), and the inbox.
pub struct WebhookState {
    pub secrets: Vec<Secret>,
    pub app_id: Option<AppId>,
    pub inbox: Inbox,
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

/// A GitHub event name: lower-case letters and underscores.
fn valid_event(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

pub async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let event_header = header(&headers, "x-github-event").unwrap_or("");
    if let Err(e) = verify_signature(
        &state.secrets,
        header(&headers, "x-hub-signature-256"),
        &body,
    ) {
        tracing::warn!(reason = ?e, "webhook signature refused");
        count(event_header, "unauthorized");
        return (StatusCode::UNAUTHORIZED, "bad or missing signature\n");
    }
    if !valid_event(event_header) {
        count("other", "bad_request");
        return (
            StatusCode::BAD_REQUEST,
            "missing or malformed X-GitHub-Event\n",
        );
    }
    let event = event_header;
    let Some(id) = header(&headers, "x-github-delivery").and_then(|d| d.parse::<DeliveryId>().ok())
    else {
        count(event, "bad_request");
        return (
            StatusCode::BAD_REQUEST,
            "missing or malformed X-GitHub-Delivery\n",
        );
    };
    let span = tracing::info_span!(
        "delivery",
        delivery = %id,
        event,
        repo = tracing::field::Empty,
        pr = tracing::field::Empty
    );
    let _enter = span.enter();
    let parsed = match events::parse(event, &body, state.app_id) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "malformed webhook body");
            count(event, "bad_request");
            return (
                StatusCode::BAD_REQUEST,
                "body is not the JSON of this event\n",
            );
        }
    };
    if let Some(first) = parsed.work.first() {
        span.record("repo", tracing::field::display(&first.repo));
        if let crate::inbox::Target::Pr { number } = first.target {
            span.record("pr", number.0);
        }
    }
    let known = events::KNOWN_EVENTS.contains(&event);
    let work_items = parsed.work.len();
    let delivery = NewDelivery {
        id,
        event: event.to_owned(),
        action: parsed.action,
        installation: parsed.installation,
        received_at: chrono::Utc::now(),
        work: parsed.work,
    };
    drop(_enter);
    match state.inbox.ingest(delivery).await {
        Ok(Ingested::Stored) => {
            let _enter = span.enter();
            tracing::info!(work_items, "delivery stored");
            count(event, if known { "accepted" } else { "ignored" });
            (StatusCode::ACCEPTED, "accepted\n")
        }
        Ok(Ingested::Duplicate) => {
            let _enter = span.enter();
            tracing::info!("duplicate delivery; already stored");
            count(event, "duplicate");
            (StatusCode::OK, "duplicate delivery\n")
        }
        Err(e) => {
            let _enter = span.enter();
            tracing::error!(error = %e, "could not store delivery");
            count(event, "store_error");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable; redeliver later\n",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn event_names() {
        assert!(valid_event("pull_request"));
        assert!(!valid_event(""));
        assert!(!valid_event("Pull-Request"));
    }
}

//! `WEBHOOK_PROXY_URL`: deliveries through a webhook proxy channel, for a
//! server GitHub cannot reach (a laptop, the first hour).
//!
//! The protocol is smee.io's, which Probot's users know: GitHub posts each
//! delivery to the channel's public URL; the proxy parses its JSON and
//! sends it on to whoever holds the channel's server-sent-events stream,
//! as one event whose data is a JSON object of the request's lower-cased
//! headers, its parsed `body`, `query` and `timestamp`. The proxy also
//! sends `ready` when the stream opens and `ping` to keep it open; both
//! carry nothing.
//!
//! The proxy carries the parsed body, not GitHub's bytes, so the bytes the
//! signature is checked over are the body serialized again as the proxy's
//! own client does it, with JavaScript's `JSON.stringify` ([`js_json`]), as
//! Probot's webhooks library does. Each delivery then goes through the
//! same function as `POST /webhook` ([`webhook::ingest`]): a bad signature
//! is refused, the body is charged to the same body budget, the delivery is
//! stored before it counts as received, and a delivery id seen before is
//! not processed again. Nothing about the App's
//! behaviour differs from a direct delivery.
//!
//! When the store cannot take a delivery (503 at `/webhook`), nobody can
//! be asked to send it again — the proxy already told GitHub it arrived —
//! so it is offered again here, with backoff, before the next event is
//! read. When the stream drops, it is opened again with backoff; the log
//! says so once when it drops and once when it is back, not per retry.
//! A proxy keeps no history: what GitHub sent while the stream was down is
//! not sent again by it. GitHub logs it delivered (the proxy's 200), so the
//! missed-webhook sweep, told it runs behind a proxy, asks for every logged
//! delivery the store lacks (`engine::sweeps`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use backon::BackoffBuilder;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::webhook::{self, WebhookState};
use crate::config::settings::redact;

/// The first pause before opening a dropped stream again; it doubles up to
/// [`RECONNECT_MAX`].
pub const RECONNECT_MIN: Duration = Duration::from_millis(500);

/// The longest pause between attempts to open the stream.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// How long the stream may be silent before it is taken for dead: smee.io
/// pings every 30 s, so three missed pings.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How many times a delivery the store could not take (503) is offered
/// again before it is given up (logged as lost).
const STORE_ATTEMPTS: usize = 6;

/// The most the stream may send without completing an event: a delivery
/// is at most [`webhook::MAX_BODY`], and its headers and escapes at most
/// as much again.
const MAX_EVENT: usize = 2 * webhook::MAX_BODY;

/// The part of an event's data that is not a header.
const NOT_HEADERS: &[&str] = &["body", "query", "timestamp"];

/// Reads the channel at `url` until `shutdown`, feeding each delivery to
/// `state` as `POST /webhook` would.
pub async fn run(url: Url, state: Arc<WebhookState>, shutdown: CancellationToken) {
    let client = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook proxy: cannot build an HTTP client; no deliveries through it");
            return;
        }
    };
    let shown = redact(url.as_str());
    let mut backoff = reconnect_backoff();
    // Whether the last attempt failed and that has been said.
    let mut down = false;
    let mut connected_once = false;
    loop {
        let outcome = tokio::select! {
            _ = shutdown.cancelled() => return,
            outcome = read_channel(&client, &url, &state, || {
                if down {
                    tracing::info!(proxy = %shown, "webhook proxy connected again");
                } else if !connected_once {
                    tracing::info!(proxy = %shown, "webhook proxy connected; receiving deliveries through {shown}");
                }
                connected_once = true;
                down = false;
                backoff = reconnect_backoff();
            }) => outcome,
        };
        if !down {
            let why = match &outcome {
                Ok(()) => "the proxy closed the stream".to_owned(),
                Err(e) => e.clone(),
            };
            tracing::warn!(proxy = %shown, reason = %redact(&why), "webhook proxy stream is down; reconnecting with backoff (said once until it is back)");
            down = true;
        } else if let Err(e) = &outcome {
            tracing::debug!(proxy = %shown, reason = %redact(e), "webhook proxy still down");
        }
        let pause = backoff.next().unwrap_or(RECONNECT_MAX);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

fn reconnect_backoff() -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::new()
        .with_min_delay(RECONNECT_MIN)
        .with_max_delay(RECONNECT_MAX)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Opens the stream and handles its events until it ends (`Ok`) or fails
/// (the reason). `opened` is called once the proxy has answered.
async fn read_channel(
    client: &reqwest::Client,
    url: &Url,
    state: &WebhookState,
    opened: impl FnOnce(),
) -> Result<(), String> {
    let response = client
        .get(url.clone())
        .header("accept", "text/event-stream")
        .header("cache-control", "no-cache")
        .send()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("the proxy answered {}", response.status()));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("text/event-stream") {
        return Err(format!(
            "the proxy answered {content_type:?}, not an event stream (is the URL a channel?)"
        ));
    }
    opened();
    // Bytes received since the last complete event: the parser buffers an
    // event whole, so a stream that never completes one is cut off.
    let pending = Arc::new(AtomicUsize::new(0));
    let counted = pending.clone();
    let bytes = futures::stream::unfold(Some(response), move |response| {
        let counted = counted.clone();
        async move {
            let mut response = response?;
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return None,
                Err(e) => return Some((Err(std::io::Error::other(e)), None)),
            };
            if counted.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len() > MAX_EVENT {
                let e = std::io::Error::other("an event larger than any delivery");
                return Some((Err(e), None));
            }
            Some((Ok(chunk), Some(response)))
        }
    });
    let mut events = std::pin::pin!(bytes.eventsource());
    loop {
        let next = tokio::time::timeout(IDLE_TIMEOUT, events.next())
            .await
            .map_err(|_| format!("nothing received for {}s", IDLE_TIMEOUT.as_secs()))?;
        let event = match next {
            None => return Ok(()),
            Some(Ok(event)) => event,
            Some(Err(e)) => return Err(format!("the stream broke: {e}")),
        };
        pending.store(0, Ordering::Relaxed);
        match event.event.as_str() {
            // smee.io's events that carry no delivery.
            "ready" | "ping" => {}
            // Unnamed events are `message`s: deliveries.
            "message" | "" => deliver(state, &event.data).await,
            other => tracing::debug!(
                event = other,
                "webhook proxy: an event that is not a delivery"
            ),
        }
    }
}

/// One delivery from the proxy, into the webhook's path.
async fn deliver(state: &WebhookState, data: &str) {
    let (headers, body) = match delivery(data) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "webhook proxy: an event that is not a delivery; ignored");
            return;
        }
    };
    let mut pause = RECONNECT_MIN;
    for attempt in 1..=STORE_ATTEMPTS {
        let status = webhook::ingest(state, &headers, body.clone())
            .await
            .status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::debug!(status = status.as_u16(), "webhook proxy: delivery handled");
            return;
        }
        if attempt < STORE_ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECONNECT_MAX);
        }
    }
    let id = headers
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?");
    tracing::error!(
        delivery = id,
        attempts = STORE_ATTEMPTS,
        "webhook proxy: the store did not take the delivery; it is lost unless redelivered from the App's settings"
    );
}

/// The headers and the body's bytes of one event's data, the body
/// serialized as the proxy's JavaScript client does.
pub fn delivery(data: &str) -> Result<(HeaderMap, Bytes), String> {
    let value: js_json::Value =
        serde_json::from_str(data).map_err(|e| format!("data is not JSON: {e}"))?;
    let js_json::Value::Object(fields) = value else {
        return Err("data is not a JSON object".to_owned());
    };
    let mut headers = HeaderMap::new();
    let mut body = None;
    for (key, value) in fields {
        if key == "body" {
            body = Some(value);
            continue;
        }
        if NOT_HEADERS.contains(&key.as_str()) {
            continue;
        }
        // Headers are strings; anything else is not one GitHub sent.
        let js_json::Value::String(text) = value else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&text),
        ) {
            headers.append(name, value);
        }
    }
    let body = body.ok_or("data has no body")?;
    Ok((headers, Bytes::from(js_json::stringify(&body))))
}

/// JSON as JavaScript reads and writes it: `JSON.parse` then
/// `JSON.stringify`, byte for byte.
///
/// - Object keys keep their order, except that keys which are array
///   indices (`"0"`, `"17"`: canonical integers below 2³²−1) come first,
///   in ascending order; a repeated key keeps its first place and its
///   last value.
/// - Numbers are doubles, written as ECMAScript's `Number::toString`
///   writes them: `1` for `1.0`, `1e+21`, `1.5e-7`, `0` for `-0`.
/// - Strings escape `"`, `\` and control characters (`\b \t \n \f \r`, the
///   rest `\u00xx`); everything else, non-ASCII, `<`, `&` and `/`
///   included, is written as itself.
/// - No whitespace.
pub mod js_json {
    use std::collections::HashMap;
    use std::fmt::Write as _;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    /// A value as `JSON.parse` makes it.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        /// Keys in JavaScript's property order.
        Object(Vec<(String, Value)>),
    }

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ValueVisitor)
        }
    }

    struct ValueVisitor;

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v as f64))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v as f64))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::Number(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut entries: Vec<(String, Value)> = Vec::new();
            let mut at: HashMap<String, usize> = HashMap::new();
            while let Some((key, value)) = map.next_entry::<String, Value>()? {
                match at.get(&key) {
                    Some(&i) => entries[i].1 = value,
                    None => {
                        at.insert(key.clone(), entries.len());
                        entries.push((key, value));
                    }
                }
            }
            // Array-index keys first, ascending; the rest as they came
            // (the sort is stable).
            entries.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
            Ok(Value::Object(entries))
        }
    }

    /// The key's value when it is an array index: the canonical decimal
    /// form of an integer below 2³²−1.
    fn array_index(key: &str) -> Option<u32> {
        let i: u32 = key.parse().ok()?;
        (i < u32::MAX && i.to_string() == key).then_some(i)
    }

    /// `JSON.stringify(value)`.
    pub fn stringify(value: &Value) -> String {
        let mut out = String::new();
        write_value(value, &mut out);
        out
    }

    fn write_value(value: &Value, out: &mut String) {
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => write_number(*n, out),
            Value::String(s) => write_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(item, out);
                }
                out.push(']');
            }
            Value::Object(entries) => {
                out.push('{');
                for (i, (key, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    write_value(item, out);
                }
                out.push('}');
            }
        }
    }

    fn write_string(s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    /// ECMAScript's `Number::toString` for a finite double (`null` for
    /// the others, as `JSON.stringify` writes them).
    pub fn write_number(n: f64, out: &mut String) {
        if !n.is_finite() {
            out.push_str("null");
            return;
        }
        if n == 0.0 {
            out.push('0');
            return;
        }
        if n < 0.0 {
            out.push('-');
        }
        // Rust writes the shortest digits that read back as the same
        // double, as ECMAScript requires: `d.ddde±x`.
        let sci = format!("{:e}", n.abs());
        let (mantissa, exp) = sci.split_once('e').expect("{:e} writes an exponent");
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        let k = digits.len() as i64;
        // The decimal point's place: value = 0.digits × 10^point.
        let point = exp.parse::<i64>().expect("{:e} writes an integer exponent") + 1;
        if k <= point && point <= 21 {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (point - k) as usize));
        } else if 0 < point && point <= 21 {
            let (int, frac) = digits.split_at(point as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else if -6 < point && point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else {
            let e = point - 1;
            let (first, rest) = digits.split_at(1);
            out.push_str(first);
            if !rest.is_empty() {
                out.push('.');
                out.push_str(rest);
            }
            let _ = write!(out, "e{}{}", if e >= 0 { '+' } else { '-' }, e.abs());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::js_json::{Value, stringify};
    use super::*;

    fn round_trip(text: &str) -> String {
        stringify(&serde_json::from_str::<Value>(text).unwrap())
    }

    /// Each expected string is what Node.js 20 printed for
    /// `JSON.stringify(JSON.parse(input))`.
    #[test]
    fn written_as_json_stringify_writes_it() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{ "title": "caf\u00e9 \u003cb\u003e \u0026 <i> & é ✓ 😀", "n": 1 }"#,
                r#"{"title":"café <b> & <i> & é ✓ 😀","n":1}"#,
            ),
            (
                r#"{"ctl":"\u0007\b\f\n\r\t\u001f\u007f \" \\ \/ \u2028"}"#,
                "{\"ctl\":\"\\u0007\\b\\f\\n\\r\\t\\u001f\u{7f} \\\" \\\\ / \u{2028}\"}",
            ),
            (
                r#"{"zeta":1,"alpha":2,"10":3,"2":4,"01":5,"-1":6,"4294967295":7,"4294967294":8}"#,
                r#"{"2":4,"10":3,"4294967294":8,"zeta":1,"alpha":2,"01":5,"-1":6,"4294967295":7}"#,
            ),
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (
                r#"[1.0, -0, 0.1, 1e21, 1e20, 123456789012345678901, 1.5e-7, 0.000001, 12345678901234567890, -2.5E+3, 9007199254740993, 5e-324, 1.7976931348623157e308]"#,
                r#"[1,0,0.1,1e+21,100000000000000000000,123456789012345680000,1.5e-7,0.000001,12345678901234567000,-2500,9007199254740992,5e-324,1.7976931348623157e+308]"#,
            ),
            (
                r#"{"x":[true,false,null,{},[]],"y":"\ud83d\ude00"}"#,
                r#"{"x":[true,false,null,{},[]],"y":"😀"}"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(round_trip(input), *expected, "{input}");
        }
    }

    #[test]
    fn an_event_gives_headers_and_the_body_as_the_client_sends_it() {
        let data = r#"{"host":"smee.io","x-github-event":"pull_request","x-github-delivery":"72d3162e-cc78-11e3-81ab-4c9367dc0958","x-hub-signature-256":"sha256=00","content-length":"9000","body":{"zeta":"\u003c\u00e9","alpha":[1.0]},"query":{},"timestamp":1733580000000}"#;
        let (headers, body) = delivery(data).unwrap();
        assert_eq!(&body[..], r#"{"zeta":"<é","alpha":[1]}"#.as_bytes());
        assert_eq!(headers["x-github-event"], "pull_request");
        assert_eq!(headers["x-hub-signature-256"], "sha256=00");
        assert!(headers.get("timestamp").is_none());
        assert!(headers.get("query").is_none());
        assert!(delivery(r#"{"x-github-event":"push"}"#).is_err());
        assert!(delivery("[]").is_err());
        assert!(delivery("not json").is_err());
    }
}

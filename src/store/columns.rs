//! How domain values are stored in columns, in one place.
//!
//! Times are Unix milliseconds (`INTEGER`): they sort, compare and index as
//! plain numbers, which is what the claim query needs. GitHub's numeric ids
//! are `u64` in Rust and `INTEGER` (i64) in SQLite; they are stored bit for
//! bit, so every value round-trips exactly (and real ids are far below 2^63,
//! where the order would flip).
//!
//! Delivery ids are stored as [`delivery_key`]s: GitHub's ids are
//! version-1 UUIDs, whose text leads with the fastest-moving bits of their
//! timestamp; stored as sent, every new delivery would land on a random
//! page of the deduplication index, and every page it dirties is written
//! twice (WAL, then checkpoint). Time-first, new keys append.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::queue::NewWork;
use super::work::{NewDelivery, OpenCheckRun, Work};
use crate::ids::{CheckRunId, CommitSha, InstallationId, RepoName};
use std::str::FromStr;

/// A `due_at` no clock reaches: the item is kept but never claimed. Used for
/// a row whose payload no longer decodes; its key's next trigger replaces
/// the payload and makes it due again.
pub(crate) const PARKED: i64 = i64::MAX;

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Invalid(format!("timestamp {ms} ms")))
}

/// A duration in whole milliseconds, saturating (a lease of centuries is
/// still a lease).
pub(crate) fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `t + d` in milliseconds, saturating at the last instant a `DateTime` can
/// show (so it always reads back, and stays below [`PARKED`]).
pub(crate) fn after(t: DateTime<Utc>, d: std::time::Duration) -> i64 {
    millis(t)
        .saturating_add(duration_ms(d))
        .min(DateTime::<Utc>::MAX_UTC.timestamp_millis())
}

pub(crate) fn id(v: u64) -> i64 {
    v as i64
}

pub(crate) fn unid(v: i64) -> u64 {
    v as u64
}

pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn encode_work(work: &Work) -> Result<String, StoreError> {
    serde_json::to_string(work).map_err(|e| StoreError::encoding(format!("work {}", work.key()), e))
}

/// The payload of work asked for by `cause`: the work's JSON with a
/// `cause` member beside it, which [`decode_work`] ignores and
/// [`decode_cause`] reads. Coalescing keeps the latest payload, so a
/// claim names the latest trigger.
pub(crate) fn encode_work_because(work: &Work, cause: &str) -> Result<String, StoreError> {
    let mut value = serde_json::to_value(work)
        .map_err(|e| StoreError::encoding(format!("work {}", work.key()), e))?;
    if let Some(object) = value.as_object_mut() {
        object.insert("cause".into(), serde_json::Value::from(cause));
    }
    Ok(value.to_string())
}

/// The cause a delivery's work carries: `delivery <id> (<event>.<action>)`.
pub(crate) fn delivery_cause(d: &super::work::NewDelivery) -> String {
    match &d.action {
        Some(action) => format!("delivery {} ({}.{action})", d.id, d.event),
        None => format!("delivery {} ({})", d.id, d.event),
    }
}

/// The `cause` a payload carries, if any.
pub(crate) fn decode_cause(payload: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Cause {
        cause: Option<String>,
    }
    serde_json::from_str::<Cause>(payload).ok()?.cause
}

pub(crate) fn decode_work(key: &str, payload: &str) -> Result<Work, StoreError> {
    serde_json::from_str(payload).map_err(|e| StoreError::encoding(format!("work {key}"), e))
}

/// A `check_runs` row (id, repo, installation, head, opened_at) as the
/// watchdog reads it, both backends alike.
pub(crate) fn open_check_run(
    (id, repo, installation, head, opened_at): (i64, String, i64, String, i64),
) -> Result<OpenCheckRun, StoreError> {
    Ok(OpenCheckRun {
        id: CheckRunId(unid(id)),
        repo: RepoName::from_str(&repo).map_err(|e| StoreError::Invalid(e.to_string()))?,
        installation: InstallationId(unid(installation)),
        head: CommitSha::from_str(&head).map_err(|e| StoreError::Invalid(e.to_string()))?,
        opened_at: time(opened_at)?,
    })
}

/// The waiting marks read back as work, both backends alike. A mark whose
/// payload does not decode is skipped (retention removes it once nobody
/// refreshes it).
pub(crate) fn decode_waiting(rows: Vec<(String, String)>) -> Vec<Work> {
    rows.into_iter()
        .filter_map(|(key, payload)| match decode_work(&key, &payload) {
            Ok(work) => Some(work),
            Err(e) => {
                tracing::warn!(key, error = %e, "skipping a waiting mark whose payload does not decode");
                None
            }
        })
        .collect()
}

/// The deduplication key of a delivery's body digest: `sha256 <hex>`. No
/// [`delivery_key`] can equal it: a version-1 key holds 15 characters
/// before its space, and no other id holds a space.
pub(crate) fn digest_key(digest: &[u8; 32]) -> String {
    format!("sha256 {}", hex::encode(digest))
}

/// The stored form of a delivery id. A version-1 UUID
/// (`tttttttt-mmmm-1hhh-cccc-nnnnnnnnnnnn`: time low, mid, high) becomes
/// `hhhmmmmtttttttt cccc-nnnnnnnnnnnn`, its 60-bit timestamp first, so keys
/// sort by time; anything else is kept as sent. The space, which no
/// [`DeliveryId`](crate::ids::DeliveryId) may contain, keeps the two forms
/// apart, and only characters known to be `-` or the version are dropped:
/// the mapping is one to one. Migration `0002_delivery_keys.sql` applies
/// the same rule to stored rows; a test holds the two together.
pub(crate) fn delivery_key(id: &str) -> Cow<'_, str> {
    let b = id.as_bytes();
    let v1 = b.len() == 36
        && b[8] == b'-'
        && b[13] == b'-'
        && b[14] == b'1'
        && b[18] == b'-'
        && b[23] == b'-'
        && b.iter().all(|&c| c == b'-' || c.is_ascii_hexdigit());
    if !v1 {
        return Cow::Borrowed(id);
    }
    let mut key = String::with_capacity(33);
    key.push_str(&id[15..18]);
    key.push_str(&id[9..13]);
    key.push_str(&id[0..8]);
    key.push(' ');
    key.push_str(&id[19..]);
    Cow::Owned(key)
}

/// For each delivery of a batch (its id and body digest, in order), whether
/// its id and its digest are the first of the batch. A key twice in one
/// statement would conflict with itself, so a repeated id (or digest) is
/// sent once, by its first delivery. A delivery whose body was seen under
/// another id still has its own id stored (it was acknowledged), but is a
/// duplicate.
pub(crate) fn firsts_in_batch<'a>(
    batch: impl ExactSizeIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<(bool, bool)> {
    let mut seen = std::collections::HashSet::with_capacity(batch.len() * 2);
    batch
        .map(|(id, digest)| {
            let id = seen.insert(id);
            let digest = digest.is_none_or(|k| seen.insert(k));
            (id, digest)
        })
        .collect()
}

/// A delivery encoded to its columns, ready for either backend's batch.
pub(crate) struct EncodedDelivery {
    pub id: String,
    /// The body digest's key ([`digest_key`]), kept beside the id.
    pub digest: Option<String>,
    /// Small state the delivery brings (who pushed its head), written in
    /// the same transaction when the delivery is stored.
    pub meta: Vec<(String, String)>,
    pub event: String,
    pub action: Option<String>,
    pub installation: Option<i64>,
    pub received_at: i64,
    pub work: Vec<NewWork>,
}

impl EncodedDelivery {
    /// `d` as both backends store it: its keys, and its work items due when
    /// it was received (after its settle time), each payload naming the
    /// delivery as its cause.
    pub(crate) fn new(d: NewDelivery) -> Result<EncodedDelivery, StoreError> {
        let received_at = millis(d.received_at);
        let due = after(d.received_at, d.settle);
        let cause = delivery_cause(&d);
        let work = d
            .work
            .iter()
            .map(|w| {
                Ok(NewWork {
                    key: w.key(),
                    payload: encode_work_because(w, &cause)?,
                    due,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(EncodedDelivery {
            id: delivery_key(d.id.as_str()).into_owned(),
            digest: d.body_digest.as_ref().map(digest_key),
            meta: d
                .activity
                .as_ref()
                .map(|a| super::activity::row(a, d.received_at))
                .transpose()?
                .into_iter()
                .collect(),
            event: d.event,
            action: d.action,
            installation: d.installation.map(|i| id(i.0)),
            received_at,
            work,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_delivery_ids_are_keyed_time_first() {
        // From GitHub's documentation: delivered 2021-05-12T20:33:44Z.
        assert_eq!(
            delivery_key("58474f00-b361-11eb-836d-0e4f3503ccbe"),
            "1ebb36158474f00 836d-0e4f3503ccbe"
        );
        // One tick of the timestamp's low word later sorts after it, though
        // its text sorts before.
        let a = delivery_key("ffffffff-b361-11eb-836d-0e4f3503ccbe");
        let b = delivery_key("00000000-b362-11eb-836d-0e4f3503ccbe");
        assert!(a < b);
        // Anything else is kept as sent: other UUID versions, other shapes.
        for id in [
            "58474f00-b361-41eb-836d-0e4f3503ccbe",
            "58474f00-b361-11eb-836d-0e4f3503ccb",
            "58474f00xb361-11eb-836d-0e4f3503ccbe",
            "58474f00-b361-11eb-836d-0e4f3503cczz",
            "d-1",
        ] {
            assert_eq!(delivery_key(id), id);
        }
    }

    #[test]
    fn a_cause_rides_beside_the_work_and_is_ignored_by_it() {
        let work = Work::pr(
            InstallationId(42),
            "acme/app".parse().unwrap(),
            crate::ids::PrNumber(7),
        );
        let payload = encode_work_because(&work, "delivery d-1 (pull_request)").unwrap();
        assert_eq!(decode_work("k", &payload).unwrap(), work);
        assert_eq!(
            decode_cause(&payload).as_deref(),
            Some("delivery d-1 (pull_request)")
        );
        assert_eq!(decode_cause(&encode_work(&work).unwrap()), None);
    }

    #[test]
    fn ids_round_trip_bit_for_bit() {
        for v in [0, 1, 7, 1 << 53, u64::MAX] {
            assert_eq!(unid(id(v)), v);
        }
    }

    #[test]
    fn times_round_trip_at_millisecond_precision() {
        let t = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(time(millis(t)).unwrap(), t);
        assert!(time(PARKED).is_err());
    }

    #[test]
    fn durations_saturate() {
        let t = DateTime::from_timestamp_millis(1_000).unwrap();
        assert_eq!(after(t, std::time::Duration::from_millis(500)), 1_500);
        let forever = after(t, std::time::Duration::MAX);
        assert!(time(forever).is_ok());
        assert!(forever < PARKED);
    }
}

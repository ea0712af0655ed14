//! How domain values are stored in columns, in one place.
//!
//! Times are Unix milliseconds (`INTEGER`): they sort, compare and index as
//! plain numbers, which is what the claim query needs. GitHub's numeric ids
//! are `u64` in Rust and `INTEGER` (i64) in SQLite; they are stored bit for
//! bit, so every value round-trips exactly (and real ids are far below 2^63,
//! where the order would flip).

use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::work::Work;

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

pub(crate) fn decode_work(key: &str, payload: &str) -> Result<Work, StoreError> {
    serde_json::from_str(payload).map_err(|e| StoreError::encoding(format!("work {key}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

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

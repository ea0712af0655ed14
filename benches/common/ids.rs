//! Delivery ids for the benchmarks, shared by `ingest` and `store_ingest`
//! (included with `#[path]`: a file in a folder of `benches/` is not a
//! benchmark of its own).

// Each benchmark takes the generators it needs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// A delivery id as GitHub makes them: a version-1 UUID whose 60-bit
/// timestamp (100 ns ticks since 1582-10-15) is the delivery's time, with
/// a clock sequence and the node of one of eight sending hosts. (The
/// samples in GitHub's documentation decode to their `delivered_at`.)
/// Timestamps strictly increase, so ids are unique.
pub fn github_guid(n: u64) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    const GREGORIAN_TO_UNIX: u64 = 0x01b2_1dd2_1381_4000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| (d.as_nanos() / 100) as u64)
        + GREGORIAN_TO_UNIX;
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or_else(|last| last);
    let ts = now.max(previous + 1);
    format!(
        "{:08x}-{:04x}-1{:03x}-836d-0e4f3503cc{:02x}",
        ts & 0xffff_ffff,
        (ts >> 32) & 0xffff,
        (ts >> 48) & 0x0fff,
        n % 8
    )
}

/// A GUID-shaped id in no particular order, even once rearranged
/// time-first (its "timestamp" is a hash).
pub fn random_guid(n: u64) -> String {
    // SplitMix64's finaliser is a bijection; `n` in the tail keeps ids unique.
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!(
        "{:08x}-{:04x}-11f0-8a3c-{:012x}",
        z >> 32,
        (z >> 16) & 0xffff,
        n
    )
}

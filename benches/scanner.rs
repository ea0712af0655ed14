//! The conflict-marker scanner alone, on text already in memory.
//!
//! `cargo bench --bench scanner` (release build; never part of `cargo test`).
//! Prints throughput in GB/s (10^9 bytes per second) for three shapes:
//! one large file, the same bytes cut into 4 KiB "files" (a repository of
//! small sources, where per-call overhead shows), and a pathological file
//! whose every line starts with a marker character; and the large file at a
//! 32-wide marker size. Set
//! `SEAMGUARD_BENCH_MIB` to change the corpus size (default 64 MiB).

use std::hint::black_box;
use std::time::{Duration, Instant};

use seamguard::gate::conflict_markers::{Scanner, scan};

/// Default corpus: large enough to leave the CPU caches, small enough to
/// generate in well under a second.
const DEFAULT_MIB: usize = 64;
/// Timed repetitions per shape; the median is reported.
const RUNS: usize = 9;
/// A typical source file size, for the many-small-files shape.
const SMALL_FILE: usize = 4 * 1024;

/// Source-like tokens, heavy in the bytes markers are made of.
const TOKENS: &[&str] = &[
    "let",
    "x",
    "=",
    "==",
    "=>",
    "<",
    ">",
    "<<",
    ">>",
    "|",
    "||",
    "fn",
    "(",
    ")",
    "{",
    "}",
    ";",
    "value",
    "Vec<u8>",
    "self.items",
    "+",
    "-",
    "if",
    "return",
    "match",
    "//",
    "a_long_identifier_name",
    "0x1f",
    "\"string literal\"",
    "&mut",
    "::",
    "->",
    "<=",
    ">=",
    "!=",
    "|x|",
];

fn corpus(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 256);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: deterministic, dependency-free.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    while out.len() < bytes {
        let r = next();
        match r % 200 {
            // Markdown headings and rules: separators that are not markers.
            0 => out.extend_from_slice(b"Section title\n=======\n"),
            1 => out.extend_from_slice(b"========================================\n"),
            _ => {
                let indent = (r >> 8) % 4 * 4;
                out.extend(std::iter::repeat_n(b' ', indent as usize));
                let words = 3 + (r >> 16) % 10;
                for _ in 0..words {
                    let t = TOKENS[(next() % TOKENS.len() as u64) as usize];
                    out.extend_from_slice(t.as_bytes());
                    out.push(b' ');
                }
                out.push(b'\n');
            }
        }
    }
    out
}

fn measure(name: &str, bytes: usize, mut f: impl FnMut() -> usize) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[RUNS / 2];
    let gbps = bytes as f64 / median.as_secs_f64() / 1e9;
    println!(
        "{name:<38} {:>8.1} MB  median {:>9.3?}  {gbps:>6.2} GB/s",
        bytes as f64 / 1e6,
        median
    );
}

fn main() {
    let mib = std::env::var("SEAMGUARD_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MIB);
    let text = corpus(mib * 1024 * 1024);
    assert!(scan(&text).is_empty(), "the corpus must hold no markers");

    measure("one large file", text.len(), || {
        scan(black_box(&text)).len()
    });
    measure("4 KiB files", text.len(), || {
        text.chunks(SMALL_FILE)
            .map(|c| scan(black_box(c)).len())
            .sum()
    });

    // A path whose `.gitattributes` sets `conflict-marker-size=32`.
    let wide = Scanner::with_width(32);
    measure("one large file, 32-wide markers", text.len(), || {
        wide.scan(black_box(&text)).len()
    });

    let mut with_conflicts = text.clone();
    with_conflicts.extend_from_slice(b"<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> b\n");
    measure(
        "one large file, conflict at the end",
        with_conflicts.len(),
        || scan(black_box(&with_conflicts)).len(),
    );

    // Worst case: every line starts with a marker byte but is not a marker
    // (the bare `>>>>>>>` and `|||||||` lines are candidates that open and
    // close nothing).
    let hostile: Vec<u8> = b"<<<<<<<<\n=======x\n>>>>>>>\n||||||||\n|||||||\n"
        .iter()
        .copied()
        .cycle()
        .take(text.len() / 4)
        .collect();
    measure("near-miss lines only", hostile.len(), || {
        scan(black_box(&hostile)).len()
    });
}

//! Micro-benchmark of `Store::ingest` alone: no HTTP, no signature check.
//!
//! Closed loop: C callers each ingest as fast as they are answered; shows
//! what group commit buys as concurrency grows. Open loop: deliveries
//! arrive at a fixed rate whether or not earlier ones were answered, and
//! latency is measured from the scheduled arrival (no coordinated omission).
//! Every delivery carries one PR work item over 1,000 PRs, so work items
//! coalesce as they do under real traffic. The database lives on disk under
//! the target directory: fsync is real.
//!
//! Run: `cargo bench --bench store_ingest` (`-- --quick` for a short run).
//! `-- --digest-vs` instead runs closed loops with and without the body
//! digest beside each id (the replay key), alternately in one run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use seamguard::ids::{InstallationId, PrNumber, RepoName};
use seamguard::store::{Ingested, NewDelivery, Store, StoreOptions, Work};
use tokio::task::JoinSet;

#[path = "common/ids.rs"]
mod ids;

/// Distinct pull requests the deliveries are spread over.
const PRS: u64 = 1_000;

/// Whether deliveries carry their body digest (as the webhook handler's do).
static DIGEST: AtomicBool = AtomicBool::new(true);

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--digest-vs") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(digest_vs());
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(quick));
}

async fn run(quick: bool) {
    let scale = if quick { 1 } else { 4 };
    println!(
        "store ingest benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<28} {:>10} {:>12} {:>9} {:>9} {:>9}",
        "scenario", "deliveries", "per second", "p50 ms", "p99 ms", "max ms"
    );

    for concurrency in [1usize, 16, 128, 512] {
        let total = if concurrency == 1 {
            500 * scale
        } else {
            25_000 * scale
        };
        let bench = Bench::open().await;
        let (elapsed, latencies) = bench.closed_loop(concurrency, total).await;
        report(
            &format!("closed loop, {concurrency} callers"),
            total,
            elapsed,
            latencies,
        );
        bench.finish().await;
    }
    let seconds = if quick { 2 } else { 5 };
    for rate in [1_000u64, 5_000, 10_000] {
        let bench = Bench::open().await;
        let (elapsed, latencies) = bench.open_loop(rate, seconds, 0).await;
        report(
            &format!("open loop, {rate}/s"),
            latencies.len(),
            elapsed,
            latencies,
        );
        bench.finish().await;
    }
    if !quick {
        // A store that already holds a retention window's worth of
        // deliveries: the deduplication index is large and written at
        // random places.
        let bench = Bench::open().await;
        bench.closed_loop(512, STEADY_STATE).await;
        for (round, rate) in [1_000u64, 5_000].into_iter().enumerate() {
            let first_id = (STEADY_STATE * (round + 1)) as u64;
            let (elapsed, latencies) = bench.open_loop(rate, seconds, first_id).await;
            let name = format!("open loop, {rate}/s, 1M stored");
            report(&name, latencies.len(), elapsed, latencies);
        }
        println!(
            "store size after {STEADY_STATE} deliveries: {} MiB",
            bench.size_mib()
        );
        bench.finish().await;
    }
}

/// Closed loops with and without the digest key, alternating, three rounds.
async fn digest_vs() {
    println!(
        "{:<36} {:>10} {:>12} {:>9} {:>9} {:>9}",
        "scenario", "deliveries", "per second", "p50 ms", "p99 ms", "max ms"
    );
    for round in 1..=3 {
        for concurrency in [1usize, 128, 512] {
            let total = if concurrency == 1 { 500 } else { 25_000 };
            for digest in [false, true] {
                DIGEST.store(digest, Ordering::Relaxed);
                let bench = Bench::open().await;
                let (elapsed, latencies) = bench.closed_loop(concurrency, total).await;
                let name = format!(
                    "r{round} {concurrency} callers, {}",
                    if digest { "id + digest" } else { "id only" }
                );
                report(&name, total, elapsed, latencies);
                bench.finish().await;
            }
        }
    }
}

/// Deliveries already stored for the steady-state scenario.
const STEADY_STATE: usize = 1_000_000;

struct Bench {
    dir: PathBuf,
    store: Store,
}

impl Bench {
    async fn open() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let url = format!("sqlite://{}", dir.join("store.db").display());
        let store = Store::open(&url, StoreOptions::default())
            .await
            .expect("open");
        Self { dir, store }
    }

    async fn finish(self) {
        self.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn closed_loop(&self, concurrency: usize, total: usize) -> (Duration, Vec<Duration>) {
        let per_caller = total / concurrency;
        let start = Instant::now();
        let mut callers = JoinSet::new();
        for caller in 0..concurrency {
            let store = self.store.clone();
            callers.spawn(async move {
                let mut latencies = Vec::with_capacity(per_caller);
                for i in 0..per_caller {
                    let sent = Instant::now();
                    ingest(&store, (caller * per_caller + i) as u64).await;
                    latencies.push(sent.elapsed());
                }
                latencies
            });
        }
        let mut latencies = Vec::with_capacity(total);
        while let Some(done) = callers.join_next().await {
            latencies.extend(done.expect("caller"));
        }
        (start.elapsed(), latencies)
    }

    fn size_mib(&self) -> u64 {
        let bytes: u64 = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        bytes >> 20
    }

    /// `first_id` keeps ids apart from those already stored.
    async fn open_loop(&self, rate: u64, seconds: u64, first_id: u64) -> (Duration, Vec<Duration>) {
        const TICK: Duration = Duration::from_millis(1);
        let per_tick = rate / 1_000;
        let ticks = seconds * 1_000;
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut inflight = JoinSet::new();
        let start = Instant::now();
        let mut n = first_id;
        for _ in 0..ticks {
            let scheduled = interval.tick().await.into_std();
            for _ in 0..per_tick {
                let store = self.store.clone();
                let id = n;
                n += 1;
                inflight.spawn(async move {
                    ingest(&store, id).await;
                    scheduled.elapsed()
                });
            }
        }
        let mut latencies = Vec::with_capacity((n - first_id) as usize);
        while let Some(done) = inflight.join_next().await {
            latencies.push(done.expect("delivery"));
        }
        (start.elapsed(), latencies)
    }
}

async fn ingest(store: &Store, n: u64) {
    let repo: RepoName = "acme/app".parse().expect("repo");
    let delivery = NewDelivery {
        // In no order: the store's worst case (GitHub's own ids are
        // time-ordered once keyed; see `ingest --random-ids`).
        id: ids::random_guid(n).parse().expect("id"),
        event: "check_run".into(),
        action: Some("completed".into()),
        installation: Some(InstallationId(42)),
        received_at: Utc::now(),
        settle: std::time::Duration::ZERO,
        work: vec![Work::pr(InstallationId(42), repo, PrNumber(n % PRS))],
        // As the webhook handler stores it: a second key per delivery.
        body_digest: DIGEST
            .load(Ordering::Relaxed)
            .then(|| <sha2::Sha256 as sha2::Digest>::digest(n.to_be_bytes()).into()),
        activity: None,
    };
    let stored = store.ingest(delivery).await.expect("ingest");
    assert_eq!(stored, Ingested::Stored);
}

fn report(name: &str, count: usize, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1e3
    };
    println!(
        "{:<28} {:>10} {:>12.0} {:>9.2} {:>9.2} {:>9.2}",
        name,
        count,
        count as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

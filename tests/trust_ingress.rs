//! The webhook before its signature (issue 23), against the real binary:
//! unsigned clients that declare large bodies and trickle them, or hold
//! idle connections past the process's descriptor limit, never keep a
//! signed delivery from being acknowledged while GitHub still waits.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use seamguard::server::webhook::BODY_BUDGET;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::binary::{Process, env};
use support::{Delivery, FakeGitHub, WEBHOOK_SECRET};

/// An upper bound for things that must happen, so a regression fails the
/// test instead of hanging it; every wait ends on an event long before.
const GUARD: Duration = Duration::from_secs(60);

/// How long the test's "GitHub" waits for an answer: GitHub's 10 s less
/// the time a delivery spends in transit.
const GITHUB_WAITS: Duration = Duration::from_secs(8);

/// Signed deliveries sent while the budget or the descriptors are held.
const SIGNED: usize = 10;

/// A signed `ping`: stored like any delivery, no work. Each is its own
/// body (the same bytes again would be a replay, answered as a duplicate).
fn ping() -> Delivery {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let hook = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Delivery::new(
        "ping",
        json!({ "zen": "Keep it logically awesome.", "hook_id": hook }),
    )
}

/// Sends `delivery` as GitHub would (giving up after [`GITHUB_WAITS`]) and
/// returns the status, or the reason there was none.
async fn deliver(url: &str, delivery: &Delivery) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(GITHUB_WAITS)
        .build()
        .unwrap();
    let mut request = client.post(url).body(delivery.bytes());
    for (k, v) in delivery.headers(WEBHOOK_SECRET) {
        request = request.header(k, v);
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("no answer: {e}"))
}

/// Reads `seamguard_webhook_body_bytes_in_flight` until `done` holds.
async fn wait_for_in_flight(app: &Process, what: &str, done: impl Fn(f64) -> bool) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + GUARD;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(app.url("/metrics")).send().await {
            last = r.text().await.unwrap_or_default();
            let value = last
                .lines()
                .find_map(|l| l.strip_prefix("seamguard_webhook_body_bytes_in_flight "))
                .and_then(|v| v.trim().parse::<f64>().ok());
            if value.is_some_and(&done) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: never seen in /metrics:\n{last}");
}

/// An unsigned client that declares `declared` bytes and sends one byte at
/// a time, a tenth of a second apart; when seamguard answers or closes, it
/// starts over on a new connection, until `stop`.
async fn trickler(addr: std::net::SocketAddr, declared: usize, stop: Arc<AtomicBool>) {
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: seamguard\r\ncontent-type: application/json\r\n\
         x-github-event: push\r\nx-github-delivery: 00000000-0000-11f0-8000-000000000000\r\n\
         content-length: {declared}\r\n\r\n"
    );
    while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (mut rd, mut wr) = stream.into_split();
        if wr.write_all(head.as_bytes()).await.is_err() {
            continue;
        }
        let mut answered = Box::pin(async move {
            let mut buf = [0u8; 512];
            let _ = rd.read(&mut buf).await;
        });
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            tokio::select! {
                _ = &mut answered => break,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if wr.write_all(b" ").await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn unsigned_slow_bodies_holding_the_budget_never_crowd_out_signed_deliveries() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&env(&gh, dir.path()));

    // Three unsigned clients that together declare the whole body budget,
    // trickling a byte at a time and starting over whenever cut off.
    let stop = Arc::new(AtomicBool::new(false));
    let declared = BODY_BUDGET / 3;
    let attackers: Vec<_> = (0..3)
        .map(|_| tokio::spawn(trickler(app.addr, declared, stop.clone())))
        .collect();
    wait_for_in_flight(&app, "the slow bodies charged", |v| {
        v >= (2 * declared) as f64
    })
    .await;

    // GitHub's deliveries, small as they nearly always are, are stored.
    let mut answers = Vec::new();
    for _ in 0..SIGNED {
        answers.push(deliver(&app.webhook(), &ping()).await);
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.await.unwrap();
    }
    assert!(
        answers.iter().all(|a| a == &Ok(202)),
        "signed deliveries while slow bodies held the budget: {answers:?}"
    );
    // The attackers were cut off for their pace, not let run to the
    // body's deadline.
    let log = app.log();
    assert!(
        log.contains("TooSlow") || log.contains("OverBudget"),
        "the slow bodies were refused: {log}"
    );
}

/// An idle client: connects and sends nothing; when the server closes the
/// connection, connects again a tenth of a second later, until `stop`.
async fn hold_idle(addr: std::net::SocketAddr, opened: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        if let Ok(Ok(mut stream)) = tokio::time::timeout(GUARD, TcpStream::connect(addr)).await {
            if std::mem::take(&mut first) {
                opened.fetch_add(1, Ordering::Relaxed);
            }
            let mut buf = [0u8; 64];
            // Returns when the server closes it.
            let _ = stream.read(&mut buf).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lowers the child's descriptor limit to `n` (soft and hard): systemd's
/// default is 1,024.
fn limit_descriptors(cmd: &mut std::process::Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches nothing shared.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Raises this test process's own descriptor limit to its hard limit: it
/// holds more connections than the server may.
fn raise_own_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    #[allow(clippy::unnecessary_cast, reason = "rlim_t is not u64 everywhere")]
    let soft = limit.rlim_cur as u64;
    soft
}

#[tokio::test]
async fn idle_connections_past_the_descriptor_limit_never_block_a_signed_delivery() {
    const IDLE: usize = 1_500;
    const DESCRIPTORS: u64 = 1_024;
    assert!(
        raise_own_limit() > IDLE as u64 + 64,
        "this test needs more descriptors than it holds connections"
    );
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn_with(&env(&gh, dir.path()), |cmd| {
        limit_descriptors(cmd, DESCRIPTORS)
    });

    // More idle connections than the process has descriptors, opened
    // together and held: they send nothing, and one the server closes is
    // opened again a moment later, as a persistent client would.
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let holders: Vec<_> = (0..IDLE)
        .map(|_| tokio::spawn(hold_idle(app.addr, opened.clone(), stop.clone())))
        .collect();
    // Once more are open than the server has descriptors, every one of
    // them counts (the kernel completes connections it has not accepted).
    let deadline = tokio::time::Instant::now() + GUARD;
    while opened.load(Ordering::Relaxed) <= DESCRIPTORS as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} connections opened",
            opened.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Each signed delivery is answered while GitHub still waits.
    let mut answers = Vec::new();
    for _ in 0..SIGNED {
        answers.push(deliver(&app.webhook(), &ping()).await);
    }
    stop.store(true, Ordering::Relaxed);
    for h in holders {
        h.abort();
    }
    assert!(
        answers.iter().all(|a| a == &Ok(202)),
        "signed deliveries past {IDLE} idle connections: {answers:?}"
    );
    // And the server is well afterwards.
    let status = reqwest::get(app.url("/healthz")).await.unwrap().status();
    assert_eq!(status, 200);
}

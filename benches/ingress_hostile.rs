//! Signed deliveries while unsigned clients try to crowd them out (issue
//! 23): how many are acknowledged, and how fast.
//!
//! `cargo bench --bench ingress_hostile` (`--profile dev` measures the
//! debug build; `SEAMGUARD_BENCH_BIN=path` measures another binary, e.g. the
//! build before a change). Never part of `cargo test`.
//!
//! Two scenarios, each on a fresh `seamguard serve`:
//!
//! 1. *Slow bodies*: three unsigned clients each declare a third of the
//!    64 MiB body budget and send one byte every 100 ms, starting over on
//!    a new connection whenever seamguard answers or closes theirs. After
//!    a second, signed `ping` deliveries are sent one after another for
//!    [`SLOW_BODIES_FOR`], each given GitHub's 10 s.
//! 2. *Idle connections*: the server runs with 1,024 descriptors (soft and
//!    hard, systemd's default); [`IDLE`] clients each open a connection and
//!    send nothing, opening another 100 ms after the server closes theirs;
//!    once more than 1,024 are open, [`IDLE_SIGNED`] signed deliveries are
//!    sent.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use seamguard::server::webhook::{BODY_BUDGET, sign};

/// How long signed deliveries are sent while the slow bodies run.
const SLOW_BODIES_FOR: Duration = Duration::from_secs(20);
/// Idle connections held in the second scenario.
const IDLE: usize = 1_500;
/// The server's descriptor limit in the second scenario.
const DESCRIPTORS: u64 = 1_024;
/// Signed deliveries sent past the idle connections.
const IDLE_SIGNED: usize = 20;
/// GitHub's wait for an answer.
const GITHUB_WAITS: Duration = Duration::from_secs(10);
const START_TIMEOUT: Duration = Duration::from_secs(30);
const BINARY_VAR: &str = "SEAMGUARD_BENCH_BIN";
const SECRET: &str = "bench-secret";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let server = start_seamguard(dir.path(), None)?;
        println!("seamguard: {}", server.binary.display());
        slow_bodies(&server).await?;
        drop(server);
        let dir = tempfile::tempdir()?;
        let server = start_seamguard(dir.path(), Some(DESCRIPTORS))?;
        idle_connections(&server).await
    })
}

async fn slow_bodies(server: &Server) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let declared = BODY_BUDGET / 3;
    let attackers: Vec<_> = (0..3)
        .map(|_| tokio::spawn(trickler(server.addr, declared, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let mut answers = Vec::new();
    let mut n = 0;
    while started.elapsed() < SLOW_BODIES_FOR {
        answers.push(deliver(server.addr, n).await);
        n += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.await?;
    }
    report(
        &format!(
            "slow bodies: 3 unsigned clients declaring {:.1} MiB each, a byte per 100 ms",
            declared as f64 / (1024.0 * 1024.0)
        ),
        &answers,
    );
    Ok(())
}

async fn idle_connections(server: &Server) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let holders: Vec<_> = (0..IDLE)
        .map(|_| tokio::spawn(hold_idle(server.addr, opened.clone(), stop.clone())))
        .collect();
    // Once more are open than the server has descriptors, the rest wait in
    // its queue: the kernel completes connections it has not accepted.
    let started = Instant::now();
    while opened.load(Ordering::Relaxed) <= DESCRIPTORS as usize
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answers = Vec::new();
    for n in 0..IDLE_SIGNED {
        answers.push(deliver(server.addr, 1_000_000 + n).await);
    }
    stop.store(true, Ordering::Relaxed);
    for h in holders {
        h.abort();
    }
    report(
        &format!(
            "idle connections: {IDLE} clients holding one each ({} open at the start) against \
             {DESCRIPTORS} descriptors, reconnecting 100 ms after being closed",
            opened.load(Ordering::Relaxed)
        ),
        &answers,
    );
    Ok(())
}

/// An idle client: connects and sends nothing; when the server closes the
/// connection, connects again a tenth of a second later, until `stop`.
async fn hold_idle(addr: SocketAddr, opened: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let connect = tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(addr));
        if let Ok(Ok(mut stream)) = connect.await {
            if std::mem::take(&mut first) {
                opened.fetch_add(1, Ordering::Relaxed);
            }
            let mut buf = [0u8; 64];
            let _ = stream.read(&mut buf).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints the statuses and the latency percentiles of `answers`.
fn report(what: &str, answers: &[(Option<u16>, Duration)]) {
    let mut by_status = std::collections::BTreeMap::new();
    for (status, _) in answers {
        *by_status
            .entry(status.map_or("none".to_owned(), |s| s.to_string()))
            .or_insert(0) += 1;
    }
    let mut ms: Vec<f64> = answers
        .iter()
        .map(|(_, d)| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!("{what}");
    println!(
        "  {} signed deliveries: {by_status:?}; latency p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        answers.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

/// An unsigned client that declares `declared` bytes and sends one a
/// tenth of a second apart, starting over whenever answered or closed.
async fn trickler(addr: SocketAddr, declared: usize, stop: Arc<AtomicBool>) {
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
        while !stop.load(Ordering::Relaxed) {
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

/// Sends signed `ping` number `n` on a new connection; its status (`None`:
/// no answer within GitHub's wait) and how long it took.
async fn deliver(addr: SocketAddr, n: usize) -> (Option<u16>, Duration) {
    // Each its own bytes: the same signed body again is a replay (200).
    let body = format!(r#"{{"zen":"Keep it logically awesome.","hook_id":{n}}}"#);
    let body = body.as_bytes();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: seamguard\r\ncontent-type: application/json\r\n\
         x-github-event: ping\r\nx-github-delivery: 00000000-0000-11f0-8000-{n:012}\r\n\
         x-hub-signature-256: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        sign(SECRET.as_bytes(), body),
        body.len()
    );
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while seen.len() < 12 {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen)
            .strip_prefix("HTTP/1.1 ")?
            .get(..3)?
            .parse()
            .ok()
    };
    let status = tokio::time::timeout(GITHUB_WAITS, exchange)
        .await
        .ok()
        .flatten();
    (status, started.elapsed())
}

struct Server {
    child: Child,
    addr: SocketAddr,
    binary: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `seamguard serve` on loopback with its store in `dir`, GitHub on a
/// dead port, and `descriptors` as its limit when given.
fn start_seamguard(dir: &Path, descriptors: Option<u64>) -> anyhow::Result<Server> {
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/test-app-key.pem");
    let binary = std::env::var_os(BINARY_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_seamguard")));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = Command::new(&binary);
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ID", "1")
        .env("PRIVATE_KEY_PATH", key)
        .env("WEBHOOK_SECRET", SECRET)
        .env("GITHUB_API_URL", format!("http://127.0.0.1:{dead}/"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("seamguard.db").display()),
        )
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("CREDENTIALS_FILE", dir.join("credentials.json"))
        .env("REDELIVERY_INTERVAL", "0")
        .env("RECONCILE_INTERVAL", "0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "error,seamguard::server=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(n) = descriptors {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches nothing shared.
        unsafe {
            command.pre_exec(move || {
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
    let mut child = command
        .spawn()
        .with_context(|| format!("spawn {}", binary.display()))?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = listening_addr(&line) {
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(START_TIMEOUT)
        .context("seamguard did not say where it listens")?;
    Ok(Server {
        child,
        addr,
        binary,
    })
}

/// The address in a "... listening on ADDR" line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on ").nth(1)?;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.parse().ok()
}

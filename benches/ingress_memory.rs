//! Memory of `seamguard serve` while many large deliveries arrive at once
//! (issue 13): [`CLIENTS`] signed `push` deliveries of [`BODY_MIB`] MiB
//! each, on their own connections, all in flight together.
//!
//! `cargo bench --bench ingress_memory` (`--profile dev` measures the debug
//! build, which needs no release build of the dependencies;
//! `SEAMGUARD_BENCH_BIN=path` measures another seamguard binary, e.g. the
//! build before a change). Never part of `cargo test`.
//!
//! Each client sends its headers and every byte of its body but the last,
//! then waits until all the others have done the same (or were answered
//! early): that is the moment with the most body bytes in flight, and the
//! server's RSS is read then. Then the last bytes go, every answer is read,
//! and deliveries answered 503 are sent again (as GitHub's redelivery or
//! seamguard's missed-delivery sweep would bring them) until each one is
//! acknowledged. RSS is sampled every [`RSS_SAMPLE_EVERY`] throughout, and
//! the kernel's high-water mark (`VmHWM`) is read at the end.

#[path = "common/rss.rs"]
mod rss;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use rss::{PeakSampler, mib, vm_kib};
use seamguard::server::webhook::sign;

/// Deliveries in flight at once: the figure of the issue.
const CLIENTS: usize = 32;
/// Size of each delivery's body: large, under GitHub's 25 MB cap.
const BODY_MIB: usize = 20;
/// How often the server's RSS is sampled.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// Pause before a refused delivery is sent again: shorter than the
/// `Retry-After` seamguard asks for, to keep the run short.
const REDELIVERY_PAUSE: Duration = Duration::from_millis(200);
/// How long the server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Names another `seamguard` binary to measure instead of this build's.
const BINARY_VAR: &str = "SEAMGUARD_BENCH_BIN";
const SECRET: &str = "bench-secret";

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing to parse.
    let dir = tempfile::tempdir()?;
    let server = start_seamguard(dir.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(&server))
}

async fn run(server: &Server) -> anyhow::Result<()> {
    let pid = server.child.id();
    // Let the store open and the engine settle before the idle figure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = vm_kib(pid, "VmRSS")?;

    let sampler = PeakSampler::start(pid, RSS_SAMPLE_EVERY, idle);

    let bodies: Vec<Arc<Vec<u8>>> = (0..CLIENTS).map(|n| Arc::new(push_body(n))).collect();
    let held = Arc::new(Barrier::new(CLIENTS + 1));
    let go = Arc::new(Barrier::new(CLIENTS + 1));
    let started = Instant::now();
    let mut clients = Vec::new();
    for (n, body) in bodies.iter().enumerate() {
        let (body, held, go, addr) = (body.clone(), held.clone(), go.clone(), server.addr);
        clients.push(tokio::spawn(async move {
            deliver(addr, n, &body, Some((&held, &go))).await
        }));
    }
    held.wait().await;
    let in_flight = vm_kib(pid, "VmRSS")?;
    go.wait().await;
    let mut first = Vec::new();
    for c in clients {
        first.push(c.await??);
    }
    let answered = started.elapsed();

    // Redeliver what was refused until everything is acknowledged.
    let mut attempts = CLIENTS;
    let mut pending: Vec<usize> = (0..CLIENTS).filter(|&n| first[n] != 202).collect();
    while !pending.is_empty() {
        tokio::time::sleep(REDELIVERY_PAUSE).await;
        let mut round = Vec::new();
        for &n in &pending {
            let body = bodies[n].clone();
            let addr = server.addr;
            round.push((
                n,
                tokio::spawn(async move { deliver(addr, n, &body, None).await }),
            ));
        }
        let mut still = Vec::new();
        for (n, r) in round {
            attempts += 1;
            let status = r.await??;
            match status {
                202 | 200 => {}
                503 | 0 => still.push(n),
                other => bail!("delivery {n} answered {other}"),
            }
        }
        pending = still;
    }
    let all_stored = started.elapsed();
    let peak = sampler.stop();
    let hwm = vm_kib(pid, "VmHWM")?;

    let count = |code: u16| first.iter().filter(|&&s| s == code).count();
    let other = first
        .iter()
        .filter(|s| ![202, 503].contains(*s))
        .collect::<Vec<_>>(); // 0: reset before an answer
    println!(
        "{CLIENTS} concurrent signed deliveries of {BODY_MIB} MiB to {}",
        server.binary.display()
    );
    println!(
        "first answers: {} × 202, {} × 503, others {other:?}",
        count(202),
        count(503)
    );
    println!(
        "all {CLIENTS} acknowledged after {attempts} attempts; first answers in {:.2} s, all stored in {:.2} s",
        answered.as_secs_f64(),
        all_stored.as_secs_f64()
    );
    println!(
        "RSS: idle {:.1} MiB | every body in flight {:.1} MiB | max sampled {:.1} MiB | VmHWM {:.1} MiB",
        mib(idle),
        mib(in_flight),
        mib(peak),
        mib(hwm)
    );
    Ok(())
}

/// A signed `push` delivery of exactly [`BODY_MIB`] MiB, padded in its head
/// commit's message.
fn push_body(n: usize) -> Vec<u8> {
    let mut body = json!({
        "ref": format!("refs/heads/bench-{n}"),
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "installation": { "id": 1 },
        "repository": { "id": 1, "full_name": "acme/app" },
        "head_commit": { "message": "" },
    });
    let bare = serde_json::to_vec(&body).expect("JSON").len();
    body["head_commit"]["message"] = json!("x".repeat(BODY_MIB * 1024 * 1024 - bare));
    serde_json::to_vec(&body).expect("JSON")
}

/// Sends delivery `n` on a new connection and returns the answer's status.
/// With `stages`, every byte but the last is sent, then the client waits at
/// the first barrier (with the others) and sends the last byte after the
/// second. A client answered before it sent everything (503, say) stops
/// sending and still meets both barriers.
async fn deliver(
    addr: SocketAddr,
    n: usize,
    body: &[u8],
    stages: Option<(&Barrier, &Barrier)>,
) -> anyhow::Result<u16> {
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: seamguard\r\ncontent-type: application/json\r\n\
         x-github-event: push\r\nx-github-delivery: 00000000-0000-11f0-8000-{n:012}\r\n\
         x-hub-signature-256: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        sign(SECRET.as_bytes(), body),
        body.len()
    );
    let stream = TcpStream::connect(addr).await.context("connect")?;
    let (mut rd, mut wr) = stream.into_split();
    // A connection reset before the answer could be read counts as 0: to
    // GitHub, a failed delivery like a 503.
    let mut answer =
        tokio::spawn(async move { read_status(&mut rd).await.or(Ok::<u16, anyhow::Error>(0)) });
    let (all_but_last, last) = body.split_at(body.len() - 1);
    let sent = async {
        wr.write_all(head.as_bytes()).await?;
        wr.write_all(all_but_last).await
    };
    let early = tokio::select! {
        sent = sent => match sent {
            Ok(()) => None,
            // The server stopped reading: its answer says why.
            Err(_) => Some((&mut answer).await??),
        },
        status = &mut answer => Some(status??),
    };
    if let Some((held, go)) = stages {
        held.wait().await;
        go.wait().await;
    }
    if let Some(status) = early {
        return Ok(status);
    }
    if wr.write_all(last).await.is_err() {
        // Closed under us; the answer, if any, is already on its way.
    }
    answer.await?
}

/// The status code of the answer on `rd`.
async fn read_status(rd: &mut tokio::net::tcp::OwnedReadHalf) -> anyhow::Result<u16> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while seen.len() < 12 {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            bail!("connection closed without an answer");
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP answer: {text:?}"))
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

fn start_seamguard(dir: &Path) -> anyhow::Result<Server> {
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/test-app-key.pem");
    let binary = std::env::var_os(BINARY_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_seamguard")));
    // A loopback port where nothing listens: GitHub calls fail at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(&binary)
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
        .env("WORKERS", "1")
        .env("REDELIVERY_INTERVAL", "0")
        .env("RECONCILE_INTERVAL", "0")
        .env("LOG_FORMAT", "json")
        .env(
            "RUST_LOG",
            "warn,seamguard::server=info,seamguard::server::webhook=error",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
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

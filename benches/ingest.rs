//! Webhook ingestion over loopback: `seamguard serve` with each of its
//! stores against a bare axum endpoint that only verifies the signature,
//! side by side in one run, driven by the same load client; then the lease
//! hand-over between two replicas after a SIGKILL.
//!
//! `SEAMGUARD_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test cargo
//! bench --bench ingest` (`-- --quick` for a short run, `-- --connections
//! 256,512` for other closed-loop loads, `-- --no-handover` without the
//! hand-over; `SEAMGUARD_BENCH_BIN=path` measures another seamguard binary,
//! to compare a change with the build before it). Without
//! `SEAMGUARD_TEST_POSTGRES` the PostgreSQL targets and the hand-over are
//! left out, with one line saying so. Never part of `cargo test`.
//!
//! The targets, each in its own process(es):
//!
//! - the bare endpoint: this same benchmark binary re-executed with
//!   `--bare-endpoint`, an axum router whose handler checks
//!   `X-Hub-Signature-256` with seamguard's own `verify_signature` (same
//!   secret, constant-time comparison) and answers 202. Nothing is stored.
//! - seamguard on SQLite: the real release binary (`target/release/seamguard
//!   serve`), store on disk in a temporary directory, one worker, sweeps
//!   off, JSON logs at `warn`. `GITHUB_API_URL` points at a loopback port
//!   where nothing listens, so the evaluations the deliveries cause fail at
//!   connect and back off: the engine costs almost nothing and what is
//!   measured is the request path (verify, parse, commit, 202).
//! - seamguard on PostgreSQL, one replica: the same, on a fresh database
//!   created for the run (and dropped after it) on the server
//!   `SEAMGUARD_TEST_POSTGRES` names.
//! - seamguard on PostgreSQL, two replicas: two `serve` processes on one
//!   fresh database; the client's connections alternate between them, as
//!   a load balancer spreads GitHub's.
//!
//! The load: signed `pull_request` `synchronize` deliveries of 8 KiB
//! (installation, repository and a pull request whose long body pads it),
//! spread over [`PRS`] pull requests, each with a fresh `X-GitHub-Delivery`
//! made as GitHub makes them (a version-1 UUID stamped with the send time;
//! `-- --random-ids` for ids in no order at all, the store's worst case). The signature covers the body, not the delivery id,
//! so the 100 bodies are signed once, up front, and the client's per-request
//! work is only framing. The client is hyper's HTTP/1.1 connection API on
//! keep-alive connections, on one thread of this process, so it never takes
//! more than one of the machine's cores from the server under test.
//!
//! In this order, each phase on every target in turn, the bare endpoint
//! first:
//!
//! - Open loop at [`OPEN_LOOP_RATE`]/s on the fresh processes: deliveries
//!   are scheduled at a fixed rate whatever the answers (by a pacer
//!   thread), and latency runs from the *scheduled* send to the end of the
//!   answer, so a stall is charged to every delivery it delayed (no
//!   coordinated omission). The server's RSS is sampled meanwhile.
//! - Closed loop at each connection count of [`CONCURRENCIES`]: every
//!   connection sends as soon as its previous answer arrived; throughput
//!   over a fixed window after a warm-up, and each process's CPU time per
//!   delivery (`/proc/<pid>/stat`), the figure least disturbed by other
//!   load on the machine.
//! - The open loop again, now with the store holding every delivery of the
//!   sweep.
//!
//! Every answer must be 202. At the end every seamguard process is killed
//! with SIGKILL (no chance to flush anything) and each store's
//! `deliveries` table must hold exactly the deliveries its target
//! acknowledged: a benchmark that loses deliveries proves nothing.
//!
//! The hand-over (PostgreSQL): two replicas of the release binary against
//! the tests' fake GitHub on a fresh database, `WORK_LEASE=10s`. A pull
//! request is delivered to the one replica running; once its check run is
//! open and its compare is in flight (the fake holds that answer), a second
//! replica starts and the first is killed with SIGKILL; the figure is the
//! time from the kill until the fake has the same check run completed by
//! the survivor (one run on the head, not two). Three kills, the survivor
//! of each the next one killed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;
use sqlx::Connection;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use seamguard::config::settings::Secret;

#[path = "common/ids.rs"]
mod ids;
/// The tests' fake GitHub, for the lease hand-over.
#[path = "../tests/support/mod.rs"]
mod support;
use seamguard::server::webhook::{sign, verify_signature};

/// The argument that turns this binary into the bare endpoint (b).
const BARE_ENDPOINT_ARG: &str = "--bare-endpoint";
/// Environment variable the bare endpoint reads its secret from.
const BARE_SECRET_VAR: &str = "BENCH_WEBHOOK_SECRET";
/// Shared by the load client and both servers.
const SECRET: &str = "ingest-bench-webhook-secret";
/// The App id seamguard is started with (any positive number: it never
/// reaches GitHub).
const APP_ID: u64 = 4242;
/// The installation in every delivery.
const INSTALLATION: u64 = 1;
/// Distinct pull requests the deliveries are spread over; their work items
/// coalesce as they would in a busy repository.
const PRS: u64 = 100;
/// Size of each delivery body: a mid-sized real `pull_request` payload.
const PAYLOAD_BYTES: usize = 8 * 1024;

/// Closed-loop connection counts. Group commit shares one fsync among the
/// deliveries waiting, so seamguard's throughput grows with concurrency;
/// GitHub itself delivers with many connections at once.
const CONCURRENCIES: &[usize] = &[16, 64, 256, 512, 1024];
/// The rate of the latency figure (issue 7).
const OPEN_LOOP_RATE: u64 = 1_000;
/// Connections of the open-loop client: at 1,000/s and a few milliseconds
/// per answer a handful are busy; the rest absorb a stall without making a
/// scheduled delivery wait for a free connection.
const OPEN_LOOP_CONNECTIONS: usize = 64;
/// The p99 target at 1,000/s (issue 7); slower deliveries are listed by
/// when they were sent, so a periodic stall shows its period.
const SLOW: Duration = Duration::from_millis(20);
/// How often the server's RSS is sampled under load.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// `/proc/<pid>/stat` CPU times are in USER_HZ, which is 100 on Linux
/// whatever the kernel's HZ.
const USER_HZ: f64 = 100.0;
/// Names another `seamguard` binary to measure instead of this build's
/// (to compare a change against the binary before it, in turns).
const BINARY_VAR: &str = "SEAMGUARD_BENCH_BIN";
/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

struct Durations {
    warmup: Duration,
    closed: Duration,
    open: Duration,
}

const FULL: Durations = Durations {
    warmup: Duration::from_secs(2),
    closed: Duration::from_secs(6),
    open: Duration::from_secs(10),
};

const QUICK: Durations = Durations {
    warmup: Duration::from_millis(500),
    closed: Duration::from_secs(2),
    open: Duration::from_secs(3),
};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == BARE_ENDPOINT_ARG) {
        return bare_endpoint();
    }
    let durations = if args.iter().any(|a| a == "--quick") {
        QUICK
    } else {
        FULL
    };
    // `--connections 256` (or `16,256`) replaces the closed-loop sweep,
    // e.g. to profile one server at one load.
    let connections = match args.iter().position(|a| a == "--connections") {
        Some(i) => args
            .get(i + 1)
            .context("--connections needs a list such as 16,256")?
            .split(',')
            .map(|c| c.trim().parse::<usize>().context("--connections"))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => CONCURRENCIES.to_vec(),
    };
    // The client gets one thread: it never takes more than one core from
    // the server under test, and takes the same share from both.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ids = if args.iter().any(|a| a == "--random-ids") {
        Ids::Random
    } else {
        Ids::GitHub
    };
    // `--no-handover` leaves out the lease hand-over (PostgreSQL only).
    let handover = !args.iter().any(|a| a == "--no-handover");
    runtime.block_on(run(durations, &connections, ids, handover))
}

// ---- (b) the bare endpoint ------------------------------------------------

/// An axum endpoint that verifies the signature and answers 202, on the
/// same kind of runtime seamguard uses (multi-threaded, one worker per
/// core). Prints its address on stdout.
fn bare_endpoint() -> anyhow::Result<()> {
    let secret = std::env::var(BARE_SECRET_VAR).context(BARE_SECRET_VAR)?;
    let secrets = Arc::new(vec![Secret::new(secret)]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route(
                "/webhook",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let secrets = secrets.clone();
                    async move {
                        let header = headers
                            .get("x-hub-signature-256")
                            .and_then(|v| v.to_str().ok());
                        match verify_signature(&secrets, header, &body) {
                            Ok(()) => (StatusCode::ACCEPTED, "accepted\n"),
                            Err(_) => (StatusCode::UNAUTHORIZED, "bad or missing signature\n"),
                        }
                    }
                }),
            )
            .layer(axum::extract::DefaultBodyLimit::max(
                seamguard::server::webhook::MAX_BODY,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout();
        writeln!(out, "bare endpoint listening on {addr}")?;
        out.flush()?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

// ---- the servers under test -----------------------------------------------

/// A server process under test.
struct Server {
    name: String,
    child: Child,
    addr: SocketAddr,
    /// Its last log lines, for a diagnosis if it dies.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited.
    fn ensure_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its last log lines:\n{}",
                self.name,
                self.log.lock().unwrap().join("\n")
            );
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Log lines kept per server for a diagnosis.
const KEPT_LOG_LINES: usize = 50;

/// Starts `cmd` and waits for the line saying where it listens, read from
/// `from_stderr` or stdout; the stream is drained for the rest of its life.
fn start(name: String, mut cmd: Command, from_stderr: bool) -> anyhow::Result<Server> {
    cmd.stdin(Stdio::null());
    if from_stderr {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    }
    let mut child = cmd.spawn().with_context(|| format!("spawn {name}"))?;
    let stream: Box<dyn std::io::Read + Send> = if from_stderr {
        Box::new(child.stderr.take().expect("piped"))
    } else {
        Box::new(child.stdout.take().expect("piped"))
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(addr) = listening_addr(&line) {
                let _ = tx.send(addr);
            }
            let mut log = sink.lock().unwrap();
            if log.len() == KEPT_LOG_LINES {
                log.remove(0);
            }
            log.push(line);
        }
    });
    let mut server = Server {
        name: name.clone(),
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        log,
    };
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(addr) => server.addr = addr,
        Err(_) => {
            server.ensure_alive()?;
            bail!(
                "{name} did not say where it listens; its log:\n{}",
                server.log.lock().unwrap().join("\n")
            );
        }
    }
    Ok(server)
}

/// The address in a "... listening on ADDR" line (plain or JSON).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on ").nth(1)?;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.parse().ok()
}

/// A loopback port where nothing listens: seamguard's GitHub calls are
/// refused at once.
fn dead_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `seamguard serve` on `database_url` (SQLite in `dir`, or a PostgreSQL
/// database shared by replicas), with `dir` for its other files.
fn start_seamguard(name: String, dir: &Path, database_url: &str) -> anyhow::Result<Server> {
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/test-app-key.pem");
    let binary = std::env::var_os(BINARY_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_seamguard")));
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ID", APP_ID.to_string())
        .env("PRIVATE_KEY_PATH", key)
        .env("WEBHOOK_SECRET", SECRET)
        .env(
            "GITHUB_API_URL",
            format!("http://127.0.0.1:{}/", dead_port()?),
        )
        .env("DATABASE_URL", database_url)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("CREDENTIALS_FILE", dir.join("credentials.json"))
        .env("WORKERS", "1")
        .env("REDELIVERY_INTERVAL", "0")
        .env("RECONCILE_INTERVAL", "0")
        .env("LOG_FORMAT", "json")
        // `warn` everywhere, but the one startup line that names the port:
        // `seamguard::server` logs nothing per request at `info` (the
        // webhook module, which does, stays at `warn`).
        .env(
            "RUST_LOG",
            "warn,seamguard::server=info,seamguard::server::webhook=warn",
        );
    start(name, cmd, true)
}

fn start_bare() -> anyhow::Result<Server> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg(BARE_ENDPOINT_ARG).env(BARE_SECRET_VAR, SECRET);
    start("bare endpoint".to_owned(), cmd, false)
}

// ---- /proc ----------------------------------------------------------------

/// A `VmRSS`/`VmHWM`-style field of `/proc/<pid>/status`, in KiB.
fn vm_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// User + system CPU seconds of a process so far.
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; count from after it.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or(&stat);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `after` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 / USER_HZ)
}

/// CPU seconds of the server and of this (client) process.
#[derive(Clone, Copy)]
struct Cpu {
    server: f64,
    client: f64,
}

impl Cpu {
    /// The target's processes together (both replicas), and the client.
    fn now(target: &Target) -> anyhow::Result<Self> {
        let mut server = 0.0;
        for s in &target.servers {
            server += cpu_seconds(&s.pid().to_string())?;
        }
        Ok(Self {
            server,
            client: cpu_seconds("self")?,
        })
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            server: self.server - start.server,
            client: self.client - start.client,
        }
    }
}

// ---- the load -------------------------------------------------------------

/// The signed bodies, one per pull request.
struct Load {
    /// Each pull request's body, and where its 16-digit sequence number
    /// goes: every delivery is its own bytes (the same signed body again
    /// would be a replay, answered as a duplicate without being stored).
    bodies: Vec<(Bytes, usize)>,
    next_id: AtomicU64,
    ids: Ids,
}

/// How the load names its deliveries.
#[derive(Clone, Copy, Debug)]
enum Ids {
    /// As GitHub does: version-1 UUIDs stamped with the send time.
    GitHub,
    /// In no order at all (`--random-ids`): the worst case for the store's
    /// deduplication index, e.g. behind a proxy that rewrites the ids.
    Random,
}

impl Load {
    fn new(ids: Ids) -> anyhow::Result<Self> {
        let bodies = (1..=PRS)
            .map(|n| {
                let body = payload(n)?;
                let at = memchr::memmem::find(&body, SEQ_FIELD.as_bytes())
                    .map(|i| i + SEQ_FIELD.len())
                    .ok_or_else(|| anyhow::anyhow!("no sequence field"))?;
                Ok((Bytes::from(body), at))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            bodies,
            next_id: AtomicU64::new(1),
            ids,
        })
    }

    /// The next delivery: a fresh id, the body of pull request `id % PRS`.
    fn request(&self, addr: SocketAddr) -> hyper::Request<Full<Bytes>> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (body, at) = &self.bodies[(n % PRS) as usize];
        let mut bytes = body.to_vec();
        bytes[*at..*at + 16].copy_from_slice(format!("{n:016}").as_bytes());
        let signature = sign(SECRET.as_bytes(), &bytes);
        let body = Bytes::from(bytes);
        hyper::Request::post("/webhook")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/ingest-bench")
            .header("x-github-event", "pull_request")
            .header(
                "x-github-delivery",
                match self.ids {
                    Ids::GitHub => ids::github_guid(n),
                    Ids::Random => ids::random_guid(n),
                },
            )
            .header("x-github-hook-id", "1")
            .header("x-github-hook-installation-target-type", "integration")
            .header("x-hub-signature-256", signature.as_str())
            .body(Full::new(body))
            .expect("a valid request")
    }
}

/// Words of the filler paragraphs of a pull request body.
const PROSE: &str = "The retry loop now reads the answer before it decides, so a \
    response lost on the way back is no longer taken for a refusal. Timeouts \
    are named constants with a reason each, and the connection pool is shared \
    between the two clients instead of one per request. ";

/// The field each delivery's sequence number is written after.
const SEQ_FIELD: &str = "\"bench_seq\":\"";

/// A `pull_request` `synchronize` delivery for PR `n`, padded to
/// [`PAYLOAD_BYTES`] by its body (a long description with a checklist, as
/// real ones have).
fn payload(n: u64) -> anyhow::Result<Vec<u8>> {
    let sha = |salt: u64| {
        format!(
            "{:040x}",
            (n * 0x1000_0000_01b3 + salt) as u128 * 0x9e37_79b9
        )
    };
    let user = json!({
        "login": "octo-dev", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "html_url": "https://github.com/octo-dev", "type": "User", "site_admin": false
    });
    let owner = json!({
        "login": "acme", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=",
        "html_url": "https://github.com/acme", "type": "Organization", "site_admin": false
    });
    let repository = json!({
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": "app",
        "full_name": "acme/app", "private": true, "owner": owner,
        "html_url": "https://github.com/acme/app", "description": "The acme app",
        "fork": false, "url": "https://api.github.com/repos/acme/app",
        "created_at": "2021-03-04T10:11:12Z", "updated_at": "2026-04-20T08:00:00Z",
        "pushed_at": "2026-04-20T08:00:00Z", "default_branch": "main",
        "visibility": "private", "allow_squash_merge": true, "allow_merge_commit": false,
        "allow_rebase_merge": true, "delete_branch_on_merge": true
    });
    let branch = |label: &str, git_ref: &str, sha: String| {
        json!({
            "label": label, "ref": git_ref, "sha": sha, "user": owner,
            "repo": { "id": 1296269, "name": "app", "full_name": "acme/app",
                      "private": true, "default_branch": "main" }
        })
    };
    let api = format!("https://api.github.com/repos/acme/app/pulls/{n}");
    let pull_request = json!({
            "url": api, "id": 1_800_000_000 + n, "node_id": format!("PR_kwDOABPHjc5r{n:06}"),
            "html_url": format!("https://github.com/acme/app/pull/{n}"),
            "diff_url": format!("https://github.com/acme/app/pull/{n}.diff"),
            "number": n, "state": "open", "locked": false,
            "title": format!("Retry merge calls that fail ambiguously (part {n})"),
            "user": user, "body": "",
            "created_at": "2026-04-18T09:30:00Z", "updated_at": "2026-04-20T08:00:00Z",
            "closed_at": null, "merged_at": null, "merge_commit_sha": sha(3),
            "assignee": null, "assignees": [], "requested_reviewers": [],
            "labels": [
                { "id": 208045946, "name": "automerge", "color": "0e8a16", "default": false },
                { "id": 208045947, "name": "area/merge", "color": "c5def5", "default": false }
            ],
            "milestone": null, "draft": false,
            "head": branch(&format!("acme:feature-{n}"), &format!("feature-{n}"), sha(2)),
            "base": branch("acme:main", "main", sha(4)),
            "author_association": "MEMBER", "auto_merge": null, "active_lock_reason": null,
            "merged": false, "mergeable": null, "rebaseable": null,
            "mergeable_state": "unknown", "merged_by": null, "comments": 2,
            "review_comments": 1, "maintainer_can_modify": false, "commits": 3,
            "additions": 120, "deletions": 31, "changed_files": 6
    });
    let mut event = json!({
        "action": "synchronize",
        "number": n,
        "before": sha(1),
        "after": sha(2),
        "pull_request": pull_request,
        "repository": repository,
        "installation": { "id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" },
        "sender": user
    });
    let unpadded = serde_json::to_vec(&event)?.len();
    ensure!(
        unpadded < PAYLOAD_BYTES,
        "the payload is {unpadded} bytes before its body"
    );
    let mut text = String::from("## Why\n\n");
    let mut item = 0;
    while text.len() < PAYLOAD_BYTES - unpadded {
        item += 1;
        if item % 4 == 0 {
            text.push_str(PROSE);
            text.push_str("\n\n");
        } else {
            text.push_str(&format!(
                "- [x] step {item}: `src/engine/step_{item}.rs` keeps its lease\n"
            ));
        }
    }
    // Newlines are escaped in JSON (two bytes): trim to the exact size.
    let body = event["pull_request"]["body"]
        .as_str()
        .unwrap_or("")
        .to_owned()
        + &text;
    event["pull_request"]["body"] = json!(body);
    event["bench_seq"] = json!("0000000000000000");
    while serde_json::to_vec(&event)?.len() > PAYLOAD_BYTES {
        let mut body = event["pull_request"]["body"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        body.pop();
        event["pull_request"]["body"] = json!(body);
    }
    Ok(serde_json::to_vec(&event)?)
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one delivery and reads the whole answer; its status.
async fn deliver(sender: &mut Sender, load: &Load, addr: SocketAddr) -> anyhow::Result<u16> {
    sender.ready().await?;
    let response = sender.send_request(load.request(addr)).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

/// What a load run saw.
#[derive(Default)]
struct Outcome {
    /// Answers by status.
    statuses: BTreeMap<u16, u64>,
    latencies: Vec<Duration>,
    window: Duration,
    /// Open loop: when each delivery slower than [`SLOW`] was scheduled.
    slow: Vec<(Instant, Duration)>,
}

impl Outcome {
    fn accepted(&self) -> u64 {
        self.statuses.get(&202).copied().unwrap_or(0)
    }

    fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    fn merge(&mut self, other: Outcome) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latencies.extend(other.latencies);
        self.slow.extend(other.slow);
    }

    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    /// The `q` quantile of the latencies, in milliseconds.
    fn quantile_ms(&mut self, q: f64) -> f64 {
        self.latencies.sort_unstable();
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1].as_secs_f64() * 1e3
    }
}

/// C connections, each sending as soon as answered, for `warmup` and then
/// the measured `window`; with several replicas the connections are spread
/// over them in turn (as a load balancer spreads GitHub's). Every delivery
/// counts toward the store check; only those answered inside the window
/// count toward throughput.
async fn closed_loop(
    addrs: &[SocketAddr],
    load: &Arc<Load>,
    connections: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<(Outcome, Outcome)> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + window;
    let mut tasks = JoinSet::new();
    for i in 0..connections {
        let addr = addrs[i % addrs.len()];
        let mut sender = connect(addr).await?;
        let load = load.clone();
        tasks.spawn(async move {
            let mut warm = Outcome::default();
            let mut measured = Outcome::default();
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let status = deliver(&mut sender, &load, addr).await?;
                let done = Instant::now();
                let into = if sent >= measure_from && done <= end {
                    &mut measured
                } else {
                    &mut warm
                };
                *into.statuses.entry(status).or_default() += 1;
                into.latencies.push(done - sent);
            }
            anyhow::Ok((warm, measured))
        });
    }
    let mut warm = Outcome::default();
    let mut measured = Outcome {
        window,
        ..Outcome::default()
    };
    while let Some(joined) = tasks.join_next().await {
        let (w, m) = joined??;
        warm.merge(w);
        measured.merge(m);
    }
    Ok((warm, measured))
}

/// Deliveries scheduled at `rate` per second, evenly spaced, for `window`
/// over a pool of connections (spread over the replicas in turn); latency
/// from the scheduled time. Samples the servers' RSS meanwhile; returns
/// the largest sample of their sum (KiB).
async fn open_loop(
    addrs: &[SocketAddr],
    load: &Arc<Load>,
    rate: u64,
    window: Duration,
    pids: Vec<u32>,
) -> anyhow::Result<(Outcome, u64, Instant)> {
    let (queue, jobs) = mpsc::unbounded_channel::<Instant>();
    let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
    let mut tasks = JoinSet::new();
    for i in 0..OPEN_LOOP_CONNECTIONS {
        let addr = addrs[i % addrs.len()];
        let mut sender = connect(addr).await?;
        let (load, jobs) = (load.clone(), jobs.clone());
        tasks.spawn(async move {
            let mut seen = Outcome::default();
            loop {
                let Some(scheduled) = jobs.lock().await.recv().await else {
                    break;
                };
                let status = deliver(&mut sender, &load, addr).await?;
                *seen.statuses.entry(status).or_default() += 1;
                let latency = scheduled.elapsed();
                seen.latencies.push(latency);
                if latency > SLOW {
                    seen.slow.push((scheduled, latency));
                }
            }
            anyhow::Ok(seen)
        });
    }
    // The pacer is a thread of its own: tokio's timer has a resolution of
    // a millisecond, which would add up to a millisecond of scheduling
    // error to every latency; a sleeping thread wakes within tens of µs.
    let start = Instant::now();
    let pacer = std::thread::spawn(move || -> anyhow::Result<u64> {
        let count = (window.as_secs_f64() * rate as f64) as u32;
        let period = Duration::from_secs(1) / rate as u32;
        let rss = || -> anyhow::Result<u64> { pids.iter().map(|&p| vm_kib(p, "VmRSS")).sum() };
        let mut max_rss = rss()?;
        let mut sampled = start;
        for i in 0..count {
            let scheduled = start + period * i;
            if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            queue.send(scheduled)?;
            if sampled.elapsed() >= RSS_SAMPLE_EVERY {
                sampled = Instant::now();
                max_rss = max_rss.max(rss()?);
            }
        }
        Ok(max_rss)
    });
    let mut seen = Outcome {
        window,
        ..Outcome::default()
    };
    // The connections finish when the pacer, done, drops the queue.
    while let Some(joined) = tasks.join_next().await {
        seen.merge(joined??);
    }
    let max_rss = pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the pacer panicked"))??;
    Ok((seen, max_rss, start))
}

/// A delivery with a wrong signature must be refused: both servers really
/// verify.
async fn expect_refused_forgery(addr: SocketAddr, load: &Load) -> anyhow::Result<()> {
    let mut sender = connect(addr).await?;
    let mut request = load.request(addr);
    request.headers_mut().insert(
        "x-hub-signature-256",
        sign(b"not-the-secret", b"{}").parse()?,
    );
    sender.ready().await?;
    let status = sender.send_request(request).await?.status();
    ensure!(
        status == StatusCode::UNAUTHORIZED,
        "a forged delivery was answered {status}"
    );
    Ok(())
}

/// Rows in a SQLite store's `deliveries` table.
async fn stored_deliveries(db: &Path) -> anyhow::Result<i64> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM deliveries")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(count)
}

/// Rows in a PostgreSQL store's `deliveries` table.
async fn stored_deliveries_pg(url: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM deliveries")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(count)
}

/// Deliveries slower than [`SLOW`], grouped into stalls: runs of slow
/// deliveries scheduled less than [`SLOW`] apart.
fn stall_summary(slow: &mut [(Instant, Duration)], start: Instant) -> String {
    if slow.is_empty() {
        return format!("no delivery over {SLOW:?}");
    }
    slow.sort_unstable();
    let mut stalls: Vec<(Instant, Duration, usize)> = Vec::new();
    for &(at, latency) in slow.iter() {
        match stalls.last_mut() {
            Some((first, worst, n)) if at.duration_since(*first) < *worst + SLOW => {
                *worst = (*worst).max(latency);
                *n += 1;
            }
            _ => stalls.push((at, latency, 1)),
        }
    }
    let list: Vec<String> = stalls
        .iter()
        .map(|(at, worst, n)| {
            format!(
                "t={:.2}s {} slow, worst {:.0} ms",
                at.duration_since(start).as_secs_f64(),
                n,
                worst.as_secs_f64() * 1e3
            )
        })
        .collect();
    format!(
        "{} deliveries over {SLOW:?} in {} stalls: {}",
        slow.len(),
        stalls.len(),
        list.join("; ")
    )
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn statuses(o: &Outcome) -> String {
    o.statuses
        .iter()
        .map(|(s, n)| format!("{s}×{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a target keeps what it acknowledges.
enum Store {
    /// The bare endpoint: nothing.
    Nothing,
    Sqlite(PathBuf),
    /// A fresh PostgreSQL database (its URL), shared by the target's
    /// replicas.
    Postgres(String),
}

/// A system under test: one process, or several replicas on one store,
/// and what it acknowledged.
struct Target {
    name: String,
    servers: Vec<Server>,
    store: Store,
    /// Deliveries answered 202: all must be in the store.
    acknowledged: u64,
    /// The processes' RSS after start, KiB.
    idle_rss: u64,
}

impl Target {
    fn new(name: &str, servers: Vec<Server>, store: Store) -> anyhow::Result<Self> {
        let mut idle_rss = 0;
        for s in &servers {
            idle_rss += vm_kib(s.pid(), "VmRSS")?;
        }
        Ok(Self {
            name: name.to_owned(),
            servers,
            store,
            acknowledged: 0,
            idle_rss,
        })
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|s| s.addr).collect()
    }

    fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(Server::pid).collect()
    }

    fn ensure_alive(&mut self) -> anyhow::Result<()> {
        self.servers.iter_mut().try_for_each(Server::ensure_alive)
    }

    fn rss(&self, field: &str) -> anyhow::Result<u64> {
        self.servers.iter().map(|s| vm_kib(s.pid(), field)).sum()
    }

    /// SIGKILL every process (no chance to flush anything), then the rows
    /// in its store; `None` for the bare endpoint.
    async fn kill_and_count(&mut self) -> anyhow::Result<Option<i64>> {
        for server in &mut self.servers {
            server.child.kill()?;
            server.child.wait()?;
        }
        Ok(match &self.store {
            Store::Nothing => None,
            Store::Sqlite(db) => Some(stored_deliveries(db).await?),
            Store::Postgres(url) => Some(stored_deliveries_pg(url).await?),
        })
    }
}

/// The targets under load, the bare endpoint first (every ratio is to it).
struct Bench {
    load: Arc<Load>,
    targets: Vec<Target>,
}

impl Bench {
    /// The closed-loop sweep: max throughput at each connection count.
    async fn throughput(&mut self, d: &Durations, concurrencies: &[usize]) -> anyhow::Result<()> {
        println!();
        println!(
            "closed loop: {:?} warm-up, {:?} measured",
            d.warmup, d.closed
        );
        println!(
            "| target | connections | deliveries/s | vs bare | p50 ms | p99 ms | server CPU µs/delivery | client CPU µs/delivery |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        let load = self.load.clone();
        let mut best = vec![0.0f64; self.targets.len()];
        for &connections in concurrencies {
            let mut bare_rate = f64::NAN;
            for (i, target) in self.targets.iter_mut().enumerate() {
                let before = Cpu::now(target)?;
                let (warm, mut measured) =
                    closed_loop(&target.addrs(), &load, connections, d.warmup, d.closed).await?;
                // CPU over warm-up and window, per delivery of both.
                let cpu = Cpu::now(target)?.since(before);
                target.ensure_alive()?;
                let total = (warm.answered() + measured.answered()) as f64;
                for o in [&warm, &measured] {
                    ensure!(
                        o.accepted() == o.answered(),
                        "{}: not every answer was 202: {}",
                        target.name,
                        statuses(o)
                    );
                }
                target.acknowledged += warm.accepted() + measured.accepted();
                let rate = measured.per_second();
                let versus = if i == 0 {
                    bare_rate = rate;
                    String::new()
                } else {
                    format!("{:.2}", rate / bare_rate)
                };
                best[i] = best[i].max(rate);
                println!(
                    "| {} | {connections} | {rate:.0} | {versus} | {:.2} | {:.2} | {:.0} | {:.0} |",
                    target.name,
                    measured.quantile_ms(0.50),
                    measured.quantile_ms(0.99),
                    cpu.server / total * 1e6,
                    cpu.client / total * 1e6,
                );
            }
        }
        println!();
        println!("max throughput over the sweep:");
        for (target, rate) in self.targets.iter().zip(&best) {
            println!(
                "  {}: {rate:.0}/s, {:.2} of the bare endpoint's",
                target.name,
                rate / best[0]
            );
        }
        Ok(())
    }

    /// The open-loop latency figure at [`OPEN_LOOP_RATE`].
    async fn latency(&mut self, d: &Durations, when: &str) -> anyhow::Result<()> {
        println!();
        println!(
            "open loop, {when}: {OPEN_LOOP_RATE}/s for {:?} over {OPEN_LOOP_CONNECTIONS} \
             connections; latency from the scheduled send",
            d.open
        );
        println!(
            "| target | deliveries | achieved/s | p50 ms | p99 ms | p99.9 ms | max ms | RSS (max sampled) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        let load = self.load.clone();
        let mut stalls = Vec::new();
        for target in &mut self.targets {
            let (mut seen, rss, start) = open_loop(
                &target.addrs(),
                &load,
                OPEN_LOOP_RATE,
                d.open,
                target.pids(),
            )
            .await?;
            target.ensure_alive()?;
            ensure!(
                seen.accepted() == seen.answered(),
                "{}: not every answer was 202: {}",
                target.name,
                statuses(&seen)
            );
            target.acknowledged += seen.accepted();
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} MiB |",
                target.name,
                seen.answered(),
                seen.per_second(),
                seen.quantile_ms(0.50),
                seen.quantile_ms(0.99),
                seen.quantile_ms(0.999),
                seen.quantile_ms(1.0),
                mib(rss),
            );
            stalls.push((target.name.clone(), stall_summary(&mut seen.slow, start)));
        }
        for (name, summary) in stalls {
            println!("{name}: {summary}");
        }
        Ok(())
    }
}

/// Fresh PostgreSQL databases on one server, dropped at the end of the run
/// (whatever happened), so runs never see each other's rows.
struct PgDatabases {
    server: String,
    names: Vec<String>,
}

impl PgDatabases {
    fn new(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            names: Vec::new(),
        }
    }

    /// Creates a database and returns its URL.
    async fn create(&mut self, label: &str) -> anyhow::Result<String> {
        let name = format!("seamguard_bench_{}_{label}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&self.server)
            .await
            .with_context(|| format!("connecting to {}", self.server))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut conn)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        self.names.push(name.clone());
        let mut url = url::Url::parse(&self.server).context("the PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok(url.to_string())
    }

    async fn drop_all(&mut self) -> anyhow::Result<()> {
        if self.names.is_empty() {
            return Ok(());
        }
        let mut conn = sqlx::PgConnection::connect(&self.server).await?;
        for name in self.names.drain(..) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
        }
        conn.close().await?;
        Ok(())
    }
}

/// The PostgreSQL server the PostgreSQL targets and the hand-over run on
/// (each run creates and drops its own databases there).
const POSTGRES_VAR: &str = "SEAMGUARD_TEST_POSTGRES";

async fn run(
    d: Durations,
    concurrencies: &[usize],
    ids: Ids,
    handover: bool,
) -> anyhow::Result<()> {
    let postgres = std::env::var(POSTGRES_VAR).ok().filter(|u| !u.is_empty());
    let mut databases = PgDatabases::new(postgres.as_deref().unwrap_or_default());
    let result = run_targets(d, concurrencies, ids, postgres.as_deref(), &mut databases).await;
    let result = match result {
        Ok(()) if handover => match &postgres {
            Some(_) => hand_over(&mut databases).await,
            None => Ok(()),
        },
        other => other,
    };
    let dropped = databases.drop_all().await;
    result?;
    dropped.context("dropping the benchmark's databases")
}

async fn run_targets(
    d: Durations,
    concurrencies: &[usize],
    ids: Ids,
    postgres: Option<&str>,
    databases: &mut PgDatabases,
) -> anyhow::Result<()> {
    let load = Arc::new(Load::new(ids)?);
    let dir = tempfile::tempdir()?;
    let mut targets = Vec::new();
    let bare = start_bare()?;
    println!("(b) bare endpoint pid {} on {}", bare.pid(), bare.addr);
    targets.push(Target::new("bare endpoint", vec![bare], Store::Nothing)?);

    let sqlite_dir = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let db = sqlite_dir.join("seamguard.db");
    let sqlite = start_seamguard(
        "seamguard, SQLite".to_owned(),
        &sqlite_dir,
        &format!("sqlite://{}", db.display()),
    )?;
    println!(
        "(a) seamguard pid {} on {}, store {}",
        sqlite.pid(),
        sqlite.addr,
        db.display()
    );
    targets.push(Target::new(
        "seamguard, SQLite",
        vec![sqlite],
        Store::Sqlite(db),
    )?);

    match postgres {
        Some(_) => {
            for replicas in [1usize, 2] {
                let url = databases.create(&format!("r{replicas}")).await?;
                let name = match replicas {
                    1 => "seamguard, PostgreSQL, 1 replica".to_owned(),
                    n => format!("seamguard, PostgreSQL, {n} replicas"),
                };
                let mut servers = Vec::new();
                for r in 0..replicas {
                    let replica_dir = dir.path().join(format!("pg{replicas}-{r}"));
                    std::fs::create_dir_all(&replica_dir)?;
                    let server = start_seamguard(format!("{name} #{}", r + 1), &replica_dir, &url)?;
                    println!(
                        "({}) {name}: replica pid {} on {}",
                        if replicas == 1 { 'c' } else { 'd' },
                        server.pid(),
                        server.addr
                    );
                    servers.push(server);
                }
                targets.push(Target::new(&name, servers, Store::Postgres(url))?);
            }
        }
        None => println!(
            "PostgreSQL targets skipped: set {POSTGRES_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)"
        ),
    }
    println!(
        "ingest benchmark: {} cores; {}-byte signed pull_request deliveries over {PRS} PRs; \
         delivery ids: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.bodies[0].0.len(),
        match ids {
            Ids::GitHub => "GitHub's (version-1 UUIDs, time-stamped)",
            Ids::Random => "random (--random-ids)",
        }
    );
    for target in &targets {
        for addr in target.addrs() {
            expect_refused_forgery(addr, &load).await?;
        }
    }
    let mut bench = Bench { load, targets };

    // Latency first, on fresh processes: their RSS is that of this load
    // alone. Then throughput, then latency again with a large store.
    bench.latency(&d, "fresh store").await?;
    bench.throughput(&d, concurrencies).await?;
    bench
        .latency(&d, "the store holding every delivery so far")
        .await?;

    println!();
    for target in &bench.targets {
        println!(
            "RSS of {} (all its processes): idle after start {:.1} MiB, now {:.1} MiB, peak (VmHWM) {:.1} MiB",
            target.name,
            mib(target.idle_rss),
            mib(target.rss("VmRSS")?),
            mib(target.rss("VmHWM")?),
        );
    }

    // SIGKILL: whatever was acknowledged must already be stored.
    for target in &mut bench.targets {
        let acknowledged = target.acknowledged;
        let Some(stored) = target.kill_and_count().await? else {
            continue;
        };
        println!(
            "store check after SIGKILL, {}: {acknowledged} deliveries acknowledged with 202, \
             {stored} rows in `deliveries`",
            target.name
        );
        ensure!(
            stored as u64 == acknowledged,
            "{}: the store holds {stored} deliveries but {acknowledged} were acknowledged",
            target.name
        );
    }
    Ok(())
}

// ---- lease hand-over ------------------------------------------------------

/// The lease of the hand-over runs: long against the few milliseconds an
/// evaluation's renewal takes, short enough for several kills in a run.
const HANDOVER_LEASE: Duration = Duration::from_secs(10);
/// Kills measured.
const HANDOVERS: u64 = 3;
/// The target (issue 14): taken over within the lease and five seconds.
const HANDOVER_SLACK: Duration = Duration::from_secs(5);

/// A replica killed with SIGKILL in the middle of an evaluation (its check
/// run open, the compare that follows hanging): the time from the kill
/// until the other replica has completed that same check run, read from
/// the fake GitHub. Two replicas of the release binary on a fresh database;
/// each round the survivor is the next one killed.
async fn hand_over(databases: &mut PgDatabases) -> anyhow::Result<()> {
    use support::binary::Process;
    use support::flows::feature_pr;

    let url = databases.create("handover").await?;
    let gh = support::FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let dirs: Vec<tempfile::TempDir> = (0..=HANDOVERS)
        .map(|_| tempfile::tempdir())
        .collect::<Result<_, _>>()?;
    let env = |dir: &Path| {
        let mut env = support::binary::env(&gh, dir);
        for (k, v) in &mut env {
            match k.as_str() {
                "DATABASE_URL" => v.clone_from(&url),
                "RUST_LOG" => *v = "warn,seamguard::server=info".to_owned(),
                _ => {}
            }
        }
        env.push((
            "WORK_LEASE".to_owned(),
            format!("{}s", HANDOVER_LEASE.as_secs()),
        ));
        env
    };
    println!();
    println!(
        "lease hand-over: two replicas on PostgreSQL, WORK_LEASE={}s; a replica killed \
         (SIGKILL) with its check run open and its compare in flight",
        HANDOVER_LEASE.as_secs()
    );
    println!("| kill | pull request | completed by the other replica after | target |");
    println!("|---:|---:|---:|---:|");
    let target = HANDOVER_LEASE + HANDOVER_SLACK;
    let mut alive = Process::spawn(&env(dirs[0].path()));
    let mut worst = Duration::ZERO;
    for round in 1..=HANDOVERS {
        let pr = 6 + round;
        let head = feature_pr(&repo, pr, &format!("feature-{pr}"), &[]);
        // The evaluation stops after opening its check run: the compare
        // that follows hangs (long past the kill), once.
        gh.fail_next("GET /compare/*", 502, "{}")
            .delay(Duration::from_secs(300));
        let delivery = repo.pull_request_event("opened", pr);
        ensure!(
            gh.deliver(&delivery, &alive.webhook()).await == 202,
            "the delivery for #{pr} was not acknowledged"
        );
        let h = head.clone();
        gh.wait_for(
            "the replica opened its run and is comparing",
            move |w| {
                w.check_runs_named("seamguard")
                    .any(|r| r.head_sha == h && !r.is_completed())
                    && w.attempts.iter().any(|a| {
                        a.method == "GET" && a.path.contains("/compare/") && a.path.contains(&h)
                    })
            },
            support::flows::WAIT,
        )
        .await;
        let survivor = Process::spawn(&env(dirs[round as usize].path()));
        alive.kill9();
        let killed = Instant::now();
        let h = head.clone();
        gh.wait_for(
            "the other replica completed the run",
            move |w| {
                w.check_runs_named("seamguard")
                    .any(|r| r.head_sha == h && r.is_completed())
            },
            target + Duration::from_secs(30),
        )
        .await;
        let took = killed.elapsed();
        worst = worst.max(took);
        let runs = gh
            .world()
            .check_runs_named("seamguard")
            .filter(|r| r.head_sha == head)
            .count();
        ensure!(
            runs == 1,
            "#{pr}: {runs} seamguard runs on its head, not one"
        );
        println!(
            "| {round} | #{pr} | {:.2} s | < {:.0} s |",
            took.as_secs_f64(),
            target.as_secs_f64()
        );
        alive = survivor;
    }
    println!(
        "hand-over: worst {:.2} s with a {:.0} s lease (target: lease + {:.0} s = {:.0} s) — {}",
        worst.as_secs_f64(),
        HANDOVER_LEASE.as_secs_f64(),
        HANDOVER_SLACK.as_secs_f64(),
        target.as_secs_f64(),
        if worst < target { "met" } else { "MISSED" }
    );
    drop(alive);
    Ok(())
}

//! The real `seamguard` binary as a child process against a
//! [`FakeGitHub`]: for end-to-end tests of the command line, crash recovery
//! (kill -9) and what it logs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::FakeGitHub;

/// A running `seamguard serve`.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything it wrote to stderr so far (its logs).
    pub log: Arc<Mutex<String>>,
}

/// The environment for `seamguard serve` against `gh`, with its store in
/// `dir`, JSON logs and test timings.
pub fn env(gh: &FakeGitHub, dir: &Path) -> Vec<(String, String)> {
    let mut env = gh.env();
    env.extend(
        [
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("seamguard.db").display()),
            ),
            ("LISTEN_ADDR", "127.0.0.1:0".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("RUST_LOG", "seamguard=debug,info".to_owned()),
            ("GITHUB_RETRY_BASE", "5ms".to_owned()),
            ("MERGE_RETRY_BASE", "20ms".to_owned()),
            ("REDELIVERY_INTERVAL", "0".to_owned()),
            ("RECONCILE_INTERVAL", "0".to_owned()),
            (
                "CREDENTIALS_FILE",
                dir.join("credentials.json").display().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

impl Process {
    /// Starts `seamguard serve` with exactly `env` (nothing inherited but
    /// PATH) and waits until it listens.
    pub fn spawn(env: &[(String, String)]) -> Self {
        Self::spawn_with(env, |_| {})
    }

    /// As [`Process::spawn`], with `configure` applied to the command
    /// before it starts (a lower descriptor limit in `pre_exec`, say).
    pub fn spawn_with(env: &[(String, String)], configure: impl FnOnce(&mut Command)) -> Self {
        Self::spawn_program(env!("CARGO_BIN_EXE_seamguard").as_ref(), env, configure)
    }

    /// As [`Process::spawn_with`], running `program` (another build of
    /// `seamguard`, for a benchmark that compares two) instead of this one.
    pub fn spawn_program(
        program: &Path,
        env: &[(String, String)],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        let mut cmd = Command::new(program);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("spawn seamguard");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "seamguard did not start listening; its log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        Self { child, addr, log }
    }

    pub fn webhook(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits until the binary has nothing to do: its `/metrics` report an
    /// empty queue (nothing due, leased or scheduled) and `gh` has none of
    /// its requests in flight. The in-process [`FakeGitHub::wait_idle`]
    /// reads the store; a separate process is asked over HTTP.
    pub async fn wait_idle(&self, gh: &FakeGitHub) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + super::flows::WAIT;
        let mut last = String::new();
        loop {
            if let Ok(r) = client.get(self.url("/metrics")).send().await {
                last = r.text().await.unwrap_or_default();
                let gauge = |name: &str| {
                    last.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                };
                let empty = gauge("seamguard_queue_depth ") == Some(0.0);
                if empty && gh.in_flight() == 0 {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the binary did not become idle; its metrics:\n{last}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (within `grace`).
    pub fn terminate(&mut self, grace: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("seamguard did not exit within {grace:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the "seamguard listening on ADDR" log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on ").nth(1)?;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.parse().ok()
}

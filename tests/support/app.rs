//! seamguard itself, started in-process against a [`FakeGitHub`]: the real
//! router, store, engine and client, on a loopback port, with a store in a
//! temporary directory and retries shrunk to milliseconds.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use seamguard::config::settings::ServeArgs;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::FakeGitHub;
use super::deliveries::WEBHOOK_SECRET;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A running seamguard.
pub struct Seamguard {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    pub dir: tempfile::TempDir,
}

impl Seamguard {
    /// seamguard against `gh` with test timings (no periodic sweeps).
    pub async fn start(gh: &FakeGitHub) -> Self {
        Self::start_with(gh, &[]).await
    }

    /// As [`start`](Self::start), with extra `serve` flags given as
    /// flag/value pairs (`&["--workers", "1"]`), replacing the defaults.
    pub async fn start_with(gh: &FakeGitHub, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(gh, dir, extra).await
    }

    /// As [`start_with`](Self::start_with), on an existing store directory
    /// (a restart).
    pub async fn start_in(gh: &FakeGitHub, dir: tempfile::TempDir, extra: &[&str]) -> Self {
        let db = format!("sqlite://{}", dir.path().join("seamguard.db").display());
        let key = FakeGitHub::private_key_path().display().to_string();
        let app_id = gh.app_id().to_string();
        let api = gh.api_url();
        let creds = dir.path().join("credentials.json").display().to_string();
        let mut flags: Vec<(String, String)> = [
            ("--app-id", app_id.as_str()),
            ("--private-key-path", key.as_str()),
            ("--webhook-secret", WEBHOOK_SECRET),
            ("--github-api-url", api.as_str()),
            ("--database-url", db.as_str()),
            ("--listen-addr", "127.0.0.1:0"),
            ("--credentials-file", creds.as_str()),
            ("--github-retry-base", "5ms"),
            ("--merge-retry-base", "20ms"),
            ("--redelivery-interval", "0"),
            ("--reconcile-interval", "0"),
            // A finished check's work runs at once unless a test asks for
            // a settle (the burst tests do).
            ("--check-settle", "0"),
            ("--shutdown-grace", "5s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for pair in extra.chunks(2) {
            let (flag, value) = (
                pair[0].to_owned(),
                pair.get(1).copied().unwrap_or("").to_owned(),
            );
            match flags.iter_mut().find(|(k, _)| *k == flag) {
                Some(slot) => slot.1 = value,
                None => flags.push((flag, value)),
            }
        }
        let mut argv = vec!["serve".to_owned()];
        for (k, v) in flags {
            argv.push(k);
            argv.push(v);
        }
        let settings = Args::try_parse_from(argv)
            .expect("serve flags parse")
            .serve
            .validate()
            .expect("settings are valid");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(seamguard::server::serve_on(
            listener,
            settings,
            shutdown.clone(),
        ));
        let app = Self {
            addr,
            shutdown,
            task: Some(task),
            dir,
        };
        app.wait_ready().await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn webhook(&self) -> String {
        self.url("/webhook")
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..500 {
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("seamguard did not become ready on {}", self.addr);
    }

    /// Stops it gracefully and returns its store directory (for a restart).
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task joins")
                .expect("server stopped cleanly");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Seamguard {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

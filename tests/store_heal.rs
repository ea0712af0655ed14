//! The store heals (issue 13): after the disk fills, deliveries are refused
//! with 503 and `/readyz` says so; once space is freed, the same process
//! accepts them again by itself, and nothing it acknowledged was lost.
//!
//! The store lives on a 2 MiB tmpfs mounted for the test (root only); where
//! mounting is not allowed the test says so in one line and passes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::flows::{WAIT, feature_pr};
use support::{Delivery, FakeGitHub, Seamguard};

/// Deliveries sent into the full disk before giving up on seeing a 503: a
/// WAL with room left in its last pages absorbs a few.
const MAX_DELIVERIES_WHILE_FULL: usize = 2_000;

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills what is left of the file system with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 4096];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
    path
}

async fn ready(client: &reqwest::Client, app: &Seamguard) -> u16 {
    client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn after_the_disk_fills_and_frees_deliveries_are_accepted_again_without_a_restart() {
    let Some(tmpfs) = Tmpfs::mount("2m") else {
        println!("skipped: cannot mount a tmpfs here (needs root); the heal test did not run");
        return;
    };
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let store = tempfile::tempdir_in(tmpfs.path()).unwrap();
    // A job that claims its item while the disk is full cannot report
    // back either: its lease stands until it runs out, so keep it short.
    let app = Seamguard::start_in(&gh, store, &["--work-lease", "1s"]).await;
    let client = reqwest::Client::new();

    let mut acknowledged: Vec<Delivery> = Vec::new();
    let first = repo.pull_request_event("opened", 7);
    assert_eq!(gh.deliver(&first, &app.webhook()).await, 202);
    acknowledged.push(first);

    let filler = fill(tmpfs.path());
    let mut refused = None;
    for _ in 0..MAX_DELIVERIES_WHILE_FULL {
        let d = repo.pull_request_event("synchronize", 7);
        match gh.deliver(&d, &app.webhook()).await {
            202 => acknowledged.push(d),
            503 => {
                refused = Some(d);
                break;
            }
            other => panic!("a delivery into a full disk answered {other}"),
        }
    }
    let refused = refused.expect("a full disk refuses deliveries with 503");
    // `/readyz` probes the store at most once a second: it says so within
    // one probe (the one before the disk filled may still stand).
    let full = Instant::now();
    while ready(&client, &app).await != 503 {
        assert!(full.elapsed() < WAIT, "still ready while it cannot write");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        gh.deliver(&refused, &app.webhook()).await,
        503,
        "still full, still refused"
    );

    std::fs::remove_file(filler).unwrap();
    let freed = Instant::now();
    // Waits on the event "ready again", bounded by the fake's usual wait.
    while ready(&client, &app).await != 200 {
        assert!(freed.elapsed() < WAIT, "the store did not heal");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("ready again {:?} after the disk was freed", freed.elapsed());

    // GitHub's redelivery of the refused delivery is stored now.
    assert_eq!(gh.deliver(&refused, &app.webhook()).await, 202);
    // Everything acknowledged before is still stored: each is a duplicate.
    for d in &acknowledged {
        assert_eq!(
            gh.deliver(d, &app.webhook()).await,
            200,
            "{} was lost",
            d.guid
        );
    }
    // And the pull request is evaluated to the end.
    let h = head.clone();
    gh.wait_for(
        "the pull request's run completed after the disk freed",
        move |w| {
            let runs: Vec<_> = w
                .check_runs_named("seamguard")
                .filter(|r| r.head_sha == h)
                .collect();
            runs.len() == 1 && runs[0].is_completed()
        },
        WAIT,
    )
    .await;
    app.stop().await;
}

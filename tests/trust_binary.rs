//! The binary's edges (issue 23), each against the real `seamguard`:
//! passwords never printed, `/metrics` behind its own token, and the
//! public pages that cost the store no write of their own.

mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

use support::FakeGitHub;
use support::binary::{Process, env};

/// A `DATABASE_URL` with a password, on a port nothing listens on.
const DATABASE_URL: &str = "postgres://seamguard:hunter2-pw@127.0.0.1:1/seamguard";
const PASSWORD: &str = "hunter2-pw";

/// A bearer token long enough for `/metrics`.
const METRICS_TOKEN: &str = "metrics-0123456789abcdef";

/// Runs `seamguard ARGS` with exactly `env`; (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(String, String)]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seamguard"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run seamguard");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_database_password_is_never_printed() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&gh, dir.path());
    env.retain(|(k, _)| k != "DATABASE_URL");
    env.push(("DATABASE_URL".into(), DATABASE_URL.into()));

    // `--help` names the variable, not its value.
    let (code, help, _) = run(&["serve", "--help"], &env);
    assert_eq!(code, Some(0));
    assert!(help.contains("DATABASE_URL"), "{help}");
    assert!(!help.contains(PASSWORD), "{help}");

    // The startup error names the store without its password.
    let (code, _, stderr) = run(&["serve"], &env);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("postgres://seamguard:***@127.0.0.1:1/seamguard"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    // So does `doctor`.
    let (code, stdout, stderr) = run(&["doctor"], &env);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("seamguard:***@"), "{stdout}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));

    // And a malformed one is refused without echoing it.
    env.retain(|(k, _)| k != "DATABASE_URL");
    env.push(("DATABASE_URL".into(), "mysql://root:hunter2-pw@db/x".into()));
    let (code, _, stderr) = run(&["serve"], &env);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

/// `GET url` with an optional bearer; (status, body).
async fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.expect("an answer");
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_answer_only_their_token_when_one_is_set() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&gh, dir.path());
    env.push(("METRICS_TOKEN".into(), METRICS_TOKEN.into()));
    let app = Process::spawn(&env);
    let metrics = app.url("/metrics");
    let (status, body) = get(&metrics, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("seamguard_"), "{body}");
    assert_eq!(get(&metrics, Some("metrics-wrong-token-000")).await.0, 401);
    let (status, body) = get(&metrics, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("seamguard_"), "{body}");
    // The probes for orchestrators stay open.
    assert_eq!(get(&app.url("/healthz"), None).await.0, 200);
    assert_eq!(get(&app.url("/readyz"), None).await.0, 200);
}

#[tokio::test]
async fn the_public_pages_probe_the_store_at_most_once_a_second() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&gh, dir.path());
    env.push(("METRICS_TOKEN".into(), METRICS_TOKEN.into()));
    let app = Process::spawn(&env);
    let probes = || async {
        let (_, body) = get(&app.url("/metrics"), Some(METRICS_TOKEN)).await;
        body.lines()
            .find_map(|l| l.strip_prefix("seamguard_store_probes_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no probe counter in:\n{body}"))
    };
    let before = probes().await;
    let started = Instant::now();
    let requests = 200;
    for n in 0..requests {
        let path = if n % 2 == 0 { "/" } else { "/readyz" };
        let (status, body) = get(&app.url(path), None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Not a speed requirement: whatever the time these took, each second
    // of it held at most one probe (plus the one the window started in).
    let seconds = started.elapsed().as_secs_f64();
    let made = probes().await - before;
    assert!(
        made <= seconds.ceil() + 1.0,
        "{made} store probes for {requests} requests in {seconds:.2} s"
    );
    assert!(made >= 1.0, "the store was probed");
}

/// The store holds private repository names, titles and findings: under a
/// umask that would make new files world-readable (022), `serve` still
/// creates every file of it readable by its owner only.
#[cfg(unix)]
#[tokio::test]
async fn the_stores_files_are_created_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn_with(&env(&gh, dir.path()), |cmd| {
        // SAFETY: umask is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
    });
    // A delivery makes the store write (the WAL and its index exist).
    assert_eq!(get(&app.url("/readyz"), None).await.0, 200);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("seamguard.db") {
            continue;
        }
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        files.push((name, mode));
    }
    assert!(
        files.len() >= 3,
        "the database, its WAL and lock: {files:?}"
    );
    assert!(files.iter().all(|(_, m)| *m == 0o600), "{files:?}");
}

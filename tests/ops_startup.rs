//! What an operator sees when `seamguard serve` starts: logs in a file carry
//! no terminal colour codes, and a startup error is exactly one line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn serve(dir: &std::path::Path, listen: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seamguard"));
    cmd.arg("serve")
        .env_clear()
        .env("LISTEN_ADDR", listen)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("db.sqlite").display()),
        )
        .env("CREDENTIALS_FILE", dir.join("creds.json"))
        .env("REDELIVERY_INTERVAL", "0")
        .env("RECONCILE_INTERVAL", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn pretty_logs_written_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // No credentials: setup mode, which logs a warning as it starts.
    let mut child = serve(dir.path(), "127.0.0.1:0").spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("setup mode"), "{line:?}");
    assert!(!line.contains('\u{1b}'), "ANSI escapes in a pipe: {line:?}");
}

#[test]
fn a_startup_error_is_exactly_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(dir.path(), &addr).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("seamguard: LISTEN_ADDR: cannot bind {addr}")),
        "{stderr}"
    );
}

//! The operator's kit outside the server: the systemd unit (verified by
//! systemd itself where it is installed), `--version` with the commit,
//! shell completions, and the license file agreeing with Cargo.toml.

use std::process::Command;

fn seamguard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_seamguard"))
        .args(args)
        .output()
        .unwrap()
}

const UNIT: &str = include_str!("../deploy/systemd/seamguard.service");

#[test]
fn the_systemd_unit_is_hardened() {
    for line in [
        "DynamicUser=yes",
        "StateDirectory=seamguard",
        "ProtectSystem=strict",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ExecStart=/usr/local/bin/seamguard serve",
    ] {
        assert!(UNIT.lines().any(|l| l == line), "missing {line}");
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The unit names the installed binary; point it at this build.
    let unit = UNIT.replace("/usr/local/bin/seamguard", env!("CARGO_BIN_EXE_seamguard"));
    let path = dir.path().join("seamguard.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("seamguard.service"), "warnings: {stderr}");
}

#[test]
fn version_names_the_commit() {
    let out = seamguard(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!("seamguard {} (", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&expected), "{text}");
    let sha = text
        .trim()
        .trim_end_matches(')')
        .rsplit('(')
        .next()
        .unwrap();
    assert!(
        sha == "unknown" || (sha.len() >= 7 && sha.bytes().all(|b| b.is_ascii_hexdigit())),
        "{text}"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef seamguard"),
        ("fish", "complete -c seamguard"),
    ] {
        let out = seamguard(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("doctor"), "{shell} completes subcommands");
    }
    assert_eq!(seamguard(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_license_file_matches_cargo_toml() {
    let license = include_str!("../LICENSE");
    assert_eq!(env!("CARGO_PKG_LICENSE"), "MIT");
    assert!(license.starts_with("MIT License"), "{license}");
    assert!(license.contains("Permission is hereby granted, free of charge"));
}

//! `seamguard check-config` and `seamguard manifest`.
//!
//! `check-config` is the same validation the App runs on a pull request's
//! base branch, for a file on disk: exit 0 when valid, 1 with one
//! `FILE:line:col: message` line per problem (on stdout, like a linter, so it
//! can be piped), 2 when the file cannot be read.

use std::path::Path;
use std::process::ExitCode;

use super::manifest::{PUBLIC_URL_ENV, manifest_json};
use super::repo::{CONFIG_NAMES, RepoConfig};

/// The file is valid.
const EXIT_VALID: u8 = 0;
/// The file has problems (listed on stdout).
const EXIT_PROBLEMS: u8 = 1;
/// The file could not be read, or the command could not run.
const EXIT_ERROR: u8 = 2;

/// Validates a repository config file; prints `file:line:col: message` per problem.
pub fn check_config(file: &Path) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("seamguard: cannot read {}: {err}", file.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let problems = match std::str::from_utf8(&bytes) {
        Ok(text) => match RepoConfig::parse(text) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        },
        Err(err) => vec![not_utf8(&bytes, err.valid_up_to())],
    };
    let mut problems = problems;
    if let Some(winner) = shadowed_by(file) {
        problems.insert(
            0,
            format!(
                "1:1: this file is ignored: {winner} beside it wins when both exist; delete one of them"
            ),
        );
    }
    if problems.is_empty() {
        println!("{}: ok", file.display());
        return ExitCode::from(EXIT_VALID);
    }
    for problem in problems {
        println!("{}:{problem}", file.display());
    }
    ExitCode::from(EXIT_PROBLEMS)
}

/// The name of the file that wins over `file` when both sit side by side
/// (`seamguard.yml` over `seamguard.yaml`), if it exists.
fn shadowed_by(file: &Path) -> Option<&'static str> {
    let [winner, loser] = CONFIG_NAMES;
    let name = file.file_name()?.to_str()?;
    (name == loser && file.with_file_name(winner).is_file()).then_some(winner)
}

/// `line:col: message` for the first byte that is not UTF-8.
fn not_utf8(bytes: &[u8], valid_up_to: usize) -> String {
    let valid = &bytes[..valid_up_to];
    let line_start = memchr::memrchr(b'\n', valid).map_or(0, |nl| nl + 1);
    let line = 1 + memchr::memchr_iter(b'\n', valid).count();
    // The prefix is valid UTF-8 by construction; count characters, as editors do.
    let column = 1 + String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count();
    format!("{line}:{column}: the file is not UTF-8 text")
}

/// Prints the GitHub App manifest (JSON) built from `app-manifest.yml`, with
/// its URLs rooted at `PUBLIC_URL` when that is set.
pub fn manifest() -> ExitCode {
    let public_url = match std::env::var(PUBLIC_URL_ENV) {
        Ok(text) if !text.trim().is_empty() => match url::Url::parse(text.trim()) {
            Ok(url) => Some(url),
            Err(err) => {
                eprintln!("seamguard: {PUBLIC_URL_ENV}: not a URL ({err}): {text}");
                return ExitCode::from(EXIT_ERROR);
            }
        },
        _ => None,
    };
    let json = match manifest_json(public_url.as_ref()) {
        Ok(json) => json,
        Err(err) => {
            eprintln!("seamguard: cannot build the manifest: {err:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match serde_json::to_string_pretty(&json) {
        Ok(text) => {
            println!("{text}");
            ExitCode::from(EXIT_VALID)
        }
        Err(err) => {
            eprintln!("seamguard: cannot print the manifest: {err}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_is_located_like_any_problem() {
        let mut bytes = "merge:\n  label: \"ét".as_bytes().to_vec();
        bytes.extend_from_slice(b"\xff\"\n");
        let err = std::str::from_utf8(&bytes).unwrap_err();
        assert_eq!(
            not_utf8(&bytes, err.valid_up_to()),
            "2:13: the file is not UTF-8 text"
        );
    }
}

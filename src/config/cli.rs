//! `seamguard check-config` and `seamguard manifest` (filled in by the config work).

use std::path::Path;
use std::process::ExitCode;

/// Validates a repository config file; prints `file:line:col: message` per problem.
pub fn check_config(_file: &Path) -> ExitCode {
    eprintln!("seamguard: check-config is not built yet");
    ExitCode::from(2)
}

/// Prints the GitHub App manifest (JSON) built from `app-manifest.yml`.
pub fn manifest() -> ExitCode {
    eprintln!("seamguard: manifest is not built yet");
    ExitCode::from(2)
}

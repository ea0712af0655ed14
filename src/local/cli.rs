//! Command-line entry points of the local guards (filled in by the scanner work).

use std::process::ExitCode;

/// `seamguard scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {}

/// `seamguard pre-push`.
#[derive(Debug, clap::Args)]
pub struct PrePushArgs {}

/// `seamguard install-hook`.
#[derive(Debug, clap::Args)]
pub struct InstallHookArgs {}

pub fn scan(_args: ScanArgs) -> ExitCode {
    eprintln!("seamguard: scan is not built yet");
    ExitCode::from(2)
}

pub fn pre_push(_args: PrePushArgs) -> ExitCode {
    eprintln!("seamguard: pre-push is not built yet; letting the push through");
    ExitCode::SUCCESS
}

pub fn install_hook(_args: InstallHookArgs) -> ExitCode {
    eprintln!("seamguard: install-hook is not built yet");
    ExitCode::from(2)
}

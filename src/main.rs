//! The `seamguard` command: serve | scan | pre-push | install-hook | check-config | manifest.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "seamguard",
    version,
    about = "Guards the merge seam of a GitHub repository"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the webhook server.
    Serve(Box<seamguard::config::settings::ServeArgs>),
    /// Run both guards on a local repository (exit 0 clean, 1 findings, 2 error).
    Scan(seamguard::local::cli::ScanArgs),
    /// The git pre-push hook: checks each pushed range, exits non-zero to block.
    PrePush(seamguard::local::cli::PrePushArgs),
    /// Install `seamguard pre-push` as this repository's git pre-push hook.
    InstallHook(seamguard::local::cli::InstallHookArgs),
    /// Validate a repository config file (exit 0 valid, 1 problems, 2 unreadable).
    CheckConfig {
        /// The file to check, e.g. .github/seamguard.yml
        file: PathBuf,
    },
    /// Print the GitHub App manifest (JSON) built from app-manifest.yml.
    Manifest,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => seamguard::server::run(*args),
        Command::Scan(args) => seamguard::local::cli::scan(args),
        Command::PrePush(args) => seamguard::local::cli::pre_push(args),
        Command::InstallHook(args) => seamguard::local::cli::install_hook(args),
        Command::CheckConfig { file } => seamguard::config::cli::check_config(&file),
        Command::Manifest => seamguard::config::cli::manifest(),
    }
}

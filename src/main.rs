//! The `seamguard` command: serve | doctor | scan | pre-push | install-hook |
//! check-config | manifest | completions.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// `seamguard --version`: the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SEAMGUARD_GIT_SHA"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "seamguard",
    version = VERSION,
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
    /// Check the settings, key, App, installations, webhook and store (exit 0 good, 1 a problem, 2 could not run).
    Doctor(Box<seamguard::config::settings::ServeArgs>),
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
    /// Print a shell completion script, e.g. `seamguard completions bash > /etc/bash_completion.d/seamguard`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => seamguard::server::run(*args),
        Command::Doctor(args) => seamguard::doctor::run(*args),
        Command::Scan(args) => seamguard::local::cli::scan(args),
        Command::PrePush(args) => seamguard::local::cli::pre_push(args),
        Command::InstallHook(args) => seamguard::local::cli::install_hook(args),
        Command::CheckConfig { file } => seamguard::config::cli::check_config(&file),
        Command::Manifest => seamguard::config::cli::manifest(),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "seamguard",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

//! The HTTP layer (being built).

use std::process::ExitCode;

use crate::config::settings::ServeArgs;

// pub mod webhook;

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("seamguard: serve is not built yet");
    ExitCode::from(2)
}

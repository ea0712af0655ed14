//! The HTTP layer (placeholder until the walking skeleton lands).

use std::process::ExitCode;

use crate::config::settings::ServeArgs;

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("seamguard: serve is not built yet");
    ExitCode::from(2)
}

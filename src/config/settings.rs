//! Server settings: environment variables, each also a `serve` flag.

/// `seamguard serve` flags (placeholder until the walking skeleton lands).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

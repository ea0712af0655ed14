//! Configuration: the server's settings (environment and flags) and the
//! per-repository `.github/seamguard.yml`.

pub mod cli;
pub mod manifest;
pub mod repo;
pub mod settings;
pub(crate) mod yaml;

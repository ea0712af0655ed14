//! seamguard: a GitHub App that stands at the merge seam of a repository.
//!
//! Data flows one way: `server` verifies, stores and acknowledges a delivery
//! into the `store`; the `engine` takes work from the store, gathers a
//! snapshot through `github` (the one seam to GitHub), asks the pure rules in
//! `gate` for a verdict, and acts on it. `local` runs the same guards on a
//! local repository for `seamguard scan` and `seamguard pre-push`.

pub mod config;
pub mod doctor;
pub mod engine;
pub mod events;
pub mod failpoint;
pub mod gate;
pub mod github;
pub mod ids;
pub mod local;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod web;

//! The one seam to GitHub. Nothing else in seamguard talks HTTP to GitHub.
//!
//! - [`auth`]: the App JWT and the installation-token cache (refreshed
//!   before use, one refresh at a time per installation).
//! - [`classify`]: transient or permanent, for every answer and transport
//!   error.
//! - [`client`]: the transport: retries with backoff and jitter, rate
//!   limits, timeouts, metrics.
//! - [`budget`] and [`governor`]: GitHub's rate limits per installation,
//!   counted and spent by priority, shared by replicas through the store.
//! - [`api`]: the named calls, one function per route.
//! - [`models`]: the shapes of GitHub's answers that seamguard reads.

pub mod api;
pub mod auth;
pub mod budget;
pub mod classify;
pub mod client;
pub mod governor;
pub mod models;

pub use api::InstallationClient;
pub use budget::Priority;
pub use client::{
    Auth, Call, ClientConfig, ErrorKind, GhError, GitHub, RateBudget, Replay, RetryPolicy,
    Timeouts, counting_requests,
};

//! The fake GitHub every integration and end-to-end test of seamguard runs
//! against: a stateful model of the parts of GitHub seamguard touches,
//! served by one wiremock responder, behind a TCP proxy that can break
//! connections.
//!
//! - [`world`]: the model (repositories, commits with whole trees, branches,
//!   pull requests, check runs, statuses, protection, rulesets, tokens,
//!   deliveries) and the log of requests.
//! - [`routes`]: the REST routes, one table, GitHub's semantics and status
//!   codes; [`json`] builds GitHub's shapes and [`diff`] real patches.
//! - [`faults`]: canned answers, scripted sequences, "acted, then failed",
//!   late changes; [`proxy`]: closed, reset and truncated connections.
//! - [`fake_github`]: [`FakeGitHub`], which starts it all and waits on it.
//! - [`scenario`]: the story-like set-up API; [`deliveries`]: signed
//!   webhook deliveries built from the world or from `fixtures/webhooks/`.
//!
//! Use it from a test file with `mod support;`.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

pub mod deliveries;
pub mod diff;
pub mod fake_github;
pub mod faults;
pub mod json;
pub mod proxy;
pub mod routes;
pub mod scenario;
pub mod world;

pub use deliveries::{Delivery, WEBHOOK_SECRET, sign};
pub use fake_github::{APP_ID, FakeGitHub, INSTALLATION_ID, Options};
pub use proxy::TransportFault;
pub use scenario::{GITHUB_ACTIONS_APP_ID, RepoHandle};
pub use world::{CheckRun, Recorded, SeenAuth, Sha, World};

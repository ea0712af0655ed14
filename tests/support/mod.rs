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
//! - [`limits`]: GitHub's primary and secondary rate limits per
//!   installation, opt-in per scenario, on a clock that may run fast.
//! - [`openapi`]: GitHub's OpenAPI description as the contract every
//!   request and answer is checked against; answers thinned to what it
//!   requires. [`data`] reads it, and GitHub's other publications the
//!   repository carries, from `fixtures/github/`.
//! - [`fake_github`]: [`FakeGitHub`], which starts it all and waits on it;
//!   [`idle`]: waiting until seamguard has nothing left to do, the only
//!   moment a test may assert that something did not happen.
//! - [`ready`]: the default scenario, `acme/app` and pull request #7.
//! - [`scenario`]: the story-like set-up API; [`deliveries`]: signed
//!   webhook deliveries built from the world or from `fixtures/webhooks/`.
//!
//! Most tests start from the default scenario ([`ready`]: `acme/app` and
//! pull request #7, in one line); the rest from the scenario API. Use it
//! from a test file with `mod support;`:
//!
//! ```ignore
//! let gh = FakeGitHub::start().await;            // App 4242, installation 1
//! let repo = gh.repo("acme/app");                // main with an initial commit
//! let base = repo.branch_tip("main");
//! let head = repo.commit(&[&base], "add feature", &[("src/a.rs", Some("fn a() {}\n"))]);
//! repo.branch("feature", &head);
//! repo.pr(7).head("feature").base("main").label("automerge").open();
//! repo.ruleset(42).on("~DEFAULT_BRANCH").requires(&["lint", "test"]);
//! repo.check_run(&head, "lint").completed("success");
//! gh.fail_next("GET /pulls/7", 502, "bad gateway");
//! gh.transport_fault_next("GET /pulls/7", TransportFault::Reset);
//! // seamguard: GITHUB_API_URL = gh.api_url(), or gh.client() in-process;
//! // gh.env() for the real binary; gh.deliver(&repo.pull_request_event("opened", 7), url).
//! gh.wait_for("a completed seamguard run",
//!     |w| w.check_runs_named("seamguard").any(|r| r.is_completed()), WAIT).await;
//! gh.wait_idle().await;                          // then: nothing else happened
//! ```
//!
//! The same with the default scenario:
//!
//! ```ignore
//! let s = ready().opted_in().open().await;       // the fake, acme/app, #7
//! s.repo.ruleset(42).on("~DEFAULT_BRANCH").requires(&["lint"]);
//! let app = s.start().await;
//! s.send(&app, "labeled").await;
//! s.wait_merged().await;
//! ```
//!
//! The fake refuses what GitHub refuses, by default: merges wait for
//! required checks (405, GitHub's wording), a pull request's mergeability is
//! `unknown` on the first read after a push, and every request, answer and
//! GraphQL document is held to GitHub's published descriptions. A scripted
//! fault that never fires fails the test when the fake is dropped, unless
//! marked `.optional()`.
//!
//! wiremock's server and the proxy run on threads of their own, so a test
//! may block its thread (on a child process, say) without stalling them.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod binary;
pub mod conversation;
pub mod data;
pub mod deliveries;
pub mod diff;
pub mod fake_github;
pub mod faults;
pub mod flows;
pub mod idle;
pub mod json;
pub mod limits;
pub mod openapi;
pub mod proxy;
pub mod ready;
pub mod real_git;
pub mod routes;
pub mod scenario;
pub mod world;

pub use app::Seamguard;
pub use deliveries::{Delivery, WEBHOOK_SECRET, sign};
pub use fake_github::{APP_ID, FakeGitHub, INSTALLATION_ID, Options};
pub use proxy::TransportFault;
pub use ready::{Ready, ready};
pub use scenario::{GITHUB_ACTIONS_APP_ID, RepoHandle};
pub use world::{CheckRun, Recorded, SeenAuth, Sha, World};

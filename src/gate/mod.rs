//! Pure rules. Nothing in here does I/O: each rule takes plain data (bytes,
//! a commit-graph view, check states, config) and returns plain data.
//!
//! - [`conflict_markers`]: the conflict-marker scanner; [`patch`] maps a
//!   unified diff onto it (only added lines, head-file line numbers).
//! - [`merge_sources`]: which merged-in history a pull request may carry.
//! - [`required_checks`]: the real gate — what is required, where it stands.
//! - [`never_comes`]: evidence from the base's history that a required check
//!   may never report.
//! - [`merge_answer`]: what GitHub's answer to a merge call means.
//! - [`merge_queue`]: enqueue once per head where the base requires GitHub's
//!   merge queue, and where a queued pull request stands.
//! - [`strict_line`]: one at a time on a strict base: the line's places and words.
//! - [`evaluation`]: the `Snapshot` of one head and `decide`, the one pure
//!   function from it to a `Decision` (conclusion, plan, gate, words).
//! - [`decision`]: the conclusion and the merge plan, the heart of `decide`.
//! - [`summary`]: the check run's words.
//! - [`independent_review`]: approvals from people who did not write or
//!   ask for an agent-written pull request (`agents.independent_approvals`).
//! - [`whole_gate`]: every other rule of the base (reviews, conversations,
//!   signatures, history, deployments, …) beside the pull request.
//! - [`stack`]: a stacked pull request merges (with everything below it)
//!   only when everything below is ready, once per stack.

pub mod conflict_markers;
pub mod decision;
pub mod evaluation;
pub mod independent_review;
pub mod merge_answer;
pub mod merge_queue;
pub mod merge_sources;
pub mod never_comes;
pub mod opt_in;
pub mod patch;
pub mod required_checks;
pub mod row_since;
pub mod stack;
pub mod strict_line;
pub mod summary;
pub mod whole_gate;

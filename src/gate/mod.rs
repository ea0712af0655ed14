//! Pure rules. Nothing in here does I/O: each rule takes plain data (bytes,
//! a commit-graph view, check states, config) and returns plain data.

pub mod conflict_markers;
pub mod merge_sources;
pub mod patch;

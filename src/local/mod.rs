//! The local twin: the same guards on a local git repository, for
//! `seamguard scan`, `seamguard pre-push` and `seamguard install-hook`.

pub mod cli;
pub mod git;
pub mod history;
pub mod hook;
pub mod markers;
pub mod report;

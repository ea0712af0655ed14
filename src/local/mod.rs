//! The local twin: the same guards on a local git repository.

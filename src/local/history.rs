//! The merge-source guard on a local repository (placeholder: filled in by the merge-source work).

//! The merge-source rule (placeholder: filled in by the merge-source work).

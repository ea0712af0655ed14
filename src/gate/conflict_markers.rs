//! The conflict-marker scanner (placeholder: filled in by the scanner work).

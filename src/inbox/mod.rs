//! The durable inbox (placeholder: filled in by the inbox work).

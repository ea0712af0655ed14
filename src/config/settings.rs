//! Server settings (placeholder).

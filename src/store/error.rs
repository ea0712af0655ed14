//! The one error the store returns.
//!
//! Callers rarely branch on the kind: the HTTP layer answers 503 for any of
//! them (GitHub may then redeliver), and a worker leaves its claim to expire.
//! The variants exist so logs and `/readyz` say *why*. The error is `Clone`
//! because one failed group commit answers every caller in the batch.

use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed: I/O error, disk full, locked by
    /// another process beyond the busy timeout, corrupt file.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// The schema could not be brought up to date at open.
    #[error("store migration failed: {0}")]
    Migration(#[source] Arc<sqlx::migrate::MigrateError>),
    /// The database's schema is newer than this build knows (a newer
    /// seamguard migrated it): running on would misread it.
    #[error(
        "DATABASE_URL: the store's schema is at migration {found}, newer than this seamguard knows \
         (up to {known}); run the newer seamguard, or restore a database it has not migrated"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// [`Store::close`](super::Store::close) was called, or the writer stopped.
    #[error("store is closed")]
    Closed,
    /// Another process holds the embedded store's lock: SQLite serves one
    /// process (several replicas need PostgreSQL).
    #[error(
        "DATABASE_URL {url} is in use by another seamguard process ({holder}, holding {lock}); \
         the embedded SQLite store serves one process: stop that one, or use postgres:// for several replicas"
    )]
    Locked {
        url: String,
        lock: String,
        holder: String,
    },
    /// `DATABASE_URL` does not name a usable SQLite database.
    #[error("invalid database url {url:?}: {why}")]
    InvalidUrl { url: String, why: String },
    /// A stored record could not be encoded or decoded (a bug, or a row
    /// written by an incompatible version).
    #[error("stored record {what}: {source}")]
    Encoding {
        what: String,
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// A stored value does not read back (a timestamp no clock can show, a
    /// repository name that does not parse).
    #[error("stored value is invalid: {0}")]
    Invalid(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(Arc::new(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migration(Arc::new(e))
    }
}

impl StoreError {
    /// A migration error, with "newer than known" told apart.
    pub(crate) fn from_migration(
        e: sqlx::migrate::MigrateError,
        migrator: &sqlx::migrate::Migrator,
    ) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(found) => Self::SchemaTooNew {
                found,
                known: migrator.iter().map(|m| m.version).max().unwrap_or(0),
            },
            e => e.into(),
        }
    }

    pub(crate) fn encoding(what: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Encoding {
            what: what.into(),
            source: Arc::new(source),
        }
    }
}

impl From<StoreError> for crate::github::governor::LedgerError {
    fn from(e: StoreError) -> Self {
        crate::github::governor::LedgerError::Unavailable(Arc::new(e))
    }
}

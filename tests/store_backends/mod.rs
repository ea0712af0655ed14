//! The two store backends for the shared store suite: an embedded SQLite
//! file in a temporary directory, or a fresh PostgreSQL database created
//! for the test and dropped after it (so runs never see each other's rows).
//!
//! PostgreSQL tests read the server's URL from `SEAMGUARD_TEST_POSTGRES`
//! (e.g. `postgres://postgres@127.0.0.1:5432/test`); without it they pass
//! after one line per test binary saying the PostgreSQL suite was skipped.

#![allow(dead_code)]

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use seamguard::store::{Store, StoreOptions};
use sqlx::Connection;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store location for one test: a URL to open, removed with the value.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// (server URL, database name) to drop.
    drop_pg: Option<(String, String)>,
}

static SKIP_NOTE: Once = Once::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The PostgreSQL server to create test databases on, if configured.
pub fn postgres_server() -> Option<String> {
    match std::env::var("SEAMGUARD_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // A CI that means to run the PostgreSQL half fails without it,
            // rather than pass on the SQLite half alone.
            assert!(
                std::env::var("SEAMGUARD_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "SEAMGUARD_REQUIRE_POSTGRES=1 but SEAMGUARD_TEST_POSTGRES is not set"
            );
            SKIP_NOTE.call_once(|| {
                println!("PostgreSQL suite skipped: SEAMGUARD_TEST_POSTGRES is not set");
            });
            None
        }
    }
}

impl TestDb {
    /// A fresh database of `backend`; `None` when PostgreSQL is not
    /// configured (the test then returns early).
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Some(Self {
                    url: format!("sqlite://{}", dir.path().join("store.db").display()),
                    _dir: Some(dir),
                    drop_pg: None,
                })
            }
            Backend::Postgres => {
                let server = postgres_server()?;
                let name = format!(
                    "seamguard_t{}_{}",
                    std::process::id(),
                    DATABASES.fetch_add(1, Ordering::Relaxed)
                );
                let mut admin = sqlx::PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("SEAMGUARD_TEST_POSTGRES={server}: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let _ = admin.close().await;
                Some(Self {
                    url: with_database(&server, &name),
                    _dir: None,
                    drop_pg: Some((server, name)),
                })
            }
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url, StoreOptions::default())
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime: a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// `server` with its database name replaced by `name`.
pub fn with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("SEAMGUARD_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

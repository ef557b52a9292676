//! Scratch databases for tests: each is created on the test PostgreSQL and dropped when its
//! handle goes, so tests run in parallel and leave nothing behind.
//!
//! The server is `MNEME_TEST_DATABASE_URL` (a URL of any database on it, used to create and
//! drop the scratch ones), by default `postgres://postgres@127.0.0.1:5432/postgres`.
#![allow(clippy::expect_used)]

use sqlx::{Connection, PgConnection};

use crate::{PgOptions, PgStore};

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("MNEME_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test; dropped (with any connection still on it) on drop.
pub struct ScratchDb {
    name: String,
    url: String,
}

impl ScratchDb {
    /// Creates an empty database. Panics with the reason when the test server cannot be
    /// reached: the PostgreSQL tests need one (`.ci/run` starts one).
    pub async fn create() -> ScratchDb {
        let admin = admin_url();
        let name = format!("mneme_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("no PostgreSQL for the tests at {admin} (MNEME_TEST_DATABASE_URL): {e}")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("creating a scratch database");
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        ScratchDb { name, url }
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database (migrated).
    pub async fn store(&self) -> PgStore {
        let options = PgOptions {
            max_connections: 4,
            ..PgOptions::default()
        };
        PgStore::connect(&self.url, options)
            .await
            .expect("connecting to the scratch database")
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}

/// The URL of database `name` on the test server (which need not exist yet: mneme creates it).
pub fn database_url(name: &str) -> String {
    with_database(&admin_url(), name)
}

/// Drops database `name` on the test server, with any connection still on it. Callable inside
/// or outside a runtime (it runs on a thread of its own); a failure is only reported.
pub fn drop_database(name: &str) {
    let admin = admin_url();
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let dropped = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to drop a scratch database");
        rt.block_on(async {
            let mut conn = PgConnection::connect(&admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await?;
            conn.close().await
        })
    })
    .join();
    if !matches!(dropped, Ok(Ok(()))) {
        eprintln!("could not drop scratch database {name}");
    }
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // The database is the path after the authority: postgres://host:port/db
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

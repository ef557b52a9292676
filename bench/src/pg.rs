//! A PostgreSQL server the bench puts mneme's databases on: one fresh database per started
//! server (or per replica set), dropped when the run ends, so runs never see each other's data.

use anyhow::{Context, Result};
use reqwest::Url;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use tokio::sync::Mutex;

use crate::phases::progress;

/// The server given by `--database-url` and the databases created on it so far.
pub(crate) struct Postgres {
    /// Where mneme's URLs are derived from (the given URL with another database name).
    url: Url,
    admin: PgPool,
    created: Mutex<Vec<String>>,
}

impl Postgres {
    /// Connects to the given database (any that exists: `postgres` will do) to create others.
    pub(crate) async fn connect(url: &str) -> Result<Postgres> {
        let parsed = Url::parse(url).with_context(|| format!("--database-url {url}"))?;
        let options: PgConnectOptions = url.parse().context("--database-url")?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", redacted(&parsed)))?;
        Ok(Postgres {
            url: parsed,
            admin,
            created: Mutex::new(Vec::new()),
        })
    }

    /// `SHOW server_version`, for the report.
    pub(crate) async fn version(&self) -> Result<String> {
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&self.admin)
            .await?;
        Ok(version)
    }

    /// Creates an empty database with a fresh name; returns its name and its URL for mneme.
    /// The bench creates it (not mneme) so that a cold start does not time PostgreSQL copying
    /// its template database, only mneme's own start and migrations.
    pub(crate) async fn create(&self) -> Result<(String, String)> {
        let name = format!("mneme_bench_{:016x}", rand::random::<u64>());
        let sql = format!("CREATE DATABASE \"{name}\"");
        sqlx::query(AssertSqlSafe(sql))
            .execute(&self.admin)
            .await
            .with_context(|| format!("creating database {name}"))?;
        self.created.lock().await.push(name.clone());
        let mut url = self.url.clone();
        url.set_path(&format!("/{name}"));
        Ok((name, url.to_string()))
    }

    /// Drops every database created here; `FORCE` ends connections a killed server left behind.
    /// Failures are reported, not returned: the measurements are done by then.
    pub(crate) async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.created.lock().await);
        for name in names {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&self.admin).await {
                progress(&format!("could not drop database {name}: {e}"));
            }
        }
    }

    /// The server's URL without password, for the report.
    pub(crate) fn display_url(&self) -> String {
        redacted(&self.url)
    }
}

/// By hand, so that a printed `Launch` never shows the password.
impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.display_url())
            .finish_non_exhaustive()
    }
}

fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Setting a password only fails for URLs that cannot have one; then there is none.
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_the_password() {
        let url = Url::parse("postgres://u:secret@h:5432/db").unwrap();
        assert_eq!(redacted(&url), "postgres://u:***@h:5432/db");
    }
}

//! The faster path for large deployments: a Letta database (PostgreSQL, the 0.16 line) read
//! directly, read-only, instead of its REST API. Its rows are the data Letta's Agent File and
//! REST answers are serializations of, so they are turned into the same values the HTTP path
//! builds (an `AgentFile` with the real ids per agent, its `Archival`, the agents and groups
//! units are made of, identities, loose blocks and tools, MCP servers, providers), and the
//! writing is the HTTP path's.
//!
//! Every row is read as `row_to_json(t)`: a column this code does not know is ignored, and one
//! another schema version lacks is absent, so it reads as its default when optional; a
//! required one missing is reported, never guessed.

mod catalog;
mod export;
mod rows;

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;

use crate::{MigrateError, Result};

pub(crate) use catalog::Catalog;

use crate::agents::Exported;
use crate::letta;
use crate::report::Report;

/// The database and what was read of it at the start.
pub(crate) struct DbSource {
    db: LettaDb,
    cat: Catalog,
}

impl DbSource {
    pub(crate) async fn open(url: &str, any_schema: bool, report: &mut Report) -> Result<DbSource> {
        let db = LettaDb::open(url, any_schema).await?;
        let cat = Catalog::load(&db, report).await?;
        Ok(DbSource { db, cat })
    }

    pub(crate) fn version(&self) -> &str {
        &self.db.version
    }

    pub(crate) fn agents(&self, report: &mut Report) -> Vec<letta::Agent> {
        self.cat.letta_agents(report)
    }

    pub(crate) fn agent(&self, id: &str) -> Result<letta::Agent> {
        let row = self.cat.agents.get(id).ok_or_else(|| {
            MigrateError::Source(format!("agent {id}: not in the Letta database"))
        })?;
        self.cat
            .letta_agent(row)
            .map_err(|why| MigrateError::Source(format!("agent {id}: {why}")))
    }

    pub(crate) async fn export(&self, agent: &letta::Agent) -> Result<Exported> {
        export::export(&self.db, &self.cat, &agent.id).await
    }

    pub(crate) async fn groups(&self, report: &mut Report) -> Result<Vec<letta::Group>> {
        catalog::groups(&self.db, report).await
    }

    pub(crate) fn mcp_servers(&self, report: &mut Report) -> Vec<mneme_types::McpServer> {
        self.cat.mcp_list(report)
    }

    pub(crate) async fn identities(
        &self,
        report: &mut Report,
    ) -> Result<Vec<(String, mneme_types::IdentityCreate)>> {
        catalog::identities(&self.db, report).await
    }

    pub(crate) fn blocks(&self, report: &mut Report) -> Vec<(String, mneme_types::CreateBlock)> {
        self.cat.block_list(report)
    }

    pub(crate) fn tools(&self, report: &mut Report) -> Vec<mneme_types::Tool> {
        self.cat.tool_list(report)
    }

    pub(crate) async fn providers(&self, report: &mut Report) -> Result<Vec<letta::Provider>> {
        catalog::providers(&self.db, report).await
    }
}

/// The Alembic revisions (`alembic_version.version_num`) of the Letta releases of the 0.16
/// line, whose schema this code reads.
pub(crate) const KNOWN_REVISIONS: [(&str, &str); 6] = [
    ("d0880aae6cee", "0.16.0"),
    ("39577145c45d", "0.16.1"),
    ("27de0f58e076", "0.16.2"),
    ("a1b2c3d4e5f8", "0.16.4"),
    ("b2c3d4e5f6a8", "0.16.5, 0.16.6"),
    ("1c28e167b74f", "0.16.7, 0.16.8"),
];

/// The tables the migration cannot do without.
const REQUIRED_TABLES: [&str; 4] = ["agents", "block", "blocks_agents", "messages"];

/// A Letta database, read in one read-only transaction (a consistent snapshot of it while
/// Letta keeps running). One connection: the reads are cheap next to the writes.
pub(crate) struct LettaDb {
    conn: Mutex<PgConnection>,
    /// Each table's columns, as this database has them.
    columns: HashMap<String, HashSet<String>>,
    pub(crate) version: String,
}

impl LettaDb {
    /// Connects read-only, checks the schema version (unless `any_schema`), and starts the
    /// snapshot.
    pub(crate) async fn open(url: &str, any_schema: bool) -> Result<LettaDb> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| MigrateError::Source(format!("not a PostgreSQL URL: {e}")))?;
        // Belt and braces: the session refuses writes even outside the transaction below.
        let options = options.options([("default_transaction_read_only", "on")]);
        let mut conn = PgConnection::connect_with(&options).await.map_err(|e| {
            MigrateError::Source(format!("cannot connect to the Letta database: {e}"))
        })?;
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut conn)
            .await
            .map_err(db_error)?;
        let columns = columns(&mut conn).await?;
        let version = schema_version(&mut conn, &columns).await?;
        check_version(version.as_deref(), any_schema)?;
        if let Some(t) = REQUIRED_TABLES.iter().find(|t| !columns.contains_key(**t)) {
            return Err(MigrateError::Source(format!(
                "the Letta database has no table {t}: not a Letta 0.16 schema"
            )));
        }
        Ok(LettaDb {
            conn: Mutex::new(conn),
            columns,
            version: version.unwrap_or_else(|| "no alembic_version".into()),
        })
    }

    pub(crate) fn has_table(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    pub(crate) fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns.get(table).is_some_and(|c| c.contains(column))
    }

    /// Every row of `table` matching `filter` (SQL over alias `t`, `$1` bound to `arg`), as
    /// JSON objects typed `T`, in `order`. `None` when the table does not exist.
    pub(crate) async fn rows<T: DeserializeOwned>(
        &self,
        table: &str,
        filter: Option<(&str, &str)>,
        order: &str,
    ) -> Result<Option<Vec<T>>> {
        if !self.has_table(table) {
            return Ok(None);
        }
        let order = known_order(self.columns.get(table), order);
        self.select(table, filter, &order).await.map(Some)
    }

    /// The rows of `from` (a table or a subquery), as [`LettaDb::rows`] reads them.
    pub(crate) async fn select<T: DeserializeOwned>(
        &self,
        from: &str,
        filter: Option<(&str, &str)>,
        order: &str,
    ) -> Result<Vec<T>> {
        let texts = self.texts(from, filter, order).await?;
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            let row = serde_json::from_str(&text).map_err(|e| {
                MigrateError::Source(format!("a row of {from} cannot be read: {e}"))
            })?;
            out.push(row);
        }
        Ok(out)
    }

    async fn texts(
        &self,
        table: &str,
        filter: Option<(&str, &str)>,
        order: &str,
    ) -> Result<Vec<String>> {
        let mut sql = format!("SELECT row_to_json(t)::text FROM {table} t");
        if let Some((cond, _)) = filter {
            sql.push_str(" WHERE ");
            sql.push_str(cond);
        }
        if !order.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(order);
        }
        // The table names and conditions are this module's constants; values are bound.
        let query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        let query = match filter {
            Some((_, arg)) => query.bind(arg.to_owned()),
            None => query,
        };
        let mut conn = self.conn.lock().await;
        query.fetch_all(&mut *conn).await.map_err(db_error)
    }
}

/// `order` (`t.a, t.b DESC`) less the columns a table of this schema lacks.
fn known_order(columns: Option<&HashSet<String>>, order: &str) -> String {
    let known = |term: &&str| {
        let column = term.trim().trim_start_matches("t.");
        let column = column.split_whitespace().next().unwrap_or_default();
        columns.is_some_and(|c| c.contains(column))
    };
    let terms: Vec<&str> = order.split(',').filter(known).collect();
    terms.join(",")
}

fn db_error(e: sqlx::Error) -> MigrateError {
    MigrateError::Source(format!("the Letta database: {e}"))
}

async fn columns(conn: &mut PgConnection) -> Result<HashMap<String, HashSet<String>>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(conn)
    .await
    .map_err(db_error)?;
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for (table, column) in rows {
        out.entry(table).or_default().insert(column);
    }
    Ok(out)
}

async fn schema_version(
    conn: &mut PgConnection,
    columns: &HashMap<String, HashSet<String>>,
) -> Result<Option<String>> {
    if !columns.contains_key("alembic_version") {
        return Ok(None);
    }
    let versions: Vec<String> = sqlx::query_scalar("SELECT version_num::text FROM alembic_version")
        .fetch_all(conn)
        .await
        .map_err(db_error)?;
    Ok(Some(versions.join(",")))
}

/// A schema outside the 0.16 line is refused (its tables may mean other things), unless the
/// operator says to read it anyway.
fn check_version(found: Option<&str>, any_schema: bool) -> Result<()> {
    if any_schema || found.is_some_and(|v| KNOWN_REVISIONS.iter().any(|(r, _)| *r == v)) {
        return Ok(());
    }
    let known: Vec<String> = KNOWN_REVISIONS
        .iter()
        .map(|(r, v)| format!("{r} ({v})"))
        .collect();
    let found = match found {
        Some(v) => format!("schema revision {v}"),
        None => "no alembic_version table (a schema Letta's migrations did not make)".into(),
    };
    Err(MigrateError::Source(format!(
        "the Letta database has {found}; this version reads the 0.16 line: {}. \
         --letta-any-schema reads it anyway (what it does not understand is reported and skipped)",
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_outside_the_line_is_refused_with_what_was_found_and_what_is_known() {
        assert!(check_version(Some("1c28e167b74f"), false).is_ok());
        let e = check_version(Some("b1c2d3e4f5a6"), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("b1c2d3e4f5a6") && e.contains("1c28e167b74f (0.16.7"),
            "{e}"
        );
        let e = check_version(None, false).unwrap_err().to_string();
        assert!(e.contains("no alembic_version"), "{e}");
        assert!(check_version(None, true).is_ok());
    }

    #[test]
    fn an_order_keeps_only_the_columns_the_table_has() {
        let columns: HashSet<String> = ["id", "is_owner"].map(String::from).into();
        assert_eq!(
            known_order(Some(&columns), "t.is_owner DESC, t.created_at, t.id"),
            "t.is_owner DESC, t.id"
        );
        assert_eq!(known_order(None, "t.id"), "");
    }
}

//! `mneme migrate`: copies a whole SQLite deployment into an empty PostgreSQL database.
//!
//! Both backends have the same tables and columns (see `mneme-store-postgres/migrations`), so
//! the copy works on tables, not records: every table of the PostgreSQL schema is read from
//! SQLite and written in foreign-key order, values converted by the PostgreSQL column type, in
//! one PostgreSQL transaction (all or nothing) and from one SQLite snapshot.
//!
//! The triggers that keep counts and fill the search outbox are off during the copy: the counts
//! are copied as they are, and the outbox is not copied but filled again with every passage and
//! every non-system message (as `reindex_search` does), numbered after the SQLite outbox's
//! last number, so that any replica's index, new or carried over, indexes all of it.
//!
//! "Empty" allows the rows every database is created with (the default organization and user):
//! they are replaced by the source's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sqlx::{AssertSqlSafe, PgConnection};

use mneme_store_postgres::{PgOptions, PgStore};
use mneme_store_sqlite::{Durability, SqliteStore};

/// Most rows per INSERT: few round trips, statements PostgreSQL plans quickly.
const ROWS_PER_INSERT: usize = 500;
/// PostgreSQL's limit on bound parameters per statement.
const MAX_PARAMS: usize = 65_535;
/// Filled by triggers in PostgreSQL; refilled after the copy rather than copied.
const OUTBOX: &str = "search_outbox";
/// The migration runner's own table: each side keeps its own.
const MIGRATIONS: &str = "schema_migrations";

/// The rows every database is created with (Letta's default organization and user), by table:
/// not the target's own data, so they do not make it non-empty, and the source's own copies
/// replace them.
fn seeded() -> [(&'static str, String); 2] {
    [
        ("users", mneme_types::DEFAULT_USER_ID.to_string()),
        ("organizations", mneme_types::DEFAULT_ORG_ID.to_string()),
    ]
}

/// The value kinds of the PostgreSQL schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
    identity: bool,
}

#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<Column>,
}

/// One value on its way to PostgreSQL, typed by its column (so a NULL has a type too).
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// The SQLite file `--from` names: `sqlite://PATH` or a plain path.
pub(crate) fn source_path(from: &str) -> PathBuf {
    PathBuf::from(from.strip_prefix("sqlite://").unwrap_or(from))
}

/// Copies the SQLite database at `source`, and the databases of the organizations beside it
/// (`tenants/<org id>/mneme.db`), each into its schema, into the (empty) PostgreSQL database
/// at `target`. Each database is one transaction; the main one goes first.
pub(crate) async fn run(source: &Path, target: &str) -> anyhow::Result<()> {
    copy_database(source, target, None).await?;
    let data_dir = source.parent().unwrap_or(Path::new("."));
    for (org, db) in crate::tenants::databases(data_dir)? {
        let schema = crate::tenants::schema_of(org);
        copy_database(&db, target, Some(schema))
            .await
            .with_context(|| format!("copying organization {org}"))?;
    }
    Ok(())
}

/// Copies one SQLite database into `schema` (the connection's default when `None`).
async fn copy_database(source: &Path, target: &str, schema: Option<String>) -> anyhow::Result<()> {
    let started = Instant::now();
    let src = open_source(source)?;
    let store = PgStore::connect(
        target,
        PgOptions {
            max_connections: 2,
            schema,
            ..PgOptions::default()
        },
    )
    .await
    .context("connecting to the PostgreSQL database (--to)")?;
    let mut tx = store.pool().begin().await?;
    let tables = tables(&mut tx).await?;
    refuse_unknown_tables(&src, &tables)?;
    refuse_non_empty(&mut tx, &tables).await?;
    clear_seeded(&mut tx).await?;
    // One snapshot of the source, even if a server still writes to it.
    src.execute_batch("BEGIN")?;
    set_triggers(&mut tx, &tables, false).await?;
    let mut total = 0;
    for table in tables.iter().filter(|t| t.name != OUTBOX) {
        total += copy_table(&src, &mut tx, table).await?;
    }
    set_sequences(&src, &mut tx, &tables).await?;
    let queued = requeue_search(&mut tx).await?;
    set_triggers(&mut tx, &tables, true).await?;
    tx.commit().await.context("committing the copy")?;
    tracing::info!(
        tables = tables.len(),
        rows = total,
        search_queued = queued,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "migrated: every table copied; the search outbox holds every passage and message \
         again, for each replica to index"
    );
    Ok(())
}

/// The source at the current schema version, read-only from here on: an older file is first
/// migrated by the SQLite store itself, a newer one is refused by it.
fn open_source(path: &Path) -> anyhow::Result<Connection> {
    if !path.is_file() {
        bail!("no SQLite database at {}", path.display());
    }
    drop(
        SqliteStore::open(path, Durability::Full)
            .with_context(|| format!("opening database {}", path.display()))?,
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening database {} read-only", path.display()))?;
    let version: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    if version != Some(mneme_store::SCHEMA_VERSION) {
        bail!(
            "{} is at schema version {version:?}, this mneme copies version {}",
            path.display(),
            mneme_store::SCHEMA_VERSION
        );
    }
    Ok(conn)
}

/// The tables of the PostgreSQL schema, parents before children, with their columns.
async fn tables(conn: &mut PgConnection) -> anyhow::Result<Vec<Table>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> $1",
    )
    .bind(MIGRATIONS)
    .fetch_all(&mut *conn)
    .await?;
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, p.relname::text FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid
         JOIN pg_class p ON p.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for name in foreign_key_order(names, &edges)? {
        let columns = columns(conn, &name).await?;
        out.push(Table { name, columns });
    }
    Ok(out)
}

/// `tables` sorted so that each comes after the tables it refers to (by name among equals,
/// so the order is stable); a cycle is refused, as no insert order could satisfy it.
fn foreign_key_order(
    mut pending: Vec<String>,
    edges: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    pending.sort();
    let mut done: Vec<String> = Vec::new();
    while !pending.is_empty() {
        let ready = |t: &String| {
            edges
                .iter()
                .filter(|(child, parent)| child == t && parent != t)
                .all(|(_, parent)| !pending.contains(parent))
        };
        let Some(i) = pending.iter().position(ready) else {
            bail!("the foreign keys between {pending:?} form a cycle");
        };
        done.push(pending.remove(i));
    }
    Ok(done)
}

async fn columns(conn: &mut PgConnection, table: &str) -> anyhow::Result<Vec<Column>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_identity::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(name, data_type, identity)| {
            let kind = match data_type.as_str() {
                "bigint" => Kind::Int,
                "text" => Kind::Text,
                "bytea" => Kind::Bytes,
                other => bail!("{table}.{name} has type {other}, which mneme migrate cannot fill"),
            };
            Ok(Column {
                name,
                kind,
                identity: identity == "YES",
            })
        })
        .collect()
}

/// A SQLite table the PostgreSQL schema lacks would be lost: refused before anything is written.
fn refuse_unknown_tables(src: &Connection, tables: &[Table]) -> anyhow::Result<()> {
    let mut stmt = src.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        let name = name?;
        if name != MIGRATIONS && !tables.iter().any(|t| t.name == name) {
            bail!("the SQLite table {name} has no PostgreSQL counterpart; nothing was copied");
        }
    }
    Ok(())
}

/// Copies go into an empty database only: merging two deployments is not a copy.
async fn refuse_non_empty(conn: &mut PgConnection, tables: &[Table]) -> anyhow::Result<()> {
    let seeded = seeded();
    for t in tables {
        let seed = seeded.iter().find(|(table, _)| *table == t.name);
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {})",
            ident(&t.name),
            if seed.is_some() { "id <> $1" } else { "TRUE" }
        );
        let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
        if let Some((_, id)) = seed {
            query = query.bind(id);
        }
        let any: bool = query.fetch_one(&mut *conn).await?;
        if any {
            bail!(
                "the target database is not empty (table {} has rows); mneme migrate copies \
                 into an empty database only, and wrote nothing",
                t.name
            );
        }
    }
    Ok(())
}

/// Deletes the target's seeded rows (see `seeded`); the copy brings the source's.
async fn clear_seeded(conn: &mut PgConnection) -> anyhow::Result<()> {
    for (table, id) in seeded() {
        let sql = format!("DELETE FROM {} WHERE id = $1", ident(table));
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// User triggers (counts, search outbox) off or back on, within the copy's transaction: the
/// copied counts are already right and the outbox is refilled once at the end. Foreign keys
/// are system triggers and stay checked.
async fn set_triggers(conn: &mut PgConnection, tables: &[Table], on: bool) -> anyhow::Result<()> {
    let verb = if on { "ENABLE" } else { "DISABLE" };
    for t in tables {
        let sql = format!("ALTER TABLE {} {verb} TRIGGER USER", ident(&t.name));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The SELECT of a table's rows in SQLite, in write order, with the PostgreSQL columns in their
/// order. An identity column SQLite lacks (a link table's `seq`, which keeps link order on
/// PostgreSQL) is the row's `rowid`, SQLite's own record of that order.
fn source_select(src: &Connection, t: &Table) -> anyhow::Result<String> {
    let mut stmt = src.prepare(&format!("SELECT name FROM pragma_table_info('{}')", t.name))?;
    let present: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut names = Vec::with_capacity(t.columns.len());
    for c in &t.columns {
        if present.contains(&c.name) {
            names.push(ident(&c.name));
        } else if c.identity {
            names.push("rowid".to_owned());
        } else {
            bail!("{}.{} is not in the SQLite database", t.name, c.name);
        }
    }
    let order = match src.prepare(&format!("SELECT rowid FROM {} LIMIT 0", ident(&t.name))) {
        Ok(_) => " ORDER BY rowid",
        // WITHOUT ROWID tables (run chunks) are read in key order.
        Err(_) => "",
    };
    Ok(format!(
        "SELECT {} FROM {}{order}",
        names.join(", "),
        ident(&t.name)
    ))
}

/// Streams one table from SQLite into batched INSERTs; answers the rows copied.
async fn copy_table(src: &Connection, conn: &mut PgConnection, t: &Table) -> anyhow::Result<u64> {
    let started = Instant::now();
    let select = source_select(src, t)?;
    let mut stmt = src.prepare(&select)?;
    let mut rows = stmt.query([])?;
    let per_insert = ROWS_PER_INSERT.min(MAX_PARAMS / t.columns.len().max(1));
    let mut batch = Vec::with_capacity(per_insert * t.columns.len());
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        for (i, column) in t.columns.iter().enumerate() {
            let cell = cell(column.kind, row.get_ref(i)?).with_context(|| {
                format!("{} row {}, column {}", t.name, copied + 1, column.name)
            })?;
            batch.push(cell);
        }
        copied += 1;
        if batch.len() == per_insert * t.columns.len() {
            insert(conn, t, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        insert(conn, t, batch).await?;
    }
    tracing::info!(
        table = %t.name,
        rows = copied,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "copied"
    );
    Ok(copied)
}

/// A SQLite value as its PostgreSQL column takes it; anything else is a corrupt row.
fn cell(kind: Kind, value: ValueRef<'_>) -> anyhow::Result<Cell> {
    Ok(match (kind, value) {
        (Kind::Int, ValueRef::Null) => Cell::Int(None),
        (Kind::Int, ValueRef::Integer(v)) => Cell::Int(Some(v)),
        (Kind::Text, ValueRef::Null) => Cell::Text(None),
        // PostgreSQL text holds no NUL character: said here, with the row, rather than by the
        // server about a whole batch.
        (Kind::Text, ValueRef::Text(v)) if v.contains(&0) => bail!("text with a NUL character"),
        (Kind::Text, ValueRef::Text(v)) => Cell::Text(Some(
            String::from_utf8(v.to_vec()).context("text not UTF-8")?,
        )),
        (Kind::Bytes, ValueRef::Null) => Cell::Bytes(None),
        (Kind::Bytes, ValueRef::Blob(v)) => Cell::Bytes(Some(v.to_vec())),
        (kind, value) => bail!("expected {kind:?}, found {:?}", value.data_type()),
    })
}

/// One multi-row INSERT of `cells` (whole rows, in column order).
async fn insert(conn: &mut PgConnection, t: &Table, cells: Vec<Cell>) -> anyhow::Result<()> {
    let width = t.columns.len();
    let rows = cells.len() / width;
    let names: Vec<String> = t.columns.iter().map(|c| ident(&c.name)).collect();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        ident(&t.name),
        names.join(", "),
        values.join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for cell in cells {
        query = match cell {
            Cell::Int(v) => query.bind(v),
            Cell::Text(v) => query.bind(v),
            Cell::Bytes(v) => query.bind(v),
        };
    }
    query
        .execute(&mut *conn)
        .await
        .with_context(|| format!("inserting into {}", t.name))?;
    Ok(())
}

/// Identity sequences continue after the highest number SQLite ever gave (its
/// `sqlite_sequence` remembers deleted rows' numbers too), so no number is given twice.
async fn set_sequences(
    src: &Connection,
    conn: &mut PgConnection,
    tables: &[Table],
) -> anyhow::Result<()> {
    for t in tables {
        for c in t.columns.iter().filter(|c| c.identity) {
            let last = last_number(src, &t.name, &c.name)?;
            // An unused sequence starts at 1; a used one continues after `last`.
            sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)")
                .bind(ident(&t.name))
                .bind(&c.name)
                .bind(last.max(1))
                .bind(last > 0)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// The highest number SQLite gave in `table.column`, deleted rows included.
fn last_number(src: &Connection, table: &str, column: &str) -> anyhow::Result<i64> {
    // A link table's `seq` was copied from SQLite's rowid (`source_select`).
    let present: bool = src.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        [table, column],
        |r| r.get(0),
    )?;
    let column = if present {
        ident(column)
    } else {
        "rowid".to_owned()
    };
    let sql = format!("SELECT COALESCE(MAX({column}), 0) FROM {}", ident(table));
    let max: i64 = src.query_row(&sql, [], |r| r.get(0))?;
    let has_sequences: bool = src.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
        [],
        |r| r.get(0),
    )?;
    let remembered: Option<i64> = if has_sequences {
        src.query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?
    } else {
        None
    };
    Ok(max.max(remembered.unwrap_or(0)))
}

/// Queues every passage and every non-system message for indexing, as `reindex_search` does.
async fn requeue_search(conn: &mut PgConnection) -> anyhow::Result<u64> {
    let passages = sqlx::query(
        "INSERT INTO search_outbox (kind, key, owner, op)
         SELECT 'passage', seq, archive_id, 'upsert' FROM passages ORDER BY seq",
    )
    .execute(&mut *conn)
    .await?;
    let messages = sqlx::query(
        "INSERT INTO search_outbox (kind, key, owner, op)
         SELECT 'message', seq, agent_id, 'upsert' FROM messages
         WHERE role <> 'system' ORDER BY seq",
    )
    .execute(&mut *conn)
    .await?;
    Ok(passages.rows_affected() + messages.rows_affected())
}

/// A quoted identifier (names come from the catalog, but quoting costs nothing).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(child: &str, parent: &str) -> (String, String) {
        (child.to_owned(), parent.to_owned())
    }

    #[test]
    fn parents_come_first_and_cycles_are_refused() {
        let names = vec!["c".to_owned(), "b".to_owned(), "a".to_owned()];
        let edges = [edge("a", "b"), edge("b", "c"), edge("c", "c")];
        let order = foreign_key_order(names.clone(), &edges).unwrap();
        assert_eq!(order, ["c", "b", "a"]);
        let cycle = [edge("a", "b"), edge("b", "a")];
        assert!(foreign_key_order(names, &cycle).is_err());
    }

    #[test]
    fn values_are_converted_by_column_type() {
        assert!(matches!(
            cell(Kind::Int, ValueRef::Integer(7)).unwrap(),
            Cell::Int(Some(7))
        ));
        assert!(matches!(
            cell(Kind::Bytes, ValueRef::Null).unwrap(),
            Cell::Bytes(None)
        ));
        assert!(cell(Kind::Int, ValueRef::Text(b"x")).is_err());
        assert!(cell(Kind::Text, ValueRef::Text(&[0xff])).is_err());
        assert!(cell(Kind::Text, ValueRef::Text(b"a\0b")).is_err());
    }

    #[test]
    fn sources_are_urls_or_paths() {
        assert_eq!(source_path("sqlite:///a/b.db"), PathBuf::from("/a/b.db"));
        assert_eq!(source_path("b.db"), PathBuf::from("b.db"));
    }
}

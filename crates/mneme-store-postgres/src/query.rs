//! Dynamic queries: a WHERE clause built term by term with its parameters, and cursor
//! pagination, shared by every list.
//!
//! Terms are written with `?` placeholders, as in the SQLite backend, and numbered (`$1`, `$2`,
//! …) when the statement is built, so that terms can be pushed in any order. SQL text here never
//! holds a `?` of its own (no `jsonb ?` operator: use `jsonb_exists`).

use mneme_store::{Order, Page};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, PgConnection, Postgres};

use crate::{Error, Result};

/// A parameter of a dynamic query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    /// A text array, for `= ANY(?)`.
    Texts(Vec<String>),
    NullText,
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<Vec<String>> for Arg {
    fn from(v: Vec<String>) -> Arg {
        Arg::Texts(v)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        v.map_or(Arg::NullText, Arg::Text)
    }
}

/// A WHERE clause under construction with its parameters, in placeholder order.
#[derive(Debug, Default)]
pub(crate) struct Where {
    pub(crate) terms: Vec<String>,
    pub(crate) params: Vec<Arg>,
}

impl Where {
    pub(crate) fn push(&mut self, term: impl Into<String>, params: impl IntoIterator<Item = Arg>) {
        self.terms.push(term.into());
        self.params.extend(params);
    }

    pub(crate) fn where_clause(&self) -> String {
        if self.terms.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.terms.join(" AND "))
        }
    }
}

/// `sql` with each `?` replaced by `$1`, `$2`, … in order.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// A statement from SQL with `?` placeholders and its parameters, bound in order.
pub(crate) fn query(sql: &str, params: Vec<Arg>) -> Query<'static, Postgres, PgArguments> {
    let mut q = sqlx::query(AssertSqlSafe(numbered(sql)));
    for p in params {
        q = match p {
            Arg::Text(s) => q.bind(s),
            Arg::Int(v) => q.bind(v),
            Arg::Texts(v) => q.bind(v),
            Arg::NullText => q.bind(None::<String>),
        };
    }
    q
}

/// Runs a dynamic query and decodes each row.
pub(crate) async fn fetch<T>(
    conn: &mut PgConnection,
    sql: &str,
    params: Vec<Arg>,
    decode: impl Fn(&PgRow) -> Result<T>,
) -> Result<Vec<T>> {
    let rows = query(sql, params).fetch_all(&mut *conn).await?;
    rows.iter().map(decode).collect()
}

/// The name lists answer for an unknown cursor of `table`.
fn kind_of(table: &str) -> &'static str {
    match table {
        "blocks" => "Block",
        "archives" => "Archive",
        "identities" => "Identity",
        "folders" => "Folder",
        "files" => "File",
        "jobs" => "Job",
        "groups" => "Group",
        "runs" => "Run",
        "steps" => "Step",
        "tools" => "Tool",
        "conversations" => "Conversation",
        "messages" => "Message",
        _ => "Agent",
    }
}

/// Adds the cursor conditions for `page` to `q`, the listing ordered by `(column, id)`.
/// `strict` makes an unknown cursor `NotFound`; otherwise it is ignored (agents), as Letta does.
pub(crate) async fn paginate(
    conn: &mut PgConnection,
    q: &mut Where,
    table: &str,
    column: &str,
    page: &Page,
    strict: bool,
) -> Result<()> {
    let forward = page.order == Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        let Some(cursor) = cursor else { continue };
        let sql = format!("SELECT ({column})::BIGINT FROM {table} WHERE id = $1");
        let key: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(cursor)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(key) = key else {
            if strict {
                return Err(Error::not_found(kind_of(table), cursor));
            }
            continue;
        };
        // "after" moves along the listing direction; "before" against it.
        let op = if after == forward { ">" } else { "<" };
        q.push(
            format!("({column}, id) {op} (?, ?)"),
            [Arg::Int(key), Arg::from(cursor)],
        );
    }
    Ok(())
}

/// `ORDER BY column, id` in the page's direction, with its limit.
pub(crate) fn order_limit(column: &str, page: &Page) -> String {
    let dir = match page.order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    format!("ORDER BY {column} {dir}, id {dir} LIMIT {}", page.limit)
}

/// `?, ?, ?` for `n` parameters (prefer `= ANY(?)` with one `Arg::Texts`).
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Deletes row `id` of `table` (its dependents go by their foreign keys); `NotFound` as `kind`
/// when there is none.
pub(crate) async fn delete_by_id(
    pool: &sqlx::PgPool,
    table: &'static str,
    kind: &'static str,
    id: impl ToString,
) -> Result<()> {
    let id = id.to_string();
    let sql = format!("DELETE FROM {table} WHERE id = $1");
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(&id)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(kind, id));
    }
    Ok(())
}

/// `NotFound` as `kind` unless row `id` of `table` exists; with `lock`, the row stays locked
/// (`FOR UPDATE`) until the transaction ends, for writes that check it first.
pub(crate) async fn ensure_row(
    conn: &mut PgConnection,
    table: &'static str,
    kind: &'static str,
    id: impl ToString,
    lock: bool,
) -> Result<()> {
    let id = id.to_string();
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT 1 FROM {table} WHERE id = $1{lock}");
    let found: Option<i32> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| Error::not_found(kind, id))
}

/// Not found unless the agent exists.
pub(crate) async fn ensure_agent(conn: &mut PgConnection, id: mneme_types::AgentId) -> Result<()> {
    ensure_row(conn, "agents", "Agent", id, false).await
}

/// Not found unless the agent exists; its row locked until the transaction ends.
pub(crate) async fn lock_agent(conn: &mut PgConnection, id: mneme_types::AgentId) -> Result<()> {
    ensure_row(conn, "agents", "Agent", id, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("a = ? AND (b, id) > (?, ?)"),
            "a = $1 AND (b, id) > ($2, $3)"
        );
    }
}

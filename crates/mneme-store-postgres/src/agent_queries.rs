//! Reading agents: one query per listing, each agent with its tags and identity links.

use mneme_store::{Agent, AgentFilter, Page};
use mneme_types::{AgentId, IdentityId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::query::{Arg, Where, fetch, order_limit, paginate};
use crate::rows::{self, AGENT_COLUMNS};
use crate::{Error, Result};
use mneme_store::codec::parse;

/// The agent's tags and identity links, aggregated in the agent's row (columns 21 and 22).
/// Links come in the order they were written (`seq`, as SQLite's `rowid`).
const LINKS: &str = "\
    COALESCE((SELECT array_agg(t.tag ORDER BY t.seq) FROM agent_tags t
              WHERE t.agent_id = agents.id), '{}'::TEXT[]),
    COALESCE((SELECT array_agg(l.identity_id ORDER BY l.seq) FROM identities_agents l
              WHERE l.agent_id = agents.id), '{}'::TEXT[])";

/// `SELECT` of agents with their links, for `FROM agents …`.
pub(crate) fn select() -> String {
    format!("SELECT {AGENT_COLUMNS}, {LINKS}")
}

/// Reads an agent with its links from a row selected with `select()`.
pub(crate) fn agent(row: &PgRow) -> Result<Agent> {
    let mut agent = rows::agent(row)?;
    agent.tags = row.try_get(21)?;
    let identities: Vec<String> = row.try_get(22)?;
    agent.identity_ids = identities
        .iter()
        .map(|id| parse::<IdentityId>(id))
        .collect::<Result<_, _>>()?;
    Ok(agent)
}

/// The agent, locked for the rest of the transaction when `lock` (a write that reads it first).
pub(crate) async fn load_agent(conn: &mut PgConnection, id: AgentId, lock: bool) -> Result<Agent> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("{} FROM agents WHERE id = ?{lock}", select());
    fetch(conn, &sql, vec![Arg::from(id.to_string())], agent)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("Agent", id))
}

/// Agents that pass `filter`, in the page's order; unknown cursors are ignored, as Letta does.
pub(crate) async fn list(
    conn: &mut PgConnection,
    filter: &AgentFilter,
    page: &Page,
) -> Result<Vec<Agent>> {
    let mut q = filter_sql(filter);
    let column = order_column(page.order_by.as_deref());
    paginate(conn, &mut q, "agents", column, page, false).await?;
    let sql = format!(
        "{} FROM agents {} {}",
        select(),
        q.where_clause(),
        order_limit(column, page)
    );
    fetch(conn, &sql, q.params, agent).await
}

/// How many agents pass `filter`.
pub(crate) async fn count(conn: &mut PgConnection, filter: &AgentFilter) -> Result<u64> {
    let q = filter_sql(filter);
    let sql = format!("SELECT COUNT(*) FROM agents {}", q.where_clause());
    let n = fetch(conn, &sql, q.params, |r| Ok(r.try_get::<i64, _>(0)?)).await?;
    Ok(rows::count(n.first().copied().unwrap_or(0)))
}

/// Agents listed through a join table (`agent_blocks`, `identities_agents`): those whose
/// `agent_id` is paired with `id` in `column`, paginated like agent lists.
pub(crate) async fn agents_joined(
    conn: &mut PgConnection,
    join: &str,
    column: &str,
    id: String,
    page: &Page,
) -> Result<Vec<Agent>> {
    let mut q = Where::default();
    q.push(
        format!("id IN (SELECT agent_id FROM {join} WHERE {column} = ?)"),
        [Arg::Text(id)],
    );
    paginate(conn, &mut q, "agents", "created_at", page, false).await?;
    let sql = format!(
        "{} FROM agents {} {}",
        select(),
        q.where_clause(),
        order_limit("created_at", page)
    );
    fetch(conn, &sql, q.params, agent).await
}

fn filter_sql(f: &AgentFilter) -> Where {
    let mut q = Where::default();
    if let Some(id) = f.id {
        q.push("id = ?", [Arg::Text(id.to_string())]);
    }
    if let Some(name) = &f.name {
        q.push("name = ?", [Arg::from(name)]);
    }
    if let Some(t) = &f.query_text {
        q.push("strpos(lower(name), lower(?)) > 0", [Arg::from(t)]);
    }
    for (col, v) in [
        ("project_id", &f.project_id),
        ("template_id", &f.template_id),
        ("base_template_id", &f.base_template_id),
        ("last_stop_reason", &f.last_stop_reason),
    ] {
        if let Some(v) = v {
            q.push(format!("{col} = ?"), [Arg::from(v)]);
        }
    }
    let links = IdentityLinks {
        id_column: "id",
        table: "identities_agents",
        column: "agent_id",
    };
    links.terms(&mut q, f.identity_id, &f.identifier_keys);
    tag_terms(&mut q, &f.tags, f.match_all_tags);
    q
}

/// Agents with all (`all`) or any of `tags`.
fn tag_terms(q: &mut Where, tags: &[String], all: bool) {
    if tags.is_empty() {
        return;
    }
    let list = Arg::Texts(tags.to_vec());
    if all {
        let mut distinct = tags.to_vec();
        distinct.sort();
        distinct.dedup();
        q.push(
            format!(
                "id IN (SELECT agent_id FROM agent_tags WHERE tag = ANY(?)
                 GROUP BY agent_id HAVING COUNT(DISTINCT tag) = {})",
                distinct.len()
            ),
            [list],
        );
    } else {
        q.push(
            "id IN (SELECT agent_id FROM agent_tags WHERE tag = ANY(?))",
            [list],
        );
    }
}

/// A table linking identities to agents or blocks, seen from the listed rows' `id_column`.
pub(crate) struct IdentityLinks {
    pub(crate) id_column: &'static str,
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
}

impl IdentityLinks {
    /// Rows linked to `identity`, and to any identity whose key is in `keys`.
    pub(crate) fn terms(&self, q: &mut Where, identity: Option<IdentityId>, keys: &[String]) {
        let (id_column, table, column) = (self.id_column, self.table, self.column);
        if let Some(identity) = identity {
            q.push(
                format!("{id_column} IN (SELECT {column} FROM {table} WHERE identity_id = ?)"),
                [Arg::Text(identity.to_string())],
            );
        }
        if !keys.is_empty() {
            q.push(
                format!(
                    "{id_column} IN (SELECT l.{column} FROM {table} l
                     JOIN identities i ON i.id = l.identity_id WHERE i.identifier_key = ANY(?))"
                ),
                [Arg::Texts(keys.to_vec())],
            );
        }
    }
}

fn order_column(order_by: Option<&str>) -> &'static str {
    match order_by {
        Some("updated_at") => "updated_at",
        Some("last_run_completion") => "COALESCE(last_run_completion, 0)",
        _ => "created_at",
    }
}

//! `IdentityStore` on SQLite: `identities` rows and their link tables to agents and blocks
//! (migration 0010), plus the agent side of the links that `agents.rs` reads and writes.

use std::fmt::Display;

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{AgentId, Block, IdentityId, IdentityType};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::SqliteStore;
use crate::agents::{Where, agents_joined, order_limit, paginate};
use crate::rows::{self, micros, placeholders, to_json};
use crate::{Error, Result, StoreResult};
use mneme_store::{
    Agent, BlockFilter, IdentityEdit, IdentityFilter, IdentityLinks, IdentityRecord, IdentityStore,
    Links, NewIdentity, Page, StoreError,
};

const COLUMNS: &str =
    "id, identifier_key, name, identity_type, project_id, properties, created_at, updated_at";

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_identity(&self, new: NewIdentity) -> StoreResult<IdentityRecord> {
        self.write(move |tx| create(tx, &new)).await
    }

    async fn upsert_identity(
        &self,
        new: NewIdentity,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> StoreResult<IdentityRecord> {
        self.write(move |tx| {
            let record = &new.identity;
            match find_key(tx, &record.identifier_key, record.project_id.as_deref())? {
                Some(id) => update(tx, id, edit, &links),
                None => create(tx, &new),
            }
        })
        .await
    }

    async fn get_identity(&self, id: IdentityId) -> StoreResult<IdentityRecord> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn get_identities(&self, ids: &[IdentityId]) -> StoreResult<Vec<IdentityRecord>> {
        let ids = ids.to_vec();
        self.read(move |conn| load_many(conn, &ids)).await
    }

    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        page: &Page,
    ) -> StoreResult<Vec<IdentityRecord>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut q = filter_sql(&filter);
            paginate(conn, &mut q, "identities", "created_at", &page, true)?;
            let sql = format!(
                "SELECT {COLUMNS} FROM identities {} {}",
                q.where_clause(),
                order_limit("created_at", &page)
            );
            query(conn, &sql, q.params)
        })
        .await
    }

    async fn count_identities(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let n: i64 =
                conn.query_row_cached("SELECT COUNT(*) FROM identities", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn update_identity(
        &self,
        id: IdentityId,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> StoreResult<IdentityRecord> {
        self.write(move |tx| update(tx, id, edit, &links)).await
    }

    async fn delete_identity(&self, id: IdentityId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached("DELETE FROM identities WHERE id = ?1", [id.to_string()])?;
            if n == 0 {
                return Err(Error::not_found("Identity", id));
            }
            Ok(())
        })
        .await
    }

    async fn agents_of_identity(&self, id: IdentityId, page: &Page) -> StoreResult<Vec<Agent>> {
        let page = page.clone();
        self.read(move |conn| {
            load(conn, id)?;
            agents_joined(
                conn,
                "identities_agents",
                "identity_id",
                id.to_string(),
                &page,
            )
        })
        .await
    }

    async fn blocks_of_identity(&self, id: IdentityId, page: &Page) -> StoreResult<Vec<Block>> {
        let page = page.clone();
        self.read(move |conn| {
            load(conn, id)?;
            let filter = BlockFilter {
                identity_id: Some(id),
                ..BlockFilter::default()
            };
            crate::blocks::list(conn, &filter, &page)
        })
        .await
    }
}

/// Loads the identity ids of all `agents` with one query, each agent's in the order linked.
pub(crate) fn fill_agent_identities(conn: &Connection, agents: &mut [Agent]) -> Result<()> {
    crate::agents::per_agent(
        conn,
        agents,
        "identities_agents",
        "identity_id",
        |a, row| {
            a.identity_ids.push(rows::parse(&row.get::<_, String>(1)?)?);
            Ok(())
        },
    )
}

/// Makes `identities` the agent's identity links, in that order; an unknown one is `NotFound`.
pub(crate) fn set_agent_identities(
    conn: &Connection,
    agent: AgentId,
    identities: &[IdentityId],
) -> Result<()> {
    conn.execute_cached(
        "DELETE FROM identities_agents WHERE agent_id = ?1",
        [agent.to_string()],
    )?;
    for identity in identities {
        ensure_row(conn, "identities", "Identity", identity)?;
        conn.execute_cached(
            "INSERT OR IGNORE INTO identities_agents (identity_id, agent_id) VALUES (?1, ?2)",
            [identity.to_string(), agent.to_string()],
        )?;
    }
    Ok(())
}

/// The listing conditions of `filter`, for an `identities` query.
fn filter_sql(f: &IdentityFilter) -> Where {
    let mut q = Where::default();
    if let Some(name) = &f.name {
        q.push(
            "instr(lower(name), lower(?)) > 0",
            [SqlValue::Text(name.clone())],
        );
    }
    if let Some(project) = &f.project_id {
        q.push("project_id = ?", [SqlValue::Text(project.clone())]);
    }
    if let Some(key) = &f.identifier_key {
        q.push("identifier_key = ?", [SqlValue::Text(key.clone())]);
    }
    if let Some(kind) = f.identity_type {
        q.push("identity_type = ?", [SqlValue::Text(kind.as_str().into())]);
    }
    q
}

fn create(conn: &Connection, new: &NewIdentity) -> Result<IdentityRecord> {
    let r = &new.identity;
    ensure_key_free(conn, &r.identifier_key, r.project_id.as_deref(), None)?;
    conn.execute_cached(
        &format!("INSERT INTO identities ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        rusqlite::params![
            r.id.to_string(),
            r.identifier_key,
            r.name,
            r.identity_type.as_str(),
            r.project_id,
            to_json(&r.properties)?,
            micros(&r.created_at),
            micros(&r.updated_at),
        ],
    )?;
    let links = IdentityLinks {
        agents: Links::Replace(new.agents.clone()),
        blocks: Links::Replace(new.blocks.clone()),
    };
    write_links(conn, r.id, &links)?;
    load(conn, r.id)
}

/// Applies `edit` and `links` to identity `id` and saves it; a changed key must be free.
fn update(
    conn: &Connection,
    id: IdentityId,
    edit: IdentityEdit,
    links: &IdentityLinks,
) -> Result<IdentityRecord> {
    let mut record = load(conn, id)?;
    let (key, project, created_at) = (
        record.identifier_key.clone(),
        record.project_id.clone(),
        record.created_at,
    );
    edit(&mut record)?;
    record.id = id;
    record.created_at = created_at;
    record.updated_at = mneme_types::time::now();
    if record.identifier_key != key || record.project_id != project {
        let project = record.project_id.as_deref();
        ensure_key_free(conn, &record.identifier_key, project, Some(id))?;
    }
    conn.execute_cached(
        "UPDATE identities SET identifier_key = ?2, name = ?3, identity_type = ?4,
            project_id = ?5, properties = ?6, updated_at = ?7
         WHERE id = ?1",
        rusqlite::params![
            id.to_string(),
            record.identifier_key,
            record.name,
            record.identity_type.as_str(),
            record.project_id,
            to_json(&record.properties)?,
            micros(&record.updated_at),
        ],
    )?;
    write_links(conn, id, links)?;
    Ok(record)
}

fn write_links(conn: &Connection, id: IdentityId, links: &IdentityLinks) -> Result<()> {
    let agents = LinkTable {
        table: "identities_agents",
        column: "agent_id",
        target: "agents",
        kind: "Agent",
    };
    let blocks = LinkTable {
        table: "identities_blocks",
        column: "block_id",
        target: "blocks",
        kind: "Block",
    };
    agents.apply(conn, id, &links.agents)?;
    blocks.apply(conn, id, &links.blocks)
}

/// One of the tables linking identities to rows of `target`.
struct LinkTable {
    table: &'static str,
    column: &'static str,
    target: &'static str,
    kind: &'static str,
}

impl LinkTable {
    fn apply<T: Display>(&self, conn: &Connection, id: IdentityId, links: &Links<T>) -> Result<()> {
        let (table, column) = (self.table, self.column);
        let ids = match links {
            Links::Keep => return Ok(()),
            Links::Replace(ids) | Links::Add(ids) | Links::Remove(ids) => ids,
        };
        for item in ids {
            ensure_row(conn, self.target, self.kind, item)?;
        }
        if let Links::Replace(_) = links {
            let sql = format!("DELETE FROM {table} WHERE identity_id = ?1");
            conn.execute_cached(&sql, [id.to_string()])?;
        }
        let sql = match links {
            Links::Remove(_) => {
                format!("DELETE FROM {table} WHERE identity_id = ?1 AND {column} = ?2")
            }
            _ => format!("INSERT OR IGNORE INTO {table} (identity_id, {column}) VALUES (?1, ?2)"),
        };
        for item in ids {
            conn.execute_cached(&sql, [id.to_string(), item.to_string()])?;
        }
        Ok(())
    }
}

fn ensure_row(conn: &Connection, table: &str, kind: &'static str, id: impl Display) -> Result<()> {
    let found = conn
        .query_row_cached(
            &format!("SELECT 1 FROM {table} WHERE id = ?1"),
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or_else(|| Error::not_found(kind, id))
}

/// No project and an empty one are one namespace, as the unique index has it.
fn find_key(conn: &Connection, key: &str, project: Option<&str>) -> Result<Option<IdentityId>> {
    let id: Option<String> = conn
        .query_row_cached(
            "SELECT id FROM identities
             WHERE identifier_key = ?1 AND IFNULL(project_id, '') = IFNULL(?2, '')",
            rusqlite::params![key, project],
            |r| r.get(0),
        )
        .optional()?;
    id.map(|id| rows::parse(&id)).transpose()
}

fn ensure_key_free(
    conn: &Connection,
    key: &str,
    project: Option<&str>,
    except: Option<IdentityId>,
) -> Result<()> {
    match find_key(conn, key, project)? {
        Some(other) if Some(other) != except => {
            let project = match project {
                Some(p) if !p.is_empty() => format!(" in project '{p}'"),
                _ => String::new(),
            };
            Err(Error::Store(StoreError::Conflict(format!(
                "An identity with identifier_key '{key}' already exists{project}"
            ))))
        }
        _ => Ok(()),
    }
}

fn load(conn: &Connection, id: IdentityId) -> Result<IdentityRecord> {
    let sql = format!("SELECT {COLUMNS} FROM identities WHERE id = ?1");
    query(conn, &sql, vec![SqlValue::Text(id.to_string())])?
        .pop()
        .ok_or_else(|| Error::not_found("Identity", id))
}

fn load_many(conn: &Connection, ids: &[IdentityId]) -> Result<Vec<IdentityRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM identities WHERE id IN ({})",
        placeholders(ids.len())
    );
    let params = ids
        .iter()
        .map(|id| SqlValue::Text(id.to_string()))
        .collect();
    let mut found = query(conn, &sql, params)?;
    Ok(ids
        .iter()
        .filter_map(|id| {
            let at = found.iter().position(|r| r.id == *id)?;
            Some(found.swap_remove(at))
        })
        .collect())
}

fn query(conn: &Connection, sql: &str, params: Vec<SqlValue>) -> Result<Vec<IdentityRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(record(row)?);
    }
    Ok(out)
}

/// Reads an identity from a row selected with `COLUMNS`.
fn record(row: &Row<'_>) -> Result<IdentityRecord> {
    let kind: String = row.get(3)?;
    Ok(IdentityRecord {
        id: rows::parse(&row.get::<_, String>(0)?)?,
        identifier_key: row.get(1)?,
        name: row.get(2)?,
        identity_type: IdentityType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("identity type {kind}")))?,
        project_id: row.get(4)?,
        properties: rows::json(&row.get::<_, String>(5)?)?,
        created_at: rows::time(row.get(6)?),
        updated_at: rows::time(row.get(7)?),
    })
}

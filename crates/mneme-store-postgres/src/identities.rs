//! `IdentityStore` on PostgreSQL: `identities` rows and their link tables to agents and blocks,
//! plus the agent side of the links that `agents.rs` writes.

use std::fmt::Display;

use async_trait::async_trait;
use mneme_store::codec::{json, micros, parse, time, to_json};
use mneme_store::{
    Agent, BlockFilter, IdentityEdit, IdentityFilter, IdentityLinks, IdentityRecord, IdentityStore,
    Links, NewIdentity, Page, StoreError,
};
use mneme_types::{AgentId, Block, IdentityId, IdentityType};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::agents::agent_queries::agents_joined;
use crate::query::{Arg, Where, fetch, order_limit, paginate};
use crate::{Error, PgStore, Result, StoreResult};

const COLUMNS: &str =
    "id, identifier_key, name, identity_type, project_id, properties, created_at, updated_at";

#[async_trait]
impl IdentityStore for PgStore {
    async fn create_identity(&self, new: NewIdentity) -> StoreResult<IdentityRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let record = create(&mut tx, &new).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(record)
    }

    async fn upsert_identity(
        &self,
        new: NewIdentity,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> StoreResult<IdentityRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let r = &new.identity;
        let (key, project) = (&r.identifier_key, r.project_id.as_deref());
        // Upserts of one key take turns, so that the second updates what the first created
        // rather than fail on the unique index.
        lock_key(&mut tx, key, project).await?;
        let record = match find_key(&mut tx, key, project).await? {
            Some(id) => update(&mut tx, id, edit, &links).await?,
            None => create(&mut tx, &new).await?,
        };
        tx.commit().await.map_err(Error::from)?;
        Ok(record)
    }

    async fn get_identity(&self, id: IdentityId) -> StoreResult<IdentityRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load(&mut conn, id, false).await?)
    }

    async fn get_identities(&self, ids: &[IdentityId]) -> StoreResult<Vec<IdentityRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_many(&mut conn, ids).await?)
    }

    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        page: &Page,
    ) -> StoreResult<Vec<IdentityRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut q = filter_sql(filter);
        paginate(&mut conn, &mut q, "identities", "created_at", page, true).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM identities {} {}",
            q.where_clause(),
            order_limit("created_at", page)
        );
        Ok(fetch(&mut conn, &sql, q.params, record).await?)
    }

    async fn count_identities(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(crate::rows::count(n))
    }

    async fn update_identity(
        &self,
        id: IdentityId,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> StoreResult<IdentityRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let record = update(&mut tx, id, edit, &links).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(record)
    }

    async fn delete_identity(&self, id: IdentityId) -> StoreResult<()> {
        Ok(crate::query::delete_by_id(&self.pool, "identities", "Identity", id).await?)
    }

    async fn agents_of_identity(&self, id: IdentityId, page: &Page) -> StoreResult<Vec<Agent>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        load(&mut conn, id, false).await?;
        let (join, column) = ("identities_agents", "identity_id");
        Ok(agents_joined(&mut conn, join, column, id.to_string(), page).await?)
    }

    async fn blocks_of_identity(&self, id: IdentityId, page: &Page) -> StoreResult<Vec<Block>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        load(&mut conn, id, false).await?;
        let filter = BlockFilter {
            identity_id: Some(id),
            ..BlockFilter::default()
        };
        Ok(crate::blocks::list(&mut conn, &filter, page).await?)
    }
}

/// Makes `identities` the agent's identity links, in that order; an unknown one is `NotFound`.
pub(crate) async fn set_agent_identities(
    conn: &mut PgConnection,
    agent: AgentId,
    identities: &[IdentityId],
) -> Result<()> {
    sqlx::query("DELETE FROM identities_agents WHERE agent_id = $1")
        .bind(agent.to_string())
        .execute(&mut *conn)
        .await?;
    for identity in identities {
        ensure_row(conn, "identities", "Identity", identity).await?;
        sqlx::query(
            "INSERT INTO identities_agents (identity_id, agent_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(identity.to_string())
        .bind(agent.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The listing conditions of `filter`, for an `identities` query.
fn filter_sql(f: &IdentityFilter) -> Where {
    let mut q = Where::default();
    if let Some(name) = &f.name {
        q.push("strpos(lower(name), lower(?)) > 0", [Arg::from(name)]);
    }
    if let Some(project) = &f.project_id {
        q.push("project_id = ?", [Arg::from(project)]);
    }
    if let Some(key) = &f.identifier_key {
        q.push("identifier_key = ?", [Arg::from(key)]);
    }
    if let Some(kind) = f.identity_type {
        q.push("identity_type = ?", [Arg::from(kind.as_str())]);
    }
    q
}

async fn create(conn: &mut PgConnection, new: &NewIdentity) -> Result<IdentityRecord> {
    let r = &new.identity;
    ensure_key_free(conn, &r.identifier_key, r.project_id.as_deref(), None).await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO identities ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )))
    .bind(r.id.to_string())
    .bind(&r.identifier_key)
    .bind(&r.name)
    .bind(r.identity_type.as_str())
    .bind(&r.project_id)
    .bind(to_json(&r.properties)?)
    .bind(micros(&r.created_at))
    .bind(micros(&r.updated_at))
    .execute(&mut *conn)
    .await?;
    let links = IdentityLinks {
        agents: Links::Replace(new.agents.clone()),
        blocks: Links::Replace(new.blocks.clone()),
    };
    write_links(conn, r.id, &links).await?;
    load(conn, r.id, false).await
}

/// Applies `edit` and `links` to identity `id` (locked meanwhile) and saves it; a changed key
/// must be free.
async fn update(
    conn: &mut PgConnection,
    id: IdentityId,
    edit: IdentityEdit,
    links: &IdentityLinks,
) -> Result<IdentityRecord> {
    let mut record = load(conn, id, true).await?;
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
        ensure_key_free(conn, &record.identifier_key, project, Some(id)).await?;
    }
    sqlx::query(
        "UPDATE identities SET identifier_key = $2, name = $3, identity_type = $4,
            project_id = $5, properties = $6, updated_at = $7
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(&record.identifier_key)
    .bind(&record.name)
    .bind(record.identity_type.as_str())
    .bind(&record.project_id)
    .bind(to_json(&record.properties)?)
    .bind(micros(&record.updated_at))
    .execute(&mut *conn)
    .await?;
    write_links(conn, id, links).await?;
    Ok(record)
}

async fn write_links(conn: &mut PgConnection, id: IdentityId, links: &IdentityLinks) -> Result<()> {
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
    agents.apply(conn, id, &links.agents).await?;
    blocks.apply(conn, id, &links.blocks).await
}

/// One of the tables linking identities to rows of `target`.
struct LinkTable {
    table: &'static str,
    column: &'static str,
    target: &'static str,
    kind: &'static str,
}

impl LinkTable {
    async fn apply<T: Display>(
        &self,
        conn: &mut PgConnection,
        id: IdentityId,
        links: &Links<T>,
    ) -> Result<()> {
        let (table, column) = (self.table, self.column);
        let ids = match links {
            Links::Keep => return Ok(()),
            Links::Replace(ids) | Links::Add(ids) | Links::Remove(ids) => ids,
        };
        for item in ids {
            ensure_row(conn, self.target, self.kind, item).await?;
        }
        if let Links::Replace(_) = links {
            let sql = format!("DELETE FROM {table} WHERE identity_id = $1");
            sqlx::query(AssertSqlSafe(sql))
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        let sql = match links {
            Links::Remove(_) => {
                format!("DELETE FROM {table} WHERE identity_id = $1 AND {column} = $2")
            }
            _ => format!(
                "INSERT INTO {table} (identity_id, {column}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            ),
        };
        for item in ids {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(id.to_string())
                .bind(item.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

async fn ensure_row(
    conn: &mut PgConnection,
    table: &str,
    kind: &'static str,
    id: impl Display,
) -> Result<()> {
    let sql = format!("SELECT 1 FROM {table} WHERE id = $1");
    let found: Option<i32> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| Error::not_found(kind, id))
}

/// Holds, until the transaction ends, the lock of an identifier key in its project (a hash
/// of both: an unrelated key sharing the hash only waits its turn).
async fn lock_key(conn: &mut PgConnection, key: &str, project: Option<&str>) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended(COALESCE($2, '') || chr(31) || $1, 0))",
    )
    .bind(key)
    .bind(project)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// No project and an empty one are one namespace, as the unique index has it.
async fn find_key(
    conn: &mut PgConnection,
    key: &str,
    project: Option<&str>,
) -> Result<Option<IdentityId>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM identities
         WHERE identifier_key = $1 AND COALESCE(project_id, '') = COALESCE($2, '')",
    )
    .bind(key)
    .bind(project)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id.map(|id| parse(&id)).transpose()?)
}

async fn ensure_key_free(
    conn: &mut PgConnection,
    key: &str,
    project: Option<&str>,
    except: Option<IdentityId>,
) -> Result<()> {
    match find_key(conn, key, project).await? {
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

/// The identity, locked for the rest of the transaction when `lock`.
async fn load(conn: &mut PgConnection, id: IdentityId, lock: bool) -> Result<IdentityRecord> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM identities WHERE id = ?{lock}");
    fetch(conn, &sql, vec![Arg::from(id.to_string())], record)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("Identity", id))
}

/// The identities of `ids` that exist, in the order of `ids`.
async fn load_many(conn: &mut PgConnection, ids: &[IdentityId]) -> Result<Vec<IdentityRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM identities WHERE id = ANY(?)");
    let wanted: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let mut found = fetch(conn, &sql, vec![Arg::Texts(wanted)], record).await?;
    Ok(ids
        .iter()
        .filter_map(|id| {
            let at = found.iter().position(|r| r.id == *id)?;
            Some(found.swap_remove(at))
        })
        .collect())
}

/// Reads an identity from a row selected with `COLUMNS`.
fn record(row: &PgRow) -> Result<IdentityRecord> {
    let kind: String = row.try_get(3)?;
    Ok(IdentityRecord {
        id: parse(&row.try_get::<String, _>(0)?)?,
        identifier_key: row.try_get(1)?,
        name: row.try_get(2)?,
        identity_type: IdentityType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("identity type {kind}")))?,
        project_id: row.try_get(4)?,
        properties: json(&row.try_get::<String, _>(5)?)?,
        created_at: time(row.try_get(6)?),
        updated_at: time(row.try_get(7)?),
    })
}

#[cfg(all(test, feature = "scratch"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::scratch::ScratchDb;

    fn new_identity(key: &str) -> NewIdentity {
        let now = mneme_types::time::now();
        NewIdentity {
            identity: IdentityRecord {
                id: IdentityId::new(),
                identifier_key: key.into(),
                name: "n".into(),
                identity_type: IdentityType::User,
                project_id: None,
                properties: vec![],
                created_at: now,
                updated_at: now,
            },
            agents: vec![],
            blocks: vec![],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_upserts_of_one_key_make_one_identity() {
        let db = ScratchDb::create().await;
        let store = db.store().await;
        let mut tasks = Vec::new();
        for i in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let edit: IdentityEdit = Box::new(move |r| {
                    r.name = format!("n{i}");
                    Ok(())
                });
                let links = IdentityLinks::default();
                store.upsert_identity(new_identity("k"), edit, links).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(store.count_identities().await.unwrap(), 1);
    }
}

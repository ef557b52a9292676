//! Conversions between PostgreSQL rows and store records, shared by every table's module.

use mneme_types::{AgentType, Block};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::Result;
use mneme_store::codec::{json, json_opt, parse, time, tool_rules};
use mneme_store::{Agent, StoreError};

pub(crate) const AGENT_COLUMNS: &str = "id, name, agent_type, system, description, metadata, \
    llm_config, embedding_config, tool_rules, message_ids, settings, project_id, template_id, \
    base_template_id, last_run_completion, last_run_duration_ms, last_stop_reason, created_at, \
    updated_at, message_ids_version, messages_edited";

pub(crate) const BLOCK_COLUMNS: &str = "b.id, b.label, b.value, b.value_limit, b.description, \
    b.read_only, b.metadata, b.tags, b.hidden, b.is_template, b.template_name, b.template_id, \
    b.base_template_id, b.deployment_id, b.entity_id, b.project_id, b.preserve_on_migration, \
    b.created_by_id, b.last_updated_by_id";

/// Reads an agent (without tags and identities) from a row selected with `AGENT_COLUMNS`.
pub(crate) fn agent(row: &PgRow) -> Result<Agent> {
    let agent_type: String = row.try_get(2)?;
    Ok(Agent {
        id: parse(&row.try_get::<String, _>(0)?)?,
        name: row.try_get(1)?,
        agent_type: AgentType::parse(&agent_type)
            .ok_or_else(|| StoreError::Corrupt(format!("agent type {agent_type}")))?,
        system: row.try_get(3)?,
        description: row.try_get(4)?,
        metadata: json_opt(row.try_get(5)?)?,
        llm_config: json(&row.try_get::<String, _>(6)?)?,
        embedding_config: json_opt(row.try_get(7)?)?,
        tool_rules: tool_rules(row.try_get(8)?),
        message_ids: json(&row.try_get::<String, _>(9)?)?,
        message_ids_version: count(row.try_get(19)?),
        messages_edited: count(row.try_get(20)?),
        tags: Vec::new(),
        identity_ids: Vec::new(),
        settings: json(&row.try_get::<String, _>(10)?)?,
        project_id: row.try_get(11)?,
        template_id: row.try_get(12)?,
        base_template_id: row.try_get(13)?,
        last_run_completion: row.try_get::<Option<i64>, _>(14)?.map(time),
        last_run_duration_ms: row.try_get(15)?,
        last_stop_reason: row.try_get(16)?,
        created_at: time(row.try_get(17)?),
        updated_at: time(row.try_get(18)?),
    })
}

/// Reads a block from a row selected with `BLOCK_COLUMNS`, starting at column `at`.
pub(crate) fn block(row: &PgRow, at: usize) -> Result<Block> {
    let c = |i: usize| at + i;
    Ok(Block {
        id: parse(&row.try_get::<String, _>(c(0))?)?,
        label: row.try_get(c(1))?,
        value: row.try_get(c(2))?,
        limit: row
            .try_get::<i64, _>(c(3))?
            .try_into()
            .unwrap_or(usize::MAX),
        description: row.try_get(c(4))?,
        read_only: flag(row.try_get(c(5))?),
        metadata: json_opt(row.try_get(c(6))?)?,
        tags: json_opt(row.try_get(c(7))?)?,
        hidden: row.try_get::<Option<i64>, _>(c(8))?.map(flag),
        is_template: flag(row.try_get(c(9))?),
        template_name: row.try_get(c(10))?,
        template_id: row.try_get(c(11))?,
        base_template_id: row.try_get(c(12))?,
        deployment_id: row.try_get(c(13))?,
        entity_id: row.try_get(c(14))?,
        project_id: row.try_get(c(15))?,
        preserve_on_migration: row.try_get::<Option<i64>, _>(c(16))?.map(flag),
        created_by_id: row.try_get(c(17))?,
        last_updated_by_id: row.try_get(c(18))?,
    })
}

/// A 0/1 flag column (SQLite's booleans, kept as integers so rows copy unchanged).
pub(crate) fn flag(v: i64) -> bool {
    v != 0
}

/// A boolean as a flag column holds it.
pub(crate) fn to_flag(b: bool) -> i64 {
    i64::from(b)
}

/// A stored count or key, never negative.
pub(crate) fn count(v: i64) -> u64 {
    v.max(0) as u64
}

/// The JSON document in `column` of row `id` of `table` (tools, providers and steps are kept as
/// one `data` document, jobs as `document`), locked for update when `lock`; `NotFound` as
/// `kind` without it.
pub(crate) async fn document_in<T: serde::de::DeserializeOwned>(
    conn: &mut sqlx::PgConnection,
    (table, column): (&'static str, &'static str),
    kind: &'static str,
    id: impl ToString,
    lock: bool,
) -> Result<T> {
    let id = id.to_string();
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {column} FROM {table} WHERE id = $1{lock}");
    let data: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?;
    let data = data.ok_or_else(|| crate::Error::not_found(kind, id))?;
    Ok(json(&data)?)
}

/// The `data` document of row `id` of `table` (see `document_in`).
pub(crate) async fn document<T: serde::de::DeserializeOwned>(
    conn: &mut sqlx::PgConnection,
    table: &'static str,
    kind: &'static str,
    id: impl ToString,
    lock: bool,
) -> Result<T> {
    document_in(conn, (table, "data"), kind, id, lock).await
}

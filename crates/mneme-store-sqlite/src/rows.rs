//! Conversions between SQLite rows and store records.

use chrono::{DateTime, Utc};
use mneme_types::{AgentType, Block, ToolRule};
use rusqlite::Row;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};
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
pub(crate) fn agent(row: &Row<'_>) -> Result<Agent> {
    let agent_type: String = row.get(2)?;
    Ok(Agent {
        id: parse(&row.get::<_, String>(0)?)?,
        name: row.get(1)?,
        agent_type: AgentType::parse(&agent_type)
            .ok_or_else(|| StoreError::Corrupt(format!("agent type {agent_type}")))?,
        system: row.get(3)?,
        description: row.get(4)?,
        metadata: json_opt(row.get(5)?)?,
        llm_config: json(&row.get::<_, String>(6)?)?,
        embedding_config: json_opt(row.get(7)?)?,
        tool_rules: tool_rules(row.get(8)?),
        message_ids: json(&row.get::<_, String>(9)?)?,
        message_ids_version: row.get::<_, i64>(19)?.max(0) as u64,
        messages_edited: row.get::<_, i64>(20)?.max(0) as u64,
        tags: Vec::new(),
        identity_ids: Vec::new(),
        settings: json(&row.get::<_, String>(10)?)?,
        project_id: row.get(11)?,
        template_id: row.get(12)?,
        base_template_id: row.get(13)?,
        last_run_completion: row.get::<_, Option<i64>>(14)?.map(time),
        last_run_duration_ms: row.get(15)?,
        last_stop_reason: row.get(16)?,
        created_at: time(row.get(17)?),
        updated_at: time(row.get(18)?),
    })
}

/// Reads a block from a row selected with `BLOCK_COLUMNS`, starting at column `at`.
pub(crate) fn block(row: &Row<'_>, at: usize) -> Result<Block> {
    let c = |i: usize| at + i;
    Ok(Block {
        id: parse(&row.get::<_, String>(c(0))?)?,
        label: row.get(c(1))?,
        value: row.get(c(2))?,
        limit: row.get::<_, i64>(c(3))?.try_into().unwrap_or(usize::MAX),
        description: row.get(c(4))?,
        read_only: row.get(c(5))?,
        metadata: json_opt(row.get(c(6))?)?,
        tags: json_opt(row.get(c(7))?)?,
        hidden: row.get(c(8))?,
        is_template: row.get(c(9))?,
        template_name: row.get(c(10))?,
        template_id: row.get(c(11))?,
        base_template_id: row.get(c(12))?,
        deployment_id: row.get(c(13))?,
        entity_id: row.get(c(14))?,
        project_id: row.get(c(15))?,
        preserve_on_migration: row.get(c(16))?,
        created_by_id: row.get(c(17))?,
        last_updated_by_id: row.get(c(18))?,
    })
}

/// The `data` JSON document of row `id` in `table` (tools and steps are stored as documents).
pub(crate) fn document<T: DeserializeOwned>(
    conn: &rusqlite::Connection,
    table: &str,
    kind: &'static str,
    id: impl ToString,
) -> Result<T> {
    document_in(conn, table, "data", kind, id)
}

/// The JSON document in `column` of row `id` in `table`.
pub(crate) fn document_in<T: DeserializeOwned>(
    conn: &rusqlite::Connection,
    table: &str,
    column: &str,
    kind: &'static str,
    id: impl ToString,
) -> Result<T> {
    use rusqlite::OptionalExtension;
    let id = id.to_string();
    let data: Option<String> = conn
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE id = ?1"),
            [&id],
            |r| r.get(0),
        )
        .optional()?;
    json(&data.ok_or_else(|| StoreError::not_found(kind, id))?)
}

pub(crate) fn parse<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| Error::Store(StoreError::Corrupt(format!("bad id {s}"))))
}

pub(crate) fn json<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Store(StoreError::Corrupt(e.to_string())))
}

fn tool_rules(text: Option<String>) -> Option<Vec<ToolRule>> {
    mneme_store::codec::tool_rules(text)
}

pub(crate) fn json_opt<T: DeserializeOwned>(s: Option<String>) -> Result<Option<T>> {
    s.map(|s| json(&s)).transpose()
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Store(StoreError::Db(e.to_string())))
}

pub(crate) fn to_json_opt<T: Serialize>(v: &Option<T>) -> Result<Option<String>> {
    v.as_ref().map(to_json).transpose()
}

pub(crate) fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// `?, ?, ?` for `n` parameters.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub(crate) use mneme_store::codec::vector_bytes as vector_blob;

pub(crate) fn blob_vector(b: &[u8]) -> Result<Vec<f32>> {
    Ok(mneme_store::codec::bytes_vector(b)?)
}

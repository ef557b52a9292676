//! `SandboxStore` on SQLite: configurations and variables as JSON documents beside the columns
//! that keep them unique (a configuration's kind, a variable's key within its configuration).

use async_trait::async_trait;
use mneme_store::{
    Page, SandboxConfigEdit, SandboxEnvVarEdit, SandboxEnvVarRecord, SandboxStore, StoreError,
};
use mneme_types::{SandboxConfig, SandboxConfigId, SandboxEnvVarId, SandboxType};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::agents::{Where, order_limit, paginate};
use crate::rows::{self, micros, to_json};
use crate::{Cached, Error, Result, SqliteStore, StoreResult};

const CONFIG: &str = "SandboxConfig";
const ENV_VAR: &str = "SandboxEnvironmentVariable";

#[async_trait]
impl SandboxStore for SqliteStore {
    async fn put_sandbox_config(
        &self,
        config: SandboxConfig,
        replace: bool,
    ) -> StoreResult<SandboxConfig> {
        self.write(move |tx| put_config(tx, config, replace)).await
    }

    async fn get_sandbox_config(&self, id: SandboxConfigId) -> StoreResult<SandboxConfig> {
        self.read(move |conn| rows::document(conn, "sandbox_configs", CONFIG, id))
            .await
    }

    async fn list_sandbox_configs(
        &self,
        kind: Option<SandboxType>,
        page: &Page,
    ) -> StoreResult<Vec<SandboxConfig>> {
        let page = page.clone();
        self.read(move |conn| {
            let mut w = Where::default();
            if let Some(kind) = kind {
                w.push("kind = ?", [SqlValue::Text(kind.as_str().into())]);
            }
            list(conn, "sandbox_configs", w, &page)
        })
        .await
    }

    async fn update_sandbox_config(
        &self,
        id: SandboxConfigId,
        edit: SandboxConfigEdit,
    ) -> StoreResult<SandboxConfig> {
        self.write(move |tx| {
            let mut config: SandboxConfig = rows::document(tx, "sandbox_configs", CONFIG, id)?;
            let (kind, created_at) = (config.kind, config.created_at);
            edit(&mut config)?;
            config.id = id;
            config.kind = kind;
            config.created_at = created_at;
            config.updated_at = mneme_types::time::now();
            write_config(tx, &config)?;
            Ok(config)
        })
        .await
    }

    async fn delete_sandbox_config(&self, id: SandboxConfigId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached(
                "DELETE FROM sandbox_configs WHERE id = ?1",
                [id.to_string()],
            )?;
            if n == 0 {
                return Err(Error::not_found(CONFIG, id));
            }
            Ok(())
        })
        .await
    }

    async fn put_sandbox_env_var(
        &self,
        var: SandboxEnvVarRecord,
    ) -> StoreResult<SandboxEnvVarRecord> {
        self.write(move |tx| put_env_var(tx, var)).await
    }

    async fn list_sandbox_env_vars(
        &self,
        config: SandboxConfigId,
        page: &Page,
    ) -> StoreResult<Vec<SandboxEnvVarRecord>> {
        let page = page.clone();
        self.read(move |conn| {
            ensure_config(conn, config)?;
            let mut w = Where::default();
            w.push(
                "sandbox_config_id = ?",
                [SqlValue::Text(config.to_string())],
            );
            list(conn, "sandbox_env_vars", w, &page)
        })
        .await
    }

    async fn update_sandbox_env_var(
        &self,
        id: SandboxEnvVarId,
        edit: SandboxEnvVarEdit,
    ) -> StoreResult<SandboxEnvVarRecord> {
        self.write(move |tx| {
            let mut var: SandboxEnvVarRecord = rows::document(tx, "sandbox_env_vars", ENV_VAR, id)?;
            let (config, created_at) = (var.sandbox_config_id, var.created_at);
            edit(&mut var)?;
            var.id = id;
            var.sandbox_config_id = config;
            var.created_at = created_at;
            var.updated_at = mneme_types::time::now();
            if let Some(other) = env_var_by_key(tx, config, &var.key)?
                && other.id != id
            {
                return Err(Error::Store(taken_key(&var.key)));
            }
            write_env_var(tx, &var)?;
            Ok(var)
        })
        .await
    }

    async fn delete_sandbox_env_var(&self, id: SandboxEnvVarId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached(
                "DELETE FROM sandbox_env_vars WHERE id = ?1",
                [id.to_string()],
            )?;
            if n == 0 {
                return Err(Error::not_found(ENV_VAR, id));
            }
            Ok(())
        })
        .await
    }
}

fn put_config(tx: &Connection, config: SandboxConfig, replace: bool) -> Result<SandboxConfig> {
    let stored: Option<String> = tx
        .query_row_cached(
            "SELECT data FROM sandbox_configs WHERE kind = ?1",
            [config.kind.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(stored) = stored else {
        tx.execute_cached(
            "INSERT INTO sandbox_configs (id, kind, data, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                config.id.to_string(),
                config.kind.as_str(),
                to_json(&config)?,
                micros(&config.created_at),
                micros(&config.updated_at),
            ],
        )?;
        return Ok(config);
    };
    let mut stored: SandboxConfig = rows::json(&stored)?;
    if replace && stored.config != config.config {
        stored.config = config.config;
        stored.updated_at = mneme_types::time::now();
        write_config(tx, &stored)?;
    }
    Ok(stored)
}

fn write_config(tx: &Connection, config: &SandboxConfig) -> Result<()> {
    tx.execute_cached(
        "UPDATE sandbox_configs SET data = ?2, updated_at = ?3 WHERE id = ?1",
        rusqlite::params![
            config.id.to_string(),
            to_json(config)?,
            micros(&config.updated_at)
        ],
    )?;
    Ok(())
}

fn put_env_var(tx: &Connection, var: SandboxEnvVarRecord) -> Result<SandboxEnvVarRecord> {
    ensure_config(tx, var.sandbox_config_id)?;
    if let Some(mut stored) = env_var_by_key(tx, var.sandbox_config_id, &var.key)? {
        stored.value_sealed = var.value_sealed;
        if var.description.is_some() {
            stored.description = var.description;
        }
        stored.updated_at = mneme_types::time::now();
        write_env_var(tx, &stored)?;
        return Ok(stored);
    }
    tx.execute_cached(
        "INSERT INTO sandbox_env_vars (id, sandbox_config_id, key, data, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            var.id.to_string(),
            var.sandbox_config_id.to_string(),
            var.key,
            to_json(&var)?,
            micros(&var.created_at),
            micros(&var.updated_at),
        ],
    )?;
    Ok(var)
}

fn write_env_var(tx: &Connection, var: &SandboxEnvVarRecord) -> Result<()> {
    tx.execute_cached(
        "UPDATE sandbox_env_vars SET key = ?2, data = ?3, updated_at = ?4 WHERE id = ?1",
        rusqlite::params![
            var.id.to_string(),
            var.key,
            to_json(var)?,
            micros(&var.updated_at)
        ],
    )?;
    Ok(())
}

fn env_var_by_key(
    conn: &Connection,
    config: SandboxConfigId,
    key: &str,
) -> Result<Option<SandboxEnvVarRecord>> {
    let data: Option<String> = conn
        .query_row_cached(
            "SELECT data FROM sandbox_env_vars WHERE sandbox_config_id = ?1 AND key = ?2",
            [config.to_string(), key.to_owned()],
            |r| r.get(0),
        )
        .optional()?;
    data.map(|d| rows::json(&d)).transpose()
}

fn ensure_config(conn: &Connection, id: SandboxConfigId) -> Result<()> {
    let found: bool = conn.query_row_cached(
        "SELECT EXISTS (SELECT 1 FROM sandbox_configs WHERE id = ?1)",
        [id.to_string()],
        |r| r.get(0),
    )?;
    if !found {
        return Err(Error::not_found(CONFIG, id));
    }
    Ok(())
}

/// The documents of `table` matching `w`, paged by creation time.
fn list<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    table: &str,
    mut w: Where,
    page: &Page,
) -> Result<Vec<T>> {
    paginate(conn, &mut w, table, "created_at", page, false)?;
    let sql = format!(
        "SELECT data FROM {table} {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let data = stmt
        .query_map(params_from_iter(w.params), |r| r.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    data.iter().map(|d| rows::json(d)).collect()
}

fn taken_key(key: &str) -> StoreError {
    StoreError::Conflict(format!(
        "An environment variable with key '{key}' already exists in this sandbox configuration"
    ))
}

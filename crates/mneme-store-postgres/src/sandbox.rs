//! `SandboxStore` on PostgreSQL: configurations and variables as JSON documents beside the
//! columns that keep them unique. The puts insert with `ON CONFLICT DO NOTHING` and then edit
//! the locked row, so two concurrent puts of one kind (or key) make one row.

use async_trait::async_trait;
use mneme_store::codec::{json, micros, to_json};
use mneme_store::{
    Page, SandboxConfigEdit, SandboxEnvVarEdit, SandboxEnvVarRecord, SandboxStore, StoreError,
};
use mneme_types::{SandboxConfig, SandboxConfigId, SandboxEnvVarId, SandboxType};
use sqlx::{PgConnection, PgPool, Row};

use crate::query::{Arg, Where, delete_by_id, ensure_row, fetch, order_limit, paginate};
use crate::rows::document;
use crate::{Error, PgStore, Result, StoreResult};

const CONFIG: &str = "SandboxConfig";
const ENV_VAR: &str = "SandboxEnvironmentVariable";

#[async_trait]
impl SandboxStore for PgStore {
    async fn put_sandbox_config(
        &self,
        config: SandboxConfig,
        replace: bool,
    ) -> StoreResult<SandboxConfig> {
        Ok(put_config(&self.pool, config, replace).await?)
    }

    async fn get_sandbox_config(&self, id: SandboxConfigId) -> StoreResult<SandboxConfig> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(document(&mut conn, "sandbox_configs", CONFIG, id, false).await?)
    }

    async fn list_sandbox_configs(
        &self,
        kind: Option<SandboxType>,
        page: &Page,
    ) -> StoreResult<Vec<SandboxConfig>> {
        let mut w = Where::default();
        if let Some(kind) = kind {
            w.push("kind = ?", [Arg::from(kind.as_str())]);
        }
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let out = list(&mut tx, "sandbox_configs", w, page).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn update_sandbox_config(
        &self,
        id: SandboxConfigId,
        edit: SandboxConfigEdit,
    ) -> StoreResult<SandboxConfig> {
        Ok(update_config(&self.pool, id, edit).await?)
    }

    async fn delete_sandbox_config(&self, id: SandboxConfigId) -> StoreResult<()> {
        Ok(delete_by_id(&self.pool, "sandbox_configs", CONFIG, id).await?)
    }

    async fn put_sandbox_env_var(
        &self,
        var: SandboxEnvVarRecord,
    ) -> StoreResult<SandboxEnvVarRecord> {
        Ok(put_env_var(&self.pool, var).await?)
    }

    async fn list_sandbox_env_vars(
        &self,
        config: SandboxConfigId,
        page: &Page,
    ) -> StoreResult<Vec<SandboxEnvVarRecord>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_row(&mut tx, "sandbox_configs", CONFIG, config, false).await?;
        let mut w = Where::default();
        w.push("sandbox_config_id = ?", [Arg::from(config.to_string())]);
        let out = list(&mut tx, "sandbox_env_vars", w, page).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn update_sandbox_env_var(
        &self,
        id: SandboxEnvVarId,
        edit: SandboxEnvVarEdit,
    ) -> StoreResult<SandboxEnvVarRecord> {
        Ok(update_env_var(&self.pool, id, edit).await?)
    }

    async fn delete_sandbox_env_var(&self, id: SandboxEnvVarId) -> StoreResult<()> {
        Ok(delete_by_id(&self.pool, "sandbox_env_vars", ENV_VAR, id).await?)
    }
}

async fn put_config(pool: &PgPool, config: SandboxConfig, replace: bool) -> Result<SandboxConfig> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO sandbox_configs (id, kind, data, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind) DO NOTHING",
    )
    .bind(config.id.to_string())
    .bind(config.kind.as_str())
    .bind(to_json(&config)?)
    .bind(micros(&config.created_at))
    .bind(micros(&config.updated_at))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(config);
    }
    let stored: String =
        sqlx::query_scalar("SELECT data FROM sandbox_configs WHERE kind = $1 FOR UPDATE")
            .bind(config.kind.as_str())
            .fetch_one(&mut *tx)
            .await?;
    let mut stored: SandboxConfig = json(&stored)?;
    if replace && stored.config != config.config {
        stored.config = config.config;
        stored.updated_at = mneme_types::time::now();
        write_config(&mut tx, &stored).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

async fn update_config(
    pool: &PgPool,
    id: SandboxConfigId,
    edit: SandboxConfigEdit,
) -> Result<SandboxConfig> {
    let mut tx = pool.begin().await?;
    let mut config: SandboxConfig = document(&mut tx, "sandbox_configs", CONFIG, id, true).await?;
    let (kind, created_at) = (config.kind, config.created_at);
    edit(&mut config)?;
    config.id = id;
    config.kind = kind;
    config.created_at = created_at;
    config.updated_at = mneme_types::time::now();
    write_config(&mut tx, &config).await?;
    tx.commit().await?;
    Ok(config)
}

async fn write_config(conn: &mut PgConnection, config: &SandboxConfig) -> Result<()> {
    sqlx::query("UPDATE sandbox_configs SET data = $2, updated_at = $3 WHERE id = $1")
        .bind(config.id.to_string())
        .bind(to_json(config)?)
        .bind(micros(&config.updated_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn put_env_var(pool: &PgPool, var: SandboxEnvVarRecord) -> Result<SandboxEnvVarRecord> {
    let mut tx = pool.begin().await?;
    ensure_row(
        &mut tx,
        "sandbox_configs",
        CONFIG,
        var.sandbox_config_id,
        false,
    )
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO sandbox_env_vars (id, sandbox_config_id, key, data, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sandbox_config_id, key) DO NOTHING",
    )
    .bind(var.id.to_string())
    .bind(var.sandbox_config_id.to_string())
    .bind(&var.key)
    .bind(to_json(&var)?)
    .bind(micros(&var.created_at))
    .bind(micros(&var.updated_at))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(var);
    }
    let stored: String = sqlx::query_scalar(
        "SELECT data FROM sandbox_env_vars WHERE sandbox_config_id = $1 AND key = $2 FOR UPDATE",
    )
    .bind(var.sandbox_config_id.to_string())
    .bind(&var.key)
    .fetch_one(&mut *tx)
    .await?;
    let mut stored: SandboxEnvVarRecord = json(&stored)?;
    stored.value_sealed = var.value_sealed;
    if var.description.is_some() {
        stored.description = var.description;
    }
    stored.updated_at = mneme_types::time::now();
    write_env_var(&mut tx, &stored).await?;
    tx.commit().await?;
    Ok(stored)
}

async fn update_env_var(
    pool: &PgPool,
    id: SandboxEnvVarId,
    edit: SandboxEnvVarEdit,
) -> Result<SandboxEnvVarRecord> {
    let mut tx = pool.begin().await?;
    let mut var: SandboxEnvVarRecord =
        document(&mut tx, "sandbox_env_vars", ENV_VAR, id, true).await?;
    let (config, created_at) = (var.sandbox_config_id, var.created_at);
    edit(&mut var)?;
    var.id = id;
    var.sandbox_config_id = config;
    var.created_at = created_at;
    var.updated_at = mneme_types::time::now();
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sandbox_env_vars
                        WHERE sandbox_config_id = $1 AND key = $2 AND id <> $3)",
    )
    .bind(config.to_string())
    .bind(&var.key)
    .bind(id.to_string())
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(Error::Store(StoreError::Conflict(format!(
            "An environment variable with key '{}' already exists in this sandbox configuration",
            var.key
        ))));
    }
    write_env_var(&mut tx, &var).await?;
    tx.commit().await?;
    Ok(var)
}

async fn write_env_var(conn: &mut PgConnection, var: &SandboxEnvVarRecord) -> Result<()> {
    sqlx::query("UPDATE sandbox_env_vars SET key = $2, data = $3, updated_at = $4 WHERE id = $1")
        .bind(var.id.to_string())
        .bind(&var.key)
        .bind(to_json(var)?)
        .bind(micros(&var.updated_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The documents of `table` matching `w`, paged by creation time.
async fn list<T: serde::de::DeserializeOwned>(
    conn: &mut PgConnection,
    table: &str,
    mut w: Where,
    page: &Page,
) -> Result<Vec<T>> {
    paginate(conn, &mut w, table, "created_at", page, false).await?;
    let sql = format!(
        "SELECT data FROM {table} {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    fetch(conn, &sql, w.params, |r| {
        Ok(json(&r.try_get::<String, _>(0)?)?)
    })
    .await
}

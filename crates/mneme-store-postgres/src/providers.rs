//! `ProviderStore` on PostgreSQL: each provider as its JSON document beside its unique name.

use async_trait::async_trait;
use mneme_store::codec::{json, micros, to_json};
use mneme_store::{Page, ProviderEdit, ProviderFilter, ProviderStore, StoreError};
use mneme_types::{ProviderId, ProviderRecord};
use sqlx::{PgConnection, PgPool, Row};

use crate::query::{Arg, Where, fetch, order_limit, paginate};
use crate::rows::document;
use crate::{Error, PgStore, Result, StoreResult};

#[async_trait]
impl ProviderStore for PgStore {
    async fn create_provider(&self, provider: ProviderRecord) -> StoreResult<ProviderRecord> {
        Ok(create(&self.pool, provider).await?)
    }

    async fn get_provider(&self, id: ProviderId) -> StoreResult<ProviderRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(document(&mut conn, "providers", "Provider", id, false).await?)
    }

    async fn list_providers(
        &self,
        filter: &ProviderFilter,
        page: &Page,
    ) -> StoreResult<Vec<ProviderRecord>> {
        Ok(list(&self.pool, filter, page).await?)
    }

    async fn update_provider(
        &self,
        id: ProviderId,
        edit: ProviderEdit,
    ) -> StoreResult<ProviderRecord> {
        Ok(update(&self.pool, id, edit).await?)
    }

    async fn delete_provider(&self, id: ProviderId) -> StoreResult<()> {
        Ok(crate::query::delete_by_id(&self.pool, "providers", "Provider", id).await?)
    }
}

async fn create(pool: &PgPool, provider: ProviderRecord) -> Result<ProviderRecord> {
    let mut tx = pool.begin().await?;
    ensure_name_free(&mut tx, &provider.name, None).await?;
    sqlx::query(
        "INSERT INTO providers (id, name, provider_type, data, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(provider.id.to_string())
    .bind(&provider.name)
    .bind(&provider.provider_type)
    .bind(to_json(&provider)?)
    .bind(micros(&provider.created_at))
    .bind(micros(&provider.updated_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(provider)
}

async fn list(pool: &PgPool, filter: &ProviderFilter, page: &Page) -> Result<Vec<ProviderRecord>> {
    let mut tx = pool.begin().await?;
    let mut w = Where::default();
    if let Some(name) = &filter.name {
        w.push("name = ?", [Arg::from(name)]);
    }
    if let Some(kind) = &filter.provider_type {
        w.push("provider_type = ?", [Arg::from(kind)]);
    }
    paginate(&mut tx, &mut w, "providers", "created_at", page, false).await?;
    let sql = format!(
        "SELECT data FROM providers {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    let out = fetch(&mut tx, &sql, w.params, |r| {
        Ok(json(&r.try_get::<String, _>(0)?)?)
    })
    .await?;
    tx.commit().await?;
    Ok(out)
}

async fn update(pool: &PgPool, id: ProviderId, edit: ProviderEdit) -> Result<ProviderRecord> {
    let mut tx = pool.begin().await?;
    let mut provider: ProviderRecord = document(&mut tx, "providers", "Provider", id, true).await?;
    let created_at = provider.created_at;
    edit(&mut provider)?;
    provider.id = id;
    provider.created_at = created_at;
    provider.updated_at = mneme_types::time::now();
    ensure_name_free(&mut tx, &provider.name, Some(id)).await?;
    sqlx::query(
        "UPDATE providers SET name = $2, provider_type = $3, data = $4, updated_at = $5
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(&provider.name)
    .bind(&provider.provider_type)
    .bind(to_json(&provider)?)
    .bind(micros(&provider.updated_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(provider)
}

/// `Conflict` when another provider has `name` (the unique name backs this check against a
/// concurrent writer).
async fn ensure_name_free(
    conn: &mut PgConnection,
    name: &str,
    except: Option<ProviderId>,
) -> Result<()> {
    let clash: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM providers WHERE name = $1 AND id <> $2)")
            .bind(name)
            .bind(except.map(|e| e.to_string()).unwrap_or_default())
            .fetch_one(&mut *conn)
            .await?;
    if clash {
        return Err(Error::Store(StoreError::Conflict(format!(
            "A provider named '{name}' already exists"
        ))));
    }
    Ok(())
}

//! `ProviderStore` on SQLite: each provider as its JSON document beside its unique name.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{ProviderId, ProviderRecord};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use crate::SqliteStore;
use crate::agents::{Where, order_limit, paginate};
use crate::rows::{self, micros, to_json};
use crate::{Error, Result, StoreResult};
use mneme_store::{Page, ProviderEdit, ProviderFilter, ProviderStore, StoreError};

#[async_trait]
impl ProviderStore for SqliteStore {
    async fn create_provider(&self, provider: ProviderRecord) -> StoreResult<ProviderRecord> {
        self.write(move |tx| {
            ensure_name_free(tx, &provider.name, None)?;
            tx.execute_cached(
                "INSERT INTO providers (id, name, provider_type, data, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    provider.id.to_string(),
                    provider.name,
                    provider.provider_type,
                    to_json(&provider)?,
                    micros(&provider.created_at),
                    micros(&provider.updated_at),
                ],
            )?;
            Ok(provider)
        })
        .await
    }

    async fn get_provider(&self, id: ProviderId) -> StoreResult<ProviderRecord> {
        self.read(move |conn| rows::document(conn, "providers", "Provider", id))
            .await
    }

    async fn list_providers(
        &self,
        filter: &ProviderFilter,
        page: &Page,
    ) -> StoreResult<Vec<ProviderRecord>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut w = Where::default();
            if let Some(name) = filter.name {
                w.push("name = ?", [SqlValue::Text(name)]);
            }
            if let Some(kind) = filter.provider_type {
                w.push("provider_type = ?", [SqlValue::Text(kind)]);
            }
            paginate(conn, &mut w, "providers", "created_at", &page, false)?;
            let sql = format!(
                "SELECT data FROM providers {} {}",
                w.where_clause(),
                order_limit("created_at", &page)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let data = stmt
                .query_map(params_from_iter(w.params), |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            data.iter().map(|d| rows::json(d)).collect()
        })
        .await
    }

    async fn update_provider(
        &self,
        id: ProviderId,
        edit: ProviderEdit,
    ) -> StoreResult<ProviderRecord> {
        self.write(move |tx| {
            let mut provider: ProviderRecord = rows::document(tx, "providers", "Provider", id)?;
            let created_at = provider.created_at;
            edit(&mut provider)?;
            provider.id = id;
            provider.created_at = created_at;
            provider.updated_at = mneme_types::time::now();
            ensure_name_free(tx, &provider.name, Some(id))?;
            tx.execute_cached(
                "UPDATE providers SET name = ?2, provider_type = ?3, data = ?4, updated_at = ?5
                 WHERE id = ?1",
                rusqlite::params![
                    id.to_string(),
                    provider.name,
                    provider.provider_type,
                    to_json(&provider)?,
                    micros(&provider.updated_at),
                ],
            )?;
            Ok(provider)
        })
        .await
    }

    async fn delete_provider(&self, id: ProviderId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached("DELETE FROM providers WHERE id = ?1", [id.to_string()])?;
            if n == 0 {
                return Err(Error::not_found("Provider", id));
            }
            Ok(())
        })
        .await
    }
}

fn ensure_name_free(conn: &Connection, name: &str, except: Option<ProviderId>) -> Result<()> {
    let clash: bool = conn.query_row_cached(
        "SELECT EXISTS (SELECT 1 FROM providers WHERE name = ?1 AND id <> ?2)",
        [
            name.to_owned(),
            except.map(|e| e.to_string()).unwrap_or_default(),
        ],
        |r| r.get(0),
    )?;
    if clash {
        return Err(Error::Store(StoreError::Conflict(format!(
            "A provider named '{name}' already exists"
        ))));
    }
    Ok(())
}

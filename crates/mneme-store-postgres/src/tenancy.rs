//! `TenancyStore` on PostgreSQL: organizations, users, API keys and the audit log, as columns.
//! Checks before writes lock the rows they check (or let a constraint decide), as elsewhere.

use async_trait::async_trait;
use mneme_store::codec::{micros, parse, time};
use mneme_store::{ApiKeyRecord, AuditFilter, NewAuditEntry, Order, StoreError, TenancyStore};
use mneme_types::{
    ApiKey, ApiKeyId, AuditEntry, KeyRole, OrgId, Organization, OrganizationUpdate, User, UserId,
    UserUpdate,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use crate::query::{Arg, Where, fetch};
use crate::rows::{count, flag, to_flag};
use crate::{Error, PgStore, Result, StoreResult};

const ORG_COLUMNS: &str = "id, name, privileged_tools, created_at";
const USER_COLUMNS: &str = "id, organization_id, name, created_at, updated_at";
const KEY_COLUMNS: &str =
    "id, name, organization_id, user_id, role, prefix, created_at, revoked_at, hash";
const AUDIT_COLUMNS: &str =
    "seq, at, organization_id, user_id, key_id, method, route, path, status, request_id";

#[async_trait]
impl TenancyStore for PgStore {
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        Ok(create_org(&self.pool, org).await?)
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organization> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_org(&mut conn, id, false).await?)
    }

    async fn list_orgs(
        &self,
        after: Option<OrgId>,
        limit: usize,
    ) -> StoreResult<Vec<Organization>> {
        Ok(list_orgs(&self.pool, after, limit).await?)
    }

    async fn update_org(&self, id: OrgId, edit: OrganizationUpdate) -> StoreResult<Organization> {
        Ok(update_org(&self.pool, id, edit).await?)
    }

    async fn delete_org(&self, id: OrgId) -> StoreResult<Organization> {
        Ok(delete_org(&self.pool, id).await?)
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        Ok(create_user(&self.pool, user).await?)
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_user(&mut conn, id, false).await?)
    }

    async fn list_users(
        &self,
        org: Option<OrgId>,
        after: Option<UserId>,
        limit: usize,
    ) -> StoreResult<Vec<User>> {
        Ok(list_users(&self.pool, org, after, limit).await?)
    }

    async fn update_user(&self, edit: UserUpdate) -> StoreResult<User> {
        Ok(update_user(&self.pool, edit).await?)
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<User> {
        Ok(delete_user(&self.pool, id).await?)
    }

    async fn create_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        Ok(create_key(&self.pool, key).await?)
    }

    async fn find_key(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(find_key(&self.pool, hash).await?)
    }

    async fn list_keys(&self, org: Option<OrgId>) -> StoreResult<Vec<ApiKey>> {
        Ok(list_keys(&self.pool, org).await?)
    }

    async fn revoke_key(&self, id: ApiKeyId) -> StoreResult<ApiKey> {
        Ok(revoke_key(&self.pool, id).await?)
    }

    async fn count_active_keys(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(count(n))
    }

    async fn append_audit(&self, entries: &[NewAuditEntry]) -> StoreResult<()> {
        Ok(append_audit(&self.pool, entries).await?)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        Ok(list_audit(&self.pool, filter).await?)
    }
}

fn taken(kind: &str, id: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Conflict(format!("{kind} {id} already exists")))
}

/// `LIMIT` takes a bigint; a larger limit is no limit.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Rows after the cursor `(created_at, id)` in ascending order.
fn push_after(w: &mut Where, created_at: i64, id: String) {
    w.push(
        "(created_at, id) > (?, ?)",
        [Arg::Int(created_at), Arg::Text(id)],
    );
}

/// The row `id` of `table` selected with `columns`, locked for update when `lock`.
async fn find<T>(
    conn: &mut PgConnection,
    (table, columns): (&str, &str),
    id: String,
    lock: bool,
    decode: fn(&PgRow) -> Result<T>,
) -> Result<Option<T>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {columns} FROM {table} WHERE id = $1{lock}");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

async fn load_org(conn: &mut PgConnection, id: OrgId, lock: bool) -> Result<Organization> {
    let table = ("organizations", ORG_COLUMNS);
    find(conn, table, id.to_string(), lock, org_row)
        .await?
        .ok_or_else(|| Error::not_found("Organization", id))
}

fn org_row(r: &PgRow) -> Result<Organization> {
    Ok(Organization {
        id: parse(&r.try_get::<String, _>(0)?)?,
        name: r.try_get(1)?,
        privileged_tools: flag(r.try_get(2)?),
        created_at: time(r.try_get(3)?),
    })
}

async fn create_org(pool: &PgPool, org: &Organization) -> Result<()> {
    let done = sqlx::query(
        "INSERT INTO organizations (id, name, privileged_tools, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(org.id.to_string())
    .bind(&org.name)
    .bind(to_flag(org.privileged_tools))
    .bind(micros(&org.created_at))
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(taken("organization", org.id));
    }
    Ok(())
}

async fn list_orgs(pool: &PgPool, after: Option<OrgId>, limit: usize) -> Result<Vec<Organization>> {
    let mut tx = pool.begin().await?;
    let mut w = Where::default();
    if let Some(after) = after {
        let cursor = load_org(&mut tx, after, false).await?;
        push_after(&mut w, micros(&cursor.created_at), after.to_string());
    }
    let sql = format!(
        "SELECT {ORG_COLUMNS} FROM organizations {} ORDER BY created_at, id LIMIT {}",
        w.where_clause(),
        sql_limit(limit)
    );
    let out = fetch(&mut tx, &sql, w.params, org_row).await?;
    tx.commit().await?;
    Ok(out)
}

async fn update_org(pool: &PgPool, id: OrgId, edit: OrganizationUpdate) -> Result<Organization> {
    let mut tx = pool.begin().await?;
    let mut org = load_org(&mut tx, id, true).await?;
    if let Some(name) = edit.name {
        org.name = name;
    }
    if let Some(privileged) = edit.privileged_tools {
        org.privileged_tools = privileged;
    }
    sqlx::query("UPDATE organizations SET name = $2, privileged_tools = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(&org.name)
        .bind(to_flag(org.privileged_tools))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(org)
}

async fn delete_org(pool: &PgPool, id: OrgId) -> Result<Organization> {
    let mut tx = pool.begin().await?;
    let org = load_org(&mut tx, id, true).await?;
    // The keys hang on the users, the users on the organization: both cascade.
    sqlx::query("DELETE FROM organizations WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(org)
}

async fn load_user(conn: &mut PgConnection, id: UserId, lock: bool) -> Result<User> {
    find(
        conn,
        ("users", USER_COLUMNS),
        id.to_string(),
        lock,
        user_row,
    )
    .await?
    .ok_or_else(|| Error::not_found("User", id))
}

fn user_row(r: &PgRow) -> Result<User> {
    Ok(User {
        id: parse(&r.try_get::<String, _>(0)?)?,
        organization_id: parse(&r.try_get::<String, _>(1)?)?,
        name: r.try_get(2)?,
        created_at: time(r.try_get(3)?),
        updated_at: time(r.try_get(4)?),
        is_deleted: false,
    })
}

async fn create_user(pool: &PgPool, user: &User) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Shared lock: the organization cannot go before the user is in.
    let org = user.organization_id.to_string();
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM organizations WHERE id = $1 FOR SHARE")
            .bind(&org)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Err(Error::not_found("Organization", org));
    }
    let done = sqlx::query(
        "INSERT INTO users (id, organization_id, name, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(user.id.to_string())
    .bind(&org)
    .bind(&user.name)
    .bind(micros(&user.created_at))
    .bind(micros(&user.updated_at))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(taken("user", user.id));
    }
    tx.commit().await?;
    Ok(())
}

async fn list_users(
    pool: &PgPool,
    org: Option<OrgId>,
    after: Option<UserId>,
    limit: usize,
) -> Result<Vec<User>> {
    let mut tx = pool.begin().await?;
    let mut w = Where::default();
    if let Some(org) = org {
        w.push("organization_id = ?", [Arg::Text(org.to_string())]);
    }
    if let Some(after) = after {
        let cursor = load_user(&mut tx, after, false).await?;
        push_after(&mut w, micros(&cursor.created_at), after.to_string());
    }
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users {} ORDER BY created_at, id LIMIT {}",
        w.where_clause(),
        sql_limit(limit)
    );
    let out = fetch(&mut tx, &sql, w.params, user_row).await?;
    tx.commit().await?;
    Ok(out)
}

async fn update_user(pool: &PgPool, edit: UserUpdate) -> Result<User> {
    let mut tx = pool.begin().await?;
    let mut user = load_user(&mut tx, edit.id, true).await?;
    if let Some(name) = edit.name {
        user.name = name;
    }
    if let Some(org) = edit.organization_id {
        load_org(&mut tx, org, false).await?;
        user.organization_id = org;
    }
    user.updated_at = mneme_types::time::now();
    sqlx::query("UPDATE users SET name = $2, organization_id = $3, updated_at = $4 WHERE id = $1")
        .bind(user.id.to_string())
        .bind(&user.name)
        .bind(user.organization_id.to_string())
        .bind(micros(&user.updated_at))
        .execute(&mut *tx)
        .await?;
    // A key is of its user's organization: a user who moves takes its keys along.
    sqlx::query("UPDATE api_keys SET organization_id = $2 WHERE user_id = $1")
        .bind(user.id.to_string())
        .bind(user.organization_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}

async fn delete_user(pool: &PgPool, id: UserId) -> Result<User> {
    let mut tx = pool.begin().await?;
    let user = load_user(&mut tx, id, true).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}

fn key_row(r: &PgRow) -> Result<ApiKeyRecord> {
    let role: String = r.try_get(4)?;
    Ok(ApiKeyRecord {
        key: ApiKey {
            id: parse(&r.try_get::<String, _>(0)?)?,
            name: r.try_get(1)?,
            organization_id: parse(&r.try_get::<String, _>(2)?)?,
            user_id: parse(&r.try_get::<String, _>(3)?)?,
            role: KeyRole::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("key role {role}")))?,
            prefix: r.try_get(5)?,
            created_at: time(r.try_get(6)?),
            revoked_at: r.try_get::<Option<i64>, _>(7)?.map(time),
        },
        hash: r.try_get(8)?,
    })
}

async fn create_key(pool: &PgPool, record: &ApiKeyRecord) -> Result<()> {
    let key = &record.key;
    let mut tx = pool.begin().await?;
    // Locked: the user cannot go, or move, before the key is in.
    let user = load_user(&mut tx, key.user_id, true).await?;
    if user.organization_id != key.organization_id {
        return Err(Error::Store(StoreError::Invalid(format!(
            "user {} is not of organization {}",
            key.user_id, key.organization_id
        ))));
    }
    insert_key(&mut tx, record).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_key(conn: &mut PgConnection, record: &ApiKeyRecord) -> Result<()> {
    let key = &record.key;
    let done = sqlx::query(
        "INSERT INTO api_keys (id, name, organization_id, user_id, role, prefix, hash,
                               created_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(key.id.to_string())
    .bind(&key.name)
    .bind(key.organization_id.to_string())
    .bind(key.user_id.to_string())
    .bind(key.role.as_str())
    .bind(&key.prefix)
    .bind(&record.hash)
    .bind(micros(&key.created_at))
    .bind(key.revoked_at.as_ref().map(micros))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(taken("API key", key.id));
    }
    Ok(())
}

async fn find_key(pool: &PgPool, hash: &str) -> Result<Option<ApiKeyRecord>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(hash)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(key_row).transpose()
}

async fn list_keys(pool: &PgPool, org: Option<OrgId>) -> Result<Vec<ApiKey>> {
    let mut conn = pool.acquire().await?;
    let mut w = Where::default();
    if let Some(org) = org {
        w.push("organization_id = ?", [Arg::Text(org.to_string())]);
    }
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys {} ORDER BY created_at, id",
        w.where_clause()
    );
    let keys = fetch(&mut conn, &sql, w.params, key_row).await?;
    Ok(keys.into_iter().map(|k| k.key).collect())
}

async fn revoke_key(pool: &PgPool, id: ApiKeyId) -> Result<ApiKey> {
    // A second revocation keeps the first time.
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
         RETURNING {KEY_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(micros(&mneme_types::time::now()))
        .fetch_optional(pool)
        .await?;
    let row = row.ok_or_else(|| Error::not_found("ApiKey", id))?;
    Ok(key_row(&row)?.key)
}

async fn append_audit(pool: &PgPool, entries: &[NewAuditEntry]) -> Result<()> {
    let mut tx = pool.begin().await?;
    for e in entries {
        sqlx::query(
            "INSERT INTO audit_log (at, organization_id, user_id, key_id, method, route, path,
                                    status, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(micros(&e.at))
        .bind(e.organization_id.to_string())
        .bind(e.user_id.to_string())
        .bind(e.key_id.map(|k| k.to_string()))
        .bind(&e.method)
        .bind(&e.route)
        .bind(&e.path)
        .bind(i64::from(e.status))
        .bind(&e.request_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn list_audit(pool: &PgPool, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let mut conn = pool.acquire().await?;
    let mut w = Where::default();
    if let Some(org) = f.organization_id {
        w.push("organization_id = ?", [Arg::Text(org.to_string())]);
    }
    if let Some(user) = f.user_id {
        w.push("user_id = ?", [Arg::Text(user.to_string())]);
    }
    if let Some(after) = f.after {
        w.push("seq > ?", [Arg::Int(after)]);
    }
    if let Some(before) = f.before {
        w.push("seq < ?", [Arg::Int(before)]);
    }
    let dir = match f.order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log {} ORDER BY seq {dir} LIMIT {}",
        w.where_clause(),
        sql_limit(f.limit)
    );
    fetch(&mut conn, &sql, w.params, audit_row).await
}

fn audit_row(r: &PgRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.try_get(0)?,
        at: time(r.try_get(1)?),
        organization_id: parse(&r.try_get::<String, _>(2)?)?,
        user_id: parse(&r.try_get::<String, _>(3)?)?,
        key_id: r
            .try_get::<Option<String>, _>(4)?
            .map(|k| parse(&k))
            .transpose()?,
        method: r.try_get(5)?,
        route: r.try_get(6)?,
        path: r.try_get(7)?,
        status: u16::try_from(r.try_get::<i64, _>(8)?).unwrap_or(0),
        request_id: r.try_get(9)?,
    })
}

//! `TenancyStore` on SQLite: organizations, users, API keys and the audit log, as columns.

use async_trait::async_trait;
use mneme_store::{ApiKeyRecord, AuditFilter, NewAuditEntry, Order, StoreError, TenancyStore};
use mneme_types::{
    ApiKey, ApiKeyId, AuditEntry, KeyRole, OrgId, Organization, OrganizationUpdate, User, UserId,
    UserUpdate,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::agents::Where;
use crate::rows::{micros, parse, time};
use crate::{Cached, Error, Result, SqliteStore, StoreResult};

const ORG_COLUMNS: &str = "id, name, privileged_tools, created_at";
const USER_COLUMNS: &str = "id, organization_id, name, created_at, updated_at";
const KEY_COLUMNS: &str =
    "id, name, organization_id, user_id, role, prefix, created_at, revoked_at, hash";
const AUDIT_COLUMNS: &str =
    "seq, at, organization_id, user_id, key_id, method, route, path, status, request_id";

#[async_trait]
impl TenancyStore for SqliteStore {
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        let org = org.clone();
        self.write(move |tx| {
            if find_org(tx, org.id)?.is_some() {
                return Err(taken("organization", org.id));
            }
            tx.execute_cached(
                "INSERT INTO organizations (id, name, privileged_tools, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    org.id.to_string(),
                    org.name,
                    org.privileged_tools,
                    micros(&org.created_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organization> {
        self.read(move |conn| load_org(conn, id)).await
    }

    async fn list_orgs(
        &self,
        after: Option<OrgId>,
        limit: usize,
    ) -> StoreResult<Vec<Organization>> {
        self.read(move |conn| {
            let mut w = Where::default();
            if let Some(after) = after {
                let cursor = load_org(conn, after)?;
                push_after(&mut w, micros(&cursor.created_at), after.to_string());
            }
            let sql = format!(
                "SELECT {ORG_COLUMNS} FROM organizations {} ORDER BY created_at, id LIMIT {}",
                w.where_clause(),
                sql_limit(limit)
            );
            collect(conn, &sql, w.params, org_row)
        })
        .await
    }

    async fn update_org(&self, id: OrgId, edit: OrganizationUpdate) -> StoreResult<Organization> {
        self.write(move |tx| {
            let mut org = load_org(tx, id)?;
            if let Some(name) = edit.name {
                org.name = name;
            }
            if let Some(privileged) = edit.privileged_tools {
                org.privileged_tools = privileged;
            }
            tx.execute_cached(
                "UPDATE organizations SET name = ?2, privileged_tools = ?3 WHERE id = ?1",
                rusqlite::params![id.to_string(), org.name, org.privileged_tools],
            )?;
            Ok(org)
        })
        .await
    }

    async fn delete_org(&self, id: OrgId) -> StoreResult<Organization> {
        self.write(move |tx| {
            let org = load_org(tx, id)?;
            // The keys hang on the users, the users on the organization: both cascade.
            tx.execute_cached("DELETE FROM organizations WHERE id = ?1", [id.to_string()])?;
            Ok(org)
        })
        .await
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let user = user.clone();
        self.write(move |tx| {
            load_org(tx, user.organization_id)?;
            if find_user(tx, user.id)?.is_some() {
                return Err(taken("user", user.id));
            }
            tx.execute_cached(
                "INSERT INTO users (id, organization_id, name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    user.id.to_string(),
                    user.organization_id.to_string(),
                    user.name,
                    micros(&user.created_at),
                    micros(&user.updated_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        self.read(move |conn| load_user(conn, id)).await
    }

    async fn list_users(
        &self,
        org: Option<OrgId>,
        after: Option<UserId>,
        limit: usize,
    ) -> StoreResult<Vec<User>> {
        self.read(move |conn| list_users(conn, org, after, limit))
            .await
    }

    async fn update_user(&self, edit: UserUpdate) -> StoreResult<User> {
        self.write(move |tx| update_user(tx, edit)).await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<User> {
        self.write(move |tx| {
            let user = load_user(tx, id)?;
            tx.execute_cached("DELETE FROM users WHERE id = ?1", [id.to_string()])?;
            Ok(user)
        })
        .await
    }

    async fn create_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |tx| create_key(tx, &key)).await
    }

    async fn find_key(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL"
            );
            let found = conn.query_row_cached(&sql, [hash], |r| Ok(key_row(r)));
            found.optional()?.transpose()
        })
        .await
    }

    async fn list_keys(&self, org: Option<OrgId>) -> StoreResult<Vec<ApiKey>> {
        self.read(move |conn| {
            let mut w = Where::default();
            if let Some(org) = org {
                w.push("organization_id = ?", [SqlValue::Text(org.to_string())]);
            }
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM api_keys {} ORDER BY created_at, id",
                w.where_clause()
            );
            let keys = collect(conn, &sql, w.params, key_row)?;
            Ok(keys.into_iter().map(|k| k.key).collect())
        })
        .await
    }

    async fn revoke_key(&self, id: ApiKeyId) -> StoreResult<ApiKey> {
        self.write(move |tx| {
            // A second revocation keeps the first time.
            tx.execute_cached(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                rusqlite::params![id.to_string(), micros(&mneme_types::time::now())],
            )?;
            Ok(load_key(tx, id)?.key)
        })
        .await
    }

    async fn count_active_keys(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let n: i64 = conn.query_row_cached(
                "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn append_audit(&self, entries: &[NewAuditEntry]) -> StoreResult<()> {
        let entries = entries.to_vec();
        self.write(move |tx| entries.iter().try_for_each(|e| insert_audit(tx, e)))
            .await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let filter = filter.clone();
        self.read(move |conn| list_audit(conn, &filter)).await
    }
}

fn taken(kind: &str, id: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Conflict(format!("{kind} {id} already exists")))
}

/// `LIMIT` takes an i64; a larger limit is no limit.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Rows after the cursor `(created_at, id)` in ascending order.
fn push_after(w: &mut Where, created_at: i64, id: String) {
    w.push(
        "(created_at, id) > (?, ?)",
        [SqlValue::Integer(created_at), SqlValue::Text(id)],
    );
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
    decode: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(decode(r)?);
    }
    Ok(out)
}

fn find_org(conn: &Connection, id: OrgId) -> Result<Option<Organization>> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1");
    let found = conn.query_row_cached(&sql, [id.to_string()], |r| Ok(org_row(r)));
    found.optional()?.transpose()
}

fn load_org(conn: &Connection, id: OrgId) -> Result<Organization> {
    find_org(conn, id)?.ok_or_else(|| Error::not_found("Organization", id))
}

fn org_row(r: &Row<'_>) -> Result<Organization> {
    Ok(Organization {
        id: parse(&r.get::<_, String>(0)?)?,
        name: r.get(1)?,
        privileged_tools: r.get(2)?,
        created_at: time(r.get(3)?),
    })
}

fn find_user(conn: &Connection, id: UserId) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    let found = conn.query_row_cached(&sql, [id.to_string()], |r| Ok(user_row(r)));
    found.optional()?.transpose()
}

fn load_user(conn: &Connection, id: UserId) -> Result<User> {
    find_user(conn, id)?.ok_or_else(|| Error::not_found("User", id))
}

fn user_row(r: &Row<'_>) -> Result<User> {
    Ok(User {
        id: parse(&r.get::<_, String>(0)?)?,
        organization_id: parse(&r.get::<_, String>(1)?)?,
        name: r.get(2)?,
        created_at: time(r.get(3)?),
        updated_at: time(r.get(4)?),
        is_deleted: false,
    })
}

fn list_users(
    conn: &Connection,
    org: Option<OrgId>,
    after: Option<UserId>,
    limit: usize,
) -> Result<Vec<User>> {
    let mut w = Where::default();
    if let Some(org) = org {
        w.push("organization_id = ?", [SqlValue::Text(org.to_string())]);
    }
    if let Some(after) = after {
        let cursor = load_user(conn, after)?;
        push_after(&mut w, micros(&cursor.created_at), after.to_string());
    }
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users {} ORDER BY created_at, id LIMIT {}",
        w.where_clause(),
        sql_limit(limit)
    );
    collect(conn, &sql, w.params, user_row)
}

fn update_user(tx: &Connection, edit: UserUpdate) -> Result<User> {
    let mut user = load_user(tx, edit.id)?;
    if let Some(name) = edit.name {
        user.name = name;
    }
    if let Some(org) = edit.organization_id {
        load_org(tx, org)?;
        user.organization_id = org;
    }
    user.updated_at = mneme_types::time::now();
    tx.execute_cached(
        "UPDATE users SET name = ?2, organization_id = ?3, updated_at = ?4 WHERE id = ?1",
        rusqlite::params![
            user.id.to_string(),
            user.name,
            user.organization_id.to_string(),
            micros(&user.updated_at)
        ],
    )?;
    // A key is of its user's organization: a user who moves takes its keys along.
    tx.execute_cached(
        "UPDATE api_keys SET organization_id = ?2 WHERE user_id = ?1",
        [user.id.to_string(), user.organization_id.to_string()],
    )?;
    Ok(user)
}

fn create_key(tx: &Connection, record: &ApiKeyRecord) -> Result<()> {
    let key = &record.key;
    let user = load_user(tx, key.user_id)?;
    if user.organization_id != key.organization_id {
        return Err(Error::Store(StoreError::Invalid(format!(
            "user {} is not of organization {}",
            key.user_id, key.organization_id
        ))));
    }
    let clash: bool = tx.query_row_cached(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1 OR hash = ?2)",
        [key.id.to_string(), record.hash.clone()],
        |r| r.get(0),
    )?;
    if clash {
        return Err(taken("API key", key.id));
    }
    tx.execute_cached(
        "INSERT INTO api_keys (id, name, organization_id, user_id, role, prefix, hash,
                               created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            key.id.to_string(),
            key.name,
            key.organization_id.to_string(),
            key.user_id.to_string(),
            key.role.as_str(),
            key.prefix,
            record.hash,
            micros(&key.created_at),
            key.revoked_at.as_ref().map(micros),
        ],
    )?;
    Ok(())
}

fn load_key(conn: &Connection, id: ApiKeyId) -> Result<ApiKeyRecord> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1");
    let found = conn.query_row_cached(&sql, [id.to_string()], |r| Ok(key_row(r)));
    found
        .optional()?
        .transpose()?
        .ok_or_else(|| Error::not_found("ApiKey", id))
}

fn key_row(r: &Row<'_>) -> Result<ApiKeyRecord> {
    let role: String = r.get(4)?;
    Ok(ApiKeyRecord {
        key: ApiKey {
            id: parse(&r.get::<_, String>(0)?)?,
            name: r.get(1)?,
            organization_id: parse(&r.get::<_, String>(2)?)?,
            user_id: parse(&r.get::<_, String>(3)?)?,
            role: KeyRole::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("key role {role}")))?,
            prefix: r.get(5)?,
            created_at: time(r.get(6)?),
            revoked_at: r.get::<_, Option<i64>>(7)?.map(time),
        },
        hash: r.get(8)?,
    })
}

fn insert_audit(tx: &Connection, e: &NewAuditEntry) -> Result<()> {
    tx.execute_cached(
        "INSERT INTO audit_log (at, organization_id, user_id, key_id, method, route, path,
                                status, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            micros(&e.at),
            e.organization_id.to_string(),
            e.user_id.to_string(),
            e.key_id.map(|k| k.to_string()),
            e.method,
            e.route,
            e.path,
            i64::from(e.status),
            e.request_id,
        ],
    )?;
    Ok(())
}

fn list_audit(conn: &Connection, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let mut w = Where::default();
    if let Some(org) = f.organization_id {
        w.push("organization_id = ?", [SqlValue::Text(org.to_string())]);
    }
    if let Some(user) = f.user_id {
        w.push("user_id = ?", [SqlValue::Text(user.to_string())]);
    }
    if let Some(after) = f.after {
        w.push("seq > ?", [SqlValue::Integer(after)]);
    }
    if let Some(before) = f.before {
        w.push("seq < ?", [SqlValue::Integer(before)]);
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
    collect(conn, &sql, w.params, audit_row)
}

fn audit_row(r: &Row<'_>) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: time(r.get(1)?),
        organization_id: parse(&r.get::<_, String>(2)?)?,
        user_id: parse(&r.get::<_, String>(3)?)?,
        key_id: r
            .get::<_, Option<String>>(4)?
            .map(|k| parse(&k))
            .transpose()?,
        method: r.get(5)?,
        route: r.get(6)?,
        path: r.get(7)?,
        status: u16::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
        request_id: r.get(9)?,
    })
}

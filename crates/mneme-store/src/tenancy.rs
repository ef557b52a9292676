//! The control plane's records: organizations, users, API keys and the audit log. They live in
//! the server's main database only; each organization's own data is in a store of its own.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_types::{
    ApiKey, ApiKeyId, AuditEntry, OrgId, Organization, OrganizationUpdate, User, UserId, UserUpdate,
};

use crate::{Order, Result};

/// An API key as stored: its listing and the SHA-256 of the key (lowercase hex), by which a
/// request's key is found. The key itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub key: ApiKey,
    pub hash: String,
}

/// A mutation to record; the store numbers it (`seq`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub key_id: Option<ApiKeyId>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: u16,
    pub request_id: Option<String>,
}

/// Which audit entries a listing returns, by `seq` in `order`.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub organization_id: Option<OrgId>,
    pub user_id: Option<UserId>,
    /// Only entries with a larger `seq`.
    pub after: Option<i64>,
    /// Only entries with a smaller `seq`.
    pub before: Option<i64>,
    pub limit: usize,
    pub order: Order,
}

/// Organizations, users, API keys and the audit log. The default organization and user
/// (`DEFAULT_ORG_ID`, `DEFAULT_USER_ID`) exist in every database from its creation.
#[async_trait]
pub trait TenancyStore: Send + Sync {
    /// A taken id is `Conflict`.
    async fn create_org(&self, org: &Organization) -> Result<()>;
    /// An unknown id is `NotFound` (kind `Organization`).
    async fn get_org(&self, id: OrgId) -> Result<Organization>;
    /// By creation time then id, ascending, after the cursor (an unknown cursor is `NotFound`).
    async fn list_orgs(&self, after: Option<OrgId>, limit: usize) -> Result<Vec<Organization>>;
    async fn update_org(&self, id: OrgId, edit: OrganizationUpdate) -> Result<Organization>;
    /// Deletes the organization with its users and their keys (its audit entries stay).
    /// Answers what was deleted.
    async fn delete_org(&self, id: OrgId) -> Result<Organization>;

    /// The organization must exist (`NotFound`, kind `Organization`); a taken id is `Conflict`.
    async fn create_user(&self, user: &User) -> Result<()>;
    /// An unknown id is `NotFound` (kind `User`).
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// By creation time then id, ascending, after the cursor (an unknown cursor is `NotFound`);
    /// `org` narrows to one organization's users.
    async fn list_users(
        &self,
        org: Option<OrgId>,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>>;
    /// The fields given change, `updated_at` becomes now; a new organization must exist, and
    /// the user's keys move to it with the user (a key is of its user's organization).
    async fn update_user(&self, edit: UserUpdate) -> Result<User>;
    /// Deletes the user with its keys. Answers what was deleted.
    async fn delete_user(&self, id: UserId) -> Result<User>;

    /// Its user must exist (`NotFound`, kind `User`) and be of the key's organization
    /// (`Invalid`); a taken id or hash is `Conflict`.
    async fn create_key(&self, key: &ApiKeyRecord) -> Result<()>;
    /// The unrevoked key with this hash, if any.
    async fn find_key(&self, hash: &str) -> Result<Option<ApiKeyRecord>>;
    /// By creation time, ascending, revoked ones included; `org` narrows to one organization.
    async fn list_keys(&self, org: Option<OrgId>) -> Result<Vec<ApiKey>>;
    /// Marks the key revoked now (a revoked key stays revoked at its first time). An unknown
    /// id is `NotFound` (kind `ApiKey`).
    async fn revoke_key(&self, id: ApiKeyId) -> Result<ApiKey>;
    /// How many keys are not revoked.
    async fn count_active_keys(&self) -> Result<u64>;

    /// Records the entries, in order, in one transaction.
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<()>;
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}

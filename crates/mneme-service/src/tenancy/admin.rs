//! The control plane's use cases: organizations and users (Letta's `/v1/admin` routes), API
//! keys and the audit log. Every one needs an admin caller; the default organization and user
//! cannot be deleted, since an open server's anonymous requests act as them.

use mneme_store::{ApiKeyRecord, AuditFilter, TenancyStore};
use mneme_types::{
    ApiKey, ApiKeyId, AuditEntry, DEFAULT_ORG_ID, DEFAULT_USER_ID, KeyRole, OrgId, Organization,
    OrganizationCreate, OrganizationUpdate, User, UserCreate, UserId, UserUpdate, time,
};

use super::auth::{Caller, generate_key, hash_key};
use super::{Credentials, Tenancy};
use crate::{Result, ServiceError};

/// A key to create: for `user` (the default user when `None`) of that user's organization.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub user: Option<UserId>,
    pub role: KeyRole,
}

/// The largest page the admin listings answer.
const MAX_LIMIT: usize = 1000;

impl Tenancy {
    /// The caller behind a request's credentials.
    pub async fn authenticate(&self, creds: &Credentials) -> Result<Caller> {
        self.inner.auth.authenticate(creds).await
    }

    pub async fn list_orgs(
        &self,
        caller: &Caller,
        after: Option<OrgId>,
        limit: Option<usize>,
    ) -> Result<Vec<Organization>> {
        admin_only(caller)?;
        Ok(self
            .inner
            .control
            .list_orgs(after, page_size(limit))
            .await?)
    }

    pub async fn create_org(
        &self,
        caller: &Caller,
        req: OrganizationCreate,
    ) -> Result<Organization> {
        admin_only(caller)?;
        let org = Organization {
            id: OrgId::new(),
            name: req.name.unwrap_or_else(crate::names::random_org_name),
            created_at: time::now(),
            privileged_tools: req.privileged_tools.unwrap_or(false),
        };
        self.inner.control.create_org(&org).await?;
        Ok(org)
    }

    pub async fn update_org(
        &self,
        caller: &Caller,
        id: OrgId,
        edit: OrganizationUpdate,
    ) -> Result<Organization> {
        admin_only(caller)?;
        Ok(self.inner.control.update_org(id, edit).await?)
    }

    /// Deletes the organization with its users and keys, then its data: its service stops
    /// and its store is removed.
    pub async fn delete_org(&self, caller: &Caller, id: OrgId) -> Result<Organization> {
        admin_only(caller)?;
        if id == DEFAULT_ORG_ID {
            return Err(ServiceError::bad(
                "the default organization cannot be deleted",
            ));
        }
        let org = self.inner.control.delete_org(id).await?;
        self.inner.auth.forget_keys();
        self.close(id).await;
        if let Some(opener) = &self.inner.opener
            && let Err(e) = opener.remove(id).await
        {
            tracing::warn!(org = %id, error = %e, "the deleted organization's data stays on disk");
        }
        Ok(org)
    }

    pub async fn list_users(
        &self,
        caller: &Caller,
        after: Option<UserId>,
        limit: Option<usize>,
    ) -> Result<Vec<User>> {
        admin_only(caller)?;
        let page = page_size(limit);
        Ok(self.inner.control.list_users(None, after, page).await?)
    }

    pub async fn create_user(&self, caller: &Caller, req: UserCreate) -> Result<User> {
        admin_only(caller)?;
        let now = time::now();
        let user = User {
            id: UserId::new(),
            organization_id: req.organization_id,
            name: req.name,
            created_at: now,
            updated_at: now,
            is_deleted: false,
        };
        self.inner.control.create_user(&user).await?;
        Ok(user)
    }

    /// A user moved to another organization keeps its keys, which then act there.
    pub async fn update_user(&self, caller: &Caller, edit: UserUpdate) -> Result<User> {
        admin_only(caller)?;
        let user = self.inner.control.update_user(edit).await?;
        self.inner.auth.forget_keys();
        Ok(user)
    }

    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<User> {
        admin_only(caller)?;
        if id == DEFAULT_USER_ID {
            return Err(ServiceError::bad("the default user cannot be deleted"));
        }
        let mut user = self.inner.control.delete_user(id).await?;
        self.inner.auth.forget_keys();
        user.is_deleted = true;
        Ok(user)
    }

    /// Creates a key and answers it with the key itself, which is shown this once.
    pub async fn create_key(&self, caller: &Caller, req: NewKey) -> Result<(ApiKey, String)> {
        admin_only(caller)?;
        let created = issue_key(self.inner.control.as_ref(), req).await?;
        // A lookup of this token before it existed may be cached as unknown.
        self.inner.auth.forget_keys();
        Ok(created)
    }

    pub async fn list_keys(&self, caller: &Caller, org: Option<OrgId>) -> Result<Vec<ApiKey>> {
        admin_only(caller)?;
        Ok(self.inner.control.list_keys(org).await?)
    }

    pub async fn revoke_key(&self, caller: &Caller, id: ApiKeyId) -> Result<ApiKey> {
        admin_only(caller)?;
        let key = self.inner.control.revoke_key(id).await?;
        self.inner.auth.forget_keys();
        Ok(key)
    }

    /// How many keys can be used; a server bound beyond loopback refuses to start with none.
    pub async fn active_keys(&self) -> Result<u64> {
        Ok(self.inner.control.count_active_keys().await?)
    }

    pub async fn list_audit(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>> {
        admin_only(caller)?;
        let filter = AuditFilter {
            limit: page_size(Some(filter.limit)),
            ..filter
        };
        self.inner.audit.list(&filter).await
    }
}

/// Creates a key for the user `req` names (the default user when none), of that user's
/// organization; answers it with the key itself. Also `mneme keys create`, with no server.
pub async fn issue_key(control: &dyn TenancyStore, req: NewKey) -> Result<(ApiKey, String)> {
    let user = control
        .get_user(req.user.unwrap_or(DEFAULT_USER_ID))
        .await?;
    let secret = generate_key();
    let key = ApiKey {
        id: ApiKeyId::new(),
        name: req.name,
        organization_id: user.organization_id,
        user_id: user.id,
        role: req.role,
        prefix: secret.chars().take(14).collect(),
        created_at: time::now(),
        revoked_at: None,
    };
    let record = ApiKeyRecord {
        key: key.clone(),
        hash: hash_key(&secret),
    };
    control.create_key(&record).await?;
    Ok((key, secret))
}

fn admin_only(caller: &Caller) -> Result<()> {
    if caller.admin {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "this route needs an admin key".to_owned(),
        ))
    }
}

fn page_size(limit: Option<usize>) -> usize {
    limit.unwrap_or(50).clamp(1, MAX_LIMIT)
}

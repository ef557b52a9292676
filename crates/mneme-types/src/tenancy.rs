//! Tenancy on the wire: organizations and users as Letta's `/v1/admin` routes show them
//! (`Organization`, `User` and their create and update bodies), and mneme's API keys and audit
//! entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ApiKeyId, OrgId, UserId, time};

/// Letta's default organization: every deployment has it, and data written without a tenant
/// (no key, no `user_id` header) belongs to it.
pub const DEFAULT_ORG_ID: OrgId = OrgId::from_u128(0x00000000_0000_4000_8000_000000000000);
/// Letta's default user, of the default organization.
pub const DEFAULT_USER_ID: UserId = UserId::from_u128(0x00000000_0000_4000_8000_000000000000);
/// The names Letta gives them.
pub const DEFAULT_ORG_NAME: &str = "default_org";
pub const DEFAULT_USER_NAME: &str = "default_user";

/// `Organization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    pub privileged_tools: bool,
}

/// `OrganizationCreate`: a name is generated when none is given.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationCreate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub privileged_tools: Option<bool>,
}

/// `OrganizationUpdate`: the fields given change.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub privileged_tools: Option<bool>,
}

/// `User`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrgId,
    pub name: String,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
    pub is_deleted: bool,
}

/// `UserCreate`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub name: String,
    pub organization_id: OrgId,
}

/// `UserUpdate`: the user named by `id` gets the fields given.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub id: UserId,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub organization_id: Option<OrgId>,
}

/// What an API key may do. Keys are always of one organization and act as one of its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// The tenant's API: its own organization's data, as its own users.
    Member,
    /// The operator: the `/v1/admin` routes, and any user of any organization through the
    /// `user_id` header.
    Admin,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Member => "member",
            KeyRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<KeyRole> {
        match s {
            "member" => Some(KeyRole::Member),
            "admin" => Some(KeyRole::Admin),
            _ => None,
        }
    }
}

/// An API key as listed: never the key itself, which is shown once at creation and stored
/// only as a hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub role: KeyRole,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One recorded mutation: who did what, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Increasing in the order entries were recorded; the cursor of listings.
    pub seq: i64,
    #[serde(serialize_with = "time::serialize_resource")]
    pub at: DateTime<Utc>,
    pub organization_id: OrgId,
    pub user_id: UserId,
    /// The key the request carried; `None` without one (loopback, or the server password).
    pub key_id: Option<ApiKeyId>,
    pub method: String,
    /// The route's template (`/v1/agents/{agent_id}`).
    pub route: String,
    /// The request's path, with its ids.
    pub path: String,
    pub status: u16,
    pub request_id: Option<String>,
}

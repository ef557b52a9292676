//! Identities as stored, and what changes them: the records of `IdentityStore`.

use chrono::{DateTime, Utc};
use mneme_types::{AgentId, BlockId, IdentityId, IdentityProperty, IdentityType};

use crate::StoreError;

/// An identity as stored: the wire `Identity` without its (always empty) link lists, with the
/// timestamps that order listings. Its agents and blocks are links of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    pub id: IdentityId,
    /// Unique within its project; identities without a project share one namespace.
    pub identifier_key: String,
    pub name: String,
    pub identity_type: IdentityType,
    pub project_id: Option<String>,
    pub properties: Vec<IdentityProperty>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An identity to create with the agents and blocks it starts linked to.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub identity: IdentityRecord,
    pub agents: Vec<AgentId>,
    pub blocks: Vec<BlockId>,
}

/// A change to one kind of an identity's links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Links<T> {
    #[default]
    Keep,
    /// These, in this order, and no others.
    Replace(Vec<T>),
    /// These as well (those linked already stay where they are).
    Add(Vec<T>),
    /// Not these (those not linked are ignored).
    Remove(Vec<T>),
}

/// The changes to an identity's links written with an edit. Every agent or block named must
/// exist, whatever the change (`NotFound` otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityLinks {
    pub agents: Links<AgentId>,
    pub blocks: Links<BlockId>,
}

/// Which identities a listing returns; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct IdentityFilter {
    /// Case-insensitive substring of the name, as Letta searches it.
    pub name: Option<String>,
    pub project_id: Option<String>,
    pub identifier_key: Option<String>,
    pub identity_type: Option<IdentityType>,
}

/// A change to a stored identity, applied inside the write transaction; `Err` aborts it.
pub type IdentityEdit = Box<dyn FnOnce(&mut IdentityRecord) -> Result<(), StoreError> + Send>;

//! Sandbox configurations and their environment variables as stored: the records of
//! `SandboxStore`.

use chrono::{DateTime, Utc};
use mneme_types::{SandboxConfig, SandboxConfigId, SandboxEnvVarId};

use crate::StoreError;

/// An environment variable of a sandbox configuration. Its value arrives sealed under the
/// server secret and stays so; the store never sees it in the clear.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SandboxEnvVarRecord {
    pub id: SandboxEnvVarId,
    pub sandbox_config_id: SandboxConfigId,
    /// Unique within its configuration.
    pub key: String,
    pub value_sealed: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for SandboxEnvVarRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxEnvVarRecord")
            .field("id", &self.id)
            .field("sandbox_config_id", &self.sandbox_config_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Read-modify-write of a stored configuration, applied inside the write transaction.
pub type SandboxConfigEdit = Box<dyn FnOnce(&mut SandboxConfig) -> Result<(), StoreError> + Send>;

/// Read-modify-write of a stored variable, applied inside the write transaction.
pub type SandboxEnvVarEdit =
    Box<dyn FnOnce(&mut SandboxEnvVarRecord) -> Result<(), StoreError> + Send>;

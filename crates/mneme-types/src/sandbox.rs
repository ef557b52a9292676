//! Sandbox configurations (`/v1/sandbox-config`): `SandboxConfig` with its `type` and typed
//! `config` (`LocalSandboxConfig`, `E2BSandboxConfig`, `ModalSandboxConfig`), the requests that
//! create and change one, and `SandboxEnvironmentVariable` with its requests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{SandboxConfigId, SandboxEnvVarId, time};

/// `SandboxType`: where tools run. A server holds at most one configuration of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SandboxType {
    E2b,
    Modal,
    Local,
}

impl SandboxType {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxType::E2b => "e2b",
            SandboxType::Modal => "modal",
            SandboxType::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Option<SandboxType> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// `PipRequirement`: a package name and an optional version (`==` pin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PipRequirement {
    pub name: String,
    /// Absent on the wire when `None` (Letta stores configs without their `None`s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl PipRequirement {
    /// pip's spelling: `name` or `name==version`.
    pub fn spec(&self) -> String {
        match &self.version {
            Some(v) => format!("{}=={v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// `LocalSandboxConfig`: tools run on this machine, in runs under `sandbox_dir`, with the
/// interpreter of the virtualenv `sandbox_dir/venv_name` when `use_venv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LocalSandboxConfig {
    /// Filled with the server's default when a request leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_dir: Option<String>,
    #[serde(default)]
    pub use_venv: bool,
    #[serde(default = "default_venv_name")]
    pub venv_name: String,
    #[serde(default)]
    pub pip_requirements: Vec<PipRequirement>,
}

fn default_venv_name() -> String {
    "venv".into()
}

impl Default for LocalSandboxConfig {
    fn default() -> Self {
        LocalSandboxConfig {
            sandbox_dir: None,
            use_venv: false,
            venv_name: default_venv_name(),
            pip_requirements: Vec::new(),
        }
    }
}

/// `E2BSandboxConfig`: stored and listed; this server cannot run tools on E2B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct E2bSandboxConfig {
    #[serde(default = "default_e2b_timeout")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_requirements: Option<Vec<String>>,
}

fn default_e2b_timeout() -> i64 {
    300
}

impl Default for E2bSandboxConfig {
    fn default() -> Self {
        E2bSandboxConfig {
            timeout: default_e2b_timeout(),
            template: None,
            pip_requirements: None,
        }
    }
}

/// `ModalSandboxConfig`'s `language`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ModalLanguage {
    #[default]
    Python,
    Typescript,
}

/// `ModalSandboxConfig`: stored and listed; this server cannot run tools on Modal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModalSandboxConfig {
    #[serde(default = "default_modal_timeout")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_requirements: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm_requirements: Option<Vec<String>>,
    #[serde(default)]
    pub language: ModalLanguage,
}

fn default_modal_timeout() -> i64 {
    60
}

/// One of the three configurations; its variant is the configuration's `type`. On the wire it
/// is the bare object, as Letta's `config` dict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum SandboxSettings {
    Local(LocalSandboxConfig),
    E2b(E2bSandboxConfig),
    Modal(ModalSandboxConfig),
}

/// The keys each kind knows, in Letta's union order (local, e2b, modal).
const KINDS: [(SandboxType, &[&str]); 3] = [
    (
        SandboxType::Local,
        &["sandbox_dir", "use_venv", "venv_name", "pip_requirements"],
    ),
    (
        SandboxType::E2b,
        &["timeout", "template", "pip_requirements"],
    ),
    (
        SandboxType::Modal,
        &[
            "timeout",
            "pip_requirements",
            "npm_requirements",
            "language",
        ],
    ),
];

impl SandboxSettings {
    pub fn kind(&self) -> SandboxType {
        match self {
            SandboxSettings::Local(_) => SandboxType::Local,
            SandboxSettings::E2b(_) => SandboxType::E2b,
            SandboxSettings::Modal(_) => SandboxType::Modal,
        }
    }

    /// Reads `value` as the configuration of `kind` (a stored config, whose kind is known).
    pub fn read(kind: SandboxType, value: Value) -> Result<SandboxSettings, serde_json::Error> {
        Ok(match kind {
            SandboxType::Local => SandboxSettings::Local(serde_json::from_value(value)?),
            SandboxType::E2b => SandboxSettings::E2b(serde_json::from_value(value)?),
            SandboxType::Modal => SandboxSettings::Modal(serde_json::from_value(value)?),
        })
    }

    /// The kind a request's untyped `config` is, as Letta's union decides it: of the kinds
    /// the object is valid for, the one that knows most of its keys; ties go to the first
    /// (so `{}` is a local configuration). Unlike Letta, an object whose keys only a kind it
    /// is invalid for knows is that kind's error, not another kind that ignores them.
    pub fn classify(object: Map<String, Value>) -> Result<SandboxSettings, serde_json::Error> {
        let mut best: Option<(usize, SandboxSettings)> = None;
        let mut error: Option<(usize, serde_json::Error)> = None;
        for (kind, keys) in KINDS {
            let known = keys.iter().filter(|k| object.contains_key(**k)).count();
            match SandboxSettings::read(kind, Value::Object(object.clone())) {
                Ok(settings) if best.as_ref().is_none_or(|(n, _)| known > *n) => {
                    best = Some((known, settings));
                }
                Ok(_) => {}
                Err(e) if error.as_ref().is_none_or(|(n, _)| known > *n) => {
                    error = Some((known, e));
                }
                Err(_) => {}
            }
        }
        match (best, error) {
            (Some((n, _)), Some((m, e))) if m > n => Err(e),
            (Some((_, settings)), _) => Ok(settings),
            (None, Some((_, e))) => Err(e),
            (None, None) => Err(serde::de::Error::custom("no sandbox configuration matches")),
        }
    }
}

impl<'de> Deserialize<'de> for SandboxSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let object = Map::<String, Value>::deserialize(d)?;
        SandboxSettings::classify(object).map_err(serde::de::Error::custom)
    }
}

/// `SandboxConfig`, in Letta's field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "StoredSandboxConfig")]
pub struct SandboxConfig {
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
    pub id: SandboxConfigId,
    #[serde(rename = "type")]
    pub kind: SandboxType,
    pub organization_id: Option<String>,
    pub config: SandboxSettings,
}

/// A `SandboxConfig` as read back: its `config` is read as the kind `type` names rather than
/// classified again.
#[derive(Deserialize, schemars::JsonSchema)]
struct StoredSandboxConfig {
    #[serde(default)]
    created_by_id: Option<String>,
    #[serde(default)]
    last_updated_by_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    id: SandboxConfigId,
    #[serde(rename = "type")]
    kind: SandboxType,
    #[serde(default)]
    organization_id: Option<String>,
    config: Value,
}

impl TryFrom<StoredSandboxConfig> for SandboxConfig {
    type Error = serde_json::Error;

    fn try_from(s: StoredSandboxConfig) -> Result<Self, Self::Error> {
        Ok(SandboxConfig {
            created_by_id: s.created_by_id,
            last_updated_by_id: s.last_updated_by_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            id: s.id,
            kind: s.kind,
            organization_id: s.organization_id,
            config: SandboxSettings::read(s.kind, s.config)?,
        })
    }
}

/// `SandboxConfigCreate`: the configuration's kind is decided from its keys.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct SandboxConfigCreate {
    pub config: SandboxSettings,
}

/// `SandboxConfigUpdate`: absent or `null` `config` changes nothing.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct SandboxConfigUpdate {
    #[serde(default)]
    pub config: Option<SandboxSettings>,
}

/// `SandboxEnvironmentVariable`, in Letta's field order. `value` is the plain value (as
/// Letta answers it); `value_enc` is always `null`: the sealed form never leaves the server.
#[derive(Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SandboxEnvironmentVariable {
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
    pub id: SandboxEnvVarId,
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub organization_id: Option<String>,
    pub value_enc: Option<String>,
    pub sandbox_config_id: SandboxConfigId,
}

impl std::fmt::Debug for SandboxEnvironmentVariable {
    // Values are secrets: they stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxEnvironmentVariable")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("sandbox_config_id", &self.sandbox_config_id)
            .finish_non_exhaustive()
    }
}

/// `SandboxEnvironmentVariableCreate`: creates the variable, or changes the one of that key.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
pub struct SandboxEnvironmentVariableCreate {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub description: Option<String>,
}

impl std::fmt::Debug for SandboxEnvironmentVariableCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxEnvironmentVariableCreate")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// `SandboxEnvironmentVariableUpdate` (PATCH): absent and `null` leave a field as it is.
#[derive(Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct SandboxEnvironmentVariableUpdate {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl std::fmt::Debug for SandboxEnvironmentVariableUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxEnvironmentVariableUpdate")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(v: Value) -> SandboxType {
        serde_json::from_value::<SandboxSettings>(v).unwrap().kind()
    }

    #[test]
    fn a_config_is_the_kind_that_knows_most_of_its_keys() {
        assert_eq!(kind(json!({})), SandboxType::Local);
        assert_eq!(kind(json!({"use_venv": true})), SandboxType::Local);
        assert_eq!(kind(json!({"timeout": 30})), SandboxType::E2b);
        assert_eq!(kind(json!({"template": "t"})), SandboxType::E2b);
        assert_eq!(kind(json!({"language": "typescript"})), SandboxType::Modal);
        assert_eq!(
            kind(json!({"pip_requirements": [{"name": "x"}]})),
            SandboxType::Local
        );
        assert_eq!(kind(json!({"pip_requirements": ["x"]})), SandboxType::E2b);
        assert!(serde_json::from_value::<SandboxSettings>(json!({"use_venv": "no"})).is_err());
    }

    #[test]
    fn a_stored_config_reads_back_as_its_type() {
        let config = SandboxConfig {
            created_by_id: None,
            last_updated_by_id: None,
            created_at: time::now(),
            updated_at: time::now(),
            id: SandboxConfigId::new(),
            kind: SandboxType::Modal,
            organization_id: None,
            config: SandboxSettings::Modal(ModalSandboxConfig {
                timeout: 60,
                pip_requirements: None,
                npm_requirements: None,
                language: ModalLanguage::Python,
            }),
        };
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains(r#""type":"modal""#), "{text}");
        assert!(
            text.contains(r#""config":{"timeout":60,"language":"python"}"#),
            "{text}"
        );
        let back: SandboxConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back.config, config.config);
    }
}

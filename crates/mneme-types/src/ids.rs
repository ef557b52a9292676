//! Typed ids in Letta's `<prefix>-<uuid4>` spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an id starting with '{0}-'")]
    Prefix(&'static str),
    #[error("the part after '{0}-' is not a UUID")]
    Uuid(&'static str),
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random (version 4) id: Letta validates path ids against uuid4.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn uuid(&self) -> Uuid {
                self.0
            }

            /// The id of this kind with that uuid: one record shown under another kind's
            /// prefix keeps a stable id.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The id with that uuid as a number, for well-known ids.
            pub const fn from_u128(v: u128) -> Self {
                Self(Uuid::from_u128(v))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "-{}"), self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let rest = s
                    .strip_prefix(concat!($prefix, "-"))
                    .ok_or(IdError::Prefix($prefix))?;
                // Only the canonical hyphenated form: Letta checks an exact length too.
                if rest.len() != 36 {
                    return Err(IdError::Uuid($prefix));
                }
                Uuid::parse_str(rest).map(Self).map_err(|_| IdError::Uuid($prefix))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        /// A string with the kind's prefix and a canonical UUID, as `FromStr` reads it.
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": concat!("^", $prefix, "-[0-9a-f-]{36}$"),
                    "examples": [concat!($prefix, "-123e4567-e89b-42d3-a456-426614174000")],
                })
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// `agent-<uuid>`
    AgentId,
    "agent"
);
typed_id!(
    /// `block-<uuid>`
    BlockId,
    "block"
);
typed_id!(
    /// `message-<uuid>`
    MessageId,
    "message"
);
typed_id!(
    /// `run-<uuid>`
    RunId,
    "run"
);
typed_id!(
    /// `step-<uuid>`
    StepId,
    "step"
);
typed_id!(
    /// `tool-<uuid>`
    ToolId,
    "tool"
);
typed_id!(
    /// `provider_trace-<uuid>`: a step's provider trace, shown with its step's uuid (one
    /// trace per step).
    ProviderTraceId,
    "provider_trace"
);
typed_id!(
    /// `passage-<uuid>`
    PassageId,
    "passage"
);
typed_id!(
    /// `mcp_server-<uuid>` (Letta's one prefix with an underscore)
    McpServerId,
    "mcp_server"
);
typed_id!(
    /// `archive-<uuid>`
    ArchiveId,
    "archive"
);
typed_id!(
    /// `provider-<uuid>`
    ProviderId,
    "provider"
);
typed_id!(
    /// `conv-<uuid>`
    ConversationId,
    "conv"
);
typed_id!(
    /// `group-<uuid>`
    GroupId,
    "group"
);
typed_id!(
    /// `identity-<uuid>`
    IdentityId,
    "identity"
);
typed_id!(
    /// `source-<uuid>`: a folder (Letta's older name for one is a source)
    FolderId,
    "source"
);
typed_id!(
    /// `file-<uuid>`
    FileId,
    "file"
);
typed_id!(
    /// `job-<uuid>`
    JobId,
    "job"
);
typed_id!(
    /// `file_agent-<uuid>`: a file attached to an agent
    FileAgentId,
    "file_agent"
);
typed_id!(
    /// `sandbox-<uuid>`: a sandbox configuration
    SandboxConfigId,
    "sandbox"
);
typed_id!(
    /// `sandbox-env-<uuid>`: a sandbox configuration's environment variable
    SandboxEnvVarId,
    "sandbox-env"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_kinds() {
        let id = AgentId::new();
        let text = id.to_string();
        assert!(text.starts_with("agent-"));
        assert_eq!(text.parse::<AgentId>().unwrap(), id);
        assert_eq!(
            text.replace("agent-", "block-").parse::<AgentId>(),
            Err(IdError::Prefix("agent"))
        );
        assert_eq!("agent-123".parse::<AgentId>(), Err(IdError::Uuid("agent")));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
    }
}
typed_id!(
    /// `org-<uuid>`: an organization, the unit of tenancy.
    OrgId,
    "org"
);
typed_id!(
    /// `user-<uuid>`
    UserId,
    "user"
);
typed_id!(
    /// `apikey-<uuid>`: an API key's id (never the key itself).
    ApiKeyId,
    "apikey"
);

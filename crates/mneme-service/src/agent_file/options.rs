//! What an import or export is asked to do, as Letta's form and query name it.

use mneme_types::ConversationId;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Result, ServiceError};

/// `Body_import_agent`'s options (the file aside), newer names over deprecated ones.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Tools of the server with a file tool's name take the file's source and schema (Letta's
    /// default); built-in tools are never replaced.
    pub override_existing_tools: bool,
    /// Only the system message of each agent's history is imported.
    pub strip_messages: bool,
    /// `name` (or `override_name`): the imported agent's name.
    pub name: Option<String>,
    /// `_copy` appended to each agent's name when no `name` is given (Letta's default: on).
    pub append_copy_suffix: bool,
    /// `model` (or `override_model_handle`): the agents' model handle instead of the file's.
    pub model: Option<String>,
    /// `embedding` (or `override_embedding_handle`, or the `x-override-embedding-model`
    /// header): the agents' embedding handle instead of the file's.
    pub embedding: Option<String>,
    pub project_id: Option<String>,
    /// `secrets` (or `env_vars_json`): values for the agents' tool environment variables.
    pub env_vars: Option<Map<String, Value>>,
    /// The file's ids that are ids of this server's kind are kept (a migration from a Letta
    /// server, whose ids clients stored); others get fresh ones. Never set by the HTTP form:
    /// an Agent File's ids are file-local and an upload always gets fresh ones.
    pub keep_ids: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            override_existing_tools: true,
            strip_messages: false,
            name: None,
            append_copy_suffix: true,
            model: None,
            embedding: None,
            project_id: None,
            env_vars: None,
            keep_ids: false,
        }
    }
}

impl ImportOptions {
    /// Takes one text part of the import form; unknown parts are ignored, as Letta's form does.
    pub fn set(&mut self, part: &str, value: &str) -> Result<()> {
        let text = || Some(value.to_owned()).filter(|v| !v.is_empty());
        match part {
            "override_existing_tools" => self.override_existing_tools = flag(part, value)?,
            "strip_messages" => self.strip_messages = flag(part, value)?,
            "append_copy_suffix" => self.append_copy_suffix = flag(part, value)?,
            "name" => self.name = text().or(self.name.take()),
            "override_name" => self.name = self.name.take().or_else(text),
            "model" => self.model = text().or(self.model.take()),
            "override_model_handle" => self.model = self.model.take().or_else(text),
            "embedding" => self.embedding = text().or(self.embedding.take()),
            "override_embedding_handle" => self.embedding = self.embedding.take().or_else(text),
            "project_id" => self.project_id = text(),
            "secrets" => self.env_vars = Some(env_vars(value)?),
            // The deprecated name gives way to `secrets`, whichever part comes first.
            "env_vars_json" if self.env_vars.is_none() => self.env_vars = Some(env_vars(value)?),
            _ => {}
        }
        Ok(())
    }
}

/// A form boolean as FastAPI reads one.
fn flag(part: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ServiceError::Unprocessable(format!(
            "{part}: Input should be a valid boolean, unable to interpret input '{value}'"
        ))),
    }
}

fn env_vars(value: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ServiceError::bad("secrets must be a valid JSON string")),
    }
}

/// What an export includes.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Leave the agents' message histories out (their in-context ids with them).
    pub scrub_messages: bool,
    /// Export this conversation's history and context instead of the default one's.
    pub conversation: Option<ConversationId>,
}

/// `ImportedAgentsResponse`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImportedAgents {
    pub agent_ids: Vec<mneme_types::AgentId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_names_win_over_deprecated_ones_in_any_order() {
        let mut o = ImportOptions::default();
        o.set("override_name", "old").unwrap();
        o.set("name", "new").unwrap();
        assert_eq!(o.name.as_deref(), Some("new"));
        let mut o = ImportOptions::default();
        o.set("model", "openai/a").unwrap();
        o.set("override_model_handle", "openai/b").unwrap();
        assert_eq!(o.model.as_deref(), Some("openai/a"));
        o.set("env_vars_json", r#"{"A": "1"}"#).unwrap();
        o.set("secrets", r#"{"B": "2"}"#).unwrap();
        assert!(o.env_vars.unwrap().contains_key("B"));
    }

    #[test]
    fn bad_values_are_named() {
        let mut o = ImportOptions::default();
        assert!(o.set("strip_messages", "maybe").is_err());
        assert!(o.set("secrets", "[1, 2]").is_err());
        assert!(o.set("secrets", "{not json").is_err());
        assert!(o.set("strip_messages", "true").is_ok() && o.strip_messages);
    }
}

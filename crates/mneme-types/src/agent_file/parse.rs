//! Reading an Agent File from bytes: the generation, the typed parse, the reference check.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, IgnoredAny};

use super::AgentFile;
use super::legacy::LegacyAgent;
use super::validate::{AgentFileWarning, validate};

/// How deep a document may be encoded as a JSON string inside a JSON string.
const MAX_ENCODINGS: usize = 3;

/// What is wrong with a file. Each names the place: a JSON position or a path such as
/// `agents[0].messages[3].role`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentFileError {
    #[error("the agent file is empty")]
    Empty,
    #[error("the agent file is cut short: its JSON ends early (line {line}, column {column})")]
    Truncated { line: usize, column: usize },
    #[error("the agent file is not valid JSON: {message} (line {line}, column {column})")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("an agent file is a JSON object, but this one is {found}")]
    NotAnObject { found: &'static str },
    #[error(
        "not an agent file: the object has neither `agents` (current format) nor `core_memory` \
         and `in_context_message_indices` (legacy format)"
    )]
    UnknownLayout,
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: the id {id:?} is used twice")]
    DuplicateId { path: String, id: String },
    #[error("{path}: {id:?} names no {kind} of this file")]
    DanglingReference {
        path: String,
        kind: &'static str,
        id: String,
    },
}

/// The layout a file was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Generation {
    /// `AgentFileSchema` (Letta 0.8 and later).
    Current,
    /// The single-agent layout; `version` is the Letta version that wrote it.
    Legacy { version: Option<String> },
}

/// A parsed file with what was learned on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAgentFile {
    /// Upgraded to the current layout, whatever the generation.
    pub file: AgentFile,
    pub generation: Generation,
    /// How many times the document was wrapped in a JSON string (0 for a plain document).
    pub encodings: usize,
    /// What is odd but importable.
    pub warnings: Vec<AgentFileWarning>,
}

/// Reads any generation of Agent File and upgrades it to the current layout.
pub fn parse_agent_file(bytes: &[u8]) -> Result<AgentFile, AgentFileError> {
    read_agent_file(bytes).map(|p| p.file)
}

/// [`parse_agent_file`], with the generation, the encodings and the warnings.
pub fn read_agent_file(bytes: &[u8]) -> Result<ParsedAgentFile, AgentFileError> {
    read_encoded(bytes, 0)
}

fn read_encoded(bytes: &[u8], encodings: usize) -> Result<ParsedAgentFile, AgentFileError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let found = match first {
        None => return Err(AgentFileError::Empty),
        Some(b'{') => return read_object(bytes, encodings),
        Some(b'"') if encodings < MAX_ENCODINGS => {
            let inner: String = serde_json::from_slice(bytes).map_err(json_error)?;
            return read_encoded(inner.as_bytes(), encodings + 1);
        }
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => {
            return Err(serde_json::from_slice::<IgnoredAny>(bytes)
                .map_or_else(json_error, |_| AgentFileError::UnknownLayout));
        }
    };
    Err(AgentFileError::NotAnObject { found })
}

fn read_object(bytes: &[u8], encodings: usize) -> Result<ParsedAgentFile, AgentFileError> {
    // A first pass over the top-level keys picks the layout and reports syntax errors with
    // their position before any typed error could hide them.
    let keys: BTreeMap<String, IgnoredAny> = serde_json::from_slice(bytes).map_err(json_error)?;
    let mut warnings = Vec::new();
    let (file, generation) = if keys.contains_key("agents") {
        (typed::<AgentFile>(bytes)?, Generation::Current)
    } else if keys.contains_key("core_memory") || keys.contains_key("in_context_message_indices") {
        let legacy = typed::<LegacyAgent>(bytes)?;
        let version = legacy.version().map(str::to_owned);
        (
            legacy.upgrade(&mut warnings)?,
            Generation::Legacy { version },
        )
    } else {
        return Err(AgentFileError::UnknownLayout);
    };
    warnings.extend(validate(&file)?);
    Ok(ParsedAgentFile {
        file,
        generation,
        encodings,
        warnings,
    })
}

/// Deserializes `bytes`, naming the path of a value of the wrong type.
fn typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AgentFileError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_eof() {
            return json_error(inner);
        }
        // The key scan has already read the whole document as JSON, so any other error is a
        // value of the wrong kind: serde_json reports an enum given a number as a syntax error.
        let message = if inner.is_data() {
            inner.to_string()
        } else {
            format!("a value of the wrong type ({inner})")
        };
        AgentFileError::Invalid { path, message }
    })
}

fn json_error(e: serde_json::Error) -> AgentFileError {
    let (line, column) = (e.line(), e.column());
    if e.is_eof() {
        AgentFileError::Truncated { line, column }
    } else if e.is_data() {
        AgentFileError::Invalid {
            path: ".".to_owned(),
            message: e.to_string(),
        }
    } else {
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        AgentFileError::Syntax {
            line,
            column,
            message,
        }
    }
}

//! Tool schemas from Python source: the request to the `ast` helper and its answer.
//!
//! The helper (`python/schema.py`) follows Letta's `derive_openai_json_schema` and
//! `generate_schema` (letta-runtime.md §14.1) with these deliberate differences:
//! - the tool is the *last top-level* `def` (or the one named by the caller); Letta takes the
//!   last `FunctionDef` in `ast.walk` order, which can be a method or a nested function;
//! - `async def` tools are accepted (Letta's static path skips them);
//! - `Literal["a", "b"]` gives `{"type": "string", "enum": ["a", "b"]}`, not Letta's one
//!   stringified-tuple value;
//! - `X | None` and `Union[X, None]` mean `Optional[X]`; keyword-only parameters count;
//! - Pydantic model parameters are not supported yet (an `InvalidSource` error).

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::ToolError;
use crate::process::Finished;

/// Parsing takes milliseconds; this only bounds a pathological source.
pub(crate) const SCHEMA_TIMEOUT: Duration = Duration::from_secs(30);

/// The helper's request.
pub(crate) fn request(source: &str, name: Option<&str>) -> Map<String, Value> {
    let mut request = Map::new();
    request.insert("source".into(), json!(source));
    request.insert("name".into(), json!(name));
    request
}

/// The schema, or why the source has none.
pub(crate) fn answer(finished: Finished) -> Result<Value, ToolError> {
    if finished.timed_out {
        return Err(ToolError::InvalidSource(
            "the source took too long to analyse".into(),
        ));
    }
    let mut doc = finished.document.map_err(|e| {
        ToolError::Io(format!(
            "the schema helper failed: {e}: {}",
            finished.stderr
        ))
    })?;
    let status = doc["status"].as_str().unwrap_or_default().to_owned();
    let error = doc["error"].as_str().unwrap_or("unknown error").to_owned();
    match status.as_str() {
        "success" => Ok(doc["schema"].take()),
        "invalid" => Err(ToolError::InvalidSource(error)),
        _ => Err(ToolError::Io(format!("the schema helper failed: {error}"))),
    }
}

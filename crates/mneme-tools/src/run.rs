//! Tool execution requests and outcomes, and how a finished run becomes an outcome.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ToolError;
use crate::process::{Exit, Finished, SIGXCPU};

/// One call of a tool function.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunRequest {
    /// The tool's whole source, executed in a fresh module.
    pub source: String,
    /// The function to call.
    pub function: String,
    /// Keyword arguments, as the model sent them.
    pub args: Map<String, Value>,
    /// Variables added to the tool's (otherwise empty) environment: agent secrets, sandbox
    /// variables. Later entries override earlier ones.
    pub env: Vec<(String, String)>,
}

/// Whether the function returned or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Success,
    Error,
}

/// What a tool call produced. Tool failures (exceptions, timeouts, limits) are outcomes with
/// status `Error`, never `Err`: the agent shows them to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// The return value as JSON; a value JSON cannot hold becomes its Python `str()`.
    /// `Null` when the call failed.
    pub result: Value,
    /// Python's `str()` of the return value when it is neither a `str` nor a `dict`: the text
    /// Letta gives the model for such values (lists appear in Python's repr, `None` as
    /// `"None"`).
    pub result_str: Option<String>,
    /// The tool's own output, capped (`SandboxOptions::max_output_bytes`).
    pub stdout: String,
    /// The tool's error output; for an exception it ends with the traceback.
    pub stderr: String,
    /// `"<ExceptionType>: <message>"` when the call failed.
    pub error: Option<String>,
}

/// The runner's result document (see `python/runner.py`).
#[derive(Deserialize)]
struct Document {
    status: String,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    result_str: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Environment variable names the kernel can carry and that cannot smuggle a second variable.
pub(crate) fn check_env(env: &[(String, String)]) -> Result<(), ToolError> {
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(ToolError::InvalidRequest(format!(
                "invalid environment variable for the tool: {name:?}"
            )));
        }
    }
    Ok(())
}

/// The limits an outcome's error messages name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) cpu_seconds: u64,
}

/// Turns a finished run into the outcome the agent sees.
pub(crate) fn outcome(finished: Finished, function: &str, limits: Limits) -> RunOutcome {
    let Finished {
        document,
        exit,
        stdout,
        stderr,
        timed_out,
    } = finished;
    let failed = |error: String| RunOutcome {
        status: RunStatus::Error,
        result: Value::Null,
        result_str: None,
        stdout: stdout.clone(),
        stderr: stderr.clone(),
        error: Some(error),
    };
    if timed_out {
        // Letta's wording (§14.2), which models and users have seen before.
        let secs = limits.timeout.as_secs_f64();
        return failed(format!(
            "TimeoutError: Executing tool {function} timed out after {secs:?} seconds."
        ));
    }
    if document.is_err() && exit == Exit::Signal(SIGXCPU) {
        return failed(format!(
            "TimeoutError: Executing tool {function} used more than {} seconds of CPU time.",
            limits.cpu_seconds
        ));
    }
    let doc = match document.map(serde_json::from_value::<Document>) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return failed(format!("SandboxError: malformed result document: {e}")),
        Err(reason) => return failed(format!("SandboxError: {reason}")),
    };
    if doc.status != "success" {
        let error = doc
            .error
            .unwrap_or_else(|| "SandboxError: the tool failed".into());
        return failed(error);
    }
    RunOutcome {
        status: RunStatus::Success,
        result: doc.result,
        result_str: doc.result_str,
        stdout,
        stderr,
        error: None,
    }
}

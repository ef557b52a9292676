//! Letta's built-in `run_code` (`tool_type` `letta_builtin`): the model's code runs in the tool
//! sandbox, under the server's local sandbox configuration, as a Python program of ours
//! (`run_code.py`) would run as a user's tool. Python always runs; js, ts, r and java run when
//! their interpreter is installed, and otherwise the call is a tool error that says so.
//!
//! Letta 0.16.7 runs this tool on E2B only; the answer keeps its shape (`results`, `logs`,
//! `error`) so that prompts written for it still read it.

use std::sync::Arc;

use async_trait::async_trait;
use mneme_tools::{RunRequest, RunStatus};
use serde_json::{Map, Value, json};

use crate::executor::{Invocation, ToolExecutor};
use crate::sandbox::{LazySandbox, SandboxConfigs, place};
use crate::tools::ToolOutcome;

pub(crate) use crate::tools::SERVER_TOOL_TYPE as RUN_CODE_TOOL_TYPE;
pub(crate) const RUN_CODE: &str = "run_code";

const PROGRAM: &str = include_str!("run_code.py");

/// The address space other languages' runtimes need (V8 and the JVM reserve far more than
/// they use); Python keeps the sandbox's own limit.
const OTHER_LANGUAGE_MEMORY: u64 = 2 * 1024 * 1024 * 1024;

pub(crate) struct RunCode {
    sandbox: Arc<LazySandbox>,
    configs: Option<Arc<dyn SandboxConfigs>>,
}

impl RunCode {
    pub(crate) fn new(sandbox: Arc<LazySandbox>, configs: Option<Arc<dyn SandboxConfigs>>) -> Self {
        RunCode { sandbox, configs }
    }
}

#[async_trait]
impl ToolExecutor for RunCode {
    /// Registered for the tool `run_code` by name, so every call is one of it.
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        match self.run(call).await {
            Ok(text) => ToolOutcome::from_value(Value::String(text)),
            Err(e) => ToolOutcome::failed(format!("Error executing function {RUN_CODE}: {e}")),
        }
    }
}

impl RunCode {
    async fn run(&self, call: Invocation<'_>) -> Result<String, String> {
        let code = call.args.string("code")?;
        let language = call.args.string("language")?;
        let memory = match language.as_str() {
            "python" => 0,
            _ => OTHER_LANGUAGE_MEMORY,
        };
        let placed = place(&self.sandbox, self.configs.as_ref(), call.agent, memory).await?;
        let mut args = Map::new();
        args.insert("code".into(), json!(code));
        args.insert("language".into(), json!(language));
        let req = RunRequest {
            source: PROGRAM.into(),
            function: RUN_CODE.into(),
            args,
            env: placed.env,
        };
        let out = placed.sandbox.run(req).await.map_err(|e| e.to_string())?;
        match (out.status, out.result) {
            (RunStatus::Success, Value::String(text)) => Ok(text),
            (RunStatus::Success, other) => Ok(other.to_string()),
            (RunStatus::Error, _) => Err(out.error.unwrap_or_else(|| "the run failed".into())),
        }
    }
}

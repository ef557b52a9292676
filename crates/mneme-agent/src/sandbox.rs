//! The Python tool sandbox, started on first use: probing the interpreter and bubblewrap takes
//! about 100 ms, which a server that may never run a custom tool should not pay at start-up.
//! Users' Python tools (`tool_type` `custom`) run through it.

use std::sync::Arc;

use async_trait::async_trait;
use mneme_store::Agent;
use mneme_tools::{RunRequest, RunStatus, Sandbox, SandboxOptions};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::executor::{Invocation, ToolExecutor};
use crate::tools::ToolOutcome;

/// The `tool_type` of users' Python tools.
pub(crate) const PYTHON_TOOL_TYPE: &str = "custom";

pub struct LazySandbox {
    options: SandboxOptions,
    cell: OnceCell<Sandbox>,
}

impl LazySandbox {
    pub fn new(options: SandboxOptions) -> LazySandbox {
        LazySandbox {
            options,
            cell: OnceCell::new(),
        }
    }

    /// The sandbox, probing the host the first time.
    pub async fn get(&self) -> &Sandbox {
        self.cell
            .get_or_init(|| async {
                let sandbox = Sandbox::new(self.options.clone()).await;
                for line in sandbox.isolation() {
                    tracing::info!(isolation = %line, "tool sandbox ready");
                }
                sandbox
            })
            .await
    }
}

/// The executor of users' Python tools: the sandbox, with the agent's variables and secrets as
/// the tool's environment.
pub(crate) struct PythonTools {
    sandbox: Arc<LazySandbox>,
}

impl PythonTools {
    pub(crate) fn new(sandbox: Arc<LazySandbox>) -> PythonTools {
        PythonTools { sandbox }
    }
}

#[async_trait]
impl ToolExecutor for PythonTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let tool = call.tool;
        let req = RunRequest {
            source: tool.source_code.clone().unwrap_or_default(),
            function: tool.name.clone(),
            args: call.args.to_map(),
            env: environment(call.agent),
        };
        match self.sandbox.get().await.run(req).await {
            Ok(out) if out.status == RunStatus::Success => {
                // Letta keeps strings and dicts as they are and shows anything else as str().
                let value = match (&out.result, out.result_str) {
                    (Value::String(_) | Value::Object(_), _) => out.result,
                    (_, Some(text)) => Value::String(text),
                    (other, None) => Value::String(other.to_string()),
                };
                ToolOutcome::from_value(value)
            }
            Ok(out) => ToolOutcome::failed(format!(
                "Error executing function {}: {}",
                tool.name,
                out.error.unwrap_or_else(|| "the tool failed".into())
            )),
            Err(e) => ToolOutcome::failed(format!("Error executing function {}: {e}", tool.name)),
        }
    }
}

/// The agent's `tool_exec_environment_variables` and secrets, as text.
fn environment(agent: &Agent) -> Vec<(String, String)> {
    let settings = &agent.settings;
    settings
        .tool_exec_environment_variables
        .iter()
        .chain(settings.secrets.iter())
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

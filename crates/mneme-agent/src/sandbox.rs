//! The Python tool sandbox, started on first use: probing the interpreter and bubblewrap takes
//! about 100 ms, which a server that may never run a custom tool should not pay at start-up.
//! Users' Python tools (`tool_type` `custom`) run through it, under the server's local sandbox
//! configuration when the service gives one (`SandboxConfigs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mneme_store::Agent;
use mneme_tools::{RunRequest, RunStatus, Sandbox, SandboxOptions};
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};

use crate::executor::{Invocation, ToolExecutor};
use crate::tools::ToolOutcome;

/// The `tool_type` of users' Python tools.
pub(crate) const PYTHON_TOOL_TYPE: &str = "custom";

/// Sandboxes by their options: the server's default, probed on first use, and the variants
/// that configurations ask for (another interpreter, run directory or memory limit), each
/// probed once and kept.
pub struct LazySandbox {
    options: SandboxOptions,
    cell: OnceCell<Arc<Sandbox>>,
    variants: Mutex<Vec<(SandboxOptions, Arc<Sandbox>)>>,
}

impl LazySandbox {
    pub fn new(options: SandboxOptions) -> LazySandbox {
        LazySandbox {
            options,
            cell: OnceCell::new(),
            variants: Mutex::default(),
        }
    }

    /// The sandbox, probing the host the first time.
    pub async fn get(&self) -> &Sandbox {
        self.default_sandbox().await
    }

    async fn default_sandbox(&self) -> &Arc<Sandbox> {
        self.cell
            .get_or_init(|| async { Arc::new(start(self.options.clone()).await) })
            .await
    }

    /// The sandbox for the server's options changed by `settings`.
    pub(crate) async fn configured(&self, settings: &LocalSandbox) -> Arc<Sandbox> {
        let mut options = self.options.clone();
        if let Some(python) = &settings.python {
            options.python = python.clone();
        }
        if let Some(dir) = &settings.run_dir {
            options.temp_dir = Some(dir.clone());
        }
        options.memory_bytes = options.memory_bytes.max(settings.min_memory_bytes);
        if options == self.options {
            return self.default_sandbox().await.clone();
        }
        let mut variants = self.variants.lock().await;
        if let Some((_, sandbox)) = variants.iter().find(|(o, _)| *o == options) {
            return sandbox.clone();
        }
        let sandbox = Arc::new(start(options.clone()).await);
        variants.push((options, sandbox.clone()));
        sandbox
    }
}

async fn start(options: SandboxOptions) -> Sandbox {
    let sandbox = Sandbox::new(options).await;
    for line in sandbox.isolation() {
        tracing::info!(isolation = %line, "tool sandbox ready");
    }
    sandbox
}

/// The server's local sandbox configuration as a run applies it, resolved by the service.
#[derive(Clone, Default)]
pub struct LocalSandbox {
    /// The configuration's variables (values opened); the agent's own override them.
    pub env: Vec<(String, String)>,
    /// Where run directories are made (the configuration's `sandbox_dir`).
    pub run_dir: Option<PathBuf>,
    /// The interpreter of the configuration's virtualenv (`use_venv`).
    pub python: Option<PathBuf>,
    /// A floor under the address-space limit (other languages' runtimes reserve more).
    pub min_memory_bytes: u64,
}

impl std::fmt::Debug for LocalSandbox {
    // Variable values are secrets: only their names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("LocalSandbox")
            .field("env", &keys)
            .field("run_dir", &self.run_dir)
            .field("python", &self.python)
            .finish()
    }
}

/// Where tool runs learn the server's sandbox configuration (implemented by the service,
/// which stores configurations and opens their sealed variables).
#[async_trait]
pub trait SandboxConfigs: Send + Sync {
    /// The configuration runs apply now; `Err` is the tool error to answer (only a remote
    /// sandbox is configured, a virtualenv is missing, a variable cannot be opened).
    async fn local(&self) -> Result<LocalSandbox, String>;
}

/// The sandbox and configuration a run uses, and the run's environment: the configuration's
/// variables, then the agent's (later entries win).
pub(crate) struct Placement {
    pub(crate) sandbox: Arc<Sandbox>,
    pub(crate) env: Vec<(String, String)>,
}

/// Resolves where a run of `agent`'s happens; `min_memory_bytes` raises the memory floor.
pub(crate) async fn place(
    sandbox: &LazySandbox,
    configs: Option<&Arc<dyn SandboxConfigs>>,
    agent: &Agent,
    min_memory_bytes: u64,
) -> Result<Placement, String> {
    let mut settings = match configs {
        Some(configs) => configs.local().await?,
        None => LocalSandbox::default(),
    };
    settings.min_memory_bytes = min_memory_bytes;
    let mut env = std::mem::take(&mut settings.env);
    env.extend(environment(agent));
    Ok(Placement {
        sandbox: sandbox.configured(&settings).await,
        env,
    })
}

/// The executor of users' Python tools: the sandbox, with the agent's variables and secrets as
/// the tool's environment.
pub(crate) struct PythonTools {
    sandbox: Arc<LazySandbox>,
    configs: Option<Arc<dyn SandboxConfigs>>,
}

impl PythonTools {
    pub(crate) fn new(
        sandbox: Arc<LazySandbox>,
        configs: Option<Arc<dyn SandboxConfigs>>,
    ) -> PythonTools {
        PythonTools { sandbox, configs }
    }
}

#[async_trait]
impl ToolExecutor for PythonTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let tool = call.tool;
        let placed = place(&self.sandbox, self.configs.as_ref(), call.agent, 0).await;
        let placed = match placed {
            Ok(placed) => placed,
            Err(e) => {
                return ToolOutcome::failed(format!("Error executing function {}: {e}", tool.name));
            }
        };
        let req = RunRequest {
            source: tool.source_code.clone().unwrap_or_default(),
            function: tool.name.clone(),
            args: call.args.to_map(),
            env: placed.env,
        };
        // The tool's own timeout; an invalid one (refused when set through the API, but an
        // imported tool may carry anything) leaves the server's.
        let ran = match tool.timeout_seconds() {
            Ok(Some(secs)) => {
                let timeout = Duration::from_secs_f64(secs);
                placed.sandbox.run_for(req, timeout).await
            }
            Ok(None) | Err(_) => placed.sandbox.run(req).await,
        };
        match ran {
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

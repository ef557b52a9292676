//! The sandbox: probes the host once, then derives schemas and runs tools.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::bubblewrap::Bubblewrap;
use crate::process::{Invocation, Launcher};
use crate::python::{self, PROBE_SCRIPT, Python, RUNNER_SCRIPT, SCHEMA_SCRIPT};
use crate::run::{self, RunOutcome, RunRequest};
use crate::{SandboxOptions, ToolError, schema};

/// Runs Python tools in isolation. Cheap to share (`Arc<Sandbox>`); runs are independent.
#[derive(Debug)]
pub struct Sandbox {
    options: SandboxOptions,
    python: Result<Python, String>,
    /// The bubblewrap tier, or why it is not in force.
    bubblewrap: Result<Bubblewrap, String>,
    root: bool,
}

impl Sandbox {
    /// Probes the interpreter and bubblewrap. Never fails: without Python, schema derivation and
    /// runs answer `ToolError::Unavailable`, and the server keeps serving everything else.
    pub async fn new(options: SandboxOptions) -> Sandbox {
        let python = python::probe(&options.python).await;
        let bubblewrap = match (&python, &options.bubblewrap) {
            (Err(_), _) => Err("no Python interpreter".into()),
            (Ok(_), None) => Err("disabled by configuration".into()),
            (Ok(python), Some(program)) => try_bubblewrap(program, python, &options).await,
        };
        let sandbox = Sandbox {
            options,
            python,
            bubblewrap,
            root: rustix::process::geteuid().is_root(),
        };
        sandbox.log();
        sandbox
    }

    /// What isolation is actually in force, one human-readable line per measure.
    pub fn isolation(&self) -> Vec<String> {
        let python = match &self.python {
            Ok(python) => python,
            Err(e) => return vec![format!("python unavailable ({e}): tools cannot run")],
        };
        let o = &self.options;
        let nproc_note = if self.root {
            " (not enforced for root)"
        } else {
            ""
        };
        let mut lines = vec![format!(
            "python: {} ({})",
            python.executable.display(),
            python.version
        )];
        lines.extend(self.bubblewrap_lines());
        lines.extend([
            format!(
                "rlimits (set by the runner before tool code): address space {}, CPU {} s, \
                 file size {}, processes {}{nproc_note}, no core dumps",
                size(o.memory_bytes),
                o.cpu_seconds,
                size(o.file_size_bytes),
                o.max_processes
            ),
            "environment cleared: only PATH, HOME, TMPDIR, LANG, PYTHONDONTWRITEBYTECODE and \
             the request's variables"
                .into(),
            "fresh temporary working directory per run, deleted afterwards".into(),
            format!(
                "wall-clock timeout {} s, then the tool's process group is killed",
                o.timeout.as_secs_f64()
            ),
            format!(
                "output: {} of stdout+stderr kept per run",
                size(o.max_output_bytes as u64)
            ),
        ]);
        lines
    }

    /// Whether tools run under bubblewrap.
    pub fn uses_bubblewrap(&self) -> bool {
        self.bubblewrap.is_ok()
    }

    /// The interpreter tools run with, resolved to its real path.
    pub fn python(&self) -> Option<&Path> {
        self.python.as_ref().ok().map(|p| p.executable.as_path())
    }

    /// Letta's JSON schema for a tool's source: `{"name", "description", "parameters"}`. The
    /// tool is the function called `name`, else the last top-level function. The source is
    /// parsed with the interpreter's own `ast` module, never executed.
    #[tracing::instrument(skip_all)]
    pub async fn schema_from_source(
        &self,
        source: &str,
        name: Option<&str>,
    ) -> Result<Value, ToolError> {
        let invocation = Invocation {
            script: SCHEMA_SCRIPT,
            request: schema::request(source, name),
            env: &[],
            timeout: schema::SCHEMA_TIMEOUT.min(self.options.timeout),
        };
        schema::answer(self.launcher()?.execute(invocation).await?)
    }

    /// Calls `req.function` from `req.source` with `req.args`. Exceptions, timeouts and limits
    /// are outcomes with status `Error`; `Err` means the sandbox itself failed.
    #[tracing::instrument(skip_all, fields(tool = %req.function))]
    pub async fn run(&self, req: RunRequest) -> Result<RunOutcome, ToolError> {
        run::check_env(&req.env)?;
        let mut request = Map::new();
        request.insert("source".into(), json!(req.source));
        request.insert("function".into(), json!(req.function));
        request.insert("args".into(), Value::Object(req.args));
        let invocation = Invocation {
            script: RUNNER_SCRIPT,
            request,
            env: &req.env,
            timeout: self.options.timeout,
        };
        let finished = self.launcher()?.execute(invocation).await?;
        let limits = run::Limits {
            timeout: self.options.timeout,
            cpu_seconds: self.options.cpu_seconds,
        };
        let outcome = run::outcome(finished, &req.function, limits);
        tracing::debug!(status = ?outcome.status, "tool finished");
        Ok(outcome)
    }

    fn launcher(&self) -> Result<Launcher<'_>, ToolError> {
        let python = self
            .python
            .as_ref()
            .map_err(|e| ToolError::Unavailable(format!("no Python interpreter for tools: {e}")))?;
        Ok(Launcher {
            python: &python.executable,
            bubblewrap: self.bubblewrap.as_ref().ok(),
            options: &self.options,
        })
    }

    fn bubblewrap_lines(&self) -> Vec<String> {
        match &self.bubblewrap {
            Ok(b) => {
                let binds: Vec<String> =
                    b.ro_binds.iter().map(|p| p.display().to_string()).collect();
                let network = if b.network {
                    "the host's network (allowed by configuration)"
                } else {
                    "no network"
                };
                vec![
                    format!(
                        "{}: private mount, PID, IPC and UTS namespaces, {network}, all \
                         capabilities dropped",
                        b.version
                    ),
                    format!(
                        "bubblewrap filesystem: read-only {}; private /proc, minimal /dev; the \
                         run's directory is the only writable place",
                        binds.join(", ")
                    ),
                ]
            }
            Err(reason) => vec![format!(
                "bubblewrap not available ({reason}): tools can read and write the files the \
                 server user can, and reach the network"
            )],
        }
    }

    fn log(&self) {
        match (&self.python, &self.bubblewrap) {
            (Err(e), _) => {
                tracing::warn!(error = %e, "no Python interpreter: custom tools cannot run")
            }
            (Ok(_), Ok(_)) => tracing::info!(isolation = ?self.isolation(), "tool sandbox ready"),
            (Ok(_), Err(reason)) => tracing::warn!(
                %reason,
                isolation = ?self.isolation(),
                "tool sandbox ready without bubblewrap"
            ),
        }
    }
}

/// Locates bubblewrap and proves it works by running the interpreter inside it once.
async fn try_bubblewrap(
    program: &Path,
    python: &Python,
    options: &SandboxOptions,
) -> Result<Bubblewrap, String> {
    let bubblewrap = Bubblewrap::locate(program, python, options.network).await?;
    let launcher = Launcher {
        python: &python.executable,
        bubblewrap: Some(&bubblewrap),
        options,
    };
    let invocation = Invocation {
        script: PROBE_SCRIPT,
        request: Map::new(),
        env: &[],
        timeout: Duration::from_secs(30),
    };
    let finished = launcher
        .execute(invocation)
        .await
        .map_err(|e| e.to_string())?;
    match finished.document {
        Ok(doc) if doc["status"] == "success" => Ok(bubblewrap),
        _ => Err(format!(
            "{} fails here: {}",
            program.display(),
            finished.stderr.lines().next().unwrap_or("no result")
        )),
    }
}

/// `512 MiB`, `64 KiB`, `100 bytes`.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

//! The sandbox: probes the host once, then derives schemas and runs tools.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::bubblewrap::Bubblewrap;
use crate::landlock::{Landlock, Network};
use crate::process::{Invocation, Launcher};
use crate::python::{self, PROBE_SCRIPT, Python, RUNNER_SCRIPT, SCHEMA_SCRIPT};
use crate::run::{self, RunOutcome, RunRequest};
use crate::{Mechanism, SandboxOptions, ToolError, schema};

/// The confinement in force, decided once by probing.
#[derive(Debug)]
enum Tier {
    Bubblewrap(Bubblewrap),
    Landlock(Landlock),
    /// Nothing confines tools; why, mechanism by mechanism.
    Unconfined(String),
}

/// Runs Python tools in isolation. Cheap to share (`Arc<Sandbox>`); runs are independent.
#[derive(Debug)]
pub struct Sandbox {
    options: SandboxOptions,
    python: Result<Python, String>,
    tier: Tier,
    root: bool,
}

impl Sandbox {
    /// Probes the interpreter and the confinement mechanisms. Never fails: without Python,
    /// schema derivation and runs answer `ToolError::Unavailable`; without confinement (and
    /// without `unsafe_tools`) runs are refused; the server keeps serving everything else.
    pub async fn new(options: SandboxOptions) -> Sandbox {
        let python = python::probe(&options.python).await;
        let tier = match &python {
            Err(_) => Tier::Unconfined("no Python interpreter".into()),
            Ok(python) => choose(python, &options).await,
        };
        let sandbox = Sandbox {
            options,
            python,
            tier,
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
        lines.extend(self.tier_lines());
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
        matches!(self.tier, Tier::Bubblewrap(_))
    }

    /// The mechanism in force: `bubblewrap`, `landlock` or `none`.
    pub fn mechanism(&self) -> &'static str {
        match self.tier {
            Tier::Bubblewrap(_) => "bubblewrap",
            Tier::Landlock(_) => "landlock",
            Tier::Unconfined(_) => "none",
        }
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
    pub async fn run(&self, req: RunRequest) -> Result<RunOutcome, ToolError> {
        self.run_for(req, self.options.timeout).await
    }

    /// `run` with its own wall-clock limit instead of the configured one (a tool's own
    /// timeout).
    #[tracing::instrument(skip_all, fields(tool = %req.function))]
    pub async fn run_for(
        &self,
        req: RunRequest,
        timeout: Duration,
    ) -> Result<RunOutcome, ToolError> {
        run::check_env(&req.env)?;
        self.check_confined()?;
        let mut request = Map::new();
        request.insert("source".into(), json!(req.source));
        request.insert("function".into(), json!(req.function));
        request.insert("args".into(), Value::Object(req.args));
        let invocation = Invocation {
            script: RUNNER_SCRIPT,
            request,
            env: &req.env,
            timeout,
        };
        let finished = self.launcher()?.execute(invocation).await?;
        let limits = run::Limits {
            timeout,
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
        let (bubblewrap, landlock) = match &self.tier {
            Tier::Bubblewrap(b) => (Some(b), None),
            Tier::Landlock(l) => (None, Some(l)),
            Tier::Unconfined(_) => (None, None),
        };
        Ok(Launcher {
            python: &python.executable,
            bubblewrap,
            landlock,
            options: &self.options,
        })
    }

    /// User code never runs unconfined unless the operator said so.
    fn check_confined(&self) -> Result<(), ToolError> {
        match &self.tier {
            Tier::Unconfined(reason) if self.python.is_ok() && !self.options.unsafe_tools => {
                Err(ToolError::Unconfined(format!(
                    "user tools are refused: no sandbox confines them on this host ({reason}). \
                     Install bubblewrap or use a kernel with Landlock, or start mneme with \
                     --unsafe-tools (MNEME_UNSAFE_TOOLS=true) to run them unconfined"
                )))
            }
            _ => Ok(()),
        }
    }

    fn tier_lines(&self) -> Vec<String> {
        match &self.tier {
            Tier::Landlock(l) => l.describe(),
            Tier::Bubblewrap(b) => {
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
            Tier::Unconfined(reason) if self.options.unsafe_tools => vec![format!(
                "rlimits only, no confinement ({reason}): tools can read and write the files \
                 the server user can, and reach the network (--unsafe-tools)"
            )],
            Tier::Unconfined(reason) => vec![format!(
                "no confinement ({reason}): user tools are refused (--unsafe-tools runs them)"
            )],
        }
    }

    fn log(&self) {
        let summary = self.summary();
        match (&self.python, &self.tier) {
            (Err(e), _) => {
                tracing::warn!(error = %e, "no Python interpreter: custom tools cannot run")
            }
            (Ok(_), Tier::Unconfined(_)) => {
                tracing::warn!(isolation = ?self.isolation(), "tool sandbox: {summary}")
            }
            (Ok(_), _) => tracing::info!(isolation = ?self.isolation(), "tool sandbox: {summary}"),
        }
    }

    /// One phrase: `bubblewrap`, `landlock ABI 7, network denied`, `rlimits only`, `refusing
    /// user tools`.
    pub fn summary(&self) -> String {
        match &self.tier {
            Tier::Bubblewrap(b) if b.network => "bubblewrap, network allowed".into(),
            Tier::Bubblewrap(_) => "bubblewrap".into(),
            Tier::Landlock(l) if l.network == Network::Allow => {
                format!("landlock ABI {}, network allowed", l.abi)
            }
            Tier::Landlock(l) => format!("landlock ABI {}, network denied", l.abi),
            Tier::Unconfined(_) if self.options.unsafe_tools => "rlimits only".into(),
            Tier::Unconfined(_) => "none, refusing user tools".into(),
        }
    }
}

/// The first mechanism the options allow that works here.
async fn choose(python: &Python, options: &SandboxOptions) -> Tier {
    let (try_bwrap, try_landlock) = match options.mechanism {
        Mechanism::Auto => (true, true),
        Mechanism::Bubblewrap => (true, false),
        Mechanism::Landlock => (false, true),
        Mechanism::None => return Tier::Unconfined("disabled by configuration".into()),
    };
    let mut reasons = Vec::new();
    if try_bwrap {
        let found = match &options.bubblewrap {
            None => Err("disabled by configuration".into()),
            Some(program) => try_bubblewrap(program, python, options).await,
        };
        match found {
            Ok(b) => return Tier::Bubblewrap(b),
            Err(e) => reasons.push(format!("bubblewrap: {e}")),
        }
    }
    if try_landlock {
        match try_landlock_tier(python, options).await {
            Ok(l) => return Tier::Landlock(l),
            Err(e) => reasons.push(format!("landlock: {e}")),
        }
    }
    Tier::Unconfined(reasons.join("; "))
}

/// Proves a Landlock plan by a probe run that applies it, best network denial first.
async fn try_landlock_tier(python: &Python, options: &SandboxOptions) -> Result<Landlock, String> {
    let mut last = String::from("not tried");
    for network in Network::candidates(options.network) {
        let mut plan = Landlock::plan(python, *network);
        let launcher = Launcher {
            python: &python.executable,
            bubblewrap: None,
            landlock: Some(&plan),
            options,
        };
        match probe(&launcher).await {
            Ok(doc) => {
                plan.abi = doc["confined"]["abi"].as_u64().unwrap_or_default();
                return Ok(plan);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Runs the probe script; its result document, or the first line of its error output.
async fn probe(launcher: &Launcher<'_>) -> Result<Value, String> {
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
        Ok(doc) if doc["status"] == "success" => Ok(doc),
        _ => Err(finished
            .stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no result")
            .to_owned()),
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
        landlock: None,
        options,
    };
    probe(&launcher)
        .await
        .map_err(|e| format!("{} fails here: {e}", program.display()))?;
    Ok(bubblewrap)
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

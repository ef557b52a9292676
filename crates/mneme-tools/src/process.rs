//! One sandboxed interpreter run: temporary directory, environment, limits, timeout, capture.
//!
//! Protocol: the child reads one JSON request on stdin (the caller's fields plus `result_path`
//! and `limits`), applies the limits itself, and writes one JSON document to `result_path` in
//! its run directory. stdout and stderr are the tool's own output, captured with a cap.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bubblewrap::Bubblewrap;
use crate::landlock::Landlock;
use crate::output::{Captured, read_capped, render};
use crate::python::FLAGS;
use crate::{SandboxOptions, ToolError};

/// How long stdout/stderr may stay open after the interpreter is gone (a daemonised grandchild
/// could hold them forever) before we stop reading.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What runs where: the interpreter, the optional bubblewrap tier, the limits.
pub(crate) struct Launcher<'a> {
    pub(crate) python: &'a Path,
    pub(crate) bubblewrap: Option<&'a Bubblewrap>,
    /// Rules the runner applies to itself (never together with bubblewrap).
    pub(crate) landlock: Option<&'a Landlock>,
    pub(crate) options: &'a SandboxOptions,
}

/// One run to perform.
pub(crate) struct Invocation<'a> {
    pub(crate) script: &'static str,
    pub(crate) request: Map<String, Value>,
    pub(crate) env: &'a [(String, String)],
    pub(crate) timeout: Duration,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The child's result document, or why there is none.
    pub(crate) document: Result<Value, String>,
    pub(crate) exit: Exit,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) timed_out: bool,
}

impl Launcher<'_> {
    /// Runs `inv` in a fresh directory, which is deleted afterwards.
    pub(crate) async fn execute(&self, mut inv: Invocation<'_>) -> Result<Finished, ToolError> {
        let dir = self.run_dir()?;
        let work = dir.path().join("work");
        std::fs::create_dir(&work).map_err(|e| io("cannot create the run directory", e))?;
        let result_path = dir.path().join("result.json");
        let Some(result_name) = result_path.to_str() else {
            return Err(ToolError::Io(format!(
                "the temporary directory {} is not valid UTF-8",
                dir.path().display()
            )));
        };
        inv.request.insert("result_path".into(), json!(result_name));
        inv.request.insert("limits".into(), self.limits());
        if let Some(landlock) = self.landlock {
            inv.request
                .insert("confine".into(), landlock.spec(dir.path()));
        }
        let finished = self.supervise(&inv, dir.path(), &work, &result_path).await;
        if let Err(e) = dir.close() {
            tracing::warn!(error = %e, "could not delete a tool run directory");
        }
        finished
    }

    async fn supervise(
        &self,
        inv: &Invocation<'_>,
        dir: &Path,
        work: &Path,
        result_path: &Path,
    ) -> Result<Finished, ToolError> {
        let mut child = self
            .command(inv, dir, work)
            .spawn()
            .map_err(|e| io("cannot start the tool process", e))?;
        let pid = child.id();
        // If the caller drops this future (a cancelled turn), `kill_on_drop` only reaches the
        // direct child; the guard takes down the rest of its group.
        let guard = GroupGuard(pid);
        let request = serde_json::to_vec(&inv.request).map_err(|e| io("bad request", e))?;
        let feeder = tokio::spawn(feed(child.stdin.take(), request));
        let (stop, stop_rx) = watch::channel(false);
        let cap = self.options.max_output_bytes;
        let out = tokio::spawn(read_capped(child.stdout.take(), cap, stop_rx.clone()));
        let err = tokio::spawn(read_capped(child.stderr.take(), cap, stop_rx));
        let (status, timed_out) = wait(&mut child, pid, inv.timeout).await;
        let exit = Exit::from_status(status, self.bubblewrap.is_some());
        // Whatever the tool left running in its group dies with the run.
        drop(guard);
        feeder.abort();
        let deadline = Instant::now() + DRAIN_GRACE;
        let stdout = drain(out, deadline, &stop).await;
        let stderr = drain(err, deadline, &stop).await;
        let (stdout, stderr) = render(stdout, stderr, cap);
        let document = match read_document(result_path, self.document_limit()).await {
            Ok(Some(doc)) => Ok(doc),
            Ok(None) => Err(format!("the tool process ended without a result ({exit})")),
            Err(e) => Err(e),
        };
        Ok(Finished {
            document,
            exit,
            stdout,
            stderr,
            timed_out,
        })
    }

    fn run_dir(&self) -> Result<tempfile::TempDir, ToolError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("mneme-tool-");
        let dir = match &self.options.temp_dir {
            Some(root) => builder.tempdir_in(root),
            None => builder.tempdir(),
        };
        dir.map_err(|e| io("cannot create the run directory", e))
    }

    fn command(&self, inv: &Invocation<'_>, dir: &Path, work: &Path) -> Command {
        let mut cmd = match self.bubblewrap {
            Some(bwrap) => {
                let mut cmd = Command::new(&bwrap.program);
                cmd.args(bwrap.args(dir, work)).arg("--").arg(self.python);
                cmd
            }
            None => Command::new(self.python),
        };
        cmd.args(FLAGS).arg(inv.script);
        // The server's environment (API keys, database URLs) never reaches a tool.
        cmd.env_clear()
            .envs(base_env(work))
            .envs(inv.env.iter().cloned());
        cmd.current_dir(work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout kills everything the tool started.
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }

    /// `[name, soft, hard]` triples the prelude applies with `resource.setrlimit`.
    fn limits(&self) -> Value {
        let o = self.options;
        json!([
            ["RLIMIT_AS", o.memory_bytes, o.memory_bytes],
            // One second of grace between SIGXCPU and SIGKILL.
            ["RLIMIT_CPU", o.cpu_seconds, o.cpu_seconds.saturating_add(1)],
            ["RLIMIT_FSIZE", o.file_size_bytes, o.file_size_bytes],
            ["RLIMIT_NPROC", o.max_processes, o.max_processes],
            ["RLIMIT_CORE", 0, 0],
        ])
    }

    /// The result file cannot exceed `RLIMIT_FSIZE`; the slack covers a document written
    /// without the limit (it only binds when the prelude could set it).
    fn document_limit(&self) -> u64 {
        self.options.file_size_bytes.saturating_add(1024 * 1024)
    }
}

/// The only variables a tool sees besides its request's own.
fn base_env(work: &Path) -> Vec<(String, PathBuf)> {
    vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("HOME".into(), work.to_path_buf()),
        // Temporary files land in the run directory, which is deleted afterwards (and is the
        // only writable place under bubblewrap).
        ("TMPDIR".into(), work.to_path_buf()),
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}

async fn feed(stdin: Option<ChildStdin>, request: Vec<u8>) {
    if let Some(mut stdin) = stdin {
        // A child that dies before reading makes this fail; its exit tells the story.
        let _ = stdin.write_all(&request).await;
    }
}

/// Waits for the child, killing its process group at the timeout.
async fn wait(
    child: &mut Child,
    pid: Option<u32>,
    timeout: Duration,
) -> (Option<ExitStatus>, bool) {
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            kill_group(pid);
            let _ = child.start_kill();
            (child.wait().await.ok(), true)
        }
    }
}

/// Kills the child's process group when dropped.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// SIGKILL to the child's process group. Under bubblewrap that group is bubblewrap itself:
/// `--die-with-parent` and the PID namespace take the tool's processes down with it.
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    match rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => tracing::warn!(error = %e, "could not kill a tool's process group"),
    }
}

async fn drain(
    mut handle: JoinHandle<Captured>,
    deadline: Instant,
    stop: &watch::Sender<bool>,
) -> Captured {
    match tokio::time::timeout_at(deadline, &mut handle).await {
        Ok(captured) => captured.unwrap_or_default(),
        Err(_) => {
            let _ = stop.send(true);
            handle.await.unwrap_or_default()
        }
    }
}

/// The result document, `None` if the child never wrote one.
async fn read_document(path: &Path, limit: u64) -> Result<Option<Value>, String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_document_blocking(&path, limit))
        .await
        .map_err(|e| format!("cannot read the tool's result: {e}"))?
}

fn read_document_blocking(path: &Path, limit: u64) -> Result<Option<Value>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the tool's result: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the tool's result: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("the tool's result is larger than {limit} bytes"));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("the tool's result is not valid JSON: {e}"))
}

/// How the interpreter ended, seen through bubblewrap: it reports a child killed by signal N as
/// exit status 128 + N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
    Unknown,
}

pub(crate) const SIGXCPU: i32 = 24;

impl Exit {
    fn from_status(status: Option<ExitStatus>, bubblewrap: bool) -> Exit {
        match status.map(|s| (s.code(), s.signal())) {
            Some((Some(code), _)) if bubblewrap && code > 128 => Exit::Signal(code - 128),
            Some((Some(code), _)) => Exit::Code(code),
            Some((None, Some(signal))) => Exit::Signal(signal),
            _ => Exit::Unknown,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit status {code}"),
            Exit::Signal(9) => write!(f, "killed by SIGKILL"),
            Exit::Signal(11) => write!(f, "killed by SIGSEGV"),
            Exit::Signal(25) => write!(f, "killed by SIGXFSZ: file size limit"),
            Exit::Signal(signal) => write!(f, "killed by signal {signal}"),
            Exit::Unknown => write!(f, "exit status unknown"),
        }
    }
}

fn io(what: &str, e: impl std::fmt::Display) -> ToolError {
    ToolError::Io(format!("{what}: {e}"))
}

//! Sandbox configuration: interpreter, isolation tier and resource limits.

use std::path::PathBuf;
use std::time::Duration;

/// Which isolation mechanism confines tool processes (`MNEME_TOOL_SANDBOX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// bubblewrap when it works here, else Landlock, else nothing.
    #[default]
    Auto,
    /// bubblewrap only.
    Bubblewrap,
    /// Landlock (and a network denial) applied by the Python runner itself.
    Landlock,
    /// No confinement: rlimits, a cleared environment and the timeout only.
    None,
}

/// How tools run. `Default` gives conservative limits and a 60 s timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOptions {
    /// The interpreter; a bare name is looked up on `PATH` once, at construction, and resolved
    /// to the real binary (a pyenv shim costs ~100 ms per call).
    pub python: PathBuf,
    /// The bubblewrap binary, used when it works on this host; `None` never uses it.
    pub bubblewrap: Option<PathBuf>,
    /// Which mechanism confines tools; `Auto` picks the first that works.
    pub mechanism: Mechanism,
    /// Run user tools even when no mechanism confines them (`--unsafe-tools`); otherwise such
    /// runs are refused.
    pub unsafe_tools: bool,
    /// Whether confined tools may use the host's network (many Letta tools call HTTP APIs).
    /// Off by default; unconfined tools always have the network.
    pub network: bool,
    /// Wall-clock limit per run (Letta: 180 s, ours 60 s); the whole process group is killed
    /// after it.
    pub timeout: Duration,
    /// `RLIMIT_AS` of the interpreter.
    pub memory_bytes: u64,
    /// `RLIMIT_CPU` of the interpreter.
    pub cpu_seconds: u64,
    /// `RLIMIT_FSIZE`: the largest file the tool may write (also bounds its result document).
    pub file_size_bytes: u64,
    /// `RLIMIT_NPROC` (the kernel does not enforce it for root).
    pub max_processes: u64,
    /// Bytes of stdout and stderr kept per run, together; the rest is dropped with a note.
    pub max_output_bytes: usize,
    /// Where per-run directories are created; `None` is the system's temporary directory.
    pub temp_dir: Option<PathBuf>,
}

const MIB: u64 = 1024 * 1024;

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            python: PathBuf::from("python3"),
            bubblewrap: Some(PathBuf::from("bwrap")),
            mechanism: Mechanism::Auto,
            unsafe_tools: false,
            network: false,
            timeout: Duration::from_secs(60),
            memory_bytes: 512 * MIB,
            cpu_seconds: 180,
            file_size_bytes: 64 * MIB,
            max_processes: 64,
            max_output_bytes: 1024 * 1024,
            temp_dir: None,
        }
    }
}

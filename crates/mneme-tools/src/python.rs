//! The Python side: embedded helper scripts and the interpreter probe.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

/// Executes a tool: prelude (request, rlimits, result file) + runner.
pub(crate) const RUNNER_SCRIPT: &str = concat!(
    include_str!("../python/prelude.py"),
    include_str!("../python/runner.py")
);

/// Derives a tool's JSON schema with Python's `ast` module.
pub(crate) const SCHEMA_SCRIPT: &str = concat!(
    include_str!("../python/prelude.py"),
    include_str!("../python/schema.py")
);

/// Checks that a sandbox can start the interpreter and hand back a result.
pub(crate) const PROBE_SCRIPT: &str = concat!(
    include_str!("../python/prelude.py"),
    "\n_r = _mneme_read_request()\n_mneme_set_limits(_r['limits'])\n_c = _r.get('confine') and _mneme_confine(_r['confine'])\n",
    "_mneme_finish(_r['result_path'], {'status': 'success', 'confined': _c})\n"
);

/// Interpreter flags for every run: isolated mode (no `PYTHON*` variables, no user
/// site-packages, no script directory on `sys.path`), no bytecode files, unbuffered output so
/// that prints made before a timeout are not lost.
pub(crate) const FLAGS: [&str; 4] = ["-I", "-B", "-u", "-c"];

/// A working interpreter, resolved to its real path.
#[derive(Debug, Clone)]
pub(crate) struct Python {
    pub(crate) executable: PathBuf,
    pub(crate) version: String,
    /// Directories the interpreter reads (prefixes, `sys.path`): bubblewrap binds them.
    pub(crate) paths: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct ProbeAnswer {
    executable: String,
    version: String,
    paths: Vec<String>,
}

const PROBE: &str = r#"
import json, os, sys
paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
         os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))]
paths += [p for p in sys.path if p]
print(json.dumps({"executable": sys.executable, "version": sys.version.split()[0],
                  "paths": [p for p in paths if os.path.exists(p)]}))
"#;

/// Asks `program` where it lives. This runs with the server's environment on purpose: a pyenv
/// shim needs its variables to find the interpreter, and no tool code runs here.
pub(crate) async fn probe(program: &Path) -> Result<Python, String> {
    let mut cmd = Command::new(program);
    cmd.args(["-I", "-c", PROBE])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .map_err(|_| format!("{} did not answer within 30 s", program.display()))?
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            output.status,
            stderr.trim()
        ));
    }
    let answer: ProbeAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{} gave an unexpected answer: {e}", program.display()))?;
    if answer.executable.is_empty() {
        return Err(format!("{} does not know its own path", program.display()));
    }
    Ok(Python {
        executable: PathBuf::from(answer.executable),
        version: answer.version,
        paths: answer.paths.into_iter().map(PathBuf::from).collect(),
    })
}

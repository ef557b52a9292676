//! The MCP test server (`tests/mcp/server.py`, official Python SDK) and the Python that runs it.
//!
//! The interpreter is `MNEME_TEST_PYTHON` (which `scripts/test` sets), else the SDK suite's venv
//! (`$MNEME_SDK_VENV`, default `~/.cache/mneme/sdk-venv`), which `scripts/sdk-venv` prepares with
//! `mcp` installed. A missing interpreter fails the test that needs it: MCP tests never skip.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Python that has `mcp` installed.
pub fn python() -> PathBuf {
    let path = match std::env::var_os("MNEME_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = std::env::var_os("MNEME_SDK_VENV")
                .map(PathBuf::from)
                .or_else(|| std::env::home_dir().map(|h| h.join(".cache/mneme/sdk-venv")))
                .expect("no home directory: set MNEME_TEST_PYTHON");
            venv.join("bin/python")
        }
    };
    assert!(
        path.is_file(),
        "MCP tests need a Python with the `mcp` package, looked for {}: run scripts/sdk-venv \
         (scripts/test does) or set MNEME_TEST_PYTHON",
        path.display()
    );
    path
}

/// `tests/mcp/server.py` in this workspace.
pub fn server_script() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/server.py");
    assert!(path.is_file(), "missing {}", path.display());
    path.canonicalize().expect("canonical path")
}

/// The stdio server's command and arguments, as an MCP server config wants them.
pub fn stdio_command() -> (String, Vec<String>) {
    (
        python().display().to_string(),
        vec![server_script().display().to_string()],
    )
}

/// The test server on an HTTP transport, killed on drop.
pub struct HttpMcpServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl HttpMcpServer {
    /// `transport` is `streamable-http` (endpoint `/mcp`) or `sse` (endpoint `/sse`).
    pub async fn start(transport: &str) -> HttpMcpServer {
        let mut child = Command::new(python())
            .arg(server_script())
            .args(["--transport", transport])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the MCP test server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("PORT ") {
                    return port.trim().to_owned();
                }
            }
            panic!("the MCP test server exited before listening");
        })
        .await
        .expect("the MCP test server did not start in 30 s");
        HttpMcpServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Kills the server (to test what happens when one goes away).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

//! `mneme doctor` and the start-up log say which tool sandbox is in force.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::bin;

/// `mneme doctor`'s report with `env`, on a fresh data directory.
fn doctor(data_dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let output = Command::new(bin())
        .arg("doctor")
        .arg("--data-dir")
        .arg(data_dir)
        .env("MNEME_EMBEDDING_MODEL_DIR", data_dir.join("no-model"))
        .env("OPENAI_API_KEY", "sk-doctor")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn doctor_says_what_is_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let landlock = doctor(dir.path(), &[("MNEME_TOOL_SANDBOX", "landlock")]);
    let first = landlock.lines().next().unwrap();
    assert!(
        first.starts_with("tool sandbox: landlock ABI "),
        "{landlock}"
    );
    assert!(first.ends_with(", network denied"), "{landlock}");
    assert!(
        landlock.contains("\n  landlock filesystem: read-only /usr"),
        "{landlock}"
    );
    assert!(landlock.contains("wall-clock timeout 60 s"), "{landlock}");
    let data = format!("data directory: {} (exists)", dir.path().display());
    assert!(landlock.contains(&data), "{landlock}");
    assert!(landlock.contains("database: SQLite "), "{landlock}");
    assert!(landlock.contains("embedding model: "), "{landlock}");
    assert!(
        landlock.contains("(absent, fetched on first use)"),
        "{landlock}"
    );
    assert!(landlock.contains("providers: openai"), "{landlock}");
    assert!(!landlock.contains("sk-doctor"), "a key in the report");
    assert!(
        landlock.contains("authentication: open on loopback"),
        "{landlock}"
    );
    let exposed = doctor(dir.path(), &[("MNEME_HOST", "0.0.0.0")]);
    assert!(
        exposed.contains("authentication: required (a non-loopback address)"),
        "{exposed}"
    );

    let bwrap = doctor(dir.path(), &[("MNEME_TOOL_SANDBOX", "bubblewrap")]);
    assert!(bwrap.starts_with("tool sandbox: bubblewrap\n"), "{bwrap}");
    let none = doctor(dir.path(), &[("MNEME_TOOL_SANDBOX", "none")]);
    assert!(
        none.starts_with("tool sandbox: none, refusing user tools\n"),
        "{none}"
    );
    let unsafe_tools = [
        ("MNEME_TOOL_SANDBOX", "none"),
        ("MNEME_UNSAFE_TOOLS", "true"),
    ];
    let open = doctor(dir.path(), &unsafe_tools);
    assert!(open.starts_with("tool sandbox: rlimits only\n"), "{open}");
}

#[test]
fn the_start_up_log_names_the_tool_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args([
            "server",
            "--port",
            "0",
            "--tool-sandbox",
            "landlock",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("MNEME_EMBEDDING_MODEL_FETCH", "false")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("tool sandbox: "));
    child.kill().unwrap();
    child.wait().unwrap();
    let line = line.expect("no sandbox line in the log");
    assert!(line.contains("tool sandbox: landlock ABI "), "{line}");
}

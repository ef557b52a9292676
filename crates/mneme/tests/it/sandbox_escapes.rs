//! Issue 32's sandbox matrix through the real server: a user tool tries to escape under each
//! mechanism (bubblewrap, Landlock), and is refused when nothing confines it.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

const CANARY: &str = "other agents' memories";

/// One tool per escape; the `Args:` sections give the schema its descriptions.
const TOOLS: [&str; 6] = [
    r#"
def read_file(path: str) -> str:
    """Read a file.

    Args:
        path: The file.
    """
    return open(path).read()
"#,
    r#"
def write_file(path: str) -> str:
    """Write a file.

    Args:
        path: The file.
    """
    open(path, "w").write("pwned")
    return "written"
"#,
    r#"
import socket

def connect(port: int) -> str:
    """Open a TCP connection to the host.

    Args:
        port: The port on 127.0.0.1.
    """
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    return "connected"
"#,
    r#"
import os, time

def fork_storm(marker: str) -> str:
    """Start many sleeping processes out of the process group, then wait forever.

    Args:
        marker: Seconds for sleep(1), unique to the test, to find them afterwards.
    """
    for _ in range(50):
        if os.fork() == 0:
            os.setsid()
            os.execv("/bin/sleep", ["sleep", marker])
    while True:
        time.sleep(1)
"#,
    r#"
def spin() -> str:
    """Loop forever."""
    while True:
        pass
"#,
    r#"
import sys

def shout() -> str:
    """Print 32 MiB."""
    chunk = "x" * (1 << 20)
    for _ in range(32):
        sys.stdout.write(chunk)
    return "shouted"
"#,
];

struct Fixture {
    fake: FakeLlm,
    srv: TestServer,
    agent: String,
    data_dir: tempfile::TempDir,
}

/// A server with `env`, a canary file in its data directory, and an agent holding the tools.
async fn fixture(env: &[(&str, &str)]) -> Fixture {
    let fake = FakeLlm::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::write(data_dir.path().join("canary.txt"), CANARY).unwrap();
    let url = fake.base_url();
    let mut all = vec![
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_TOOL_TIMEOUT_SECS", "2"),
    ];
    all.extend_from_slice(env);
    let srv = TestServer::start_in_with_env(bin(), data_dir.path(), &all).await;
    let mut tool_ids = Vec::new();
    for source in TOOLS {
        let tool = srv
            .post("/v1/tools/", json!({"source_code": source}))
            .await
            .ok();
        tool_ids.push(id(&tool));
    }
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": tool_ids}),
        )
        .await
        .ok();
    let agent = id(&agent);
    Fixture {
        fake,
        srv,
        agent,
        data_dir,
    }
}

impl Fixture {
    /// One turn in which the model calls `tool`; the tool return message.
    async fn call(&self, tool: &str, args: Value) -> Value {
        self.fake.push(Reply::tool_call(tool, args));
        self.fake.push_text("done");
        let path = format!("/v1/agents/{}/messages", self.agent);
        let res = self.srv.post(&path, json!({"input": "go"})).await.ok();
        let ret = res["messages"][1].clone();
        assert_eq!(ret["message_type"], "tool_return_message", "{res}");
        ret
    }

    /// The server's process: the one whose command line names this data directory.
    fn server_pid(&self) -> String {
        let dir = self.data_dir.path().to_str().unwrap();
        let entries = std::fs::read_dir("/proc").unwrap().flatten();
        entries
            .filter(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                cmdline.contains("server") && cmdline.contains(dir)
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .next()
            .unwrap()
    }

    fn data_path(&self, name: &str) -> String {
        self.data_dir.path().join(name).to_str().unwrap().to_owned()
    }
}

fn text(ret: &Value) -> &str {
    ret["tool_return"].as_str().unwrap_or_default()
}

fn failed_with(ret: &Value, needle: &str) {
    assert_eq!(ret["status"], "error", "{ret}");
    assert!(text(ret).contains(needle), "{ret}");
}

fn process_with(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
            .unwrap_or(false)
    })
}

/// Every escape of the matrix under `mechanism`, which must be the one in force.
async fn escapes_are_contained(mechanism: &str) {
    let f = fixture(&[("MNEME_TOOL_SANDBOX", mechanism)]).await;

    // The data directory: neither readable nor writable.
    let read = f
        .call("read_file", json!({"path": f.data_path("canary.txt")}))
        .await;
    assert_eq!(read["status"], "error", "{read}");
    assert!(!text(&read).contains(CANARY), "{read}");
    let escape = f.data_path("escape.txt");
    let write = f.call("write_file", json!({"path": escape})).await;
    assert_eq!(write["status"], "error", "{write}");
    assert!(!Path::new(&escape).exists());
    // Nor anywhere else outside the run's directory.
    let outside = std::env::temp_dir().join(format!("mneme-escape-{mechanism}"));
    let write = f.call("write_file", json!({"path": outside})).await;
    assert_eq!(write["status"], "error", "{write}");
    assert!(!outside.exists());
    // The server's own environment (its API keys) through /proc.
    let environ = format!("/proc/{}/environ", f.server_pid());
    let environ = f.call("read_file", json!({"path": environ})).await;
    assert_eq!(environ["status"], "error", "{environ}");
    assert!(!text(&environ).contains("sk-test"), "{environ}");

    // A listener the test owns is never reached.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = f.call("connect", json!({"port": port})).await;
    assert_eq!(connect["status"], "error", "{connect}");
    assert!(listener.accept().is_err(), "a connection arrived");

    // A runaway loop and a fork storm end at the timeout, with everything they started.
    let spin = f.call("spin", json!({})).await;
    failed_with(&spin, "timed out after 2.0 seconds");
    let marker = format!("86399.{}", std::process::id());
    let storm = f.call("fork_storm", json!({"marker": marker})).await;
    failed_with(&storm, "timed out after 2.0 seconds");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while process_with(&marker) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !process_with(&marker),
        "the storm's processes outlived the run"
    );

    // 32 MiB of output neither blocks the tool nor reaches the agent. That it runs at all
    // proves the mechanism is in force: an unconfined server would refuse it.
    let shout = f.call("shout", json!({})).await;
    assert_eq!(shout["status"], "success", "{shout}");
    assert_eq!(text(&shout), "shouted", "{shout}");

    // Still serving, and the canary is intact.
    f.srv.get("/v1/agents/").await.ok();
    let canary = std::fs::read_to_string(f.data_dir.path().join("canary.txt")).unwrap();
    assert_eq!(canary, CANARY);
}

#[tokio::test]
async fn escapes_are_contained_under_landlock() {
    escapes_are_contained("landlock").await;
}

#[tokio::test]
async fn escapes_are_contained_under_bubblewrap() {
    escapes_are_contained("bubblewrap").await;
}

#[tokio::test]
async fn without_isolation_user_tools_are_refused_unless_unsafe() {
    let refused = fixture(&[("MNEME_TOOL_SANDBOX", "none")]).await;
    let path = refused.data_path("canary.txt");
    let ret = refused.call("read_file", json!({"path": path})).await;
    failed_with(&ret, "user tools are refused: no sandbox confines them");
    failed_with(&ret, "--unsafe-tools");

    // The operator's opt-in runs them, unconfined: the same call reads the data directory.
    let unsafe_env = [
        ("MNEME_TOOL_SANDBOX", "none"),
        ("MNEME_UNSAFE_TOOLS", "true"),
    ];
    let open = fixture(&unsafe_env).await;
    let path = open.data_path("canary.txt");
    let ret = open.call("read_file", json!({"path": path})).await;
    assert_eq!(ret["status"], "success", "{ret}");
    assert_eq!(text(&ret), CANARY, "{ret}");
}

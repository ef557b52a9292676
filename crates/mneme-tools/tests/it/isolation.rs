//! What a tool can reach: environment, files, network.

use mneme_tools::{Mechanism, RunRequest, RunStatus, Sandbox, ToolError};
use serde_json::json;

use crate::{call, sandbox, sandbox_with};

const SECRET: &str = "MNEME_TEST_SECRET";

/// Re-runs this test in a child process whose environment holds the canary (setting it in
/// this process would need `unsafe`); the child then checks that the tool does not see it.
#[tokio::test]
async fn tools_never_see_the_servers_environment() {
    if std::env::var_os(SECRET).is_none() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "isolation::tools_never_see_the_servers_environment",
                "--nocapture",
            ])
            .env(SECRET, "canary-sk-live-123")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("1 passed"), "{stdout}");
        return;
    }
    let unconfined = sandbox_with(|o| {
        o.mechanism = Mechanism::None;
        o.unsafe_tools = true;
    });
    let landlock = sandbox_with(|o| o.mechanism = Mechanism::Landlock);
    for sandbox in [sandbox().await, landlock.await, unconfined.await] {
        let request = RunRequest {
            source: "import os\ndef env():\n    return dict(os.environ)\n".into(),
            function: "env".into(),
            env: vec![
                ("AGENT_TOKEN".into(), "from-the-request".into()),
                ("LANG".into(), "C".into()),
            ],
            ..RunRequest::default()
        };
        let outcome = sandbox.run(request).await.unwrap();
        let env = outcome.result.as_object().unwrap().clone();
        assert!(!env.contains_key(SECRET), "{env:?}");
        assert_eq!(env["AGENT_TOKEN"], "from-the-request");
        assert_eq!(env["LANG"], "C", "the request overrides the defaults");
        assert_eq!(env["PATH"], "/usr/bin:/bin");
        assert_eq!(env["PYTHONDONTWRITEBYTECODE"], "1");
        // Nothing else of the test process leaks either (cargo and nextest set plenty). The
        // exceptions are ours, or set by Python (LC_CTYPE coercion) and bubblewrap (PWD).
        let ours = [
            "PATH",
            "HOME",
            "LANG",
            "TMPDIR",
            "PYTHONDONTWRITEBYTECODE",
            "LC_CTYPE",
            "PWD",
        ];
        for (name, value) in std::env::vars() {
            if !ours.contains(&name.as_str()) {
                assert!(
                    env.get(&name).is_none_or(|v| v != &json!(value)),
                    "{name} leaked"
                );
            }
        }
    }
}

#[tokio::test]
async fn run_directory_is_fresh_and_removed() {
    let sandbox = sandbox().await;
    let source = "import os\ndef where():\n    open('note.txt', 'w').write('x')\n    return [os.getcwd(), os.environ['HOME'], sorted(os.listdir('.'))]\n";
    let first = call(&sandbox, source, "where", json!({})).await;
    let second = call(&sandbox, source, "where", json!({})).await;
    let cwd = first.result[0].as_str().unwrap().to_owned();
    assert_eq!(first.result[1], json!(cwd));
    assert_eq!(
        first.result[2],
        json!(["note.txt"]),
        "the directory starts empty"
    );
    assert_ne!(
        second.result[0],
        json!(cwd),
        "each run has its own directory"
    );
    assert!(
        !std::path::Path::new(&cwd).exists(),
        "{cwd} was not deleted"
    );
}

/// Stands in for the server's database: a file in a directory the tool was not given.
fn canary_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mneme.db");
    std::fs::write(&path, "secret rows").unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

#[tokio::test]
async fn files_outside_the_run_directory_are_out_of_reach_under_bubblewrap() {
    let sandbox = sandbox_with(|o| o.mechanism = Mechanism::Bubblewrap).await;
    assert_eq!(sandbox.mechanism(), "bubblewrap");
    files_are_out_of_reach(&sandbox, "FileNotFoundError").await;
}

#[tokio::test]
async fn files_outside_the_run_directory_are_out_of_reach_under_landlock() {
    let sandbox = sandbox_with(|o| o.mechanism = Mechanism::Landlock).await;
    assert_eq!(sandbox.mechanism(), "landlock");
    files_are_out_of_reach(&sandbox, "PermissionError").await;
}

async fn files_are_out_of_reach(sandbox: &Sandbox, error: &str) {
    let (dir, db) = canary_file();
    let read = call(
        sandbox,
        "def read(path: str):\n    return open(path).read()\n",
        "read",
        json!({"path": db}),
    )
    .await;
    assert_eq!(read.status, RunStatus::Error);
    assert!(read.error.unwrap().starts_with(error));
    let passwd = call(
        sandbox,
        "def read():\n    return open('/etc/passwd').read()\n",
        "read",
        json!({}),
    )
    .await;
    assert_eq!(passwd.status, RunStatus::Error);

    let escape = dir.path().join("escape.txt");
    let write_source = "def write(path: str):\n    open(path, 'w').write('x')\n";
    for target in [
        escape.to_str().unwrap(),
        "/escape.txt",
        "/usr/escape.txt",
        db.as_str(),
    ] {
        let write = call(sandbox, write_source, "write", json!({"path": target})).await;
        assert_eq!(write.status, RunStatus::Error, "wrote {target}");
    }
    assert!(!escape.exists());
    assert!(!std::path::Path::new("/escape.txt").exists());
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "secret rows");
}

#[tokio::test]
async fn network_is_out_of_reach() {
    let sandbox = sandbox_with(|o| o.mechanism = Mechanism::Bubblewrap).await;
    assert!(sandbox.uses_bubblewrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let source = "import socket\ndef connect(port: int):\n    socket.create_connection(('127.0.0.1', port), timeout=5).close()\n    return 'connected'\n";
    let outcome = call(&sandbox, source, "connect", json!({"port": port})).await;
    assert_eq!(outcome.status, RunStatus::Error, "{outcome:?}");
    assert!(outcome.error.unwrap().starts_with("ConnectionRefusedError"));

    let landlock = sandbox_with(|o| o.mechanism = Mechanism::Landlock).await;
    let summary = landlock.summary();
    assert!(
        summary.starts_with("landlock ABI ") && summary.ends_with(", network denied"),
        "{summary}"
    );
    let outcome = call(&landlock, source, "connect", json!({"port": port})).await;
    assert_eq!(outcome.status, RunStatus::Error, "{outcome:?}");

    // The same call does connect unconfined, or with the network allowed: the test can tell
    // the difference.
    let plain = sandbox_with(|o| {
        o.mechanism = Mechanism::None;
        o.unsafe_tools = true;
    })
    .await;
    let outcome = call(&plain, source, "connect", json!({"port": port})).await;
    assert_eq!(outcome.result, json!("connected"), "{outcome:?}");
    let networked = sandbox_with(|o| o.network = true).await;
    assert!(networked.uses_bubblewrap());
    assert!(networked.isolation()[1].contains("the host's network"));
    let outcome = call(&networked, source, "connect", json!({"port": port})).await;
    assert_eq!(outcome.result, json!("connected"), "{outcome:?}");
    let networked = sandbox_with(|o| {
        o.mechanism = Mechanism::Landlock;
        o.network = true;
    })
    .await;
    assert!(networked.summary().ends_with("network allowed"));
    let outcome = call(&networked, source, "connect", json!({"port": port})).await;
    assert_eq!(outcome.result, json!("connected"), "{outcome:?}");
}

#[tokio::test]
async fn unconfined_runs_are_refused_unless_unsafe() {
    let refused = sandbox_with(|o| o.mechanism = Mechanism::None).await;
    assert_eq!(refused.summary(), "none, refusing user tools");
    let request = RunRequest {
        source: "def f():\n    return 1\n".into(),
        function: "f".into(),
        ..RunRequest::default()
    };
    match refused.run(request.clone()).await {
        Err(ToolError::Unconfined(message)) => {
            assert!(message.contains("--unsafe-tools"), "{message}")
        }
        other => panic!("not refused: {other:?}"),
    }
    // Schemas never execute the source: they are still derived.
    let schema = refused
        .schema_from_source("def f():\n    \"\"\"F.\"\"\"\n", None)
        .await;
    assert_eq!(schema.unwrap()["name"], "f");

    let allowed = sandbox_with(|o| {
        o.mechanism = Mechanism::None;
        o.unsafe_tools = true;
    })
    .await;
    assert_eq!(allowed.summary(), "rlimits only");
    assert_eq!(allowed.run(request).await.unwrap().result, json!(1));
}

#[tokio::test]
async fn isolation_reports_what_is_in_force() {
    let sandbox = sandbox().await;
    let lines = sandbox.isolation();
    assert!(lines[0].starts_with("python: /"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("rlimits (set by the runner before tool code): address space 512 MiB, CPU 180 s, file size 64 MiB, processes 64")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("environment cleared")),
        "{lines:?}"
    );
    if sandbox.uses_bubblewrap() {
        assert!(lines[1].starts_with("bubblewrap "), "{lines:?}");
        assert!(lines[1].contains("no network"), "{lines:?}");
    }
    let plain = sandbox_with(|o| o.bubblewrap = None).await;
    assert!(!plain.uses_bubblewrap());
    assert_eq!(plain.mechanism(), "landlock", "auto falls back to Landlock");
    assert!(
        plain.isolation()[1].starts_with("landlock ABI "),
        "{:?}",
        plain.isolation()
    );
    assert!(
        plain.isolation()[2].starts_with("landlock filesystem: read-only /usr"),
        "{:?}",
        plain.isolation()
    );
    let none = sandbox_with(|o| o.mechanism = Mechanism::None).await;
    assert!(
        none.isolation()[1].starts_with("no confinement (disabled by configuration)"),
        "{:?}",
        none.isolation()
    );
}

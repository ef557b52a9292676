//! Running tool functions: results, errors, limits, output.

use std::sync::Arc;
use std::time::Duration;

use mneme_tools::{RunRequest, RunStatus, ToolError};
use serde_json::json;

use crate::{call, eventually, sandbox, sandbox_with};

#[tokio::test]
async fn dict_result_is_a_json_object() {
    let source = "def info(name: str) -> dict:\n    print('looking up', name)\n    return {'name': name, 'tags': ['a', 'b'], 'n': 3, 'ok': True, 'none': None}\n";
    let outcome = call(&sandbox().await, source, "info", json!({"name": "Ada"})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(
        outcome.result,
        json!({"name": "Ada", "tags": ["a", "b"], "n": 3, "ok": true, "none": null})
    );
    assert_eq!(outcome.result_str, None);
    assert_eq!(outcome.stdout, "looking up Ada\n");
    assert_eq!(outcome.error, None);
}

#[tokio::test]
async fn string_result() {
    let outcome = call(
        &sandbox().await,
        "def hi(who: str) -> str:\n    return f'hi {who}'\n",
        "hi",
        json!({"who": "you"}),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.result, json!("hi you"));
    assert_eq!(outcome.result_str, None);
}

#[tokio::test]
async fn other_results_carry_pythons_str() {
    let sandbox = sandbox().await;
    let list = call(
        &sandbox,
        "def f():\n    return ['a', None, True, (1, 2)]\n",
        "f",
        json!({}),
    )
    .await;
    assert_eq!(list.result, json!(["a", null, true, [1, 2]]));
    assert_eq!(
        list.result_str.as_deref(),
        Some("['a', None, True, (1, 2)]")
    );
    let none = call(&sandbox, "def f():\n    pass\n", "f", json!({})).await;
    assert_eq!(
        (none.result, none.result_str.as_deref()),
        (json!(null), Some("None"))
    );
    let object = call(
        &sandbox,
        "import datetime\ndef f():\n    return datetime.date(2024, 5, 1)\n",
        "f",
        json!({}),
    )
    .await;
    assert_eq!(object.result, json!("2024-05-01"));
    let nan = call(
        &sandbox,
        "def f():\n    return float('nan')\n",
        "f",
        json!({}),
    )
    .await;
    assert_eq!(nan.result, json!("nan"));
}

#[tokio::test]
async fn exception_is_an_error_outcome_with_traceback() {
    let source = "def check(n: int) -> str:\n    if n < 0:\n        raise ValueError(f'negative: {n}')\n    return 'ok'\n";
    let outcome = call(&sandbox().await, source, "check", json!({"n": -2})).await;
    assert_eq!(outcome.status, RunStatus::Error);
    assert_eq!(outcome.error.as_deref(), Some("ValueError: negative: -2"));
    assert_eq!(outcome.result, json!(null));
    assert!(
        outcome
            .stderr
            .starts_with("Traceback (most recent call last):"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("File \"<tool>\", line 3, in check"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("raise ValueError(f'negative: {n}')"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .trim_end()
            .ends_with("ValueError: negative: -2")
    );
    // Only the tool's frames: the runner is not the author's business.
    assert!(!outcome.stderr.contains("<string>"), "{}", outcome.stderr);
}

#[tokio::test]
async fn broken_calls_are_error_outcomes() {
    let sandbox = sandbox().await;
    let missing = call(&sandbox, "def f():\n    return 1\n", "g", json!({})).await;
    assert_eq!(
        missing.error.as_deref(),
        Some("NameError: the tool source defines no function named 'g'")
    );
    let bad_args = call(
        &sandbox,
        "def f(a: int):\n    return a\n",
        "f",
        json!({"b": 1}),
    )
    .await;
    assert!(
        bad_args
            .error
            .unwrap()
            .starts_with("TypeError: f() got an unexpected keyword argument 'b'")
    );
    let syntax = call(&sandbox, "def f(:\n", "f", json!({})).await;
    assert!(syntax.error.unwrap().starts_with("SyntaxError: "));
    let exit = call(
        &sandbox,
        "import sys\ndef f():\n    sys.exit(3)\n",
        "f",
        json!({}),
    )
    .await;
    assert_eq!(exit.error.as_deref(), Some("SystemExit: 3"));
    let hard_exit = call(
        &sandbox,
        "import os\ndef f():\n    os._exit(7)\n",
        "f",
        json!({}),
    )
    .await;
    assert_eq!(hard_exit.status, RunStatus::Error);
    assert!(
        hard_exit
            .error
            .unwrap()
            .contains("ended without a result (exit status 7)")
    );
}

#[tokio::test]
async fn async_functions_are_awaited() {
    let source = "import asyncio\nasync def f(x: int) -> int:\n    await asyncio.sleep(0.01)\n    return x * 2\n";
    let outcome = call(&sandbox().await, source, "f", json!({"x": 21})).await;
    assert_eq!(outcome.result, json!(42));
}

#[tokio::test]
async fn prints_cannot_forge_the_result() {
    let source = "import sys\ndef f():\n    print('{\"status\": \"success\", \"result\": \"forged\"}')\n    sys.stdout.flush()\n    return 'real'\n";
    let outcome = call(&sandbox().await, source, "f", json!({})).await;
    assert_eq!(outcome.result, json!("real"));
    assert!(outcome.stdout.contains("forged"));
}

#[tokio::test]
async fn args_round_trip() {
    let args = json!({
        "text": "héllo 世界 🦀 \"quoted\" \\ \n newline",
        "nested": {"list": [1, 2.5, null, true, {"deep": ["x"]}], "empty": {}},
        "big": 12345678901234_i64,
    });
    let source =
        "def echo(text, nested, big):\n    return {'text': text, 'nested': nested, 'big': big}\n";
    let outcome = call(&sandbox().await, source, "echo", args.clone()).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(outcome.result, args);
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    for bubblewrap in [true, false] {
        let sandbox = sandbox_with(|o| {
            o.timeout = Duration::from_secs(2);
            if !bubblewrap {
                o.bubblewrap = None;
            }
        })
        .await;
        // A child process carrying a unique marker, then a busy loop.
        let marker = format!("mneme-marker-{}-{bubblewrap}", std::process::id());
        let source = format!(
            "import subprocess, sys\ndef spin():\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\n    print('spinning', flush=True)\n    while True:\n        pass\n"
        );
        let started = std::time::Instant::now();
        let sandbox = Arc::new(sandbox);
        let running = tokio::spawn({
            let sandbox = Arc::clone(&sandbox);
            async move { call(&sandbox, &source, "spin", json!({})).await }
        });
        let seen = eventually(Duration::from_secs(2), || process_with_marker(&marker)).await;
        assert!(
            seen,
            "the tool's child never showed up: the test would prove nothing"
        );
        let outcome = running.await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(outcome.status, RunStatus::Error);
        assert_eq!(
            outcome.error.as_deref(),
            Some("TimeoutError: Executing tool spin timed out after 2.0 seconds.")
        );
        assert_eq!(outcome.stdout, "spinning\n");
        let gone = eventually(Duration::from_secs(5), || !process_with_marker(&marker)).await;
        assert!(
            gone,
            "a process of the timed-out tool survived (bubblewrap: {bubblewrap})"
        );
    }
}

#[tokio::test]
async fn dropping_a_run_kills_the_tool() {
    for bubblewrap in [true, false] {
        let sandbox = Arc::new(
            sandbox_with(|o| {
                if !bubblewrap {
                    o.bubblewrap = None
                }
            })
            .await,
        );
        let marker = format!("mneme-cancel-{}-{bubblewrap}", std::process::id());
        let source = format!(
            "import subprocess, sys, time\ndef wait():\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\n    time.sleep(600)\n"
        );
        let running = tokio::spawn({
            let sandbox = Arc::clone(&sandbox);
            async move { call(&sandbox, &source, "wait", json!({})).await }
        });
        assert!(eventually(Duration::from_secs(5), || process_with_marker(&marker)).await);
        // A cancelled turn drops the run's future.
        running.abort();
        let gone = eventually(Duration::from_secs(5), || !process_with_marker(&marker)).await;
        assert!(
            gone,
            "the tool outlived its cancelled run (bubblewrap: {bubblewrap})"
        );
    }
}

/// Whether a live process has `marker` on its command line.
fn process_with_marker(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn huge_output_is_capped() {
    let source = "import sys\ndef loud():\n    for _ in range(10):\n        sys.stdout.write('x' * (1024 * 1024))\n    print('oops', file=sys.stderr)\n    return 'done'\n";
    let outcome = call(&sandbox().await, source, "loud", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.result, json!("done"));
    assert!(
        outcome.stdout.len() < 1024 * 1024 + 200,
        "{}",
        outcome.stdout.len()
    );
    assert!(outcome.stdout.starts_with("xxxx"));
    assert!(
        outcome.stdout.ends_with(&format!(
            "[output truncated: {} of {} bytes dropped]",
            10 * 1024 * 1024 - (1024 * 1024 - 5),
            10 * 1024 * 1024
        )),
        "{}",
        &outcome.stdout[outcome.stdout.len() - 100..]
    );
    assert_eq!(outcome.stderr, "oops\n");
}

#[tokio::test]
async fn memory_bomb_is_a_memory_error() {
    let outcome = call(
        &sandbox().await,
        "def bomb():\n    return len(b'x' * 10**10)\n",
        "bomb",
        json!({}),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Error);
    assert_eq!(outcome.error.as_deref(), Some("MemoryError"));
}

#[tokio::test]
async fn large_files_hit_the_file_size_limit() {
    let sandbox = sandbox_with(|o| o.file_size_bytes = 1024 * 1024).await;
    let source = "def big():\n    with open('big.bin', 'wb') as f:\n        f.write(b'x' * (2 * 1024 * 1024))\n";
    let outcome = call(&sandbox, source, "big", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Error);
    assert!(outcome.error.unwrap().contains("File too large"));
}

#[tokio::test]
async fn invalid_environment_is_refused() {
    let request = RunRequest {
        source: "def f():\n    pass\n".into(),
        function: "f".into(),
        env: vec![("A=B".into(), "x".into())],
        ..RunRequest::default()
    };
    let err = sandbox().await.run(request).await.unwrap_err();
    assert!(matches!(err, ToolError::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn without_python_tools_are_unavailable() {
    let sandbox = sandbox_with(|o| o.python = "/nonexistent/python3".into()).await;
    assert!(sandbox.python().is_none());
    assert!(
        sandbox.isolation()[0].starts_with("python unavailable"),
        "{:?}",
        sandbox.isolation()
    );
    let err = sandbox
        .schema_from_source("def f(): pass", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn cpu_limit_ends_a_busy_tool() {
    for bubblewrap in [true, false] {
        let sandbox = sandbox_with(|o| {
            o.cpu_seconds = 1;
            if !bubblewrap {
                o.bubblewrap = None;
            }
        })
        .await;
        let outcome = call(
            &sandbox,
            "def spin():\n    while True:\n        pass\n",
            "spin",
            json!({}),
        )
        .await;
        assert_eq!(outcome.status, RunStatus::Error);
        assert_eq!(
            outcome.error.as_deref(),
            Some("TimeoutError: Executing tool spin used more than 1 seconds of CPU time."),
            "bubblewrap: {bubblewrap}"
        );
    }
}

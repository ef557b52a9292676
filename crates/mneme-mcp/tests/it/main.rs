//! `McpManager` against the Python MCP test server (`tests/mcp/server.py`) on each transport.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use mneme_mcp::{McpCallResult, McpError, McpManager, McpOptions};
use mneme_testkit::mcp::{HttpMcpServer, stdio_command};
use mneme_types::{HttpServerConfig, McpServerConfig, McpServerId, StdioServerConfig};
use serde_json::{Map, Value, json};

fn manager(call_timeout: Duration) -> McpManager {
    McpManager::new(McpOptions {
        connect_timeout: Duration::from_secs(30),
        call_timeout,
        stdio_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
    })
    .unwrap()
}

fn stdio(env: &[(&str, &str)]) -> McpServerConfig {
    let (command, args) = stdio_command();
    McpServerConfig::Stdio(StdioServerConfig {
        command,
        args,
        env: Some(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
    })
}

fn http(url: String) -> HttpServerConfig {
    HttpServerConfig {
        server_url: url,
        auth_header: Some("Authorization".into()),
        auth_token: Some("Bearer test".into()),
        custom_headers: None,
    }
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

async fn call(
    m: &McpManager,
    id: McpServerId,
    c: &McpServerConfig,
    name: &str,
    a: Value,
) -> McpCallResult {
    m.call_tool(id, c, name, args(a)).await.unwrap()
}

/// Lists and calls: a result, a tool's own failure, and the tool list.
async fn exercise(m: &McpManager, id: McpServerId, config: &McpServerConfig) {
    let tools = m.list_tools(id, config).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for expected in ["add", "echo", "fail"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let add = tools.iter().find(|t| t.name == "add").unwrap();
    assert_eq!(add.description.as_deref(), Some("Adds two integers."));
    assert_eq!(add.input_schema["required"], json!(["a", "b"]));

    let sum = call(m, id, config, "add", json!({"a": 2, "b": 40})).await;
    assert_eq!(
        sum,
        McpCallResult {
            text: "42".into(),
            is_error: false
        }
    );
    let failed = call(m, id, config, "fail", json!({"message": "boom"})).await;
    assert!(failed.is_error);
    assert!(failed.text.contains("boom"), "{failed:?}");
}

#[tokio::test]
async fn stdio_servers_list_and_call_with_only_their_own_environment() {
    let m = manager(Duration::from_secs(60));
    let id = McpServerId::new();
    let config = stdio(&[("GREETING", "hello")]);
    exercise(&m, id, &config).await;
    let env = |name: &'static str| call(&m, id, &config, "env", json!({"name": name}));
    assert_eq!(env("GREETING").await.text, "hello");
    assert_eq!(env("PATH").await.text, "/usr/bin:/bin");
    // Cargo sets this for the test process; the server must not inherit it.
    assert_eq!(env("CARGO_PKG_NAME").await.text, "<unset>");

    // A changed config is a new connection.
    let changed = stdio(&[("GREETING", "bye")]);
    assert_eq!(
        call(&m, id, &changed, "env", json!({"name": "GREETING"}))
            .await
            .text,
        "bye"
    );
}

#[tokio::test]
async fn a_dead_stdio_server_is_restarted_on_the_next_call() {
    let m = manager(Duration::from_secs(60));
    let id = McpServerId::new();
    let config = stdio(&[]);
    let first = call(&m, id, &config, "pid", json!({})).await.text;
    let crashed = m.call_tool(id, &config, "crash", Map::new()).await;
    assert!(
        matches!(crashed, Err(ref e) if e.is_connection()),
        "{crashed:?}"
    );
    let second = call(&m, id, &config, "pid", json!({})).await.text;
    assert_ne!(first, second);
    assert_eq!(
        call(&m, id, &config, "add", json!({"a": 1, "b": 1}))
            .await
            .text,
        "2"
    );
}

#[tokio::test]
async fn closing_a_stdio_server_reaps_its_process() {
    let m = manager(Duration::from_secs(60));
    let id = McpServerId::new();
    let config = stdio(&[]);
    let pid = call(&m, id, &config, "pid", json!({})).await.text;
    let proc = format!("/proc/{pid}");
    assert!(std::path::Path::new(&proc).exists());
    m.close(id).await;
    // Reaped, not a zombie: the /proc entry is gone.
    assert!(!std::path::Path::new(&proc).exists(), "{proc} still exists");
}

#[tokio::test]
async fn slow_calls_time_out() {
    let m = manager(Duration::from_secs(1));
    let id = McpServerId::new();
    let config = stdio(&[]);
    m.list_tools(id, &config).await.unwrap();
    let err = m
        .call_tool(id, &config, "slow", args(json!({"seconds": 5})))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    m.close(id).await;
}

#[tokio::test]
async fn unreachable_servers_are_connection_errors() {
    let m = manager(Duration::from_secs(5));
    let missing = McpServerConfig::Stdio(StdioServerConfig {
        command: "/nonexistent/mcp-server".into(),
        args: vec![],
        env: None,
    });
    let err = m
        .list_tools(McpServerId::new(), &missing)
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::Spawn { .. }), "{err:?}");

    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for config in [
        McpServerConfig::StreamableHttp(http(format!("http://127.0.0.1:{port}/mcp"))),
        McpServerConfig::Sse(http(format!("http://127.0.0.1:{port}/sse"))),
    ] {
        let err = m.list_tools(McpServerId::new(), &config).await.unwrap_err();
        assert!(err.is_connection(), "{err:?}");
    }
}

#[tokio::test]
async fn streamable_http_servers_list_and_call() {
    let server = HttpMcpServer::start("streamable-http").await;
    let m = manager(Duration::from_secs(60));
    let config = McpServerConfig::StreamableHttp(http(format!("{}/mcp", server.base)));
    exercise(&m, McpServerId::new(), &config).await;
}

#[tokio::test]
async fn sse_servers_list_and_call_until_they_go_away() {
    let mut server = HttpMcpServer::start("sse").await;
    let m = manager(Duration::from_secs(10));
    let id = McpServerId::new();
    let config = McpServerConfig::Sse(http(format!("{}/sse", server.base)));
    exercise(&m, id, &config).await;
    server.kill().await;
    let err = m
        .call_tool(id, &config, "add", args(json!({"a": 1, "b": 2})))
        .await
        .unwrap_err();
    assert!(err.is_connection(), "{err:?}");
}

//! Letta's name-keyed MCP routes (`/v1/tools/mcp/...`) and the connect streams, against the
//! Python MCP test server over stdio: the same servers as `/v1/mcp-servers/`, by name.

use mneme_testkit::TestServer;
use mneme_testkit::mcp::stdio_command;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{id, server, unique};

fn config(name: &str) -> Value {
    let (command, args) = stdio_command();
    json!({"server_name": name, "type": "stdio", "command": command, "args": args})
}

/// The `data:` payloads of an SSE response, after checking its content type.
async fn sse_events(
    srv: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Vec<Value> {
    let mut req = srv.request(method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    assert_eq!(res.status(), 200);
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    let text = res.text().await.expect("body");
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("JSON event"))
        .collect()
}

#[tokio::test]
async fn servers_added_by_name_are_served_by_id_and_back() {
    let srv = server().await;
    let name = unique("legacy");
    let added = srv
        .request(Method::PUT, "/v1/tools/mcp/servers")
        .json(&config(&name));
    let added = srv.send(added).await.ok();
    let mut want = config_fields(&name);
    want.insert("env".into(), Value::Null);
    assert_eq!(added, json!([want]));
    let listed = srv.get("/v1/tools/mcp/servers").await.ok();
    assert_eq!(listed[&name], added[0]);

    let by_id = srv.get("/v1/mcp-servers/").await.ok();
    let sid = id(&by_id[0]);
    assert_eq!(by_id[0]["server_name"], name.as_str());
    let registered = srv.get(&format!("/v1/mcp-servers/{sid}/tools")).await.ok();
    assert!(
        registered
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "add")
    );

    let run = srv
        .post(
            &format!("/v1/tools/mcp/servers/{name}/tools/add/execute"),
            json!({"args": {"a": 2, "b": 40}}),
        )
        .await
        .ok();
    assert_eq!(run, json!({"result": "42", "success": true}));
    let tools = srv
        .get(&format!("/v1/tools/mcp/servers/{name}/tools"))
        .await
        .ok();
    let add = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "add")
        .unwrap();
    assert_eq!(add["health"]["status"], "STRICT_COMPLIANT");
    assert_eq!(add["inputSchema"]["additionalProperties"], false);

    let left = srv
        .delete(&format!("/v1/tools/mcp/servers/{name}"))
        .await
        .ok();
    assert_eq!(left, json!([]));
    srv.get(&format!("/v1/mcp-servers/{sid}")).await.err(404);
    srv.get(&format!("/v1/tools/mcp/servers/{name}/tools"))
        .await
        .err(404);
}

/// `config(name)`'s fields, for comparing whole answers.
fn config_fields(name: &str) -> serde_json::Map<String, Value> {
    match config(name) {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn connect_streams_the_attempt_then_the_outcome() {
    let srv = server().await;
    let name = unique("probe");
    let events = sse_events(
        &srv,
        Method::POST,
        "/v1/tools/mcp/servers/connect",
        Some(config(&name)),
    )
    .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[0],
        json!({"event": "connection_attempt", "server_name": name})
    );
    assert_eq!(events[1]["event"], "success");
    assert!(
        events[1]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "echo")
    );
    // Nothing was stored.
    assert_eq!(srv.get("/v1/tools/mcp/servers").await.ok(), json!({}));

    let gone = json!({"server_name": name, "type": "streamable_http", "server_url": "http://127.0.0.1:9/mcp"});
    let events = sse_events(
        &srv,
        Method::POST,
        "/v1/tools/mcp/servers/connect",
        Some(gone),
    )
    .await;
    assert_eq!(events[1]["event"], "error", "{events:?}");

    let (command, args) = stdio_command();
    let stored = srv
        .post(
            "/v1/mcp-servers/",
            json!({"server_name": name, "config": {"mcp_server_type": "stdio", "command": command, "args": args}}),
        )
        .await
        .ok();
    let path = format!("/v1/mcp-servers/connect/{}", id(&stored));
    let events = sse_events(&srv, Method::GET, &path, None).await;
    assert_eq!(events[0]["server_name"], name.as_str());
    assert_eq!(events[1]["event"], "success");

    let callback = srv
        .get("/v1/tools/mcp/oauth/callback?code=c&state=s")
        .await
        .err(400);
    assert!(
        callback["detail"].as_str().unwrap().contains("OAuth"),
        "{callback}"
    );
}

//! MCP servers: registration, their tools in the registry, agents calling them, direct runs,
//! and errors, against the Python MCP test server (`tests/mcp/server.py`).

use mneme_testkit::mcp::{HttpMcpServer, stdio_command};
use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id, unique};

async fn setup() -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_CANARY_SECRET", "hunter2"),
    ];
    (TestServer::start_with_env(bin(), &env).await, fake)
}

fn stdio_config(env: Value) -> Value {
    let (command, args) = stdio_command();
    json!({"mcp_server_type": "stdio", "command": command, "args": args, "env": env})
}

fn tool_named<'a>(tools: &'a Value, name: &str) -> &'a Value {
    tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name} in {tools}"))
}

/// The agent's tool return for the only call of a turn.
async fn call_through_agent(
    srv: &TestServer,
    fake: &FakeLlm,
    agent: &str,
    tool: &str,
    args: Value,
) -> Value {
    fake.push(Reply::tool_call(tool, args));
    fake.push_text("done");
    let res = srv
        .post(
            &format!("/v1/agents/{agent}/messages"),
            json!({"input": "go"}),
        )
        .await
        .ok();
    let ret = res["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_type"] == "tool_return_message")
        .cloned()
        .unwrap_or_else(|| panic!("no tool return in {res}"));
    // The turn goes on after the tool, whatever it returned.
    assert_eq!(
        res["messages"].as_array().unwrap().last().unwrap()["content"],
        "done"
    );
    ret
}

#[tokio::test]
async fn a_stdio_server_registers_its_tools_and_agents_call_them() {
    let (srv, fake) = setup().await;
    let name = unique("calc");
    let sid = create_stdio_server(&srv, &name).await;
    let (tools, add_id) = registered_tools(&srv, &name, &sid).await;

    let agent = srv
        .post(
            "/v1/agents/",
            json!({"name": unique("mcp-user"), "model": "openai/gpt-4o-mini"}),
        )
        .await
        .ok();
    let a = id(&agent);
    for t in ["add", "fail", "env"] {
        let tid = id(tool_named(&tools, t));
        srv.patch(&format!("/v1/agents/{a}/tools/attach/{tid}"), json!({}))
            .await
            .ok();
    }
    agent_calls_the_tools(&srv, &fake, &a).await;
    tools_run_directly(&srv, &sid, &add_id, &tools).await;

    // Deleting the server takes its tools along, off the agent too.
    srv.delete(&format!("/v1/mcp-servers/{sid}")).await.ok();
    srv.get(&format!("/v1/mcp-servers/{sid}")).await.err(404);
    srv.get(&format!("/v1/tools/{add_id}")).await.err(404);
    let left = srv.get(&format!("/v1/agents/{a}/tools")).await.ok();
    assert!(
        left.as_array()
            .unwrap()
            .iter()
            .all(|t| t["tool_type"] != "external_mcp"),
        "{left}"
    );
}

/// Creates the stdio test server named `name` (with GREETING=hello), checks how it reads back
/// and returns its id.
async fn create_stdio_server(srv: &TestServer, name: &str) -> String {
    let server = srv
        .post(
            "/v1/mcp-servers/",
            json!({"server_name": name, "config": stdio_config(json!({"GREETING": "hello"}))}),
        )
        .await
        .ok();
    let sid = id(&server);
    assert!(sid.starts_with("mcp_server-"), "{server}");
    assert_eq!(server["mcp_server_type"], "stdio");
    assert_eq!(server["server_name"], name);
    assert_eq!(server["env"]["GREETING"], "hello");
    assert_eq!(
        srv.get(&format!("/v1/mcp-servers/{sid}")).await.ok(),
        server
    );
    let all = srv.get("/v1/mcp-servers").await.ok();
    assert_eq!(all, json!([server]));
    sid
}

/// Checks the tools the server `name` registered; returns them and the id of its `add` tool.
async fn registered_tools(srv: &TestServer, name: &str, sid: &str) -> (Value, String) {
    // Registered at creation, as Letta does.
    let tools = srv.get(&format!("/v1/mcp-servers/{sid}/tools")).await.ok();
    let add = tool_named(&tools, "add");
    assert_eq!(add["tool_type"], "external_mcp");
    assert_eq!(add["tags"], json!([format!("mcp:{name}")]));
    assert_eq!(add["metadata_"]["mcp"]["server_id"], sid);
    assert_eq!(add["description"], "Adds two integers.");
    let params = &add["json_schema"]["parameters"];
    assert_eq!(params["required"], json!(["a", "b"]));
    assert_eq!(params["properties"]["a"]["type"], "integer");
    assert_eq!(params["additionalProperties"], false);
    let add_id = id(add);
    let one = srv
        .get(&format!("/v1/mcp-servers/{sid}/tools/{add_id}"))
        .await
        .ok();
    assert_eq!(&one, add);
    // The registry lists them like any tool.
    let listed = srv.get("/v1/tools/?tool_types=external_mcp").await.ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == add_id.as_str())
    );
    (tools, add_id)
}

/// The agent `a`, with the test server's add, fail and env tools attached, calls each.
async fn agent_calls_the_tools(srv: &TestServer, fake: &FakeLlm, a: &str) {
    let ret = call_through_agent(srv, fake, a, "add", json!({"a": 2, "b": 40})).await;
    assert_eq!(ret["status"], "success");
    // Listed as Letta lists it: the packed return's message.
    assert_eq!(ret["tool_return"], "42");
    assert_eq!(ret["tool_returns"][0]["tool_return"], "42");
    assert_eq!(ret["name"], "add", "{ret}");
    let offered = fake.requests()[0]["tools"].as_array().unwrap().clone();
    let schema = offered
        .iter()
        .find(|t| t["function"]["name"] == "add")
        .unwrap();
    assert_eq!(
        schema["function"]["parameters"]["required"],
        json!(["a", "b"])
    );

    // The tool's own failure (isError) is an error return; the turn goes on.
    let ret = call_through_agent(srv, fake, a, "fail", json!({"message": "boom"})).await;
    assert_eq!(ret["status"], "error");
    assert!(
        ret["tool_return"].as_str().unwrap().contains("boom"),
        "{ret}"
    );

    // The server sees its config's environment, never mneme's.
    for (var, expected) in [("GREETING", "hello"), ("MNEME_CANARY_SECRET", "<unset>")] {
        let ret = call_through_agent(srv, fake, a, "env", json!({"name": var})).await;
        assert!(
            ret["tool_return"].as_str().unwrap().contains(expected),
            "{var}: {ret}"
        );
    }
}

/// Runs the server's add and fail tools directly.
async fn tools_run_directly(srv: &TestServer, sid: &str, add_id: &str, tools: &Value) {
    // Run directly.
    let run = srv
        .post(
            &format!("/v1/mcp-servers/{sid}/tools/{add_id}/run"),
            json!({"args": {"a": 1, "b": 2}}),
        )
        .await
        .ok();
    assert_eq!(run["status"], "success");
    assert_eq!(run["func_return"], "3");
    let fail_id = id(tool_named(tools, "fail"));
    let run = srv
        .post(
            &format!("/v1/mcp-servers/{sid}/tools/{fail_id}/run"),
            json!({"args": {"message": "no"}}),
        )
        .await
        .ok();
    assert_eq!(run["status"], "error");
    // The Python SDK's words around the message the tool raised.
    assert_eq!(run["func_return"], "Error executing tool fail: no");
}

#[tokio::test]
async fn a_streamable_http_server_works_and_its_loss_is_an_error_return() {
    let (srv, fake) = setup().await;
    let mut mcp = HttpMcpServer::start("streamable-http").await;
    let server = srv
        .post(
            "/v1/mcp-servers/",
            json!({"server_name": unique("web"), "config": {
                "mcp_server_type": "streamable_http", "server_url": format!("{}/mcp", mcp.base),
                "auth_header": "Authorization", "auth_token": "Bearer abc",
                "custom_headers": {"X-Team": "mneme"}}}),
        )
        .await
        .ok();
    let sid = id(&server);
    assert_eq!(server["mcp_server_type"], "streamable_http");
    assert_eq!(server["custom_headers"], json!({"X-Team": "mneme"}));
    let tools = srv.get(&format!("/v1/mcp-servers/{sid}/tools")).await.ok();
    let echo = id(tool_named(&tools, "echo"));
    let run = srv
        .post(
            &format!("/v1/mcp-servers/{sid}/tools/{echo}/run"),
            json!({"args": {"text": "hi"}}),
        )
        .await
        .ok();
    assert_eq!(run["func_return"], "hi");

    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": [echo]}),
        )
        .await
        .ok();
    let a = id(&agent);
    let ret = call_through_agent(&srv, &fake, &a, "echo", json!({"text": "over http"})).await;
    assert_eq!(ret["status"], "success");
    assert!(ret["tool_return"].as_str().unwrap().contains("over http"));

    // A dead server: the agent gets an error return and carries on; direct runs are a 502.
    mcp.kill().await;
    let ret = call_through_agent(&srv, &fake, &a, "echo", json!({"text": "anyone?"})).await;
    assert_eq!(ret["status"], "error");
    let run = srv
        .post(
            &format!("/v1/mcp-servers/{sid}/tools/{echo}/run"),
            json!({"args": {"text": "x"}}),
        )
        .await;
    assert_eq!(run.status, 502, "{run:?}");
    assert_eq!(run.body["error"]["type"], "mcp_connection_error");
}

#[tokio::test]
async fn servers_are_updated_refreshed_and_validated() {
    let (srv, _fake) = setup().await;
    let name = unique("conf");
    let server = srv
        .post(
            "/v1/mcp-servers/",
            json!({"server_name": name, "config": stdio_config(json!(null))}),
        )
        .await
        .ok();
    let sid = id(&server);
    let tools = srv.get(&format!("/v1/mcp-servers/{sid}/tools")).await.ok();
    let env_id = id(tool_named(&tools, "env"));
    let renamed = update_reaches_the_server(&srv, &server, &sid, &env_id).await;

    let refreshed = srv
        .patch(&format!("/v1/mcp-servers/{sid}/refresh"), json!({}))
        .await
        .ok();
    assert_eq!(
        refreshed,
        json!({"deleted": [], "updated": [], "added": []})
    );

    bad_input_is_rejected(&srv, &name, &renamed, &sid).await;

    // A server that cannot start is still created (as in Letta); asking for its tools is a 502.
    let broken = srv
        .post(
            "/v1/mcp-servers/",
            json!({"server_name": unique("broken"), "config": {"mcp_server_type": "stdio",
                   "command": "/nonexistent/mcp", "args": []}}),
        )
        .await
        .ok();
    let res = srv
        .get(&format!("/v1/mcp-servers/{}/tools", id(&broken)))
        .await;
    assert_eq!(res.status, 502, "{res:?}");
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/mcp"),
        "{res:?}"
    );
}

/// Renames the server and gives it a new environment, which its `env` tool then sees; returns
/// the new name.
async fn update_reaches_the_server(
    srv: &TestServer,
    server: &Value,
    sid: &str,
    env_id: &str,
) -> String {
    // A new environment reaches the (restarted) server.
    let renamed = unique("conf2");
    let updated = srv
        .patch(
            &format!("/v1/mcp-servers/{sid}"),
            json!({"server_name": renamed, "config": {"mcp_server_type": "stdio", "env": {"MODE": "two"}}}),
        )
        .await
        .ok();
    assert_eq!(updated["server_name"], renamed.as_str());
    assert_eq!(updated["command"], server["command"]);
    let run = srv
        .post(
            &format!("/v1/mcp-servers/{sid}/tools/{env_id}/run"),
            json!({"args": {"name": "MODE"}}),
        )
        .await
        .ok();
    assert_eq!(run["func_return"], "two");
    let env_tool = srv.get(&format!("/v1/tools/{env_id}")).await.ok();
    assert_eq!(env_tool["tags"], json!([format!("mcp:{renamed}")]));
    renamed
}

/// Invalid configs, a taken name and unknown ids, next to the server `sid` now named `renamed`.
async fn bad_input_is_rejected(srv: &TestServer, name: &str, renamed: &str, sid: &str) {
    // Bad input is a 4xx in Letta's shape.
    srv.post(
        "/v1/mcp-servers/",
        json!({"server_name": name.to_owned() + "x", "config": {"command": "python", "args": []}}),
    )
    .await
    .err(422);
    srv.post(
        "/v1/mcp-servers/",
        json!({"server_name": renamed, "config": stdio_config(json!(null))}),
    )
    .await
    .err(409);
    srv.post(
        "/v1/mcp-servers/",
        json!({"server_name": unique("bad"), "config": {"mcp_server_type": "sse", "server_url": "ftp://x/sse"}}),
    )
    .await
    .err(422);
    srv.patch(
        &format!("/v1/mcp-servers/{sid}"),
        json!({"config": {"mcp_server_type": "streamable_http", "auth_token": "x"}}),
    )
    .await
    .err(422);
    srv.get("/v1/mcp-servers/mcp_server-123").await.err(422);
    let missing = "mcp_server-00000000-0000-4000-8000-000000000000";
    srv.get(&format!("/v1/mcp-servers/{missing}"))
        .await
        .err(404);
    srv.get(&format!(
        "/v1/mcp-servers/{sid}/tools/tool-00000000-0000-4000-8000-000000000000"
    ))
    .await
    .err(404);
}

//! MCP servers and the tools registered from them.

use mneme_store::{McpToolSync, StoreError};
use mneme_types::{McpServer, McpServerId, Tool, ToolId};
use serde_json::json;

use super::{new_agent, sqlite};

fn server(name: &str) -> McpServer {
    serde_json::from_value(json!({
        "mcp_server_type": "stdio", "command": "python", "args": ["s.py"], "env": null,
        "id": McpServerId::new(), "server_name": name,
    }))
    .unwrap()
}

fn tool(name: &str, description: &str) -> Tool {
    serde_json::from_value(json!({
        "id": ToolId::new(), "tool_type": "external_mcp", "name": name,
        "description": description, "source_type": "python", "source_code": null,
        "json_schema": {"name": name, "parameters": {"type": "object", "properties": {}}},
        "args_json_schema": null, "tags": [], "return_char_limit": 50000,
        "pip_requirements": null, "npm_requirements": null, "default_requires_approval": null,
        "enable_parallel_execution": false, "created_by_id": null, "last_updated_by_id": null,
        "metadata_": null, "project_id": null,
    }))
    .unwrap()
}

fn rename(to: &'static str) -> mneme_store::McpServerEdit {
    Box::new(move |s| {
        s.server_name = to.into();
        Ok(())
    })
}

fn names(tools: &[Tool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

#[tokio::test]
async fn servers_have_unique_names() {
    let (store, _dir) = sqlite();
    let a = store.create_mcp_server(server("calc")).await.unwrap();
    assert_eq!(store.get_mcp_server(a.id).await.unwrap(), a);
    assert_eq!(store.mcp_server_by_name("calc").await.unwrap().id, a.id);
    let err = store.create_mcp_server(server("calc")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let b = store.create_mcp_server(server("web")).await.unwrap();
    let ids: Vec<_> = store
        .list_mcp_servers()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![a.id, b.id]);
    let rename = store
        .update_mcp_server(b.id, rename("calc"))
        .await
        .unwrap_err();
    assert!(matches!(rename, StoreError::Conflict(_)), "{rename:?}");
    let err = store.get_mcp_server(McpServerId::new()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn syncing_adds_updates_prunes_and_never_replaces_other_tools() {
    let (store, _dir) = sqlite();
    let mut builtin = tool("send_message", "built in");
    builtin.tool_type = "letta_core".into();
    store.upsert_tools(vec![builtin.clone()]).await.unwrap();
    let s = store.create_mcp_server(server("calc")).await.unwrap();

    let first = vec![
        tool("add", "adds"),
        tool("echo", "echoes"),
        tool("send_message", "x"),
    ];
    let sync = store.sync_mcp_tools(s.id, first, false).await.unwrap();
    assert_eq!(sync.added, vec!["add", "echo"]);
    assert_eq!(sync.skipped, vec!["send_message"]);
    let tools = store.mcp_server_tools(s.id).await.unwrap();
    assert_eq!(names(&tools), vec!["add", "echo"]);
    assert_eq!(tools[0].tags, vec!["mcp:calc"]);
    assert_eq!(tools[0].mcp_server_id(), Some(s.id));
    assert_eq!(store.get_tool(builtin.id).await.unwrap(), builtin);
    let add_id = tools[0].id;

    let second = vec![tool("add", "adds better"), tool("echo", "echoes")];
    let sync = store.sync_mcp_tools(s.id, second, true).await.unwrap();
    assert_eq!(
        sync,
        McpToolSync {
            updated: vec!["add".into()],
            ..Default::default()
        }
    );
    let add = store.get_tool(add_id).await.unwrap();
    assert_eq!(add.description.as_deref(), Some("adds better"));

    let sync = store
        .sync_mcp_tools(s.id, vec![tool("echo", "echoes")], true)
        .await
        .unwrap();
    assert_eq!(sync.deleted, vec!["add"]);
    assert!(store.get_tool(add_id).await.is_err());
}

#[tokio::test]
async fn renames_reach_the_tools_and_deletes_take_them_along() {
    let (store, _dir) = sqlite();
    let s = store.create_mcp_server(server("calc")).await.unwrap();
    store
        .sync_mcp_tools(s.id, vec![tool("add", "adds")], false)
        .await
        .unwrap();
    let agent = new_agent("mcp-user", vec![]);
    let agent_id = agent.agent.id;
    store.create_agent(agent).await.unwrap();
    let add = store.mcp_server_tools(s.id).await.unwrap().remove(0);
    store.attach_tool(agent_id, add.id).await.unwrap();

    store
        .update_mcp_server(s.id, rename("maths"))
        .await
        .unwrap();
    let add = store.get_tool(add.id).await.unwrap();
    assert_eq!(add.tags, vec!["mcp:maths"]);
    assert_eq!(add.metadata_.unwrap()["mcp"]["server_name"], "maths");

    store.delete_mcp_server(s.id).await.unwrap();
    assert!(store.get_tool(add.id).await.is_err());
    assert!(store.agent_tools(agent_id).await.unwrap().is_empty());
    assert!(store.get_mcp_server(s.id).await.is_err());
}

//! `McpServerStore`: MCP servers and the tools registered from them.

use std::sync::Arc;

use mneme_types::{McpServerId, Tool};

use super::fixtures::{self, *};
use crate::{McpServerEdit, McpToolSync, Store, StoreError};

/// An MCP tool as a server lists it.
fn tool(name: &str, description: &str) -> Tool {
    let mut t = fixtures::tool(name, "external_mcp");
    t.description = Some(description.into());
    t
}

fn rename(to: &'static str) -> McpServerEdit {
    Box::new(move |s| {
        s.server_name = to.into();
        Ok(())
    })
}

fn names(tools: &[Tool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

pub async fn servers_have_unique_names(store: Arc<dyn Store>) {
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

pub async fn syncing_adds_updates_prunes_and_never_replaces_other_tools(store: Arc<dyn Store>) {
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
    assert_not_found(store.get_tool(add_id).await);
}

pub async fn renames_reach_the_tools_and_deletes_take_them_along(store: Arc<dyn Store>) {
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
    assert_not_found(store.get_tool(add.id).await);
    assert!(store.agent_tools(agent_id).await.unwrap().is_empty());
    assert_not_found(store.get_mcp_server(s.id).await);
}

pub async fn unknown_servers_are_not_found(store: Arc<dyn Store>) {
    let unknown = McpServerId::new();
    assert_not_found(store.get_mcp_server(unknown).await);
    assert_not_found(store.mcp_server_by_name("nobody").await);
    assert_not_found(store.update_mcp_server(unknown, rename("x")).await);
    assert_not_found(store.delete_mcp_server(unknown).await);
    assert_not_found(store.mcp_server_tools(unknown).await);
    let tools = vec![tool("add", "adds")];
    assert_not_found(store.sync_mcp_tools(unknown, tools, false).await);
    assert!(
        store
            .tools_by_name(&["add".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_mcp_servers().await.unwrap().is_empty());
}

pub async fn a_refused_server_edit_writes_nothing(store: Arc<dyn Store>) {
    let s = store.create_mcp_server(server("calc")).await.unwrap();
    store
        .sync_mcp_tools(s.id, vec![tool("add", "adds")], false)
        .await
        .unwrap();
    let other = McpServerId::new();
    let refused_edit: McpServerEdit = Box::new(|s| {
        s.server_name = "maths".into();
        Err(refused())
    });
    assert_invalid(store.update_mcp_server(s.id, refused_edit).await);
    assert_eq!(store.get_mcp_server(s.id).await.unwrap(), s);
    assert_eq!(
        store.mcp_server_tools(s.id).await.unwrap()[0].tags,
        ["mcp:calc"]
    );
    let moved: McpServerEdit = Box::new(move |s| {
        s.id = other;
        Ok(())
    });
    assert_eq!(store.update_mcp_server(s.id, moved).await.unwrap().id, s.id);
    assert_not_found(store.get_mcp_server(other).await);
    let err = store.create_mcp_server(server("calc")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

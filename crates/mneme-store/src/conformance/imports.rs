//! `AgentStore::import_agents`: an Agent File import written whole or not at all.

use std::sync::Arc;

use mneme_types::{AgentId, BlockId, MessageId, Tool};

use super::agent_blocks::labels;
use super::fixtures::*;
use crate::{
    AgentFilter, AgentImport, ArchiveFilter, ImportedAgent, MessageQuery, Order, Passage,
    PassageList, Role, SearchKind, Store, StoreError,
};

/// An imported agent named `name`: its system message, then `texts` as user and assistant
/// messages in turn, all in context.
fn imported(name: &str, texts: &[&str]) -> ImportedAgent {
    let new = new_agent(name, vec![]);
    let mut agent = new.agent;
    let mut messages = new.messages;
    for (i, text) in texts.iter().enumerate() {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        messages.push(message(agent.id, role, text));
    }
    agent.message_ids = ids(&messages, |m| m.id);
    ImportedAgent {
        agent,
        blocks: vec![],
        tools: vec![],
        messages,
        archive: None,
        passages: vec![],
        folders: vec![],
        files: vec![],
    }
}

/// Gives the agent its own archive holding `texts`.
fn with_passages(mut a: ImportedAgent, texts: &[&str]) -> ImportedAgent {
    let own = archive(&format!("{} archive", a.agent.name));
    a.passages = texts
        .iter()
        .map(|t| passage(own.id, t, &["imported"], None))
        .collect();
    a.archive = Some(own);
    a
}

/// A file of two agents sharing the block `shared`, each with a block of its own, the
/// file's tool `lookup` and the stored tool `stored`, history and passages. Fresh ids each call.
fn two_agent_file() -> AgentImport {
    let (shared, human, persona) = (
        block("shared", "s"),
        block("human", "h"),
        block("persona", "p"),
    );
    let mut alice = with_passages(imported("alice", &["hi", "hello", "bye"]), &["a1", "a2"]);
    alice.blocks = vec![human.id, shared.id];
    alice.tools = vec!["lookup".into(), "stored".into()];
    let mut bob = imported("bob", &["yo"]);
    bob.blocks = vec![shared.id, persona.id];
    bob.tools = vec!["stored".into()];
    // Bob is Alice's sleep-time companion.
    let group = mneme_types::Group::new(
        vec![bob.agent.id],
        "companions".into(),
        &mneme_types::ManagerConfig::Sleeptime {
            manager_agent_id: alice.agent.id,
            sleeptime_agent_frequency: Some(3),
        },
    );
    AgentImport {
        tools: vec![tool("lookup", "custom")],
        replace_tools: false,
        blocks: vec![shared, human, persona],
        agents: vec![alice, bob],
        mcp_servers: vec![],
        groups: vec![group],
        folders: vec![],
    }
}

fn all_messages() -> MessageQuery {
    MessageQuery {
        limit: 1000,
        ..MessageQuery::default()
    }
}

fn texts<T>(items: &[T], text: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| text(i).to_owned()).collect()
}

async fn passages_of(store: &dyn Store, agent: AgentId) -> Vec<Passage> {
    let archives = store.agent_archives(agent).await.unwrap();
    let query = PassageList {
        limit: 100,
        ascending: true,
        ..PassageList::default()
    };
    let archives = ids(&archives, |a| a.id);
    store.list_passages(&archives, &query).await.unwrap()
}

pub async fn an_import_writes_everything_at_once(store: Arc<dyn Store>) {
    store
        .upsert_tools(vec![tool("stored", "custom")])
        .await
        .unwrap();
    let file = two_agent_file();
    let answer = store.import_agents(file.clone()).await.unwrap();
    let (alice, bob) = (&file.agents[0], &file.agents[1]);
    assert_eq!(
        answer,
        [alice.agent.id, bob.agent.id],
        "ids in the order given"
    );

    let got = store.get_agent(alice.agent.id).await.unwrap();
    assert_eq!(got.name, "alice");
    assert_eq!(got.message_ids, alice.agent.message_ids);
    assert_eq!((got.message_ids_version, got.messages_edited), (0, 0));
    let blocks = store.agent_blocks(alice.agent.id).await.unwrap();
    assert_eq!(
        labels(&blocks),
        ["human", "shared"],
        "blocks in the order given"
    );
    let tools = store.agent_tools(alice.agent.id).await.unwrap();
    assert_eq!(texts(&tools, |t| &t.name), ["lookup", "stored"]);
    let messages = store
        .list_messages(alice.agent.id, &all_messages())
        .await
        .unwrap();
    assert_eq!(
        texts(&messages, |m| &m.text),
        ["compiled", "hi", "hello", "bye"]
    );
    let passages = passages_of(&*store, alice.agent.id).await;
    assert_eq!(texts(&passages, |p| &p.text), ["a1", "a2"]);

    let bob_blocks = store.agent_blocks(bob.agent.id).await.unwrap();
    assert_eq!(labels(&bob_blocks), ["shared", "persona"]);
    let bob_tools = store.agent_tools(bob.agent.id).await.unwrap();
    assert_eq!(ids(&bob_tools, |t| t.id), [tools[1].id]);
    assert!(store.agent_archives(bob.agent.id).await.unwrap().is_empty());
    let agents = store.count_agents(&AgentFilter::default()).await.unwrap();
    assert_eq!(agents, 2);
    let groups = store.managed_groups(alice.agent.id).await.unwrap();
    assert_eq!(groups, file.groups);
}

/// What a refused import must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    agents: u64,
    blocks: u64,
    tools: Vec<Tool>,
    archives: usize,
    outbox: usize,
}

async fn snapshot(store: &dyn Store) -> Snapshot {
    let page = page(1000, Order::Asc);
    Snapshot {
        agents: store.count_agents(&AgentFilter::default()).await.unwrap(),
        blocks: store.count_blocks(&Default::default()).await.unwrap(),
        tools: store.list_tools(&Default::default(), &page).await.unwrap(),
        archives: store
            .list_archives(&ArchiveFilter::default(), &page)
            .await
            .unwrap()
            .len(),
        outbox: store.search_changes(0, 10_000).await.unwrap().len(),
    }
}

/// The two-agent file, replacing the stored tool `stored` with its copy, broken by `breaks`.
fn broken(breaks: impl FnOnce(&mut AgentImport)) -> AgentImport {
    let mut file = two_agent_file();
    file.replace_tools = true;
    let mut copy = tool("stored", "custom");
    copy.description = Some("the file's copy".into());
    file.tools.push(copy);
    breaks(&mut file);
    file
}

/// What kind of answer an import got, to compare refusals in one table.
fn verdict(result: &crate::Result<Vec<AgentId>>) -> &'static str {
    match result {
        Ok(_) => "imported",
        Err(StoreError::Invalid(_)) => "invalid",
        Err(StoreError::Conflict(_)) => "conflict",
        Err(StoreError::NotFound { .. }) => "not found",
        Err(_) => "a database error",
    }
}

pub async fn a_refused_import_writes_nothing(store: Arc<dyn Store>) {
    let stored = agent(&*store, "stored agent").await;
    let stored_tool = store
        .upsert_tools(vec![tool("stored", "custom")])
        .await
        .unwrap();
    let stored_block = store
        .create_block(block("persona", "stored"))
        .await
        .unwrap();
    let before = snapshot(&*store).await;
    let (invalid, conflict, not_found) = ("invalid", "conflict", "not found");
    let refusals: Vec<(&str, &str, AgentImport)> = vec![
        (
            "a block over its limit",
            invalid,
            broken(|f| f.blocks[1].value = "x".repeat(101)),
        ),
        (
            "two labels on an agent",
            conflict,
            broken(|f| {
                let again = block("human", "again");
                f.agents[0].blocks.push(again.id);
                f.blocks.push(again);
            }),
        ),
        (
            "a stored block's label",
            conflict,
            broken(|f| f.agents[1].blocks.push(stored_block.id)),
        ),
        (
            "a stored block id",
            conflict,
            broken(|f| f.blocks[2].id = stored_block.id),
        ),
        (
            "an unknown block",
            not_found,
            broken(|f| f.agents[1].blocks.push(BlockId::new())),
        ),
        (
            "a group of an unknown agent",
            not_found,
            broken(|f| f.groups[0].agent_ids.push(mneme_types::AgentId::new())),
        ),
        (
            "an unknown tool",
            not_found,
            broken(|f| f.agents[1].tools.push("nowhere".into())),
        ),
        (
            "a stored tool id",
            conflict,
            broken(|f| {
                let mut taken = tool("fresh", "custom");
                taken.id = stored_tool[0].id;
                f.tools.push(taken);
            }),
        ),
        (
            "a dangling in-context id",
            invalid,
            broken(|f| {
                f.agents[1].agent.message_ids.push(MessageId::new());
            }),
        ),
        (
            "another agent's message",
            invalid,
            broken(|f| {
                f.agents[1]
                    .messages
                    .push(message(stored.id, Role::User, "stray"));
            }),
        ),
        (
            "no system message first",
            invalid,
            broken(|f| {
                f.agents[1].agent.message_ids.remove(0);
            }),
        ),
        (
            "no context at all",
            invalid,
            broken(|f| f.agents[1].agent.message_ids.clear()),
        ),
        (
            "a passage outside its archive",
            invalid,
            broken(|f| {
                f.agents[1].passages = f.agents[0].passages.clone();
            }),
        ),
        (
            "a stored agent id",
            conflict,
            broken(|f| {
                let bob = &mut f.agents[1];
                bob.agent.id = stored.id;
                bob.messages.iter_mut().for_each(|m| m.agent_id = stored.id);
            }),
        ),
        (
            "a stored message id",
            conflict,
            broken(|f| {
                f.agents[1].messages[1].id = stored.message_ids[0];
                f.agents[1].agent.message_ids[1] = stored.message_ids[0];
            }),
        ),
        (
            "a message id twice",
            conflict,
            broken(|f| {
                let copy = f.agents[0].messages[1].clone();
                f.agents[0].messages.push(copy);
            }),
        ),
    ];
    for (what, expect, file) in refusals {
        let result = store.import_agents(file).await;
        assert_eq!(verdict(&result), expect, "{what}: {result:?}");
        assert_eq!(snapshot(&*store).await, before, "{what} left rows behind");
    }
    assert_eq!(store.agent_ids_of_block(stored_block.id).await.unwrap(), []);
}

/// A file of one agent using the tools `names`, bringing `tools`.
fn tool_file(tools: Vec<Tool>, names: &[&str], replace_tools: bool) -> AgentImport {
    let mut a = imported("tooled", &[]);
    a.tools = names.iter().map(|n| n.to_string()).collect();
    AgentImport {
        tools,
        replace_tools,
        blocks: vec![],
        agents: vec![a],
        mcp_servers: vec![],
        groups: vec![],
        folders: vec![],
    }
}

fn described(name: &str, tool_type: &str, description: &str) -> Tool {
    let mut t = tool(name, tool_type);
    t.description = Some(description.into());
    t
}

pub async fn imported_tools_match_stored_ones_by_name(store: Arc<dyn Store>) {
    let stored = store
        .upsert_tools(vec![
            described("custom_one", "custom", "server's"),
            described("send_message", "letta_core", "built in"),
        ])
        .await
        .unwrap();
    let file_tools = || {
        vec![
            described("custom_one", "custom", "file's"),
            described("send_message", "letta_core", "file's"),
            described("brand_new", "custom", "file's"),
        ]
    };
    let names = ["brand_new", "send_message", "custom_one"];

    let kept = tool_file(file_tools(), &names, false);
    let new_id = kept.tools[2].id;
    let [agent] = store.import_agents(kept).await.unwrap()[..] else {
        panic!("one agent imported")
    };
    let attached = store.agent_tools(agent).await.unwrap();
    assert_eq!(
        ids(&attached, |t| t.id),
        [new_id, stored[1].id, stored[0].id],
        "new names take the file's id, stored ones keep theirs"
    );
    let descriptions = |tools: &[Tool]| texts(tools, |t| t.description.as_deref().unwrap_or(""));
    assert_eq!(descriptions(&attached), ["file's", "built in", "server's"]);

    let replacing = tool_file(file_tools(), &names, true);
    let [again] = store.import_agents(replacing).await.unwrap()[..] else {
        panic!("one agent imported")
    };
    let attached = store.agent_tools(again).await.unwrap();
    assert_eq!(
        ids(&attached, |t| t.id),
        [new_id, stored[1].id, stored[0].id]
    );
    assert_eq!(
        descriptions(&attached),
        ["file's", "built in", "file's"],
        "replaced by the file's copy, but never a built-in tool"
    );
    let by_name = store.tools_by_name(&["custom_one".into()]).await.unwrap();
    assert_eq!(by_name[0].description.as_deref(), Some("file's"));
    assert_eq!(store.count_tools(&Default::default()).await.unwrap(), 3);
    let first = store.agent_tools(agent).await.unwrap();
    assert_eq!(
        ids(&first, |t| t.id),
        ids(&attached, |t| t.id),
        "one row per tool"
    );
}

pub async fn shared_blocks_are_one_row_for_every_agent_holding_them(store: Arc<dyn Store>) {
    let stored = store.create_block(block("org", "stored")).await.unwrap();
    let mut file = two_agent_file();
    store
        .upsert_tools(vec![tool("stored", "custom")])
        .await
        .unwrap();
    file.agents[0].blocks.push(stored.id);
    file.agents[1].blocks.push(stored.id);
    let shared = file.blocks[0].id;
    let agents = store.import_agents(file).await.unwrap();
    let mut holders = store.agent_ids_of_block(shared).await.unwrap();
    holders.sort();
    let mut expected = agents.clone();
    expected.sort();
    assert_eq!(holders, expected);
    assert_eq!(store.agent_ids_of_block(stored.id).await.unwrap().len(), 2);
    assert_eq!(store.count_blocks(&Default::default()).await.unwrap(), 4);

    let edit: crate::BlockEdit = Box::new(|b| {
        b.value = "edited through alice".into();
        Ok(())
    });
    store
        .update_agent_block(agents[0], "shared", edit)
        .await
        .unwrap();
    let bobs = store.agent_blocks(agents[1]).await.unwrap();
    assert_eq!(labels(&bobs), ["shared", "persona", "org"]);
    assert_eq!(bobs[0].value, "edited through alice");
}

pub async fn imported_messages_are_listed_and_in_context_in_order(store: Arc<dyn Store>) {
    let mut a = imported("history", &["one", "two", "three", "four"]);
    // Stored order is the file's, whatever the timestamps say; the context keeps the system
    // message and the last two.
    for (i, m) in a.messages.iter_mut().enumerate() {
        m.created_at = at(100 - i as i64);
    }
    let ids_all = ids(&a.messages, |m| m.id);
    a.agent.message_ids = vec![ids_all[0], ids_all[3], ids_all[4]];
    let file = AgentImport {
        agents: vec![a],
        ..AgentImport::default()
    };
    let [agent] = store.import_agents(file).await.unwrap()[..] else {
        panic!("one agent imported")
    };
    let listed = store.list_messages(agent, &all_messages()).await.unwrap();
    assert_eq!(ids(&listed, |m| m.id), ids_all);
    let newest = MessageQuery {
        limit: 2,
        order: Order::Desc,
        ..MessageQuery::default()
    };
    let newest = store.list_messages(agent, &newest).await.unwrap();
    assert_eq!(texts(&newest, |m| &m.text), ["three", "four"]);
    let thread = store
        .thread_messages(agent, None, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&thread, |m| m.id), ids_all);
    let ctx = store.agent_context(agent).await.unwrap();
    assert_eq!(
        texts(&ctx.messages, |m| &m.text),
        ["compiled", "three", "four"]
    );
    assert_eq!(ctx.messages[0].role, Role::System);
    assert_eq!(ctx.message_count, 5);
    let got = store.get_message(ids_all[2]).await.unwrap();
    assert_eq!((got.role, got.created_at), (Role::Assistant, at(98)));
}

pub async fn imported_passages_are_in_the_agents_own_archive(store: Arc<dyn Store>) {
    let a = with_passages(imported("archivist", &[]), &["p1", "p2", "p3"]);
    let own = a.archive.clone().unwrap();
    let file = AgentImport {
        agents: vec![a],
        ..AgentImport::default()
    };
    let [agent] = store.import_agents(file).await.unwrap()[..] else {
        panic!("one agent imported")
    };
    let archives = store.agent_archives(agent).await.unwrap();
    assert_eq!(ids(&archives, |a| a.id), [own.id]);
    let default = store
        .default_archive(agent, archive("another"))
        .await
        .unwrap();
    assert_eq!(
        default.id, own.id,
        "the imported archive is where inserts go"
    );
    let passages = passages_of(&*store, agent).await;
    assert_eq!(texts(&passages, |p| &p.text), ["p1", "p2", "p3"]);
    assert_eq!(passages[0].tags, ["imported"]);
    store.delete_agent(agent).await.unwrap();
    assert_not_found(store.get_archive(own.id).await);
}

pub async fn imports_are_counted_and_reach_the_outbox(store: Arc<dyn Store>) {
    store
        .upsert_tools(vec![tool("stored", "custom")])
        .await
        .unwrap();
    let file = two_agent_file();
    let own = file.agents[0].archive.clone().unwrap();
    let agents = store.import_agents(file).await.unwrap();
    let alice = store.agent_context(agents[0]).await.unwrap();
    assert_eq!((alice.message_count, alice.passage_count), (4, 2));
    let bob = store.agent_frame(agents[1]).await.unwrap();
    assert_eq!((bob.message_count, bob.passage_count), (2, 0));

    let changes = store.search_changes(0, 1000).await.unwrap();
    let of = |kind: SearchKind, owner: String| {
        changes
            .iter()
            .filter(|c| c.kind == kind && c.owner == owner && !c.removed)
            .count()
    };
    assert_eq!(
        of(SearchKind::Message, agents[0].to_string()),
        3,
        "all but the system message"
    );
    assert_eq!(of(SearchKind::Message, agents[1].to_string()), 1);
    assert_eq!(of(SearchKind::Passage, own.id.to_string()), 2);
    let found = crate::MessageFilter {
        contains: Some("hello".into()),
        ..Default::default()
    };
    let keys = store.message_keys(agents[0], &found).await.unwrap();
    let hits = store.messages_by_keys(&keys).await.unwrap();
    assert_eq!(texts(&hits, |(_, m, _)| &m.text), ["hello"]);
}

pub async fn the_same_file_imported_twice_gives_two_independent_agents(store: Arc<dyn Store>) {
    store
        .upsert_tools(vec![tool("stored", "custom")])
        .await
        .unwrap();
    let file = two_agent_file();
    let first = store.import_agents(file.clone()).await.unwrap();
    assert_conflict(store.import_agents(file).await);
    assert_eq!(
        store.count_agents(&AgentFilter::default()).await.unwrap(),
        2
    );

    let second = store.import_agents(two_agent_file()).await.unwrap();
    assert_eq!(
        store.count_agents(&AgentFilter::default()).await.unwrap(),
        4
    );
    assert_eq!(
        store.count_tools(&Default::default()).await.unwrap(),
        2,
        "tools by name"
    );
    let edit: crate::BlockEdit = Box::new(|b| {
        b.value = "only the first".into();
        Ok(())
    });
    store
        .update_agent_block(first[0], "shared", edit)
        .await
        .unwrap();
    let copy = store.agent_blocks(second[1]).await.unwrap();
    assert_eq!(copy[0].value, "s", "the copy's blocks are its own");
    store.delete_agent(first[0]).await.unwrap();
    let copy = store.agent_context(second[0]).await.unwrap();
    assert_eq!((copy.message_count, copy.passage_count), (4, 2));
    assert_eq!(passages_of(&*store, second[0]).await.len(), 2);
}

pub async fn imported_mcp_servers_are_stored_with_the_rest(store: Arc<dyn Store>) {
    let server = |name: &str| mneme_types::McpServer {
        config: mneme_types::McpServerConfig::Stdio(mneme_types::StdioServerConfig {
            command: "python".into(),
            args: vec!["server.py".into()],
            env: None,
        }),
        id: mneme_types::McpServerId::new(),
        server_name: name.into(),
    };
    let first = server("imported-mcp");
    let file = AgentImport {
        agents: vec![imported("with-mcp", &[])],
        mcp_servers: vec![first.clone()],
        ..AgentImport::default()
    };
    store.import_agents(file).await.unwrap();
    assert_eq!(
        store.mcp_server_by_name("imported-mcp").await.unwrap(),
        first
    );
    // A second server of that name refuses the whole import.
    let agents_before = store
        .list_agents(&Default::default(), &page(100, Order::Asc))
        .await
        .unwrap()
        .len();
    let again = AgentImport {
        agents: vec![imported("with-mcp-2", &[])],
        mcp_servers: vec![server("imported-mcp")],
        ..AgentImport::default()
    };
    assert_conflict(store.import_agents(again).await);
    let agents_after = store
        .list_agents(&Default::default(), &page(100, Order::Asc))
        .await
        .unwrap()
        .len();
    assert_eq!(agents_after, agents_before);
    assert_eq!(store.list_mcp_servers().await.unwrap().len(), 1);
}

/// A folder with one file, its text in `content`, named as an import names it.
fn imported_folder(name: &str) -> crate::ImportedFolder {
    let folder = super::folders::folder(name);
    let mut file = super::folders::file(folder.id, "notes.txt");
    file.file_name = Some(format!("{name}/notes.txt"));
    file.content = Some("hello from the file".into());
    crate::ImportedFolder {
        archive: archive(&format!("folder {name}")),
        files: vec![file],
        folder,
    }
}

pub async fn imported_folders_and_agent_files_are_written_with_the_agents(store: Arc<dyn Store>) {
    let docs = imported_folder("imported-docs");
    let (folder, file) = (docs.folder.id, docs.files[0].clone());
    let mut reader = imported("reader", &[]);
    reader.folders = vec![folder];
    let mut row = super::folders::agent_file(&file, true);
    row.start_line = Some(1);
    row.end_line = Some(2);
    reader.files = vec![row.clone()];
    let file_import = AgentImport {
        agents: vec![reader],
        folders: vec![docs],
        ..AgentImport::default()
    };
    let [agent] = store.import_agents(file_import).await.unwrap()[..] else {
        panic!("one agent imported")
    };
    let stored = store.get_file(folder, file.id, true).await.unwrap();
    assert_eq!(stored.content.as_deref(), Some("hello from the file"));
    assert_eq!(stored.file_name.as_deref(), Some("imported-docs/notes.txt"));
    let held = store.agent_files(agent).await.unwrap();
    assert_eq!(ids(&held.directories, |d| d.id), [folder]);
    let [got] = &held.files[..] else {
        panic!("one agent file: {:?}", held.files)
    };
    assert_eq!(got.file_name, "imported-docs/notes.txt");
    assert_eq!(
        (
            got.is_open,
            &got.visible_content,
            got.start_line,
            got.end_line
        ),
        (true, &row.visible_content, Some(1), Some(2))
    );

    // A folder whose name is taken refuses the whole import.
    let agents_before = store.count_agents(&AgentFilter::default()).await.unwrap();
    let again = AgentImport {
        agents: vec![imported("reader-2", &[])],
        folders: vec![imported_folder("imported-docs")],
        ..AgentImport::default()
    };
    assert_conflict(store.import_agents(again).await);
    assert_eq!(
        store.count_agents(&AgentFilter::default()).await.unwrap(),
        agents_before
    );
    assert_eq!(store.count_folders().await.unwrap(), 1);
}

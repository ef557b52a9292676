//! A large Agent File import on SQLite: 100,000 messages in one `import_agents` call, in one
//! transaction, in reasonable time (the figure is printed for the closing note).

use std::time::{Duration, Instant};

use mneme_store::conformance::{message, new_agent};
use mneme_store::{AgentImport, AgentStore, ImportedAgent, MessageStore, Role, SearchStore};
use mneme_store_sqlite::{Durability, SqliteStore};

const MESSAGES: usize = 100_000;

/// A history of about 50 MB, as the large file: each message some 500 characters.
fn large_agent() -> ImportedAgent {
    let new = new_agent("large", vec![]);
    let mut agent = new.agent;
    let mut messages = new.messages;
    messages.reserve(MESSAGES);
    let filler = "lorem ipsum dolor sit amet ".repeat(18);
    for i in 0..MESSAGES {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        messages.push(message(agent.id, role, &format!("{i}: {filler}")));
    }
    // The system message and the newest 50 in context, as a compacted agent would have.
    agent.message_ids = std::iter::once(messages[0].id)
        .chain(messages[messages.len() - 50..].iter().map(|m| m.id))
        .collect();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_messages_import_in_one_call() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Full)
        .unwrap_or_else(|e| panic!("opening the database: {e}"));
    let agent = large_agent();
    let (id, last) = (agent.agent.id, agent.messages[MESSAGES].id);
    let import = AgentImport {
        agents: vec![agent],
        ..AgentImport::default()
    };

    let started = Instant::now();
    let imported = store.import_agents(import).await;
    let took = started.elapsed();
    assert_eq!(imported.ok(), Some(vec![id]));
    eprintln!("imported {MESSAGES} messages in {took:?}");

    let ctx = store
        .agent_context(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ctx.message_count, MESSAGES as u64 + 1);
    assert_eq!(ctx.messages.len(), 51);
    assert_eq!(ctx.messages.last().map(|m| m.id), Some(last));
    let newest = store
        .get_message(last)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(newest.text.starts_with("99999: "), "{}", newest.text);
    let queued = store
        .search_changes(0, 200_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        queued.len(),
        MESSAGES,
        "every non-system message is queued for search"
    );
    // Generous for an unoptimised build on a shared machine; a per-row quadratic cost would
    // take hours, not minutes.
    assert!(took < Duration::from_secs(120), "took {took:?}");
}

//! `AgentStore`: the blocks an agent holds, and everything its system prompt is compiled from.

use std::sync::Arc;

use mneme_types::{AgentId, Block, BlockId, MessageId};

use super::fixtures::*;
use crate::{Agent, AgentEdit, Role, Store};

fn edit(f: impl FnOnce(&mut Agent) + Send + 'static) -> AgentEdit {
    Box::new(move |a| {
        f(a);
        Ok(())
    })
}

pub(super) fn labels(blocks: &[Block]) -> Vec<String> {
    blocks.iter().filter_map(|b| b.label.clone()).collect()
}

async fn block_labels(store: &dyn Store, agent: AgentId) -> Vec<String> {
    labels(&store.agent_blocks(agent).await.unwrap())
}

pub async fn update_agent_replaces_blocks_in_order(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h"), block("persona", "p")]);
    let a = store.create_agent(new).await.unwrap();
    let old = store.agent_blocks(a.id).await.unwrap();
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    let replace = Some(vec![shared.id, old[0].id]);
    store
        .update_agent(a.id, edit(|_| {}), replace)
        .await
        .unwrap();
    let now = store.agent_blocks(a.id).await.unwrap();
    assert_eq!(labels(&now), ["shared", "human"]);
    store.get_block(old[1].id).await.unwrap();
    assert!(
        store
            .agent_ids_of_block(old[1].id)
            .await
            .unwrap()
            .is_empty()
    );

    store.update_agent(a.id, edit(|_| {}), None).await.unwrap();
    assert_eq!(
        labels(&store.agent_blocks(a.id).await.unwrap()),
        ["shared", "human"]
    );

    let twin = store.create_block(block("human", "other")).await.unwrap();
    let clash = Some(vec![old[0].id, twin.id]);
    assert_conflict(store.update_agent(a.id, edit(|_| {}), clash).await);
    assert_eq!(
        labels(&store.agent_blocks(a.id).await.unwrap()),
        ["shared", "human"]
    );

    store
        .update_agent(a.id, edit(|_| {}), Some(vec![]))
        .await
        .unwrap();
    assert!(store.agent_blocks(a.id).await.unwrap().is_empty());
}

pub async fn attached_blocks_keep_order_and_unique_labels(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h"), block("persona", "p")]);
    let a = store.create_agent(new).await.unwrap();
    let persona = store.agent_blocks(a.id).await.unwrap().remove(1);
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    store.attach_block(a.id, shared.id).await.unwrap();
    store.attach_block(a.id, shared.id).await.unwrap();
    let blocks = || block_labels(&*store, a.id);
    assert_eq!(blocks().await, ["human", "persona", "shared"]);
    let twin = store.create_block(block("human", "other")).await.unwrap();
    assert_conflict(store.attach_block(a.id, twin.id).await);
    assert_eq!(blocks().await, ["human", "persona", "shared"]);

    store.detach_block(a.id, persona.id).await.unwrap();
    assert_eq!(blocks().await, ["human", "shared"]);
    assert_not_found(store.detach_block(a.id, persona.id).await);
    store.attach_block(a.id, persona.id).await.unwrap();
    assert_eq!(
        blocks().await,
        ["human", "shared", "persona"],
        "attached at the end"
    );
    assert_not_found(store.attach_block(a.id, BlockId::new()).await);
    assert_not_found(store.detach_block(a.id, BlockId::new()).await);
    assert_eq!(store.get_agent(a.id).await.unwrap().tags, ["t"]);
}

pub async fn blocks_of_agents_answers_each_agent_in_order(store: Arc<dyn Store>) {
    let one = store
        .create_agent(new_agent("one", vec![block("x", "1"), block("y", "2")]))
        .await
        .unwrap();
    let two = store
        .create_agent(new_agent("two", vec![block("z", "3")]))
        .await
        .unwrap();
    let unknown = AgentId::new();
    let got = store
        .blocks_of_agents(&[two.id, unknown, one.id])
        .await
        .unwrap();
    let got: Vec<_> = got.iter().map(|(a, b)| (*a, labels(b))).collect();
    let expected = vec![
        (two.id, vec!["z".to_owned()]),
        (unknown, vec![]),
        (one.id, vec!["x".to_owned(), "y".to_owned()]),
    ];
    assert_eq!(got, expected);
    assert!(store.blocks_of_agents(&[]).await.unwrap().is_empty());
}

pub async fn agent_context_holds_what_a_prompt_is_compiled_from(store: Arc<dyn Store>) {
    let a = store
        .create_agent(new_agent("a", vec![block("human", "h")]))
        .await
        .unwrap();
    let t = store
        .upsert_tools(vec![tool("t", "custom")])
        .await
        .unwrap()
        .remove(0);
    store.attach_tool(a.id, t.id).await.unwrap();
    let (m1, m2) = (
        message(a.id, Role::User, "1"),
        message(a.id, Role::Assistant, "2"),
    );
    append(&*store, a.id, vec![m1.clone(), m2.clone()]).await;
    let ctx = store.agent_context(a.id).await.unwrap();
    assert_eq!(ctx.agent.id, a.id);
    assert_eq!(labels(&ctx.blocks), ["human"]);
    assert_eq!(ids(&ctx.tools, |t| t.id), [t.id]);
    let system = a.message_ids[0];
    assert_eq!(ids(&ctx.messages, |m| m.id), [system, m1.id, m2.id]);
    assert_eq!(ctx.message_count, 3);

    let order = vec![system, m2.id, m1.id, MessageId::new()];
    store
        .update_agent(a.id, edit(move |a| a.message_ids = order), None)
        .await
        .unwrap();
    let ctx = store.agent_context(a.id).await.unwrap();
    assert_eq!(
        ids(&ctx.messages, |m| m.id),
        [system, m2.id, m1.id],
        "in id order"
    );
    store
        .update_agent(a.id, edit(move |a| a.message_ids = vec![system]), None)
        .await
        .unwrap();
    let ctx = store.agent_context(a.id).await.unwrap();
    assert_eq!(
        (ctx.messages.len(), ctx.message_count),
        (1, 3),
        "out of context, stored"
    );

    let own = store.default_archive(a.id, archive("own")).await.unwrap();
    let other = store.create_archive(archive("other"), None).await.unwrap();
    let texts = [(own.id, "a"), (own.id, "b"), (other.id, "c")];
    let passages = texts
        .iter()
        .map(|(ar, t)| passage(*ar, t, &[], None))
        .collect();
    store.insert_passages(passages).await.unwrap();
    assert_eq!(store.agent_context(a.id).await.unwrap().passage_count, 2);
    store.attach_archive(a.id, other.id).await.unwrap();
    assert_eq!(store.agent_context(a.id).await.unwrap().passage_count, 3);
}

pub async fn agent_frame_is_the_context_without_its_messages(store: Arc<dyn Store>) {
    let a = store
        .create_agent(new_agent("a", vec![block("human", "h")]))
        .await
        .unwrap();
    append(&*store, a.id, vec![message(a.id, Role::User, "1")]).await;
    let frame = store.agent_frame(a.id).await.unwrap();
    let ctx = store.agent_context(a.id).await.unwrap();
    assert_eq!(frame.agent.id, ctx.agent.id);
    assert_eq!(frame.agent.message_ids, ctx.agent.message_ids);
    assert_eq!(
        frame.agent.message_ids_version,
        ctx.agent.message_ids_version
    );
    assert_eq!(frame.blocks, ctx.blocks);
    assert_eq!(frame.tools, ctx.tools);
    assert_eq!(
        (frame.message_count, frame.passage_count),
        (ctx.message_count, ctx.passage_count)
    );
    let rebuilt = frame.with_messages(ctx.messages.clone());
    assert_eq!(rebuilt.messages, ctx.messages);
    assert!(matches!(
        store.agent_frame(AgentId::new()).await,
        Err(crate::StoreError::NotFound { .. })
    ));
}

/// The counts of an agent's context, read as a step reads them.
async fn counts(store: &dyn Store, agent: AgentId) -> (u64, u64) {
    let ctx = store.agent_context(agent).await.unwrap();
    (ctx.message_count, ctx.passage_count)
}

pub async fn message_count_follows_every_write_of_messages(store: Arc<dyn Store>) {
    let mut new = new_agent("a", vec![]);
    new.messages
        .push(message(new.agent.id, Role::User, "out of context"));
    let a = store.create_agent(new).await.unwrap();
    let b = agent(&*store, "b").await;
    assert_eq!(
        counts(&*store, a.id).await,
        (2, 0),
        "created with the agent"
    );

    let step = vec![
        message(a.id, Role::User, "1"),
        message(a.id, Role::Assistant, "2"),
    ];
    append(&*store, a.id, step).await;
    append(&*store, b.id, vec![message(b.id, Role::User, "b")]).await;
    assert_eq!(
        counts(&*store, a.id).await,
        (4, 0),
        "a step's, only its own"
    );
    assert_eq!(counts(&*store, b.id).await, (2, 0));

    let run = run_for(&*store, a.id).await;
    let current = store.get_agent(a.id).await.unwrap();
    let mut stale = commit(&current, run, vec![message(a.id, Role::User, "3")]);
    stale.message_ids_version += 1;
    assert_conflict(store.commit_step(stale).await);
    assert_eq!(
        counts(&*store, a.id).await,
        (4, 0),
        "a refused step adds none"
    );

    let fresh = vec![message(a.id, Role::User, "fresh")];
    store.reset_messages(a.id, fresh).await.unwrap();
    assert_eq!(
        counts(&*store, a.id).await,
        (2, 0),
        "the system message and the new one"
    );
    assert_eq!(counts(&*store, b.id).await, (2, 0));
}

pub async fn passage_count_follows_every_write_of_passages(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let b = agent(&*store, "b").await;
    let own = store.default_archive(a.id, archive("own")).await.unwrap();
    let run = run_for(&*store, a.id).await;
    let mut step = commit(&a, run, vec![message(a.id, Role::User, "remember")]);
    let kept = passage(own.id, "p1", &[], None);
    step.passages = vec![kept.clone(), passage(own.id, "p2", &[], None)];
    store.commit_step(step).await.unwrap();
    assert_eq!(counts(&*store, a.id).await, (2, 2), "a step's passages");

    let shared = store.create_archive(archive("shared"), None).await.unwrap();
    let texts = ["s1", "s2", "s3"];
    let passages = texts.iter().map(|t| passage(shared.id, t, &[], None));
    store.insert_passages(passages.collect()).await.unwrap();
    store.attach_archive(a.id, shared.id).await.unwrap();
    store.attach_archive(b.id, shared.id).await.unwrap();
    assert_eq!(counts(&*store, a.id).await.1, 5, "every attached archive's");
    assert_eq!(counts(&*store, b.id).await.1, 3);

    store.delete_passage(&[own.id], kept.id).await.unwrap();
    assert_eq!(counts(&*store, a.id).await.1, 4, "a deleted passage");
    store.detach_archive(b.id, shared.id).await.unwrap();
    assert_eq!(counts(&*store, b.id).await.1, 0, "a detached archive");
    assert_eq!(counts(&*store, a.id).await.1, 4);

    // b's own archive, also read by a, outlives b with its passages.
    let theirs = store.default_archive(b.id, archive("b's")).await.unwrap();
    let passages = vec![passage(theirs.id, "t", &[], None)];
    store.insert_passages(passages).await.unwrap();
    store.attach_archive(a.id, theirs.id).await.unwrap();
    store.delete_agent(b.id).await.unwrap();
    assert_eq!(
        counts(&*store, a.id).await.1,
        5,
        "an archive kept by its other agent"
    );
    store.delete_archive(own.id).await.unwrap();
    assert_eq!(
        counts(&*store, a.id).await.1,
        4,
        "a deleted archive's passages"
    );
}

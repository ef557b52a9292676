//! `MessageStore`: messages of any role, listed by storage sequence.

use std::sync::Arc;

use mneme_types::{AgentId, MessageId, RunId, StepId};
use serde_json::json;

use super::fixtures::*;
use crate::{
    BlockChange, CompactionCommit, HistoryAppend, Message, MessageEdit, MessageQuery, Order,
    ReasoningRecord, Role, Store, ToolCallRecord, ToolReturnRecord,
};

fn query(limit: u32, order: Order) -> MessageQuery {
    MessageQuery {
        limit,
        order,
        ..MessageQuery::default()
    }
}

async fn listed(store: &dyn Store, agent: AgentId, q: &MessageQuery) -> Vec<MessageId> {
    ids(&store.list_messages(agent, q).await.unwrap(), |m| m.id)
}

fn edit(f: impl FnOnce(&mut Message) + Send + 'static) -> MessageEdit {
    Box::new(move |m| {
        f(m);
        Ok(())
    })
}

pub async fn messages_round_trip_every_field(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut call = message(a.id, Role::Assistant, "thinking");
    call.reasoning = vec![
        ReasoningRecord::Reasoning {
            text: "because".into(),
            signature: Some("sig".into()),
        },
        ReasoningRecord::Redacted {
            data: "opaque".into(),
        },
    ];
    call.model = Some("claude-sonnet-4-5".into());
    call.tool_calls = vec![ToolCallRecord {
        id: "call-1".into(),
        name: "search".into(),
        arguments: r#"{"q": "x"}"#.into(),
    }];
    call.step_id = Some(StepId::new());
    call.run_id = Some(RunId::new());
    call.otid = Some("otid".into());
    let mut ret = message(a.id, Role::Tool, "packed");
    ret.tool_call_id = Some("call-1".into());
    ret.tool_returns = vec![ToolReturnRecord {
        tool_call_id: "call-1".into(),
        status: "error".into(),
        func_response: "boom".into(),
        stdout: Some(vec!["out".into()]),
        stderr: None,
        content: Some(serde_json::json!([
            {"type": "text", "text": "boom"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        ])),
    }];
    ret.is_err = true;
    ret.name = Some("search".into());
    let mut input = message(a.id, Role::User, "look");
    input.content = Some(json!([{"type": "text", "text": "look"}, {"type": "image"}]));
    input.sender_id = Some("sender".into());
    input.group_id = Some("group".into());
    let all = vec![input, call, ret];
    append(&*store, a.id, all.clone()).await;
    for m in &all {
        assert_eq!(&store.get_message(m.id).await.unwrap(), m);
    }
    let listed = store
        .list_messages(a.id, &query(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(listed[1..], all[..]);
    assert_not_found(store.get_message(MessageId::new()).await);
}

pub async fn set_message_text_rewrites_in_place(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let system = a.message_ids[0];
    let later = message(a.id, Role::User, "later");
    append(&*store, a.id, vec![later.clone()]).await;
    let before = store.get_message(system).await.unwrap();
    store
        .set_message_text(system, "recompiled".into())
        .await
        .unwrap();
    store
        .set_message_text(later.id, "edited".into())
        .await
        .unwrap();
    let after = store.get_message(system).await.unwrap();
    assert_eq!(after.text, "recompiled");
    assert_eq!(
        (after.created_at, after.role),
        (before.created_at, Role::System)
    );
    let listed = store
        .list_messages(a.id, &query(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&listed, |m| m.text.clone()), ["recompiled", "edited"]);
    assert_not_found(store.set_message_text(MessageId::new(), "x".into()).await);
}

pub async fn update_message_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let m = message(a.id, Role::User, "v1");
    append(&*store, a.id, vec![m.clone()]).await;
    let (other_id, other_agent) = (MessageId::new(), AgentId::new());
    let updated = store
        .update_message(
            m.id,
            edit(move |m| {
                m.text = "v2".into();
                m.is_err = true;
                m.id = other_id;
                m.agent_id = other_agent;
                m.created_at = at(0);
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.id, updated.agent_id),
        (m.id, a.id),
        "id and agent stay"
    );
    assert_eq!(updated.created_at, m.created_at);
    assert!(updated.updated_at >= m.updated_at);
    assert_eq!(store.get_message(m.id).await.unwrap(), updated);
    assert_eq!((updated.text.as_str(), updated.is_err), ("v2", true));
    assert_not_found(store.get_message(other_id).await);
    let refused_edit: MessageEdit = Box::new(|m| {
        m.text = "v3".into();
        Err(refused())
    });
    assert_invalid(store.update_message(m.id, refused_edit).await);
    assert_eq!(store.get_message(m.id).await.unwrap().text, "v2");
    assert_not_found(store.update_message(MessageId::new(), edit(|_| {})).await);
}

pub async fn message_pages_follow_storage_order_not_timestamps(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    // Stored in this order, stamped in the reverse one: cursors compare the storage sequence.
    let m: Vec<Message> = (0..4)
        .map(|i| {
            let mut m = message(a.id, Role::User, &format!("m{i}"));
            m.created_at = at(40 - i * 10);
            m
        })
        .collect();
    append(&*store, a.id, m.clone()).await;
    let (s, m) = (a.message_ids[0], ids(&m, |m| m.id));
    let all = listed(&*store, a.id, &query(10, Order::Asc)).await;
    assert_eq!(all, [s, m[0], m[1], m[2], m[3]]);
    assert_eq!(
        listed(&*store, a.id, &query(2, Order::Asc)).await,
        [s, m[0]]
    );
    let newest = listed(&*store, a.id, &query(2, Order::Desc)).await;
    assert_eq!(newest, [m[2], m[3]], "the newest page, oldest first");
    let q = |after: Option<MessageId>, before: Option<MessageId>, limit, order| MessageQuery {
        after,
        before,
        ..query(limit, order)
    };
    let after = q(Some(m[0]), None, 10, Order::Asc);
    assert_eq!(listed(&*store, a.id, &after).await, [m[1], m[2], m[3]]);
    let before = q(None, Some(m[2]), 10, Order::Asc);
    assert_eq!(listed(&*store, a.id, &before).await, [s, m[0], m[1]]);
    let before_desc = q(None, Some(m[3]), 2, Order::Desc);
    assert_eq!(listed(&*store, a.id, &before_desc).await, [m[1], m[2]]);
    let after_desc = q(Some(m[1]), None, 10, Order::Desc);
    assert_eq!(listed(&*store, a.id, &after_desc).await, [m[2], m[3]]);
    let between = q(Some(m[0]), Some(m[3]), 10, Order::Asc);
    assert_eq!(listed(&*store, a.id, &between).await, [m[1], m[2]]);
}

pub async fn message_pages_filter_by_run_and_refuse_unknown_cursors(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let other = agent(&*store, "other").await;
    let (run1, run2) = (RunId::new(), RunId::new());
    let in_run = |run, text: &str| {
        let mut m = message(a.id, Role::User, text);
        m.run_id = Some(run);
        m
    };
    let (one, two) = (in_run(run1, "1"), in_run(run2, "2"));
    append(&*store, a.id, vec![one.clone()]).await;
    append(&*store, a.id, vec![two.clone(), in_run(run1, "3")]).await;
    append(&*store, other.id, vec![message(other.id, Role::User, "x")]).await;
    let q = MessageQuery {
        run_id: Some(run1),
        ..query(10, Order::Asc)
    };
    let texts = store.list_messages(a.id, &q).await.unwrap();
    assert_eq!(ids(&texts, |m| m.text.clone()), ["1", "3"]);
    assert_eq!(listed(&*store, a.id, &query(10, Order::Asc)).await.len(), 4);
    for unknown in [
        MessageQuery {
            after: Some(MessageId::new()),
            ..query(10, Order::Asc)
        },
        MessageQuery {
            before: Some(MessageId::new()),
            ..query(10, Order::Asc)
        },
    ] {
        assert_not_found(store.list_messages(a.id, &unknown).await);
    }
    assert_not_found(
        store
            .list_messages(AgentId::new(), &query(10, Order::Asc))
            .await,
    );
}

pub async fn run_messages_page_in_storage_order(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = RunId::new();
    let m: Vec<Message> = (0..4)
        .map(|i| {
            let mut m = message(a.id, Role::Assistant, &format!("m{i}"));
            m.run_id = Some(run);
            m.created_at = at(40 - i);
            m
        })
        .collect();
    append(&*store, a.id, m[..2].to_vec()).await;
    append(
        &*store,
        a.id,
        vec![message(a.id, Role::User, "not in the run")],
    )
    .await;
    append(&*store, a.id, m[2..].to_vec()).await;
    let m = ids(&m, |m| m.id);
    let of = |page: crate::Page| {
        let store = store.clone();
        async move { ids(&store.run_messages(run, &page).await.unwrap(), |m| m.id) }
    };
    assert_eq!(of(page(10, Order::Asc)).await, m);
    assert_eq!(of(page(2, Order::Asc)).await, m[..2]);
    assert_eq!(of(cursor(page(10, Order::Asc), m[1], true)).await, m[2..]);
    assert_eq!(of(cursor(page(10, Order::Asc), m[2], false)).await, m[..2]);
    assert_eq!(
        of(page(3, Order::Desc)).await,
        [m[3], m[2], m[1]],
        "newest first"
    );
    assert_eq!(
        of(cursor(page(10, Order::Desc), m[2], true)).await,
        [m[1], m[0]]
    );
    assert!(of(page(10, Order::Asc)).await.len() == 4);
    let unknown = cursor(page(10, Order::Asc), MessageId::new(), true);
    assert_not_found(store.run_messages(run, &unknown).await);
    assert!(
        store
            .run_messages(RunId::new(), &page(10, Order::Asc))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn reset_keeps_only_the_system_message(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let old = message(a.id, Role::User, "old");
    let before = append(&*store, a.id, vec![old.clone()]).await;
    let fresh = message(a.id, Role::User, "fresh");
    let reset = store
        .reset_messages(a.id, vec![fresh.clone()])
        .await
        .unwrap();
    let system = a.message_ids[0];
    assert_eq!(reset.message_ids, [system, fresh.id]);
    assert_eq!(reset.message_ids_version, before.message_ids_version + 1);
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, reset.message_ids);
    assert_eq!(got.message_ids_version, reset.message_ids_version);
    assert_eq!(
        listed(&*store, a.id, &query(10, Order::Asc)).await,
        [system, fresh.id]
    );
    assert_not_found(store.get_message(old.id).await);
    let empty = store.reset_messages(a.id, vec![]).await.unwrap();
    assert_eq!(empty.message_ids, [system]);
    assert_eq!(store.agent_context(a.id).await.unwrap().message_count, 1);
    assert_not_found(store.reset_messages(AgentId::new(), vec![]).await);
}

pub async fn messages_by_ids_answer_in_the_order_asked(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let (m1, m2) = (
        message(a.id, Role::User, "1"),
        message(a.id, Role::Assistant, "2"),
    );
    append(&*store, a.id, vec![m1.clone(), m2.clone()]).await;
    let got = store
        .messages_by_ids(&[m2.id, MessageId::new(), m1.id])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![m2, m1],
        "in the order asked, unknown ids left out"
    );
    assert!(store.messages_by_ids(&[]).await.unwrap().is_empty());
}

pub async fn message_edits_bump_messages_edited(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let b = agent(&*store, "b").await;
    assert_eq!(a.messages_edited, 0);
    let m = message(a.id, Role::User, "1");
    append(&*store, a.id, vec![m.clone()]).await;
    let after_step = store.get_agent(a.id).await.unwrap();
    assert_eq!(after_step.messages_edited, 0, "a step is no edit");
    store
        .update_message(m.id, edit(|m| m.text = "one".into()))
        .await
        .unwrap();
    store
        .set_message_text(a.message_ids[0], "system".into())
        .await
        .unwrap();
    let edited = store.get_agent(a.id).await.unwrap();
    assert_eq!(edited.messages_edited, 2);
    assert_eq!(edited.message_ids_version, after_step.message_ids_version);
    assert_eq!(store.get_agent(b.id).await.unwrap().messages_edited, 0);
    let refused = store
        .update_message(
            m.id,
            Box::new(|_| Err(crate::StoreError::Invalid("no".into()))),
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(store.get_agent(a.id).await.unwrap().messages_edited, 2);
}

pub async fn a_compaction_replaces_the_context_and_keeps_what_left_it(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let old = message(a.id, Role::User, "old");
    let kept = message(a.id, Role::Assistant, "kept");
    let before = append(&*store, a.id, vec![old.clone(), kept.clone()]).await;
    let system = a.message_ids[0];
    let system_text = store.get_message(system).await.unwrap().text;
    let summary = message(a.id, Role::Summary, "summary of old");
    let compaction = |version: u64| CompactionCommit {
        conversation_id: None,
        agent_id: a.id,
        summary: summary.clone(),
        message_ids: vec![system, summary.id, kept.id],
        message_ids_version: version,
        system_text: Some((system, "recompiled".into())),
        created_at: at(100),
    };
    // A context changed since it was read refuses the whole compaction.
    assert_conflict(
        store
            .compact_context(compaction(before.message_ids_version + 1))
            .await,
    );
    assert_not_found(store.get_message(summary.id).await);
    assert_eq!(store.get_message(system).await.unwrap().text, system_text);
    assert_eq!(
        store.get_agent(a.id).await.unwrap().message_ids,
        before.message_ids
    );
    store
        .compact_context(compaction(before.message_ids_version))
        .await
        .unwrap();
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, [system, summary.id, kept.id]);
    assert_eq!(got.message_ids_version, before.message_ids_version + 1);
    assert_eq!(store.get_message(system).await.unwrap().text, "recompiled");
    assert_eq!(
        store.get_message(summary.id).await.unwrap().role,
        Role::Summary
    );
    // What left the context is still stored and listed, in storage order.
    assert_eq!(
        listed(&*store, a.id, &query(10, Order::Asc)).await,
        [system, old.id, kept.id, summary.id]
    );
    let ctx = store.agent_context(a.id).await.unwrap();
    assert_eq!((ctx.message_count, ctx.messages.len()), (4, 3));
    let mut unknown = compaction(0);
    unknown.agent_id = AgentId::new();
    unknown.summary = message(unknown.agent_id, Role::Summary, "s");
    assert_not_found(store.compact_context(unknown).await);
}

pub async fn a_compaction_in_a_conversation_writes_its_context(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    append(&*store, a.id, vec![message(a.id, Role::User, "d0")]).await;
    let a = append(&*store, a.id, vec![message(a.id, Role::User, "d1")]).await;
    let c = conversation(&*store, a.id).await;
    let old = message(a.id, Role::User, "old");
    let kept = message(a.id, Role::Assistant, "kept");
    let c = say(&*store, c.id, vec![old.clone(), kept.clone()]).await;
    let system = c.message_ids[0];
    let summary = message(a.id, Role::Summary, "summary of old");
    let compaction = |version: u64| CompactionCommit {
        conversation_id: Some(c.id),
        agent_id: a.id,
        summary: summary.clone(),
        message_ids: vec![system, summary.id, kept.id],
        message_ids_version: version,
        system_text: Some((system, "recompiled".into())),
        created_at: at(100),
    };
    // The conversation's version counts, not the agent's.
    assert_ne!(c.message_ids_version, a.message_ids_version);
    assert_conflict(
        store
            .compact_context(compaction(a.message_ids_version))
            .await,
    );
    assert_not_found(store.get_message(summary.id).await);
    assert_eq!(store.get_conversation(c.id).await.unwrap(), c);
    store
        .compact_context(compaction(c.message_ids_version))
        .await
        .unwrap();
    let got = store.get_conversation(c.id).await.unwrap();
    assert_eq!(got.message_ids, [system, summary.id, kept.id]);
    assert_eq!(got.message_ids_version, c.message_ids_version + 1);
    assert_eq!(store.get_message(system).await.unwrap().text, "recompiled");
    let agent_after = store.get_agent(a.id).await.unwrap();
    assert_eq!(
        (agent_after.message_ids, agent_after.message_ids_version),
        (a.message_ids.clone(), a.message_ids_version)
    );
    // The summary is the conversation's; the default thread never sees it.
    let in_c = MessageQuery {
        conversation: Some(c.id),
        ..query(10, Order::Asc)
    };
    let listed_c = listed(&*store, a.id, &in_c).await;
    assert_eq!(listed_c, [system, old.id, kept.id, summary.id]);
    let default = listed(&*store, a.id, &query(10, Order::Asc)).await;
    assert_eq!(default, a.message_ids);
    let mut unknown = compaction(got.message_ids_version);
    unknown.conversation_id = Some(mneme_types::ConversationId::new());
    unknown.summary = message(a.id, Role::Summary, "lost");
    let lost = unknown.summary.id;
    assert_not_found(store.compact_context(unknown).await);
    assert_not_found(store.get_message(lost).await);
}

pub async fn reset_leaves_conversations_alone(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let system = a.message_ids[0];
    let (d0, d1) = (
        message(a.id, Role::User, "d0"),
        message(a.id, Role::User, "d1"),
    );
    append(&*store, a.id, vec![d0.clone(), d1.clone()]).await;
    let c = conversation(&*store, a.id).await;
    let c0 = message(a.id, Role::User, "c0");
    let c = say(&*store, c.id, vec![c0.clone()]).await;
    // A fork of the default thread: what it took over stays for it.
    let fork = new_conversation(a.id, vec![], vec![d0.id]);
    let f = store.create_conversation(fork).await.unwrap();
    let fresh = message(a.id, Role::User, "fresh");
    store
        .reset_messages(a.id, vec![fresh.clone()])
        .await
        .unwrap();
    let default = listed(&*store, a.id, &query(10, Order::Asc)).await;
    assert_eq!(
        default,
        [system, fresh.id],
        "the default thread holds only these"
    );
    let thread = store
        .thread_messages(a.id, None, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&thread, |m| m.id), [system, fresh.id]);
    assert_not_found(store.get_message(d1.id).await);
    assert_eq!(store.get_conversation(c.id).await.unwrap(), c);
    assert_eq!(store.get_conversation(f.id).await.unwrap(), f);
    let in_c = MessageQuery {
        conversation: Some(c.id),
        ..query(10, Order::Asc)
    };
    assert_eq!(
        listed(&*store, a.id, &in_c).await,
        [c.message_ids[0], c0.id]
    );
    let of_fork = store
        .thread_messages(a.id, Some(f.id), &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&of_fork, |m| m.id), [f.message_ids[0], d0.id]);
}

pub async fn all_messages_page_every_agent_in_storage_order(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let run = run_for(&*store, a.id).await;
    let ma = message(a.id, Role::User, "to a");
    store
        .commit_step(commit(&a, run, vec![ma.clone()]))
        .await
        .unwrap();
    let run = run_for(&*store, b.id).await;
    let mb = message(b.id, Role::User, "to b");
    store
        .commit_step(commit(&b, run, vec![mb.clone()]))
        .await
        .unwrap();
    let all = |q: MessageQuery| {
        let store = store.clone();
        async move { ids(&store.all_messages(&q).await.unwrap(), |m| m.id) }
    };
    let expected = [a.message_ids[0], b.message_ids[0], ma.id, mb.id];
    assert_eq!(all(query(10, Order::Asc)).await, expected);
    // `Desc` takes the newest and answers them oldest first, as agent listings do.
    assert_eq!(all(query(2, Order::Desc)).await, [ma.id, mb.id]);
    let after = MessageQuery {
        after: Some(b.message_ids[0]),
        ..query(10, Order::Asc)
    };
    assert_eq!(all(after).await, [ma.id, mb.id]);
    let before = MessageQuery {
        before: Some(mb.id),
        ..query(1, Order::Desc)
    };
    assert_eq!(all(before).await, [ma.id]);
}

pub async fn a_history_append_writes_messages_blocks_and_passages_at_once(store: Arc<dyn Store>) {
    let created = store
        .create_agent(new_agent("a", vec![block("human", "old value")]))
        .await
        .unwrap();
    let a = store.get_agent(created.id).await.unwrap();
    let human = store.agent_blocks(a.id).await.unwrap().remove(0);
    let archive = store
        .create_archive(archive("a's"), Some(a.id))
        .await
        .unwrap();
    let (user, reply) = (
        message(a.id, Role::User, "new question"),
        message(a.id, Role::Assistant, "new answer"),
    );
    let p = passage(archive.id, "a new fact", &["t"], None);
    let append = |version: u64, expected: &str| HistoryAppend {
        agent_id: a.id,
        messages: vec![user.clone(), reply.clone()],
        message_ids: vec![a.message_ids[0], reply.id],
        message_ids_version: version,
        block_changes: vec![BlockChange::Update {
            expected: expected.into(),
            block: mneme_types::Block {
                value: "new value".into(),
                ..human.clone()
            },
        }],
        passages: vec![p.clone()],
        system_text: Some((a.message_ids[0], "as the source has it".into())),
        created_at: at(200),
    };
    let passages = |store: Arc<dyn Store>| async move {
        let q = crate::PassageList {
            limit: 10,
            ascending: true,
            ..Default::default()
        };
        ids(
            &store.list_passages(&[archive.id], &q).await.unwrap(),
            |p| p.id,
        )
    };
    // A stale context, or a block changed since it was read, writes nothing.
    assert_conflict(
        store
            .append_history(append(a.message_ids_version + 1, "old value"))
            .await,
    );
    assert_conflict(
        store
            .append_history(append(a.message_ids_version, "other"))
            .await,
    );
    assert_not_found(store.get_message(user.id).await);
    assert!(passages(store.clone()).await.is_empty());
    assert_eq!(store.get_block(human.id).await.unwrap().value, "old value");
    let system = store.get_message(a.message_ids[0]).await.unwrap();
    assert_eq!(system.text, "compiled");
    store
        .append_history(append(a.message_ids_version, "old value"))
        .await
        .unwrap();
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, [a.message_ids[0], reply.id]);
    assert_eq!(got.message_ids_version, a.message_ids_version + 1);
    assert_eq!(
        listed(&*store, a.id, &query(10, Order::Asc)).await,
        [a.message_ids[0], user.id, reply.id]
    );
    assert_eq!(store.get_block(human.id).await.unwrap().value, "new value");
    assert_eq!(passages(store.clone()).await, [p.id]);
    let system = store.get_message(a.message_ids[0]).await.unwrap();
    assert_eq!(system.text, "as the source has it");
    let mut unknown = append(0, "new value");
    unknown.agent_id = AgentId::new();
    unknown.messages.clear();
    unknown.passages.clear();
    unknown.block_changes.clear();
    assert_not_found(store.append_history(unknown).await);
}

//! `ConversationStore`: threads of one agent with contexts of their own, isolated blocks,
//! forks, listings and deletes.

use std::sync::Arc;

use mneme_types::{AgentId, ConversationId, ConversationOrderBy, MessageId, RunStatus};
use serde_json::json;

use super::fixtures::*;
use crate::{
    ConversationEdit, ConversationFilter, ConversationRecord, Message, MessageQuery, Order, Page,
    RunRecord, Store,
};

/// A thread's history as listed, by message id.
async fn thread(
    store: &dyn Store,
    agent: AgentId,
    conversation: Option<ConversationId>,
    page: &Page,
) -> Vec<MessageId> {
    let listed = store.thread_messages(agent, conversation, page).await;
    ids(&listed.unwrap(), |m| m.id)
}

/// `list_messages` of a thread, oldest first.
async fn listed(
    store: &dyn Store,
    agent: AgentId,
    conversation: Option<ConversationId>,
) -> Vec<MessageId> {
    let q = MessageQuery {
        limit: 100,
        order: Order::Asc,
        conversation,
        ..MessageQuery::default()
    };
    ids(&store.list_messages(agent, &q).await.unwrap(), |m| m.id)
}

/// The listings of these threads of `agent`, oldest first.
async fn listings(
    store: &dyn Store,
    agent: AgentId,
    threads: &[Option<ConversationId>],
) -> Vec<Vec<MessageId>> {
    let mut out = Vec::new();
    for t in threads {
        out.push(thread(store, agent, *t, &page(10, Order::Asc)).await);
    }
    out
}

/// User messages of `agent` with these texts.
fn said(agent: AgentId, texts: &[&str]) -> Vec<Message> {
    texts
        .iter()
        .map(|t| message(agent, crate::Role::User, t))
        .collect()
}

fn edit(f: impl FnOnce(&mut ConversationRecord) + Send + 'static) -> ConversationEdit {
    Box::new(move |c| {
        f(c);
        Ok(())
    })
}

pub async fn create_conversation_stores_its_system_message_and_context(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let hello = said(a.id, &["hello"]);
    let before = append(&*store, a.id, hello.clone()).await;
    let new = new_conversation(a.id, vec![], vec![]);
    let system = new.system.clone();
    let created = store.create_conversation(new.clone()).await.unwrap();
    assert_eq!(created, new.conversation);
    assert_eq!(store.get_conversation(created.id).await.unwrap(), created);
    assert_eq!(
        (created.message_ids.clone(), created.message_ids_version),
        (vec![system.id], 0)
    );
    assert_eq!(store.get_message(system.id).await.unwrap(), system);
    // The system message is the conversation's, not the default thread's.
    let all = page(10, Order::Asc);
    assert_eq!(
        thread(&*store, a.id, Some(created.id), &all).await,
        [system.id]
    );
    assert_eq!(listed(&*store, a.id, Some(created.id)).await, [system.id]);
    let default = [a.message_ids[0], hello[0].id];
    assert_eq!(thread(&*store, a.id, None, &all).await, default);
    assert_eq!(listed(&*store, a.id, None).await, default);
    let agent_after = store.get_agent(a.id).await.unwrap();
    assert_eq!(agent_after.message_ids, before.message_ids);
    assert_eq!(agent_after.message_ids_version, before.message_ids_version);
    // Its frame is the agent's with the conversation's context in place of the agent's own.
    let frame = store.conversation_frame(created.id).await.unwrap();
    let agent_frame = store.agent_frame(a.id).await.unwrap();
    assert_eq!(
        (frame.conversation, agent_frame.conversation),
        (Some(created.id), None)
    );
    assert_eq!((frame.agent.id, frame.agent.name.as_str()), (a.id, "a"));
    assert_eq!(frame.agent.message_ids, [system.id]);
    assert_eq!(frame.agent.message_ids_version, 0);
    assert_eq!(frame.message_count, agent_frame.message_count);
    assert_eq!(store.agent_context(a.id).await.unwrap().conversation, None);
    // A fork: the context is the system message and then the inherited messages.
    let fork = new_conversation(a.id, vec![], vec![hello[0].id]);
    let fork_system = fork.system.id;
    let fork = store.create_conversation(fork).await.unwrap();
    assert_eq!(fork.message_ids, [fork_system, hello[0].id]);
    let fork_frame = store.conversation_frame(fork.id).await.unwrap();
    assert_eq!(fork_frame.agent.message_ids, [fork_system, hello[0].id]);
}

pub async fn a_failed_conversation_creation_writes_nothing(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let b = agent(&*store, "b").await;
    let of_b = said(b.id, &["b's"]);
    append(&*store, b.id, of_b.clone()).await;
    let unknown_agent = new_conversation(AgentId::new(), vec![], vec![]);
    let foreign = new_conversation(a.id, vec![], vec![of_b[0].id]);
    assert_not_found(store.create_conversation(unknown_agent.clone()).await);
    assert_invalid(store.create_conversation(foreign.clone()).await);
    for refused in [unknown_agent, foreign] {
        assert_not_found(store.get_conversation(refused.conversation.id).await);
        assert_not_found(store.get_message(refused.system.id).await);
    }
    let all = ConversationFilter::default();
    let none = store.list_conversations(&all, &page(10, Order::Asc)).await;
    assert!(none.unwrap().is_empty());
    let unknown = ConversationId::new();
    assert_not_found(store.get_conversation(unknown).await);
    assert_not_found(store.conversation_frame(unknown).await);
    assert_not_found(
        store
            .thread_messages(a.id, Some(unknown), &page(10, Order::Asc))
            .await,
    );
    assert_not_found(
        store
            .thread_messages(AgentId::new(), None, &page(10, Order::Asc))
            .await,
    );
}

pub async fn isolated_blocks_stand_in_for_the_agents_only_in_their_conversation(
    store: Arc<dyn Store>,
) {
    let new = new_agent(
        "a",
        vec![block("human", "agent human"), block("persona", "p")],
    );
    let a = store.create_agent(new).await.unwrap();
    let agent_blocks = store.agent_blocks(a.id).await.unwrap();
    let copy = block("human", "conversation human");
    let new = new_conversation(a.id, vec![copy.clone()], vec![]);
    let isolated = store.create_conversation(new).await.unwrap();
    assert_eq!(isolated.isolated_block_ids, [copy.id]);
    let frame = store.conversation_frame(isolated.id).await.unwrap();
    let values = ids(&frame.blocks, |b| (b.id, b.value.clone()));
    assert_eq!(
        values,
        [
            (copy.id, "conversation human".to_owned()),
            (agent_blocks[1].id, "p".to_owned())
        ],
        "the copy in the place of the agent's block of its label"
    );
    // Only there: the agent and its other conversations keep the agent's block.
    let plain = conversation(&*store, a.id).await;
    let plain_frame = store.conversation_frame(plain.id).await.unwrap();
    let agent_ids = ids(&agent_blocks, |b| b.id);
    assert_eq!(ids(&plain_frame.blocks, |b| b.id), agent_ids);
    assert_eq!(
        ids(&store.agent_blocks(a.id).await.unwrap(), |b| b.id),
        agent_ids
    );
    let agent_frame = store.agent_frame(a.id).await.unwrap();
    assert_eq!(
        ids(&agent_frame.blocks, |b| b.value.clone()),
        ["agent human", "p"]
    );
    assert!(plain.isolated_block_ids.is_empty());
    // A label no block of the agent has is refused, and nothing of it is written.
    let (kept, unknown) = (block("persona", "copy"), block("nope", "x"));
    let refused = new_conversation(a.id, vec![kept.clone(), unknown.clone()], vec![]);
    assert_invalid(store.create_conversation(refused.clone()).await);
    assert_not_found(store.get_conversation(refused.conversation.id).await);
    assert_not_found(store.get_message(refused.system.id).await);
    assert_not_found(store.get_block(kept.id).await);
    assert_not_found(store.get_block(unknown.id).await);
    assert_eq!(
        ids(&store.agent_blocks(a.id).await.unwrap(), |b| b.id),
        agent_ids
    );
}

pub async fn thread_messages_follow_the_listing_order_both_ways(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let c = conversation(&*store, a.id).await;
    // Stamped in the reverse of their storage order: the listing follows storage.
    let mut m = said(a.id, &["m0", "m1", "m2", "m3"]);
    for (i, m) in m.iter_mut().enumerate() {
        m.created_at = at(40 - i as i64 * 10);
    }
    say(&*store, c.id, m[..2].to_vec()).await;
    append(&*store, a.id, said(a.id, &["in the default thread"])).await;
    say(&*store, c.id, m[2..].to_vec()).await;
    let (s, m) = (c.message_ids[0], ids(&m, |m| m.id));
    let list = |page: Page| {
        let store = store.clone();
        async move { thread(&*store, a.id, Some(c.id), &page).await }
    };
    let (asc, desc) = (page(10, Order::Asc), page(10, Order::Desc));
    assert_eq!(list(asc.clone()).await, [s, m[0], m[1], m[2], m[3]]);
    assert_eq!(
        list(desc.clone()).await,
        [m[3], m[2], m[1], m[0], s],
        "newest first"
    );
    assert_eq!(list(page(2, Order::Asc)).await, [s, m[0]]);
    assert_eq!(list(page(2, Order::Desc)).await, [m[3], m[2]]);
    // "After" is further along the listing, "before" back towards its start, in both orders.
    assert_eq!(
        list(cursor(asc.clone(), m[0], true)).await,
        [m[1], m[2], m[3]]
    );
    assert_eq!(
        list(cursor(asc.clone(), m[2], false)).await,
        [s, m[0], m[1]]
    );
    assert_eq!(
        list(cursor(desc.clone(), m[2], true)).await,
        [m[1], m[0], s]
    );
    assert_eq!(list(cursor(desc.clone(), m[1], false)).await, [m[3], m[2]]);
    let mut between = cursor(asc.clone(), m[0], true);
    between.before = Some(m[3].to_string());
    assert_eq!(list(between).await, [m[1], m[2]]);
    let mut between = cursor(desc.clone(), m[3], true);
    between.before = Some(s.to_string());
    assert_eq!(list(between).await, [m[2], m[1], m[0]]);
    assert_eq!(list(cursor(page(1, Order::Desc), m[2], true)).await, [m[1]]);
    assert!(list(cursor(asc.clone(), m[3], true)).await.is_empty());
    for after in [true, false] {
        let unknown = cursor(asc.clone(), MessageId::new(), after);
        assert_not_found(store.thread_messages(a.id, Some(c.id), &unknown).await);
    }
    // The default thread lists none of the conversation's messages.
    let default = thread(&*store, a.id, None, &asc).await;
    assert_eq!(default.len(), 2);
    assert!(!default.iter().any(|id| m.contains(id) || *id == s));
}

pub async fn a_system_role_input_keeps_its_place_in_the_thread(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let c = conversation(&*store, a.id).await;
    // A client may send a `system` input; only the thread's system message heads its history.
    let first = said(a.id, &["first"]);
    let note = message(a.id, crate::Role::System, "a system note");
    say(&*store, c.id, first.clone()).await;
    say(&*store, c.id, vec![note.clone()]).await;
    let expected = [c.message_ids[0], first[0].id, note.id];
    let asc = page(10, Order::Asc);
    assert_eq!(thread(&*store, a.id, Some(c.id), &asc).await, expected);
    let desc = thread(&*store, a.id, Some(c.id), &page(10, Order::Desc)).await;
    assert_eq!(desc, [note.id, first[0].id, c.message_ids[0]]);
    let after_first = cursor(asc.clone(), first[0].id, true);
    assert_eq!(
        thread(&*store, a.id, Some(c.id), &after_first).await,
        [note.id]
    );
    // The same in the default thread.
    let d = said(a.id, &["d0"]);
    append(&*store, a.id, d.clone()).await;
    let default_note = message(a.id, crate::Role::System, "a default note");
    append(&*store, a.id, vec![default_note.clone()]).await;
    let default = thread(&*store, a.id, None, &asc).await;
    assert_eq!(default, [a.message_ids[0], d[0].id, default_note.id]);
}

pub async fn forks_list_inherited_messages_then_their_own(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let d = said(a.id, &["d0", "d1"]);
    append(&*store, a.id, d.clone()).await;
    let c = conversation(&*store, a.id).await;
    let c_msgs = said(a.id, &["c0", "c1"]);
    let c = say(&*store, c.id, c_msgs.clone()).await;
    // The fork's system message is stored after the messages it inherits.
    let fork = new_conversation(a.id, vec![], c.message_ids[1..].to_vec());
    let fs = fork.system.id;
    let f = store.create_conversation(fork).await.unwrap();
    let own = said(a.id, &["f0"]);
    let f = say(&*store, f.id, own.clone()).await;
    let (c0, c1, f0) = (c_msgs[0].id, c_msgs[1].id, own[0].id);
    assert_eq!(f.message_ids, [fs, c0, c1, f0]);
    let list = |page: Page| {
        let store = store.clone();
        async move { thread(&*store, a.id, Some(f.id), &page).await }
    };
    let (asc, desc) = (page(10, Order::Asc), page(10, Order::Desc));
    assert_eq!(list(asc.clone()).await, [fs, c0, c1, f0], "system first");
    assert_eq!(list(desc.clone()).await, [f0, c1, c0, fs]);
    assert_eq!(list(cursor(asc.clone(), fs, true)).await, [c0, c1, f0]);
    assert_eq!(list(cursor(asc.clone(), c0, false)).await, [fs]);
    assert_eq!(list(cursor(desc.clone(), c0, true)).await, [fs]);
    assert_eq!(list(cursor(desc.clone(), fs, false)).await, [f0, c1, c0]);
    assert_eq!(list(cursor(page(2, Order::Desc), f0, true)).await, [c1, c0]);
    // `list_messages` of the fork sees its inherited messages too; the source sees none of
    // the fork's own.
    let of_fork = listed(&*store, a.id, Some(f.id)).await;
    assert_eq!(of_fork.len(), 4);
    assert!([fs, c0, c1, f0].iter().all(|id| of_fork.contains(id)));
    let source = thread(&*store, a.id, Some(c.id), &asc).await;
    assert_eq!(source, [c.message_ids[0], c0, c1]);
    // A fork of the default thread.
    let of_default = new_conversation(a.id, vec![], vec![d[0].id, d[1].id]);
    let ds = of_default.system.id;
    let g = store.create_conversation(of_default).await.unwrap();
    let listing = thread(&*store, a.id, Some(g.id), &asc).await;
    assert_eq!(listing, [ds, d[0].id, d[1].id]);
    assert_eq!(
        thread(&*store, a.id, None, &asc).await,
        [a.message_ids[0], d[0].id, d[1].id]
    );
}

pub async fn conversation_lists_filter_by_agent_and_summary(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let mut c = Vec::new();
    for (agent, summary) in [
        (a.id, Some("alpha trip")),
        (a.id, Some("beta")),
        (a.id, None),
        (b.id, Some("the alpha")),
    ] {
        let mut new = new_conversation(agent, vec![], vec![]);
        new.conversation.summary = summary.map(str::to_owned);
        c.push(store.create_conversation(new).await.unwrap().id);
    }
    let cases = [
        (ConversationFilter::default(), vec![c[0], c[1], c[2], c[3]]),
        (
            with(|f: &mut ConversationFilter| f.agent = Some(a.id)),
            vec![c[0], c[1], c[2]],
        ),
        (
            with(|f: &mut ConversationFilter| f.agent = Some(b.id)),
            vec![c[3]],
        ),
        (
            with(|f: &mut ConversationFilter| f.summary_search = Some("alpha".into())),
            vec![c[0], c[3]],
        ),
        (
            with(|f: &mut ConversationFilter| {
                f.agent = Some(a.id);
                f.summary_search = Some("alpha".into());
            }),
            vec![c[0]],
        ),
        (
            with(|f: &mut ConversationFilter| f.summary_search = Some("gamma".into())),
            vec![],
        ),
        (
            with(|f: &mut ConversationFilter| f.agent = Some(AgentId::new())),
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let mut got = ids(
            &store
                .list_conversations(&filter, &page(10, Order::Asc))
                .await
                .unwrap(),
            |c| c.id,
        );
        let mut expected = expected;
        got.sort_by_key(|id| id.to_string());
        expected.sort_by_key(|id| id.to_string());
        assert_eq!(got, expected, "{filter:?}");
    }
}

pub async fn conversation_pages_follow_creation_time_both_ways(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut c = Vec::new();
    for i in 0..4 {
        let mut new = new_conversation(a.id, vec![], vec![]);
        new.conversation.created_at = at(i);
        c.push(store.create_conversation(new).await.unwrap().id);
    }
    let by_agent = with(|f: &mut ConversationFilter| f.agent = Some(a.id));
    let list = |page: Page| {
        let (store, filter) = (store.clone(), by_agent.clone());
        async move {
            ids(
                &store.list_conversations(&filter, &page).await.unwrap(),
                |c| c.id,
            )
        }
    };
    let (asc, desc) = (page(10, Order::Asc), page(10, Order::Desc));
    assert_eq!(list(asc.clone()).await, c);
    assert_eq!(list(desc.clone()).await, [c[3], c[2], c[1], c[0]]);
    assert_eq!(list(page(2, Order::Desc)).await, [c[3], c[2]]);
    assert_eq!(list(cursor(asc.clone(), c[1], true)).await, [c[2], c[3]]);
    assert_eq!(list(cursor(desc.clone(), c[2], true)).await, [c[1], c[0]]);
    assert_eq!(list(cursor(page(1, Order::Desc), c[2], true)).await, [c[1]]);
    assert!(list(cursor(desc.clone(), c[0], true)).await.is_empty());
    for order in [Order::Asc, Order::Desc] {
        let unknown = cursor(page(10, order), ConversationId::new(), true);
        assert_not_found(store.list_conversations(&by_agent, &unknown).await);
    }
}

/// Sets the conversation's `last_message_at`, as the service does when a turn starts.
async fn messaged(store: &dyn Store, id: ConversationId, seconds: i64) {
    let at = at(seconds);
    let stamp = edit(move |c| c.last_message_at = Some(at));
    store.update_conversation(id, stamp).await.unwrap();
}

/// A run of the conversation that completed at `seconds` (or has not, with `None`).
async fn ran(store: &dyn Store, c: &ConversationRecord, seconds: Option<i64>) {
    let mut run = RunRecord {
        conversation_id: Some(c.id),
        ..run_record(c.agent_id, at(0))
    };
    if let Some(s) = seconds {
        (run.status, run.completed_at) = (RunStatus::Completed, Some(at(s)));
    }
    store.create_run(run).await.unwrap();
}

pub async fn conversation_pages_put_never_messaged_ones_last(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut c = Vec::new();
    for _ in 0..5 {
        c.push(conversation(&*store, a.id).await);
    }
    // Messaged at 30, 10 and 20; c[2] and c[4] never.
    messaged(&*store, c[0].id, 30).await;
    messaged(&*store, c[1].id, 10).await;
    messaged(&*store, c[3].id, 20).await;
    // Last run completed at 50, 40 and 45; c[2]'s run has not completed, c[4] never ran.
    ran(&*store, &c[0], Some(5)).await;
    ran(&*store, &c[0], Some(50)).await;
    ran(&*store, &c[1], Some(40)).await;
    ran(&*store, &c[2], None).await;
    ran(&*store, &c[3], Some(45)).await;
    let c = ids(&c, |c| c.id);
    // Among those never messaged (or never run), ties by id in the listing's order.
    let (low, high) = if c[2].to_string() < c[4].to_string() {
        (c[2], c[4])
    } else {
        (c[4], c[2])
    };
    let list = |by: ConversationOrderBy, page: Page| {
        let store = store.clone();
        let filter = with(|f: &mut ConversationFilter| {
            f.agent = Some(a.id);
            f.order_by = by;
        });
        async move {
            ids(
                &store.list_conversations(&filter, &page).await.unwrap(),
                |c| c.id,
            )
        }
    };
    let (asc, desc) = (page(10, Order::Asc), page(10, Order::Desc));
    let by = ConversationOrderBy::LastMessageAt;
    assert_eq!(list(by, asc.clone()).await, [c[1], c[3], c[0], low, high]);
    assert_eq!(list(by, desc.clone()).await, [c[0], c[3], c[1], high, low]);
    assert_eq!(
        list(by, cursor(asc.clone(), c[3], true)).await,
        [c[0], low, high]
    );
    assert_eq!(
        list(by, cursor(desc.clone(), c[3], true)).await,
        [c[1], high, low]
    );
    assert_eq!(list(by, cursor(asc.clone(), low, true)).await, [high]);
    assert_eq!(list(by, cursor(desc.clone(), high, true)).await, [low]);
    assert_eq!(
        list(by, cursor(page(1, Order::Desc), c[1], true)).await,
        [high]
    );
    let by = ConversationOrderBy::LastRunCompletion;
    assert_eq!(list(by, asc.clone()).await, [c[1], c[3], c[0], low, high]);
    assert_eq!(list(by, desc.clone()).await, [c[0], c[3], c[1], high, low]);
    assert_eq!(
        list(by, cursor(asc.clone(), c[1], true)).await,
        [c[3], c[0], low, high]
    );
    assert_eq!(
        list(by, cursor(desc.clone(), c[0], true)).await,
        [c[3], c[1], high, low]
    );
    assert_eq!(list(by, cursor(desc.clone(), high, true)).await, [low]);
    let unknown = cursor(asc.clone(), ConversationId::new(), true);
    let filter = with(|f: &mut ConversationFilter| f.order_by = by);
    assert_not_found(store.list_conversations(&filter, &unknown).await);
}

pub async fn update_conversation_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h")]);
    let a = store.create_agent(new).await.unwrap();
    let new = new_conversation(a.id, vec![block("human", "copy")], vec![]);
    let c = store.create_conversation(new).await.unwrap();
    let c = say(&*store, c.id, said(a.id, &["hi"])).await;
    let (other_id, other_agent) = (ConversationId::new(), AgentId::new());
    let updated = store
        .update_conversation(
            c.id,
            edit(move |c| {
                c.summary = Some("a summary".into());
                c.model = Some("openai/gpt-4o".into());
                c.model_settings = Some(json!({"temperature": 0.5}));
                c.last_message_at = Some(at(7));
                c.id = other_id;
                c.agent_id = other_agent;
                c.message_ids = vec![];
                c.message_ids_version = 99;
                c.isolated_block_ids = vec![];
                c.created_at = at(0);
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.id, updated.agent_id),
        (c.id, a.id),
        "id and agent stay"
    );
    assert_eq!(updated.summary.as_deref(), Some("a summary"));
    assert_eq!(updated.model.as_deref(), Some("openai/gpt-4o"));
    assert_eq!(updated.model_settings, Some(json!({"temperature": 0.5})));
    assert_eq!(updated.last_message_at, Some(at(7)));
    assert_eq!(
        (updated.message_ids.clone(), updated.message_ids_version),
        (c.message_ids.clone(), c.message_ids_version),
        "the context stays"
    );
    assert_eq!(updated.isolated_block_ids, c.isolated_block_ids);
    assert_eq!(updated.created_at, c.created_at);
    assert!(updated.updated_at >= c.updated_at);
    assert_eq!(store.get_conversation(c.id).await.unwrap(), updated);
    assert_not_found(store.get_conversation(other_id).await);
    let frame = store.conversation_frame(c.id).await.unwrap();
    assert_eq!(frame.agent.message_ids, c.message_ids);
    assert_eq!(frame.blocks[0].value, "copy");
    let refused_edit: ConversationEdit = Box::new(|c| {
        c.summary = Some("never".into());
        Err(refused())
    });
    assert_invalid(store.update_conversation(c.id, refused_edit).await);
    assert_eq!(store.get_conversation(c.id).await.unwrap(), updated);
    let unknown = store.update_conversation(ConversationId::new(), edit(|_| {}));
    assert_not_found(unknown.await);
}

pub async fn delete_conversation_takes_its_own_rows_along(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h")]);
    let a = store.create_agent(new).await.unwrap();
    let default = append(&*store, a.id, said(a.id, &["d0"])).await;
    let agent_run = run_for(&*store, a.id).await;
    let copy = block("human", "copy");
    let new = new_conversation(a.id, vec![copy.clone()], vec![]);
    let c_system = new.system.id;
    let c = store.create_conversation(new).await.unwrap();
    let inherited = said(a.id, &["c0", "c1"]);
    let c = say(&*store, c.id, inherited.clone()).await;
    let fork = new_conversation(a.id, vec![], c.message_ids[1..].to_vec());
    let f = store.create_conversation(fork).await.unwrap();
    let f = say(&*store, f.id, said(a.id, &["f0"])).await;
    let own = said(a.id, &["c2"]);
    say(&*store, c.id, own.clone()).await;
    let other = conversation(&*store, a.id).await;
    let other = say(&*store, other.id, said(a.id, &["o0"])).await;
    let runs_of = |c: ConversationId| {
        let store = store.clone();
        async move {
            let filter = with(|f: &mut crate::RunFilter| f.conversation = Some(c));
            let runs = store.list_runs(&filter, &page(10, Order::Asc)).await;
            ids(&runs.unwrap(), |r| r.id)
        }
    };
    let c_runs = runs_of(c.id).await;
    assert_eq!(c_runs.len(), 2);
    let threads = [Some(f.id), Some(other.id), None];
    let before = listings(&*store, a.id, &threads).await;

    store.delete_conversation(c.id).await.unwrap();
    assert_not_found(store.get_conversation(c.id).await);
    assert_not_found(store.conversation_frame(c.id).await);
    for run in &c_runs {
        assert_not_found(store.get_run(*run).await);
    }
    assert_not_found(store.get_block(copy.id).await);
    assert_not_found(store.get_message(c_system).await);
    assert_not_found(store.get_message(own[0].id).await);
    // What the fork took over stays for it; nothing of the agent or other threads goes.
    for m in &inherited {
        assert_eq!(store.get_message(m.id).await.unwrap().text, m.text);
    }
    assert_eq!(listings(&*store, a.id, &threads).await, before);
    assert_eq!(store.get_conversation(f.id).await.unwrap(), f);
    assert_eq!(store.get_conversation(other.id).await.unwrap(), other);
    assert_eq!(runs_of(other.id).await.len(), 1);
    store.get_run(agent_run).await.unwrap();
    let agent_after = store.get_agent(a.id).await.unwrap();
    assert_eq!(agent_after.message_ids, default.message_ids);
    let blocks = store.agent_blocks(a.id).await.unwrap();
    assert_eq!(ids(&blocks, |b| b.value.clone()), ["h"]);
    assert_not_found(store.delete_conversation(c.id).await);
    assert_not_found(store.delete_conversation(ConversationId::new()).await);
}

pub async fn messages_a_fork_took_over_go_with_the_fork(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let c = conversation(&*store, a.id).await;
    let inherited = said(a.id, &["c0"]);
    let c = say(&*store, c.id, inherited.clone()).await;
    let fork = new_conversation(a.id, vec![], c.message_ids[1..].to_vec());
    let f = store.create_conversation(fork).await.unwrap();
    let second = new_conversation(a.id, vec![], c.message_ids[1..].to_vec());
    let g = store.create_conversation(second).await.unwrap();
    let count = || {
        let store = store.clone();
        async move { store.agent_frame(a.id).await.unwrap().message_count }
    };
    // Source, fork and second fork: three system messages, one shared message, one default.
    assert_eq!(count().await, 5);
    store.delete_conversation(c.id).await.unwrap();
    assert_eq!(count().await, 4);
    store.delete_conversation(f.id).await.unwrap();
    assert_eq!(count().await, 3, "still listed by the second fork");
    let asc = page(10, Order::Asc);
    let listing = thread(&*store, a.id, Some(g.id), &asc).await;
    assert_eq!(listing, [g.message_ids[0], inherited[0].id]);
    store.delete_conversation(g.id).await.unwrap();
    assert_not_found(store.get_message(inherited[0].id).await);
    assert_eq!(count().await, 1, "no thread lists it any more");
}

pub async fn deleting_the_agent_deletes_its_conversations(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h")]);
    let a = store.create_agent(new).await.unwrap();
    let b = agent(&*store, "b").await;
    let copy = block("human", "copy");
    let new = new_conversation(a.id, vec![copy.clone()], vec![]);
    let c = store.create_conversation(new).await.unwrap();
    let m = said(a.id, &["c0"]);
    say(&*store, c.id, m.clone()).await;
    let of_c = with(|f: &mut crate::RunFilter| f.conversation = Some(c.id));
    let run = store.list_runs(&of_c, &page(10, Order::Asc)).await.unwrap()[0].id;
    let kept = conversation(&*store, b.id).await;
    store.delete_agent(a.id).await.unwrap();
    assert_not_found(store.get_conversation(c.id).await);
    assert_not_found(store.get_block(copy.id).await);
    assert_not_found(store.get_message(m[0].id).await);
    assert_not_found(store.get_message(c.message_ids[0]).await);
    assert_not_found(store.get_run(run).await);
    let by_a = with(|f: &mut ConversationFilter| f.agent = Some(a.id));
    let listed = store.list_conversations(&by_a, &page(10, Order::Asc)).await;
    assert!(listed.unwrap().is_empty());
    assert_eq!(store.get_conversation(kept.id).await.unwrap(), kept);
}

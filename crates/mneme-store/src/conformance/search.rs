//! `SearchStore`: rows by search key, the filters applied before ranking, and vectors.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mneme_types::{AgentId, ArchiveId, ConversationId, MessageId, PassageId};

use super::fixtures::*;
use crate::{
    Message, MessageFilter, PassageFilter, Role, SearchChange, SearchKind, Store, ToolCallRecord,
};

/// Every outbox row after `after`.
pub(super) async fn changes(store: &dyn Store, after: u64) -> Vec<SearchChange> {
    store.search_changes(after, 10_000).await.unwrap()
}

pub(super) async fn last_seq(store: &dyn Store) -> u64 {
    changes(store, 0).await.last().map_or(0, |c| c.seq)
}

/// What the outbox rows after `after` say, as (kind, key, owner, removed).
pub(super) async fn said(store: &dyn Store, after: u64) -> Vec<(SearchKind, u64, String, bool)> {
    let rows = changes(store, after).await;
    rows.into_iter()
        .map(|c| (c.kind, c.key, c.owner, c.removed))
        .collect()
}

/// Search keys of every stored passage, by id.
pub(super) async fn passage_keys(store: &dyn Store) -> HashMap<PassageId, u64> {
    let keys: Vec<u64> = changes(store, 0).await.iter().map(|c| c.key).collect();
    let rows = store.passages_by_keys(&keys).await.unwrap();
    rows.into_iter().map(|(k, p)| (p.id, k)).collect()
}

/// Search keys of every stored message, by id (the system message's included).
pub(super) async fn message_keys(store: &dyn Store, agent: AgentId) -> HashMap<MessageId, u64> {
    let all = store
        .message_keys(agent, &MessageFilter::default())
        .await
        .unwrap();
    let rows = store.messages_by_keys(&all).await.unwrap();
    rows.into_iter().map(|(k, m, _)| (m.id, k)).collect()
}

pub(super) fn set<T: std::hash::Hash + Eq>(items: impl IntoIterator<Item = T>) -> HashSet<T> {
    items.into_iter().collect()
}

pub async fn rows_by_key_leave_missing_keys_out(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let ar = store.default_archive(a.id, archive("a")).await.unwrap();
    let (p1, p2) = (
        passage(ar.id, "one", &["x"], Some(vec![0.6, 0.8])),
        passage(ar.id, "two", &[], None),
    );
    store
        .insert_passages(vec![p1.clone(), p2.clone()])
        .await
        .unwrap();
    let pk = passage_keys(&*store).await;
    let missing = pk.values().max().unwrap() + 1000;
    let rows = store
        .passages_by_keys(&[pk[&p1.id], missing])
        .await
        .unwrap();
    assert_eq!(rows, [(pk[&p1.id], p1.clone())], "vectors round-trip");
    store.delete_passage(&[ar.id], p2.id).await.unwrap();
    assert!(
        store
            .passages_by_keys(&[pk[&p2.id]])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.passages_by_keys(&[]).await.unwrap().is_empty());

    let m = message(a.id, Role::User, "hello");
    append(&*store, a.id, vec![m.clone()]).await;
    let key = message_keys(&*store, a.id).await[&m.id];
    let rows = store.messages_by_keys(&[key, missing + key]).await.unwrap();
    assert_eq!(rows, [(key, m.clone(), None)]);
    store
        .store_message_vectors(vec![(key, a.id, vec![1.0, 0.0])], ("c", key))
        .await
        .unwrap();
    let rows = store.messages_by_keys(&[key]).await.unwrap();
    assert_eq!(rows, [(key, m, Some(vec![1.0, 0.0]))]);
    assert!(store.messages_by_keys(&[]).await.unwrap().is_empty());
}

pub async fn passage_keys_apply_tags_and_dates(store: Arc<dyn Store>) {
    let a = store.create_archive(archive("a"), None).await.unwrap().id;
    let b = store.create_archive(archive("b"), None).await.unwrap().id;
    let specs: [(ArchiveId, &[&str], i64); 4] = [
        (a, &["x"], 10),
        (a, &["x", "y"], 20),
        (a, &[], 30),
        (b, &["x"], 15),
    ];
    let mut made = Vec::new();
    for (archive, tags, seconds) in specs {
        let mut p = passage(archive, "text", tags, None);
        p.created_at = at(seconds);
        made.push(p);
    }
    store.insert_passages(made.clone()).await.unwrap();
    let pk = passage_keys(&*store).await;
    let k: Vec<u64> = made.iter().map(|p| pk[&p.id]).collect();
    let tags = |tags: &[&str], all| PassageFilter {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        match_all_tags: all,
        ..PassageFilter::default()
    };
    let dates = |start: Option<i64>, end: Option<i64>| PassageFilter {
        start: start.map(at),
        end: end.map(at),
        ..PassageFilter::default()
    };
    let cases = [
        (vec![a], PassageFilter::default(), vec![k[0], k[1], k[2]]),
        (vec![a, b], PassageFilter::default(), k.clone()),
        (vec![a], tags(&["x"], false), vec![k[0], k[1]]),
        (vec![a], tags(&["x", "y"], true), vec![k[1]]),
        (vec![a], tags(&["y", "z"], false), vec![k[1]]),
        (vec![a, b], tags(&["x"], false), vec![k[0], k[1], k[3]]),
        (vec![a], dates(Some(15), None), vec![k[1], k[2]]),
        (vec![a], dates(None, Some(20)), vec![k[0], k[1]]),
        (vec![a, b], dates(Some(15), Some(20)), vec![k[1], k[3]]),
        (vec![], PassageFilter::default(), vec![]),
    ];
    for (archives, filter, expected) in cases {
        let got = store.passage_keys(&archives, &filter).await.unwrap();
        assert_eq!(set(got), set(expected), "{filter:?} in {archives:?}");
    }
}

async fn four_messages(store: &dyn Store, a: AgentId) -> Vec<Message> {
    let specs = [
        (Role::User, "Hello world"),
        (Role::Assistant, "hi"),
        (Role::Tool, "result"),
        (Role::User, "bye"),
    ];
    let mut made = Vec::new();
    for (i, (role, text)) in specs.into_iter().enumerate() {
        let mut m = message(a, role, text);
        m.created_at = at(10 * (i as i64 + 1));
        if role == Role::Assistant {
            let arguments = r#"{"query": "Needle"}"#.into();
            m.tool_calls = vec![ToolCallRecord {
                id: "c".into(),
                name: "search".into(),
                arguments,
            }];
        }
        made.push(m);
    }
    append(store, a, made.clone()).await;
    made
}

pub async fn message_keys_apply_roles_dates_text_and_newest(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let made = four_messages(&*store, a.id).await;
    let other = agent(&*store, "other").await;
    append(
        &*store,
        other.id,
        vec![message(other.id, Role::User, "hello")],
    )
    .await;
    let mk = message_keys(&*store, a.id).await;
    let k: Vec<u64> = made.iter().map(|m| mk[&m.id]).collect();
    let system = mk[&a.message_ids[0]];
    let f = |g: fn(&mut MessageFilter)| {
        let mut filter = MessageFilter::default();
        g(&mut filter);
        filter
    };
    let cases = [
        (
            MessageFilter::default(),
            vec![system, k[0], k[1], k[2], k[3]],
        ),
        (f(|f| f.roles = vec![Role::User]), vec![k[0], k[3]]),
        (
            f(|f| f.roles = vec![Role::User, Role::Assistant]),
            vec![k[0], k[1], k[3]],
        ),
        (
            f(|f| (f.start, f.end) = (Some(at(20)), Some(at(30)))),
            vec![k[1], k[2]],
        ),
        (f(|f| f.contains = Some("HELLO".into())), vec![k[0]]),
        (f(|f| f.contains = Some("needle".into())), vec![k[1]]),
        (
            f(|f| f.contains = Some(String::new())),
            vec![system, k[0], k[1], k[2], k[3]],
        ),
    ];
    for (filter, expected) in cases {
        let got = store.message_keys(a.id, &filter).await.unwrap();
        assert_eq!(set(got), set(expected), "{filter:?}");
    }
    let newest = store
        .message_keys(a.id, &f(|f| f.newest = Some(2)))
        .await
        .unwrap();
    assert_eq!(newest, [k[3], k[2]], "newest first");
    let users = f(|f| (f.roles, f.newest) = (vec![Role::User], Some(1)));
    assert_eq!(store.message_keys(a.id, &users).await.unwrap(), [k[3]]);
}

pub async fn passage_vectors_load_per_archive(store: Arc<dyn Store>) {
    let a = store.create_archive(archive("a"), None).await.unwrap().id;
    let b = store.create_archive(archive("b"), None).await.unwrap().id;
    let specs = [
        (a, Some(vec![1.0, 0.0])),
        (a, None),
        (a, Some(vec![0.0, 1.0])),
        (b, Some(vec![0.6, 0.8])),
    ];
    let made: Vec<_> = specs
        .into_iter()
        .map(|(ar, v)| passage(ar, "p", &[], v))
        .collect();
    store.insert_passages(made.clone()).await.unwrap();
    let pk = passage_keys(&*store).await;
    let k: Vec<u64> = made.iter().map(|p| pk[&p.id]).collect();
    let of_a = store.passage_vectors(a).await.unwrap();
    assert_eq!(of_a, [(k[0], vec![1.0, 0.0]), (k[2], vec![0.0, 1.0])]);
    assert_eq!(
        store.passage_vectors(b).await.unwrap(),
        [(k[3], vec![0.6, 0.8])]
    );
    assert!(
        store
            .passage_vectors(ArchiveId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn message_vectors_load_per_agent(store: Arc<dyn Store>) {
    let (one, two) = (agent(&*store, "one").await, agent(&*store, "two").await);
    let (m1, m2) = (
        message(one.id, Role::User, "1"),
        message(one.id, Role::User, "2"),
    );
    append(&*store, one.id, vec![m1.clone(), m2.clone()]).await;
    let m3 = message(two.id, Role::User, "3");
    append(&*store, two.id, vec![m3.clone()]).await;
    let (mk1, mk2) = (
        message_keys(&*store, one.id).await,
        message_keys(&*store, two.id).await,
    );
    let vectors = vec![
        (mk1[&m2.id], one.id, vec![0.0, 1.0]),
        (mk2[&m3.id], two.id, vec![1.0, 0.0]),
        (mk1[&m1.id], one.id, vec![1.0, 0.0]),
    ];
    store
        .store_message_vectors(vectors, ("c", 0))
        .await
        .unwrap();
    let of_one = store.message_vectors(one.id).await.unwrap();
    assert_eq!(
        of_one,
        [(mk1[&m1.id], vec![1.0, 0.0]), (mk1[&m2.id], vec![0.0, 1.0])]
    );
    assert_eq!(
        store.message_vectors(two.id).await.unwrap(),
        [(mk2[&m3.id], vec![1.0, 0.0])]
    );
}

pub async fn messages_after_lists_every_message_in_seq_order(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let systems = store.messages_after(0, 10).await.unwrap();
    assert_eq!(
        ids(&systems, |(_, m)| m.id),
        [a.message_ids[0], b.message_ids[0]],
        "system messages too"
    );
    let start = systems[1].0;
    let u1 = message(a.id, Role::User, "u1");
    let t1 = message(a.id, Role::Tool, "t");
    let a1 = message(a.id, Role::Assistant, "a1");
    append(&*store, a.id, vec![u1.clone(), t1.clone(), a1.clone()]).await;
    let u2 = message(b.id, Role::User, "u2");
    append(&*store, b.id, vec![u2.clone()]).await;
    let all = store.messages_after(start, 10).await.unwrap();
    let listed: Vec<_> = all.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(
        listed,
        [u1.clone(), t1.clone(), a1.clone(), u2.clone()],
        "every role (the reader tracks seq gaps), in storage order"
    );
    let keys: Vec<u64> = all.iter().map(|(k, _)| *k).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let by_key = store.messages_by_keys(&keys[..1]).await.unwrap();
    assert_eq!(by_key[0].1.id, u1.id, "keys are search keys");
    let after = store.messages_after(keys[0], 10).await.unwrap();
    assert_eq!(ids(&after, |(_, m)| m.id), [t1.id, a1.id, u2.id]);
    assert_eq!(
        ids(&store.messages_after(start, 1).await.unwrap(), |(_, m)| m
            .id),
        [u1.id]
    );
    assert!(store.messages_after(keys[3], 10).await.unwrap().is_empty());
}

pub async fn recall_vectors_and_their_cursor_move_together(store: Arc<dyn Store>) {
    assert_eq!(
        store.search_cursor("c").await.unwrap(),
        0,
        "an unset cursor is 0"
    );
    let a = agent(&*store, "a").await;
    let m = message(a.id, Role::User, "m");
    append(&*store, a.id, vec![m.clone()]).await;
    let key = message_keys(&*store, a.id).await[&m.id];
    store
        .store_message_vectors(vec![(key, a.id, vec![1.0, 0.0])], ("c", key))
        .await
        .unwrap();
    assert_eq!(store.search_cursor("c").await.unwrap(), key);
    store
        .store_message_vectors(vec![(key, a.id, vec![0.0, 1.0])], ("c", key + 1))
        .await
        .unwrap();
    assert_eq!(
        store.message_vectors(a.id).await.unwrap(),
        [(key, vec![0.0, 1.0])],
        "replaced"
    );
    assert_eq!(store.search_cursor("c").await.unwrap(), key + 1);
    assert_eq!(store.search_cursor("other").await.unwrap(), 0);
    store.reset_messages(a.id, vec![]).await.unwrap();
    // A message deleted meanwhile has nothing to attach a vector to; the cursor moves anyway.
    store
        .store_message_vectors(vec![(key, a.id, vec![1.0, 0.0])], ("c", key + 2))
        .await
        .unwrap();
    assert!(store.message_vectors(a.id).await.unwrap().is_empty());
    assert_eq!(store.search_cursor("c").await.unwrap(), key + 2);
}

pub async fn message_keys_keep_to_one_thread(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let own = message(a.id, Role::User, "in the default conversation");
    append(&*store, a.id, vec![own.clone()]).await;
    let c = conversation(&*store, a.id).await;
    let said = message(a.id, Role::User, "in a conversation");
    say(&*store, c.id, vec![said.clone()]).await;
    let fork = new_conversation(a.id, vec![], vec![said.id]);
    let fork = store.create_conversation(fork).await.unwrap();
    let mk = message_keys(&*store, a.id).await;
    let thread = |t: Option<ConversationId>| MessageFilter {
        roles: vec![Role::User],
        thread: Some(t),
        ..MessageFilter::default()
    };
    let all = MessageFilter {
        roles: vec![Role::User],
        ..MessageFilter::default()
    };
    let cases = [
        (all, vec![mk[&own.id], mk[&said.id]]),
        (thread(None), vec![mk[&own.id]]),
        (thread(Some(c.id)), vec![mk[&said.id]]),
        // A fork finds what it inherited.
        (thread(Some(fork.id)), vec![mk[&said.id]]),
    ];
    for (filter, expected) in cases {
        let got = store.message_keys(a.id, &filter).await.unwrap();
        assert_eq!(set(got), set(expected), "{filter:?}");
    }
}

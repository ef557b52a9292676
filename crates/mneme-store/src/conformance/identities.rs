//! `IdentityStore`: identities, their unique keys, and their links to agents and blocks (and
//! the identity side of `AgentStore` and `BlockStore`: `identity_ids`, the list filters).

use std::collections::BTreeSet;
use std::sync::Arc;

use mneme_types::{AgentId, BlockId, IdentityId, IdentityProperty, IdentityType, PropertyValue};

use super::fixtures::*;
use crate::{
    AgentFilter, BlockFilter, IdentityEdit, IdentityFilter, IdentityLinks, IdentityRecord, Links,
    NewIdentity, Order, Store,
};

/// An identity of no project with this key, named after it, linked to nothing.
pub fn identity(key: &str) -> NewIdentity {
    let now = mneme_types::time::now();
    NewIdentity {
        identity: IdentityRecord {
            id: IdentityId::new(),
            identifier_key: key.into(),
            name: format!("name of {key}"),
            identity_type: IdentityType::User,
            project_id: None,
            properties: vec![],
            created_at: now,
            updated_at: now,
        },
        agents: vec![],
        blocks: vec![],
    }
}

fn in_project(key: &str, project: &str) -> NewIdentity {
    let mut new = identity(key);
    new.identity.project_id = Some(project.into());
    new
}

fn property(key: &str, value: PropertyValue) -> IdentityProperty {
    IdentityProperty {
        key: key.into(),
        value,
    }
}

fn edit(f: impl FnOnce(&mut IdentityRecord) + Send + 'static) -> IdentityEdit {
    Box::new(move |r| {
        f(r);
        Ok(())
    })
}

fn agent_links(links: Links<AgentId>) -> IdentityLinks {
    IdentityLinks {
        agents: links,
        ..IdentityLinks::default()
    }
}

async fn linked_agents(store: &dyn Store, id: IdentityId) -> BTreeSet<AgentId> {
    let agents = store.agents_of_identity(id, &page(50, Order::Asc)).await;
    agents.unwrap().iter().map(|a| a.id).collect()
}

async fn linked_blocks(store: &dyn Store, id: IdentityId) -> BTreeSet<BlockId> {
    let blocks = store.blocks_of_identity(id, &page(50, Order::Asc)).await;
    blocks.unwrap().iter().map(|b| b.id).collect()
}

pub async fn identities_round_trip_with_their_links(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let b = store.create_block(block("notes", "x")).await.unwrap();
    let mut new = in_project("ada", "p1");
    new.identity.identity_type = IdentityType::Org;
    new.identity.properties = vec![
        property("plan", PropertyValue::String("pro".into())),
        property("seats", PropertyValue::Number(3.into())),
        property("ok", PropertyValue::Boolean(true)),
    ];
    new.agents = vec![a.id];
    new.blocks = vec![b.id];
    let id = new.identity.id;
    let created = store.create_identity(new.clone()).await.unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.properties, new.identity.properties);
    assert_eq!(store.get_identity(id).await.unwrap(), created);
    assert_eq!(linked_agents(&*store, id).await, BTreeSet::from([a.id]));
    assert_eq!(linked_blocks(&*store, id).await, BTreeSet::from([b.id]));
    assert_eq!(store.get_agent(a.id).await.unwrap().identity_ids, [id]);

    let other = store.create_identity(identity("bob")).await.unwrap();
    let unknown = IdentityId::new();
    let got = store
        .get_identities(&[other.id, unknown, id])
        .await
        .unwrap();
    assert_eq!(ids(&got, |i| i.id), [other.id, id]);
    assert_not_found(store.get_identity(unknown).await);
    assert_not_found(
        store
            .agents_of_identity(unknown, &page(5, Order::Asc))
            .await,
    );
    assert_not_found(
        store
            .blocks_of_identity(unknown, &page(5, Order::Asc))
            .await,
    );
}

pub async fn a_key_is_unique_within_its_project(store: Arc<dyn Store>) {
    store.create_identity(identity("k")).await.unwrap();
    assert_conflict(store.create_identity(identity("k")).await);
    // An empty project is no project.
    assert_conflict(store.create_identity(in_project("k", "")).await);
    store.create_identity(in_project("k", "p1")).await.unwrap();
    assert_conflict(store.create_identity(in_project("k", "p1")).await);
    store.create_identity(in_project("k", "p2")).await.unwrap();
    assert_eq!(store.count_identities().await.unwrap(), 3);

    // A key change onto a taken key is refused whole; onto a free one it is kept.
    let j = store.create_identity(identity("j")).await.unwrap();
    let taken = edit(|r| {
        r.identifier_key = "k".into();
        r.name = "renamed".into();
    });
    let links = IdentityLinks::default();
    assert_conflict(store.update_identity(j.id, taken, links.clone()).await);
    assert_eq!(store.get_identity(j.id).await.unwrap(), j);
    let free = edit(|r| r.identifier_key = "free".into());
    store.update_identity(j.id, free, links).await.unwrap();
    assert_conflict(store.create_identity(identity("free")).await);
    store.create_identity(identity("j")).await.unwrap();
}

pub async fn a_failed_identity_creation_writes_nothing(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut new = identity("k");
    new.agents = vec![a.id, AgentId::new()];
    assert_not_found(store.create_identity(new).await);
    let mut new = identity("k");
    new.blocks = vec![BlockId::new()];
    assert_not_found(store.create_identity(new).await);
    assert_eq!(store.count_identities().await.unwrap(), 0);
    assert!(store.get_agent(a.id).await.unwrap().identity_ids.is_empty());
    store.create_identity(identity("k")).await.unwrap();
}

pub async fn upsert_edits_the_identity_of_its_key_or_creates_one(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let mut first = identity("k");
    first.agents = vec![a.id];
    let rename = || edit(|r| r.name = "second".into());
    let created = store
        .upsert_identity(first.clone(), rename(), IdentityLinks::default())
        .await
        .unwrap();
    assert_eq!(created.id, first.identity.id);
    assert_eq!(
        created.name, first.identity.name,
        "a creation applies no edit"
    );
    assert_eq!(
        linked_agents(&*store, created.id).await,
        BTreeSet::from([a.id])
    );

    let mut again = identity("k");
    again.agents = vec![a.id, b.id];
    let links = agent_links(Links::Replace(vec![b.id]));
    let edited = store.upsert_identity(again, rename(), links).await.unwrap();
    assert_eq!(edited.id, created.id);
    assert_eq!(edited.name, "second");
    assert_eq!(edited.created_at, created.created_at);
    assert_eq!(
        linked_agents(&*store, created.id).await,
        BTreeSet::from([b.id])
    );
    assert_eq!(store.count_identities().await.unwrap(), 1);

    let elsewhere = in_project("k", "p1");
    let other = store
        .upsert_identity(elsewhere, rename(), IdentityLinks::default())
        .await
        .unwrap();
    assert_ne!(other.id, created.id);
    assert_eq!(store.count_identities().await.unwrap(), 2);
}

pub async fn identity_links_are_replaced_added_and_removed(store: Arc<dyn Store>) {
    let (a, b, c) = (
        agent(&*store, "a").await.id,
        agent(&*store, "b").await.id,
        agent(&*store, "c").await.id,
    );
    let blk = store.create_block(block("notes", "x")).await.unwrap().id;
    let id = store.create_identity(identity("k")).await.unwrap().id;
    let update = |links: IdentityLinks| store.update_identity(id, edit(|_| {}), links);
    update(agent_links(Links::Add(vec![a, b]))).await.unwrap();
    update(agent_links(Links::Add(vec![b, c]))).await.unwrap();
    assert_eq!(linked_agents(&*store, id).await, BTreeSet::from([a, b, c]));
    update(agent_links(Links::Remove(vec![b]))).await.unwrap();
    update(agent_links(Links::Remove(vec![b]))).await.unwrap();
    assert_eq!(linked_agents(&*store, id).await, BTreeSet::from([a, c]));
    update(agent_links(Links::Replace(vec![b]))).await.unwrap();
    assert_eq!(linked_agents(&*store, id).await, BTreeSet::from([b]));
    let blocks = IdentityLinks {
        blocks: Links::Add(vec![blk]),
        ..IdentityLinks::default()
    };
    update(blocks).await.unwrap();
    assert_eq!(linked_blocks(&*store, id).await, BTreeSet::from([blk]));

    // An unknown agent or block refuses the whole write, the edit included.
    let renamed = edit(|r| r.name = "changed".into());
    let unknown = agent_links(Links::Add(vec![a, AgentId::new()]));
    assert_not_found(store.update_identity(id, renamed, unknown).await);
    let unknown_block = IdentityLinks {
        blocks: Links::Remove(vec![BlockId::new()]),
        ..IdentityLinks::default()
    };
    assert_not_found(update(unknown_block).await);
    assert_eq!(store.get_identity(id).await.unwrap().name, "name of k");
    assert_eq!(linked_agents(&*store, id).await, BTreeSet::from([b]));
    let nobody = IdentityId::new();
    assert_not_found(
        store
            .update_identity(nobody, edit(|_| {}), IdentityLinks::default())
            .await,
    );
}

pub async fn update_identity_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let created = store.create_identity(in_project("k", "p")).await.unwrap();
    pause().await;
    let changed = edit(|r| {
        r.name = "new".into();
        r.identity_type = IdentityType::Other;
        r.properties = vec![property("j", PropertyValue::Json(Default::default()))];
        r.id = IdentityId::new();
        r.created_at = at(0);
    });
    let updated = store
        .update_identity(created.id, changed, IdentityLinks::default())
        .await
        .unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at > created.updated_at);
    assert_eq!(store.get_identity(created.id).await.unwrap(), updated);
    assert_eq!(updated.identity_type, IdentityType::Other);

    let refused: IdentityEdit = Box::new(|r| {
        r.name = "never".into();
        Err(refused())
    });
    let links = agent_links(Links::Replace(vec![]));
    assert_invalid(store.update_identity(created.id, refused, links).await);
    assert_eq!(store.get_identity(created.id).await.unwrap(), updated);
}

pub async fn identity_lists_filter_and_page(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    for (key, name, project, kind) in [
        ("k1", "Ada Lovelace", None, IdentityType::User),
        ("k2", "Acme", Some("p1"), IdentityType::Org),
        ("k3", "lovelace fan", Some("p1"), IdentityType::User),
    ] {
        let mut new = identity(key);
        new.identity.name = name.into();
        new.identity.project_id = project.map(Into::into);
        new.identity.identity_type = kind;
        made.push(store.create_identity(new).await.unwrap().id);
        pause().await;
    }
    let f = |g: fn(&mut IdentityFilter)| with(g);
    let cases = [
        (IdentityFilter::default(), vec![0, 1, 2]),
        (f(|f| f.name = Some("LOVELACE".into())), vec![0, 2]),
        (f(|f| f.project_id = Some("p1".into())), vec![1, 2]),
        (f(|f| f.identifier_key = Some("k2".into())), vec![1]),
        (
            f(|f| f.identity_type = Some(IdentityType::User)),
            vec![0, 2],
        ),
    ];
    for (filter, expected) in cases {
        let got = store
            .list_identities(&filter, &page(10, Order::Asc))
            .await
            .unwrap();
        let expected: Vec<_> = expected.iter().map(|i| made[*i]).collect();
        assert_eq!(ids(&got, |i| i.id), expected, "{filter:?}");
    }
    let all = IdentityFilter::default();
    let newest = store.list_identities(&all, &page(2, Order::Desc)).await;
    assert_eq!(ids(&newest.unwrap(), |i| i.id), [made[2], made[1]]);
    let after = cursor(page(10, Order::Desc), made[2], true);
    let rest = store.list_identities(&all, &after).await.unwrap();
    assert_eq!(ids(&rest, |i| i.id), [made[1], made[0]]);
    let before = cursor(page(10, Order::Asc), made[2], false);
    let older = store.list_identities(&all, &before).await.unwrap();
    assert_eq!(ids(&older, |i| i.id), [made[0], made[1]]);
    let unknown = cursor(page(10, Order::Asc), IdentityId::new(), true);
    assert_not_found(store.list_identities(&all, &unknown).await);
    assert_eq!(store.count_identities().await.unwrap(), 3);
}

pub async fn agents_carry_their_identity_ids(store: Arc<dyn Store>) {
    let one = store.create_identity(identity("one")).await.unwrap().id;
    let two = store.create_identity(identity("two")).await.unwrap().id;
    let mut new = new_agent("a", vec![]);
    new.agent.identity_ids = vec![two, one];
    let a = store.create_agent(new).await.unwrap();
    assert_eq!(a.identity_ids, [two, one]);
    assert_eq!(
        store.get_agent(a.id).await.unwrap().identity_ids,
        [two, one]
    );

    let mut broken = new_agent("b", vec![]);
    broken.agent.identity_ids = vec![one, IdentityId::new()];
    let b = broken.agent.id;
    assert_not_found(store.create_agent(broken).await);
    assert_not_found(store.get_agent(b).await);

    let set = |ids: Vec<IdentityId>| {
        Box::new(move |a: &mut crate::Agent| {
            a.identity_ids = ids;
            a.name = "renamed".into();
            Ok(())
        }) as crate::AgentEdit
    };
    assert_not_found(
        store
            .update_agent(a.id, set(vec![IdentityId::new()]), None)
            .await,
    );
    let kept = store.get_agent(a.id).await.unwrap();
    assert_eq!(
        (kept.name.as_str(), kept.identity_ids),
        ("a", vec![two, one])
    );
    let updated = store
        .update_agent(a.id, set(vec![one]), None)
        .await
        .unwrap();
    assert_eq!(updated.identity_ids, [one]);
    assert_eq!(linked_agents(&*store, two).await, BTreeSet::new());
    assert_eq!(linked_agents(&*store, one).await, BTreeSet::from([a.id]));
    let listed = store
        .list_agents(&AgentFilter::default(), &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(listed[0].identity_ids, [one]);
}

pub async fn agent_and_block_lists_filter_by_identity(store: Arc<dyn Store>) {
    let (a1, a2, a3) = (
        agent(&*store, "a1").await.id,
        agent(&*store, "a2").await.id,
        agent(&*store, "a3").await.id,
    );
    let b1 = store.create_block(block("x", "1")).await.unwrap().id;
    let b2 = store.create_block(block("y", "2")).await.unwrap().id;
    let mut ada = identity("ada");
    (ada.agents, ada.blocks) = (vec![a1, a2], vec![b1]);
    let ada = store.create_identity(ada).await.unwrap().id;
    let mut bob = identity("bob");
    (bob.agents, bob.blocks) = (vec![a2, a3], vec![b2]);
    store.create_identity(bob).await.unwrap();
    store.create_identity(identity("nobody")).await.unwrap();
    let keys = |k: &[&str]| k.iter().map(|k| k.to_string()).collect::<Vec<_>>();

    let agent_cases = [
        (
            with(|f: &mut AgentFilter| f.identity_id = Some(ada)),
            vec![a1, a2],
        ),
        (
            with(|f: &mut AgentFilter| f.identity_id = Some(IdentityId::new())),
            vec![],
        ),
        (
            with(|f: &mut AgentFilter| f.identifier_keys = keys(&["bob"])),
            vec![a2, a3],
        ),
        (
            with(|f: &mut AgentFilter| f.identifier_keys = keys(&["ada", "bob"])),
            vec![a1, a2, a3],
        ),
        (
            with(|f: &mut AgentFilter| f.identifier_keys = keys(&["nobody"])),
            vec![],
        ),
    ];
    for (filter, expected) in agent_cases {
        let got = store
            .list_agents(&filter, &page(10, Order::Asc))
            .await
            .unwrap();
        assert_eq!(ids(&got, |a| a.id), expected, "{filter:?}");
        let count = store.count_agents(&filter).await.unwrap();
        assert_eq!(count, expected.len() as u64, "count of {filter:?}");
    }
    let block_cases = [
        (
            with(|f: &mut BlockFilter| f.identity_id = Some(ada)),
            vec![b1],
        ),
        (
            with(|f: &mut BlockFilter| f.identifier_keys = keys(&["ada", "bob"])),
            vec![b1, b2],
        ),
        (
            with(|f: &mut BlockFilter| f.identifier_keys = keys(&["nobody"])),
            vec![],
        ),
    ];
    for (filter, expected) in block_cases {
        let got = store
            .list_blocks(&filter, &page(10, Order::Asc))
            .await
            .unwrap();
        assert_eq!(ids(&got, |b| b.id), expected, "{filter:?}");
        let count = store.count_blocks(&filter).await.unwrap();
        assert_eq!(count, expected.len() as u64, "count of {filter:?}");
    }
}

pub async fn deleting_either_end_removes_only_the_links(store: Arc<dyn Store>) {
    let (a, keep) = (
        agent(&*store, "a").await.id,
        agent(&*store, "keep").await.id,
    );
    let blk = store.create_block(block("x", "1")).await.unwrap().id;
    let mut new = identity("k");
    (new.agents, new.blocks) = (vec![a, keep], vec![blk]);
    let id = store.create_identity(new).await.unwrap().id;
    let other = store.create_identity(identity("other")).await.unwrap().id;
    store
        .update_identity(other, edit(|_| {}), agent_links(Links::Add(vec![keep])))
        .await
        .unwrap();

    store.delete_agent(a).await.unwrap();
    store.delete_block(blk).await.unwrap();
    assert_eq!(linked_agents(&*store, id).await, BTreeSet::from([keep]));
    assert!(linked_blocks(&*store, id).await.is_empty());
    assert_eq!(store.get_identity(id).await.unwrap().identifier_key, "k");

    store.delete_identity(id).await.unwrap();
    assert_not_found(store.get_identity(id).await);
    assert_not_found(store.delete_identity(id).await);
    assert_eq!(store.get_agent(keep).await.unwrap().identity_ids, [other]);
    assert_eq!(store.count_identities().await.unwrap(), 1);
}

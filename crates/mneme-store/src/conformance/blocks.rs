//! `BlockStore`: blocks, one row however many agents hold them.

use std::collections::BTreeSet;
use std::sync::Arc;

use mneme_types::{AgentId, Block, BlockId};
use serde_json::json;

use super::fixtures::*;
use crate::{BlockEdit, BlockFilter, Order, Page, Store};

fn edit(f: impl FnOnce(&mut Block) + Send + 'static) -> BlockEdit {
    Box::new(move |b| {
        f(b);
        Ok(())
    })
}

/// Creates blocks labelled `labels`, in that order, the clock moving between them.
async fn blocks_in_order(store: &dyn Store, labels: &[&str]) -> Vec<BlockId> {
    let mut out = Vec::new();
    for label in labels {
        out.push(store.create_block(block(label, "v")).await.unwrap().id);
        pause().await;
    }
    out
}

async fn listed(store: &dyn Store, filter: &BlockFilter, page: &Page) -> Vec<BlockId> {
    ids(&store.list_blocks(filter, page).await.unwrap(), |b| b.id)
}

pub async fn blocks_round_trip_every_field(store: Arc<dyn Store>) {
    let full: Block = serde_json::from_value(json!({
        "id": BlockId::new(), "label": "human", "value": "v", "limit": 1234,
        "description": "d", "read_only": true, "metadata": {"k": [1, 2]}, "tags": ["a", "b"],
        "hidden": true, "is_template": true, "template_name": "tn", "template_id": "ti",
        "base_template_id": "bi", "deployment_id": "di", "entity_id": "ei", "project_id": "pi",
        "preserve_on_migration": true, "created_by_id": "c", "last_updated_by_id": "u"
    }))
    .unwrap();
    assert_eq!(store.create_block(full.clone()).await.unwrap(), full);
    assert_eq!(store.get_block(full.id).await.unwrap(), full);
    let mut empty = block("x", "");
    empty.label = None;
    empty.metadata = None;
    empty.tags = None;
    empty.preserve_on_migration = None;
    assert_eq!(store.create_block(empty.clone()).await.unwrap(), empty);
    assert_eq!(store.get_block(empty.id).await.unwrap(), empty);
    assert_conflict(store.create_block(full.clone()).await);
    assert_not_found(store.get_block(BlockId::new()).await);
}

pub async fn get_blocks_answers_in_the_order_asked(store: Arc<dyn Store>) {
    let made = blocks_in_order(&*store, &["a", "b", "c"]).await;
    let asked = [made[2], made[0], made[1]];
    let got = store.get_blocks(&asked).await.unwrap();
    assert_eq!(ids(&got, |b| b.id), asked);
    assert_not_found(store.get_blocks(&[made[0], BlockId::new()]).await);
    assert!(store.get_blocks(&[]).await.unwrap().is_empty());
}

pub async fn block_pages_follow_cursors_and_refuse_unknown_ones(store: Arc<dyn Store>) {
    let b = blocks_in_order(&*store, &["a", "b", "c", "d"]).await;
    let all = BlockFilter::default();
    let asc = page(2, Order::Asc);
    assert_eq!(listed(&*store, &all, &asc).await, b[..2]);
    assert_eq!(
        listed(&*store, &all, &cursor(asc.clone(), b[1], true)).await,
        b[2..]
    );
    let wide = page(10, Order::Asc);
    assert_eq!(
        listed(&*store, &all, &cursor(wide, b[2], false)).await,
        b[..2]
    );
    assert_eq!(
        listed(&*store, &all, &page(3, Order::Desc)).await,
        [b[3], b[2], b[1]]
    );
    let older = cursor(page(10, Order::Desc), b[2], true);
    assert_eq!(listed(&*store, &all, &older).await, [b[1], b[0]]);
    let newer = cursor(page(10, Order::Desc), b[1], false);
    assert_eq!(listed(&*store, &all, &newer).await, [b[3], b[2]]);
    let unknown = BlockId::new();
    assert_not_found(
        store
            .list_blocks(&all, &cursor(asc.clone(), unknown, true))
            .await,
    );
    assert_not_found(store.list_blocks(&all, &cursor(asc, unknown, false)).await);
    assert_eq!(store.count_blocks(&all).await.unwrap(), 4);
}

async fn assert_filters(store: &dyn Store, cases: Vec<(BlockFilter, Vec<BlockId>)>) {
    for (filter, expected) in cases {
        let got: BTreeSet<_> = listed(store, &filter, &page(10, Order::Asc))
            .await
            .into_iter()
            .collect();
        let expected: BTreeSet<_> = expected.into_iter().collect();
        assert_eq!(got, expected, "{filter:?}");
        let count = store.count_blocks(&filter).await.unwrap();
        assert_eq!(count, expected.len() as u64, "count of {filter:?}");
    }
}

pub async fn block_filters_and_counts_agree(store: Arc<dyn Store>) {
    let mut human = block("human", "Likes Tea");
    human.description = Some("About the HUMAN".into());
    human.tags = Some(vec!["a".into(), "b".into()]);
    human.project_id = Some("p1".into());
    human.is_template = true;
    human.template_name = Some("tn".into());
    let mut persona = block("persona", "tea drinker");
    persona.tags = Some(vec!["a".into()]);
    let mut notes = block("notes", "x");
    notes.tags = None;
    let (h, p, n) = (human.id, persona.id, notes.id);
    for b in [human, persona, notes] {
        store.create_block(b).await.unwrap();
    }
    let text = |f: fn(&mut BlockFilter, String), s: &str| {
        let mut filter = BlockFilter::default();
        f(&mut filter, s.into());
        filter
    };
    let tags = |tags: &[&str], all: bool| BlockFilter {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        match_all_tags: all,
        ..BlockFilter::default()
    };
    let cases = vec![
        (BlockFilter::default(), vec![h, p, n]),
        (text(|f, s| f.label = Some(s), "human"), vec![h]),
        (
            BlockFilter {
                templates_only: true,
                ..Default::default()
            },
            vec![h],
        ),
        (text(|f, s| f.template_name = Some(s), "tn"), vec![h]),
        (text(|f, s| f.project_id = Some(s), "p1"), vec![h]),
        (text(|f, s| f.label_search = Some(s), "SON"), vec![p]),
        (
            text(|f, s| f.description_search = Some(s), "human"),
            vec![h],
        ),
        (text(|f, s| f.value_search = Some(s), "TEA"), vec![h, p]),
        (tags(&["a"], false), vec![h, p]),
        (tags(&["a", "b"], true), vec![h]),
        (tags(&["b", "c"], false), vec![h]),
        (tags(&["a", "c"], true), vec![]),
    ];
    assert_filters(&*store, cases).await;
}

pub async fn block_counts_of_agents_filter(store: Arc<dyn Store>) {
    let b = blocks_in_order(&*store, &["two", "one", "none"]).await;
    for name in ["x", "y"] {
        let a = agent(&*store, name).await;
        store.attach_block(a.id, b[0]).await.unwrap();
        if name == "x" {
            store.attach_block(a.id, b[1]).await.unwrap();
        }
    }
    let count = |f: fn(&mut BlockFilter)| {
        let mut filter = BlockFilter::default();
        f(&mut filter);
        filter
    };
    let cases = vec![
        (count(|f| f.agents_count_gt = Some(0)), vec![b[0], b[1]]),
        (count(|f| f.agents_count_lt = Some(2)), vec![b[1], b[2]]),
        (count(|f| f.agents_count_eq = vec![0, 2]), vec![b[0], b[2]]),
        (
            count(|f| (f.agents_count_gt, f.agents_count_lt) = (Some(0), Some(2))),
            vec![b[1]],
        ),
    ];
    assert_filters(&*store, cases).await;
}

pub async fn update_block_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let b = store.create_block(block("notes", "v1")).await.unwrap();
    let other = BlockId::new();
    let updated = store
        .update_block(
            b.id,
            edit(move |b| {
                b.value = "v2".into();
                b.description = Some("d".into());
                b.id = other;
            }),
        )
        .await
        .unwrap();
    assert_eq!(updated.id, b.id, "the id is not editable");
    assert_eq!(store.get_block(b.id).await.unwrap(), updated);
    assert_eq!(updated.value, "v2");
    assert_not_found(store.get_block(other).await);
    let refused_edit: BlockEdit = Box::new(|b| {
        b.value = "v3".into();
        Err(refused())
    });
    assert_invalid(store.update_block(b.id, refused_edit).await);
    assert_eq!(store.get_block(b.id).await.unwrap().value, "v2");
    assert_not_found(store.update_block(BlockId::new(), edit(|_| {})).await);
}

pub async fn a_label_change_stays_unique_per_agent(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h"), block("persona", "p")]);
    let a = store.create_agent(new).await.unwrap();
    let persona = store.agent_blocks(a.id).await.unwrap().remove(1);
    let clash = edit(|b| {
        b.label = Some("human".into());
        b.value = "changed".into();
    });
    assert_conflict(store.update_block(persona.id, clash).await);
    assert_eq!(store.get_block(persona.id).await.unwrap(), persona);
    let relabel = edit(|b| b.label = Some("character".into()));
    store.update_block(persona.id, relabel).await.unwrap();
    let found = store
        .update_agent_block(a.id, "character", edit(|b| b.value = "found".into()))
        .await
        .unwrap();
    assert_eq!(found.id, persona.id);
    let by_old_label = store
        .update_agent_block(a.id, "persona", edit(|_| {}))
        .await;
    assert_not_found(by_old_label);
    let twin = store
        .create_agent(new_agent("b", vec![block("character", "c")]))
        .await;
    let twin = twin.unwrap();
    assert_conflict(store.attach_block(twin.id, persona.id).await);
    let loose = store.create_block(block("loose", "l")).await.unwrap();
    let free = edit(|b| b.label = Some("human".into()));
    store.update_block(loose.id, free).await.unwrap();
}

pub async fn update_agent_block_finds_the_block_by_label(store: Arc<dyn Store>) {
    let shared = store.create_block(block("shared", "v1")).await.unwrap();
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    store.attach_block(a.id, shared.id).await.unwrap();
    store.attach_block(b.id, shared.id).await.unwrap();
    let updated = store
        .update_agent_block(a.id, "shared", edit(|b| b.value = "v2".into()))
        .await
        .unwrap();
    assert_eq!((updated.id, updated.value.as_str()), (shared.id, "v2"));
    let seen = store.agent_blocks(b.id).await.unwrap().remove(0);
    assert_eq!(seen.value, "v2", "one row, seen by every agent");
    let refused_edit: BlockEdit = Box::new(|b| {
        b.value = "v3".into();
        Err(refused())
    });
    assert_invalid(store.update_agent_block(a.id, "shared", refused_edit).await);
    assert_eq!(store.get_block(shared.id).await.unwrap().value, "v2");
    assert_not_found(
        store
            .update_agent_block(a.id, "missing", edit(|_| {}))
            .await,
    );
    let unknown = AgentId::new();
    assert_not_found(
        store
            .update_agent_block(unknown, "shared", edit(|_| {}))
            .await,
    );
}

pub async fn delete_block_detaches_it_everywhere(store: Arc<dyn Store>) {
    let shared = store.create_block(block("shared", "v")).await.unwrap();
    let keep = store.create_block(block("keep", "v")).await.unwrap();
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    for agent in [a.id, b.id] {
        store.attach_block(agent, shared.id).await.unwrap();
        store.attach_block(agent, keep.id).await.unwrap();
    }
    store.delete_block(shared.id).await.unwrap();
    for agent in [a.id, b.id] {
        let left = store.agent_blocks(agent).await.unwrap();
        assert_eq!(ids(&left, |b| b.id), [keep.id]);
    }
    assert_not_found(store.get_block(shared.id).await);
    assert!(
        store
            .agent_ids_of_block(shared.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(store.delete_block(shared.id).await);
    assert_eq!(
        store.count_blocks(&BlockFilter::default()).await.unwrap(),
        1
    );
}

pub async fn agents_of_block_page_like_agent_lists(store: Arc<dyn Store>) {
    let shared = store.create_block(block("shared", "v")).await.unwrap();
    let mut agents = Vec::new();
    for i in 0..3 {
        let mut new = new_agent(&format!("a{i}"), vec![]);
        new.agent.created_at = at(i);
        let a = store.create_agent(new).await.unwrap();
        store.attach_block(a.id, shared.id).await.unwrap();
        agents.push(a.id);
    }
    agent(&*store, "not attached").await;
    let of = |page: Page| {
        let store = store.clone();
        async move {
            let got = store.agents_of_block(shared.id, &page).await.unwrap();
            ids(&got, |a| a.id)
        }
    };
    assert_eq!(of(page(2, Order::Asc)).await, agents[..2]);
    assert_eq!(
        of(cursor(page(2, Order::Asc), agents[0], true)).await,
        agents[1..]
    );
    assert_eq!(
        of(page(10, Order::Desc)).await,
        [agents[2], agents[1], agents[0]]
    );
    assert_eq!(
        of(cursor(page(2, Order::Asc), AgentId::new(), true)).await,
        agents[..2]
    );
    assert_not_found(
        store
            .agents_of_block(BlockId::new(), &page(10, Order::Asc))
            .await,
    );
    let all: BTreeSet<_> = store
        .agent_ids_of_block(shared.id)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(all, agents.iter().copied().collect());
}

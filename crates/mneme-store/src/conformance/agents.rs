//! `AgentStore`: agents and their tags: creation, reads, lists, edits and deletion.

use std::collections::BTreeSet;
use std::sync::Arc;

use mneme_types::{AgentId, BlockId};

use super::agent_blocks::labels;
use super::fixtures::*;
use crate::{AgentEdit, AgentFilter, MessageQuery, Order, Role, Store};

async fn listed(store: &dyn Store, filter: &AgentFilter, page: &crate::Page) -> Vec<AgentId> {
    let agents = store.list_agents(filter, page).await.unwrap();
    ids(&agents, |a| a.id)
}

fn edit(f: impl FnOnce(&mut crate::Agent) + Send + 'static) -> AgentEdit {
    Box::new(move |a| {
        f(a);
        Ok(())
    })
}

pub async fn create_agent_stores_everything_at_once(store: Arc<dyn Store>) {
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    let tools = store
        .upsert_tools(vec![tool("a", "custom"), tool("b", "custom")])
        .await
        .unwrap();
    let mut new = new_agent("full", vec![block("human", "h"), block("persona", "p")]);
    new.existing_blocks = vec![shared.id];
    new.tools = vec![tools[1].id, tools[0].id];
    let hello = message(new.agent.id, Role::User, "hello");
    new.agent.message_ids.push(hello.id);
    new.messages.push(hello);
    new.agent.message_ids_version = 7;
    new.agent.tags = vec!["x".into(), "y".into()];
    new.agent.description = Some("about".into());
    new.agent.created_at = at(5);
    let created = store.create_agent(new.clone()).await.unwrap();
    assert_eq!(
        created.message_ids_version, 0,
        "a new context is at version 0"
    );
    let got = store.get_agent(created.id).await.unwrap();
    assert_eq!(got.name, "full");
    assert_eq!(got.tags, ["x", "y"], "tags in the order given");
    assert_eq!(got.description.as_deref(), Some("about"));
    assert_eq!(got.message_ids, new.agent.message_ids);
    assert_eq!(got.message_ids_version, 0);
    assert_eq!(got.created_at, at(5));
    assert_eq!(got.llm_config.model, "m");
    let blocks = store.agent_blocks(got.id).await.unwrap();
    assert_eq!(labels(&blocks), ["human", "persona", "shared"]);
    let attached = store.agent_tools(got.id).await.unwrap();
    assert_eq!(ids(&attached, |t| t.name.clone()), ["b", "a"]);
    let query = MessageQuery {
        limit: 10,
        ..MessageQuery::default()
    };
    let messages = store.list_messages(got.id, &query).await.unwrap();
    assert_eq!(ids(&messages, |m| m.text.clone()), ["compiled", "hello"]);
}

pub async fn a_failed_agent_creation_writes_nothing(store: Arc<dyn Store>) {
    let page = page(10, Order::Asc);
    let dup = new_agent("dup", vec![block("x", "1"), block("x", "2")]);
    let (id, system) = (dup.agent.id, dup.agent.message_ids[0]);
    assert_conflict(store.create_agent(dup).await);
    assert_not_found(store.get_agent(id).await);
    assert_not_found(store.get_message(system).await);
    let blocks = store.list_blocks(&Default::default(), &page).await.unwrap();
    assert!(blocks.is_empty(), "the blocks created with it are gone too");

    let mut unknown = new_agent("unknown block", vec![block("y", "1")]);
    unknown.existing_blocks = vec![BlockId::new()];
    assert_not_found(store.create_agent(unknown).await);
    assert_eq!(
        store.count_agents(&AgentFilter::default()).await.unwrap(),
        0
    );
    assert!(
        store
            .list_blocks(&Default::default(), &page)
            .await
            .unwrap()
            .is_empty()
    );

    let twice = new_agent("twice", vec![]);
    store.create_agent(twice.clone()).await.unwrap();
    assert_conflict(store.create_agent(twice).await);
    assert_eq!(
        store.count_agents(&AgentFilter::default()).await.unwrap(),
        1
    );
}

pub async fn unknown_agents_are_not_found(store: Arc<dyn Store>) {
    let unknown = AgentId::new();
    let b = store.create_block(block("b", "v")).await.unwrap();
    assert_not_found(store.get_agent(unknown).await);
    assert_not_found(store.update_agent(unknown, edit(|_| {}), None).await);
    assert_not_found(store.delete_agent(unknown).await);
    assert_not_found(store.attach_block(unknown, b.id).await);
    assert_not_found(store.detach_block(unknown, b.id).await);
    assert_not_found(store.agent_blocks(unknown).await);
    assert_not_found(store.agent_context(unknown).await);
    assert!(store.agent_ids_of_block(b.id).await.unwrap().is_empty());
}

/// Five agents created one second apart, oldest first.
async fn five_agents(store: &dyn Store) -> Vec<AgentId> {
    let mut out = Vec::new();
    for i in 0..5 {
        let mut new = new_agent(&format!("a{i}"), vec![]);
        new.agent.created_at = at(i);
        out.push(store.create_agent(new).await.unwrap().id);
    }
    out
}

pub async fn agent_pages_follow_cursors_both_ways(store: Arc<dyn Store>) {
    let ids = five_agents(&*store).await;
    let all = AgentFilter::default();
    let asc = page(2, Order::Asc);
    let wide = page(10, Order::Asc);
    assert_eq!(listed(&*store, &all, &asc).await, ids[..2]);
    assert_eq!(
        listed(&*store, &all, &cursor(asc.clone(), ids[1], true)).await,
        ids[2..4]
    );
    assert_eq!(
        listed(&*store, &all, &cursor(wide.clone(), ids[3], false)).await,
        ids[..3]
    );
    let between = cursor(cursor(wide, ids[0], true), ids[4], false);
    assert_eq!(listed(&*store, &all, &between).await, ids[1..4]);
    let desc = page(2, Order::Desc);
    assert_eq!(listed(&*store, &all, &desc).await, [ids[4], ids[3]]);
    let older = cursor(page(10, Order::Desc), ids[3], true);
    assert_eq!(
        listed(&*store, &all, &older).await,
        [ids[2], ids[1], ids[0]]
    );
    let newer = cursor(page(10, Order::Desc), ids[1], false);
    assert_eq!(
        listed(&*store, &all, &newer).await,
        [ids[4], ids[3], ids[2]]
    );
    // Unknown cursors are ignored for agents, as Letta does.
    let unknown = cursor(asc, AgentId::new(), true);
    assert_eq!(listed(&*store, &all, &unknown).await, ids[..2]);
    assert_eq!(store.count_agents(&all).await.unwrap(), 5);
}

pub async fn agent_pages_order_by_update_and_last_run(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    for (i, (updated, last_run)) in [(30, None), (20, Some(50)), (10, Some(40))]
        .into_iter()
        .enumerate()
    {
        let mut new = new_agent(&format!("a{i}"), vec![]);
        new.agent.created_at = at(i as i64);
        new.agent.updated_at = at(updated);
        new.agent.last_run_completion = last_run.map(at);
        made.push(store.create_agent(new).await.unwrap().id);
    }
    let (a, b, c) = (made[0], made[1], made[2]);
    let all = AgentFilter::default();
    let by = |column: &str, order| crate::Page {
        order_by: Some(column.into()),
        ..page(10, order)
    };
    assert_eq!(
        listed(&*store, &all, &by("updated_at", Order::Asc)).await,
        [c, b, a]
    );
    let after_c = cursor(by("updated_at", Order::Asc), c, true);
    assert_eq!(listed(&*store, &all, &after_c).await, [b, a]);
    let last_run = by("last_run_completion", Order::Asc);
    assert_eq!(
        listed(&*store, &all, &last_run).await,
        [a, c, b],
        "never run first"
    );
    let last_run = by("last_run_completion", Order::Desc);
    assert_eq!(listed(&*store, &all, &last_run).await, [b, c, a]);
    assert_eq!(
        listed(&*store, &all, &by("created_at", Order::Asc)).await,
        [a, b, c]
    );
}

pub async fn agent_filters_and_counts_agree(store: Arc<dyn Store>) {
    let mut one = new_agent("alpha", vec![]);
    one.agent.tags = vec!["red".into(), "blue".into()];
    one.agent.project_id = Some("p1".into());
    one.agent.template_id = Some("t1".into());
    one.agent.base_template_id = Some("b1".into());
    one.agent.last_stop_reason = Some("end_turn".into());
    let mut two = new_agent("Beta", vec![]);
    two.agent.tags = vec!["red".into()];
    two.agent.project_id = Some("p2".into());
    let mut three = new_agent("alphabet", vec![]);
    three.agent.tags = vec![];
    let a1 = store.create_agent(one).await.unwrap().id;
    let a2 = store.create_agent(two).await.unwrap().id;
    let a3 = store.create_agent(three).await.unwrap().id;
    let tags = |tags: &[&str], all: bool| AgentFilter {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        match_all_tags: all,
        ..AgentFilter::default()
    };
    let f = |g: fn(&mut AgentFilter)| with(g);
    let cases = [
        (AgentFilter::default(), vec![a1, a2, a3]),
        (f(|f| f.name = Some("alpha".into())), vec![a1]),
        (f(|f| f.query_text = Some("ALPHA".into())), vec![a1, a3]),
        (tags(&["red"], false), vec![a1, a2]),
        (tags(&["red", "blue"], false), vec![a1, a2]),
        (tags(&["red", "blue"], true), vec![a1]),
        (tags(&["red", "red"], true), vec![a1, a2]),
        (f(|f| f.project_id = Some("p1".into())), vec![a1]),
        (f(|f| f.template_id = Some("t1".into())), vec![a1]),
        (f(|f| f.base_template_id = Some("b1".into())), vec![a1]),
        (
            f(|f| f.last_stop_reason = Some("end_turn".into())),
            vec![a1],
        ),
    ];
    for (filter, expected) in cases {
        let got: BTreeSet<_> = listed(&*store, &filter, &page(10, Order::Asc))
            .await
            .into_iter()
            .collect();
        let expected: BTreeSet<_> = expected.into_iter().collect();
        assert_eq!(got, expected, "{filter:?}");
        let count = store.count_agents(&filter).await.unwrap();
        assert_eq!(count, expected.len() as u64, "count of {filter:?}");
    }
    let by_id = AgentFilter {
        id: Some(a2),
        ..AgentFilter::default()
    };
    assert_eq!(
        listed(&*store, &by_id, &page(10, Order::Asc)).await,
        vec![a2]
    );
    assert_eq!(store.count_agents(&by_id).await.unwrap(), 1);
    let other = AgentFilter {
        id: Some(a2),
        name: Some("alpha".into()),
        ..AgentFilter::default()
    };
    assert_eq!(store.count_agents(&other).await.unwrap(), 0);
}

pub async fn update_agent_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let a = agent(&*store, "before").await;
    let other = AgentId::new();
    let updated = store
        .update_agent(
            a.id,
            edit(move |a| {
                a.name = "after".into();
                a.description = Some("d".into());
                a.tags = vec!["new".into()];
                a.settings.timezone = Some("Europe/Paris".into());
                a.id = other;
            }),
            None,
        )
        .await
        .unwrap();
    assert_eq!(updated.id, a.id, "the id is not editable");
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.name, "after");
    assert_eq!(got.description.as_deref(), Some("d"));
    assert_eq!(got.tags, ["new"]);
    assert_eq!(got.settings.timezone.as_deref(), Some("Europe/Paris"));
    assert_not_found(store.get_agent(other).await);

    let refused_edit: AgentEdit = Box::new(|a| {
        a.name = "refused".into();
        Err(refused())
    });
    assert_invalid(store.update_agent(a.id, refused_edit, None).await);
    let blocks = Some(vec![BlockId::new()]);
    let renamed = edit(|a| a.name = "with unknown block".into());
    assert_not_found(store.update_agent(a.id, renamed, blocks).await);
    assert_eq!(store.get_agent(a.id).await.unwrap().name, "after");
}

pub async fn an_agent_edit_of_message_ids_bumps_their_version(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let after_step = append(&*store, a.id, vec![message(a.id, Role::User, "hi")]).await;
    assert_eq!(after_step.message_ids_version, 1);
    let renamed = store
        .update_agent(a.id, edit(|a| a.name = "b".into()), None)
        .await
        .unwrap();
    assert_eq!(
        renamed.message_ids_version, 1,
        "other fields leave the version"
    );
    let same = after_step.message_ids.clone();
    let unchanged = store
        .update_agent(a.id, edit(move |a| a.message_ids = same), None)
        .await
        .unwrap();
    assert_eq!(
        unchanged.message_ids_version, 1,
        "the same ids are no change"
    );
    let system = vec![a.message_ids[0]];
    let trimmed = store
        .update_agent(a.id, edit(move |a| a.message_ids = system), None)
        .await
        .unwrap();
    assert_eq!(trimmed.message_ids_version, 2);
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!((got.message_ids.len(), got.message_ids_version), (1, 2));
    let forged = store
        .update_agent(a.id, edit(|a| a.message_ids_version = 99), None)
        .await
        .unwrap();
    assert_eq!(
        forged.message_ids_version, 2,
        "an edit cannot set the version"
    );
    assert_eq!(store.get_agent(a.id).await.unwrap().message_ids_version, 2);
}

pub async fn delete_agent_takes_its_own_rows_along(store: Arc<dyn Store>) {
    let a = store
        .create_agent(new_agent("doomed", vec![block("human", "h")]))
        .await
        .unwrap();
    let human = store.agent_blocks(a.id).await.unwrap().remove(0);
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    store.attach_block(a.id, shared.id).await.unwrap();
    let t = store.upsert_tools(vec![tool("t", "custom")]).await.unwrap();
    store.attach_tool(a.id, t[0].id).await.unwrap();
    let m = message(a.id, Role::User, "hi");
    let run = run_for(&*store, a.id).await;
    let c = commit(&a, run, vec![m.clone()]);
    let step = c.step.as_ref().unwrap().id;
    store.commit_step(c).await.unwrap();
    let chunk = crate::RunChunk {
        seq: 1,
        event: None,
        data: "{}".into(),
    };
    store.append_chunks(run, vec![chunk]).await.unwrap();
    let survivor = agent(&*store, "survivor").await;

    store.delete_agent(a.id).await.unwrap();
    assert_not_found(store.get_agent(a.id).await);
    assert_not_found(store.get_message(m.id).await);
    assert_not_found(store.get_message(a.message_ids[0]).await);
    assert_not_found(store.get_run(run).await);
    assert_not_found(store.get_step(step).await);
    assert!(store.read_chunks(run, 0, 10).await.unwrap().is_empty());
    store.get_block(human.id).await.unwrap();
    assert!(
        store
            .agent_ids_of_block(shared.id)
            .await
            .unwrap()
            .is_empty()
    );
    store.get_tool(t[0].id).await.unwrap();
    let tagged = with(|f: &mut AgentFilter| f.tags = vec!["t".into()]);
    let left = listed(&*store, &tagged, &page(10, Order::Asc)).await;
    assert_eq!(left, [survivor.id]);
    assert_not_found(store.delete_agent(a.id).await);
}

pub async fn delete_agent_takes_only_the_archives_it_alone_owns(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "doomed").await, agent(&*store, "b").await);
    let own = store.default_archive(a.id, archive("own")).await.unwrap();
    let lent = store.create_archive(archive("lent"), Some(a.id)).await;
    let lent = lent.unwrap();
    store.attach_archive(b.id, lent.id).await.unwrap();
    let foreign = store.create_archive(archive("foreign"), None).await;
    let foreign = foreign.unwrap();
    store.attach_archive(a.id, foreign.id).await.unwrap();
    store.delete_agent(a.id).await.unwrap();
    assert_not_found(store.get_archive(own.id).await);
    let readers = store
        .agents_of_archive(lent.id, &page(10, Order::Asc))
        .await;
    let readers = ids(&readers.unwrap(), |a| a.id);
    assert_eq!(readers, [b.id], "an archive another agent uses stays");
    store.get_archive(foreign.id).await.unwrap();
}

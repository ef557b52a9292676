//! `GroupStore`: groups with members in order, a manager, shared blocks; listings, edits and
//! deletes.

use std::sync::Arc;

use mneme_types::{AgentId, Group, ManagerConfig, ManagerType, MessageId};

use super::fixtures::*;
use crate::{GroupFilter, Message, MessageQuery, Order, Role, Store};

fn round_robin(members: &[&crate::Agent]) -> Group {
    Group::new(
        members.iter().map(|a| a.id).collect(),
        "team".into(),
        &ManagerConfig::RoundRobin { max_turns: Some(3) },
    )
}

pub async fn create_group_keeps_members_in_order_and_shares_blocks(store: Arc<dyn Store>) {
    let (a, b, boss) = (
        agent(&*store, "a").await,
        agent(&*store, "b").await,
        agent(&*store, "boss").await,
    );
    let shared = store.create_block(block("team_notes", "x")).await.unwrap();
    let mut g = Group::new(
        vec![b.id, a.id],
        "supervised".into(),
        &ManagerConfig::Supervisor {
            manager_agent_id: boss.id,
        },
    );
    g.shared_block_ids = vec![shared.id];
    let created = store.create_group(g.clone(), Vec::new()).await.unwrap();
    assert_eq!(created, g);
    assert_eq!(store.get_group(g.id).await.unwrap(), g);
    for holder in [a.id, b.id, boss.id] {
        let labels: Vec<_> = store.agent_blocks(holder).await.unwrap();
        assert!(labels.iter().any(|blk| blk.id == shared.id), "{holder}");
    }
    assert_eq!(
        ids(&store.groups_of_agent(a.id, None).await.unwrap(), |g| g.id),
        vec![g.id]
    );
    assert!(
        store
            .groups_of_agent(boss.id, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&store.managed_groups(boss.id).await.unwrap(), |g| g.id),
        vec![g.id]
    );
}

pub async fn a_failed_group_creation_writes_nothing(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let companion = new_agent("companion", vec![]);
    let mut g = round_robin(&[&a]);
    g.agent_ids.push(companion.agent.id);
    g.agent_ids.push(mneme_types::AgentId::new());
    assert_not_found(store.create_group(g.clone(), vec![companion.clone()]).await);
    assert_not_found(store.get_group(g.id).await);
    assert_not_found(store.get_agent(companion.agent.id).await);

    // A member holding another block with a shared block's label refuses the whole group.
    let mine = block("notes", "mine");
    let b = store
        .create_agent(new_agent("b", vec![mine]))
        .await
        .unwrap();
    let shared = store.create_block(block("notes", "shared")).await.unwrap();
    let mut g = round_robin(&[&a, &b]);
    g.shared_block_ids = vec![shared.id];
    assert_conflict(store.create_group(g.clone(), Vec::new()).await);
    assert_not_found(store.get_group(g.id).await);
    assert!(store.agent_blocks(a.id).await.unwrap().is_empty());
}

pub async fn a_group_created_with_new_agents_holds_them(store: Arc<dyn Store>) {
    let primary = agent(&*store, "primary").await;
    let companion = new_agent("primary-sleeptime", vec![]);
    let g = Group::new(
        vec![companion.agent.id],
        "sleeptime".into(),
        &ManagerConfig::Sleeptime {
            manager_agent_id: primary.id,
            sleeptime_agent_frequency: Some(5),
        },
    );
    let created = store
        .create_group(g.clone(), vec![companion.clone()])
        .await
        .unwrap();
    assert_eq!(created.turns_counter, Some(-1));
    assert_eq!(
        store.get_agent(companion.agent.id).await.unwrap().name,
        "primary-sleeptime"
    );
    // Deleting it with its members takes the companion, never the manager.
    store.delete_group(g.id, true).await.unwrap();
    assert_not_found(store.get_group(g.id).await);
    assert_not_found(store.get_agent(companion.agent.id).await);
    store.get_agent(primary.id).await.unwrap();
}

pub async fn group_lists_filter_hide_and_page(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut made = Vec::new();
    for i in 0..3 {
        let mut g = round_robin(&[&a]);
        g.project_id = Some(format!("p{}", i % 2));
        made.push(store.create_group(g, Vec::new()).await.unwrap().id);
        pause().await;
    }
    let mut hidden = Group::new(
        vec![],
        "hidden".into(),
        &ManagerConfig::Sleeptime {
            manager_agent_id: a.id,
            sleeptime_agent_frequency: None,
        },
    );
    hidden.hidden = Some(true);
    store
        .create_group(hidden.clone(), Vec::new())
        .await
        .unwrap();

    let all = GroupFilter::default();
    let listed = store
        .list_groups(&all, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&listed, |g| g.id), made);
    assert_eq!(store.count_groups(&all).await.unwrap(), 3);
    let with_hidden = with(|f: &mut GroupFilter| f.show_hidden = true);
    assert_eq!(store.count_groups(&with_hidden).await.unwrap(), 4);
    let sleeptime = with(|f: &mut GroupFilter| {
        f.show_hidden = true;
        f.manager_type = Some(ManagerType::Sleeptime);
    });
    let listed = store.list_groups(&sleeptime, &page(10, Order::Asc)).await;
    assert_eq!(ids(&listed.unwrap(), |g| g.id), vec![hidden.id]);
    let p0 = with(|f: &mut GroupFilter| f.project_id = Some("p0".into()));
    assert_eq!(store.count_groups(&p0).await.unwrap(), 2);

    let after = cursor(page(10, Order::Asc), made[0], true);
    let listed = store.list_groups(&all, &after).await.unwrap();
    assert_eq!(ids(&listed, |g| g.id), made[1..].to_vec());
    let before = cursor(page(10, Order::Desc), made[2], true);
    let listed = store.list_groups(&all, &before).await.unwrap();
    assert_eq!(ids(&listed, |g| g.id), vec![made[1], made[0]]);
    let unknown = cursor(page(10, Order::Asc), mneme_types::GroupId::new(), true);
    assert_not_found(store.list_groups(&all, &unknown).await);
}

pub async fn update_group_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let g = store
        .create_group(round_robin(&[&a]), Vec::new())
        .await
        .unwrap();
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    let updated = store
        .update_group(
            g.id,
            Box::new(move |g| {
                g.agent_ids = vec![b.id, a.id];
                g.description = "renamed".into();
                g.turns_counter = Some(2);
                g.shared_block_ids = vec![shared.id];
                g.manager_type = ManagerType::Dynamic;
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(updated.agent_ids, vec![b.id, a.id]);
    assert_eq!(updated.manager_type, ManagerType::RoundRobin);
    assert_eq!(store.get_group(g.id).await.unwrap(), updated);
    assert!(
        store
            .agent_blocks(b.id)
            .await
            .unwrap()
            .iter()
            .any(|blk| blk.id == shared.id)
    );

    let refused_edit = store.update_group(
        g.id,
        Box::new(|g| {
            g.description = "never".into();
            Err(refused())
        }),
    );
    assert_invalid(refused_edit.await);
    let unknown_member = store.update_group(
        g.id,
        Box::new(|g| {
            g.agent_ids.push(mneme_types::AgentId::new());
            Ok(())
        }),
    );
    assert_not_found(unknown_member.await);
    assert_eq!(store.get_group(g.id).await.unwrap(), updated);
}

pub async fn deleting_agents_and_groups_keeps_the_rest(store: Arc<dyn Store>) {
    let (a, b, boss) = (
        agent(&*store, "a").await,
        agent(&*store, "b").await,
        agent(&*store, "boss").await,
    );
    let g = store
        .create_group(round_robin(&[&a, &b]), Vec::new())
        .await
        .unwrap();
    let managed = Group::new(
        vec![a.id],
        "dyn".into(),
        &ManagerConfig::Dynamic {
            manager_agent_id: boss.id,
            termination_token: None,
            max_turns: None,
        },
    );
    store
        .create_group(managed.clone(), Vec::new())
        .await
        .unwrap();

    // A deleted member leaves its groups; a deleted manager takes its groups along.
    store.delete_agent(b.id).await.unwrap();
    assert_eq!(store.get_group(g.id).await.unwrap().agent_ids, vec![a.id]);
    store.delete_agent(boss.id).await.unwrap();
    assert_not_found(store.get_group(managed.id).await);

    store.delete_group(g.id, false).await.unwrap();
    assert_not_found(store.get_group(g.id).await);
    store.get_agent(a.id).await.unwrap();
    assert_not_found(store.delete_group(g.id, false).await);
}

pub async fn group_blocks_attach_to_members_and_detach_from_the_group(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let g = store
        .create_group(round_robin(&[&a, &b]), Vec::new())
        .await
        .unwrap();
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    store.attach_group_block(g.id, shared.id).await.unwrap();
    store.attach_group_block(g.id, shared.id).await.unwrap();
    assert_eq!(
        store.get_group(g.id).await.unwrap().shared_block_ids,
        vec![shared.id]
    );
    assert_eq!(store.agent_ids_of_block(shared.id).await.unwrap().len(), 2);

    store.detach_group_block(g.id, shared.id).await.unwrap();
    assert!(
        store
            .get_group(g.id)
            .await
            .unwrap()
            .shared_block_ids
            .is_empty()
    );
    assert_eq!(store.agent_ids_of_block(shared.id).await.unwrap().len(), 2);
    assert_not_found(store.detach_group_block(g.id, shared.id).await);
    let missing = store.create_block(block("other", "o")).await.unwrap();
    store.delete_block(missing.id).await.unwrap();
    assert_not_found(store.attach_group_block(g.id, missing.id).await);
}

/// A message of `agent` stamped with `group`.
fn said_in(group: mneme_types::GroupId, agent: AgentId, role: Role, text: &str) -> Message {
    let mut m = message(agent, role, text);
    m.group_id = Some(group.to_string());
    m
}

fn messages_query(limit: u32, order: Order) -> MessageQuery {
    MessageQuery {
        limit,
        order,
        ..MessageQuery::default()
    }
}

async fn group_listed(
    store: &dyn Store,
    group: mneme_types::GroupId,
    q: &MessageQuery,
) -> Vec<MessageId> {
    ids(&store.group_messages(group, q).await.unwrap(), |m| m.id)
}

pub async fn group_messages_page_across_agents_in_storage_order(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let g = store
        .create_group(round_robin(&[&a, &b]), Vec::new())
        .await
        .unwrap();
    let first = said_in(g.id, a.id, Role::User, "hello");
    let outside = message(a.id, Role::User, "not in the group");
    append(&*store, a.id, vec![first.clone(), outside]).await;
    let run = run_for(&*store, b.id).await;
    let mut second = said_in(g.id, b.id, Role::System, "a said hello");
    let mut third = said_in(g.id, b.id, Role::Assistant, "hi");
    second.run_id = Some(run);
    third.run_id = Some(run);
    let current = store.get_agent(b.id).await.unwrap();
    let step = commit(&current, run, vec![second.clone(), third.clone()]);
    store.commit_step(step).await.unwrap();

    let all = [first.id, second.id, third.id];
    let asc = messages_query(10, Order::Asc);
    assert_eq!(group_listed(&*store, g.id, &asc).await, all);
    // `Desc` takes the newest rows and reads them oldest first.
    let newest = messages_query(2, Order::Desc);
    assert_eq!(group_listed(&*store, g.id, &newest).await, all[1..]);
    let after = MessageQuery {
        after: Some(first.id),
        ..asc.clone()
    };
    assert_eq!(group_listed(&*store, g.id, &after).await, all[1..]);
    let before = MessageQuery {
        before: Some(third.id),
        ..asc.clone()
    };
    assert_eq!(group_listed(&*store, g.id, &before).await, all[..2]);
    let of_run = MessageQuery {
        run_id: Some(run),
        ..asc.clone()
    };
    assert_eq!(group_listed(&*store, g.id, &of_run).await, all[1..]);

    let unknown_cursor = MessageQuery {
        after: Some(MessageId::new()),
        ..asc.clone()
    };
    assert_not_found(store.group_messages(g.id, &unknown_cursor).await);
    let other = mneme_types::GroupId::new();
    assert_not_found(store.group_messages(other, &asc).await);
}

pub async fn delivered_group_messages_join_the_contexts_asked(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let g = store
        .create_group(round_robin(&[&a, &b]), Vec::new())
        .await
        .unwrap();
    let for_a = message(a.id, Role::System, "b said hi");
    let for_b = message(b.id, Role::System, "a said hi");
    let delivery = vec![for_a.clone(), for_b.clone()];
    store
        .deliver_group_messages(g.id, delivery, &[a.id])
        .await
        .unwrap();

    let after_a = store.get_agent(a.id).await.unwrap();
    assert_eq!(after_a.message_ids, [a.message_ids[0], for_a.id]);
    assert_eq!(after_a.message_ids_version, a.message_ids_version + 1);
    let after_b = store.get_agent(b.id).await.unwrap();
    assert_eq!(after_b.message_ids, b.message_ids, "stored, not in context");
    assert_eq!(after_b.message_ids_version, b.message_ids_version);
    let stored = store.get_message(for_b.id).await.unwrap();
    assert_eq!(stored.group_id, Some(g.id.to_string()));
    let asc = messages_query(10, Order::Asc);
    assert_eq!(
        group_listed(&*store, g.id, &asc).await,
        [for_a.id, for_b.id]
    );

    // An unknown agent refuses the whole delivery.
    let lost = message(AgentId::new(), Role::System, "nobody");
    let kept_out = message(a.id, Role::System, "never");
    let only_a = [a.id];
    let refused = store.deliver_group_messages(g.id, vec![kept_out.clone(), lost], &only_a);
    assert_not_found(refused.await);
    assert_not_found(store.get_message(kept_out.id).await);
    let unknown = mneme_types::GroupId::new();
    let refused = store.deliver_group_messages(unknown, vec![kept_out], &[]);
    assert_not_found(refused.await);
}

pub async fn resetting_group_messages_takes_them_out_of_every_context(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let g = store
        .create_group(round_robin(&[&a, &b]), Vec::new())
        .await
        .unwrap();
    let asked = said_in(g.id, a.id, Role::User, "hello");
    let mine = message(a.id, Role::User, "private");
    let answer = said_in(g.id, a.id, Role::Assistant, "hi");
    let before = append(
        &*store,
        a.id,
        vec![asked.clone(), mine.clone(), answer.clone()],
    )
    .await;
    let fork = new_conversation(a.id, vec![], vec![asked.id, mine.id]);
    let fork = store.create_conversation(fork).await.unwrap();
    store
        .deliver_group_messages(g.id, vec![message(b.id, Role::System, "a: hi")], &[b.id])
        .await
        .unwrap();

    assert_eq!(store.reset_group_messages(g.id).await.unwrap(), 3);
    let after = store.get_agent(a.id).await.unwrap();
    assert_eq!(after.message_ids, [a.message_ids[0], mine.id]);
    assert_eq!(after.message_ids_version, before.message_ids_version + 1);
    assert_eq!(
        store.get_agent(b.id).await.unwrap().message_ids,
        b.message_ids
    );
    let fork_after = store.get_conversation(fork.id).await.unwrap();
    assert_eq!(fork_after.message_ids, [fork.message_ids[0], mine.id]);
    assert_eq!(fork_after.message_ids_version, fork.message_ids_version + 1);
    assert_not_found(store.get_message(answer.id).await);
    store.get_message(mine.id).await.unwrap();
    let asc = messages_query(10, Order::Asc);
    assert!(group_listed(&*store, g.id, &asc).await.is_empty());
    assert_eq!(store.reset_group_messages(g.id).await.unwrap(), 0);
    let unknown = mneme_types::GroupId::new();
    assert_not_found(store.reset_group_messages(unknown).await);
}

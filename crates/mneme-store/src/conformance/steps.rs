//! `RunStore::commit_step`: a whole step or nothing, and the version check on the context.

use std::sync::Arc;

use mneme_types::{MessageId, RunId, RunStatus};

use super::fixtures::*;
use crate::{Agent, BlockChange, PassageList, Role, Store};

async fn passages_of(store: &dyn Store, archive: mneme_types::ArchiveId) -> usize {
    let all = PassageList {
        limit: 100,
        ascending: true,
        ..PassageList::default()
    };
    store.list_passages(&[archive], &all).await.unwrap().len()
}

pub async fn a_step_commits_everything_or_nothing(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "v1")]);
    let a = store.create_agent(new).await.unwrap();
    let run = run_for(&*store, a.id).await;
    let human = store.agent_blocks(a.id).await.unwrap().remove(0);
    let user = message(a.id, Role::User, "hi");
    let mut edited = human.clone();
    edited.value = "v2".into();
    let step = |expected: &str| {
        let mut c = commit(&a, run, vec![user.clone()]);
        c.block_changes = vec![BlockChange::Update {
            expected: expected.into(),
            block: edited.clone(),
        }];
        c
    };
    // The block changed since the step read it: the whole step is refused.
    let stale = step("something else");
    let stale_step = stale.step.as_ref().unwrap().id;
    assert_conflict(store.commit_step(stale).await);
    assert_not_found(store.get_message(user.id).await);
    assert_not_found(store.get_step(stale_step).await);
    assert_eq!(store.get_block(human.id).await.unwrap().value, "v1");
    assert_eq!(
        store.get_agent(a.id).await.unwrap().message_ids,
        a.message_ids
    );
    assert_eq!(store.get_run(run).await.unwrap().data.usage.step_count, 0);

    store.commit_step(step("v1")).await.unwrap();
    assert_eq!(store.get_message(user.id).await.unwrap().text, "hi");
    assert_eq!(store.get_block(human.id).await.unwrap().value, "v2");
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, [a.message_ids[0], user.id]);
    let usage = store.get_run(run).await.unwrap().data.usage;
    assert_eq!(
        (usage.total_tokens, usage.prompt_tokens, usage.step_count),
        (12, 10, 1)
    );
}

pub async fn a_step_writes_blocks_system_text_and_passages(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "h"), block("persona", "p")]);
    let a = store.create_agent(new).await.unwrap();
    let run = run_for(&*store, a.id).await;
    let own = store.default_archive(a.id, archive("own")).await.unwrap();
    let blocks = store.agent_blocks(a.id).await.unwrap();
    let (human, persona) = (blocks[0].clone(), blocks[1].clone());
    let mut changed = human.clone();
    changed.value = "h2".into();
    let notes = block("notes", "n");
    let mut c = commit(&a, run, vec![message(a.id, Role::Assistant, "done")]);
    c.block_changes = vec![
        BlockChange::Update {
            expected: "h".into(),
            block: changed,
        },
        BlockChange::Create {
            block: notes.clone(),
        },
        BlockChange::Detach { id: persona.id },
    ];
    c.system_text = Some((a.message_ids[0], "new system".into()));
    c.passages = vec![
        passage(own.id, "one", &[], None),
        passage(own.id, "two", &[], None),
    ];
    store.commit_step(c).await.unwrap();
    let now = store.agent_blocks(a.id).await.unwrap();
    assert_eq!(
        ids(&now, |b| b.label.clone()),
        [Some("human".into()), Some("notes".into())]
    );
    assert_eq!((now[0].value.as_str(), now[1].id), ("h2", notes.id));
    store.get_block(persona.id).await.unwrap();
    assert_eq!(
        store.get_message(a.message_ids[0]).await.unwrap().text,
        "new system"
    );
    assert_eq!(passages_of(&*store, own.id).await, 2);

    let after = store.get_agent(a.id).await.unwrap();
    let mut twin = commit(&after, run, vec![message(a.id, Role::User, "twin")]);
    twin.block_changes = vec![BlockChange::Create {
        block: block("notes", "again"),
    }];
    let twin_message = twin.messages[0].id;
    assert_conflict(store.commit_step(twin).await);
    assert_not_found(store.get_message(twin_message).await);
    assert_eq!(store.agent_blocks(a.id).await.unwrap().len(), 2);
    let usage = store.get_run(run).await.unwrap().data.usage;
    assert_eq!((usage.total_tokens, usage.step_count), (12, 1));
}

pub async fn a_stale_context_version_is_refused_and_writes_nothing(store: Arc<dyn Store>) {
    let a = store
        .create_agent(new_agent("a", vec![block("human", "h")]))
        .await
        .unwrap();
    let own = store.default_archive(a.id, archive("own")).await.unwrap();
    let run = run_for(&*store, a.id).await;
    let human = store.agent_blocks(a.id).await.unwrap().remove(0);
    let first = message(a.id, Role::User, "first");
    store
        .commit_step(commit(&a, run, vec![first.clone()]))
        .await
        .unwrap();

    // A second writer still holding the context as it was before the first step.
    let second = message(a.id, Role::User, "second");
    let mut stale = commit(&a, run, vec![second.clone()]);
    let mut changed = human.clone();
    changed.value = "h2".into();
    stale.block_changes = vec![BlockChange::Update {
        expected: "h".into(),
        block: changed,
    }];
    stale.system_text = Some((a.message_ids[0], "stale system".into()));
    stale.passages = vec![passage(own.id, "stale", &[], None)];
    let stale_step = stale.step.as_ref().unwrap().id;
    assert_conflict(store.commit_step(stale.clone()).await);
    assert_not_found(store.get_message(second.id).await);
    assert_not_found(store.get_step(stale_step).await);
    assert_eq!(store.get_block(human.id).await.unwrap().value, "h");
    assert_eq!(
        store.get_message(a.message_ids[0]).await.unwrap().text,
        "compiled"
    );
    assert_eq!(passages_of(&*store, own.id).await, 0);
    assert_eq!(store.get_run(run).await.unwrap().data.usage.step_count, 1);
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(
        got.message_ids,
        [a.message_ids[0], first.id],
        "the first step's context stays"
    );
    assert_eq!(got.message_ids_version, 1);

    // Read again, the same step goes through.
    let mut fresh = commit(&got, run, vec![second.clone()]);
    fresh.block_changes = stale.block_changes;
    store.commit_step(fresh).await.unwrap();
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, [a.message_ids[0], first.id, second.id]);
    assert_eq!(got.message_ids_version, 2);
}

pub async fn sequential_steps_advance_the_context_version(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    // A turn's loop: it reads the agent once and follows its own commits.
    let mut tracked: Agent = a.clone();
    let mut sent = Vec::new();
    for i in 0..3 {
        let m = message(a.id, Role::User, &format!("m{i}"));
        let c = commit(&tracked, run, vec![m.clone()]);
        store.commit_step(c.clone()).await.unwrap();
        tracked.message_ids = c.message_ids;
        tracked.message_ids_version += 1;
        sent.push(m.id);
    }
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids_version, 3);
    assert_eq!(got.message_ids, tracked.message_ids);
    assert_eq!(got.message_ids[1..], sent[..]);
    let mut replay = commit(&tracked, run, vec![]);
    replay.message_ids_version = 2;
    assert_conflict(store.commit_step(replay).await);
    assert_eq!(store.get_run(run).await.unwrap().data.usage.step_count, 3);
}

pub async fn other_writers_of_message_ids_make_a_step_stale(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let read = store.get_agent(a.id).await.unwrap();
    store.reset_messages(a.id, vec![]).await.unwrap();
    assert_conflict(store.commit_step(commit(&read, run, vec![])).await);

    let read = store.get_agent(a.id).await.unwrap();
    let ids = read.message_ids.clone();
    let rewrite = Box::new(move |a: &mut Agent| {
        a.message_ids = ids.into_iter().chain([MessageId::new()]).collect();
        Ok(())
    });
    store.update_agent(a.id, rewrite, None).await.unwrap();
    assert_conflict(store.commit_step(commit(&read, run, vec![])).await);

    // Writes that leave the ids alone leave a step's read valid.
    let read = store.get_agent(a.id).await.unwrap();
    let rename = Box::new(|a: &mut Agent| {
        a.name = "renamed".into();
        Ok(())
    });
    store.update_agent(a.id, rename, None).await.unwrap();
    store
        .set_message_text(read.message_ids[0], "recompiled".into())
        .await
        .unwrap();
    let other = run_for(&*store, a.id).await;
    store
        .finish_run(other, Box::new(|r| r.status = RunStatus::Completed))
        .await
        .unwrap();
    store.commit_step(commit(&read, run, vec![])).await.unwrap();
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids_version, read.message_ids_version + 1);
}

pub async fn a_step_of_an_unknown_agent_is_not_found(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let ghost = new_agent("ghost", vec![]).agent;
    let m = message(ghost.id, Role::User, "boo");
    assert_not_found(
        store
            .commit_step(commit(&ghost, run, vec![m.clone()]))
            .await,
    );
    assert_not_found(store.get_message(m.id).await);
    let m = message(a.id, Role::User, "lost");
    assert_not_found(
        store
            .commit_step(commit(&a, RunId::new(), vec![m.clone()]))
            .await,
    );
    assert_not_found(store.get_message(m.id).await);
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(
        (got.message_ids, got.message_ids_version),
        (a.message_ids, 0)
    );
}

pub async fn a_step_in_two_commits_replaces_its_pending_record(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let page = crate::Page {
        limit: 10,
        ..crate::Page::default()
    };
    // The model's answer first, its step `pending` and not yet in the run's usage.
    let answer = message(a.id, Role::Assistant, "calling");
    let mut first = commit(&a, run, vec![answer.clone()]);
    let step = first.step.as_mut().unwrap();
    step.status = mneme_types::Step::PENDING.into();
    let id = step.id;
    store.commit_step(first).await.unwrap();
    assert!(store.get_step(id).await.unwrap().is_pending());
    assert_eq!(store.get_run(run).await.unwrap().data.usage.step_count, 0);

    // The returns second, under the same step id: one record, counted once.
    let read = store.get_agent(a.id).await.unwrap();
    let tool = message(a.id, Role::Tool, "returned");
    let mut second = commit(&read, run, vec![tool.clone()]);
    second.step.as_mut().unwrap().id = id;
    store.commit_step(second.clone()).await.unwrap();
    assert_eq!(store.get_step(id).await.unwrap().status, "success");
    assert_eq!(
        store.list_steps(&steps_of(run), &page).await.unwrap().len(),
        1
    );
    let usage = store.get_run(run).await.unwrap().data.usage;
    assert_eq!((usage.step_count, usage.total_tokens), (1, 12));
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, [a.message_ids[0], answer.id, tool.id]);

    // A finished step is never replaced, nor a pending one from another run.
    let read = got.clone();
    let late = message(a.id, Role::Tool, "late");
    let mut again = commit(&read, run, vec![late.clone()]);
    again.step.as_mut().unwrap().id = id;
    assert_conflict(store.commit_step(again).await);
    assert_not_found(store.get_message(late.id).await);
    let mut pending = commit(&read, run, vec![]);
    let step = pending.step.as_mut().unwrap();
    step.status = mneme_types::Step::PENDING.into();
    let pending_id = step.id;
    store.commit_step(pending).await.unwrap();
    let read = store.get_agent(a.id).await.unwrap();
    let other = run_for(&*store, a.id).await;
    let mut foreign = commit(&read, other, vec![message(a.id, Role::Tool, "x")]);
    foreign.step.as_mut().unwrap().id = pending_id;
    assert_conflict(store.commit_step(foreign).await);
    assert!(
        store
            .list_steps(&steps_of(other), &page)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_run(run).await.unwrap().data.usage.step_count, 1);
}

pub async fn a_commit_without_a_step_record_writes_only_messages_and_context(
    store: Arc<dyn Store>,
) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let fix = message(a.id, Role::Tool, "repaired");
    let mut repair = commit(&a, run, vec![fix.clone()]);
    repair.step = None;
    store.commit_step(repair).await.unwrap();
    assert_eq!(store.get_message(fix.id).await.unwrap().text, "repaired");
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.message_ids, [a.message_ids[0], fix.id]);
    assert_eq!(got.message_ids_version, 1);
    let page = crate::Page {
        limit: 10,
        ..crate::Page::default()
    };
    assert!(
        store
            .list_steps(&steps_of(run), &page)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_run(run).await.unwrap().data.usage.step_count, 0);

    // The run must still exist, and the context version still holds.
    let lost = message(a.id, Role::Tool, "lost");
    let mut unknown = commit(&got, RunId::new(), vec![lost.clone()]);
    unknown.step = None;
    assert_not_found(store.commit_step(unknown).await);
    let mut stale = commit(&a, run, vec![lost.clone()]);
    stale.step = None;
    assert_conflict(store.commit_step(stale).await);
    assert_not_found(store.get_message(lost.id).await);
}

pub async fn a_step_in_a_conversation_writes_its_context_not_the_agents(store: Arc<dyn Store>) {
    let new = new_agent("a", vec![block("human", "agent human")]);
    let a = store.create_agent(new).await.unwrap();
    let a = append(&*store, a.id, vec![message(a.id, Role::User, "d0")]).await;
    let human = store.agent_blocks(a.id).await.unwrap().remove(0);
    let copy = block("human", "conversation human");
    let new = new_conversation(a.id, vec![copy.clone()], vec![]);
    let c = store.create_conversation(new).await.unwrap();
    let frame = store.conversation_frame(c.id).await.unwrap();
    let run = run_for(&*store, a.id).await;
    let user = message(a.id, Role::User, "hi");
    let mut edited = copy.clone();
    edited.value = "edited".into();
    let step = |frame: &crate::AgentFrame| {
        let mut s = conversation_commit(frame, run, vec![user.clone()]);
        s.block_changes = vec![BlockChange::Update {
            expected: "conversation human".into(),
            block: edited.clone(),
        }];
        s.system_text = Some((c.message_ids[0], "recompiled".into()));
        s
    };
    // A stale read of the conversation's context refuses the whole step.
    let mut stale = step(&frame);
    stale.message_ids_version += 1;
    assert_conflict(store.commit_step(stale).await);
    assert_not_found(store.get_message(user.id).await);
    assert_eq!(
        store.get_block(copy.id).await.unwrap().value,
        "conversation human"
    );
    assert_eq!(store.get_conversation(c.id).await.unwrap(), c);

    store.commit_step(step(&frame)).await.unwrap();
    let got = store.get_conversation(c.id).await.unwrap();
    assert_eq!(got.message_ids, [c.message_ids[0], user.id]);
    assert_eq!(got.message_ids_version, 1);
    assert_eq!(store.get_block(copy.id).await.unwrap().value, "edited");
    let system = store.get_message(c.message_ids[0]).await.unwrap();
    assert_eq!(system.text, "recompiled");
    // The agent's own context and block are untouched, and its next step still goes through.
    let agent_after = store.get_agent(a.id).await.unwrap();
    assert_eq!(agent_after.message_ids, a.message_ids);
    assert_eq!(agent_after.message_ids_version, a.message_ids_version);
    assert_eq!(
        store.get_block(human.id).await.unwrap().value,
        "agent human"
    );
    append(&*store, a.id, vec![message(a.id, Role::User, "d1")]).await;
    // The same read again is stale now; an unknown conversation is not found.
    assert_conflict(store.commit_step(step(&frame)).await);
    let mut unknown = conversation_commit(&frame, run, vec![message(a.id, Role::User, "x")]);
    unknown.conversation_id = Some(mneme_types::ConversationId::new());
    let lost = unknown.messages[0].id;
    assert_not_found(store.commit_step(unknown).await);
    assert_not_found(store.get_message(lost).await);
    // Its messages are the conversation's: listed in its thread, not in the default one.
    let q = |conversation| crate::MessageQuery {
        limit: 10,
        order: crate::Order::Asc,
        conversation,
        ..crate::MessageQuery::default()
    };
    let texts = |m: Vec<crate::Message>| ids(&m, |m| m.text.clone());
    let of_c = store.list_messages(a.id, &q(Some(c.id))).await.unwrap();
    assert_eq!(texts(of_c), ["recompiled", "hi"]);
    let default = store.list_messages(a.id, &q(None)).await.unwrap();
    assert_eq!(texts(default), ["compiled", "d0", "d1"]);
    let asc = page(10, crate::Order::Asc);
    let thread = store.thread_messages(a.id, Some(c.id), &asc).await.unwrap();
    assert_eq!(texts(thread), ["recompiled", "hi"]);
    let default = store.thread_messages(a.id, None, &asc).await.unwrap();
    assert_eq!(texts(default), ["compiled", "d0", "d1"]);
}

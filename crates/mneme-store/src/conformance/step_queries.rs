//! `GET /v1/steps/` and its neighbours: step filters, feedback edits, a step's messages,
//! deleting a run; and the tag listing of agents and blocks.

use std::sync::Arc;

use mneme_types::{RunId, StepId};

use super::fixtures::*;
use crate::{Order, Role, StepEdit, StepFilter, StepTimings, Store, TagQuery};

/// Commits one step of `agent` in `run` at second `t` with `model`; returns its id.
async fn step_at(
    store: &dyn Store,
    agent: mneme_types::AgentId,
    run: RunId,
    t: i64,
    model: &str,
) -> StepId {
    let current = store.get_agent(agent).await.unwrap();
    let mut c = commit(&current, run, vec![]);
    c.created_at = at(t);
    let step = c.step.as_mut().unwrap();
    step.model = Some(model.into());
    let id = step.id;
    store.commit_step(c).await.unwrap();
    id
}

fn feedback(value: &'static str) -> StepEdit {
    Box::new(move |s| s.feedback = Some(value.into()))
}

pub async fn step_filters_select_steps(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let (ra, rb) = (run_for(&*store, a.id).await, run_for(&*store, b.id).await);
    let s0 = step_at(&*store, a.id, ra, 10, "m1").await;
    let s1 = step_at(&*store, b.id, rb, 20, "m2").await;
    let s2 = step_at(&*store, a.id, ra, 30, "m2").await;
    let list = |f: StepFilter| {
        let store = store.clone();
        async move {
            let got = store.list_steps(&f, &page(10, Order::Asc)).await.unwrap();
            ids(&got, |s| s.id)
        }
    };
    assert_eq!(list(StepFilter::default()).await, [s0, s1, s2]);
    let by_agent = StepFilter {
        agent: Some(a.id),
        ..StepFilter::default()
    };
    assert_eq!(list(by_agent).await, [s0, s2]);
    let by_run = StepFilter {
        run: Some(rb),
        ..StepFilter::default()
    };
    assert_eq!(list(by_run).await, [s1]);
    let by_model = StepFilter {
        model: Some("m2".into()),
        ..StepFilter::default()
    };
    assert_eq!(list(by_model).await, [s1, s2]);
    let window = StepFilter {
        start_date: Some(at(10)),
        end_date: Some(at(30)),
        ..StepFilter::default()
    };
    assert_eq!(list(window).await, [s1]);
    store.update_step(s1, feedback("negative")).await.unwrap();
    store.update_step(s2, feedback("positive")).await.unwrap();
    let with = StepFilter {
        has_feedback: Some(true),
        ..StepFilter::default()
    };
    assert_eq!(list(with).await, [s1, s2]);
    let without = StepFilter {
        has_feedback: Some(false),
        ..StepFilter::default()
    };
    assert_eq!(list(without).await, [s0]);
    let positive = StepFilter {
        feedback: Some("positive".into()),
        ..StepFilter::default()
    };
    assert_eq!(list(positive).await, [s2]);
}

pub async fn a_step_edit_is_stored(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let s = step_at(&*store, a.id, run, 1, "m").await;
    let edit: StepEdit = Box::new(|s| {
        s.feedback = Some("positive".into());
        s.tags = vec!["good".into()];
    });
    let edited = store.update_step(s, edit).await.unwrap();
    let got = store.get_step(s).await.unwrap();
    assert_eq!(
        (got.feedback.as_deref(), &got.tags),
        (Some("positive"), &vec!["good".to_string()])
    );
    assert_eq!(got.model, edited.model);
    assert_not_found(store.update_step(StepId::new(), feedback("positive")).await);
}

pub async fn a_step_keeps_its_timings_beside_its_record(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let timings = StepTimings {
        step_start_ns: 1_700_000_000_000_000_000,
        llm_request_start_ns: Some(1_700_000_000_000_001_000),
        llm_request_ns: Some(5_000_000),
        tool_execution_ns: None,
        step_ns: None,
    };
    // Written pending with the model call's timings, then final with the whole step's.
    let mut first = commit(&a, run, vec![]);
    first.timings = Some(timings);
    let step = first.step.as_mut().unwrap();
    step.status = mneme_types::Step::PENDING.into();
    let id = step.id;
    store.commit_step(first).await.unwrap();
    let record = store.get_step_record(id).await.unwrap();
    assert_eq!(record.timings, Some(timings));
    let done = StepTimings {
        tool_execution_ns: Some(2_000_000),
        step_ns: Some(8_000_000),
        ..timings
    };
    let read = store.get_agent(a.id).await.unwrap();
    let mut second = commit(&read, run, vec![]);
    second.step.as_mut().unwrap().id = id;
    second.timings = Some(done);
    store.commit_step(second).await.unwrap();

    // The wire step is Letta's, without them; an edit keeps them.
    let step = store.get_step(id).await.unwrap();
    let keys = serde_json::to_value(&step).unwrap();
    assert!(keys.get("timings").is_none(), "{keys}");
    let listed = store
        .list_steps(&steps_of(run), &page(10, Order::Asc))
        .await;
    assert_eq!(ids(&listed.unwrap(), |s| s.id), [id]);
    store.update_step(id, feedback("positive")).await.unwrap();
    let record = store.get_step_record(id).await.unwrap();
    assert_eq!(record.timings, Some(done));
    assert_eq!(record.step.feedback.as_deref(), Some("positive"));

    // A step stored without timings reads none; an unknown one is not found.
    let other = step_at(&*store, a.id, run, 1, "m").await;
    assert_eq!(store.get_step_record(other).await.unwrap().timings, None);
    assert_not_found(store.get_step_record(StepId::new()).await);
}

pub async fn step_messages_are_the_ones_it_wrote(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let current = store.get_agent(a.id).await.unwrap();
    let mut c = commit(&current, run, vec![]);
    let step = c.step.as_ref().unwrap().id;
    let mut written = Vec::new();
    for text in ["one", "two", "three"] {
        let mut m = message(a.id, Role::Assistant, text);
        m.step_id = Some(step);
        m.run_id = Some(run);
        written.push(m.id);
        c.messages.push(m);
    }
    c.message_ids.extend(written.iter().copied());
    store.commit_step(c).await.unwrap();
    let list = |p| {
        let store = store.clone();
        async move { ids(&store.step_messages(step, &p).await.unwrap(), |m| m.id) }
    };
    assert_eq!(list(page(10, Order::Asc)).await, written);
    assert_eq!(
        list(page(10, Order::Desc)).await,
        [written[2], written[1], written[0]]
    );
    assert_eq!(
        list(cursor(page(1, Order::Asc), written[0], true)).await,
        [written[1]]
    );
    assert!(
        store
            .step_messages(StepId::new(), &page(10, Order::Asc))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn deleting_a_run_takes_its_steps_and_keeps_its_messages(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let (run, kept) = (run_for(&*store, a.id).await, run_for(&*store, a.id).await);
    let current = store.get_agent(a.id).await.unwrap();
    let mut m = message(a.id, Role::Assistant, "hi");
    m.run_id = Some(run);
    let c = commit(&current, run, vec![m.clone()]);
    let step = c.step.as_ref().unwrap().id;
    store.commit_step(c).await.unwrap();
    let other = step_at(&*store, a.id, kept, 5, "m").await;
    store.delete_run(run).await.unwrap();
    assert_not_found(store.get_run(run).await);
    assert_not_found(store.get_step(step).await);
    assert_eq!(store.get_step(other).await.unwrap().id, other);
    assert_eq!(store.get_message(m.id).await.unwrap().id, m.id);
    assert_not_found(store.delete_run(run).await);
}

pub async fn tags_of_agents_and_blocks_list_once_by_name(store: Arc<dyn Store>) {
    let mut tagged = block("human", "x");
    tagged.tags = Some(vec!["shared".into(), "block-only".into()]);
    let mut n = new_agent("a", vec![tagged]);
    n.agent.tags = vec!["zeta".into(), "Shared-Agent".into(), "shared".into()];
    store.create_agent(n).await.unwrap();
    let mut m = new_agent("b", vec![]);
    m.agent.tags = vec!["alpha".into(), "zeta".into()];
    store.create_agent(m).await.unwrap();
    let list = |q: TagQuery| {
        let store = store.clone();
        async move { store.list_tags(&q).await.unwrap() }
    };
    let all = TagQuery {
        limit: 50,
        ..TagQuery::default()
    };
    assert_eq!(
        list(all.clone()).await,
        ["Shared-Agent", "alpha", "block-only", "shared", "zeta"]
    );
    let desc = TagQuery {
        descending: true,
        after: Some("shared".into()),
        ..all.clone()
    };
    assert_eq!(list(desc).await, ["block-only", "alpha", "Shared-Agent"]);
    let window = TagQuery {
        after: Some("alpha".into()),
        before: Some("zeta".into()),
        limit: 1,
        ..all.clone()
    };
    assert_eq!(list(window).await, ["block-only"]);
    let text = TagQuery {
        text: Some("SHARED".into()),
        ..all
    };
    assert_eq!(list(text).await, ["Shared-Agent", "shared"]);
}

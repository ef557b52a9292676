//! `RunStore`: runs, the steps they list and stream chunks (the step commit is `steps`).

use std::collections::BTreeSet;
use std::sync::Arc;

use mneme_types::{ConversationId, RunId, RunStatus, StepId, StopReason};

use super::fixtures::*;
use crate::{Order, RunChunk, RunEdit, RunFilter, RunRecord, Store};

fn chunk(seq: u64, data: &str) -> RunChunk {
    RunChunk {
        seq,
        event: None,
        data: data.into(),
    }
}

fn same_run(a: &RunRecord, b: &RunRecord) {
    assert_eq!((a.id, a.agent_id, a.status), (b.id, b.agent_id, b.status));
    assert_eq!((a.stop_reason, a.background), (b.stop_reason, b.background));
    assert_eq!(
        (a.created_at, a.completed_at),
        (b.created_at, b.completed_at)
    );
    assert_eq!(a.conversation_id, b.conversation_id);
    let json = |r: &RunRecord| serde_json::to_value(&r.data).unwrap();
    assert_eq!(json(a), json(b));
}

pub async fn runs_round_trip_and_update(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut run = run_record(a.id, at(1));
    run.status = RunStatus::Created;
    run.background = true;
    run.data.callback_url = Some("http://cb".into());
    run.data.metadata = Some(serde_json::from_value(serde_json::json!({"k": "v"})).unwrap());
    same_run(&store.create_run(run.clone()).await.unwrap(), &run);
    same_run(&store.get_run(run.id).await.unwrap(), &run);
    let done: RunEdit = Box::new(|r| {
        r.status = RunStatus::Completed;
        r.stop_reason = Some(StopReason::EndTurn);
        r.completed_at = Some(at(2));
        r.data.ttft_ns = Some(7);
    });
    let updated = store.update_run(run.id, done).await.unwrap();
    same_run(&store.get_run(run.id).await.unwrap(), &updated);
    assert_eq!(updated.status, RunStatus::Completed);
    assert_eq!(
        (updated.completed_at, updated.data.ttft_ns),
        (Some(at(2)), Some(7))
    );
    let agent = store.get_agent(a.id).await.unwrap();
    assert_eq!(
        agent.last_run_completion, None,
        "update_run leaves the agent alone"
    );
    assert_conflict(store.create_run(run).await);
    assert_not_found(store.get_run(RunId::new()).await);
    assert_not_found(store.update_run(RunId::new(), Box::new(|_| {})).await);
    assert_not_found(store.finish_run(RunId::new(), Box::new(|_| {})).await);
}

pub async fn run_filters_select_runs(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let specs = [
        (a.id, RunStatus::Running, None, false),
        (a.id, RunStatus::Completed, Some(StopReason::EndTurn), true),
        (b.id, RunStatus::Failed, Some(StopReason::Error), false),
        (b.id, RunStatus::Created, None, false),
    ];
    let mut r = Vec::new();
    for (i, (agent, status, stop, background)) in specs.into_iter().enumerate() {
        let mut run = run_record(agent, at(i as i64));
        (run.status, run.stop_reason, run.background) = (status, stop, background);
        r.push(store.create_run(run).await.unwrap().id);
    }
    let c = conversation(&*store, a.id).await;
    let mut in_c = run_record(a.id, at(4));
    in_c.conversation_id = Some(c.id);
    same_run(&store.create_run(in_c.clone()).await.unwrap(), &in_c);
    same_run(&store.get_run(in_c.id).await.unwrap(), &in_c);
    r.push(in_c.id);
    let f = |g: &dyn Fn(&mut RunFilter)| with(g);
    let cases = [
        (RunFilter::default(), vec![r[0], r[1], r[2], r[3], r[4]]),
        (f(&|f| f.agent_ids = vec![a.id]), vec![r[0], r[1], r[4]]),
        (
            f(&|f| f.statuses = vec![RunStatus::Completed, RunStatus::Failed]),
            vec![r[1], r[2]],
        ),
        (f(&|f| f.background = Some(true)), vec![r[1]]),
        (
            f(&|f| f.background = Some(false)),
            vec![r[0], r[2], r[3], r[4]],
        ),
        (f(&|f| f.stop_reason = Some(StopReason::Error)), vec![r[2]]),
        (f(&|f| f.active = true), vec![r[0], r[3], r[4]]),
        (f(&|f| f.conversation = Some(c.id)), vec![r[4]]),
        (
            f(&|f| {
                f.conversation = Some(c.id);
                f.agent_ids = vec![b.id];
            }),
            vec![],
        ),
        (f(&|f| f.conversation = Some(ConversationId::new())), vec![]),
    ];
    for (filter, expected) in cases {
        let got = store
            .list_runs(&filter, &page(10, Order::Asc))
            .await
            .unwrap();
        let got: BTreeSet<_> = got.iter().map(|r| r.id).collect();
        assert_eq!(got, expected.into_iter().collect(), "{filter:?}");
    }
}

pub async fn run_pages_follow_cursors(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut r = Vec::new();
    for i in 0..4 {
        let run = run_record(a.id, at(i));
        r.push(store.create_run(run).await.unwrap().id);
    }
    let all = RunFilter::default();
    let list = |page: crate::Page| {
        let (store, all) = (store.clone(), all.clone());
        async move { ids(&store.list_runs(&all, &page).await.unwrap(), |r| r.id) }
    };
    assert_eq!(
        list(page(2, Order::Desc)).await,
        [r[3], r[2]],
        "newest first"
    );
    assert_eq!(
        list(cursor(page(10, Order::Desc), r[2], true)).await,
        [r[1], r[0]]
    );
    assert_eq!(
        list(cursor(page(10, Order::Asc), r[2], false)).await,
        [r[0], r[1]]
    );
    assert_eq!(
        list(cursor(page(2, Order::Asc), RunId::new(), true)).await,
        [r[0], r[1]]
    );
}

pub async fn finish_run_copies_the_outcome_to_the_agent(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let finish: RunEdit = Box::new(|r| {
        r.status = RunStatus::Completed;
        r.stop_reason = Some(StopReason::EndTurn);
        r.completed_at = Some(at(100));
        r.data.total_duration_ns = Some(2_500_000_000);
    });
    let done = store.finish_run(run, finish).await.unwrap();
    assert_eq!(
        (done.status, done.completed_at),
        (RunStatus::Completed, Some(at(100)))
    );
    same_run(&store.get_run(run).await.unwrap(), &done);
    let got = store.get_agent(a.id).await.unwrap();
    assert_eq!(got.last_run_completion, Some(at(100)));
    assert_eq!(got.last_run_duration_ms, Some(2500));
    assert_eq!(got.last_stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(got.message_ids_version, a.message_ids_version);
}

pub async fn steps_are_stored_and_listed_per_run(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let (run, other) = (run_for(&*store, a.id).await, run_for(&*store, a.id).await);
    let mut steps = Vec::new();
    for (i, run) in [run, other, run, run].into_iter().enumerate() {
        let current = store.get_agent(a.id).await.unwrap();
        let mut c = commit(&current, run, vec![]);
        c.created_at = at(i as i64);
        let step = c.step.as_mut().unwrap();
        step.model = Some(format!("model {i}"));
        steps.push((run, step.clone()));
        store.commit_step(c).await.unwrap();
    }
    for (_, step) in &steps {
        let got = store.get_step(step.id).await.unwrap();
        let json = |s: &mneme_types::Step| serde_json::to_value(s).unwrap();
        assert_eq!(json(&got), json(step));
    }
    let s: Vec<StepId> = steps
        .iter()
        .filter(|(r, _)| *r == run)
        .map(|(_, s)| s.id)
        .collect();
    let list = |page: crate::Page| {
        let store = store.clone();
        async move {
            ids(
                &store.list_steps(&steps_of(run), &page).await.unwrap(),
                |s| s.id,
            )
        }
    };
    assert_eq!(list(page(10, Order::Asc)).await, s);
    assert_eq!(list(page(10, Order::Desc)).await, [s[2], s[1], s[0]]);
    assert_eq!(list(cursor(page(10, Order::Asc), s[0], true)).await, s[1..]);
    assert_eq!(list(cursor(page(1, Order::Desc), s[2], true)).await, [s[1]]);
    assert_eq!(
        list(cursor(page(2, Order::Asc), StepId::new(), true)).await,
        s[..2]
    );
    assert_not_found(store.get_step(StepId::new()).await);
    assert!(
        store
            .list_steps(&steps_of(RunId::new()), &page(10, Order::Asc))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn chunks_append_in_order_and_read_after_a_seq(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let (run, other) = (run_for(&*store, a.id).await, run_for(&*store, a.id).await);
    let mut first = vec![chunk(1, "a"), chunk(2, "b"), chunk(3, "c")];
    first[2].event = Some("error".into());
    store.append_chunks(run, first.clone()).await.unwrap();
    store
        .append_chunks(other, vec![chunk(1, "other")])
        .await
        .unwrap();
    assert_eq!(store.read_chunks(run, 0, 10).await.unwrap(), first);
    assert_eq!(store.read_chunks(run, 1, 1).await.unwrap(), [chunk(2, "b")]);
    store.append_chunks(run, vec![chunk(4, "d")]).await.unwrap();
    assert_eq!(
        store.read_chunks(run, 3, 10).await.unwrap(),
        [chunk(4, "d")]
    );
    assert_conflict(
        store
            .append_chunks(run, vec![chunk(5, "e"), chunk(4, "again")])
            .await,
    );
    assert!(
        store.read_chunks(run, 4, 10).await.unwrap().is_empty(),
        "all or nothing"
    );
    assert_eq!(store.read_chunks(run, 0, 10).await.unwrap().len(), 4);
    assert_eq!(
        store.read_chunks(other, 0, 10).await.unwrap(),
        [chunk(1, "other")]
    );
    assert!(
        store
            .read_chunks(RunId::new(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn pruning_chunks_spares_unfinished_and_recent_runs(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut runs = Vec::new();
    for completed in [Some(10), Some(1000), None] {
        let run = run_for(&*store, a.id).await;
        let finish: RunEdit = Box::new(move |r| r.completed_at = completed.map(at));
        store.update_run(run, finish).await.unwrap();
        store
            .append_chunks(run, vec![chunk(1, "x"), chunk(2, "y")])
            .await
            .unwrap();
        runs.push(run);
    }
    assert_eq!(store.prune_chunks(at(500)).await.unwrap(), 2);
    assert!(store.read_chunks(runs[0], 0, 10).await.unwrap().is_empty());
    assert_eq!(store.read_chunks(runs[1], 0, 10).await.unwrap().len(), 2);
    assert_eq!(store.read_chunks(runs[2], 0, 10).await.unwrap().len(), 2);
    assert_eq!(store.prune_chunks(at(500)).await.unwrap(), 0);
    store.get_run(runs[0]).await.unwrap();
}

fn trace_of(commit: &crate::StepCommit, request: &str, created_at: i64) -> crate::StepTrace {
    let step = commit.step.as_ref().unwrap();
    crate::StepTrace {
        step_id: step.id,
        agent_id: commit.agent_id,
        run_id: commit.run_id,
        request: bytes::Bytes::copy_from_slice(request.as_bytes()),
        response: bytes::Bytes::from_static(br#"{"choices":[]}"#),
        created_at: at(created_at),
    }
}

pub async fn a_step_keeps_its_first_trace_until_pruned(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let run = run_for(&*store, a.id).await;
    let mut first = commit(&a, run, vec![]);
    first.step.as_mut().unwrap().status = mneme_types::Step::PENDING.into();
    let trace = trace_of(&first, r#"{"model":"m","n":1}"#, 10);
    first.trace = Some(trace.clone());
    let step_id = trace.step_id;
    store.commit_step(first.clone()).await.unwrap();
    assert_eq!(
        store.step_trace(step_id).await.unwrap(),
        Some(trace.clone())
    );

    // The second commit of the same step brings its trace again: the first stays.
    let a = store.get_agent(a.id).await.unwrap();
    let mut second = commit(&a, run, vec![]);
    second.step = first.step.clone().map(|mut s| {
        s.status = mneme_types::Step::SUCCESS.into();
        s
    });
    second.trace = Some(trace_of(&second, r#"{"other":true}"#, 20));
    store.commit_step(second).await.unwrap();
    assert_eq!(store.step_trace(step_id).await.unwrap(), Some(trace));

    // A refused step writes no trace.
    let mut stale = commit(&a, run, vec![]);
    stale.trace = Some(trace_of(&stale, "{}", 10));
    let stale_id = stale.trace.as_ref().unwrap().step_id;
    assert!(store.commit_step(stale).await.is_err());
    assert_eq!(store.step_trace(stale_id).await.unwrap(), None);

    let a = store.get_agent(a.id).await.unwrap();
    let mut later = commit(&a, run, vec![]);
    later.trace = Some(trace_of(&later, "{}", 1000));
    let later_id = later.trace.as_ref().unwrap().step_id;
    store.commit_step(later).await.unwrap();
    assert_eq!(store.prune_traces(at(500)).await.unwrap(), 1);
    assert_eq!(store.step_trace(step_id).await.unwrap(), None);
    assert!(store.step_trace(later_id).await.unwrap().is_some());
    assert_eq!(store.prune_traces(at(500)).await.unwrap(), 0);
    assert_eq!(store.step_trace(StepId::new()).await.unwrap(), None);
}

pub async fn runs_remember_the_otids_that_started_them(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let (first, second) = (run_for(&*store, a.id).await, run_for(&*store, a.id).await);
    let otids = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    store
        .map_otids(first, otids(&["o1", "o2", "token"]))
        .await
        .unwrap();
    for otid in ["o1", "o2", "token"] {
        assert_eq!(
            store.run_of_otid(otid).await.unwrap(),
            Some(first),
            "{otid}"
        );
    }
    assert_eq!(store.run_of_otid("unknown").await.unwrap(), None);
    // A retry that started another run: the otids it names point there now.
    store.map_otids(second, otids(&["o2"])).await.unwrap();
    assert_eq!(store.run_of_otid("o2").await.unwrap(), Some(second));
    assert_eq!(store.run_of_otid("o1").await.unwrap(), Some(first));
    store.map_otids(second, vec![]).await.unwrap();
    assert_not_found(store.map_otids(RunId::new(), otids(&["o3"])).await);
    assert_eq!(store.run_of_otid("o3").await.unwrap(), None);
    // A run that is gone started nothing any more.
    store.delete_agent(a.id).await.unwrap();
    assert_eq!(store.run_of_otid("o1").await.unwrap(), None);
    assert_eq!(store.run_of_otid("o2").await.unwrap(), None);
}

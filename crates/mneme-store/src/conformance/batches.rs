//! `BatchStore`: a batch's job and runs written at once, settling once every run ended,
//! listings and the messages of a batch's runs.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mneme_types::{AgentId, Job, JobId, JobStatus, JobType, RunId, RunStatus, StopReason};

use super::fixtures::*;
use crate::{BatchRecord, Order, Role, RunRecord, Store};

/// A running batch job created at `created_at`.
fn job(created_at: DateTime<Utc>) -> Job {
    Job {
        created_by_id: None,
        last_updated_by_id: None,
        created_at,
        updated_at: None,
        status: JobStatus::Running,
        completed_at: None,
        stop_reason: None,
        metadata: None,
        job_type: JobType::Batch,
        background: None,
        agent_id: None,
        callback_url: Some("http://127.0.0.1:9/done".into()),
        callback_sent_at: None,
        callback_status_code: None,
        callback_error: None,
        ttft_ns: None,
        total_duration_ns: None,
        id: JobId::new(),
        user_id: None,
    }
}

fn queued(agent: AgentId) -> RunRecord {
    let mut run = run_record(agent, mneme_types::time::now());
    run.status = RunStatus::Created;
    run
}

/// A batch created now with one queued run per agent.
async fn batch_of(store: &dyn Store, agents: &[AgentId], created_at: DateTime<Utc>) -> BatchRecord {
    let runs = agents.iter().map(|a| queued(*a)).collect();
    store.create_batch(job(created_at), runs).await.unwrap()
}

async fn end_run(store: &dyn Store, run: RunId, status: RunStatus) {
    let edit = Box::new(move |r: &mut RunRecord| {
        r.status = status;
        r.stop_reason = Some(StopReason::EndTurn);
        r.completed_at = Some(mneme_types::time::now());
    });
    store.finish_run(run, edit).await.unwrap();
}

pub async fn a_batch_is_stored_with_its_runs_at_once(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let created = batch_of(&*store, &[a.id, b.id, a.id], at(0)).await;
    let got = store.get_batch(created.job.id).await.unwrap();
    assert_eq!(got.job, created.job);
    assert_eq!(ids(&got.runs, |r| r.agent_id), vec![a.id, b.id, a.id]);
    assert!(got.runs.iter().all(|r| r.status == RunStatus::Created));
    let run = store.get_run(got.runs[1].run_id).await.unwrap();
    assert_eq!(run.agent_id, b.id);

    // An unknown agent in the middle refuses the whole batch.
    let runs = vec![queued(a.id), queued(AgentId::new())];
    let first = runs[0].id;
    let refused = job(at(1));
    assert_not_found(store.create_batch(refused.clone(), runs).await);
    assert_not_found(store.get_batch(refused.id).await);
    assert_not_found(store.get_run(first).await);
    assert_not_found(store.get_batch(JobId::new()).await);
}

pub async fn a_batch_settles_once_when_its_last_run_ends(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let ok = batch_of(&*store, &[a.id, a.id], at(0)).await;
    let mixed = batch_of(&*store, &[a.id, a.id], at(1)).await;
    assert!(store.settle_batches().await.unwrap().is_empty());
    end_run(&*store, ok.runs[0].run_id, RunStatus::Completed).await;
    end_run(&*store, mixed.runs[0].run_id, RunStatus::Completed).await;
    assert!(store.settle_batches().await.unwrap().is_empty());
    end_run(&*store, ok.runs[1].run_id, RunStatus::Completed).await;
    end_run(&*store, mixed.runs[1].run_id, RunStatus::Failed).await;

    let mut ended = store.settle_batches().await.unwrap();
    ended.sort_by_key(|j| j.created_at);
    assert_eq!(ids(&ended, |j| j.id), vec![ok.job.id, mixed.job.id]);
    assert_eq!(
        ids(&ended, |j| j.status),
        [JobStatus::Completed, JobStatus::Failed]
    );
    assert!(ended.iter().all(|j| j.completed_at.is_some()));
    assert!(store.settle_batches().await.unwrap().is_empty());

    let got = store.get_batch(mixed.job.id).await.unwrap();
    assert_eq!(got.job.status, JobStatus::Failed);
    assert_eq!(got.job.callback_url, mixed.job.callback_url);
    let statuses = ids(&got.runs, |r| r.status);
    assert_eq!(statuses, [RunStatus::Completed, RunStatus::Failed]);
}

pub async fn an_edited_batch_keeps_its_id_and_a_cancelled_one_never_settles(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let batch = batch_of(&*store, &[a.id], at(0)).await;
    let edited = store
        .update_batch(
            batch.job.id,
            Box::new(|j| {
                j.id = JobId::new();
                j.status = JobStatus::Cancelled;
                j.callback_status_code = Some(204);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(edited.job.id, batch.job.id);
    assert!(edited.job.updated_at.is_some());
    assert_eq!(edited.runs.len(), 1);
    let got = store.get_batch(batch.job.id).await.unwrap();
    assert_eq!(got.job.callback_status_code, Some(204));

    let refusal = store
        .update_batch(
            batch.job.id,
            Box::new(|j| {
                j.status = JobStatus::Completed;
                Err(refused())
            }),
        )
        .await;
    assert!(refusal.is_err());
    let got = store.get_batch(batch.job.id).await.unwrap();
    assert_eq!(got.job.status, JobStatus::Cancelled);

    end_run(&*store, batch.runs[0].run_id, RunStatus::Cancelled).await;
    assert!(store.settle_batches().await.unwrap().is_empty());
    assert_not_found(store.update_batch(JobId::new(), Box::new(|_| Ok(()))).await);
}

pub async fn batch_lists_page_by_creation_and_keep_to_active_ones(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(batch_of(&*store, &[a.id], at(i)).await.job.id);
    }
    let asc = store
        .list_batches(false, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&asc, |b| b.job.id), made);
    let desc = store
        .list_batches(false, &page(2, Order::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&desc, |b| b.job.id), vec![made[2], made[1]]);
    let next = cursor(page(10, Order::Desc), made[1], true);
    let after = store.list_batches(false, &next).await.unwrap();
    assert_eq!(ids(&after, |b| b.job.id), vec![made[0]]);
    let unknown = cursor(page(10, Order::Desc), JobId::new(), true);
    assert_not_found(store.list_batches(false, &unknown).await);

    let first = store.get_batch(made[0]).await.unwrap();
    end_run(&*store, first.runs[0].run_id, RunStatus::Completed).await;
    store.settle_batches().await.unwrap();
    let active = store
        .list_batches(true, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&active, |b| b.job.id), vec![made[1], made[2]]);
}

pub async fn batch_messages_are_those_its_runs_stored(store: Arc<dyn Store>) {
    let (a, b) = (agent(&*store, "a").await, agent(&*store, "b").await);
    let batch = batch_of(&*store, &[a.id, b.id], at(0)).await;
    let mut said = Vec::new();
    for (agent, run) in [(&a, batch.runs[0].run_id), (&b, batch.runs[1].run_id)] {
        let current = store.get_agent(agent.id).await.unwrap();
        let mut m = message(agent.id, Role::User, "hi");
        m.run_id = Some(run);
        said.push(m.id);
        store
            .commit_step(commit(&current, run, vec![m]))
            .await
            .unwrap();
    }
    // Another run's message is not the batch's.
    append(&*store, a.id, vec![message(a.id, Role::User, "elsewhere")]).await;

    let all = store
        .batch_messages(batch.job.id, None, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&all, |m| m.id), said);
    let desc = store
        .batch_messages(batch.job.id, None, &page(10, Order::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&desc, |m| m.id), vec![said[1], said[0]]);
    let next = cursor(page(10, Order::Desc), said[1], true);
    let after = store
        .batch_messages(batch.job.id, None, &next)
        .await
        .unwrap();
    assert_eq!(ids(&after, |m| m.id), vec![said[0]]);
    let of_b = store
        .batch_messages(batch.job.id, Some(b.id), &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&of_b, |m| m.id), vec![said[1]]);
    assert_not_found(
        store
            .batch_messages(JobId::new(), None, &page(10, Order::Asc))
            .await,
    );
}

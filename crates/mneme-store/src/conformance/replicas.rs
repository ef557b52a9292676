//! `ReplicaStore`: each case gets two handles on one database (`a` and `b`), two replicas.

use std::sync::Arc;
use std::time::Duration;

use mneme_types::{
    DuplicateFileHandling, FileId, FileProcessingStatus, FolderId, RunId, RunStatus, StopReason,
};

use super::fixtures::*;
use super::folders::{created, make, upload};
use crate::{JobFilter, Order, RunEdit, Store};

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(1);

/// Long enough for a lease of `SHORT`, or a heartbeat, to be out of date.
async fn expire() {
    tokio::time::sleep(Duration::from_millis(60)).await;
}

pub async fn handles_are_replicas_of_their_own(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    assert!(a.replica_id().starts_with("replica-"), "{}", a.replica_id());
    assert_ne!(a.replica_id(), b.replica_id());
    assert_eq!(
        a.replica_id(),
        a.replica_id(),
        "fixed for the handle's life"
    );
}

pub async fn a_lease_has_one_holder_until_released(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    assert_eq!(a.acquire_lease("turn:x", LONG).await.unwrap(), None);
    let theirs = Some(a.replica_id().to_owned());
    assert_eq!(b.acquire_lease("turn:x", LONG).await.unwrap(), theirs);
    assert_eq!(a.acquire_lease("turn:x", LONG).await.unwrap(), None, "ours");
    assert_eq!(
        b.acquire_lease("turn:y", LONG).await.unwrap(),
        None,
        "per key"
    );
    b.release_lease("turn:x").await.unwrap();
    assert_eq!(
        b.acquire_lease("turn:x", LONG).await.unwrap(),
        theirs,
        "only the holder releases"
    );
    a.release_lease("turn:x").await.unwrap();
    assert_eq!(b.acquire_lease("turn:x", LONG).await.unwrap(), None);
    a.release_lease("never-held").await.unwrap();
}

pub async fn an_expired_lease_is_taken_over(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    assert_eq!(a.acquire_lease("job", SHORT).await.unwrap(), None);
    expire().await;
    assert_eq!(b.acquire_lease("job", LONG).await.unwrap(), None);
    let theirs = Some(b.replica_id().to_owned());
    assert_eq!(a.acquire_lease("job", LONG).await.unwrap(), theirs);
}

pub async fn heartbeats_extend_the_leases_held(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    assert_eq!(a.acquire_lease("job", SHORT).await.unwrap(), None);
    assert!(a.heartbeat(LONG).await.unwrap().is_empty());
    expire().await;
    let theirs = Some(a.replica_id().to_owned());
    assert_eq!(b.acquire_lease("job", LONG).await.unwrap(), theirs);
}

pub async fn cancel_requests_reach_the_owner_by_heartbeat(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let agent = agent(&*a, "a").await;
    let run = run_for(&*a, agent.id).await;
    let other = run_for(&*a, agent.id).await;
    assert!(b.request_cancel(run).await.unwrap());
    assert_eq!(a.heartbeat(LONG).await.unwrap(), vec![run]);
    assert!(b.heartbeat(LONG).await.unwrap().is_empty(), "not b's run");
    finish(&*a, run).await;
    assert!(a.heartbeat(LONG).await.unwrap().is_empty(), "ended");
    assert!(
        !b.request_cancel(run).await.unwrap(),
        "ended: nothing to cancel"
    );
    assert_eq!(a.get_run(other).await.unwrap().status, RunStatus::Running);
    assert_not_found(b.request_cancel(RunId::new()).await);
}

pub async fn the_runs_of_dead_replicas_fail(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let agent = agent(&*a, "a").await;
    a.heartbeat(LONG).await.unwrap();
    let dead = run_for(&*a, agent.id).await;
    let done = run_for(&*a, agent.id).await;
    finish(&*a, done).await;
    let alive = run_for(&*b, agent.id).await;
    assert_eq!(a.acquire_lease("turn:x", LONG).await.unwrap(), None);
    expire().await;
    b.heartbeat(LONG).await.unwrap();
    assert!(a.fail_dead_runs(LONG).await.unwrap().is_empty(), "b lives");
    assert_eq!(
        b.fail_dead_runs(Duration::from_millis(30)).await.unwrap(),
        vec![dead]
    );
    let failed = b.get_run(dead).await.unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.stop_reason, Some(StopReason::Error));
    assert!(failed.completed_at.is_some());
    assert_eq!(b.get_run(done).await.unwrap().status, RunStatus::Completed);
    assert_eq!(
        b.get_run(alive).await.unwrap().status,
        RunStatus::Running,
        "its own"
    );
    assert_eq!(
        b.acquire_lease("turn:x", LONG).await.unwrap(),
        None,
        "a dead replica's leases go with it"
    );
}

pub async fn a_retired_replicas_runs_and_leases_are_taken_over_at_once(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let agent = agent(&*a, "a").await;
    a.heartbeat(LONG).await.unwrap();
    b.heartbeat(LONG).await.unwrap();
    let run = run_for(&*a, agent.id).await;
    assert_eq!(a.acquire_lease("turn:x", LONG).await.unwrap(), None);
    assert!(b.fail_dead_runs(LONG).await.unwrap().is_empty(), "a lives");
    a.retire().await.unwrap();
    // No wait for the timeout: a said it is gone.
    assert_eq!(b.acquire_lease("turn:x", LONG).await.unwrap(), None);
    assert_eq!(b.fail_dead_runs(LONG).await.unwrap(), vec![run]);
}

pub async fn a_replica_never_fails_its_own_runs(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let agent = agent(&*a, "a").await;
    // Never heart-beat: dead to every other replica, not to itself.
    let run = run_for(&*a, agent.id).await;
    assert!(a.fail_dead_runs(SHORT).await.unwrap().is_empty());
    assert_eq!(b.fail_dead_runs(LONG).await.unwrap(), vec![run]);
}

pub async fn shared_pruning_waits_for_every_live_replica(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ar = a.create_archive(archive("a"), None).await.unwrap();
    for i in 0..3 {
        let p = passage(ar.id, &format!("p{i}"), &[], None);
        a.insert_passages(vec![p]).await.unwrap();
    }
    let all = a.search_changes(0, 100).await.unwrap();
    let (first, last) = (all[0].seq, all[2].seq);
    a.heartbeat(LONG).await.unwrap();
    b.heartbeat(LONG).await.unwrap();
    // b is alive and has said nothing of what it applied: nothing goes.
    assert_eq!(a.prune_search_shared(last, LONG).await.unwrap(), 0);
    assert_eq!(a.search_changes(0, 100).await.unwrap().len(), 3);
    assert_eq!(b.prune_search_shared(first, LONG).await.unwrap(), first);
    assert_eq!(a.prune_search_shared(last, LONG).await.unwrap(), first);
    assert_eq!(a.search_changes(0, 100).await.unwrap().len(), 2);
    expire().await;
    a.heartbeat(LONG).await.unwrap();
    let dead_after = Duration::from_millis(30);
    assert_eq!(a.prune_search_shared(last, dead_after).await.unwrap(), last);
    assert!(a.search_changes(0, 100).await.unwrap().is_empty());
}

async fn finish(store: &dyn Store, run: RunId) {
    let edit: RunEdit = Box::new(|r| {
        r.status = RunStatus::Completed;
        r.stop_reason = Some(StopReason::EndTurn);
        r.completed_at = Some(mneme_types::time::now());
    });
    store.update_run(run, edit).await.unwrap();
}

/// A new folder with one file `store` created (so its replica owns it), `pending` with a job.
async fn unfinished_file(store: &dyn Store, name: &str) -> (FolderId, FileId) {
    let folder = make(store, name).await.folder.id;
    let made = upload(store, folder, "f.txt", DuplicateFileHandling::Suffix).await;
    (folder, created(made.unwrap()).id)
}

pub async fn the_unfinished_files_of_dead_replicas_fail(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let (folder, dead) = unfinished_file(&*a, "a").await;
    let (theirs, alive) = unfinished_file(&*b, "b").await;
    a.heartbeat(LONG).await.unwrap();
    expire().await;
    b.heartbeat(LONG).await.unwrap();
    let gone = || "gone".to_owned();
    assert!(
        a.fail_dead_files(LONG, gone()).await.unwrap().is_empty(),
        "b lives"
    );
    let recent = Duration::from_millis(30);
    assert_eq!(b.fail_dead_files(recent, gone()).await.unwrap(), vec![dead]);
    let failed = b.get_file(folder, dead, false).await.unwrap();
    assert_eq!(failed.processing_status, FileProcessingStatus::Error);
    assert_eq!(failed.error_message.as_deref(), Some("gone"));
    let active = JobFilter {
        folder: Some(folder),
        active: true,
    };
    let jobs = b.list_jobs(&active, &page(10, Order::Asc)).await.unwrap();
    assert!(jobs.is_empty(), "its job failed with it: {jobs:?}");
    let own = b.get_file(theirs, alive, false).await;
    assert_eq!(
        own.unwrap().processing_status,
        FileProcessingStatus::Pending,
        "its own"
    );
    assert!(
        b.fail_dead_files(recent, gone()).await.unwrap().is_empty(),
        "once"
    );
}

pub async fn orphaned_files_restart_as_the_restarting_replica_s(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let (_, file) = unfinished_file(&*a, "a").await;
    a.heartbeat(LONG).await.unwrap();
    assert!(
        b.restart_orphaned_files(LONG).await.unwrap().is_empty(),
        "a lives"
    );
    expire().await;
    b.heartbeat(LONG).await.unwrap();
    let recent = Duration::from_millis(30);
    let restarted = b.restart_orphaned_files(recent).await.unwrap();
    assert_eq!(restarted.iter().map(|f| f.file).collect::<Vec<_>>(), [file]);
    assert!(
        b.restart_orphaned_files(SHORT).await.unwrap().is_empty(),
        "b's now"
    );
    assert!(
        a.fail_dead_files(LONG, "gone".into())
            .await
            .unwrap()
            .is_empty(),
        "b lives"
    );
    // A local restart takes every unfinished file, and makes it its own.
    assert_eq!(a.restart_unfinished_files().await.unwrap().len(), 1);
    assert_eq!(
        b.fail_dead_files(recent, "gone".into()).await.unwrap(),
        vec![file]
    );
}

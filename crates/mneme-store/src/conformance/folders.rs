//! `FolderStore`: folders, their files and jobs, and their attachments to agents.

use std::sync::Arc;

use mneme_types::{
    DuplicateFileHandling, EmbeddingConfig, FileId, FileMetadata, FileProcessingStatus, Folder,
    FolderId, Job, JobId, JobStatus, JobType, VectorDbProvider,
};
use serde_json::json;

use super::fixtures::*;
use crate::{CreatedFile, FolderFilter, FolderRecord, JobFilter, NewFile, Order, Store};

pub fn folder(name: &str) -> Folder {
    let now = mneme_types::time::now();
    let embedding_config: EmbeddingConfig = serde_json::from_value(json!({
        "embedding_endpoint_type": "openai", "embedding_model": "text-embedding-3-small",
        "embedding_dim": 1536, "handle": "openai/text-embedding-3-small",
    }))
    .unwrap();
    Folder {
        name: name.into(),
        description: Some(format!("{name} papers")),
        instructions: None,
        metadata: Some(json!({"k": 1}).as_object().unwrap().clone()),
        id: FolderId::new(),
        embedding_config,
        organization_id: None,
        vector_db_provider: VectorDbProvider::Native,
        created_by_id: None,
        last_updated_by_id: None,
        created_at: now,
        updated_at: now,
    }
}

pub(super) async fn make(store: &dyn Store, name: &str) -> FolderRecord {
    store
        .create_folder(folder(name), archive(&format!("folder {name}")))
        .await
        .unwrap()
}

pub fn job(folder: FolderId) -> Job {
    Job {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: mneme_types::time::now(),
        updated_at: None,
        status: JobStatus::Created,
        completed_at: None,
        stop_reason: None,
        metadata: Some(json!({"source_id": folder}).as_object().unwrap().clone()),
        job_type: JobType::Job,
        background: None,
        agent_id: None,
        callback_url: None,
        callback_sent_at: None,
        callback_status_code: None,
        callback_error: None,
        ttft_ns: None,
        total_duration_ns: None,
        id: JobId::new(),
        user_id: None,
    }
}

pub fn file(folder: FolderId, name: &str) -> FileMetadata {
    let now = mneme_types::time::now();
    FileMetadata {
        source_id: folder,
        file_name: None,
        original_file_name: Some(name.into()),
        file_path: Some(format!("/data/{name}")),
        file_type: Some("text/plain".into()),
        file_size: Some(12),
        file_creation_date: None,
        file_last_modified_date: None,
        processing_status: FileProcessingStatus::Pending,
        error_message: None,
        total_chunks: None,
        chunks_embedded: None,
        content: None,
        id: FileId::new(),
        organization_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// Uploads `name` into `folder` as `duplicate` says, with a job.
pub(super) async fn upload(
    store: &dyn Store,
    folder: FolderId,
    name: &str,
    duplicate: DuplicateFileHandling,
) -> crate::Result<CreatedFile> {
    store
        .create_file(NewFile {
            file: file(folder, name),
            job: Some(job(folder)),
            duplicate,
        })
        .await
}

pub(super) fn created(c: CreatedFile) -> FileMetadata {
    match c {
        CreatedFile::Created { file, .. } => file,
        CreatedFile::Skipped(f) => panic!("skipped: {f:?}"),
    }
}

pub async fn folders_round_trip_with_unique_names(store: Arc<dyn Store>) {
    let given = folder("papers");
    let made = store
        .create_folder(given.clone(), archive("folder papers"))
        .await
        .unwrap();
    assert_eq!(made.folder, given);
    assert_eq!(store.get_folder(made.folder.id).await.unwrap(), made);
    assert_eq!(store.folder_by_name("papers").await.unwrap(), made);
    assert_conflict(
        store
            .create_folder(folder("papers"), archive("again"))
            .await,
    );
    assert_not_found(store.get_folder(FolderId::new()).await);
    assert_not_found(store.folder_by_name("nothing").await);
    assert_eq!(store.count_folders().await.unwrap(), 1);
    // The archive that holds its passages exists, but is not listed among archives.
    assert_eq!(
        store.get_archive(made.archive_id).await.unwrap().id,
        made.archive_id
    );
    let listed = store
        .list_archives(&Default::default(), &page(10, Order::Asc))
        .await
        .unwrap();
    assert!(listed.iter().all(|a| a.id != made.archive_id));
}

pub async fn folder_lists_filter_and_page(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    for name in ["a", "b", "c"] {
        made.push(make(&*store, name).await);
        pause().await;
    }
    let all = FolderFilter::default();
    let newest = store
        .list_folders(&all, &page(10, Order::Desc))
        .await
        .unwrap();
    let names: Vec<_> = newest.iter().map(|r| r.folder.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a"]);
    let after = cursor(page(1, Order::Asc), made[0].folder.id, true);
    let next = store.list_folders(&all, &after).await.unwrap();
    assert_eq!(next[0].folder.name, "b");
    let named = FolderFilter {
        name: Some("b".into()),
    };
    assert_eq!(
        store
            .list_folders(&named, &page(10, Order::Asc))
            .await
            .unwrap()
            .len(),
        1
    );
    let unknown = cursor(page(1, Order::Asc), FolderId::new(), true);
    assert_not_found(store.list_folders(&all, &unknown).await);
}

pub async fn update_folder_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let made = make(&*store, "a").await;
    make(&*store, "b").await;
    let id = made.folder.id;
    let edited = store
        .update_folder(
            id,
            Box::new(|f| {
                f.description = Some("new".into());
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(edited.folder.description.as_deref(), Some("new"));
    assert!(edited.folder.updated_at >= made.folder.updated_at);
    let refused = store.update_folder(id, Box::new(|_| Err(refused()))).await;
    assert!(refused.is_err());
    let taken = store
        .update_folder(
            id,
            Box::new(|f| {
                f.name = "b".into();
                Ok(())
            }),
        )
        .await;
    assert_conflict(taken);
    assert_eq!(store.get_folder(id).await.unwrap(), edited);
}

pub async fn duplicate_file_names_are_settled_as_asked(store: Arc<dyn Store>) {
    let folder = make(&*store, "docs").await.folder.id;
    let first = created(
        upload(&*store, folder, "a.txt", DuplicateFileHandling::Error)
            .await
            .unwrap(),
    );
    assert_eq!(first.file_name.as_deref(), Some("docs/a.txt"));
    assert_conflict(upload(&*store, folder, "a.txt", DuplicateFileHandling::Error).await);
    let second = created(
        upload(&*store, folder, "a.txt", DuplicateFileHandling::Suffix)
            .await
            .unwrap(),
    );
    assert_eq!(second.file_name.as_deref(), Some("docs/a_(1).txt"));
    let skipped = upload(&*store, folder, "a.txt", DuplicateFileHandling::Skip)
        .await
        .unwrap();
    assert_eq!(skipped, CreatedFile::Skipped(first.clone()));
    let replaced = upload(&*store, folder, "a.txt", DuplicateFileHandling::Replace)
        .await
        .unwrap();
    let CreatedFile::Created { file, replaced } = replaced else {
        panic!("replace stored nothing");
    };
    assert_eq!(replaced, Some(first.id));
    assert_eq!(file.file_name.as_deref(), Some("docs/a.txt"));
    let left = store
        .list_files(folder, &page(10, Order::Asc), false)
        .await
        .unwrap();
    assert_eq!(left, [file]);
    assert_not_found(
        upload(
            &*store,
            FolderId::new(),
            "a.txt",
            DuplicateFileHandling::Suffix,
        )
        .await,
    );
}

pub async fn file_updates_carry_content_and_move_the_job(store: Arc<dyn Store>) {
    let folder = make(&*store, "docs").await.folder.id;
    let new = NewFile {
        file: file(folder, "a.txt"),
        job: Some(job(folder)),
        duplicate: DuplicateFileHandling::Suffix,
    };
    let job_id = new.job.as_ref().unwrap().id;
    let made = created(store.create_file(new).await.unwrap());
    let step = |status, content: Option<&'static str>| -> crate::FileEdit {
        Box::new(move |f| {
            f.processing_status = status;
            if let Some(c) = content {
                f.content = Some(c.into());
                f.total_chunks = Some(2);
            }
            Ok(())
        })
    };
    store
        .update_file(made.id, step(FileProcessingStatus::Parsing, None))
        .await
        .unwrap();
    assert_eq!(
        store.get_job(job_id).await.unwrap().status,
        JobStatus::Running
    );
    store
        .update_file(
            made.id,
            step(FileProcessingStatus::Completed, Some("hello")),
        )
        .await
        .unwrap();
    let job = store.get_job(job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert!(job.completed_at.is_some());
    let bare = store.get_file(folder, made.id, false).await.unwrap();
    assert_eq!(bare.content, None);
    assert_eq!(bare.total_chunks, Some(2));
    let full = store.get_file(folder, made.id, true).await.unwrap();
    assert_eq!(full.content.as_deref(), Some("hello"));
    let listed = store
        .list_files(folder, &page(10, Order::Asc), true)
        .await
        .unwrap();
    assert_eq!(listed, [full]);
    let other = make(&*store, "other").await.folder.id;
    assert_not_found(store.get_file(other, made.id, false).await);
    assert_not_found(
        store
            .update_file(FileId::new(), step(FileProcessingStatus::Error, None))
            .await,
    );
}

pub async fn unfinished_files_restart_without_their_passages(store: Arc<dyn Store>) {
    let folder = make(&*store, "docs").await.folder.id;
    let done = created(
        upload(&*store, folder, "a.txt", DuplicateFileHandling::Suffix)
            .await
            .unwrap(),
    );
    let busy = created(
        upload(&*store, folder, "b.txt", DuplicateFileHandling::Suffix)
            .await
            .unwrap(),
    );
    store
        .update_file(
            done.id,
            Box::new(|f| {
                f.processing_status = FileProcessingStatus::Completed;
                Ok(())
            }),
        )
        .await
        .unwrap();
    store
        .update_file(
            busy.id,
            Box::new(|f| {
                f.processing_status = FileProcessingStatus::Embedding;
                f.content = Some("text".into());
                f.total_chunks = Some(2);
                f.chunks_embedded = Some(1);
                Ok(())
            }),
        )
        .await
        .unwrap();
    let record = store.get_folder(folder).await.unwrap();
    let mut half = passage(record.archive_id, "half of b", &[], None);
    half.metadata = Some(json!({"file_id": busy.id}).as_object().unwrap().clone());
    store.insert_passages(vec![half]).await.unwrap();
    let restarted = store.restart_unfinished_files().await.unwrap();
    assert_eq!(restarted.len(), 1);
    assert_eq!((restarted[0].file, restarted[0].folder), (busy.id, folder));
    assert!(restarted[0].has_text && restarted[0].job.is_some());
    let busy = store.get_file(folder, busy.id, true).await.unwrap();
    assert_eq!(busy.processing_status, FileProcessingStatus::Pending);
    assert_eq!((busy.total_chunks, busy.chunks_embedded), (None, None));
    assert_eq!(busy.content.as_deref(), Some("text"), "the text read stays");
    let left = store
        .list_passages(
            &[record.archive_id],
            &crate::PassageList {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(left.is_empty(), "the partial passages are gone: {left:?}");
    let done = store.get_file(folder, done.id, false).await.unwrap();
    assert_eq!(done.processing_status, FileProcessingStatus::Completed);
    let active = JobFilter {
        folder: Some(folder),
        active: true,
    };
    let jobs = store
        .list_jobs(&active, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "the restarted file's job is pending again");
    assert!(store.restart_unfinished_files().await.unwrap().len() == 1);
}

pub async fn deleting_files_and_folders_takes_their_passages(store: Arc<dyn Store>) {
    let record = make(&*store, "docs").await;
    let folder = record.folder.id;
    let a = created(
        upload(&*store, folder, "a.txt", DuplicateFileHandling::Suffix)
            .await
            .unwrap(),
    );
    let b = created(
        upload(&*store, folder, "b.txt", DuplicateFileHandling::Suffix)
            .await
            .unwrap(),
    );
    let of = |file: FileId, text: &str| {
        let mut p = passage(record.archive_id, text, &[], None);
        p.metadata = Some(json!({"file_id": file}).as_object().unwrap().clone());
        p
    };
    store
        .insert_passages(vec![of(a.id, "from a"), of(b.id, "from b")])
        .await
        .unwrap();
    store.delete_file(folder, a.id).await.unwrap();
    assert_not_found(store.get_file(folder, a.id, false).await);
    assert_not_found(store.delete_file(folder, a.id).await);
    let list = crate::PassageList {
        limit: 10,
        ascending: true,
        ..Default::default()
    };
    let left = store
        .list_passages(&[record.archive_id], &list)
        .await
        .unwrap();
    assert_eq!(ids(&left, |p| p.text.clone()), ["from b"]);
    let agent = agent(&*store, "reader").await;
    store.attach_folder(agent.id, folder).await.unwrap();
    store.delete_folder(folder).await.unwrap();
    assert_not_found(store.get_folder(folder).await);
    assert_not_found(store.get_archive(record.archive_id).await);
    assert!(store.agent_folders(agent.id).await.unwrap().is_empty());
    assert!(
        store
            .list_jobs(&JobFilter::default(), &page(10, Order::Asc))
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(store.delete_folder(folder).await);
}

pub async fn folders_attach_to_agents_in_order(store: Arc<dyn Store>) {
    let a = make(&*store, "a").await;
    let b = make(&*store, "b").await;
    let agent = agent(&*store, "reader").await;
    let other = super::fixtures::agent(&*store, "other").await;
    store.attach_folder(agent.id, b.folder.id).await.unwrap();
    store.attach_folder(agent.id, a.folder.id).await.unwrap();
    store.attach_folder(agent.id, b.folder.id).await.unwrap();
    store.attach_folder(other.id, a.folder.id).await.unwrap();
    let names: Vec<_> = store
        .agent_folders(agent.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.folder.name)
        .collect();
    assert_eq!(names, ["b", "a"]);
    assert_eq!(
        store.agents_of_folder(a.folder.id).await.unwrap(),
        [agent.id, other.id]
    );
    store.detach_folder(agent.id, a.folder.id).await.unwrap();
    store.detach_folder(agent.id, a.folder.id).await.unwrap();
    assert_eq!(
        store.agents_of_folder(a.folder.id).await.unwrap(),
        [other.id]
    );
    assert_not_found(store.attach_folder(agent.id, FolderId::new()).await);
    assert_not_found(store.agents_of_folder(FolderId::new()).await);
    store.delete_agent(other.id).await.unwrap();
    assert!(
        store
            .agents_of_folder(a.folder.id)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn agents_start_with_and_replace_their_folders(store: Arc<dyn Store>) {
    let a = make(&*store, "a").await.folder.id;
    let b = make(&*store, "b").await.folder.id;
    let mut new = new_agent("reader", Vec::new());
    new.folders = vec![b, a];
    let agent = store.create_agent(new).await.unwrap();
    let of = |list: Vec<FolderRecord>| list.into_iter().map(|r| r.folder.id).collect::<Vec<_>>();
    assert_eq!(of(store.agent_folders(agent.id).await.unwrap()), [b, a]);
    let mut broken = new_agent("broken", Vec::new());
    broken.folders = vec![a, FolderId::new()];
    let id = broken.agent.id;
    assert_not_found(store.create_agent(broken).await);
    assert_not_found(store.get_agent(id).await);
    store.set_agent_folders(agent.id, vec![a]).await.unwrap();
    assert_eq!(of(store.agent_folders(agent.id).await.unwrap()), [a]);
    assert_not_found(
        store
            .set_agent_folders(agent.id, vec![b, FolderId::new()])
            .await,
    );
    assert_eq!(of(store.agent_folders(agent.id).await.unwrap()), [a]);
    store.set_agent_folders(agent.id, Vec::new()).await.unwrap();
    assert!(store.agent_folders(agent.id).await.unwrap().is_empty());
}

pub async fn jobs_list_update_and_delete(store: Arc<dyn Store>) {
    let one = make(&*store, "one").await.folder.id;
    let two = make(&*store, "two").await.folder.id;
    let mut made = Vec::new();
    for f in [one, two, one] {
        let new = NewFile {
            file: file(f, &format!("{}.txt", made.len())),
            job: Some(job(f)),
            duplicate: DuplicateFileHandling::Suffix,
        };
        made.push(new.job.as_ref().unwrap().id);
        store.create_file(new).await.unwrap();
        pause().await;
    }
    let all = store
        .list_jobs(&JobFilter::default(), &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&all, |j| j.id), made);
    let of_one = JobFilter {
        folder: Some(one),
        active: false,
    };
    let listed = store
        .list_jobs(&of_one, &page(10, Order::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&listed, |j| j.id), [made[2], made[0]]);
    let after = cursor(page(10, Order::Asc), made[0], true);
    let rest = store
        .list_jobs(&JobFilter::default(), &after)
        .await
        .unwrap();
    assert_eq!(ids(&rest, |j| j.id), [made[1], made[2]]);
    let cancelled = store
        .update_job(
            made[1],
            Box::new(|j| {
                j.status = JobStatus::Cancelled;
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(store.get_job(made[1]).await.unwrap(), cancelled);
    let active = JobFilter {
        folder: None,
        active: true,
    };
    let running = store
        .list_jobs(&active, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&running, |j| j.id), [made[0], made[2]]);
    store.delete_job(made[0]).await.unwrap();
    assert_not_found(store.get_job(made[0]).await);
    assert_not_found(store.delete_job(made[0]).await);
}

pub async fn folder_stats_count_files_and_sizes(store: Arc<dyn Store>) {
    let a = make(&*store, "a").await.folder.id;
    make(&*store, "b").await;
    for name in ["x.txt", "y.txt"] {
        upload(&*store, a, name, DuplicateFileHandling::Suffix)
            .await
            .unwrap();
    }
    let stats = store.folder_stats().await.unwrap();
    assert_eq!(stats.len(), 2);
    assert_eq!((stats[0].file_count, stats[0].total_size), (2, 24));
    assert_eq!(stats[0].files.len(), 2);
    assert_eq!((stats[1].file_count, stats[1].total_size), (0, 0));
}

pub(super) fn agent_file(agent_file_of: &FileMetadata, open: bool) -> crate::AgentFile {
    let now = mneme_types::time::now();
    crate::AgentFile {
        id: mneme_types::FileAgentId::new(),
        file_id: agent_file_of.id,
        folder_id: agent_file_of.source_id,
        file_name: String::new(),
        is_open: open,
        visible_content: open.then(|| "[Viewing file start (out of 1 lines)]\n1: hi".into()),
        start_line: None,
        end_line: None,
        last_accessed_at: now,
        created_at: now,
    }
}

pub async fn agent_files_upsert_and_go_with_their_folder(store: Arc<dyn Store>) {
    let a = make(&*store, "a").await;
    let b = make(&*store, "b").await;
    let agent = agent(&*store, "reader").await;
    let fa = created(
        upload(&*store, a.folder.id, "x.txt", DuplicateFileHandling::Error)
            .await
            .unwrap(),
    );
    let fb = created(
        upload(&*store, b.folder.id, "y.txt", DuplicateFileHandling::Error)
            .await
            .unwrap(),
    );
    store.attach_folder(agent.id, a.folder.id).await.unwrap();
    // b is not attached: its row is skipped
    let first = agent_file(&fa, true);
    store
        .save_agent_files(agent.id, vec![first.clone(), agent_file(&fb, true)])
        .await
        .unwrap();
    let held = store.agent_files(agent.id).await.unwrap();
    assert_eq!(held.directories.len(), 1);
    assert_eq!(held.directories[0].name, "a");
    assert_eq!(held.files.len(), 1);
    assert_eq!(held.files[0].id, first.id);
    assert_eq!(held.files[0].file_name, "a/x.txt");
    assert!(held.files[0].is_open);

    // a second row for the same file updates the first in place
    let mut closed = agent_file(&fa, false);
    closed.start_line = Some(3);
    store
        .save_agent_files(agent.id, vec![closed])
        .await
        .unwrap();
    let held = store.agent_files(agent.id).await.unwrap();
    assert_eq!(held.files.len(), 1);
    assert_eq!(held.files[0].id, first.id, "the row keeps its id");
    assert!(!held.files[0].is_open);
    assert_eq!(held.files[0].visible_content, None);
    assert_eq!(held.files[0].start_line, Some(3));

    store.detach_folder(agent.id, a.folder.id).await.unwrap();
    let held = store.agent_files(agent.id).await.unwrap();
    assert!(
        held.directories.is_empty() && held.files.is_empty(),
        "{held:?}"
    );
    assert_not_found(store.agent_files(mneme_types::AgentId::new()).await);
}

pub async fn agent_files_go_with_their_file_and_steps_write_them(store: Arc<dyn Store>) {
    let a = make(&*store, "a").await;
    let agent = agent(&*store, "reader").await;
    let x = created(
        upload(&*store, a.folder.id, "x.txt", DuplicateFileHandling::Error)
            .await
            .unwrap(),
    );
    let y = created(
        upload(&*store, a.folder.id, "y.txt", DuplicateFileHandling::Error)
            .await
            .unwrap(),
    );
    store.attach_folder(agent.id, a.folder.id).await.unwrap();
    store
        .save_agent_files(agent.id, vec![agent_file(&x, true), agent_file(&y, false)])
        .await
        .unwrap();

    // a step opening y and closing x writes both with its messages
    let mut held = store.agent_files(agent.id).await.unwrap().files;
    held[0].is_open = false;
    held[0].visible_content = None;
    held[1].is_open = true;
    held[1].visible_content = Some("1: y".into());
    let run = run_for(&*store, agent.id).await;
    let mut commit = commit(&agent, run, Vec::new());
    commit.file_changes = held;
    store.commit_step(commit).await.unwrap();
    let open: Vec<_> = store
        .agent_files(agent.id)
        .await
        .unwrap()
        .files
        .into_iter()
        .filter(|f| f.is_open)
        .map(|f| f.file_name)
        .collect();
    assert_eq!(open, ["a/y.txt"]);

    store.delete_file(a.folder.id, y.id).await.unwrap();
    let names: Vec<_> = store
        .agent_files(agent.id)
        .await
        .unwrap()
        .files
        .into_iter()
        .map(|f| f.file_name)
        .collect();
    assert_eq!(names, ["a/x.txt"]);
    store.delete_folder(a.folder.id).await.unwrap();
    assert_eq!(
        store.agent_files(agent.id).await.unwrap(),
        crate::AgentFiles::default()
    );
}

//! Folders (`/v1/folders`, and `/v1/sources` under Letta's older name): their CRUD, their
//! files, their attachments to agents, and the jobs that report a file's processing.

mod agent_files;
mod files;
mod jobs;
mod process;
mod upload;

pub(crate) use agent_files::FolderReader;
pub(crate) use process::{FileQueue, Work};
pub use upload::{Upload, Uploaded};

use mneme_store::{Archive, FolderFilter, FolderRecord, Page};
use mneme_types::{
    AgentId, ArchiveId, Folder, FolderCreate, FolderId, FolderUpdate, OrganizationSourcesStats,
    VectorDbProvider, time,
};

use crate::archival::ORGANIZATION_ID;
use crate::{Result, Service, ServiceError};

/// The chunk size a folder's embedding config records when the request names none (Letta's).
pub(crate) const DEFAULT_CHUNK_SIZE: u32 = 300;

impl Service {
    pub async fn create_folder(&self, req: FolderCreate) -> Result<Folder> {
        if req.name.trim().is_empty() {
            return Err(ServiceError::Unprocessable("name must not be empty".into()));
        }
        let embedding_config = match req.embedding_config {
            Some(c) => c,
            None => {
                let handle = req
                    .embedding
                    .or_else(|| self.config.default_embedding.clone())
                    .ok_or_else(|| {
                        ServiceError::bad(
                            "Must specify either embedding or embedding_config in request",
                        )
                    })?;
                let mut c = self.models.resolve_embedding(&handle)?;
                c.embedding_chunk_size =
                    Some(req.embedding_chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE));
                c
            }
        };
        let (folder, archive) = new_folder(
            FolderText {
                name: req.name,
                description: req.description,
                instructions: req.instructions,
                metadata: req.metadata,
            },
            embedding_config,
        );
        Ok(shown(self.store.create_folder(folder, archive).await?))
    }

    pub async fn list_folders(&self, filter: &FolderFilter, page: &Page) -> Result<Vec<Folder>> {
        let found = self.store.list_folders(filter, page).await?;
        Ok(found.into_iter().map(shown).collect())
    }

    pub async fn count_folders(&self) -> Result<u64> {
        Ok(self.store.count_folders().await?)
    }

    pub async fn get_folder(&self, id: FolderId) -> Result<Folder> {
        Ok(shown(self.store.get_folder(id).await?))
    }

    /// The id of the folder with that name (a deprecated route that answers a bare string).
    pub async fn folder_id_by_name(&self, name: &str) -> Result<FolderId> {
        Ok(self.store.folder_by_name(name).await?.folder.id)
    }

    pub async fn update_folder(&self, id: FolderId, req: FolderUpdate) -> Result<Folder> {
        if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ServiceError::Unprocessable("name must not be empty".into()));
        }
        let updated = self
            .store
            .update_folder(
                id,
                Box::new(move |f| {
                    if let Some(name) = req.name {
                        f.name = name;
                    }
                    if let Some(d) = req.description {
                        f.description = Some(d);
                    }
                    if let Some(i) = req.instructions {
                        f.instructions = Some(i);
                    }
                    if let Some(m) = req.metadata {
                        f.metadata = Some(m);
                    }
                    if let Some(c) = req.embedding_config {
                        f.embedding_config = c;
                    }
                    Ok(())
                }),
            )
            .await?;
        Ok(shown(updated))
    }

    /// Deletes the folder with its files, their passages and its jobs, and detaches it.
    pub async fn delete_folder(&self, id: FolderId) -> Result<()> {
        let agents = self.store.agents_of_folder(id).await?;
        self.store.delete_folder(id).await?;
        self.searcher.changed();
        for agent in agents {
            // The folder is gone either way; an agent deleted meanwhile has nothing to fix.
            if let Err(e) = self.sync_agent_files(agent).await {
                tracing::debug!(%agent, error = %e, "an agent's file tools were not updated");
            }
        }
        Ok(())
    }

    /// Counts and sizes of every folder's files; the per-file lists only when asked.
    pub async fn folders_metadata(&self, detailed: bool) -> Result<OrganizationSourcesStats> {
        let mut sources = self.store.folder_stats().await?;
        if !detailed {
            sources.iter_mut().for_each(|s| s.files.clear());
        }
        Ok(OrganizationSourcesStats {
            total_sources: sources.len() as u64,
            total_files: sources.iter().map(|s| s.file_count).sum(),
            total_size: sources.iter().map(|s| s.total_size).sum(),
            sources,
        })
    }

    /// Ids of the agents the folder is attached to, paged by agent id in attachment order.
    pub async fn folder_agents(&self, id: FolderId, page: &Page) -> Result<Vec<AgentId>> {
        let ids = self.store.agents_of_folder(id).await?;
        Ok(crate::agents::page_in_order(ids, page, |a| a.to_string()))
    }

    /// Attaches the folder; the agent gets the file tools and the folder's files open.
    pub async fn attach_folder(&self, agent: AgentId, id: FolderId) -> Result<()> {
        self.store.attach_folder(agent, id).await?;
        self.sync_agent_files(agent).await
    }

    /// Detaches the folder with its files; the agent's last folder takes the file tools.
    pub async fn detach_folder(&self, agent: AgentId, id: FolderId) -> Result<()> {
        self.store.detach_folder(agent, id).await?;
        self.sync_agent_files(agent).await
    }

    /// The agent's folders in attachment order, paged by folder id.
    pub async fn agent_folders(&self, agent: AgentId, page: &Page) -> Result<Vec<Folder>> {
        let folders = self.store.agent_folders(agent).await?;
        let folders = folders.into_iter().map(shown).collect();
        Ok(crate::agents::page_in_order(folders, page, |f: &Folder| {
            f.id.to_string()
        }))
    }
}

impl Service {
    /// Fills `sources` of agent states with their attached folders and `memory.file_blocks`
    /// with their files, when the read includes them.
    pub(crate) async fn fill_sources(
        &self,
        states: &mut [mneme_types::AgentState],
        include: crate::Include,
    ) -> Result<()> {
        if include.blocks {
            for state in states.iter_mut() {
                state.memory.file_blocks = self.file_blocks(state).await?;
            }
        }
        if !include.sources {
            return Ok(());
        }
        for state in states {
            let folders = self.store.agent_folders(state.id).await?;
            state.sources = folders
                .into_iter()
                .map(|r| serde_json::to_value(shown(r)).unwrap_or_default())
                .collect();
        }
        Ok(())
    }
}

/// What a new folder is called and says about itself.
pub(crate) struct FolderText {
    pub name: String,
    pub description: Option<String>,
    pub instructions: Option<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A new folder and the archive that holds its files' passages.
pub(crate) fn new_folder(
    text: FolderText,
    config: mneme_types::EmbeddingConfig,
) -> (Folder, Archive) {
    let now = time::now();
    let folder = Folder {
        name: text.name,
        description: text.description,
        instructions: text.instructions,
        metadata: text.metadata,
        id: FolderId::new(),
        embedding_config: config,
        organization_id: None,
        vector_db_provider: VectorDbProvider::Native,
        created_by_id: None,
        last_updated_by_id: None,
        created_at: now,
        updated_at: now,
    };
    let archive = Archive {
        id: ArchiveId::new(),
        name: format!("folder {}", folder.id),
        description: None,
        embedding_config: Some(folder.embedding_config.clone()),
        metadata: None,
        created_at: now,
        updated_at: now,
    };
    (folder, archive)
}

/// `Folder` as the API answers it: in the one built-in organization.
fn shown(record: FolderRecord) -> Folder {
    Folder {
        organization_id: Some(ORGANIZATION_ID.to_owned()),
        ..record.folder
    }
}

impl Service {
    /// The passages cut from the folder's files, newest first unless `ascending`.
    pub async fn folder_passages(
        &self,
        id: FolderId,
        query: &mneme_store::PassageList,
    ) -> Result<Vec<mneme_types::Passage>> {
        let record = self.store.get_folder(id).await?;
        let found = self
            .store
            .list_passages(&[record.archive_id], query)
            .await?;
        Ok(found
            .iter()
            .map(|p| {
                let mut shown = crate::archival::passage(p);
                let meta = p.metadata.as_ref();
                let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(|v| v.as_str());
                shown.source_id = Some(id.to_string());
                shown.file_id = text("file_id").map(str::to_owned);
                shown.file_name = text("file_name").map(str::to_owned);
                shown
            })
            .collect())
    }
}

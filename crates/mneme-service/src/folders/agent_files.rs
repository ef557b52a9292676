//! The files of an agent's folders as the agent holds them: attaching a folder gives the agent
//! the file tools and opens the folder's files; a file that finishes parsing opens in every
//! agent of its folder; `/v1/agents/{id}/files` lists, opens and closes them.

use std::sync::Arc;

use async_trait::async_trait;
use mneme_agent::tools::{FILE_TOOL_NAMES, FILES_TOOL_TYPE, FilePassage, FileReader, FileText};
use mneme_agent::{FileLimits, OpenFiles, files::stored_view};
use mneme_documents::DocumentKind;
use mneme_store::{Agent, AgentDirectory, AgentFile, AgentFiles, Page, PassageFilter, Store};
use mneme_types::{
    AgentFileAttachment, AgentId, FileAgentId, FileBlock, FileId, FileMetadata, FolderId,
    PaginatedAgentFiles, time,
};

use crate::search::Searcher;
use crate::{Result, Service, ServiceError};

impl Service {
    /// Brings the agent's file tools and files in line with its folders: the file tools while
    /// it has a folder and none without, and every readable file of its folders held, those
    /// it did not hold yet opened (least recently used ones closing beyond its limit).
    pub(crate) async fn sync_agent_files(&self, id: AgentId) -> Result<()> {
        let held = self.store.agent_files(id).await?;
        self.sync_file_tools(id, !held.directories.is_empty())
            .await?;
        let agent = self.store.get_agent(id).await?;
        let limits = FileLimits::of(&agent);
        let mut new = Vec::new();
        for dir in &held.directories {
            for id in self.files_not_held(dir.id, &held).await? {
                // Text is read only for files the agent lacks: a detach or a repeated sync
                // reads none.
                match self.store.get_file(dir.id, id, true).await {
                    Ok(file) if file.content.is_some() => {
                        new.push(opened_row(dir.id, &file, limits));
                    }
                    Ok(_) | Err(mneme_store::StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let mut open = OpenFiles::new(held);
        open.attach(new, limits.max_open, time::now());
        Ok(self.store.save_agent_files(id, open.changes()).await?)
    }

    /// Attaches the file tools the agent lacks, or detaches them all.
    async fn sync_file_tools(&self, id: AgentId, wanted: bool) -> Result<()> {
        let attached = self.store.agent_tools(id).await?;
        let held: Vec<_> = attached
            .iter()
            .filter(|t| t.tool_type == FILES_TOOL_TYPE)
            .collect();
        if !wanted {
            for tool in held {
                self.store.detach_tool(id, tool.id).await?;
            }
            return Ok(());
        }
        let missing: Vec<String> = FILE_TOOL_NAMES
            .iter()
            .filter(|n| !held.iter().any(|t| t.name == **n))
            .map(|n| (*n).to_owned())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for tool in self.store.tools_by_name(&missing).await? {
            self.store.attach_tool(id, tool.id).await?;
        }
        Ok(())
    }

    /// The folder's files the agent does not hold, oldest first (listed without their text).
    async fn files_not_held(&self, folder: FolderId, held: &AgentFiles) -> Result<Vec<FileId>> {
        let page = Page {
            limit: u32::MAX,
            order: mneme_store::Order::Asc,
            ..Page::default()
        };
        let files = self.store.list_files(folder, &page, false).await?;
        Ok(files
            .into_iter()
            .map(|f| f.id)
            .filter(|id| !held.files.iter().any(|h| h.file_id == *id))
            .collect())
    }

    /// A file whose text was just read opens in every agent of its folder.
    pub(crate) async fn open_in_agents(&self, file: &FileMetadata) -> Result<()> {
        for agent in self.store.agents_of_folder(file.source_id).await? {
            let held = self.store.agent_files(agent).await?;
            let limits = FileLimits::of(&self.store.get_agent(agent).await?);
            let mut open = OpenFiles::new(held);
            open.attach(
                vec![opened_row(file.source_id, file, limits)],
                limits.max_open,
                time::now(),
            );
            self.store.save_agent_files(agent, open.changes()).await?;
        }
        Ok(())
    }

    /// `GET /v1/agents/{id}/files`: the agent's files by when they were attached, with
    /// `is_open` filtering and cursors by attachment id.
    pub async fn list_agent_files(
        &self,
        agent: AgentId,
        is_open: Option<bool>,
        page: &Page,
    ) -> Result<PaginatedAgentFiles> {
        let held = self.store.agent_files(agent).await?;
        let rows: Vec<AgentFile> = held
            .files
            .iter()
            .filter(|f| is_open.is_none_or(|o| f.is_open == o))
            .cloned()
            .collect();
        let mut wider = page.clone();
        wider.limit = page.limit.saturating_add(1);
        // The SDK documents the cursor as a file id; an attachment's id works too.
        for cursor in [&mut wider.after, &mut wider.before] {
            if let Some(id) = cursor.as_deref().and_then(|c| c.parse::<FileId>().ok())
                && let Some(row) = held.files.iter().find(|f| f.file_id == id)
            {
                *cursor = Some(row.id.to_string());
            }
        }
        let mut shown = crate::agents::page_in_order(rows, &wider, |f| f.id.to_string());
        let has_more = shown.len() > page.limit as usize;
        shown.truncate(page.limit as usize);
        let files: Vec<AgentFileAttachment> = shown.iter().map(|f| attachment(&held, f)).collect();
        Ok(PaginatedAgentFiles {
            next_cursor: files.last().map(|f| f.id),
            files,
            has_more,
        })
    }

    /// `PATCH /v1/agents/{id}/files/{file_id}/open`: opens the whole file; answers the names
    /// closed to make room.
    pub async fn open_agent_file(&self, agent: AgentId, file: FileId) -> Result<Vec<String>> {
        let (held, row) = self.held_file(agent, file).await?;
        let limits = FileLimits::of(&self.store.get_agent(agent).await?);
        let text = self.store.get_file(row.folder_id, file, true).await?;
        let view = full_view(&text, limits);
        let mut open = OpenFiles::new(held);
        let opened = open
            .open(
                &row.file_name,
                view,
                Default::default(),
                limits.max_open,
                time::now(),
            )
            .ok_or_else(|| not_attached(file))?;
        self.store.save_agent_files(agent, open.changes()).await?;
        Ok(opened.closed)
    }

    /// `PATCH /v1/agents/{id}/files/{file_id}/close`.
    pub async fn close_agent_file(&self, agent: AgentId, file: FileId) -> Result<()> {
        let (held, row) = self.held_file(agent, file).await?;
        let mut open = OpenFiles::new(held);
        open.close(row.id);
        Ok(self.store.save_agent_files(agent, open.changes()).await?)
    }

    /// `PATCH /v1/agents/{id}/files/close-all`: answers the names closed.
    pub async fn close_all_agent_files(&self, agent: AgentId) -> Result<Vec<String>> {
        let mut open = OpenFiles::new(self.store.agent_files(agent).await?);
        let closed = open.close_all_except(&[]);
        self.store.save_agent_files(agent, open.changes()).await?;
        Ok(closed)
    }

    async fn held_file(&self, agent: AgentId, file: FileId) -> Result<(AgentFiles, AgentFile)> {
        let held = self.store.agent_files(agent).await?;
        let row = held
            .files
            .iter()
            .find(|f| f.file_id == file)
            .cloned()
            .ok_or_else(|| not_attached(file))?;
        Ok((held, row))
    }

    /// `memory.file_blocks` of an agent state: each file as a read-only block.
    pub(crate) async fn file_blocks(
        &self,
        state: &mneme_types::AgentState,
    ) -> Result<Vec<FileBlock>> {
        let held = self.store.agent_files(state.id).await?;
        let limits = FileLimits::new(
            state.max_files_open,
            state.per_file_view_window_char_limit,
            state.llm_config.context_window,
        );
        Ok(held.files.iter().map(|f| file_block(f, limits)).collect())
    }
}

fn not_attached(file: FileId) -> ServiceError {
    ServiceError::NotFound(format!("File {file} is not attached to this agent"))
}

/// A new row opening the whole file.
fn opened_row(folder: FolderId, file: &FileMetadata, limits: FileLimits) -> AgentFile {
    let now = time::now();
    AgentFile {
        id: FileAgentId::new(),
        file_id: file.id,
        folder_id: folder,
        file_name: file.file_name.clone().unwrap_or_default(),
        is_open: true,
        visible_content: Some(full_view(file, limits)),
        start_line: None,
        end_line: None,
        last_accessed_at: now,
        created_at: now,
    }
}

/// The line-numbered view of the whole file, as much of it as the agent can see.
fn full_view(file: &FileMetadata, limits: FileLimits) -> String {
    let text = text_of(file);
    let lines = mneme_documents::lines(text.kind, &text.text);
    let view = mneme_documents::view(text.kind, &lines, None, None).unwrap_or_default();
    stored_view(view, limits)
}

/// A file's stored text and how to cut it, its kind told by its name and type (plain text
/// when neither says).
pub(crate) fn text_of(file: &FileMetadata) -> FileText {
    let name = file
        .original_file_name
        .as_deref()
        .or(file.file_name.as_deref())
        .unwrap_or_default();
    FileText {
        kind: DocumentKind::detect(name, file.file_type.as_deref()).unwrap_or(DocumentKind::Text),
        text: file.content.clone().unwrap_or_default(),
    }
}

fn attachment(held: &AgentFiles, f: &AgentFile) -> AgentFileAttachment {
    let folder_name = held
        .directories
        .iter()
        .find(|d| d.id == f.folder_id)
        .map_or_else(String::new, |d: &AgentDirectory| d.name.clone());
    AgentFileAttachment {
        id: f.id,
        file_id: f.file_id,
        file_name: f.file_name.clone(),
        folder_id: f.folder_id,
        folder_name,
        is_open: f.is_open,
        last_accessed_at: Some(f.last_accessed_at),
        visible_content: f.visible_content.clone().filter(|_| f.is_open),
        start_line: f.start_line,
        end_line: f.end_line,
    }
}

fn file_block(f: &AgentFile, limits: FileLimits) -> FileBlock {
    let block = mneme_types::Block {
        id: mneme_types::BlockId::from_uuid(f.id.uuid()),
        label: Some(f.file_name.clone()),
        value: mneme_agent::files::visible_value(f, limits.chars_per_file),
        limit: limits.chars_per_file,
        description: None,
        read_only: true,
        metadata: Some(Default::default()),
        tags: Some(Vec::new()),
        hidden: None,
        is_template: false,
        template_name: None,
        template_id: None,
        base_template_id: None,
        deployment_id: None,
        entity_id: None,
        project_id: None,
        preserve_on_migration: Some(false),
        created_by_id: None,
        last_updated_by_id: None,
    };
    FileBlock {
        block,
        file_id: f.file_id,
        source_id: f.folder_id,
        is_open: f.is_open,
        last_accessed_at: Some(f.last_accessed_at),
    }
}

/// What the file tools read: files' text from the store, passages from the search index.
pub(crate) struct FolderReader {
    pub store: Arc<dyn Store>,
    pub searcher: Arc<Searcher>,
}

#[async_trait]
impl FileReader for FolderReader {
    async fn file_text(
        &self,
        folder: FolderId,
        file: FileId,
    ) -> std::result::Result<Option<FileText>, String> {
        match self.store.get_file(folder, file, true).await {
            Ok(f) if f.content.is_some() => Ok(Some(text_of(&f))),
            Ok(_) | Err(mneme_store::StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(format!("Error reading the file: {e}")),
        }
    }

    async fn search_passages(
        &self,
        _agent: &Agent,
        folders: &[FolderId],
        query: &str,
        limit: usize,
    ) -> std::result::Result<Vec<FilePassage>, String> {
        let mut archives = Vec::new();
        for folder in folders {
            let record = self
                .store
                .get_folder(*folder)
                .await
                .map_err(|e| e.to_string())?;
            archives.push(
                self.store
                    .get_archive(record.archive_id)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let found = self
            .searcher
            .search_passages(&archives, query, &PassageFilter::default(), limit)
            .await
            .map_err(|e| format!("Error searching the files: {e}"))?;
        Ok(found
            .into_iter()
            .map(|f| {
                let meta = f.item.metadata.as_ref();
                let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(|v| v.as_str());
                FilePassage {
                    file_id: text("file_id").and_then(|s| s.parse().ok()),
                    file_name: text("file_name").map(str::to_owned),
                    text: f.item.text,
                }
            })
            .collect())
    }
}

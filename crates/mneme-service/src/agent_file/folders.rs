//! Folders and files in Agent Files: an agent's folders out as `sources`, the files it holds
//! as `files` (with their text) and its views of them as `files_agents`; and back in, as new
//! folders whose files are chunked and embedded once the import is written.

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use mneme_store::{AgentFile, AgentFiles, Archive, FolderRecord, ImportedFolder};
use mneme_types::agent_file::{
    AgentFile as Document, AgentSchema, FileAgentSchema, FileProcessingStatus as FileStatus,
    FileSchema, SourceSchema,
};
use mneme_types::{
    AgentId, EmbeddingConfig, FileAgentId, FileId, FileMetadata, FileProcessingStatus, Folder,
    FolderId, time,
};

use crate::folders::DEFAULT_CHUNK_SIZE;
use crate::{Result, Service, ServiceError};

/// What a file without text is marked with: nothing can be read or searched in it.
const NO_TEXT: &str = "the agent file held no text for this file";

/// The exported agents' folders and the files they hold, under file-local ids.
#[derive(Default)]
pub(super) struct ExportedFolders {
    pub(super) sources: Vec<SourceSchema>,
    pub(super) files: Vec<FileSchema>,
    /// Per agent (in the order of the agents), its folders and its files.
    held: HashMap<AgentId, (Vec<FolderId>, Vec<AgentFile>)>,
    source_ids: HashMap<FolderId, String>,
    file_ids: HashMap<FileId, String>,
}

impl ExportedFolders {
    /// The agent's `source_ids` and `files_agents`, numbering the rows from `*rows`.
    pub(super) fn fill(&self, schema: &mut AgentSchema, agent: AgentId, rows: &mut usize) {
        let Some((folders, files)) = self.held.get(&agent) else {
            schema.source_ids = Some(Vec::new());
            return;
        };
        let sources = folders.iter().filter_map(|f| self.source_ids.get(f));
        schema.source_ids = Some(sources.cloned().collect());
        for f in files {
            let (Some(file_id), Some(source_id)) = (
                self.file_ids.get(&f.file_id),
                self.source_ids.get(&f.folder_id),
            ) else {
                continue;
            };
            schema.files_agents.push(FileAgentSchema {
                agent_id: schema.id.clone(),
                file_id: file_id.clone(),
                source_id: source_id.clone(),
                file_name: f.file_name.clone(),
                is_open: f.is_open,
                visible_content: f.visible_content.clone(),
                last_accessed_at: Some(f.last_accessed_at),
                start_line: f.start_line.map(i64::from),
                end_line: f.end_line.map(i64::from),
                id: format!("file_agent-{rows}"),
            });
            *rows += 1;
        }
    }
}

impl Service {
    /// The folders of these agents (each once, in the order first met) and the files they
    /// hold, with their text, as Letta exports them: files no agent holds stay out.
    pub(super) async fn exported_folders(
        &self,
        agents: impl Iterator<Item = AgentId>,
    ) -> Result<ExportedFolders> {
        let agents: Vec<AgentId> = agents.collect();
        let mut out = ExportedFolders::default();
        for agent in &agents {
            let folders = self.store.agent_folders(*agent).await?;
            for record in &folders {
                if !out.source_ids.contains_key(&record.folder.id) {
                    let id = format!("source-{}", out.sources.len());
                    out.source_ids.insert(record.folder.id, id.clone());
                    out.sources.push(source_schema(record, id));
                }
            }
            let AgentFiles { files, .. } = self.store.agent_files(*agent).await?;
            for f in &files {
                if out.file_ids.contains_key(&f.file_id) {
                    continue;
                }
                let file = self.store.get_file(f.folder_id, f.file_id, true).await?;
                let id = format!("file-{}", out.files.len());
                out.file_ids.insert(f.file_id, id.clone());
                let source = out.source_ids.get(&f.folder_id).cloned();
                out.files
                    .push(file_schema(file, id, source.unwrap_or_default()));
            }
            let ids = folders.iter().map(|r| r.folder.id).collect();
            out.held.insert(*agent, (ids, files));
        }
        Ok(out)
    }
}

fn source_schema(record: &FolderRecord, id: String) -> SourceSchema {
    let f = &record.folder;
    SourceSchema {
        name: f.name.clone(),
        description: f.description.clone(),
        instructions: f.instructions.clone(),
        metadata: f.metadata.clone(),
        embedding: None,
        embedding_chunk_size: None,
        embedding_config: Some(f.embedding_config.clone()),
        id,
    }
}

fn file_schema(f: FileMetadata, id: String, source_id: String) -> FileSchema {
    let count = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
    FileSchema {
        source_id,
        file_name: f.file_name,
        original_file_name: f.original_file_name,
        file_path: f.file_path,
        file_type: f.file_type,
        file_size: count(f.file_size),
        file_creation_date: f.file_creation_date,
        file_last_modified_date: f.file_last_modified_date,
        processing_status: match f.processing_status {
            FileProcessingStatus::Pending => FileStatus::Pending,
            FileProcessingStatus::Parsing => FileStatus::Parsing,
            FileProcessingStatus::Embedding => FileStatus::Embedding,
            FileProcessingStatus::Completed => FileStatus::Completed,
            FileProcessingStatus::Error => FileStatus::Error,
        },
        error_message: f.error_message,
        total_chunks: count(f.total_chunks),
        chunks_embedded: count(f.chunks_embedded),
        content: f.content,
        id,
    }
}

/// A file's folders and files as this server stores them, and what the file's ids stand for.
#[derive(Default)]
pub(super) struct ImportedFolders {
    pub(super) records: Vec<ImportedFolder>,
    folders: HashMap<String, FolderId>,
    /// A file's id in the file: its id here, its folder and its (new) unique name.
    files: HashMap<String, (FileId, FolderId, String)>,
}

impl ImportedFolders {
    /// The agent's folders (`source_ids`, `folder_ids`, and those of the files it holds) and
    /// its files, its views of them kept.
    pub(super) fn of_agent(&self, schema: &AgentSchema) -> (Vec<FolderId>, Vec<AgentFile>) {
        let named = schema.source_ids.iter().chain(&schema.folder_ids).flatten();
        let held = schema.files_agents.iter().map(|fa| &fa.source_id);
        let mut folders: Vec<FolderId> = Vec::new();
        for id in named.chain(held).filter_map(|id| self.folders.get(id)) {
            if !folders.contains(id) {
                folders.push(*id);
            }
        }
        let now = time::now();
        let files = schema
            .files_agents
            .iter()
            .enumerate()
            .filter_map(|(i, fa)| {
                let (file_id, folder_id, name) = self.files.get(&fa.file_id)?;
                // Rows list by creation: one microsecond apart keeps the file's order.
                let created_at = now + Duration::microseconds(i as i64);
                Some(agent_file(fa, *file_id, *folder_id, name, created_at))
            })
            .collect();
        (folders, files)
    }

    /// The files whose text came with them, to chunk and embed: (folder, file).
    pub(super) fn with_text(&self) -> Vec<(FolderId, FileId)> {
        self.records
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.content.is_some())
            .map(|f| (f.source_id, f.id))
            .collect()
    }
}

/// A file of a held folder: known under its kept id and name, not made again.
fn held_file(
    f: &FileSchema,
    folders: &HashMap<String, FolderId>,
    files: &mut HashMap<String, (FileId, FolderId, String)>,
) {
    let (Ok(id), Some(folder)) = (f.id.parse::<FileId>(), folders.get(&f.source_id)) else {
        return;
    };
    let name = f.file_name.clone().unwrap_or_default();
    files.insert(f.id.clone(), (id, *folder, name));
}

fn agent_file(
    fa: &FileAgentSchema,
    file_id: FileId,
    folder_id: FolderId,
    name: &str,
    created_at: chrono::DateTime<chrono::Utc>,
) -> AgentFile {
    let line = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
    AgentFile {
        id: FileAgentId::new(),
        file_id,
        folder_id,
        file_name: name.to_owned(),
        is_open: fa.is_open,
        visible_content: fa.visible_content.clone(),
        start_line: line(fa.start_line),
        end_line: line(fa.end_line),
        last_accessed_at: fa.last_accessed_at.unwrap_or(created_at),
        created_at,
    }
}

impl Service {
    /// The file's sources as new folders, with their files. A name a folder here has already
    /// gets Letta's suffix (`_` and eight hex digits). The embedding model is the import's
    /// override, else the source's when this server can run it, else the server's default.
    pub(super) async fn import_folders(
        &self,
        file: &Document,
        embedding: Option<&EmbeddingConfig>,
        keep_ids: bool,
    ) -> Result<ImportedFolders> {
        let mut out = ImportedFolders::default();
        let mut names: HashSet<String> = HashSet::new();
        let mut held: HashSet<String> = HashSet::new();
        for s in &file.sources {
            if keep_ids && let Some(id) = self.held_folder(&s.id).await? {
                // An earlier import brought it (a folder the agents share with agents here):
                // attached, not made again.
                out.folders.insert(s.id.clone(), id);
                held.insert(s.id.clone());
                continue;
            }
            let name = self.free_folder_name(&s.name, &names).await?;
            names.insert(name.clone());
            let config = match embedding {
                Some(c) => c.clone(),
                None => self.source_embedding(s)?,
            };
            let (mut folder, archive) = new_folder(s, name, config);
            super::import::keep_id(keep_ids, &s.id, &mut folder.id);
            out.folders.insert(s.id.clone(), folder.id);
            out.records.push(ImportedFolder {
                folder,
                archive,
                files: Vec::new(),
            });
        }
        for f in &file.files {
            if held.contains(&f.source_id) {
                held_file(f, &out.folders, &mut out.files);
                continue;
            }
            let source = file
                .sources
                .iter()
                .filter(|s| !held.contains(&s.id))
                .position(|s| s.id == f.source_id);
            let Some(record) = source.and_then(|i| out.records.get_mut(i)) else {
                continue; // the reader checked every file names a source of the file
            };
            let old_folder = file
                .sources
                .iter()
                .find(|s| s.id == f.source_id)
                .map_or("", |s| s.name.as_str());
            let mut file = new_file(f, &record.folder, old_folder, &record.files);
            super::import::keep_id(keep_ids, &f.id, &mut file.id);
            let entry = (file.id, record.folder.id, file.file_name.clone());
            out.files.insert(
                f.id.clone(),
                (entry.0, entry.1, entry.2.unwrap_or_default()),
            );
            record.files.push(file);
        }
        Ok(out)
    }

    /// The folder's id here when ids are kept and the store holds it.
    async fn held_folder(&self, file_id: &str) -> Result<Option<FolderId>> {
        let Ok(id) = file_id.parse::<FolderId>() else {
            return Ok(None);
        };
        match self.store.get_folder(id).await {
            Ok(_) => Ok(Some(id)),
            Err(mneme_store::StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `name`, or `name_<8 hex>` when a folder here (or one earlier in the import) has it.
    async fn free_folder_name(&self, name: &str, this_import: &HashSet<String>) -> Result<String> {
        let taken = match self.store.folder_by_name(name).await {
            Ok(_) => true,
            Err(mneme_store::StoreError::NotFound { .. }) => this_import.contains(name),
            Err(e) => return Err(e.into()),
        };
        if !taken {
            return Ok(name.to_owned());
        }
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Ok(format!("{name}_{}", &suffix[..8]))
    }

    /// The source's model when this server can embed with it, else the server's default
    /// (the file's config kept if there is none: its files then fail to embed, and say so).
    fn source_embedding(&self, s: &SourceSchema) -> Result<EmbeddingConfig> {
        let mut from_file = s.embedding_config.clone();
        if let Some(c) = from_file.as_mut() {
            self.models.localize_embedding(c);
            if self.searcher.can_embed(c) {
                return Ok(c.clone());
            }
        }
        let handle = s
            .embedding
            .clone()
            .or_else(|| self.config.default_embedding.clone());
        let resolved = handle
            .map(|h| self.models.resolve_embedding(&h))
            .transpose();
        match (resolved, from_file) {
            (Ok(Some(mut c)), _) => {
                c.embedding_chunk_size = Some(s.embedding_chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE));
                Ok(c)
            }
            (_, Some(c)) => Ok(c),
            (Err(e), None) => Err(e),
            (Ok(None), None) => Err(ServiceError::bad(format!(
                "Invalid agent file: source {:?} has no embedding_config, and this server has no default embedding model",
                s.id
            ))),
        }
    }
}

fn new_folder(s: &SourceSchema, name: String, config: EmbeddingConfig) -> (Folder, Archive) {
    crate::folders::new_folder(
        crate::folders::FolderText {
            name,
            description: s.description.clone(),
            instructions: s.instructions.clone(),
            metadata: s.metadata.clone(),
        },
        config,
    )
}

/// A file of the import in its new folder, named `<folder>/<name>` as an upload is (its name
/// in the old folder kept, suffixed if another file of the import has it), its text kept and
/// to be embedded; one without text is failed at once.
fn new_file(
    f: &FileSchema,
    folder: &Folder,
    old_folder: &str,
    siblings: &[FileMetadata],
) -> FileMetadata {
    let prefix = format!("{old_folder}/");
    let base = f
        .file_name
        .as_deref()
        .map(|n| n.strip_prefix(&prefix).unwrap_or(n))
        .or(f.original_file_name.as_deref())
        .unwrap_or("file")
        .to_owned();
    let name = free_file_name(&folder.name, &base, siblings);
    let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
    let (status, error) = match f.content {
        Some(_) => (FileProcessingStatus::Parsing, None),
        None => (FileProcessingStatus::Error, Some(NO_TEXT.to_owned())),
    };
    let now = time::now();
    FileMetadata {
        source_id: folder.id,
        file_name: Some(name),
        original_file_name: f.original_file_name.clone().or(Some(base)),
        file_path: f.file_path.clone(),
        file_type: f.file_type.clone(),
        file_size: count(f.file_size),
        file_creation_date: f.file_creation_date.clone(),
        file_last_modified_date: f.file_last_modified_date.clone(),
        processing_status: status,
        error_message: error,
        total_chunks: None,
        chunks_embedded: None,
        content: f.content.clone(),
        id: FileId::new(),
        organization_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// `<folder>/<base>`, or `<folder>/<stem>_(n).<ext>` with the lowest `n` no sibling has.
fn free_file_name(folder: &str, base: &str, siblings: &[FileMetadata]) -> String {
    let taken = |n: &str| siblings.iter().any(|s| s.file_name.as_deref() == Some(n));
    let first = format!("{folder}/{base}");
    if !taken(&first) {
        return first;
    }
    let (stem, ext) = match base.rfind('.').filter(|&i| i > 0) {
        Some(dot) => base.split_at(dot),
        None => (base, ""),
    };
    (1..)
        .map(|n| format!("{folder}/{stem}_({n}){ext}"))
        .find(|n| !taken(n))
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> FileMetadata {
        let schema = FileSchema {
            source_id: "source-0".into(),
            file_name: Some(format!("docs/{name}")),
            original_file_name: None,
            file_path: None,
            file_type: None,
            file_size: None,
            file_creation_date: None,
            file_last_modified_date: None,
            processing_status: FileStatus::Completed,
            error_message: None,
            total_chunks: None,
            chunks_embedded: None,
            content: None,
            id: "file-0".into(),
        };
        let (folder, _) = new_folder(
            &SourceSchema {
                name: "docs".into(),
                description: None,
                instructions: None,
                metadata: None,
                embedding: None,
                embedding_chunk_size: None,
                embedding_config: None,
                id: "source-0".into(),
            },
            "docs_1a2b3c4d".into(),
            mneme_embed::local_embedding_config(),
        );
        new_file(&schema, &folder, "docs", &[])
    }

    #[test]
    fn a_file_takes_its_new_folders_name_and_a_free_one() {
        let first = named("a.txt");
        assert_eq!(first.file_name.as_deref(), Some("docs_1a2b3c4d/a.txt"));
        let siblings = [first];
        assert_eq!(
            free_file_name("docs_1a2b3c4d", "a.txt", &siblings),
            "docs_1a2b3c4d/a_(1).txt"
        );
        assert_eq!(free_file_name("d", "b.txt", &siblings), "d/b.txt");
    }

    #[test]
    fn a_file_without_text_is_failed_with_the_reason() {
        let f = named("a.txt");
        assert_eq!(f.processing_status, FileProcessingStatus::Error);
        assert_eq!(f.error_message.as_deref(), Some(NO_TEXT));
    }
}

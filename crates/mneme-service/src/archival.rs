//! Archival memory over the API: an agent's passages (`/v1/agents/{id}/archival-memory`),
//! archives (`/v1/archives`), and passage search (`/v1/passages/search`). Passages are embedded
//! on insert with their archive's model; search is hybrid (see `search.rs`).

use chrono::{DateTime, Utc};
use mneme_agent::{Found, Relevance};
use mneme_store::{Archive, ArchiveFilter, Page, Passage, PassageEdit, PassageFilter, PassageList};
use mneme_types::{
    AgentId, ArchivalMemorySearchResponse, ArchivalMemorySearchResult, ArchiveCreate, ArchiveId,
    ArchiveUpdate, CreateArchivalMemory, Deleted, EmbeddingConfig, PassageCreate, PassageId,
    PassageSearchRequest, PassageSearchResult, PassageUpdate, SearchRelevance, VectorDbProvider,
    time,
};

use crate::search::default_archive;
use crate::{Result, Service, ServiceError};

/// The query of `GET /v1/agents/{id}/archival-memory/search`.
#[derive(Debug, Clone, Default)]
pub struct ArchivalSearch {
    pub query: String,
    pub tags: Vec<String>,
    pub match_all: bool,
    pub top_k: Option<u32>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Passages inserted by one request at most (batch route).
const MAX_BATCH: usize = 1000;

impl Service {
    pub async fn list_passages(
        &self,
        agent: AgentId,
        q: &PassageList,
    ) -> Result<Vec<mneme_types::Passage>> {
        let archives = self.archive_ids(agent).await?;
        let found = self.store.list_passages(&archives, q).await?;
        Ok(found.iter().map(passage).collect())
    }

    /// Stores one passage in the agent's default archive (Letta answers a list, since long
    /// texts may be chunked) and recompiles the system message, whose metadata counts passages.
    pub async fn insert_passage(
        &self,
        agent: AgentId,
        req: CreateArchivalMemory,
    ) -> Result<Vec<mneme_types::Passage>> {
        let a = self.store.get_agent(agent).await?;
        let archive = default_archive(self.store.as_ref(), &a).await?;
        let new = PassageCreate {
            text: req.text,
            metadata: None,
            tags: req.tags,
            created_at: req.created_at,
        };
        let stored = self.store_passages(&archive, vec![new]).await?;
        self.recompile(agent).await?;
        Ok(stored.iter().map(passage).collect())
    }

    pub async fn search_passages(
        &self,
        agent: AgentId,
        s: ArchivalSearch,
    ) -> Result<ArchivalMemorySearchResponse> {
        let archives = self.store.agent_archives(agent).await?;
        let filter = PassageFilter {
            tags: s.tags,
            match_all_tags: s.match_all,
            start: s.start,
            end: s.end,
        };
        let limit = s.top_k.unwrap_or(5).clamp(1, 1000) as usize;
        let found = self
            .searcher
            .search_passages(&archives, &s.query, &filter, limit)
            .await?;
        let results: Vec<ArchivalMemorySearchResult> = found
            .iter()
            .map(|f| ArchivalMemorySearchResult {
                id: f.item.id,
                timestamp: f.item.created_at,
                content: f.item.text.clone(),
                tags: f.item.tags.clone(),
                relevance: relevance(&f.relevance),
            })
            .collect();
        Ok(ArchivalMemorySearchResponse {
            count: results.len(),
            results,
        })
    }

    pub async fn delete_passage(&self, agent: AgentId, id: PassageId) -> Result<Deleted> {
        let archives = self.archive_ids(agent).await?;
        self.store.delete_passage(&archives, id).await?;
        self.searcher.changed();
        self.recompile(agent).await?;
        Ok(Deleted {
            message: format!("Memory id={id} successfully deleted"),
        })
    }

    /// `PATCH /v1/agents/{id}/archival-memory/{memory_id}` (older SDKs): a new text is
    /// embedded again with its archive's model before the passage is written; tags and
    /// metadata are replaced when given. Answered as a list, as Letta declared it.
    pub async fn update_passage(
        &self,
        agent: AgentId,
        id: PassageId,
        req: PassageUpdate,
    ) -> Result<Vec<mneme_types::Passage>> {
        let archives = self.store.agent_archives(agent).await?;
        if req.text.as_ref().is_some_and(|t| t.trim().is_empty()) {
            return Err(ServiceError::Unprocessable("text must not be empty".into()));
        }
        let text = req.text;
        let vectors = match &text {
            Some(t) => self.embed_per_archive(&archives, t).await?,
            None => Vec::new(),
        };
        let ids: Vec<ArchiveId> = archives.iter().map(|a| a.id).collect();
        let (tags, metadata) = (req.tags, req.metadata);
        let edit: PassageEdit = Box::new(move |p| {
            if let Some(text) = text {
                p.text = text;
                p.embedding = (vectors.into_iter())
                    .find(|(archive, _)| *archive == p.archive_id)
                    .and_then(|(_, v)| v);
            }
            p.tags = tags.unwrap_or(std::mem::take(&mut p.tags));
            p.metadata = metadata.or(p.metadata.take());
            Ok(())
        });
        let updated = self.store.update_passage(&ids, id, edit).await?;
        self.searcher.changed();
        Ok(vec![passage(&updated)])
    }

    /// `text`'s vector for each archive, with the archive's model (one call per model).
    async fn embed_per_archive(
        &self,
        archives: &[Archive],
        text: &str,
    ) -> Result<Vec<(ArchiveId, Option<Vec<f32>>)>> {
        let mut done: Vec<(Option<EmbeddingConfig>, Option<Vec<f32>>)> = Vec::new();
        let mut out = Vec::new();
        for a in archives {
            let known = done.iter().find(|(c, _)| *c == a.embedding_config);
            let vector = match known {
                Some((_, v)) => v.clone(),
                None => {
                    let texts = [text.to_owned()];
                    let got = (self.searcher)
                        .embed_for_storage(a.embedding_config.as_ref(), &texts)
                        .await?;
                    let v = got.and_then(|vs| vs.into_iter().next());
                    done.push((a.embedding_config.clone(), v.clone()));
                    v
                }
            };
            out.push((a.id, vector));
        }
        Ok(out)
    }

    async fn archive_ids(&self, agent: AgentId) -> Result<Vec<ArchiveId>> {
        Ok(self
            .store
            .agent_archives(agent)
            .await?
            .iter()
            .map(|a| a.id)
            .collect())
    }

    /// Validates, embeds (all texts in one call) and stores passages in one transaction.
    async fn store_passages(
        &self,
        archive: &Archive,
        items: Vec<PassageCreate>,
    ) -> Result<Vec<Passage>> {
        if items.is_empty() {
            return Err(ServiceError::Unprocessable(
                "passages must not be empty".into(),
            ));
        }
        if items.len() > MAX_BATCH {
            return Err(ServiceError::Unprocessable(format!(
                "at most {MAX_BATCH} passages per request"
            )));
        }
        if items.iter().any(|p| p.text.trim().is_empty()) {
            return Err(ServiceError::Unprocessable("text must not be empty".into()));
        }
        let texts: Vec<String> = items.iter().map(|p| p.text.clone()).collect();
        let config = archive.embedding_config.clone();
        let mut vectors = self
            .searcher
            .embed_for_storage(config.as_ref(), &texts)
            .await?
            .map(Vec::into_iter);
        let now = time::now();
        let passages: Vec<Passage> = items
            .into_iter()
            .map(|p| {
                let at = p.created_at.map(|t| time_micros(&t)).unwrap_or(now);
                Passage {
                    id: PassageId::new(),
                    archive_id: archive.id,
                    text: p.text,
                    tags: p.tags.unwrap_or_default(),
                    metadata: p.metadata,
                    embedding: vectors.as_mut().and_then(Iterator::next),
                    embedding_config: config.clone(),
                    created_at: at,
                    updated_at: at,
                }
            })
            .collect();
        self.check_passage_quota(passages.len()).await?;
        self.store.insert_passages(passages.clone()).await?;
        self.searcher.changed();
        Ok(passages)
    }

    // ---- /v1/archives ----

    pub async fn create_archive(&self, req: ArchiveCreate) -> Result<mneme_types::Archive> {
        if req.name.trim().is_empty() {
            return Err(ServiceError::Unprocessable("name must not be empty".into()));
        }
        let embedding_config = self.archive_embedding(req.embedding, req.embedding_config)?;
        let now = time::now();
        let a = Archive {
            id: ArchiveId::new(),
            name: req.name,
            description: req.description,
            embedding_config,
            metadata: None,
            created_at: now,
            updated_at: now,
        };
        Ok(archive(&self.store.create_archive(a, None).await?))
    }

    /// An explicit config, else a handle, else the server's default embedding (if any).
    fn archive_embedding(
        &self,
        handle: Option<String>,
        config: Option<EmbeddingConfig>,
    ) -> Result<Option<EmbeddingConfig>> {
        if let Some(c) = config {
            return Ok(Some(c));
        }
        match handle.or_else(|| self.config.default_embedding.clone()) {
            Some(h) => Ok(Some(self.models.resolve_embedding(&h)?)),
            None => Ok(None),
        }
    }

    pub async fn list_archives(
        &self,
        filter: &ArchiveFilter,
        page: &Page,
    ) -> Result<Vec<mneme_types::Archive>> {
        if let Some(agent) = filter.agent {
            self.store.get_agent(agent).await?;
        }
        let found = self.store.list_archives(filter, page).await?;
        Ok(found.iter().map(archive).collect())
    }

    pub async fn get_archive(&self, id: ArchiveId) -> Result<mneme_types::Archive> {
        Ok(archive(&self.store.get_archive(id).await?))
    }

    pub async fn update_archive(
        &self,
        id: ArchiveId,
        req: ArchiveUpdate,
    ) -> Result<mneme_types::Archive> {
        if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ServiceError::Unprocessable("name must not be empty".into()));
        }
        let updated = self
            .store
            .update_archive(
                id,
                Box::new(move |a| {
                    if let Some(name) = req.name {
                        a.name = name;
                    }
                    if let Some(d) = req.description {
                        a.description = Some(d);
                    }
                    Ok(())
                }),
            )
            .await?;
        Ok(archive(&updated))
    }

    /// Deletes the archive and its passages; agents that read it are recompiled.
    pub async fn delete_archive(&self, id: ArchiveId) -> Result<()> {
        let agents = self.agents_reading(id).await?;
        self.store.delete_archive(id).await?;
        self.searcher.changed();
        for agent in agents {
            self.recompile(agent).await?;
        }
        Ok(())
    }

    async fn agents_reading(&self, id: ArchiveId) -> Result<Vec<AgentId>> {
        let page = Page {
            limit: u32::MAX,
            ..Page::default()
        };
        Ok(self
            .store
            .agents_of_archive(id, &page)
            .await?
            .iter()
            .map(|a| a.id)
            .collect())
    }

    pub async fn archive_agents(
        &self,
        id: ArchiveId,
        page: &Page,
        include: crate::Include,
    ) -> Result<Vec<mneme_types::AgentState>> {
        let agents = self.store.agents_of_archive(id, page).await?;
        self.states(agents, include).await
    }

    pub async fn attach_archive(&self, agent: AgentId, id: ArchiveId) -> Result<()> {
        self.store.attach_archive(agent, id).await?;
        self.recompile(agent).await?;
        Ok(())
    }

    pub async fn detach_archive(&self, agent: AgentId, id: ArchiveId) -> Result<()> {
        self.store.detach_archive(agent, id).await?;
        self.recompile(agent).await?;
        Ok(())
    }

    pub async fn create_archive_passages(
        &self,
        id: ArchiveId,
        items: Vec<PassageCreate>,
    ) -> Result<Vec<mneme_types::Passage>> {
        let a = self.store.get_archive(id).await?;
        let stored = self.store_passages(&a, items).await?;
        for agent in self.agents_reading(id).await? {
            self.recompile(agent).await?;
        }
        Ok(stored.iter().map(passage).collect())
    }

    pub async fn delete_archive_passage(&self, id: ArchiveId, passage: PassageId) -> Result<()> {
        self.store.get_archive(id).await?;
        self.store.delete_passage(&[id], passage).await?;
        self.searcher.changed();
        for agent in self.agents_reading(id).await? {
            self.recompile(agent).await?;
        }
        Ok(())
    }

    /// `POST /v1/passages/search`: over one archive, or every archive of one agent.
    pub async fn search_all_passages(
        &self,
        req: PassageSearchRequest,
    ) -> Result<Vec<PassageSearchResult>> {
        let archives = match (req.archive_id, req.agent_id) {
            (Some(id), _) => vec![self.store.get_archive(id).await?],
            (None, Some(agent)) => {
                self.store.get_agent(agent).await?;
                self.store.agent_archives(agent).await?
            }
            (None, None) => {
                return Err(ServiceError::bad(
                    "give archive_id or agent_id: searching every archive at once is not supported",
                ));
            }
        };
        let match_all = match req.tag_match_mode.as_deref() {
            None | Some("any") => false,
            Some("all") => true,
            Some(other) => {
                return Err(ServiceError::Unprocessable(format!(
                    "tag_match_mode must be 'any' or 'all', got '{other}'"
                )));
            }
        };
        let filter = PassageFilter {
            tags: req.tags.unwrap_or_default(),
            match_all_tags: match_all,
            start: req.start_date,
            end: req.end_date,
        };
        let limit = req.limit.unwrap_or(50).clamp(1, 1000) as usize;
        let query = req.query.unwrap_or_default();
        let found = self
            .searcher
            .search_passages(&archives, &query, &filter, limit)
            .await?;
        Ok(found.iter().map(search_result).collect())
    }
}

fn search_result(f: &Found<Passage>) -> PassageSearchResult {
    PassageSearchResult {
        passage: passage(&f.item),
        score: f64::from(f.relevance.rrf_score.unwrap_or(0.0)),
        metadata: relevance(&f.relevance),
    }
}

/// How a passage was found, as the API shows it (only the keys that have a value).
fn relevance(r: &Relevance) -> SearchRelevance {
    SearchRelevance {
        rrf_score: r.rrf_score.map(f64::from),
        vector_rank: r.vector_rank.map(|n| n as u64),
        fts_rank: r.fts_rank.map(|n| n as u64),
        search_mode: r.search_mode.to_owned(),
    }
}

fn time_micros(t: &DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(*t)
}

/// `Passage` as the API returns it.
pub(crate) fn passage(p: &Passage) -> mneme_types::Passage {
    mneme_types::Passage {
        id: p.id,
        text: p.text.clone(),
        tags: p.tags.clone(),
        metadata: p.metadata.clone().unwrap_or_default(),
        embedding: p.embedding.clone(),
        embedding_config: p.embedding_config.clone(),
        archive_id: Some(p.archive_id),
        source_id: None,
        file_id: None,
        file_name: None,
        organization_id: None,
        is_deleted: false,
        created_by_id: None,
        last_updated_by_id: None,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// `Archive` as the API returns it.
fn archive(a: &Archive) -> mneme_types::Archive {
    mneme_types::Archive {
        id: a.id,
        name: a.name.clone(),
        description: a.description.clone(),
        vector_db_provider: VectorDbProvider::Native,
        embedding_config: a.embedding_config.clone(),
        metadata: a.metadata.clone(),
        organization_id: ORGANIZATION_ID.to_owned(),
        created_by_id: None,
        last_updated_by_id: None,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// The one organization every resource of this server belongs to.
pub(crate) const ORGANIZATION_ID: &str = "org-00000000-0000-4000-8000-000000000000";

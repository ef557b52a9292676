//! Hybrid search over archival passages and recall messages.
//!
//! The database is the source of truth; the `mneme-search` index (BM25 + per-owner vector
//! collections) is derived from it through the store's search outbox, which triggers fill in
//! the same transaction as every change. `sync` applies the outbox after the index's position
//! before each search (read-your-writes: into the index's memory tier, no disk write) and a
//! background task keeps it current otherwise and flushes it to disk, so writes on the hot
//! path never wait for the index. The outbox is pruned only up to what the index flushed, the
//! position a restart replays from. Results are hydrated from the database and re-checked
//! there, so a deleted row is never returned whatever the index holds. Rows that commit out of
//! seq order are handled by `seqs`.

#[cfg(test)]
mod recall_tests;
mod seqs;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mneme_agent::{ArchivalQuery, Found, MemorySearch, RecallQuery, Relevance};
use mneme_embed::{EmbedError, Embedder, EmbedderRouter};
use mneme_search::{Change, Doc, Hit, Query, Ranking, SearchIndex, SearchOptions};
use mneme_store::{
    Agent, Archive, Message, MessageFilter, Passage, PassageFilter, Role, SearchKind, Store,
};
use mneme_types::{AgentId, ArchiveId, EmbeddingConfig, PassageId, time};
use tokio::sync::{Mutex, Notify};

use crate::{Result, ServiceError};
use seqs::SeqTracker;

/// Outbox rows applied per batch.
const SYNC_BATCH: u32 = 1000;
/// How long the background indexer lets writes accumulate before applying and flushing them.
const INDEX_DELAY: Duration = Duration::from_secs(5);
/// Messages embedded per background batch.
const RECALL_BATCH: u32 = 64;

/// How many full recall batches one wake-up of the background task embeds back to back.
const RECALL_BATCHES_PER_WAKE: usize = 32;
const RECALL_CURSOR: &str = "recall_embedding";
/// Passages and messages share one index, whose keys must be unique: message keys are offset
/// past any passage sequence number.
const MESSAGE_KEYS: u64 = 1 << 62;

fn index_key(kind: SearchKind, key: u64) -> u64 {
    match kind {
        SearchKind::Passage => key,
        SearchKind::Message => key | MESSAGE_KEYS,
    }
}

fn message_key(index_key: u64) -> u64 {
    index_key & !MESSAGE_KEYS
}

/// Which ranking legs a search uses (`search_mode` of the messages search route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Legs {
    pub text: bool,
    pub vector: bool,
}

impl Legs {
    pub const HYBRID: Legs = Legs {
        text: true,
        vector: true,
    };
}

/// The search side of the service: index, embedders and the sync between them and the store.
pub struct Searcher {
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    embedders: Arc<EmbedderRouter>,
    /// Where the index stands in the outbox; one sync at a time, so it only moves forward.
    outbox: Mutex<SeqTracker>,
    /// Where the recall embedder stands in `messages` (see `seqs`); `None` until it first reads
    /// its persisted cursor, and again while another replica holds the embedder's lease (that
    /// one moves the cursor meanwhile).
    recall: Mutex<Option<SeqTracker>>,
    /// The outbox is pruned up to here (the index's durable watermark when it was last read).
    pruned: AtomicU64,
    wake: Notify,
    recall_vectors: bool,
    /// Set when other replicas share the database: pruning then waits for theirs, and only
    /// the holder of the recall embedder's lease embeds.
    shared: std::sync::OnceLock<mneme_scheduler::SharedConfig>,
    /// Recent query vectors by model and text: a search across agents asks each agent's
    /// history with one query, which is embedded once per model, not once per agent.
    query_vectors: std::sync::Mutex<HashMap<(String, String), Vec<f32>>>,
    /// The passage quota agents' own inserts respect; 0: none.
    max_passages: AtomicU64,
}

/// Query vectors kept; the cache starts over when full (queries rarely repeat beyond a
/// search across agents).
const QUERY_VECTORS: usize = 64;

/// The lease of the replica that computes recall vectors (one at a time, whichever).
const RECALL_LEASE: &str = "job:recall-embedder";

impl Searcher {
    /// Opens the index under `dir` (in memory without one), ranking as `ranking` says, and
    /// queues everything stored when the index is new.
    pub async fn open(
        store: Arc<dyn Store>,
        dir: Option<&Path>,
        embedders: Arc<EmbedderRouter>,
        recall_vectors: bool,
        ranking: Ranking,
    ) -> Result<Arc<Searcher>> {
        let dir = dir.map(Path::to_owned);
        let options = SearchOptions {
            ranking,
            ..SearchOptions::default()
        };
        let index =
            tokio::task::spawn_blocking(move || SearchIndex::open_with(dir.as_deref(), options))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))?
                .map_err(|e| ServiceError::Internal(format!("opening the search index: {e}")))?;
        if index.watermark() == 0 {
            store.reindex_search().await?;
        }
        Ok(Arc::new(Searcher {
            store,
            outbox: Mutex::new(SeqTracker::new(index.watermark())),
            recall: Mutex::new(None),
            pruned: AtomicU64::new(0),
            index: Arc::new(index),
            embedders,
            wake: Notify::new(),
            recall_vectors,
            shared: std::sync::OnceLock::new(),
            query_vectors: std::sync::Mutex::default(),
            max_passages: AtomicU64::new(0),
        }))
    }

    /// Keeps the index current in the background and computes recall vectors.
    pub fn spawn_background(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        // Whatever a previous process left in the outbox.
        self.changed();
        tokio::spawn(async move {
            loop {
                let Some(s) = me.upgrade() else { return };
                s.wake.notified().await;
                // Flush a burst of writes together: each flush is an index commit, which writes
                // and syncs files (and small segments cost merges). A search syncs first anyway.
                tokio::time::sleep(INDEX_DELAY).await;
                if let Err(e) = s.sync().await {
                    tracing::warn!(error = %e, "search index sync failed");
                }
                if let Err(e) = s.flush().await {
                    tracing::warn!(error = %e, "search index flush failed");
                }
                if s.recall_vectors {
                    s.embed_recall_backlog().await;
                }
            }
        });
    }

    /// Other replicas share the database (see `shared`).
    pub fn share(&self, config: mneme_scheduler::SharedConfig) {
        let _ = self.shared.set(config);
    }

    /// The passage quota (`None`: none) for `archival_memory_insert`.
    pub fn limit_passages(&self, max: Option<u64>) {
        self.max_passages
            .store(max.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// Something searchable was written: index it soon.
    pub fn changed(&self) {
        self.wake.notify_one();
    }

    /// Applies the outbox rows that filled a gap, then every row after the last one applied
    /// (see `seqs`), to the index's memory tier. The position moves only with what the index
    /// applied: after a failure the next sync reads the same rows again.
    pub async fn sync(&self) -> Result<()> {
        let mut outbox = self.outbox.lock().await;
        let mut pos = outbox.clone();
        let mut changes = Vec::new();
        for (after, limit) in pos.gap_reads(SYNC_BATCH) {
            let mut rows = self.store.search_changes(after, limit).await?;
            rows.retain(|c| pos.take_filled(c.seq));
            changes.append(&mut rows);
        }
        loop {
            let mut rows = self
                .store
                .search_changes(pos.read_after(), SYNC_BATCH)
                .await?;
            let full = rows.len() == SYNC_BATCH as usize;
            let now = Instant::now();
            rows.retain(|c| pos.take_new(c.seq, now));
            changes.append(&mut rows);
            let watermark = pos.settle(now, seqs::GRACE);
            self.apply(std::mem::take(&mut changes), watermark).await?;
            *outbox = pos.clone();
            if !full {
                return Ok(());
            }
        }
    }

    /// Applies `changes` to the index with `watermark`. The index flushes by itself when its
    /// memory tier is full: then prune the outbox as far as that made durable.
    async fn apply(&self, changes: Vec<mneme_store::SearchChange>, watermark: u64) -> Result<()> {
        if changes.is_empty() && watermark <= self.index.applied_watermark() {
            return Ok(());
        }
        let docs = self.documents(&changes).await?;
        let index = self.index.clone();
        blocking(move || index.apply(&docs, watermark)).await?;
        self.prune().await
    }

    /// Writes what the index applied to disk, then prunes the outbox up to it.
    pub async fn flush(&self) -> Result<()> {
        let index = self.index.clone();
        blocking(move || index.flush()).await?;
        self.prune().await
    }

    /// Prunes the outbox up to the index's durable watermark, never further: a restart
    /// replays the outbox from there, and rows applied but not flushed live only in memory.
    async fn prune(&self) -> Result<()> {
        let durable = self.index.watermark();
        if durable > self.pruned.load(Ordering::Acquire) {
            match self.shared.get() {
                // Every replica's index reads the one outbox: prune only what all applied.
                Some(shared) => {
                    let upto = self
                        .store
                        .prune_search_shared(durable, shared.dead_after)
                        .await?;
                    // Others may lag: ours is recorded, and the next prune tries again.
                    if upto < durable {
                        return Ok(());
                    }
                }
                None => self.store.prune_search_changes(durable).await?,
            }
            self.pruned.fetch_max(durable, Ordering::AcqRel);
        }
        Ok(())
    }

    /// The index changes for outbox rows: current text and vector of rows that still exist,
    /// removals for the others.
    async fn documents(&self, changes: &[mneme_store::SearchChange]) -> Result<Vec<Change>> {
        let keys = |kind| -> Vec<u64> {
            changes
                .iter()
                .filter(|c| c.kind == kind && !c.removed)
                .map(|c| c.key)
                .collect()
        };
        let passages: HashMap<u64, Passage> = self
            .store
            .passages_by_keys(&keys(SearchKind::Passage))
            .await?
            .into_iter()
            .collect();
        let messages: HashMap<u64, (Message, Option<Vec<f32>>)> = self
            .store
            .messages_by_keys(&keys(SearchKind::Message))
            .await?
            .into_iter()
            .map(|(k, m, v)| (k, (m, v)))
            .collect();
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            let key = index_key(c.kind, c.key);
            let remove = Change::Remove {
                key,
                owner: c.owner.clone(),
            };
            let doc = match c.kind {
                _ if c.removed => None,
                SearchKind::Passage => passages
                    .get(&c.key)
                    .map(|p| (p.text.clone(), p.embedding.clone())),
                SearchKind::Message => messages
                    .get(&c.key)
                    .map(|(m, v)| (mneme_agent::tools::recall_text(m), v.clone()))
                    .filter(|(text, _)| !text.is_empty()),
            };
            out.push(match doc {
                Some((text, vector)) => Change::Upsert(Doc {
                    key,
                    owner: c.owner.clone(),
                    text,
                    vector,
                }),
                None => remove,
            });
        }
        Ok(out)
    }

    /// Embeds batches back to back while they come full (a bulk import leaves thousands of
    /// messages at once; one batch per wake-up would take hours over them), up to a bound so
    /// that the index is synced and flushed in between; a full last batch wakes the loop again.
    async fn embed_recall_backlog(&self) {
        if !self.holds_recall_lease().await {
            *self.recall.lock().await = None;
            return;
        }
        for _ in 0..RECALL_BATCHES_PER_WAKE {
            match self.embed_recall_batch().await {
                Ok(true) => continue,
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "recall embedding failed");
                    return;
                }
            }
        }
    }

    /// Whether this replica computes recall vectors: always when alone; when shared, if it
    /// holds (or now takes) the lease, which its heartbeat keeps and its death frees.
    async fn holds_recall_lease(&self) -> bool {
        let Some(shared) = self.shared.get() else {
            return true;
        };
        match self
            .store
            .acquire_lease(RECALL_LEASE, shared.lease_ttl)
            .await
        {
            Ok(None) => true,
            Ok(Some(_)) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the recall embedder's lease");
                false
            }
        }
    }

    /// Embeds the user and assistant messages written since the cursor, for the agents that
    /// have an embedding model; the vectors reach the index through the outbox. Messages that
    /// commit out of seq order are handled by `seqs`: the persisted cursor is the contiguous
    /// watermark. Whether the batch was full (more may be waiting).
    async fn embed_recall_batch(&self) -> Result<bool> {
        let mut recall = self.recall.lock().await;
        let mut pos = match recall.as_ref() {
            Some(pos) => pos.clone(),
            None => SeqTracker::new(self.store.search_cursor(RECALL_CURSOR).await?),
        };
        let persisted = pos.watermark();
        let (batch, full) = self.recall_rows(&mut pos).await?;
        let watermark = pos.settle(Instant::now(), seqs::GRACE);
        if batch.is_empty() && watermark == persisted {
            *recall = Some(pos);
            return Ok(false);
        }
        let vectors = self.recall_vectors(&batch).await?;
        let stored = !vectors.is_empty();
        self.store
            .store_message_vectors(vectors, (RECALL_CURSOR, watermark))
            .await?;
        // Only now: after a failure the next batch reads the same rows again.
        *recall = Some(pos);
        // New vectors to index, or a full batch: more may be waiting.
        if stored || full {
            self.changed();
        }
        Ok(full)
    }

    /// The messages to embed next: those that filled a gap, then the ones after the last read.
    /// Whether the read of new ones came full.
    async fn recall_rows(&self, pos: &mut SeqTracker) -> Result<(Vec<(u64, Message)>, bool)> {
        let mut rows = Vec::new();
        for (after, limit) in pos.gap_reads(RECALL_BATCH) {
            let mut filled = self.store.messages_after(after, limit).await?;
            filled.retain(|(key, _)| pos.take_filled(*key));
            rows.append(&mut filled);
        }
        let mut new = self
            .store
            .messages_after(pos.read_after(), RECALL_BATCH)
            .await?;
        let full = new.len() == RECALL_BATCH as usize;
        let now = Instant::now();
        new.retain(|(key, _)| pos.take_new(*key, now));
        rows.append(&mut new);
        Ok((rows, full))
    }

    /// Recall vectors of the messages with text whose agent has a usable embedding model.
    async fn recall_vectors(
        &self,
        batch: &[(u64, Message)],
    ) -> Result<Vec<(u64, AgentId, Vec<f32>)>> {
        let mut by_agent: HashMap<AgentId, Vec<(u64, String)>> = HashMap::new();
        for (key, m) in batch {
            let text = mneme_agent::tools::recall_text(m);
            if !text.is_empty() {
                by_agent.entry(m.agent_id).or_default().push((*key, text));
            }
        }
        let mut vectors = Vec::new();
        for (agent, items) in by_agent {
            let config = match self.store.get_agent(agent).await {
                Ok(a) => a.embedding_config,
                Err(mneme_store::StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let Some(embedder) = config.as_ref().and_then(|c| self.embedder(c).ok()) else {
                continue;
            };
            let texts: Vec<String> = items.iter().map(|(_, t)| t.clone()).collect();
            match embedder.embed(&texts).await {
                Ok(vs) => vectors.extend(items.iter().zip(vs).map(|((k, _), v)| (*k, agent, v))),
                // Recall still works by full text for these; they are not retried.
                Err(e) => tracing::warn!(%agent, error = %e, "recall embedding skipped"),
            }
        }
        Ok(vectors)
    }

    /// Whether this server has an embedder for the config's provider.
    pub fn can_embed(&self, config: &EmbeddingConfig) -> bool {
        self.embedder(config).is_ok()
    }

    fn embedder(&self, config: &EmbeddingConfig) -> Result<Arc<dyn Embedder>> {
        self.embedders.embedder_for(config).map_err(|e| match e {
            // The config the user gave names no provider or model that exists: their input,
            // a 422, not a server out of order (the API fuzz found this answered 503).
            EmbedError::UnknownEndpointType(_) | EmbedError::UnknownModel(_) => {
                ServiceError::Unprocessable(format!("embedding_config: {e}"))
            }
            _ => ServiceError::Embedding(e.to_string()),
        })
    }

    /// Vectors for texts to store, or `None` without an embedding model. A failing model is an
    /// error: a passage is never stored without the vector its archive expects.
    pub async fn embed_for_storage(
        &self,
        config: Option<&EmbeddingConfig>,
        texts: &[String],
    ) -> Result<Option<Vec<Vec<f32>>>> {
        let Some(config) = config else {
            return Ok(None);
        };
        let vectors = self
            .embedder(config)?
            .embed(texts)
            .await
            .map_err(|e| ServiceError::Embedding(e.to_string()))?;
        Ok(Some(vectors))
    }

    /// The query's vector, or `None` (full text only) without a model or when it fails.
    async fn embed_query(&self, config: Option<&EmbeddingConfig>, text: &str) -> Option<Vec<f32>> {
        let config = config?;
        let key = (model_key(config), text.to_owned());
        if let Some(v) = self.cached_query(|c| c.get(&key).cloned()) {
            return Some(v);
        }
        let result = match self.embedder(config) {
            Ok(e) => e.embed(&[text.to_owned()]).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(mut v) => {
                let vector = v.pop()?;
                self.cached_query(|c| {
                    if c.len() >= QUERY_VECTORS {
                        c.clear();
                    }
                    c.insert(key, vector.clone())
                });
                Some(vector)
            }
            Err(e) => {
                tracing::warn!(error = %e, "query embedding failed; searching by full text");
                None
            }
        }
    }

    /// Runs `f` on the query-vector cache (a poisoned lock only loses the cache).
    fn cached_query<T>(
        &self,
        f: impl FnOnce(&mut HashMap<(String, String), Vec<f32>>) -> Option<T>,
    ) -> Option<T> {
        let mut cache = self.query_vectors.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut cache)
    }

    /// Ranks the archives' passages for `text`, `filter` applied before the limit.
    pub async fn search_passages(
        &self,
        archives: &[Archive],
        text: &str,
        filter: &PassageFilter,
        limit: usize,
    ) -> Result<Vec<Found<Passage>>> {
        if text.trim().is_empty() || archives.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        self.sync().await?;
        let ids: Vec<ArchiveId> = archives.iter().map(|a| a.id).collect();
        let allowed = if filter.is_empty() {
            None
        } else {
            let keys = self.store.passage_keys(&ids, filter).await?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            Some(Arc::new(keys.into_iter().collect::<HashSet<u64>>()))
        };
        let mut hits = Vec::new();
        // Archives usually share one model: embed the query once per model, not per archive.
        let mut vectors: Vec<(Option<&EmbeddingConfig>, Option<Vec<f32>>)> = Vec::new();
        for archive in archives {
            let config = archive.embedding_config.as_ref();
            let vector = match vectors.iter().find(|(c, _)| *c == config) {
                Some((_, v)) => v.clone(),
                None => {
                    let v = self.embed_query(config, text).await;
                    vectors.push((config, v.clone()));
                    v
                }
            };
            if vector.is_some() {
                self.load_passage_vectors(archive.id).await?;
            }
            let owner = archive.id.to_string();
            hits.extend(
                self.query(owner, Some(text), vector, limit, allowed.clone())
                    .await?,
            );
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.key.cmp(&a.key)));
        hits.truncate(limit);
        let keys: Vec<u64> = hits.iter().map(|h| h.key).collect();
        let mut rows: HashMap<u64, Passage> = self
            .store
            .passages_by_keys(&keys)
            .await?
            .into_iter()
            .collect();
        Ok(hits
            .iter()
            .filter_map(|h| {
                let p = rows.remove(&h.key)?;
                ids.contains(&p.archive_id).then(|| Found {
                    item: p,
                    relevance: relevance(h),
                })
            })
            .collect())
    }

    /// Ranks the agent's messages for `text`, or lists the most recent ones without it.
    pub async fn search_messages(
        &self,
        agent: &Agent,
        text: Option<&str>,
        filter: &MessageFilter,
        limit: usize,
        legs: Legs,
    ) -> Result<Vec<Found<Message>>> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return self.recent_messages(agent.id, filter, limit).await;
        };
        self.sync().await?;
        let allowed = if indexes_exactly(filter) {
            None
        } else {
            let keys = self.store.message_keys(agent.id, filter).await?;
            let allowed = keys
                .into_iter()
                .map(|k| index_key(SearchKind::Message, k))
                .collect::<HashSet<u64>>();
            Some(Arc::new(allowed))
        };
        let vector = match legs.vector && self.recall_vectors {
            true => {
                self.embed_query(agent.embedding_config.as_ref(), text)
                    .await
            }
            false => None,
        };
        if vector.is_some() {
            self.load_message_vectors(agent.id).await?;
        }
        let text = legs.text.then_some(text);
        let mut hits = self
            .query(agent.id.to_string(), text, vector, limit, allowed)
            .await?;
        for h in &mut hits {
            h.key = message_key(h.key);
        }
        let mut found: Vec<(u64, Relevance)> = hits.iter().map(|h| (h.key, relevance(h))).collect();
        if legs.text && found.len() < limit {
            self.add_substring_matches(
                agent.id,
                text.unwrap_or_default(),
                filter,
                limit,
                &mut found,
            )
            .await?;
        }
        let keys: Vec<u64> = found.iter().map(|(k, _)| *k).collect();
        let mut rows = self.messages_by_keys(&keys).await?;
        Ok(found
            .into_iter()
            .filter_map(|(key, relevance)| {
                let m = rows.remove(&key)?;
                (m.agent_id == agent.id).then_some(Found { item: m, relevance })
            })
            .collect())
    }

    /// Letta's recall matched substrings ("Mis" finds "Miso"); words do not. Messages that
    /// contain the query but were not ranked follow the ranked ones, newest first.
    async fn add_substring_matches(
        &self,
        agent: AgentId,
        text: &str,
        filter: &MessageFilter,
        limit: usize,
        found: &mut Vec<(u64, Relevance)>,
    ) -> Result<()> {
        let filter = MessageFilter {
            contains: Some(text.trim().to_owned()),
            // Enough to fill the page even if every ranked hit is among them.
            newest: Some((limit * 2) as u32),
            ..filter.clone()
        };
        let keys = self.store.message_keys(agent, &filter).await?;
        let substring = Relevance {
            search_mode: "substring",
            ..Relevance::default()
        };
        for key in keys {
            if found.len() >= limit {
                break;
            }
            if !found.iter().any(|(k, _)| *k == key) {
                found.push((key, substring.clone()));
            }
        }
        Ok(())
    }

    async fn messages_by_keys(&self, keys: &[u64]) -> Result<HashMap<u64, Message>> {
        Ok(self
            .store
            .messages_by_keys(keys)
            .await?
            .into_iter()
            .map(|(k, m, _)| (k, m))
            .collect())
    }

    /// Without a query: the newest messages that pass the filter.
    async fn recent_messages(
        &self,
        agent: AgentId,
        filter: &MessageFilter,
        limit: usize,
    ) -> Result<Vec<Found<Message>>> {
        let newest = MessageFilter {
            newest: Some(limit as u32),
            ..filter.clone()
        };
        let keys = self.store.message_keys(agent, &newest).await?;
        let mut rows = self.messages_by_keys(&keys).await?;
        Ok(keys
            .iter()
            .filter_map(|k| rows.remove(k))
            .map(|m| Found {
                item: m,
                relevance: Relevance {
                    search_mode: "recent",
                    ..Relevance::default()
                },
            })
            .collect())
    }

    async fn query(
        &self,
        owner: String,
        text: Option<&str>,
        vector: Option<Vec<f32>>,
        limit: usize,
        allowed: Option<Arc<HashSet<u64>>>,
    ) -> Result<Vec<Hit>> {
        let q = Query {
            owner,
            text: text.map(str::to_owned),
            vector,
            limit,
            candidates: None,
            allowed,
        };
        let index = self.index.clone();
        blocking(move || {
            let first = index.search(&q);
            // A vector of another model than the collection's: rank by text alone.
            if first.is_err() && q.vector.is_some() {
                let text_only = Query { vector: None, ..q };
                return index.search(&text_only);
            }
            first
        })
        .await
    }

    async fn load_passage_vectors(&self, archive: ArchiveId) -> Result<()> {
        self.load_vectors(archive.to_string(), SearchKind::Passage, || {
            self.store.passage_vectors(archive)
        })
        .await
    }

    async fn load_message_vectors(&self, agent: AgentId) -> Result<()> {
        self.load_vectors(agent.to_string(), SearchKind::Message, || {
            self.store.message_vectors(agent)
        })
        .await
    }

    /// Installs an owner's vector collection from the database the first time it is queried.
    async fn load_vectors<'a, F, Fut>(
        &'a self,
        owner: String,
        kind: SearchKind,
        read: F,
    ) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = mneme_store::Result<Vec<(u64, Vec<f32>)>>> + 'a,
    {
        if self.index.has_vectors(&owner) {
            return Ok(());
        }
        // Under the sync lock, so no change is applied between the read and the install.
        let _guard = self.outbox.lock().await;
        if self.index.has_vectors(&owner) {
            return Ok(());
        }
        let vectors = read()
            .await?
            .into_iter()
            .map(|(k, v)| (index_key(kind, k), v))
            .collect();
        self.index.load_vectors(&owner, vectors);
        Ok(())
    }

    /// A new passage for the agent's default archive, embedded with the archive's model.
    pub async fn new_passage(
        &self,
        agent: &Agent,
        text: String,
        tags: Vec<String>,
    ) -> Result<Passage> {
        let max = self.max_passages.load(std::sync::atomic::Ordering::Relaxed);
        crate::quotas::passage_quota(self.store.as_ref(), (max > 0).then_some(max), 1).await?;
        let archive = default_archive(self.store.as_ref(), agent).await?;
        let config = archive.embedding_config.clone();
        let embedding = self
            .embed_for_storage(config.as_ref(), std::slice::from_ref(&text))
            .await?
            .and_then(|mut v| v.pop());
        let now = time::now();
        Ok(Passage {
            id: PassageId::new(),
            archive_id: archive.id,
            text,
            tags,
            metadata: None,
            embedding,
            embedding_config: config,
            created_at: now,
            updated_at: now,
        })
    }
}

/// The agent's default archive, created (with the agent's embedding model) on first use.
/// With other replicas, this one's index also follows what they write (its searches sync
/// first anyway): woken every `reap_every`, it applies the outbox, flushes and records its
/// watermark, so that an idle replica does not hold the outbox's pruning back.
pub(crate) fn spawn_shared_sync(
    searcher: Arc<Searcher>,
    coordination: &mneme_scheduler::Coordination,
) {
    let Some(shared) = coordination.shared() else {
        return;
    };
    let every = shared.reap_every;
    let searcher = Arc::downgrade(&searcher);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(s) = searcher.upgrade() else { return };
            s.changed();
        }
    });
}

pub(crate) async fn default_archive(store: &dyn Store, agent: &Agent) -> Result<Archive> {
    let now = time::now();
    let make = Archive {
        id: ArchiveId::new(),
        name: format!("{}'s archive", agent.name),
        description: None,
        embedding_config: agent.embedding_config.clone(),
        metadata: None,
        created_at: now,
        updated_at: now,
    };
    Ok(store.default_archive(agent.id, make).await?)
}

/// Whether `filter` lets through exactly what the index holds for an agent (user and
/// assistant messages, any date): then no key set is needed, which would cost a scan of the
/// agent's whole history per search.
fn indexes_exactly(filter: &MessageFilter) -> bool {
    let all_roles = filter.roles.is_empty()
        || [Role::User, Role::Assistant]
            .iter()
            .all(|r| filter.roles.contains(r));
    all_roles
        && filter.start.is_none()
        && filter.end.is_none()
        && filter.contains.is_none()
        && filter.newest.is_none()
        && filter.thread.is_none()
}

/// What a query vector depends on besides its text: the model and where it runs.
fn model_key(config: &EmbeddingConfig) -> String {
    let endpoint = config.embedding_endpoint.as_deref().unwrap_or_default();
    format!(
        "{}|{endpoint}|{}|{}",
        config.embedding_endpoint_type, config.embedding_model, config.embedding_dim
    )
}

fn relevance(h: &Hit) -> Relevance {
    Relevance {
        rrf_score: Some(h.score),
        vector_rank: h.vector_rank,
        fts_rank: h.text_rank,
        search_mode: match (h.text_rank.is_some(), h.vector_rank.is_some()) {
            (true, true) => "hybrid",
            (false, true) => "vector",
            _ => "full_text",
        },
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, mneme_search::SearchError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(|e| ServiceError::Internal(format!("search index: {e}")))
}

#[async_trait]
impl MemorySearch for Searcher {
    async fn new_passage(
        &self,
        agent: &Agent,
        text: String,
        tags: Vec<String>,
    ) -> std::result::Result<Passage, String> {
        Searcher::new_passage(self, agent, text, tags)
            .await
            .map_err(|e| format!("Error inserting into archival memory: {e}"))
    }

    async fn archival(
        &self,
        agent: &Agent,
        q: ArchivalQuery,
    ) -> std::result::Result<Vec<Found<Passage>>, String> {
        let archives = self
            .store
            .agent_archives(agent.id)
            .await
            .map_err(|e| e.to_string())?;
        self.search_passages(&archives, &q.text, &q.filter, q.limit)
            .await
            .map_err(|e| e.to_string())
    }

    async fn recall(
        &self,
        agent: &Agent,
        q: RecallQuery,
    ) -> std::result::Result<Vec<Found<Message>>, String> {
        self.search_messages(agent, q.text.as_deref(), &q.filter, q.limit, Legs::HYBRID)
            .await
            .map_err(|e| e.to_string())
    }
}

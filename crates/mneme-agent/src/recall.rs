//! The search the memory tools use, behind a trait: the service implements it with its derived
//! indices and embedding models, so the runtime does not know how ranking is done.

use async_trait::async_trait;
use mneme_store::{Agent, Message, MessageFilter, Passage, PassageFilter};
use serde_json::{Map, Value, json};

/// An archival search: ranked by the hybrid index, `filter` applied before the limit.
#[derive(Debug, Clone)]
pub struct ArchivalQuery {
    pub text: String,
    pub filter: PassageFilter,
    pub limit: usize,
}

/// A recall search; without text, the most recent messages that pass `filter`.
#[derive(Debug, Clone)]
pub struct RecallQuery {
    pub text: Option<String>,
    pub filter: MessageFilter,
    pub limit: usize,
}

/// How an item was found: its fused score and its rank in each leg (1-based).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Relevance {
    pub rrf_score: Option<f32>,
    pub vector_rank: Option<usize>,
    pub fts_rank: Option<usize>,
    /// `hybrid`, `vector`, `full_text` or `recent`.
    pub search_mode: &'static str,
}

impl Relevance {
    /// Letta's `relevance` object: only the keys that have a value.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = self.rrf_score {
            m.insert("rrf_score".into(), json!(s));
        }
        if let Some(r) = self.vector_rank {
            m.insert("vector_rank".into(), json!(r));
        }
        if let Some(r) = self.fts_rank {
            m.insert("fts_rank".into(), json!(r));
        }
        m.insert("search_mode".into(), json!(self.search_mode));
        Value::Object(m)
    }
}

/// A search result with how it was found.
#[derive(Debug, Clone)]
pub struct Found<T> {
    pub item: T,
    pub relevance: Relevance,
}

/// Archival and recall search for the built-in tools. Errors are messages for the model.
#[async_trait]
pub trait MemorySearch: Send + Sync {
    /// A passage for `archival_memory_insert`, in the agent's default archive, embedded with
    /// the agent's embedding model (an error if that model fails: no passage without its vector).
    async fn new_passage(
        &self,
        agent: &Agent,
        text: String,
        tags: Vec<String>,
    ) -> Result<Passage, String>;
    async fn archival(
        &self,
        agent: &Agent,
        q: ArchivalQuery,
    ) -> Result<Vec<Found<Passage>>, String>;
    async fn recall(&self, agent: &Agent, q: RecallQuery) -> Result<Vec<Found<Message>>, String>;
}

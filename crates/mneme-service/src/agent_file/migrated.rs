//! The archival memory an import brings beside its Agent File: an Agent File holds none, but a
//! migration from a Letta server reads each agent's passages over its API and hands them here,
//! to be written in the same transaction as the agent.

use chrono::{DateTime, Utc};
use mneme_store::{Archive, ImportedAgent, Passage};
use mneme_types::{ArchiveId, EmbeddingConfig, PassageId, time};
use serde_json::{Map, Value};

use super::import::keep_id;
use crate::{Result, Service};

/// One agent's archive and passages.
#[derive(Debug, Clone, Default)]
pub struct Archival {
    /// The archive's id on the source server, kept when the import keeps ids.
    pub archive_id: Option<String>,
    pub archive_name: Option<String>,
    pub archive_description: Option<String>,
    pub passages: Vec<ArchivalPassage>,
}

/// A passage as the source server gave it.
#[derive(Debug, Clone)]
pub struct ArchivalPassage {
    pub id: String,
    pub text: String,
    pub tags: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
    /// The source's vector; kept when it is of the agent's model (same name and dimension).
    pub embedding: Option<Vec<f32>>,
    pub embedding_config: Option<EmbeddingConfig>,
    pub created_at: Option<DateTime<Utc>>,
}

/// How many passages are embedded per call when their vectors cannot be kept.
const EMBED_BATCH: usize = 64;

impl Service {
    /// The agent's archive with the passages, each with a vector of the agent's model: the
    /// source's when it is of that model (same model name and dimension), else one embedded
    /// here when this server runs that model (else none: the passage is found by its words).
    pub(super) async fn with_passages(
        &self,
        agent: &mut ImportedAgent,
        archival: Archival,
        keep: bool,
    ) -> Result<()> {
        let config = agent.agent.embedding_config.clone();
        let now = time::now();
        let mut archive = Archive {
            id: ArchiveId::new(),
            name: archival
                .archive_name
                .unwrap_or_else(|| format!("{}'s archive", agent.agent.name)),
            description: archival.archive_description,
            embedding_config: config.clone(),
            metadata: None,
            created_at: now,
            updated_at: now,
        };
        if let Some(id) = &archival.archive_id {
            keep_id(keep, id, &mut archive.id);
        }
        let mut passages: Vec<Passage> = archival
            .passages
            .into_iter()
            .map(|p| passage(p, &archive, config.as_ref(), keep))
            .collect();
        self.embed_missing(&mut passages, config.as_ref()).await?;
        agent.archive = Some(archive);
        agent.passages = passages;
        Ok(())
    }

    /// Vectors for the passages that have none, when the agent has a model this server runs.
    pub(super) async fn embed_missing(
        &self,
        passages: &mut [Passage],
        config: Option<&EmbeddingConfig>,
    ) -> Result<()> {
        let Some(config) = config.filter(|c| self.searcher.can_embed(c)) else {
            return Ok(());
        };
        let mut missing: Vec<&mut Passage> = passages
            .iter_mut()
            .filter(|p| p.embedding.is_none())
            .collect();
        for chunk in missing.chunks_mut(EMBED_BATCH) {
            let texts: Vec<String> = chunk.iter().map(|p| p.text.clone()).collect();
            let vectors = self
                .searcher
                .embed_for_storage(Some(config), &texts)
                .await?
                .unwrap_or_default();
            for (p, v) in chunk.iter_mut().zip(vectors) {
                p.embedding = Some(v);
            }
        }
        Ok(())
    }
}

pub(super) fn passage(
    p: ArchivalPassage,
    archive: &Archive,
    config: Option<&EmbeddingConfig>,
    keep: bool,
) -> Passage {
    let mut id = PassageId::new();
    keep_id(keep, &p.id, &mut id);
    let created_at = p.created_at.unwrap_or_else(time::now);
    let embedding = p
        .embedding
        .map(|v| unpadded(v, p.embedding_config.as_ref()))
        .filter(|v| same_model(p.embedding_config.as_ref(), config, v.len()))
        .map(|mut v| {
            mneme_embed::normalize(&mut v);
            v
        });
    Passage {
        id,
        archive_id: archive.id,
        text: p.text,
        tags: p.tags,
        metadata: p.metadata,
        embedding,
        embedding_config: config.cloned(),
        created_at,
        updated_at: created_at,
    }
}

/// Letta stores every vector zero-padded to 4,096 numbers (its pgvector column's width) and
/// answers it so: the padding goes, when it is only zeros.
fn unpadded(mut v: Vec<f32>, config: Option<&EmbeddingConfig>) -> Vec<f32> {
    let dim = config.and_then(|c| usize::try_from(c.embedding_dim).ok());
    if let Some(dim) = dim
        && v.len() > dim
        && v[dim..].iter().all(|x| *x == 0.0)
    {
        v.truncate(dim);
    }
    v
}

/// Whether a source vector of `len` numbers, made by `from`, is one the agent's model makes.
fn same_model(from: Option<&EmbeddingConfig>, to: Option<&EmbeddingConfig>, len: usize) -> bool {
    let (Some(from), Some(to)) = (from, to) else {
        return false;
    };
    from.embedding_model == to.embedding_model
        && usize::try_from(to.embedding_dim).is_ok_and(|d| d == len)
}

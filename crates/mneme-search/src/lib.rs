//! mneme's hybrid search index: BM25 (tantivy) and vectors (exact scan or usearch HNSW, one
//! collection per owner), fused by reciprocal rank fusion.
//!
//! The database is the source of truth; this index is a per-process cache derived from it.
//! The service feeds it every change (`apply`, with the outbox position it reached as the
//! watermark), makes them durable in batches (`flush`: one tantivy commit carrying the
//! watermark, so that a restart replays only what is missing), loads an owner's vectors from
//! the database the first time they are queried (`load_vectors`), and hydrates the returned
//! keys from the database, which also drops anything deleted that the index has not seen yet.
//!
//! Everything here is synchronous and may block (disk, a scan of 20k vectors): async callers
//! use `spawn_blocking`. `SearchIndex` is `Send + Sync`; any number of threads may search
//! while others apply or flush changes.

mod change;
mod error;
mod fusion;
mod options;
mod query;
mod ranking;
mod text;
mod vectors;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use change::{Change, Doc};
pub use error::{Result, SearchError};
pub use options::SearchOptions;
pub use query::{Hit, Query};
pub use ranking::{Fusion, Ranking, RankingParseError};
pub use vectors::VectorStats;

use text::{TextIndex, TierBound};
use vectors::Collections;

/// The search index of one process.
pub struct SearchIndex {
    text: TextIndex,
    vectors: Collections,
    ranking: Ranking,
    /// Held by `apply` across both legs, so that concurrent `apply`s reach the text tier and
    /// the vector collections in the same order.
    order: Mutex<()>,
}

impl SearchIndex {
    /// Opens the index kept in `dir` (created if missing), or a fresh in-memory one when
    /// `dir` is `None`, with the default options.
    pub fn open(dir: Option<&Path>) -> Result<SearchIndex> {
        SearchIndex::open_with(dir, SearchOptions::default())
    }

    /// `open` with explicit tuning.
    pub fn open_with(dir: Option<&Path>, options: SearchOptions) -> Result<SearchIndex> {
        let bound = TierBound {
            entries: options.tier_max_changes,
            bytes: options.tier_max_bytes,
        };
        let text = TextIndex::open(dir, options.writer_heap_bytes, bound)?;
        Ok(SearchIndex {
            text,
            ranking: options.ranking,
            vectors: Collections::new(Arc::new(options)),
            order: Mutex::new(()),
        })
    }

    /// The outbox position covered by the last flush: 0 for a new index. Durable: after a
    /// restart the caller replays its outbox from here, so it may forget only what is at or
    /// below it.
    pub fn watermark(&self) -> u64 {
        self.text.watermark()
    }

    /// The highest watermark given to `apply`, flushed or not (at least `watermark()`).
    pub fn applied_watermark(&self) -> u64 {
        self.text.applied_watermark()
    }

    /// Applies `changes` in order and records `watermark` as applied (it never goes down).
    ///
    /// Both legs see the batch when this returns: the text side goes to the memory tier (no
    /// disk write), the vector side updates the collections that are loaded. The batch
    /// becomes durable with the next `flush`, which `apply` runs itself once the tier passes
    /// its bound (`SearchOptions::tier_max_changes`, `tier_max_bytes`). Applying a change
    /// twice is harmless, so replaying an outbox from an older watermark is safe.
    ///
    /// Errors: a text that cannot be analysed (nothing of the batch applied), or that bounded
    /// flush failing (the batch is applied, searchable, and not durable; `watermark()` is
    /// unchanged).
    pub fn apply(&self, changes: &[Change], watermark: u64) -> Result<()> {
        {
            let _order = self.order.lock().unwrap_or_else(PoisonError::into_inner);
            self.text.apply(changes, watermark)?;
            self.vectors.apply(changes);
        }
        if self.text.tier_is_full() {
            self.text.flush()?;
        }
        Ok(())
    }

    /// Makes everything applied durable: one tantivy commit of the memory tier that records
    /// the applied watermark, after which `watermark()` is that watermark. Searches running
    /// meanwhile see every document, from one tier or the other. On error nothing is
    /// committed and everything stays applied.
    pub fn flush(&self) -> Result<()> {
        self.text.flush()
    }

    /// Searches `query.owner`'s documents: BM25 on `query.text`, nearest neighbours of
    /// `query.vector`, fused as `SearchOptions::ranking` says. A query with neither (or with
    /// text that has no words) finds nothing.
    ///
    /// Errors: a vector query for an owner whose vectors are not loaded
    /// (`SearchError::VectorsNotLoaded`), or of another dimension than its collection's
    /// (`SearchError::Dimension`).
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        // Over-fetch: hydration from the database drops candidates deleted since the index
        // saw them.
        let per_leg = query
            .candidates
            .unwrap_or(self.ranking.candidates)
            .max(query.limit);
        let allowed = query.allowed.as_ref();
        let text = match query.text.as_deref() {
            Some(text) => self.text.search(
                &query.owner,
                text,
                per_leg,
                allowed,
                self.ranking.query_stopwords,
            )?,
            None => Vec::new(),
        };
        let Some(vector) = query.vector.as_deref() else {
            return Ok(fusion::fuse(&text, &[], &self.ranking.fusion, query.limit));
        };
        let vectors = self.vector_leg(&query.owner, vector, per_leg, allowed)?;
        let fused = fusion::fuse(&text, &vectors, &self.ranking.fusion, per_leg);
        let fused = match self.feedback_vector(&query.owner, vector, &fused) {
            Some(moved) => {
                let vectors = self.vector_leg(&query.owner, &moved, per_leg, allowed)?;
                fusion::fuse(&text, &vectors, &self.ranking.fusion, query.limit)
            }
            None => fused,
        };
        Ok(fused.into_iter().take(query.limit).collect())
    }

    fn vector_leg(
        &self,
        owner: &str,
        vector: &[f32],
        n: usize,
        allowed: Option<&Arc<std::collections::HashSet<u64>>>,
    ) -> Result<Vec<(u64, f32)>> {
        self.vectors.search(owner, vector, n, allowed.map(|a| &**a))
    }

    /// Rocchio's pseudo-relevance feedback: the query vector moved towards the mean of the
    /// first fused hits, normalised; `None` when feedback is off or there is nothing to move
    /// towards.
    fn feedback_vector(&self, owner: &str, vector: &[f32], fused: &[Hit]) -> Option<Vec<f32>> {
        let beta = self.ranking.vector_feedback;
        if beta <= 0.0 || fused.is_empty() {
            return None;
        }
        let keys: Vec<u64> = fused
            .iter()
            .take(self.ranking.feedback_docs)
            .map(|h| h.key)
            .collect();
        let mean = self.vectors.mean_of(owner, &keys)?;
        let mut moved: Vec<f32> = vector
            .iter()
            .zip(&mean)
            .map(|(q, m)| q + beta * m)
            .collect();
        let norm = moved.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > f32::EPSILON {
            moved.iter_mut().for_each(|v| *v /= norm);
        }
        Some(moved)
    }

    /// Whether `owner`'s vector collection is in memory.
    pub fn has_vectors(&self, owner: &str) -> bool {
        self.vectors.is_loaded(owner)
    }

    /// Installs `owner`'s vector collection, read by the caller from its database, replacing
    /// any loaded one. A collection above the HNSW threshold answers by exact scan until its
    /// graph, built in the background, is ready.
    ///
    /// Changes `apply`ed for an owner that is not loaded touch only the text index. So read
    /// the vectors from a database state at least as new as the last change applied for this
    /// owner, and apply nothing for it between that read and this call (or re-apply those
    /// changes afterwards: applying is idempotent).
    pub fn load_vectors(&self, owner: &str, vectors: Vec<(u64, Vec<f32>)>) {
        self.vectors.load(owner, vectors);
    }

    /// What `owner`'s vector collection holds, if it is loaded.
    pub fn vector_stats(&self, owner: &str) -> Option<VectorStats> {
        self.vectors.stats(owner)
    }

    /// Waits for background HNSW builds to finish (shutdown, tests, benchmarks); false if
    /// `timeout` passed first.
    pub fn wait_for_vector_builds(&self, timeout: Duration) -> bool {
        self.vectors.wait_for_builds(timeout)
    }

    /// Drops everything of `owner` (a deleted archive or agent): its documents, committed
    /// ones in a commit that keeps the watermark, pending ones at once, and its vector
    /// collection.
    pub fn remove_owner(&self, owner: &str) -> Result<()> {
        self.text.remove_owner(owner)?;
        self.vectors.unload(owner);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SearchIndex>();
    }
}

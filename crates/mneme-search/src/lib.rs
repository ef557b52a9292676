//! mneme's hybrid search index: BM25 (tantivy) and vectors (exact scan or usearch HNSW, one
//! collection per owner), fused by reciprocal rank fusion.
//!
//! The database is the source of truth; this index is a per-process cache derived from it.
//! The service feeds it every change (`apply`, with the outbox position it reached as the
//! watermark, stored in tantivy's commit so that a restart replays only what is missing),
//! loads an owner's vectors from the database the first time they are queried
//! (`load_vectors`), and hydrates the returned keys from the database, which also drops
//! anything deleted that the index has not seen yet.
//!
//! Everything here is synchronous and may block (disk, a scan of 20k vectors): async callers
//! use `spawn_blocking`. `SearchIndex` is `Send + Sync`; any number of threads may search
//! while one applies changes.

mod change;
mod error;
mod fusion;
mod options;
mod query;
mod text;
mod vectors;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use change::{Change, Doc};
pub use error::{Result, SearchError};
pub use options::SearchOptions;
pub use query::{Hit, Query};
pub use vectors::VectorStats;

use text::TextIndex;
use vectors::Collections;

/// The search index of one process.
pub struct SearchIndex {
    text: TextIndex,
    vectors: Collections,
}

impl SearchIndex {
    /// Opens the index kept in `dir` (created if missing), or a fresh in-memory one when
    /// `dir` is `None`, with the default options.
    pub fn open(dir: Option<&Path>) -> Result<SearchIndex> {
        SearchIndex::open_with(dir, SearchOptions::default())
    }

    /// `open` with explicit tuning.
    pub fn open_with(dir: Option<&Path>, options: SearchOptions) -> Result<SearchIndex> {
        let text = TextIndex::open(dir, options.writer_heap_bytes)?;
        Ok(SearchIndex {
            text,
            vectors: Collections::new(Arc::new(options)),
        })
    }

    /// The outbox position covered by the last commit: 0 for a new index. After a restart
    /// the caller replays its outbox from here.
    pub fn watermark(&self) -> u64 {
        self.text.watermark()
    }

    /// Applies `changes` in order and records `watermark` (the watermark never goes down).
    ///
    /// The text side is one tantivy commit, visible to the next `search` on return; the
    /// vector side updates the collections that are loaded. Applying a change twice is
    /// harmless, so replaying an outbox from an older watermark is safe. On error nothing of
    /// the batch is committed and the watermark is unchanged.
    pub fn apply(&self, changes: &[Change], watermark: u64) -> Result<()> {
        // Holding the writer until the vectors are updated orders concurrent `apply`s the
        // same way in both legs.
        let _writer = self.text.apply(changes, watermark)?;
        self.vectors.apply(changes);
        Ok(())
    }

    /// Searches `query.owner`'s documents: BM25 on `query.text`, nearest neighbours of
    /// `query.vector`, fused. A query with neither (or with text that has no words) finds
    /// nothing.
    ///
    /// Errors: a vector query for an owner whose vectors are not loaded
    /// (`SearchError::VectorsNotLoaded`), or of another dimension than its collection's
    /// (`SearchError::Dimension`).
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let per_leg = query.candidates.max(query.limit);
        let allowed = query.allowed.as_ref();
        let text = match query.text.as_deref() {
            Some(text) => self.text.search(&query.owner, text, per_leg, allowed)?,
            None => Vec::new(),
        };
        let vector = match query.vector.as_deref() {
            Some(vector) => {
                let allowed = allowed.map(|a| &**a);
                self.vectors
                    .search(&query.owner, vector, per_leg, allowed)?
            }
            None => Vec::new(),
        };
        Ok(fusion::reciprocal_rank_fusion(&text, &vector, query.limit))
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

    /// Drops everything of `owner` (a deleted archive or agent): its documents, in a commit
    /// that keeps the watermark, and its vector collection.
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

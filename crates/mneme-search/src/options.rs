//! `SearchOptions`: the index's tuning knobs, with the defaults the storage study measured.

use crate::ranking::Ranking;

/// Tuning of a `SearchIndex`. `SearchOptions::default()` is what production uses.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// A vector collection with more vectors than this gets an HNSW graph (built in the
    /// background); at or below it, queries scan every vector exactly. 20k vectors of 384
    /// dimensions scan in ~0.4 ms, so below this an approximate index buys nothing.
    pub hnsw_threshold: usize,
    /// HNSW query breadth (usearch `expansion_search`). 128 measured recall@10 0.998 at 100k
    /// and 0.965 at 1M vectors; raise it for large collections that need more.
    pub expansion_search: usize,
    /// HNSW construction breadth (usearch `expansion_add`).
    pub expansion_add: usize,
    /// HNSW graph degree (usearch `connectivity`, "M").
    pub connectivity: usize,
    /// Threads one HNSW build uses. Builds run one at a time per index.
    pub build_threads: usize,
    /// How many searches may walk one HNSW graph at the same moment (usearch reserves a
    /// context per slot); a search that finds no free slot scans exactly instead.
    pub search_slots: usize,
    /// Memory budget of the tantivy writer. Batches are small and committed at once, so a
    /// small heap suffices and keeps the per-process footprint low.
    pub writer_heap_bytes: usize,
    /// `apply` flushes the memory tier (changes not yet committed to tantivy) once it holds
    /// this many changes...
    pub tier_max_changes: usize,
    /// ... or about this many bytes, so that memory stays bounded when nothing else flushes.
    pub tier_max_bytes: usize,
    /// How the legs' candidates are fused and the queries refined (`Ranking::default()`: what
    /// the retrieval evaluation measured best).
    pub ranking: Ranking,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions {
            hnsw_threshold: 20_000,
            expansion_search: 128,
            expansion_add: 128,
            connectivity: 16,
            build_threads: std::thread::available_parallelism().map_or(1, usize::from),
            search_slots: 64,
            writer_heap_bytes: 15 * 1024 * 1024,
            tier_max_changes: 10_000,
            tier_max_bytes: 32 * 1024 * 1024,
            ranking: Ranking::default(),
        }
    }
}

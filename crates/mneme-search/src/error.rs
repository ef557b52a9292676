//! `SearchError`: everything the index can refuse or fail at, in its own words.

/// A failure of the search index.
///
/// The index is a derived cache: callers usually log these and fall back to rebuilding
/// it from the database (open/commit failures) or answer the request without the failing
/// leg (query errors).
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query vector's length differs from the collection's; a caller bug or an
    /// embedding model change, never answered with made-up scores.
    #[error("the query vector has {got} dimensions, the vectors of {owner} have {expected}")]
    Dimension {
        owner: String,
        expected: usize,
        got: usize,
    },
    /// A vector query for an owner whose collection was never loaded; the caller reads its
    /// vectors from the database and calls `load_vectors` first.
    #[error("the vectors of {0} are not loaded")]
    VectorsNotLoaded(String),
    /// The index directory could not be created or opened.
    #[error("cannot open the search index at {path}: {reason}")]
    Open { path: String, reason: String },
    /// The stored commit payload is not a watermark we wrote.
    #[error("the search index's commit payload {0:?} is not a watermark")]
    Payload(String),
    /// tantivy failed (IO, corrupt segment, schema mismatch with an older index).
    #[error("text index error: {0}")]
    Text(#[from] tantivy::TantivyError),
    /// usearch failed; its C++ exception text.
    #[error("vector index error: {0}")]
    Vector(String),
}

/// Results of this crate.
pub type Result<T, E = SearchError> = std::result::Result<T, E>;

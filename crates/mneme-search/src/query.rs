//! A hybrid query and its fused hits.

use std::collections::HashSet;
use std::sync::Arc;

/// A search in one owner's documents.
#[derive(Clone, Debug)]
pub struct Query {
    /// The archive or agent whose documents are searched; no other owner's key is returned.
    pub owner: String,
    /// Free text for the BM25 leg, taken word by word (any syntax is just words).
    pub text: Option<String>,
    /// The query embedding for the vector leg (same dimension as the owner's vectors).
    pub vector: Option<Vec<f32>>,
    /// How many fused hits to return.
    pub limit: usize,
    /// How many candidates each leg contributes to the fusion (at least `limit`); `None`: the
    /// index's `Ranking::candidates`.
    pub candidates: Option<usize>,
    /// When set, only these keys may be returned (the caller's tag and date filters),
    /// applied inside each leg so that filtered-out keys do not use up candidates.
    pub allowed: Option<Arc<HashSet<u64>>>,
}

impl Query {
    /// A query in `owner`'s documents with the default limit (10).
    pub fn new(owner: impl Into<String>) -> Query {
        Query {
            owner: owner.into(),
            ..Query::default()
        }
    }
}

impl Default for Query {
    fn default() -> Query {
        Query {
            owner: String::new(),
            text: None,
            vector: None,
            limit: 10,
            candidates: None,
            allowed: None,
        }
    }
}

/// One fused result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The document's key; the caller hydrates it from the database.
    pub key: u64,
    /// The reciprocal-rank-fusion score: the sum over legs of 1 / (60 + rank).
    pub score: f32,
    /// Its rank (from 1) in the BM25 leg, if that leg returned it.
    pub text_rank: Option<usize>,
    /// Its rank (from 1) in the vector leg, if that leg returned it.
    pub vector_rank: Option<usize>,
}

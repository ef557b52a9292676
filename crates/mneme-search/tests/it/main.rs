//! Integration tests of `mneme-search` through its public API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hnsw;
mod hybrid;
mod persistence;
mod ranking;
mod text;
mod tier;
mod vectors;

use mneme_search::{Change, Doc, Hit, Query, SearchIndex};

/// Where a test's changes are when it searches: pending in the memory tier, flushed to
/// tantivy, or a flushed first batch with later changes pending (which must hide it).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tiers {
    Memory,
    Flushed,
    Mixed,
}

impl Tiers {
    pub(crate) const ALL: [Tiers; 3] = [Tiers::Memory, Tiers::Flushed, Tiers::Mixed];

    /// Applies a test's first batch.
    pub(crate) fn setup(self, index: &SearchIndex, changes: &[Change], watermark: u64) {
        index.apply(changes, watermark).expect("apply");
        if !matches!(self, Tiers::Memory) {
            index.flush().expect("flush");
        }
    }

    /// Applies a later change.
    pub(crate) fn change(self, index: &SearchIndex, changes: &[Change], watermark: u64) {
        index.apply(changes, watermark).expect("apply");
        if matches!(self, Tiers::Flushed) {
            index.flush().expect("flush");
        }
    }
}

/// An upsert with text only.
pub(crate) fn text_doc(key: u64, owner: &str, text: &str) -> Change {
    Change::Upsert(Doc {
        key,
        owner: owner.to_owned(),
        text: text.to_owned(),
        vector: None,
    })
}

/// An upsert with text and a vector.
pub(crate) fn doc(key: u64, owner: &str, text: &str, vector: Vec<f32>) -> Change {
    Change::Upsert(Doc {
        key,
        owner: owner.to_owned(),
        text: text.to_owned(),
        vector: Some(vector),
    })
}

pub(crate) fn remove(key: u64, owner: &str) -> Change {
    Change::Remove {
        key,
        owner: owner.to_owned(),
    }
}

pub(crate) fn text_query(owner: &str, text: &str) -> Query {
    Query {
        text: Some(text.to_owned()),
        ..Query::new(owner)
    }
}

pub(crate) fn vector_query(owner: &str, vector: Vec<f32>) -> Query {
    Query {
        vector: Some(vector),
        ..Query::new(owner)
    }
}

pub(crate) fn keys(hits: &[Hit]) -> Vec<u64> {
    hits.iter().map(|h| h.key).collect()
}

pub(crate) fn search_keys(index: &SearchIndex, query: &Query) -> Vec<u64> {
    keys(&index.search(query).expect("search"))
}

/// A unit vector along axis `i` of `dims`, tilted slightly towards axis `j`.
pub(crate) fn axis(dims: usize, i: usize, j: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0; dims];
    v[i] = 1.0;
    v[j] += tilt;
    normalise(v)
}

pub(crate) fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

//! What the service feeds the index: upserts and removes of searchable documents.

/// One searchable item (an archival passage, a message, a file chunk) as the index sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    /// The database's integer surrogate key. Unique across the whole index: a removal is by
    /// key alone, so two kinds sharing one index need disjoint key spaces.
    pub key: u64,
    /// The collection it belongs to: an archive id or an agent id.
    pub owner: String,
    /// The text BM25 ranks.
    pub text: String,
    /// Its embedding, L2-normalised; `None` when it has none (no embedding model).
    pub vector: Option<Vec<f32>>,
}

/// One change to apply, in the order the database made them.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Insert or replace the document with this key (its text and its vector; an upsert
    /// without a vector drops the one the key had).
    Upsert(Doc),
    /// Remove the document with this key. The owner says which vector collection holds it.
    Remove { key: u64, owner: String },
}

impl Change {
    /// The owner whose collection this change touches.
    pub fn owner(&self) -> &str {
        match self {
            Change::Upsert(doc) => &doc.owner,
            Change::Remove { owner, .. } => owner,
        }
    }

    /// The key this change touches.
    pub fn key(&self) -> u64 {
        match self {
            Change::Upsert(doc) => doc.key,
            Change::Remove { key, .. } => *key,
        }
    }
}

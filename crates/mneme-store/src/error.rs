//! What can go wrong in storage, in storage's words.

/// A storage failure. `NotFound`, `Conflict` and `Invalid` are the caller's doing; `Db` is ours
/// and its details go to the log, never to the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} with ID {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// An edit closure refused the change; nothing was written.
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

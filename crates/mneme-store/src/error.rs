//! What can go wrong in storage, in storage's words.

/// A storage failure, in no backend's words. `NotFound`, `Conflict` and `Invalid` are the
/// caller's doing; `Db` and `Corrupt` are ours and their details go to the log, never to the
/// client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} with ID {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness rule (a taken id, name or label), or a concurrent writer's change that a
    /// write would have overwritten (a stale expected value or version); nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// An edit closure refused the change; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The database failed (a statement, I/O); the backend's message.
    #[error("database error: {0}")]
    Db(String),
    /// The database cannot be reached (connection refused or lost, no pooled connection in
    /// time). Nothing was written; the same request may succeed once it is back.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
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

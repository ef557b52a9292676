//! Errors of the use cases, wrapping storage errors. The HTTP mapping lives in `mneme-server`.

use mneme_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is well-formed but not acceptable (bad model handle, unsupported option).
    #[error("{0}")]
    BadRequest(String),
    /// A value breaks a rule of the resource (a block value over its limit).
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        ServiceError::BadRequest(msg.into())
    }
}

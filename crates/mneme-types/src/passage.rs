//! Archival memory requests.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `CreateArchivalMemory`: `text` is required.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateArchivalMemory {
    pub text: String,
    pub tags: Option<Vec<String>>,
    pub created_at: Option<DateTime<Utc>>,
}

//! Cursor pagination as Letta's list routes take it.

/// Listing direction by `(created_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// `before`/`after` are ids of items in the same listing; "after" means further along in the
/// listing direction, as Letta's generic lists define it.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub before: Option<String>,
    pub after: Option<String>,
    pub limit: u32,
    pub order: Order,
    /// Agents only: `created_at` (default), `updated_at` or `last_run_completion`.
    pub order_by: Option<String>,
}

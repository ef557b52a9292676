//! TODO(pg): stub, to be replaced by the implementation.
#![allow(unused_variables, unused_imports)]

use mneme_store::AgentImport;
use mneme_types::AgentId;

/// Writes a whole Agent File import on `conn` (a transaction): same meaning as the SQLite
/// backend's `imports::import`.
pub(crate) async fn import(
    conn: &mut sqlx::PgConnection,
    import: &AgentImport,
) -> crate::Result<Vec<AgentId>> {
    unimplemented!("imports::import")
}

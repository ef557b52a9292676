//! TODO(pg): stub, to be replaced by the implementation.
#![allow(unused_variables, unused_imports)]

use mneme_store::{AgentDirectory, AgentFile, AgentFiles};
use mneme_types::AgentId;

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn of_agent(
    conn: &mut sqlx::PgConnection,
    agent: AgentId,
) -> crate::Result<AgentFiles> {
    unimplemented!("agent_files::of_agent")
}
pub(crate) async fn save(
    conn: &mut sqlx::PgConnection,
    agent: AgentId,
    files: &[AgentFile],
) -> crate::Result<()> {
    unimplemented!("agent_files::save")
}
pub(crate) async fn drop_detached(
    conn: &mut sqlx::PgConnection,
    agent: AgentId,
) -> crate::Result<()> {
    unimplemented!("agent_files::drop_detached")
}

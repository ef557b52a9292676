//! TODO(pg): stub, to be replaced by the implementation.
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_store::*;
use mneme_types::{
    AgentId, ArchiveId, Block, BlockId, ConversationId, DuplicateFileHandling, FileAgentId, FileId,
    FileMetadata, Folder, FolderId, Group, GroupId, IdentityId, Job, JobId, ManagerType, McpServer,
    McpServerId, MessageId, PassageId, ProviderId, ProviderRecord, RunId, SourceStats, Step,
    StepId, Tool, ToolId,
};

use crate::{PgStore, StoreResult as Result};

#[async_trait]
impl MessageStore for PgStore {
    async fn get_message(&self, id: MessageId) -> Result<Message> {
        unimplemented!("PgStore::get_message")
    }
    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        unimplemented!("PgStore::messages_by_ids")
    }
    async fn set_message_text(&self, id: MessageId, text: String) -> Result<()> {
        unimplemented!("PgStore::set_message_text")
    }
    async fn update_message(&self, id: MessageId, edit: MessageEdit) -> Result<Message> {
        unimplemented!("PgStore::update_message")
    }
    async fn list_messages(&self, agent: AgentId, query: &MessageQuery) -> Result<Vec<Message>> {
        unimplemented!("PgStore::list_messages")
    }
    async fn all_messages(&self, query: &MessageQuery) -> Result<Vec<Message>> {
        unimplemented!("PgStore::all_messages")
    }
    async fn run_messages(&self, run: RunId, page: &Page) -> Result<Vec<Message>> {
        unimplemented!("PgStore::run_messages")
    }
    async fn step_messages(&self, step: StepId, page: &Page) -> Result<Vec<Message>> {
        unimplemented!("PgStore::step_messages")
    }
    async fn reset_messages(&self, agent: AgentId, initial: Vec<Message>) -> Result<Agent> {
        unimplemented!("PgStore::reset_messages")
    }
    async fn compact_context(&self, commit: CompactionCommit) -> Result<()> {
        unimplemented!("PgStore::compact_context")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn insert_message(
    conn: &mut sqlx::PgConnection,
    m: &Message,
    conversation: Option<ConversationId>,
) -> crate::Result<()> {
    unimplemented!("messages::insert_message")
}
pub(crate) async fn insert_messages(
    conn: &mut sqlx::PgConnection,
    messages: &[Message],
    conversation: Option<ConversationId>,
) -> crate::Result<()> {
    unimplemented!("messages::insert_messages")
}
pub(crate) async fn load_messages(
    conn: &mut sqlx::PgConnection,
    ids: &[MessageId],
) -> crate::Result<Vec<Message>> {
    unimplemented!("messages::load_messages")
}

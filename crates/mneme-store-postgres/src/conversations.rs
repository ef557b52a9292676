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
impl ConversationStore for PgStore {
    async fn create_conversation(&self, new: NewConversation) -> Result<ConversationRecord> {
        unimplemented!("PgStore::create_conversation")
    }
    async fn get_conversation(&self, id: ConversationId) -> Result<ConversationRecord> {
        unimplemented!("PgStore::get_conversation")
    }
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &Page,
    ) -> Result<Vec<ConversationRecord>> {
        unimplemented!("PgStore::list_conversations")
    }
    async fn update_conversation(
        &self,
        id: ConversationId,
        edit: ConversationEdit,
    ) -> Result<ConversationRecord> {
        unimplemented!("PgStore::update_conversation")
    }
    async fn delete_conversation(&self, id: ConversationId) -> Result<()> {
        unimplemented!("PgStore::delete_conversation")
    }
    async fn conversation_frame(&self, id: ConversationId) -> Result<AgentFrame> {
        unimplemented!("PgStore::conversation_frame")
    }
    async fn thread_messages(
        &self,
        agent: AgentId,
        conversation: Option<ConversationId>,
        page: &Page,
    ) -> Result<Vec<Message>> {
        unimplemented!("PgStore::thread_messages")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn load(
    conn: &mut sqlx::PgConnection,
    id: ConversationId,
) -> crate::Result<ConversationRecord> {
    unimplemented!("conversations::load")
}
pub(crate) async fn ensure_conversation(
    conn: &mut sqlx::PgConnection,
    id: ConversationId,
) -> crate::Result<()> {
    unimplemented!("conversations::ensure_conversation")
}

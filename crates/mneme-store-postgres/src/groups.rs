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
impl GroupStore for PgStore {
    async fn create_group(&self, group: Group, new_agents: Vec<NewAgent>) -> Result<Group> {
        unimplemented!("PgStore::create_group")
    }
    async fn get_group(&self, id: GroupId) -> Result<Group> {
        unimplemented!("PgStore::get_group")
    }
    async fn list_groups(&self, filter: &GroupFilter, page: &Page) -> Result<Vec<Group>> {
        unimplemented!("PgStore::list_groups")
    }
    async fn count_groups(&self, filter: &GroupFilter) -> Result<u64> {
        unimplemented!("PgStore::count_groups")
    }
    async fn update_group(&self, id: GroupId, edit: GroupEdit) -> Result<Group> {
        unimplemented!("PgStore::update_group")
    }
    async fn delete_group(&self, id: GroupId, with_members: bool) -> Result<()> {
        unimplemented!("PgStore::delete_group")
    }
    async fn groups_of_agent(
        &self,
        agent: AgentId,
        manager_type: Option<ManagerType>,
    ) -> Result<Vec<Group>> {
        unimplemented!("PgStore::groups_of_agent")
    }
    async fn managed_groups(&self, agent: AgentId) -> Result<Vec<Group>> {
        unimplemented!("PgStore::managed_groups")
    }
    async fn attach_group_block(&self, group: GroupId, block: BlockId) -> Result<()> {
        unimplemented!("PgStore::attach_group_block")
    }
    async fn detach_group_block(&self, group: GroupId, block: BlockId) -> Result<()> {
        unimplemented!("PgStore::detach_group_block")
    }
    async fn group_messages(&self, group: GroupId, query: &MessageQuery) -> Result<Vec<Message>> {
        unimplemented!("PgStore::group_messages")
    }
    async fn deliver_group_messages(
        &self,
        group: GroupId,
        messages: Vec<Message>,
        into_context: &[AgentId],
    ) -> Result<()> {
        unimplemented!("PgStore::deliver_group_messages")
    }
    async fn reset_group_messages(&self, group: GroupId) -> Result<u64> {
        unimplemented!("PgStore::reset_group_messages")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn insert(conn: &mut sqlx::PgConnection, g: &Group) -> crate::Result<()> {
    unimplemented!("groups::insert")
}
pub(crate) async fn ensure_group(conn: &mut sqlx::PgConnection, id: GroupId) -> crate::Result<()> {
    unimplemented!("groups::ensure_group")
}

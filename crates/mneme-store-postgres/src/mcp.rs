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
impl McpServerStore for PgStore {
    async fn create_mcp_server(&self, server: McpServer) -> Result<McpServer> {
        unimplemented!("PgStore::create_mcp_server")
    }
    async fn get_mcp_server(&self, id: McpServerId) -> Result<McpServer> {
        unimplemented!("PgStore::get_mcp_server")
    }
    async fn mcp_server_by_name(&self, name: &str) -> Result<McpServer> {
        unimplemented!("PgStore::mcp_server_by_name")
    }
    async fn list_mcp_servers(&self) -> Result<Vec<McpServer>> {
        unimplemented!("PgStore::list_mcp_servers")
    }
    async fn update_mcp_server(&self, id: McpServerId, edit: McpServerEdit) -> Result<McpServer> {
        unimplemented!("PgStore::update_mcp_server")
    }
    async fn delete_mcp_server(&self, id: McpServerId) -> Result<()> {
        unimplemented!("PgStore::delete_mcp_server")
    }
    async fn mcp_server_tools(&self, id: McpServerId) -> Result<Vec<Tool>> {
        unimplemented!("PgStore::mcp_server_tools")
    }
    async fn sync_mcp_tools(
        &self,
        id: McpServerId,
        tools: Vec<Tool>,
        prune: bool,
    ) -> Result<McpToolSync> {
        unimplemented!("PgStore::sync_mcp_tools")
    }
}

//! What a migration from another Letta-compatible server writes besides agents (which go
//! through the Agent File import with their ids kept): objects that exist on their own, each
//! created under the id it had there, so that clients that stored the id keep working.

use mneme_types::{
    Block, BlockId, CreateBlock, CreateMcpServer, GroupId, Identity, IdentityCreate, IdentityId,
    McpServer, McpServerId, MessageId, Tool,
};

use crate::{Result, Service};

impl Service {
    /// A block of another server, under its id; its value may exceed its limit (the limit is
    /// raised to fit, as an import does).
    pub async fn import_block(&self, id: BlockId, req: CreateBlock) -> Result<Block> {
        let mut block = crate::agent_file::block_fitting_its_value(req)?;
        block.id = id;
        Ok(self.store.create_block(block).await?)
    }

    /// An identity of another server, under its id, linked to the agents and blocks it names
    /// (which must be here already).
    pub async fn import_identity(&self, id: IdentityId, req: IdentityCreate) -> Result<Identity> {
        let mut new = crate::identities::new_identity(req);
        new.identity.id = id;
        Ok(crate::identities::wire(
            self.store.create_identity(new).await?,
        ))
    }

    /// A tool of another server, under its id, unless this server has one of its name (names
    /// are unique; a built-in one is never replaced). Whether it was written.
    pub async fn import_tool(&self, tool: Tool) -> Result<bool> {
        if self.has_tool_named(&tool.name).await? {
            return Ok(false);
        }
        self.store.upsert_tools(vec![tool]).await?;
        Ok(true)
    }

    /// A migrated sleep-time group's state as its source holds it now (a cut-over run), so
    /// that its companions run on the turn they would have there. Whether it differed (it is
    /// written unless `dry_run`).
    pub async fn set_group_state(
        &self,
        id: GroupId,
        turns_counter: Option<i64>,
        last_processed: Option<MessageId>,
        dry_run: bool,
    ) -> Result<bool> {
        let held = self.store.get_group(id).await?;
        let same =
            held.turns_counter == turns_counter && held.last_processed_message_id == last_processed;
        if same || dry_run {
            return Ok(!same);
        }
        let edit = Box::new(move |g: &mut mneme_types::Group| {
            g.turns_counter = turns_counter;
            g.last_processed_message_id = last_processed;
            Ok(())
        });
        self.store.update_group(id, edit).await?;
        Ok(true)
    }

    pub async fn has_tool_named(&self, name: &str) -> Result<bool> {
        let held = self.store.tools_by_name(&[name.to_owned()]).await?;
        Ok(!held.is_empty())
    }

    /// An MCP server of another server, under its id. Its tools are not listed now: the
    /// server may not be reachable from here yet, and listing them later asks it then.
    pub async fn import_mcp_server(
        &self,
        id: McpServerId,
        req: CreateMcpServer,
    ) -> Result<McpServer> {
        mneme_mcp::check_config(&req.config).map_err(crate::mcp::mcp_error)?;
        let server = McpServer {
            config: req.config,
            id,
            server_name: req.server_name,
        };
        Ok(self.store.create_mcp_server(server).await?)
    }
}

//! Storage: the traits every backend implements, their domain records and, behind the
//! `conformance` feature, the suite that checks a backend keeps their contract. Backends live in
//! their own crates (`mneme-store-sqlite`); nothing here knows a database.
//!
//! The traits are coarse: each method is one use-case-sized operation that a backend runs as one
//! transaction, so "nothing half-written" is a property of the store, not of its callers.
//! Read-modify-write goes through `edit` closures applied inside the write transaction. A write
//! computed from something read in an earlier transaction names what it read (the value of a
//! block, `BlockChange::Update`; the version of an agent's context, `StepCommit`) and is refused
//! whole with `Conflict` when another writer changed it meanwhile.

mod batches;
pub mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod folders;
mod identities;
mod model;
mod page;
mod sandbox;
mod tenancy;

use async_trait::async_trait;
use mneme_types::{
    AgentId, ArchiveId, Block, BlockId, ConversationId, FileId, Group, GroupId, IdentityId,
    ManagerType, McpServer, McpServerId, MessageId, PassageId, ProviderId, ProviderRecord, RunId,
    Step, StepId, Tool, ToolId,
};

pub use batches::{BatchEdit, BatchRecord, BatchRun, BatchStore};
pub use error::StoreError;
pub use folders::{
    AgentDirectory, AgentFile, AgentFiles, CreatedFile, FileEdit, FolderEdit, FolderFilter,
    FolderRecord, FolderStore, JobEdit, JobFilter, NewFile, UnfinishedFile,
};
pub use identities::{
    IdentityEdit, IdentityFilter, IdentityLinks, IdentityRecord, Links, NewIdentity,
};
pub use model::{
    Agent, AgentContext, AgentEdit, AgentFilter, AgentFrame, AgentImport, AgentSettings, Archive,
    ArchiveEdit, ArchiveFilter, BlockChange, BlockEdit, BlockFilter, CompactionCommit,
    ConversationEdit, ConversationFilter, ConversationRecord, GroupEdit, GroupFilter,
    HistoryAppend, ImportedAgent, ImportedFolder, Message, MessageEdit, MessageFilter,
    MessageQuery, NewAgent, NewConversation, Passage, PassageEdit, PassageFilter, PassageList,
    PoolState, ReasoningRecord, Role, RunChunk, RunData, RunEdit, RunFilter, RunRecord,
    SearchChange, SearchKind, StepCommit, StepEdit, StepFilter, StepRecord, StepTimings, StepTrace,
    TagQuery, ToolCallRecord, ToolEdit, ToolFilter, ToolReturnRecord, is_builtin_tool_type,
};
pub use page::{Order, Page};
pub use sandbox::{SandboxConfigEdit, SandboxEnvVarEdit, SandboxEnvVarRecord};
pub use tenancy::{ApiKeyRecord, AuditFilter, NewAuditEntry, TenancyStore};

/// The newest schema version: every backend's migrations end at it, under the same numbers,
/// so that version N means the same tables and columns everywhere (`mneme migrate` copies rows
/// between backends at one version).
pub const SCHEMA_VERSION: i64 = 21;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Agents, their tags and their block attachments.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Creates the agent, its new blocks, its block attachments, its tools and its initial
    /// messages at once, and links it to its `identity_ids`; any failure (an unknown block,
    /// tool or identity, two blocks with one label, a taken id) writes nothing. The new agent's `message_ids_version` is 0 whatever was given.
    async fn create_agent(&self, new: NewAgent) -> Result<Agent>;
    /// Writes a whole Agent File import at once (see `AgentImport`): its tools by name, its
    /// new blocks, then each agent with its block and tool attachments, its messages and its
    /// archive with the passages, as `create_agent` and `insert_passages` would. Any failure
    /// writes nothing: a rule of `AgentImport::check` broken is `Invalid`; two blocks with one
    /// label on an agent, or an id stored already, a `Conflict`; a block or tool name that
    /// resolves to nothing `NotFound`. Returns the agents' ids in the order given.
    async fn import_agents(&self, import: AgentImport) -> Result<Vec<AgentId>>;
    /// Unknown ids are `NotFound`: so for every method that reads or changes what an id names,
    /// unless it says otherwise. Listings of what belongs to an id (a run's steps, messages and
    /// chunks, an agent's tools, the ids of a block's agents) are empty for an unknown one.
    async fn get_agent(&self, id: AgentId) -> Result<Agent>;
    /// Unknown cursors are ignored for agents, as Letta does.
    async fn list_agents(&self, filter: &AgentFilter, page: &Page) -> Result<Vec<Agent>>;
    async fn count_agents(&self, filter: &AgentFilter) -> Result<u64>;
    /// Applies `edit` to the stored agent and, when `blocks` is given, replaces its attached
    /// blocks with those (in that order), all in one write transaction; an `Err` from `edit`
    /// writes nothing. An edit that changes `message_ids` bumps `message_ids_version` (the
    /// closure cannot set the version itself); one that changes `identity_ids` replaces the
    /// agent's identity links (an unknown identity is `NotFound`); the id is not editable.
    async fn update_agent(
        &self,
        id: AgentId,
        edit: AgentEdit,
        blocks: Option<Vec<BlockId>>,
    ) -> Result<Agent>;
    /// Deletes the agent with its messages, steps, runs, conversations (with their isolated
    /// blocks), tags, attachments and identity links (not the blocks, tools, archives or
    /// identities it was attached to, except archives it owns that no other agent uses).
    async fn delete_agent(&self, id: AgentId) -> Result<()>;
    /// Attaches at the end of the agent's block order; a second block with the same label is a
    /// conflict. Attaching an attached block changes nothing.
    async fn attach_block(&self, agent: AgentId, block: BlockId) -> Result<()>;
    /// A block that is not attached to the agent is `NotFound`.
    async fn detach_block(&self, agent: AgentId, block: BlockId) -> Result<()>;
    /// The agent's blocks in its block order.
    async fn agent_blocks(&self, agent: AgentId) -> Result<Vec<Block>>;
    /// Blocks of many agents at once (list routes), each in its agent's order, one entry per
    /// agent asked (empty for unknown agents).
    async fn blocks_of_agents(&self, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Block>)>>;
    /// Everything the system prompt is compiled from (see `AgentContext`).
    async fn agent_context(&self, agent: AgentId) -> Result<AgentContext>;
    /// `agent_context` without the messages, read in one transaction.
    async fn agent_frame(&self, agent: AgentId) -> Result<AgentFrame>;
    /// Distinct tags of all agents and blocks, sorted by name (`TagQuery`).
    async fn list_tags(&self, query: &TagQuery) -> Result<Vec<String>>;
}

/// Blocks, shared between agents as single rows.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// A taken id is a `Conflict`.
    async fn create_block(&self, block: Block) -> Result<Block>;
    async fn get_block(&self, id: BlockId) -> Result<Block>;
    /// Several blocks by id, in the order asked; any unknown id is `NotFound`.
    async fn get_blocks(&self, ids: &[BlockId]) -> Result<Vec<Block>>;
    /// Unknown cursors are `NotFound`, as Letta does for blocks.
    async fn list_blocks(&self, filter: &BlockFilter, page: &Page) -> Result<Vec<Block>>;
    async fn count_blocks(&self, filter: &BlockFilter) -> Result<u64>;
    /// Applies `edit` inside one write transaction; an `Err` from `edit` writes nothing.
    async fn update_block(&self, id: BlockId, edit: BlockEdit) -> Result<Block>;
    /// The same, finding the block by its label among the agent's blocks (`NotFound` when the
    /// agent has none with that label). A new label that another block of an agent holding this
    /// one already has is a `Conflict`, for both methods.
    async fn update_agent_block(
        &self,
        agent: AgentId,
        label: &str,
        edit: BlockEdit,
    ) -> Result<Block>;
    /// Deletes the block and detaches it from every agent and identity.
    async fn delete_block(&self, id: BlockId) -> Result<()>;
    /// Agents the block is attached to, paginated like agent lists.
    async fn agents_of_block(&self, id: BlockId, page: &Page) -> Result<Vec<Agent>>;
    /// Ids of every agent the block is attached to (for recompiling their system prompts).
    async fn agent_ids_of_block(&self, id: BlockId) -> Result<Vec<AgentId>>;
}

/// Messages: the system message, conversation history and recall search.
#[async_trait]
pub trait MessageStore: Send + Sync {
    async fn get_message(&self, id: MessageId) -> Result<Message>;
    /// The messages with these ids in the order asked; ids that resolve to nothing are left out.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>>;
    /// Rewrites a message's text in place (same id, same `created_at`, same position), and
    /// bumps its agent's `messages_edited`.
    async fn set_message_text(&self, id: MessageId, text: String) -> Result<()>;
    /// Applies `edit` inside one write transaction; an `Err` from it writes nothing. The id,
    /// agent, `created_at` and position stay; `updated_at` becomes now; the agent's
    /// `messages_edited` is bumped.
    async fn update_message(&self, id: MessageId, edit: MessageEdit) -> Result<Message>;
    /// An agent's messages, oldest first (see `MessageQuery`). Unknown cursors are `NotFound`.
    async fn list_messages(&self, agent: AgentId, query: &MessageQuery) -> Result<Vec<Message>>;
    /// Messages of every agent, paged as `list_messages`; `query.conversation` narrows them to
    /// one conversation's (`None`: every thread).
    async fn all_messages(&self, query: &MessageQuery) -> Result<Vec<Message>>;
    /// A run's messages by storage sequence in `page.order` (`Desc`: newest first), `Page`
    /// cursors being message ids (unknown ones are `NotFound`) moving along that order.
    async fn run_messages(&self, run: RunId, page: &Page) -> Result<Vec<Message>>;
    /// The messages a step wrote, paged like `run_messages`.
    async fn step_messages(&self, step: StepId, page: &Page) -> Result<Vec<Message>>;
    /// Deletes every message of the agent's default conversation but its system message (those
    /// a fork took over leave it but stay for the fork; other conversations keep theirs), then
    /// stores `initial` and makes `[system] + initial` the context, in one transaction. An overwrite by intent, so
    /// it takes no expected version; it bumps `message_ids_version`.
    async fn reset_messages(&self, agent: AgentId, initial: Vec<Message>) -> Result<Agent>;
    /// Stores the summary, makes `message_ids` the context and writes the system text, in one
    /// transaction. A stale `message_ids_version` is a `Conflict` and an unknown agent
    /// `NotFound`; either writes nothing. Evicted messages stay stored.
    async fn compact_context(&self, commit: CompactionCommit) -> Result<()>;
    /// Stores the messages and passages, applies the block updates and makes `message_ids`
    /// the context, in one transaction. A stale `message_ids_version` or a block changed
    /// since it was read is a `Conflict`, an unknown agent `NotFound`; either writes nothing.
    async fn append_history(&self, append: HistoryAppend) -> Result<()>;
}

/// Conversations: threads of one agent with contexts of their own that share its memory. The
/// agent row holds its default conversation's context; `StepCommit::conversation_id`,
/// `CompactionCommit::conversation_id` and `MessageQuery::conversation` name the others.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates the conversation with its system message, isolated blocks and inherited
    /// messages at once. An unknown agent is `NotFound`; an isolated block whose label no block
    /// of the agent has, or an inherited message of another agent, is `Invalid`.
    async fn create_conversation(&self, new: NewConversation) -> Result<ConversationRecord>;
    async fn get_conversation(&self, id: ConversationId) -> Result<ConversationRecord>;
    /// Ordered by `filter.order_by` in `page.order`, ties by id; `page.after` is a conversation
    /// id (unknown: `NotFound`), the listing continuing after it. Conversations never messaged
    /// sort last by `last_message_at` and `last_run_completion` in both orders.
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &Page,
    ) -> Result<Vec<ConversationRecord>>;
    /// Applies `edit` inside one write transaction; the id, agent, context and blocks stay.
    async fn update_conversation(
        &self,
        id: ConversationId,
        edit: ConversationEdit,
    ) -> Result<ConversationRecord>;
    /// Deletes the conversation, its runs, its isolated blocks and the messages stored in it
    /// (but those a fork took over, which stay for the fork and go with the last fork that
    /// lists them); nothing of the agent or of other conversations.
    async fn delete_conversation(&self, id: ConversationId) -> Result<()>;
    /// The frame of a conversation's turn: its agent's frame with the conversation's context
    /// and isolated blocks in place of the agent's (`AgentFrame::conversation` set).
    async fn conversation_frame(&self, id: ConversationId) -> Result<AgentFrame>;
    /// A thread's history in listing order, its system message (the head of its context) first
    /// and then by storage sequence: `page.order` `Desc` is newest first, and `page`
    /// cursors (message ids of that thread; unknown ones are `NotFound`) move along that
    /// order. `conversation: None` is the agent's default conversation.
    async fn thread_messages(
        &self,
        agent: AgentId,
        conversation: Option<ConversationId>,
        page: &Page,
    ) -> Result<Vec<Message>>;
}

/// Multi-agent groups: their members in order, their manager and their shared blocks.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Creates the agents of `new_agents` (as `create_agent` would: a sleep-time companion),
    /// then the group with its members in the order given and its shared blocks, and attaches
    /// every shared block to each member and to the manager. An unknown member, manager or
    /// block is `NotFound`; a member already holding another block with a shared block's label
    /// a `Conflict`; either writes nothing.
    async fn create_group(&self, group: Group, new_agents: Vec<NewAgent>) -> Result<Group>;
    async fn get_group(&self, id: GroupId) -> Result<Group>;
    /// Oldest first unless `page` says otherwise; unknown cursors are `NotFound`.
    async fn list_groups(&self, filter: &GroupFilter, page: &Page) -> Result<Vec<Group>>;
    async fn count_groups(&self, filter: &GroupFilter) -> Result<u64>;
    /// Applies `edit` inside one write transaction; the id and manager type stay. Changed
    /// members replace the old ones (each must exist); shared blocks added are attached to
    /// the members and the manager as at creation, shared blocks removed stay attached.
    async fn update_group(&self, id: GroupId, edit: GroupEdit) -> Result<Group>;
    /// Deletes the group, and with `with_members` its member agents too (as `delete_agent`
    /// would: a sleep-time group's companions); never its manager or its blocks.
    async fn delete_group(&self, id: GroupId, with_members: bool) -> Result<()>;
    /// The groups `agent` is a member of (`agent_ids`), of one manager type if given, oldest
    /// first; empty for an unknown agent.
    async fn groups_of_agent(
        &self,
        agent: AgentId,
        manager_type: Option<ManagerType>,
    ) -> Result<Vec<Group>>;
    /// The groups `agent` manages (`manager_agent_id`), oldest first; empty for an unknown
    /// agent.
    async fn managed_groups(&self, agent: AgentId) -> Result<Vec<Group>>;
    /// Adds the block to the group's shared blocks and attaches it to every member and to the
    /// manager (a clash of labels is a `Conflict` and writes nothing). Attaching it twice
    /// changes nothing.
    async fn attach_group_block(&self, group: GroupId, block: BlockId) -> Result<()>;
    /// Removes the block from the group's shared blocks; the agents keep it attached.
    async fn detach_group_block(&self, group: GroupId, block: BlockId) -> Result<()>;
    /// The group's messages (those whose `group_id` names it, whichever agent and thread
    /// holds them), paged as `list_messages` pages an agent's: cursors are message ids compared
    /// by storage sequence (unknown ones `NotFound`), `Desc` takes the newest `limit` rows and
    /// the page reads oldest first either way; `query.run_id` filters, `query.conversation`
    /// is not used. An unknown group is `NotFound`.
    async fn group_messages(&self, group: GroupId, query: &MessageQuery) -> Result<Vec<Message>>;
    /// Stores `messages` in their agents' default conversations, stamped with the group, and
    /// appends those of the agents in `into_context` to the end of that agent's in-context
    /// messages (bumping `message_ids_version`), in one transaction. An unknown group or agent
    /// is `NotFound` and writes nothing.
    async fn deliver_group_messages(
        &self,
        group: GroupId,
        messages: Vec<Message>,
        into_context: &[AgentId],
    ) -> Result<()>;
    /// Deletes every message of the group and takes their ids out of every context naming
    /// them (agents' and conversations', each bumping its version; a context's first message
    /// stays), in one transaction; returns how many messages were deleted. An unknown group is
    /// `NotFound`.
    async fn reset_group_messages(&self, group: GroupId) -> Result<u64>;
}

/// Runs and the steps they consist of.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Records the run, owned by this handle's replica (`ReplicaStore`).
    async fn create_run(&self, run: RunRecord) -> Result<RunRecord>;
    async fn get_run(&self, id: RunId) -> Result<RunRecord>;
    /// Newest first by default (`Page`); unknown cursors are ignored.
    async fn list_runs(&self, filter: &RunFilter, page: &Page) -> Result<Vec<RunRecord>>;
    async fn update_run(&self, id: RunId, edit: RunEdit) -> Result<RunRecord>;
    /// Applies the run's final `edit` and copies its outcome onto its agent
    /// (`last_run_completion`, `last_run_duration_ms`, `last_stop_reason`), in one transaction.
    async fn finish_run(&self, id: RunId, edit: RunEdit) -> Result<RunRecord>;
    async fn get_step(&self, id: StepId) -> Result<Step>;
    /// The step with its timings (`StepRecord`).
    async fn get_step_record(&self, id: StepId) -> Result<StepRecord>;
    /// Steps matching `filter` by creation time (`Page`; unknown cursors are ignored).
    async fn list_steps(&self, filter: &StepFilter, page: &Page) -> Result<Vec<Step>>;
    /// Applies `edit` to a stored step and returns it.
    async fn update_step(&self, id: StepId, edit: StepEdit) -> Result<Step>;
    /// Deletes a run with its steps and stream log; its messages stay, no longer tied to it.
    async fn delete_run(&self, id: RunId) -> Result<()>;
    /// Writes one step: its messages, the agent's context, block changes, the system message,
    /// new passages, the step record and the run's usage. All or nothing: a stale
    /// `message_ids_version` or a block changed since the step read it (`BlockChange::Update`)
    /// is a `Conflict`, an unknown agent or run `NotFound`, and either writes nothing.
    /// A step record whose id is stored already replaces that record if it is `pending` and of
    /// the same run (the first half of a step whose tools ran between two commits); any other
    /// stored id is a `Conflict`. The run's usage counts a step once, when a record that is not
    /// `pending` is written. Without a step record (a repair) the run is only checked to exist.
    async fn commit_step(&self, commit: StepCommit) -> Result<()>;
    /// Records that the input messages with these `otid`s (and the token of them all) started
    /// `run`, so that a retry of the same request finds it. An otid recorded already now names
    /// `run`.
    async fn map_otids(&self, run: RunId, otids: Vec<String>) -> Result<()>;
    /// The run the input message with this `otid` (or this request token) started, if any.
    async fn run_of_otid(&self, otid: &str) -> Result<Option<RunId>>;
    /// Appends stream chunks of a run (their `seq` must continue the run's log; a `seq` the
    /// log already holds is a `Conflict`).
    async fn append_chunks(&self, run: RunId, chunks: Vec<RunChunk>) -> Result<()>;
    /// Chunks with `seq > after`, in order, at most `limit`.
    async fn read_chunks(&self, run: RunId, after: u64, limit: u32) -> Result<Vec<RunChunk>>;
    /// Deletes the chunk logs of runs that completed before `before` (never of unfinished
    /// runs); returns how many chunks.
    async fn prune_chunks(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64>;
    /// The provider trace stored with a step, if any (none for an unknown step).
    async fn step_trace(&self, step: StepId) -> Result<Option<StepTrace>>;
    /// Deletes the provider traces written before `before`; returns how many.
    async fn prune_traces(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64>;
}

/// Tools and their attachment to agents.
#[async_trait]
pub trait ToolStore: Send + Sync {
    /// Creates or updates tools by name, keeping the ids of existing ones; returns them all.
    async fn upsert_tools(&self, tools: Vec<Tool>) -> Result<Vec<Tool>>;
    /// Tools by name, in the order asked; names that do not exist are left out.
    async fn tools_by_name(&self, names: &[String]) -> Result<Vec<Tool>>;
    async fn get_tool(&self, id: ToolId) -> Result<Tool>;
    /// The agent's tools in attachment order (none for an unknown agent).
    async fn agent_tools(&self, agent: AgentId) -> Result<Vec<Tool>>;
    /// Tools of many agents at once, one entry per agent asked, each in attachment order.
    async fn tools_of_agents(&self, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Tool>)>>;
    /// Newest first by default (`Page`); unknown cursors are ignored.
    async fn list_tools(&self, filter: &ToolFilter, page: &Page) -> Result<Vec<Tool>>;
    async fn count_tools(&self, filter: &ToolFilter) -> Result<u64>;
    /// Applies `edit` inside one write transaction; an `Err` from it writes nothing, and a
    /// name another tool has is a `Conflict`.
    async fn update_tool(&self, id: ToolId, edit: ToolEdit) -> Result<Tool>;
    /// Deletes the tool and detaches it from every agent.
    async fn delete_tool(&self, id: ToolId) -> Result<()>;
    /// Attaches at the end of the agent's tools; attaching twice changes nothing.
    async fn attach_tool(&self, agent: AgentId, tool: ToolId) -> Result<()>;
    /// Detaching a tool that is not attached changes nothing (unknown agents and tools are
    /// `NotFound`).
    async fn detach_tool(&self, agent: AgentId, tool: ToolId) -> Result<()>;
}

/// Archives and the agents they are attached to.
#[async_trait]
pub trait ArchiveStore: Send + Sync {
    /// Creates the archive and, with `owner`, attaches it to that agent as its own.
    async fn create_archive(&self, archive: Archive, owner: Option<AgentId>) -> Result<Archive>;
    async fn get_archive(&self, id: ArchiveId) -> Result<Archive>;
    /// Unknown cursors are `NotFound`. Folders' archives are not listed.
    async fn list_archives(&self, filter: &ArchiveFilter, page: &Page) -> Result<Vec<Archive>>;
    /// Applies `edit` inside one write transaction; an `Err` from it writes nothing. The id
    /// is not editable; `updated_at` becomes now.
    async fn update_archive(&self, id: ArchiveId, edit: ArchiveEdit) -> Result<Archive>;
    /// Deletes the archive and its passages.
    async fn delete_archive(&self, id: ArchiveId) -> Result<()>;
    /// Attaching an attached archive changes nothing.
    async fn attach_archive(&self, agent: AgentId, archive: ArchiveId) -> Result<()>;
    /// Detaching an archive that is not attached changes nothing.
    async fn detach_archive(&self, agent: AgentId, archive: ArchiveId) -> Result<()>;
    /// The agent's archives in attachment order; the first is where its inserts go.
    async fn agent_archives(&self, agent: AgentId) -> Result<Vec<Archive>>;
    /// The agent's first archive, or `make` created, owned by and attached to it, in one
    /// transaction (two concurrent first inserts get the same archive).
    async fn default_archive(&self, agent: AgentId, make: Archive) -> Result<Archive>;
    /// Agents the archive is attached to, paginated like agent lists.
    async fn agents_of_archive(&self, archive: ArchiveId, page: &Page) -> Result<Vec<Agent>>;
}

/// Archival memory passages.
#[async_trait]
pub trait PassageStore: Send + Sync {
    /// Inserts into existing archives, all or nothing (an unknown archive is `NotFound`).
    async fn insert_passages(&self, passages: Vec<Passage>) -> Result<()>;
    /// Every passage stored, archival and folder files' alike (for the passage quota).
    async fn count_passages(&self) -> Result<u64>;
    /// Passages of the archives in creation order (`ascending`) or newest first, after/before a
    /// passage id (unknown ones are `NotFound`), optionally only those containing `search`
    /// (case-insensitive). No archives, no passages.
    async fn list_passages(
        &self,
        archives: &[ArchiveId],
        query: &PassageList,
    ) -> Result<Vec<Passage>>;
    /// Deletes the passage if it is in one of the archives; otherwise `NotFound`.
    async fn delete_passage(&self, archives: &[ArchiveId], id: PassageId) -> Result<()>;
    /// Applies `edit` to the passage if it is in one of the archives (otherwise `NotFound`)
    /// inside one write transaction; an `Err` from it writes nothing. Its id, archive and
    /// creation time are not editable; `updated_at` becomes now. The outbox hears of it.
    async fn update_passage(
        &self,
        archives: &[ArchiveId],
        id: PassageId,
        edit: PassageEdit,
    ) -> Result<Passage>;
}

/// What the search indices are derived from: the outbox of changes, and rows by search key.
#[async_trait]
pub trait SearchStore: Send + Sync {
    /// Committed outbox rows with `seq > after`, in `seq` order, at most `limit`. Every
    /// insert, update or delete of a searchable row (a passage, a non-system message, a recall
    /// vector) adds a row in its own transaction. Seqs are unique, above 0, never reused, and a
    /// row written after another committed gets a higher one.
    ///
    /// The rule for readers: seqs are taken when a transaction writes, not when it commits, so
    /// with several writers a row can become visible after rows with higher seqs, and a rolled
    /// back transaction leaves its seqs unused forever. A reader must therefore not move its
    /// watermark past a missing seq at once: it applies the rows after the gap, reads the gap
    /// again until its rows appear or a grace period longer than any transaction has passed,
    /// and prunes only up to its contiguous watermark (`mneme-service`'s `search::outbox`).
    /// A single-writer backend (SQLite) commits in seq order, so it never shows such a gap.
    async fn search_changes(&self, after: u64, limit: u32) -> Result<Vec<SearchChange>>;
    /// Drops outbox rows up to `upto` (applied by every index that reads them); later rows keep
    /// their seqs.
    async fn prune_search_changes(&self, upto: u64) -> Result<()>;
    /// Queues every searchable row again (an index was rebuilt from nothing).
    async fn reindex_search(&self) -> Result<()>;
    /// Passages by key, with their embeddings; missing keys are left out.
    async fn passages_by_keys(&self, keys: &[u64]) -> Result<Vec<(u64, Passage)>>;
    /// Messages by key with their recall vector if computed; missing keys are left out.
    async fn messages_by_keys(&self, keys: &[u64])
    -> Result<Vec<(u64, Message, Option<Vec<f32>>)>>;
    /// Keys of the archives' passages that pass `filter`.
    async fn passage_keys(
        &self,
        archives: &[ArchiveId],
        filter: &PassageFilter,
    ) -> Result<Vec<u64>>;
    /// Keys of the agent's messages that pass `filter`.
    async fn message_keys(&self, agent: AgentId, filter: &MessageFilter) -> Result<Vec<u64>>;
    /// Every vector of an archive (or an agent's recall), to load a vector collection.
    async fn passage_vectors(&self, archive: ArchiveId) -> Result<Vec<(u64, Vec<f32>)>>;
    async fn message_vectors(&self, agent: AgentId) -> Result<Vec<(u64, Vec<f32>)>>;
    /// Messages with `seq > after`, oldest first, at most `limit`. Every role, though only user
    /// and assistant messages are embedded: a seq missing from the answer must mean a row not
    /// committed (yet), rolled back or deleted, for the reader that tracks such gaps.
    async fn messages_after(&self, after: u64, limit: u32) -> Result<Vec<(u64, Message)>>;
    /// Stores recall vectors and moves the named cursor to `cursor`, in one transaction.
    async fn store_message_vectors(
        &self,
        vectors: Vec<(u64, AgentId, Vec<f32>)>,
        cursor: (&'static str, u64),
    ) -> Result<()>;
    async fn search_cursor(&self, name: &'static str) -> Result<u64>;
}

/// MCP servers and the tools registered from them (`external_mcp` tools whose
/// `metadata_.mcp.server_id` names the server).
#[async_trait]
pub trait McpServerStore: Send + Sync {
    /// A taken name is a conflict.
    async fn create_mcp_server(&self, server: McpServer) -> Result<McpServer>;
    async fn get_mcp_server(&self, id: McpServerId) -> Result<McpServer>;
    async fn mcp_server_by_name(&self, name: &str) -> Result<McpServer>;
    /// Every server, oldest first.
    async fn list_mcp_servers(&self) -> Result<Vec<McpServer>>;
    /// Applies `edit`; the name stays unique, and a new name is carried to the server's tools
    /// (their `mcp:<name>` tag and metadata).
    async fn update_mcp_server(&self, id: McpServerId, edit: McpServerEdit) -> Result<McpServer>;
    /// Deletes the server and the tools registered from it (detaching them from agents).
    async fn delete_mcp_server(&self, id: McpServerId) -> Result<()>;
    /// The tools registered from the server, by name.
    async fn mcp_server_tools(&self, id: McpServerId) -> Result<Vec<Tool>>;
    /// Registers `tools` as the server's (by name, keeping the ids of tools already registered)
    /// and, with `prune`, deletes its tools that are not among them. A name held by a tool that
    /// is not an MCP tool is left alone (and reported as skipped): a server must never replace
    /// a built-in or custom tool.
    async fn sync_mcp_tools(
        &self,
        id: McpServerId,
        tools: Vec<Tool>,
        prune: bool,
    ) -> Result<McpToolSync>;
}

/// Read-modify-write of a stored MCP server, applied inside the write transaction.
pub type McpServerEdit = Box<dyn FnOnce(&mut McpServer) -> Result<(), StoreError> + Send>;

/// What `sync_mcp_tools` changed, by tool name (Letta's `MCPServerResyncResult` plus `skipped`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpToolSync {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub deleted: Vec<String>,
    pub skipped: Vec<String>,
}

/// Providers created through `/v1/providers`; their keys arrive sealed and stay so.
#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// A taken name is a `Conflict`.
    async fn create_provider(&self, provider: ProviderRecord) -> Result<ProviderRecord>;
    async fn get_provider(&self, id: ProviderId) -> Result<ProviderRecord>;
    /// By creation time in `page.order`; unknown cursors are ignored.
    async fn list_providers(
        &self,
        filter: &ProviderFilter,
        page: &Page,
    ) -> Result<Vec<ProviderRecord>>;
    /// Applies `edit` inside one write transaction; an `Err` from it writes nothing. The id
    /// and `created_at` stay, `updated_at` becomes now, and the name stays unique.
    async fn update_provider(&self, id: ProviderId, edit: ProviderEdit) -> Result<ProviderRecord>;
    async fn delete_provider(&self, id: ProviderId) -> Result<()>;
}

/// Read-modify-write of a stored provider, applied inside the write transaction.
pub type ProviderEdit = Box<dyn FnOnce(&mut ProviderRecord) -> Result<(), StoreError> + Send>;

/// Which providers a listing returns; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct ProviderFilter {
    pub name: Option<String>,
    pub provider_type: Option<String>,
}

/// Sandbox configurations, at most one of each `type`, and their environment variables, whose
/// keys are unique within their configuration and whose values arrive sealed.
#[async_trait]
pub trait SandboxStore: Send + Sync {
    /// In one transaction: when a configuration of `config.kind` exists, replaces its `config`
    /// if `replace` (keeping its id and `created_at`; `updated_at` becomes now, unless nothing
    /// changed) or leaves it as it is; otherwise stores `config`. Answers what is stored.
    async fn put_sandbox_config(
        &self,
        config: mneme_types::SandboxConfig,
        replace: bool,
    ) -> Result<mneme_types::SandboxConfig>;
    async fn get_sandbox_config(
        &self,
        id: mneme_types::SandboxConfigId,
    ) -> Result<mneme_types::SandboxConfig>;
    /// By creation time in `page.order`, of one `kind` or all; unknown cursors are ignored.
    async fn list_sandbox_configs(
        &self,
        kind: Option<mneme_types::SandboxType>,
        page: &Page,
    ) -> Result<Vec<mneme_types::SandboxConfig>>;
    /// Applies `edit` inside one write transaction; an `Err` from it writes nothing. The id,
    /// `type` and `created_at` stay; `updated_at` becomes now.
    async fn update_sandbox_config(
        &self,
        id: mneme_types::SandboxConfigId,
        edit: SandboxConfigEdit,
    ) -> Result<mneme_types::SandboxConfig>;
    /// Deletes the configuration with its variables.
    async fn delete_sandbox_config(&self, id: mneme_types::SandboxConfigId) -> Result<()>;
    /// In one transaction: when `var`'s configuration has a variable of `var.key`, gives it
    /// `var`'s sealed value, and its description when `var` has one (keeping its id and
    /// `created_at`); otherwise stores `var`. An unknown configuration is `NotFound`.
    async fn put_sandbox_env_var(&self, var: SandboxEnvVarRecord) -> Result<SandboxEnvVarRecord>;
    /// The configuration's variables by creation time in `page.order` (unknown cursors are
    /// ignored); an unknown configuration is `NotFound`.
    async fn list_sandbox_env_vars(
        &self,
        config: mneme_types::SandboxConfigId,
        page: &Page,
    ) -> Result<Vec<SandboxEnvVarRecord>>;
    /// Applies `edit` inside one write transaction; an `Err` from it or a key another variable
    /// of the configuration has (`Conflict`) writes nothing. The id, configuration and
    /// `created_at` stay; `updated_at` becomes now.
    async fn update_sandbox_env_var(
        &self,
        id: mneme_types::SandboxEnvVarId,
        edit: SandboxEnvVarEdit,
    ) -> Result<SandboxEnvVarRecord>;
    async fn delete_sandbox_env_var(&self, id: mneme_types::SandboxEnvVarId) -> Result<()>;
}

/// Identities and their links to agents and blocks. An identity's `identifier_key` is unique
/// within its project, identities without a project (or with an empty one) sharing one
/// namespace; a write that would break this is a `Conflict` and writes nothing.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates the identity linked to its agents and blocks, all at once; a taken key is a
    /// `Conflict`, an unknown agent or block `NotFound`, and either writes nothing.
    async fn create_identity(&self, new: NewIdentity) -> Result<IdentityRecord>;
    /// In one transaction: when an identity of `new`'s project has `new`'s key, applies
    /// `edit` and `links` to it (as `update_identity`); otherwise creates `new` (as
    /// `create_identity`). Two concurrent upserts of one key make one identity.
    async fn upsert_identity(
        &self,
        new: NewIdentity,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> Result<IdentityRecord>;
    async fn get_identity(&self, id: IdentityId) -> Result<IdentityRecord>;
    /// Several identities by id, in the order asked; unknown ids are left out.
    async fn get_identities(&self, ids: &[IdentityId]) -> Result<Vec<IdentityRecord>>;
    /// By creation time in `page.order`, ties by id; unknown cursors are `NotFound`.
    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        page: &Page,
    ) -> Result<Vec<IdentityRecord>>;
    async fn count_identities(&self) -> Result<u64>;
    /// Applies `edit` and `links` inside one write transaction; an `Err` from `edit`, a taken
    /// key or an unknown agent or block writes nothing. The id and `created_at` stay;
    /// `updated_at` becomes now.
    async fn update_identity(
        &self,
        id: IdentityId,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> Result<IdentityRecord>;
    /// Deletes the identity and its links, never the agents or blocks it was linked to.
    async fn delete_identity(&self, id: IdentityId) -> Result<()>;
    /// Agents linked to the identity, paginated like agent lists.
    async fn agents_of_identity(&self, id: IdentityId, page: &Page) -> Result<Vec<Agent>>;
    /// Blocks linked to the identity, by creation time in `page.order` (unknown cursors are
    /// `NotFound`, as for block lists).
    async fn blocks_of_identity(&self, id: IdentityId, page: &Page) -> Result<Vec<Block>>;
}

/// What several server processes (replicas) on one database coordinate through: liveness,
/// leases, cancel requests across replicas and the runs of replicas that died. Every handle
/// is one replica: it has an id of its own (fresh per process), which `create_run` records as
/// the run's owner. Times are the database rows' own (`now` of the caller); a lease or a
/// heartbeat older than its bound is as good as absent.
#[async_trait]
pub trait ReplicaStore: Send + Sync {
    /// This handle's replica id (`replica-<uuid>`), fixed for its life.
    fn replica_id(&self) -> &str;
    /// The connection pool's state now, for metrics; `None` for a backend without a pool.
    fn pool_state(&self) -> Option<PoolState> {
        None
    }
    /// One tick of liveness, in one transaction: records this replica alive now, extends every
    /// lease it holds to now + `lease_ttl`, and answers its own active runs (`created` or
    /// `running`) that another replica asked to cancel (`request_cancel`).
    async fn heartbeat(&self, lease_ttl: std::time::Duration) -> Result<Vec<RunId>>;
    /// Takes lease `key` for `ttl` if it is free, expired or ours already (then it is
    /// extended). `None`: this replica holds it now; `Some(holder)`: another replica does.
    async fn acquire_lease(&self, key: &str, ttl: std::time::Duration) -> Result<Option<String>>;
    /// Gives lease `key` up if this replica holds it; otherwise changes nothing.
    async fn release_lease(&self, key: &str) -> Result<()>;
    /// This replica stops (a graceful shutdown): its row, its leases and its outbox watermark
    /// go, so that the others, or its successor on the same data directory, take over its
    /// threads, runs and files at once rather than after the timeout.
    async fn retire(&self) -> Result<()>;
    /// Asks the replica executing `run` to cancel it (its next heartbeat answers the run).
    /// Whether the run is active (`created` or `running`); an unknown run is `NotFound`.
    async fn request_cancel(&self, run: RunId) -> Result<bool>;
    /// Marks failed (stop reason `error`, completed now) the active runs whose owner is not a
    /// replica that heart-beat within `dead_after` (a run without owner has none), never this
    /// replica's own; forgets replicas silent for longer, with their leases and outbox
    /// watermarks. Answers the runs it failed.
    async fn fail_dead_runs(&self, dead_after: std::time::Duration) -> Result<Vec<RunId>>;
    /// Start-up of a shared replica: as `restart_unfinished_files`, but only the files whose
    /// owner (the replica that created or last restarted them, whose disk has their bytes) is
    /// not a replica that heart-beat within `dead_after` (a file without owner has none), never
    /// this replica's own. They become this replica's.
    async fn restart_orphaned_files(
        &self,
        dead_after: std::time::Duration,
    ) -> Result<Vec<UnfinishedFile>>;
    /// Fails (status `error` with `message`, their jobs `failed`) the unfinished files whose
    /// owner is dead as for `restart_orphaned_files`: their bytes are on that replica's disk.
    /// Answers them.
    async fn fail_dead_files(
        &self,
        dead_after: std::time::Duration,
        message: String,
    ) -> Result<Vec<FileId>>;
    /// Records `applied` as this replica's search outbox watermark (`outbox:<replica id>` in
    /// the search state) and prunes the outbox up to the lowest watermark of the replicas
    /// alive within `dead_after` (this one included), so that no live replica loses rows it
    /// has not applied. Answers the position pruned up to.
    async fn prune_search_shared(
        &self,
        applied: u64,
        dead_after: std::time::Duration,
    ) -> Result<u64>;
}

/// Everything a backend provides; services hold an `Arc<dyn Store>`.
pub trait Store:
    AgentStore
    + BlockStore
    + MessageStore
    + ConversationStore
    + GroupStore
    + RunStore
    + ToolStore
    + ArchiveStore
    + PassageStore
    + SearchStore
    + McpServerStore
    + ProviderStore
    + IdentityStore
    + SandboxStore
    + FolderStore
    + BatchStore
    + ReplicaStore
    + TenancyStore
{
}

impl<T> Store for T where
    T: AgentStore
        + BlockStore
        + MessageStore
        + ConversationStore
        + GroupStore
        + RunStore
        + ToolStore
        + ArchiveStore
        + PassageStore
        + SearchStore
        + McpServerStore
        + ProviderStore
        + IdentityStore
        + SandboxStore
        + FolderStore
        + BatchStore
        + ReplicaStore
        + TenancyStore
{
}

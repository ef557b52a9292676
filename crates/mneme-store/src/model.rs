//! The records the store reads and writes. Blocks are stored as the wire `Block` (the shapes are
//! the same); agents have their own record because relationships are loaded separately.

use chrono::{DateTime, Utc};
use mneme_types::{
    AgentId, AgentType, ArchiveId, Block, BlockId, CompactionSettings, ConversationId,
    ConversationOrderBy, EmbeddingConfig, IdentityId, LlmConfig, MessageId, PassageId, RunId,
    RunStatus, StepId, StopReason, ToolId, ToolRule, UsageStatistics,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::StoreError;

/// An agent as stored, without its blocks.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub agent_type: AgentType,
    /// The base system prompt (`AgentState.system`); the compiled one is the system message.
    pub system: String,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub llm_config: LlmConfig,
    pub embedding_config: Option<EmbeddingConfig>,
    pub tool_rules: Option<Vec<ToolRule>>,
    /// In-context messages; index 0 is the system message.
    pub message_ids: Vec<MessageId>,
    /// Bumped by one by every write that changes `message_ids` (a step, a reset, a PATCH), and
    /// 0 for a new agent. A writer that computed new ids from ones it read earlier says which
    /// version it read (`StepCommit::message_ids_version`), so a second writer's change is
    /// refused rather than overwritten. Not on the wire.
    pub message_ids_version: u64,
    /// Bumped by every change to the stored content of one of the agent's messages outside a
    /// step commit (a message edit, a system message rewritten by a recompile), and 0 for a
    /// new agent: with `message_ids_version` it tells a cache of the in-context messages that
    /// it is stale. Only the store writes it. Not on the wire.
    pub messages_edited: u64,
    pub tags: Vec<String>,
    /// The identities the agent belongs to, in the order they were linked. Written with the
    /// agent by `create_agent` and `update_agent` (an unknown identity is `NotFound`).
    pub identity_ids: Vec<IdentityId>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub last_run_completion: Option<DateTime<Utc>>,
    pub last_run_duration_ms: Option<i64>,
    pub last_stop_reason: Option<String>,
    pub settings: AgentSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Agent fields nothing filters on, stored together as one JSON document so that adding one
/// needs no migration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSettings {
    pub model_settings: Option<Value>,
    /// `None`: Letta's defaults. Settings this version cannot read are dropped with a warning
    /// rather than make the agent unreadable.
    #[serde(deserialize_with = "lenient_compaction")]
    pub compaction_settings: Option<CompactionSettings>,
    pub response_format: Option<Value>,
    pub timezone: Option<String>,
    pub message_buffer_autoclear: bool,
    pub enable_sleeptime: Option<bool>,
    pub max_files_open: Option<u32>,
    pub per_file_view_window_char_limit: Option<u32>,
    pub hidden: Option<bool>,
    pub deployment_id: Option<String>,
    pub entity_id: Option<String>,
    pub secrets: Option<Map<String, Value>>,
    pub tool_exec_environment_variables: Option<Map<String, Value>>,
}

/// Who wrote a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
    Approval,
    Summary,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Approval => "approval",
            Role::Summary => "summary",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// A tool call stored on an assistant message (OpenAI's shape, arguments as raw JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One tool's result stored on a `tool` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolReturnRecord {
    pub tool_call_id: String,
    /// `success` or `error`.
    pub status: String,
    /// The packed return the model sees.
    pub func_response: String,
    pub stdout: Option<Vec<String>>,
    pub stderr: Option<Vec<String>>,
    /// The return's content parts (text and images) when a client sent a list: the model
    /// gets them as parts; `func_response` holds their text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
}

/// A piece of the model's native reasoning, kept as the provider sent it: signed reasoning
/// must go back to the provider unchanged on later turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningRecord {
    /// Readable reasoning, with the provider's signature when it signs (Anthropic).
    Reasoning {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning the provider withheld, as the opaque data it sent instead.
    Redacted { data: String },
}

/// A stored message of any role.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub agent_id: AgentId,
    pub role: Role,
    /// The text: user input, assistant content (inner thoughts for V2 agents), the packed tool
    /// return, or the compiled system prompt. Search runs over it.
    pub text: String,
    /// Content parts as received, when they were more than one text (multimodal input).
    pub content: Option<Value>,
    /// Native reasoning returned by the provider, block by block in its order.
    pub reasoning: Vec<ReasoningRecord>,
    /// The model that wrote an assistant message: signed reasoning is sent back only to it.
    pub model: Option<String>,
    pub tool_calls: Vec<ToolCallRecord>,
    pub tool_call_id: Option<String>,
    pub tool_returns: Vec<ToolReturnRecord>,
    pub name: Option<String>,
    pub otid: Option<String>,
    pub sender_id: Option<String>,
    pub group_id: Option<String>,
    pub step_id: Option<StepId>,
    pub run_id: Option<RunId>,
    pub is_err: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Message {
    /// The readable reasoning as one text (blocks joined by a newline, redacted ones left
    /// out), or `None` when there is none.
    pub fn reasoning_text(&self) -> Option<String> {
        let texts: Vec<&str> = self
            .reasoning
            .iter()
            .filter_map(|r| match r {
                ReasoningRecord::Reasoning { text, .. } if !text.is_empty() => Some(text.as_str()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    }

    /// A message with only a role and text; the other fields empty.
    pub fn new(agent_id: AgentId, role: Role, text: impl Into<String>, at: DateTime<Utc>) -> Self {
        Message {
            id: MessageId::new(),
            agent_id,
            role,
            text: text.into(),
            content: None,
            reasoning: Vec::new(),
            model: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_returns: Vec::new(),
            name: None,
            otid: None,
            sender_id: None,
            group_id: None,
            step_id: None,
            run_id: None,
            is_err: false,
            created_at: at,
            updated_at: at,
        }
    }
}

/// Which of an agent's messages to list. Cursors are message ids compared by their storage
/// sequence, chronologically, whatever the order.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub before: Option<MessageId>,
    pub after: Option<MessageId>,
    pub limit: u32,
    /// `Desc` takes the newest `limit` rows; the result is oldest-first either way.
    pub order: crate::Order,
    pub run_id: Option<RunId>,
    /// Whose messages: `None` is the default conversation's (the agent's own thread), `Some`
    /// a conversation's, those it took over from its source when forked included.
    pub conversation: Option<ConversationId>,
}

/// Everything created with a new agent, in one transaction.
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// `message_ids` must list `messages` in order.
    pub agent: Agent,
    /// Blocks created for this agent (`memory_blocks`), attached first, in this order.
    pub new_blocks: Vec<Block>,
    /// Existing blocks to attach after the new ones (`block_ids`).
    pub existing_blocks: Vec<BlockId>,
    /// Tools to attach, in order.
    pub tools: Vec<ToolId>,
    pub messages: Vec<Message>,
    /// Folders to attach (`folder_ids`), in order; an unknown one is `NotFound`.
    pub folders: Vec<mneme_types::FolderId>,
}

/// Everything an Agent File import creates, written in one transaction: all of it, or nothing.
/// Records come with their final ids (the caller remapped the file's); references between them
/// are checked by the store (`AgentImport::check` for the ones that need no database).
#[derive(Debug, Clone, Default)]
pub struct AgentImport {
    /// Tools the file brings, matched by name with the stored ones: a name not stored is
    /// created with the record's id; a stored one is replaced by the file's copy (keeping its
    /// id) when `replace_tools`, else kept. A built-in tool (`is_builtin_tool_type`) is never
    /// replaced.
    pub tools: Vec<mneme_types::Tool>,
    pub replace_tools: bool,
    /// New blocks; a block several imported agents share appears once.
    pub blocks: Vec<Block>,
    pub agents: Vec<ImportedAgent>,
    /// New MCP servers the file's tools come from (a name already stored is a `Conflict`:
    /// the caller reuses a stored server of that name instead).
    pub mcp_servers: Vec<mneme_types::McpServer>,
    /// Groups of the imported agents (written after them, as `create_group` would).
    pub groups: Vec<mneme_types::Group>,
    /// New folders with their files (written before the agents that attach them; a name
    /// already stored is a `Conflict`: the caller picks a free one).
    pub folders: Vec<ImportedFolder>,
}

/// A folder of an `AgentImport`: the folder, the archive for its files' passages, and its
/// files (each with the folder's id as `source_id`, its final `file_name`, and its text in
/// `content`). No job is written: the caller processes the files after the import.
#[derive(Debug, Clone)]
pub struct ImportedFolder {
    pub folder: mneme_types::Folder,
    pub archive: Archive,
    pub files: Vec<mneme_types::FileMetadata>,
}

/// One agent of an `AgentImport`.
#[derive(Debug, Clone)]
pub struct ImportedAgent {
    /// `message_ids` are its in-context messages in order: ids of `messages`, the first a
    /// system message. Its `message_ids_version` and `messages_edited` start at 0.
    pub agent: Agent,
    /// Blocks attached in this order: new ones of `AgentImport::blocks` or stored ones.
    pub blocks: Vec<BlockId>,
    /// Names of the tools attached, in order, resolved after the tools are written: the
    /// file's or the stored ones.
    pub tools: Vec<String>,
    /// Its whole history in storage order, all of this agent, in its default conversation.
    pub messages: Vec<Message>,
    /// The agent's own archive (created, owned by it and attached, as `default_archive` makes
    /// one), needed when it brings passages.
    pub archive: Option<Archive>,
    /// Archival passages, all in `archive`.
    pub passages: Vec<Passage>,
    /// Folders attached in this order: new ones of `AgentImport::folders` or stored ones.
    pub folders: Vec<mneme_types::FolderId>,
    /// The agent's files (`files_agents`), each of a file of one of `folders`.
    pub files: Vec<crate::AgentFile>,
}

/// Whether a tool of this `tool_type` is one the server provides (`letta_core`,
/// `letta_memory_core`, `letta_sleeptime_core`, `letta_builtin`, `letta_files_core`, ...): an
/// import never replaces it with a file's copy.
pub fn is_builtin_tool_type(tool_type: &str) -> bool {
    tool_type.starts_with("letta_")
}

impl AgentImport {
    /// The rules an import must keep that need no database: blocks within their limits, and
    /// for each agent its messages its own, its context made of them with a system message
    /// first, and its passages in its archive. A breach is `Invalid`, naming it.
    pub fn check(&self) -> Result<(), StoreError> {
        for block in &self.blocks {
            let len = block.value.chars().count();
            if len > block.limit {
                return Err(StoreError::Invalid(format!(
                    "Block '{}' exceeds its {} character limit ({len})",
                    block.label.as_deref().unwrap_or_default(),
                    block.limit
                )));
            }
        }
        self.agents.iter().try_for_each(ImportedAgent::check)
    }
}

impl ImportedAgent {
    fn check(&self) -> Result<(), StoreError> {
        let id = self.agent.id;
        let invalid = |what: String| Err(StoreError::Invalid(format!("Agent {id}: {what}")));
        if let Some(m) = self.messages.iter().find(|m| m.agent_id != id) {
            return invalid(format!("message {} is of agent {}", m.id, m.agent_id));
        }
        let roles: std::collections::HashMap<MessageId, Role> =
            self.messages.iter().map(|m| (m.id, m.role)).collect();
        match self.agent.message_ids.first().map(|first| roles.get(first)) {
            None => {
                return invalid("no in-context messages (a system message must be first)".into());
            }
            Some(Some(Role::System)) => {}
            Some(_) => {
                return invalid("the first in-context message is not a system message".into());
            }
        }
        if let Some(missing) = self
            .agent
            .message_ids
            .iter()
            .find(|m| !roles.contains_key(m))
        {
            return invalid(format!(
                "in-context message {missing} is none of its messages"
            ));
        }
        let archive = self.archive.as_ref().map(|a| a.id);
        if let Some(p) = self.passages.iter().find(|p| Some(p.archive_id) != archive) {
            return invalid(format!(
                "passage {} is not in the agent's own archive",
                p.id
            ));
        }
        Ok(())
    }
}

/// An agent with everything a step or a system-prompt compilation reads.
#[derive(Debug, Clone)]
pub struct AgentContext {
    /// In a conversation, `agent.message_ids` and `agent.message_ids_version` are the
    /// conversation's, and `blocks` hold its isolated copies in place of the agent's.
    pub agent: Agent,
    /// The conversation this context is of; `None` for the default one.
    pub conversation: Option<ConversationId>,
    pub blocks: Vec<Block>,
    pub tools: Vec<mneme_types::Tool>,
    /// The in-context messages, in `message_ids` order (the system message first). Ids that no
    /// longer resolve are skipped.
    pub messages: Vec<Message>,
    /// Every stored message of the agent, in context or not.
    pub message_count: u64,
    /// Passages in the archives attached to the agent.
    pub passage_count: u64,
    /// The agent's folders and their files, open or closed.
    pub files: crate::AgentFiles,
}

/// An `AgentContext` without its messages: what a caller that keeps the in-context messages
/// itself (the runtime's context cache) reads each turn. Everything here is bounded in size;
/// the messages are what grows.
#[derive(Debug, Clone)]
pub struct AgentFrame {
    /// As `AgentContext::agent`: a conversation's context in place of the agent's own.
    pub agent: Agent,
    pub conversation: Option<ConversationId>,
    pub blocks: Vec<Block>,
    pub tools: Vec<mneme_types::Tool>,
    pub message_count: u64,
    pub passage_count: u64,
    pub files: crate::AgentFiles,
}

impl AgentFrame {
    /// The context with these in-context messages (in `message_ids` order).
    pub fn with_messages(self, messages: Vec<Message>) -> AgentContext {
        AgentContext {
            agent: self.agent,
            conversation: self.conversation,
            blocks: self.blocks,
            tools: self.tools,
            messages,
            message_count: self.message_count,
            passage_count: self.passage_count,
            files: self.files,
        }
    }
}

/// Filters of `GET /v1/agents/` and `/count`.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    /// Only this agent (agent search's `agentId` term).
    pub id: Option<AgentId>,
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub match_all_tags: bool,
    /// Case-insensitive substring of the name.
    pub query_text: Option<String>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub last_stop_reason: Option<String>,
    /// Agents linked to this identity.
    pub identity_id: Option<IdentityId>,
    /// Agents linked to any identity whose key is one of these (none given: no filter).
    pub identifier_keys: Vec<String>,
}

/// Filters of `GET /v1/blocks/` and `/count`.
#[derive(Debug, Clone, Default)]
pub struct BlockFilter {
    pub label: Option<String>,
    pub templates_only: bool,
    pub template_name: Option<String>,
    pub project_id: Option<String>,
    pub tags: Vec<String>,
    pub match_all_tags: bool,
    pub label_search: Option<String>,
    pub description_search: Option<String>,
    pub value_search: Option<String>,
    pub agents_count_gt: Option<u64>,
    pub agents_count_lt: Option<u64>,
    pub agents_count_eq: Vec<u64>,
    /// Blocks linked to this identity.
    pub identity_id: Option<IdentityId>,
    /// Blocks linked to any identity whose key is one of these (none given: no filter).
    pub identifier_keys: Vec<String>,
}

/// A change to a stored agent, applied inside the write transaction.
pub type AgentEdit = Box<dyn FnOnce(&mut Agent) -> Result<(), StoreError> + Send>;

/// A change to a stored block, applied inside the write transaction; `Err` aborts it.
pub type BlockEdit = Box<dyn FnOnce(&mut Block) -> Result<(), StoreError> + Send>;

/// A change to a stored passage (text with its new embedding, tags), applied in its transaction.
pub type PassageEdit = Box<dyn FnOnce(&mut Passage) -> Result<(), StoreError> + Send>;

/// A run as stored.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: RunId,
    pub agent_id: AgentId,
    pub status: RunStatus,
    pub stop_reason: Option<StopReason>,
    pub background: bool,
    pub data: RunData,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The conversation the run's turn ran in; `None` for the default one.
    pub conversation_id: Option<ConversationId>,
}

/// Run fields nothing filters on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunData {
    pub metadata: Option<Map<String, Value>>,
    pub request_config: Option<Value>,
    pub callback_url: Option<String>,
    pub usage: UsageStatistics,
    pub ttft_ns: Option<u64>,
    pub total_duration_ns: Option<u64>,
}

/// Filters of `GET /v1/runs/`.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub agent_ids: Vec<AgentId>,
    pub statuses: Vec<RunStatus>,
    pub background: Option<bool>,
    pub stop_reason: Option<StopReason>,
    /// Only runs that have not finished.
    pub active: bool,
    /// Only runs of this conversation.
    pub conversation: Option<ConversationId>,
}

/// A change to a stored run, applied inside the write transaction.
pub type RunEdit = Box<dyn FnOnce(&mut RunRecord) + Send>;

/// Filters of `GET /v1/steps/` (and of a run's steps). Dates bound `created_at` exclusively,
/// as Letta's list helpers do.
#[derive(Debug, Clone, Default)]
pub struct StepFilter {
    pub agent: Option<AgentId>,
    pub run: Option<RunId>,
    pub model: Option<String>,
    pub trace_ids: Vec<String>,
    pub feedback: Option<String>,
    pub has_feedback: Option<bool>,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
}

/// A change to a stored step (feedback), applied inside the write transaction.
pub type StepEdit = Box<dyn FnOnce(&mut mneme_types::Step) + Send>;

/// A step as stored: Letta's `Step` and the timings `GET /v1/steps/{id}/metrics` reports, in
/// one JSON document, the timings under a key of their own beside the step's fields. Keeping
/// them out of the wire `Step` leaves `GET /v1/steps/{id}` in Letta's shape (the step is read
/// as `Step`, which ignores the key); keeping them in the document commits them in the step's
/// own transaction with no column and no migration. Steps stored before timings read `None`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub step: mneme_types::Step,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<StepTimings>,
}

/// How long a step took, in nanoseconds (Letta's `StepMetrics`); the instants are since the
/// Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StepTimings {
    pub step_start_ns: i64,
    /// The start of the model call whose answer the step kept; `None` without a model call
    /// (the step answering an approval request).
    pub llm_request_start_ns: Option<i64>,
    /// That call's wall time, a streamed answer until its last chunk.
    pub llm_request_ns: Option<i64>,
    /// The step's tool calls together; `None` when it ran none.
    pub tool_execution_ns: Option<i64>,
    /// The whole step up to its commit; `None` while the step is `pending` (its model answer
    /// stored, its calls still running).
    pub step_ns: Option<i64>,
}

/// `GET /v1/tags/`: distinct tags of agents and blocks, by name. `after`/`before` are tags
/// (further along / back in the listing direction); `text` matches a part, case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct TagQuery {
    pub before: Option<String>,
    pub after: Option<String>,
    pub text: Option<String>,
    pub limit: u32,
    pub descending: bool,
}

/// A change to one block made during a step, written with the step. `expected` is the value
/// the step read: if another writer changed the block meanwhile, the step's commit fails rather
/// than silently overwrite that change.
#[derive(Debug, Clone)]
pub enum BlockChange {
    Update {
        expected: String,
        block: Block,
    },
    /// A block created and attached by the agent (the `memory` tool).
    Create {
        block: Block,
    },
    Detach {
        id: BlockId,
    },
}

/// Everything one step writes, in one transaction.
#[derive(Debug, Clone)]
pub struct StepCommit {
    pub agent_id: AgentId,
    /// The conversation whose context this step writes (its messages are stored in it);
    /// `None` for the default one.
    pub conversation_id: Option<ConversationId>,
    pub run_id: RunId,
    /// The step record (`Step` as the API shows it). A step whose tools run between two
    /// commits writes it `pending` first and its final record second; a repair of the context
    /// writes none.
    pub step: Option<mneme_types::Step>,
    /// The timings of `step`, stored with it (nothing is stored without a step).
    pub timings: Option<StepTimings>,
    /// New messages in order: the request's inputs on the first step, then the step's own.
    pub messages: Vec<Message>,
    /// The agent's in-context message ids after this step.
    pub message_ids: Vec<MessageId>,
    /// The agent's `message_ids_version` that `message_ids` were computed from. If the stored
    /// version differs, another writer changed the context meanwhile and the whole step is
    /// refused (`Conflict`); committed, the stored version becomes this plus one.
    pub message_ids_version: u64,
    pub block_changes: Vec<BlockChange>,
    /// New text of the system message when the step changed what it is compiled from.
    pub system_text: Option<(MessageId, String)>,
    pub passages: Vec<Passage>,
    /// Files the step's tools opened, closed or touched (rows of the agent's files, written
    /// as `FolderStore::save_agent_files` writes them).
    pub file_changes: Vec<crate::AgentFile>,
    /// The provider exchange of the step's model call (telemetry), stored with the step; a
    /// trace of a step already traced (the second commit of a step) is kept as first written.
    pub trace: Option<StepTrace>,
    pub created_at: DateTime<Utc>,
}

/// What a step's model call sent the provider and what it answered: the bodies as exchanged
/// (JSON), taken from the provider layer without rendering them again; no headers or URL, so
/// no key. Kept until `RunStore::prune_traces`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTrace {
    pub step_id: StepId,
    pub agent_id: AgentId,
    pub run_id: RunId,
    pub request: bytes::Bytes,
    pub response: bytes::Bytes,
    pub created_at: DateTime<Utc>,
}

/// What another server's agent gained since an earlier copy of it was taken (a migration's
/// catch-up): its new messages and passages and its blocks' new values, written with the
/// context they make in one transaction, without a run or a step of this server's.
#[derive(Debug, Clone)]
pub struct HistoryAppend {
    pub agent_id: AgentId,
    /// New messages of the default conversation, oldest first.
    pub messages: Vec<Message>,
    /// The agent's in-context ids afterwards.
    pub message_ids: Vec<MessageId>,
    /// As `StepCommit::message_ids_version`: a stale version refuses the whole write.
    pub message_ids_version: u64,
    /// `Update`s only, each refused as a step's is when the block changed meanwhile.
    pub block_changes: Vec<BlockChange>,
    /// New passages of the agent's archives.
    pub passages: Vec<Passage>,
    /// The source's text of the system message, when it differs.
    pub system_text: Option<(MessageId, String)>,
    pub created_at: DateTime<Utc>,
}

/// A compaction: older messages leave the context for a summary, in one transaction.
#[derive(Debug, Clone)]
pub struct CompactionCommit {
    pub agent_id: AgentId,
    /// As `StepCommit::conversation_id`.
    pub conversation_id: Option<ConversationId>,
    /// The new summary message (stored; in the new context right after the system message).
    pub summary: Message,
    /// The agent's in-context ids after the compaction: the system message, the summary, the
    /// kept messages. The evicted ones stay stored (recall memory).
    pub message_ids: Vec<MessageId>,
    /// As `StepCommit::message_ids_version`: a stale version refuses the whole compaction.
    pub message_ids_version: u64,
    /// The recompiled system message (its counts changed).
    pub system_text: Option<(MessageId, String)>,
    pub created_at: DateTime<Utc>,
}

/// A named collection of passages; agents attached to it read it in archival memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub id: ArchiveId,
    pub name: String,
    pub description: Option<String>,
    pub embedding_config: Option<EmbeddingConfig>,
    pub metadata: Option<Map<String, Value>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a stored archive, applied inside the write transaction.
pub type ArchiveEdit = Box<dyn FnOnce(&mut Archive) -> Result<(), StoreError> + Send>;

/// Filters of `GET /v1/archives/`.
#[derive(Debug, Clone, Default)]
pub struct ArchiveFilter {
    pub name: Option<String>,
    pub agent: Option<AgentId>,
}

/// An archival memory passage. `embedding` is L2-normalised when present.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub id: PassageId,
    pub archive_id: ArchiveId,
    pub text: String,
    pub tags: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
    pub embedding: Option<Vec<f32>>,
    pub embedding_config: Option<EmbeddingConfig>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of passages (`GET /v1/agents/{id}/archival-memory`).
#[derive(Debug, Clone, Default)]
pub struct PassageList {
    pub after: Option<PassageId>,
    pub before: Option<PassageId>,
    pub limit: u32,
    pub ascending: bool,
    /// Case-insensitive substring, as Letta's list route filters.
    pub search: Option<String>,
}

/// Filters a search applies before ranking: passages carrying the tags, created in the range.
#[derive(Debug, Clone, Default)]
pub struct PassageFilter {
    pub tags: Vec<String>,
    pub match_all_tags: bool,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl PassageFilter {
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.start.is_none() && self.end.is_none()
    }
}

/// Filters a recall search applies before ranking.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub roles: Vec<Role>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the text or the tool-call arguments (Letta's recall
    /// match), when set.
    pub contains: Option<String>,
    /// Only the newest this many (keys newest first); all of them, in storage order, without.
    pub newest: Option<u32>,
    /// Only one thread's messages: `Some(None)` the agent's default conversation, `Some(Some(c))`
    /// conversation `c` (with what it inherited when forked); `None` every message of the agent.
    pub thread: Option<Option<ConversationId>>,
}

/// What kind of row a search key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchKind {
    /// Key `passages.seq`, owner the archive id.
    Passage,
    /// Key `messages.seq`, owner the agent id.
    Message,
}

/// One row of the search outbox: a searchable row changed or went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchChange {
    pub seq: u64,
    pub kind: SearchKind,
    pub key: u64,
    pub owner: String,
    pub removed: bool,
}

/// A change to a stored message, applied inside the write transaction.
pub type MessageEdit = Box<dyn FnOnce(&mut Message) -> Result<(), StoreError> + Send>;

/// One SSE event of a run's stream: `data` is the JSON payload (or `[DONE]`); `event` names
/// non-data events (`error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunChunk {
    pub seq: u64,
    pub event: Option<String>,
    pub data: String,
}

/// Filters of `GET /v1/tools/` and `/count`.
#[derive(Debug, Clone, Default)]
pub struct ToolFilter {
    /// Exact names (`name` and `names`).
    pub names: Vec<String>,
    pub ids: Vec<ToolId>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    pub tool_types: Vec<String>,
    pub exclude_tool_types: Vec<String>,
}

/// A change to a stored tool, applied inside the write transaction; `Err` aborts it.
pub type ToolEdit = Box<dyn FnOnce(&mut mneme_types::Tool) -> Result<(), StoreError> + Send>;

/// Stored compaction settings, or `None` with a warning when this version cannot read them.
fn lenient_compaction<'de, D>(d: D) -> Result<Option<CompactionSettings>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| match CompactionSettings::deserialize(&v) {
        Ok(settings) => Some(settings),
        Err(e) => {
            tracing::warn!(error = %e, "stored compaction settings are unreadable; defaults apply");
            None
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_compaction_settings_read_as_defaults() {
        let read = |v: Value| serde_json::from_value::<AgentSettings>(v).unwrap();
        let good = read(serde_json::json!({"compaction_settings": {"mode": "all"}}));
        let mode = good.compaction_settings.map(|s| s.mode);
        assert_eq!(mode, Some(mneme_types::CompactionMode::All));
        let bad = read(serde_json::json!({"compaction_settings": {"mode": "someday"}}));
        assert!(bad.compaction_settings.is_none());
        assert!(read(serde_json::json!({})).compaction_settings.is_none());
    }
}

/// A conversation as stored: its own context (as the agent row holds the default one's) and
/// its overrides of the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub agent_id: AgentId,
    pub summary: Option<String>,
    /// A model handle in place of the agent's.
    pub model: Option<String>,
    pub model_settings: Option<Value>,
    /// The in-context message ids, the system message first.
    pub message_ids: Vec<MessageId>,
    /// As `Agent::message_ids_version`, for this conversation's context.
    pub message_ids_version: u64,
    /// The conversation's copies of agent blocks, in creation order.
    pub isolated_block_ids: Vec<BlockId>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything a new conversation starts with, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// `message_ids` must be `[system.id]` followed by `inherited`.
    pub conversation: ConversationRecord,
    /// Its system message, stored in the conversation.
    pub system: Message,
    /// Copies of agent blocks it holds apart (their labels must be labels of agent blocks).
    pub isolated_blocks: Vec<Block>,
    /// Messages of another thread of the same agent it starts from (a fork): listed in its
    /// history as well, not copied.
    pub inherited: Vec<MessageId>,
}

/// Filters of `GET /v1/conversations/`.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub agent: Option<AgentId>,
    /// Only conversations whose summary contains this text.
    pub summary_search: Option<String>,
    pub order_by: ConversationOrderBy,
}

/// A change to a stored conversation, applied inside the write transaction.
pub type ConversationEdit =
    Box<dyn FnOnce(&mut ConversationRecord) -> Result<(), StoreError> + Send>;

/// A change to a stored group, applied inside the write transaction.
pub type GroupEdit = Box<dyn FnOnce(&mut mneme_types::Group) -> Result<(), StoreError> + Send>;

/// Filters of `GET /v1/groups/` and `/count`.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub manager_type: Option<mneme_types::ManagerType>,
    pub project_id: Option<String>,
    /// Whether groups marked `hidden` (sleep-time groups) are listed too.
    pub show_hidden: bool,
}

/// A connection pool at one instant (`ReplicaStore::pool_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open, in use or idle.
    pub size: u32,
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

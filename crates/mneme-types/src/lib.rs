//! Letta's V1 wire types: typed ids, agents, blocks, model configs, the message union and the
//! other shapes of a turn's answer, and the small shared shapes.
//!
//! Everything here is plain data with serde derives; no IO and no async. Field names and enum
//! spellings follow `shared/spec/letta-0.16.7-openapi.json` exactly, because SDK users compare them.

pub mod agent;
pub mod agent_file;
pub mod batch;
pub mod block;
pub mod byok;
pub mod compaction;
pub mod completion;
pub mod context;
pub mod conversation;
pub mod extras;
pub mod file_agent;
pub mod folder;
pub mod group;
pub mod identity;
pub mod ids;
pub mod letta_message;
pub mod letta_response;
pub mod mcp;
pub mod mcp_legacy;
pub mod message;
pub mod model;
pub mod model_settings;
pub mod passage;
pub mod provider;
pub mod run;
pub mod sandbox;
mod schema;
pub mod sse;
pub mod telemetry;
pub mod tenancy;
pub mod time;
pub mod tool;
pub mod tool_rule;

pub use agent::{AgentState, AgentType, CreateAgent, Memory, UpdateAgent};
pub use agent_file::{AgentFile, AgentFileError, parse_agent_file};
pub use batch::{
    BatchCallback, BatchJob, BatchProgress, BatchRequestState, CreateBatch, LettaBatchMessages,
    LettaBatchRequest,
};
pub use block::{Block, BlockUpdate, CreateBlock, DEFAULT_BLOCK_LIMIT};
pub use byok::{CheckProvider, CreateProvider, ProviderRecord, UpdateProvider};
pub use compaction::{
    CompactionEventData, CompactionMode, CompactionResponse, CompactionSettings,
    CompactionSettingsPatch, CompactionStats, SummarizeRequest,
};
pub use completion::{
    ChatCompletionChunk, ChatCompletionError, ChatCompletionErrorBody, ChatCompletionMessage,
    ChatCompletionRequest, ChoiceDelta, ChunkChoice, ChunkObject, GenerateRequest,
    GenerateResponse,
};
pub use context::{
    ChatToolCall, ContextWindowOverview, FunctionCall, FunctionKind, FunctionTool, InternalMessage,
    TextContent, TextKind,
};
pub use conversation::{
    ClientSkill, Conversation, ConversationOrderBy, CreateConversation, RetrieveStream, Thread,
    UpdateConversation,
};
pub use extras::{
    AgentSearch, AgentSearchCount, AgentSearchResponse, AgentSearchTerm, AgentSortBy, AuthRequest,
    AuthResponse, MemoryVariables, MessageSearchRequest, MessageSearchResult,
};
pub use file_agent::{AgentFileAttachment, FileBlock, PaginatedAgentFiles};
pub use folder::{
    DuplicateFileHandling, FileMetadata, FileProcessingStatus, FileStats, Folder, FolderCreate,
    FolderUpdate, Job, JobStatus, JobType, OrganizationSourcesStats, SourceStats,
};
pub use group::{
    DEFAULT_TERMINATION_TOKEN, Group, GroupCreate, GroupUpdate, ManagerConfig, ManagerConfigUpdate,
    ManagerType,
};
pub use identity::{
    Identity, IdentityCreate, IdentityProperty, IdentityPropertyType, IdentityType, IdentityUpdate,
    IdentityUpsert, PropertyValue,
};
pub use ids::{
    AgentId, ArchiveId, BlockId, ConversationId, GroupId, IdError, IdentityId, McpServerId,
    MessageId, PassageId, ProviderId, ProviderTraceId, RunId, StepId, ToolId,
};
pub use ids::{ApiKeyId, OrgId, UserId};
pub use ids::{FileAgentId, FileId, FolderId, JobId, SandboxConfigId, SandboxEnvVarId};
pub use letta_message::{
    ApprovalItem, ApprovalRequestMessage, ApprovalResponseMessage, ApprovalReturn,
    AssistantMessage, EventData, EventMessage, HiddenReasoningMessage, HiddenReasoningState,
    LettaMessage, MessageBody, MessageContent, ReasoningMessage, ReasoningSource, SummaryMessage,
    SystemMessage, ToolCall, ToolCallDelta, ToolCallMessage, ToolCallOrDelta, ToolCalls,
    ToolReturn, ToolReturnMessage, ToolReturnStatus, UserMessage,
};
pub use letta_response::{
    LettaErrorMessage, LettaPing, LettaResponse, LettaStopReason, LettaStreamingResponse,
    LettaUsageStatistics,
};
pub use mcp::{
    CreateMcpServer, HttpServerConfig, HttpServerConfigUpdate, McpResyncResult, McpServer,
    McpServerConfig, McpServerConfigUpdate, McpServerType, McpToolRun, StdioServerConfig,
    UpdateMcpServer,
};
pub use mcp_legacy::{
    ListedMcpTool, McpConnectEvent, McpOAuthCallback, McpServerTestResult, McpToolDefinition,
    McpToolExecution, McpToolHealth, NamedMcpServerConfig, NamedMcpServerConfigs,
    NamedMcpServerUpdate,
};
pub use message::{
    LettaRequest, MessageCreate, MessageListResult, MessageListType, MessageUpdate, ResetMessages,
    SearchAllMessages, content_text,
};
pub use model::{EmbeddingConfig, LlmConfig};
pub use model_settings::{FormatChange, ModelSettings, ResponseFormat};
pub use passage::{
    ArchivalMemorySearchResponse, ArchivalMemorySearchResult, Archive, ArchiveCreate,
    ArchiveUpdate, CreateArchivalMemory, Passage, PassageBatchCreate, PassageCreate,
    PassageSearchRequest, PassageSearchResult, PassageUpdate, SearchRelevance, VectorDbProvider,
};
pub use provider::{
    AZURE_DEFAULT_API_VERSION, ConfiguredProviders, PROVIDERS, ProviderKind, ProviderSettings,
    ProviderSpec, Wire,
};
pub use run::{
    CancelledRuns, FeedbackType, ModifyFeedbackRequest, Run, RunMetrics, RunStatus, Step,
    StepMetrics, StopReason, UsageStatistics,
};
pub use sandbox::{
    E2bSandboxConfig, LocalSandboxConfig, ModalLanguage, ModalSandboxConfig, PipRequirement,
    SandboxConfig, SandboxConfigCreate, SandboxConfigUpdate, SandboxEnvironmentVariable,
    SandboxEnvironmentVariableCreate, SandboxEnvironmentVariableUpdate, SandboxSettings,
    SandboxType,
};
pub use telemetry::{ProviderTrace, TraceSpan};
pub use tenancy::{
    ApiKey, AuditEntry, DEFAULT_ORG_ID, DEFAULT_USER_ID, KeyRole, Organization, OrganizationCreate,
    OrganizationUpdate, User, UserCreate, UserUpdate,
};
pub use tool::{
    CodeInput, GenerateToolInput, GenerateToolOutput, Tool, ToolCreate, ToolExecutionResult,
    ToolExecutionStatus, ToolRunFromSource, ToolSearchRequest, ToolSearchResult, ToolUpdate,
};
pub use tool_rule::{ChildArgNode, ToolRule};

/// `GET /v1/health/`: both fields are required by the SDK's `Health` model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Health {
    pub version: String,
    pub status: String,
}

/// `{"message": "... successfully deleted"}`, what Letta answers to some deletes.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Deleted {
    pub message: String,
}

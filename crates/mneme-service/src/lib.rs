//! Use cases: what the HTTP server (and later the CLI) asks of mneme. Each function validates its
//! input, calls the store with complete, atomic changes and shapes the result in Letta's terms.

mod agent_file;
mod agent_model;
mod agents;
mod archival;
mod audit;
mod batches;
mod blocks;
mod chunks;
mod compaction;
mod completions;
mod conversations;
mod error;
mod folders;
mod groups;
mod identities;
mod include;
mod legacy;
mod mcp;
mod mcp_legacy;
mod messages;
mod messenger;
mod migration;
pub mod models;
mod names;
mod preview;
mod providers;
mod quotas;
mod recall;
mod render;
mod runs;
mod sandbox_config;
mod search;
mod secrets;
mod sink;
mod sleeptime;
mod steps;
mod streaming;
mod tenancy;
mod tool_actions;
mod tools;

use std::sync::Arc;

use mneme_agent::Runtime;
use mneme_llm::{AccessTable, LlmClient};
use mneme_mcp as mcp_client;
use mneme_store::Store;

use mneme_scheduler::Scheduler;
pub use mneme_scheduler::{Coordination, SharedConfig};

pub use agent_file::{
    Archival, ArchivalPassage, CatchUp, CaughtUp, ExportOptions, ImportOptions, ImportedAgents,
};
pub use archival::ArchivalSearch;
pub use audit::AuditLog;
pub use chunks::SseEvent;
pub use conversations::{ConversationMessages, ConversationRef, ConversationReply};
pub use error::ServiceError;
pub use folders::{Upload, Uploaded};
pub use include::Include;
pub use mcp_client::{McpManager, McpOptions};
pub use mcp_legacy::McpConnect;
pub use messages::{ListMessages, RenderOverrides};
pub use models::{ModelCatalog, ModelFilter, ModelLister, Provider, ProviderKind};
pub use quotas::Quotas;
pub use search::{Legs, Searcher};
pub use secrets::SecretBox;
pub use steps::TRACE_RETENTION;
pub use streaming::{CHUNK_RETENTION, MessageStream};
pub use tenancy::{
    AuthMode, Caller, Credentials, NewKey, OpenError, Tenancy, TenantOpener, issue_key,
};

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings the service needs, resolved once by the binary.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Handle used when an agent is created with neither `model` nor `llm_config`.
    pub default_model: Option<String>,
    /// Handle used when an agent is created with neither `embedding` nor `embedding_config`.
    pub default_embedding: Option<String>,
    /// How long the chunk log of a finished background run stays resumable.
    pub chunk_retention: std::time::Duration,
    /// Compact an agent's context when a model call's passes this share of its window.
    pub compaction_threshold: f64,
    /// Where uploaded files are kept while they are processed; `None` refuses uploads.
    pub files_dir: Option<std::path::PathBuf>,
    /// Largest file a folder upload accepts, in bytes.
    pub max_upload_bytes: u64,
    /// Alone on the database (SQLite) or one of several replicas (PostgreSQL).
    pub coordination: Coordination,
    /// The web built-ins' search backend and fetch limits.
    pub web: mneme_agent::tools::WebOptions,
    /// Whether each step's provider request and response are stored (telemetry).
    pub traces: bool,
    /// How long a step's provider trace is kept.
    pub trace_retention: std::time::Duration,
    /// The local sandbox's directory when its configuration names none (Letta's
    /// `~/.letta/tool_execution_dir`).
    pub tool_dir: Option<std::path::PathBuf>,
    /// The most agents and passages this store may hold.
    pub quotas: Quotas,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            default_model: None,
            default_embedding: None,
            chunk_retention: CHUNK_RETENTION,
            compaction_threshold: mneme_agent::DEFAULT_THRESHOLD,
            files_dir: None,
            max_upload_bytes: 50 * 1024 * 1024,
            coordination: Coordination::Local,
            web: mneme_agent::tools::WebOptions::default(),
            traces: true,
            trace_retention: TRACE_RETENTION,
            tool_dir: None,
            quotas: Quotas::default(),
        }
    }
}

/// The entry point for every use case. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    /// The model client, for calls outside turns (`generate`).
    llm: Arc<dyn LlmClient>,
    models: Arc<ModelCatalog>,
    config: Arc<ServiceConfig>,
    scheduler: Scheduler,
    /// The runtime the scheduler runs turns on, for work outside turns (summarize).
    runtime: Runtime,
    sandbox: Arc<mneme_agent::LazySandbox>,
    /// The sandbox configurations as tool runs apply them.
    tool_sandboxes: Arc<sandbox_config::ToolSandboxes>,
    mcp: Arc<McpManager>,
    searcher: Arc<Searcher>,
    /// The router's table: created providers are added to it, so their handles route.
    access: Arc<AccessTable>,
    secrets: SecretBox,
    /// Group exchanges run one at a time per group.
    group_locks: Arc<groups::GroupLocks>,
    /// Sleep-time companions' runs waiting to execute.
    companions: Arc<sleeptime::CompanionQueue>,
    /// What the multi-agent tools send through; bound to this service, unbound at shutdown.
    messenger: Arc<messenger::Messenger>,
    /// Uploaded files waiting to be processed.
    files: Arc<folders::FileQueue>,
    /// The replica's heartbeat task (shared coordination), stopped at shutdown.
    heartbeat: Arc<std::sync::Mutex<Option<tokio::task::AbortHandle>>>,
}

/// The model catalogue and what the service needs to manage providers: the access table the
/// router reads (the same `Arc`) and the box that seals their keys.
pub struct ProviderSetup {
    pub models: ModelCatalog,
    pub access: Arc<AccessTable>,
    pub secrets: SecretBox,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        llm: Arc<dyn LlmClient>,
        sandbox: Arc<mneme_agent::LazySandbox>,
        mcp: Arc<McpManager>,
        searcher: Arc<Searcher>,
        providers: ProviderSetup,
        config: ServiceConfig,
    ) -> Service {
        let mcp_runtime = Arc::new(mcp::McpRuntime {
            store: store.clone(),
            manager: mcp.clone(),
        });
        let messenger = Arc::new(messenger::Messenger::default());
        let tool_sandboxes = Arc::new(sandbox_config::ToolSandboxes {
            store: store.clone(),
            secrets: providers.secrets.clone(),
            sandbox: sandbox.clone(),
            default_dir: config.tool_dir.clone(),
            venv_lock: tokio::sync::Mutex::default(),
        });
        let runtime = Runtime::new(
            store.clone(),
            llm.clone(),
            sandbox.clone(),
            mcp_runtime,
            searcher.clone(),
        )
        .with_compaction_threshold(config.compaction_threshold)
        .with_traces(config.traces)
        .with_sandbox_configs(sandbox.clone(), tool_sandboxes.clone())
        .with_executor(
            mneme_agent::tools::MULTI_AGENT_TOOL_TYPE,
            Arc::new(mneme_agent::tools::MultiAgentTools::new(messenger.clone())),
        )
        .with_executor(
            mneme_agent::tools::WEB_TOOL_TYPE,
            Arc::new(mneme_agent::tools::WebTools::new(config.web.clone())),
        )
        .with_executor(
            mneme_agent::tools::FILES_TOOL_TYPE,
            Arc::new(mneme_agent::tools::FileTools::new(Arc::new(
                folders::FolderReader {
                    store: store.clone(),
                    searcher: searcher.clone(),
                },
            ))),
        );
        let scheduler = Scheduler::coordinated(
            store.clone(),
            Arc::new(runtime.clone()),
            config.coordination.clone(),
        );
        if let Some(shared) = config.coordination.shared() {
            searcher.share(shared.clone());
        }
        searcher.limit_passages(config.quotas.max_passages);
        let service = Service {
            companions: sleeptime::CompanionQueue::new(scheduler.clone(), store.clone()),
            scheduler,
            runtime,
            sandbox,
            tool_sandboxes,
            mcp,
            searcher,
            store,
            llm,
            models: Arc::new(providers.models),
            config: Arc::new(config),
            access: providers.access,
            secrets: providers.secrets,
            messenger: messenger.clone(),
            group_locks: Arc::default(),
            files: Arc::default(),
            heartbeat: Arc::default(),
        };
        messenger.bind(service.clone());
        service
    }

    /// Start-up work: registers the built-in tools (keeping the ids of those already stored),
    /// closes runs a previous process (or a dead replica) left unfinished, starts heart-beating
    /// when shared, and resumes unfinished files.
    pub async fn init(&self) -> Result<()> {
        self.store
            .upsert_tools(mneme_agent::tools::builtin_tools())
            .await?;
        self.recover_runs().await?;
        self.load_providers().await?;
        streaming::spawn_pruning(self.clone());
        batches::spawn_sweep(self.clone());
        self.searcher.spawn_background();
        // After the providers: resumed files are embedded with them.
        self.resume_interrupted_files().await?;
        Ok(())
    }

    /// Ends what outlives requests: MCP server connections (stdio children are reaped), and
    /// flushes the search index so that the next start need not replay the outbox.
    pub async fn shutdown(&self) {
        self.messenger.unbind();
        let heartbeat = self.lock_heartbeat().take();
        let shared = heartbeat.is_some();
        if let Some(task) = heartbeat {
            task.abort();
        }
        self.mcp.close_all().await;
        if let Err(e) = self.searcher.flush().await {
            tracing::warn!(error = %e, "search index flush at shutdown failed");
        }
        // Said rather than left to the timeout: the other replicas, or the next server on this
        // data directory, take over its threads, runs and unfinished files at once.
        if shared && let Err(e) = self.store.retire().await {
            tracing::warn!(error = %e, "cannot retire this replica; the others wait for its timeout");
        }
    }

    pub fn models(&self) -> &ModelCatalog {
        &self.models
    }

    /// The database's connection pool now (`None` for SQLite), for `/metrics`.
    pub fn pool_state(&self) -> Option<mneme_store::PoolState> {
        self.store.pool_state()
    }

    fn lock_heartbeat(&self) -> std::sync::MutexGuard<'_, Option<tokio::task::AbortHandle>> {
        self.heartbeat.lock().unwrap_or_else(|e| e.into_inner())
    }
}

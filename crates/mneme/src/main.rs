//! The `mneme` command: `mneme server` runs the API; `mneme config` prints the resolved config;
//! `mneme import` and `mneme export` move Agent Files in and out of the data directory offline;
//! `mneme migrate` copies the data directory's database into PostgreSQL, and `mneme migrate
//! from-letta` a whole Letta deployment into the data directory; `mneme chat` talks to
//! an agent of a running server (this one or any Letta server) in the terminal; `mneme backup`
//! and `mneme restore` copy the SQLite database (and its key) out and back, while it serves;
//! `mneme doctor` says what is in force (tool sandbox, storage, embedding model, providers).

mod backup;
mod config;
mod doctor;
mod from_letta;
mod migrate;
mod otlp;
mod redact;
mod secret;
mod tenants;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mneme_agent::LazySandbox;
use mneme_embed::{EmbedderRouter, RouterConfig};
use mneme_llm::{AccessTable, LlmRouter, OpenAiOptions};
use mneme_service::{
    McpManager, ModelCatalog, ProviderSetup, Searcher, SecretBox, Service, ServiceConfig, Tenancy,
};
use mneme_store_postgres::{PgOptions, PgStore};
use mneme_store_sqlite::SqliteStore;
use mneme_tools::SandboxOptions;
use tokio::net::TcpListener;

use crate::config::{Config, LogFormat, ServeArgs, Storage};
use crate::redact::{RedactingStderr, Redactor};

#[derive(Parser)]
#[command(
    name = "mneme",
    version,
    about = "A Letta-compatible stateful-agent server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API server.
    Server(ServeArgs),
    /// Print the configuration the server would run with (secrets redacted).
    Config(ServeArgs),
    /// Import an Agent File (.af) into the data directory, without a running server.
    Import {
        #[command(flatten)]
        args: ImportArgs,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Export an agent as an Agent File, without a running server.
    Export {
        #[command(flatten)]
        args: ExportArgs,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Copy the whole SQLite database into an empty PostgreSQL database, in one transaction;
    /// `migrate from-letta` copies a whole Letta deployment into this server's store.
    #[command(args_conflicts_with_subcommands = true)]
    Migrate {
        /// Boxed: the subcommand's flags make it far larger than the other commands.
        #[command(subcommand)]
        from: Option<Box<MigrateFrom>>,
        #[command(flatten)]
        args: MigrateArgs,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Write a consistent backup of the SQLite database and its secret key to one file, while
    /// the server runs (on PostgreSQL, use pg_dump).
    Backup {
        /// The backup file to write (it must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Restore a backup written by `mneme backup` into an empty data directory.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace the data directory's database, secret key and search index (stop its
        /// server first).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// API keys: create (printed once), list, revoke.
    #[command(subcommand)]
    Keys(tenants::KeysCommand),
    /// Chat with an agent of a running server in the terminal (any Letta-compatible server).
    Chat(mneme_chat::ChatArgs),
    /// Print what is in force: tool sandbox and its rules, data directory, database, embedding
    /// model, providers.
    Doctor(ServeArgs),
}

/// What `mneme migrate` copies from, other than this server's own SQLite database.
#[derive(Subcommand)]
enum MigrateFrom {
    /// Copy everything of a running Letta server (agents with their histories, blocks, tools,
    /// archival passages, folders, identities, groups, MCP servers, BYOK providers) into the
    /// data directory or the configured PostgreSQL database, keeping ids. Run it again to
    /// finish an interrupted run: what is there already is not copied twice.
    FromLetta {
        #[command(flatten)]
        args: from_letta::FromLettaArgs,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// The SQLite database (`sqlite://PATH` or a path; default: the data directory's).
    #[arg(long)]
    from: Option<String>,
    /// The PostgreSQL database (`postgres://user:password@host:port/database`; default: the
    /// configured `--database-url`); it must hold no rows. It is created if need be.
    #[arg(long)]
    to: Option<String>,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The Agent File to import.
    file: std::path::PathBuf,
    /// The imported agent's name (else the file's, with `_copy` unless `--no-copy-suffix`).
    #[arg(long)]
    name: Option<String>,
    /// Keep the file's agent names as they are.
    #[arg(long)]
    no_copy_suffix: bool,
    /// Import only each agent's system message, not its history.
    #[arg(long)]
    strip_messages: bool,
    /// Keep the server's tools of the same names instead of taking the file's.
    #[arg(long)]
    keep_existing_tools: bool,
    /// Model handle for the imported agents instead of the file's.
    #[arg(long)]
    model: Option<String>,
    /// Embedding handle for the imported agents instead of the file's.
    #[arg(long)]
    embedding: Option<String>,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The agent to export (`agent-...`).
    agent_id: mneme_types::AgentId,
    /// Where to write the file (`-` for standard output).
    #[arg(short, long)]
    output: std::path::PathBuf,
    /// Leave the agent's messages out.
    #[arg(long)]
    scrub_messages: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => {
            let config = Config::resolve(args)?;
            // Dropped after the server stopped: the last spans leave first.
            let _traces = init_tracing(&config);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve(config))
        }
        Command::Import { args, server } => {
            offline(server, |service| async move { import(service, args).await })
        }
        Command::Export { args, server } => {
            offline(server, |service| async move { export(service, args).await })
        }
        Command::Migrate {
            from: Some(from), ..
        } => {
            let MigrateFrom::FromLetta { args, server } = *from;
            offline(server, |service| async move {
                from_letta::run(service, args).await
            })
        }
        Command::Migrate {
            from: None,
            args,
            server,
        } => {
            let config = Config::resolve(server)?;
            let _traces = init_tracing(&config);
            let source = match &args.from {
                Some(from) => migrate::source_path(from),
                None => config.data_dir.join("mneme.db"),
            };
            let target = match (&args.to, &config.storage) {
                (Some(to), _) => to.clone(),
                (None, Storage::Postgres { url, .. }) => url.clone(),
                (None, Storage::Sqlite { .. }) => anyhow::bail!(
                    "say where to copy to: --to postgres://… (or --database-url / MNEME_DATABASE_URL)"
                ),
            };
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(migrate::run(&source, &target))
        }
        Command::Backup { to, server } => {
            let config = Config::resolve(server)?;
            let _traces = init_tracing(&config);
            backup::backup(sqlite_path(&config)?, &config.data_dir, &to)
        }
        Command::Restore {
            from,
            force,
            server,
        } => {
            let config = Config::resolve(server)?;
            let _traces = init_tracing(&config);
            backup::restore(&from, sqlite_path(&config)?, &config.data_dir, force)
        }
        Command::Keys(command) => {
            let (server, action) = command.split();
            let config = Config::resolve(server)?;
            init_tracing(&config);
            let out = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(tenants::keys(action, &config))?;
            // The user asked for this text (a new key is shown this once).
            #[allow(clippy::print_stdout)]
            {
                print!("{out}");
            }
            Ok(())
        }
        Command::Chat(args) => {
            // A chat that cannot start (no server, an unknown agent) is said in one line, with
            // no backtrace: the reader is a user at a terminal, not a log.
            if let Err(e) = mneme_chat::run(args) {
                eprintln!("mneme chat: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Doctor(args) => {
            let config = Config::resolve(args)?;
            let report = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(doctor::report(&config, sandbox_options(&config)));
            // The user asked for this text.
            #[allow(clippy::print_stdout)]
            {
                print!("{report}");
            }
            Ok(())
        }
        Command::Config(args) => {
            let config = Config::resolve(args)?;
            // The one place the binary writes to stdout: the user asked for this text.
            #[allow(clippy::print_stdout)]
            {
                println!("{config:#?}");
            }
            Ok(())
        }
    }
}

/// The SQLite database `mneme backup` and `mneme restore` work on; PostgreSQL has its own tools.
fn sqlite_path(config: &Config) -> anyhow::Result<&std::path::Path> {
    match &config.storage {
        Storage::Sqlite { path, .. } => Ok(path),
        Storage::Postgres { .. } => anyhow::bail!(
            "the server stores its data in PostgreSQL: back it up with pg_dump and restore it \
             with pg_restore (keep the data directory's secret.key with the dump)"
        ),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    mneme_metrics::set_enabled(config.metrics);
    let store = open_store(&config).await?;
    let control: Arc<dyn mneme_store::TenancyStore> = store.clone();
    let mode = tenants::auth_mode(&config, control.as_ref()).await?;
    let secret = secret::load_or_create(config.secret_key.0.as_deref(), &config.data_dir)?;
    let shared = Shared::new(&config);
    let service = build_service(&config, store, &shared).await?;
    let opener = Arc::new(tenants::Opener::new(config.clone(), secret, shared));
    let tenancy = Tenancy::new(control, service.clone(), Some(opener), mode);
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on {addr}");
    tenancy.open_all();
    let limits = config.limits.clone();
    mneme_server::serve(listener, tenancy.clone(), limits, shutdown_signal()).await?;
    tenancy.shutdown().await;
    service.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs `work` on a service over the data directory, with no HTTP server.
fn offline<F, Fut>(args: ServeArgs, work: F) -> anyhow::Result<()>
where
    F: FnOnce(Service) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = Config::resolve(args)?;
    let _traces = init_tracing(&config);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let store = open_store(&config).await?;
            let service = build_service(&config, store, &Shared::new(&config)).await?;
            let done = work(service.clone()).await;
            service.shutdown().await;
            done
        })
}

/// `mneme import`: the file read, parsed and written in one transaction, with progress in the
/// log, and the files it brought embedded; the new agents' ids on standard output.
async fn import(service: Service, args: ImportArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bytes = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?;
    tracing::info!(bytes = bytes.len(), file = %args.file.display(), "read the Agent File");
    let opts = mneme_service::ImportOptions {
        override_existing_tools: !args.keep_existing_tools,
        strip_messages: args.strip_messages,
        append_copy_suffix: !args.no_copy_suffix,
        name: args.name,
        model: args.model,
        embedding: args.embedding,
        ..Default::default()
    };
    let imported = service.import_agent_file(bytes, opts).await?;
    // The files the agents brought are embedded in the background; they must be done before
    // this process ends.
    service.files_processed().await;
    tracing::info!(
        agents = imported.agent_ids.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "imported"
    );
    #[allow(clippy::print_stdout)]
    for id in imported.agent_ids {
        println!("{id}");
    }
    Ok(())
}

/// `mneme export`: the agent's Agent File, as the API's export writes it.
async fn export(service: Service, args: ExportArgs) -> anyhow::Result<()> {
    let opts = mneme_service::ExportOptions {
        scrub_messages: args.scrub_messages,
        conversation: None,
    };
    let text = service.export_agent_file(args.agent_id, opts).await?;
    if args.output.as_os_str() == "-" {
        #[allow(clippy::print_stdout)]
        {
            println!("{text}");
        }
        return Ok(());
    }
    tokio::fs::write(&args.output, text)
        .await
        .with_context(|| format!("writing {}", args.output.display()))?;
    tracing::info!(file = %args.output.display(), "exported");
    Ok(())
}

/// The tool sandbox's options from the configuration.
fn sandbox_options(config: &Config) -> SandboxOptions {
    SandboxOptions {
        timeout: config.tool_timeout,
        mechanism: config.tool_sandbox.into(),
        unsafe_tools: config.unsafe_tools,
        ..SandboxOptions::default()
    }
}

/// The configured store: the SQLite file or PostgreSQL. The data directory is created if need
/// be on either: it holds the secret key, the search index and uploads too.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn mneme_store::Store>> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let store: Arc<dyn mneme_store::Store> = match &config.storage {
        Storage::Sqlite { path, durability } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
            }
            let store = SqliteStore::open(path, *durability)
                .with_context(|| format!("opening database {}", path.display()))?;
            Arc::new(store)
        }
        Storage::Postgres {
            url,
            pool_size,
            schema,
        } => {
            let options = PgOptions {
                max_connections: *pool_size,
                schema: schema.clone(),
                ..PgOptions::default()
            };
            let store = PgStore::connect(url, options)
                .await
                .context("opening the PostgreSQL database")?;
            Arc::new(store)
        }
    };
    tracing::info!(storage = ?config.storage, "store ready");
    Ok(store)
}

/// What every organization's service shares: one tool sandbox (probed once) and one set of
/// embedders (the local model is loaded once, not per organization).
#[derive(Clone)]
pub(crate) struct Shared {
    sandbox: Arc<LazySandbox>,
    embedders: Arc<EmbedderRouter>,
    /// Whether the local embedding model can serve.
    local_model: bool,
}

impl Shared {
    pub(crate) fn new(config: &Config) -> Shared {
        let sandbox = Arc::new(LazySandbox::new(sandbox_options(config)));
        // Probed in the background, so that the start-up log says what confines tools without
        // delaying the listener.
        tokio::spawn({
            let sandbox = sandbox.clone();
            async move {
                sandbox.get().await;
            }
        });
        let embedders = EmbedderRouter::new(RouterConfig {
            providers: config.providers.clone(),
            local_model_dir: Some(config.embedding_model_dir.clone()),
            local_model_fetch: config.embedding_model_fetch.clone(),
            ..RouterConfig::default()
        });
        let local_model = prepare_local_model(&embedders);
        Shared {
            sandbox,
            embedders: Arc::new(embedders),
            local_model,
        }
    }
}

/// The service over `store`, with every part the server runs with.
pub(crate) async fn build_service(
    config: &Config,
    store: Arc<dyn mneme_store::Store>,
    shared: &Shared,
) -> anyhow::Result<Service> {
    let access = Arc::new(AccessTable::configured(&config.providers));
    let llm = Arc::new(LlmRouter::new(OpenAiOptions::default(), access.clone())?);
    let secret = secret::load_or_create(config.secret_key.0.as_deref(), &config.data_dir)?;
    let mcp = McpManager::new(config.mcp.clone()).context("preparing the MCP client")?;
    let local_model = shared.local_model;
    let mut models = ModelCatalog::configured(&config.providers).with_lister(llm.clone());
    models.set_local_embedding(local_model.then(mneme_embed::local_embedding_config));
    // Without a configured default, agents get the built-in model when it is installed, so
    // archival and recall search are semantic with no API key.
    let default_embedding = config
        .default_embedding
        .clone()
        .or_else(|| local_model.then(|| mneme_embed::LOCAL_EMBEDDING_HANDLE.to_owned()));
    let searcher = Searcher::open(
        store.clone(),
        Some(&config.index_dir),
        shared.embedders.clone(),
        config.recall_embeddings,
        config.search_ranking,
    )
    .await
    .context("opening the search index")?;
    let service = Service::new(
        store,
        llm,
        shared.sandbox.clone(),
        Arc::new(mcp),
        searcher,
        ProviderSetup {
            models,
            access,
            secrets: SecretBox::new(&secret),
        },
        ServiceConfig {
            default_model: config.default_model.clone(),
            default_embedding,
            chunk_retention: config.stream_retention,
            compaction_threshold: config.compaction_threshold,
            files_dir: Some(config.data_dir.join("files")),
            tool_dir: Some(config.data_dir.join("tool_execution_dir")),
            max_upload_bytes: config.max_upload_bytes,
            coordination: coordination(config),
            web: config.web.clone(),
            traces: config.provider_traces,
            trace_retention: config.provider_trace_retention,
            quotas: config.quotas,
        },
    );
    service.init().await.context("preparing the store")?;
    Ok(service)
}

/// SQLite is one process's database; on PostgreSQL any number of replicas may share one.
fn coordination(config: &Config) -> mneme_service::Coordination {
    match config.storage {
        Storage::Sqlite { .. } => mneme_service::Coordination::Local,
        Storage::Postgres { .. } => mneme_service::Coordination::Shared(
            mneme_service::SharedConfig::with_timeout(config.replica_timeout),
        ),
    }
}

/// Whether the built-in embedding model can serve: its files are installed, or they will be
/// fetched (in the background from now, so the first embed rarely waits for the download; the
/// model itself loads on first use, so an idle server does not hold its weights).
fn prepare_local_model(embedders: &EmbedderRouter) -> bool {
    let Some(local) = embedders.local_embedder() else {
        return false;
    };
    if local.check_files().is_ok() {
        return true;
    }
    if !local.fetches() {
        return false;
    }
    tokio::spawn(async move {
        if let Err(e) = local.prepare().await {
            tracing::warn!(error = %e, "the local embedding model is unavailable");
        }
    });
    true
}

/// Resolves on Ctrl-C or SIGTERM, so the server drains requests before it exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Logs to standard error, through the redactor, in the configured format (JSON lines carry
/// the current span's and its parents' fields: request id, run id); and traces to the OTLP
/// collector when one is configured (the exporter it returns flushes when dropped).
fn init_tracing(config: &Config) -> Option<otlp::Exporter> {
    use tracing_subscriber::filter::{EnvFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = RedactingStderr(Redactor::new(config.secrets()));
    let logs = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
    };
    let (traces, exporter) = match config.traces.clone() {
        Some(settings) => {
            let (layer, exporter) = otlp::start(settings);
            // mneme's own spans (request, turn, step, model and tool calls, provider calls),
            // whatever the log's level.
            let spans = Targets::new().with_target("mneme", tracing::Level::INFO);
            (Some(layer.with_filter(spans)), Some(exporter))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .init();
    // A panic's message goes through the log as well (redacted; a JSON line in JSON mode),
    // not straight to standard error.
    std::panic::set_hook(Box::new(|info| {
        use std::backtrace::{Backtrace, BacktraceStatus};
        let backtrace = Backtrace::capture();
        match backtrace.status() {
            BacktraceStatus::Captured => tracing::error!(%info, %backtrace, "panic"),
            _ => tracing::error!(%info, "panic"),
        }
    }));
    exporter
}

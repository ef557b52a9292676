//! The `mneme` command: `mneme server` runs the API; `mneme config` prints the resolved config.

mod config;
mod secret;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mneme_agent::LazySandbox;
use mneme_embed::{EmbedderRouter, RouterConfig};
use mneme_llm::{AccessTable, LlmRouter, OpenAiOptions};
use mneme_service::{
    McpManager, ModelCatalog, ProviderSetup, Searcher, SecretBox, Service, ServiceConfig,
};
use mneme_store_sqlite::SqliteStore;
use mneme_tools::SandboxOptions;
use tokio::net::TcpListener;

use crate::config::{Config, LogFormat, ServeArgs, Storage};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => {
            let config = Config::resolve(args)?;
            init_tracing(config.log_format);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve(config))
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

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = match &config.storage {
        Storage::Sqlite { path, durability } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
            }
            SqliteStore::open(path, *durability)
                .with_context(|| format!("opening database {}", path.display()))?
        }
    };
    tracing::info!(storage = ?config.storage, "store ready");
    let access = Arc::new(AccessTable::configured(&config.providers));
    let llm = Arc::new(LlmRouter::new(OpenAiOptions::default(), access.clone())?);
    let secret = secret::load_or_create(config.secret_key.0.as_deref(), &config.data_dir)?;
    let sandbox = LazySandbox::new(SandboxOptions {
        timeout: config.tool_timeout,
        ..SandboxOptions::default()
    });
    let mcp = McpManager::new(config.mcp.clone()).context("preparing the MCP client")?;
    let store: Arc<dyn mneme_store::Store> = Arc::new(store);
    let embedders = EmbedderRouter::new(RouterConfig {
        providers: config.providers.clone(),
        local_model_dir: Some(config.embedding_model_dir.clone()),
        local_model_fetch: config.embedding_model_fetch.clone(),
        ..RouterConfig::default()
    });
    let local_model = prepare_local_model(&embedders);
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
        Arc::new(embedders),
        config.recall_embeddings,
    )
    .await
    .context("opening the search index")?;
    let service = Service::new(
        store,
        llm,
        Arc::new(sandbox),
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
        },
    );
    service.init().await.context("preparing the store")?;
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on {addr}");
    mneme_server::serve(listener, service.clone(), shutdown_signal()).await?;
    service.shutdown().await;
    tracing::info!("stopped");
    Ok(())
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

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.with_ansi(false).init(),
    }
}

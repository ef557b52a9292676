//! `mneme-bench`: starts mneme on a temporary data directory with the fake LLM at 0 ms (or
//! measures any Letta-compatible server given `--base-url`) and reports cold start, memory,
//! latencies and throughput as a Markdown table on stdout and as JSON. See `bench/README.md`.

mod api;
mod fake;
mod pg;
mod phases;
mod procfs;
mod report;
mod retrieval;
mod server;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::api::Api;
use crate::fake::{Fake, Janitor};
use crate::pg::Postgres;
use crate::phases::{Ctx, Params, progress};
use crate::procfs::Watch;
use crate::report::{Figure, Machine, Report};
use crate::server::{Launch, Mneme};

/// Benchmark mneme, or any Letta-compatible server, against the fake LLM at 0 ms latency.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Another measurement than the default run.
    #[command(subcommand)]
    command: Option<Command>,
    /// The mneme binary to start (default: `mneme` next to this binary).
    #[arg(long, global = true)]
    mneme_bin: Option<PathBuf>,
    /// Measure the server at this URL instead of starting mneme (no cold start; memory and
    /// CPU only with --server-pid).
    #[arg(long, global = true)]
    base_url: Option<String>,
    /// Fewer of everything (a couple of minutes against mneme).
    #[arg(long, global = true)]
    quick: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// A previous report (JSON) to print beside this run's figures, with the ratio.
    #[arg(long, global = true)]
    compare: Option<PathBuf>,
    /// Print this report (JSON) instead of measuring (with --compare: side by side).
    #[arg(long, global = true)]
    load: Option<PathBuf>,
    /// Name of the measured server in the table ("mneme" when started here).
    #[arg(long, global = true)]
    name: Option<String>,
    /// Model handle for the created agents (Letta with a custom OPENAI_BASE_URL:
    /// `openai-proxy/gpt-4o-mini`).
    #[arg(long, global = true, default_value = "openai/gpt-4o-mini")]
    model: String,
    /// Embedding handle for the created agents (Letta needs one).
    #[arg(long)]
    embedding: Option<String>,
    #[arg(long, default_value = "memgpt_v2_agent")]
    agent_type: String,
    /// Run the in-process fake LLM on this port (default: a free one) — with --base-url, the
    /// server must already use http://127.0.0.1:PORT/v1 as OPENAI_BASE_URL.
    #[arg(long)]
    fake_port: Option<u16>,
    /// Use a running `mneme-fake-llm` (its OpenAI base URL, ending in /v1) instead of the
    /// in-process fake; the driver scripts it over /_fake/.
    #[arg(long)]
    fake_url: Option<String>,
    /// With --base-url: a server process (with its children) whose memory and CPU time to
    /// read; repeat for several (Letta and its PostgreSQL postmaster).
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// mneme's --sqlite-sync (the server's default, full, when absent).
    #[arg(long, global = true)]
    sqlite_sync: Option<String>,
    /// Run the started mneme on PostgreSQL: each server gets a fresh database on this server
    /// (`postgres://user@host:port/any-existing-db`), dropped at the end. SQLite when absent.
    #[arg(
        long,
        global = true,
        env = "MNEME_BENCH_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// mneme servers sharing the one database (needs --database-url); the send, chain and
    /// throughput phases spread their requests over them.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Parent directory of the temporary data directories (default: the system temp dir).
    #[arg(long, global = true)]
    data_parent: Option<PathBuf>,
    /// Phases to skip.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<Phase>,
    /// Timed messages per series (default 500, quick 100).
    #[arg(long)]
    messages: Option<usize>,
    /// Sequentially created agents for the create latency (default 1000, quick 100).
    #[arg(long)]
    agents: Option<usize>,
    /// Agent counts at which memory is read (default 1000,10000; quick 1000; none with
    /// --base-url).
    #[arg(long, value_delimiter = ',')]
    agent_checkpoints: Option<Vec<usize>>,
    /// Messages in the history agent (default 10000, quick 1000).
    #[arg(long)]
    history: Option<usize>,
    /// Seconds per throughput run (default 15, quick 5).
    #[arg(long)]
    duration: Option<f64>,
    /// Client counts for the throughput runs (default 16,64).
    #[arg(long, value_delimiter = ',')]
    clients: Option<Vec<usize>>,
    /// Streams per kind (default 50, quick 20).
    #[arg(long)]
    streams: Option<usize>,
    /// Cold starts, median reported (default 7, quick 3).
    #[arg(long)]
    cold_starts: Option<usize>,
    /// Messages of the long series on one agent (default 20000, quick 2000).
    #[arg(long)]
    flat_messages: Option<usize>,
    /// Context window of the long series' agent, so that it compacts during the series
    /// (default 4096 tokens).
    #[arg(long)]
    flat_window: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Search quality and latency on the labelled conversations of bench/retrieval (turn
    /// recall@k, session hit@k, MRR per question type), through the HTTP API with the
    /// built-in embedding model. See bench/retrieval/README.md.
    Retrieval(retrieval::RetrievalArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    Agents,
    Send,
    Chain,
    Flat,
    Stream,
    Throughput,
    History,
    Search,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Command::Retrieval(r)) = &args.command {
        return retrieval::command::main(&args, r).await;
    }
    let report = match &args.load {
        Some(path) => Report::load(path)?,
        None => run(&args).await?,
    };
    let other = args.compare.as_deref().map(Report::load).transpose()?;
    let table = report.table(other.as_ref());
    crate::report::emit(&report, args.json.as_deref(), args.load.is_some(), &table)
}

/// Measures, then drops the databases created on PostgreSQL whether or not that succeeded.
async fn run(args: &Args) -> Result<Report> {
    check_args(args)?;
    let postgres = match &args.database_url {
        Some(url) => Some(Arc::new(Postgres::connect(url).await?)),
        None => None,
    };
    let result = measure(args, postgres.clone()).await;
    if let Some(pg) = postgres {
        pg.drop_all().await;
    }
    result
}

/// Options that only make sense together.
fn check_args(args: &Args) -> Result<()> {
    if args.base_url.is_some() && (args.database_url.is_some() || args.replicas > 1) {
        bail!("--database-url and --replicas are for the mneme the bench starts, not --base-url");
    }
    if args.replicas > 1 && args.database_url.is_none() {
        bail!("--replicas needs --database-url: replicas share one PostgreSQL database");
    }
    if args.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    Ok(())
}

async fn measure(args: &Args, postgres: Option<Arc<Postgres>>) -> Result<Report> {
    let params = params(args);
    let fake = Arc::new(match &args.fake_url {
        Some(url) => Fake::remote(url)?,
        None => Fake::local(args.fake_port.unwrap_or(0)).await?,
    });
    fake.check().await.context("the fake LLM does not answer")?;
    fake.reset(false).await?;
    let mut report = new_report(args, &params)?;
    let (bases, watch, servers) = match &args.base_url {
        Some(_) => external(args, &mut report),
        None => {
            let launch = Launch {
                bin: mneme_bin(args)?,
                data_parent: args.data_parent.clone(),
                openai_base_url: fake.openai_base_url(),
                sqlite_sync: args.sqlite_sync.clone(),
                postgres,
                local_model: false,
                extra_args: Vec::new(),
                extra_env: Vec::new(),
            };
            started(args, &launch, params.cold_starts, &mut report).await?
        }
    };
    describe_target(args, &fake, &mut report);
    let api = Api::new(
        &bases,
        &args.model,
        args.embedding.as_deref(),
        &args.agent_type,
    )?;
    api.health_all().await?;
    progress(&format!("measuring {}", bases.join(", ")));
    idle_memory(&watch, &mut report).await;
    let janitor = Janitor::start(fake.clone());
    let mut ctx = Ctx {
        api,
        fake,
        janitor,
        watch,
        params,
        report,
    };
    run_phases(&mut ctx, &args.skip).await;
    if let Some(memory) = ctx.watch.memory() {
        let figure = Figure::new("rss_end_mib", "memory at the end", "MiB", memory.headline());
        ctx.figure(figure);
        ctx.detail("memory_end", memory);
    }
    ctx.report.machine.loadavg_end = report::loadavg();
    for mneme in servers {
        mneme.kill().await?;
    }
    Ok(ctx.report)
}

/// The report before any measurement: who measures what, where, with which parameters.
fn new_report(args: &Args, params: &Params) -> Result<Report> {
    Ok(Report {
        tool: format!("mneme-bench {}", env!("CARGO_PKG_VERSION")),
        name: args.name.clone().unwrap_or_else(|| default_name(args)),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: Machine::probe(),
        target: json!({}),
        params: serde_json::to_value(params)?,
        figures: Vec::new(),
        details: BTreeMap::new(),
    })
}

/// The server at `--base-url`, measured as it is; the watch covers the `--server-pid`s.
fn external(args: &Args, report: &mut Report) -> (Vec<String>, Watch, Vec<Mneme>) {
    let base = args.base_url.clone().unwrap_or_default();
    report.target = json!({"kind": "external", "base_url": base, "pids": args.server_pids});
    (vec![base], Watch::new(args.server_pids.clone()), Vec::new())
}

/// mneme started here, after its cold starts: `--replicas` servers on one database. Returns
/// their base URLs, the watch on their processes (and PostgreSQL backends) and the servers.
async fn started(
    args: &Args,
    launch: &Launch,
    cold_start_count: usize,
    report: &mut Report,
) -> Result<(Vec<String>, Watch, Vec<Mneme>)> {
    cold_starts(launch, cold_start_count, report).await?;
    let servers = launch.start_replicas(args.replicas).await?;
    let pids = servers.iter().map(|m| m.pid().context("mneme exited"));
    let pids = pids.collect::<Result<Vec<u32>>>()?;
    report.target = started_target(args, launch, &servers).await;
    // Replicas share one database: watch its backends once.
    let mut databases: Vec<String> = servers.iter().filter_map(|m| m.database.clone()).collect();
    databases.dedup();
    let bases = servers.iter().map(|m| m.base.clone()).collect();
    let watch = Watch::new(pids).with_databases(databases);
    Ok((bases, watch, servers))
}

/// The report's target for mneme started here: binary, backend, replicas, where the data is.
async fn started_target(args: &Args, launch: &Launch, servers: &[Mneme]) -> serde_json::Value {
    let data_dirs: Vec<_> = servers.iter().map(|m| &m.data_dir).collect();
    let backend = match launch.postgres {
        Some(_) => "postgresql",
        None => "sqlite",
    };
    let mut target = json!({"kind": "mneme (started by the driver)",
        "bin": launch.bin, "data_dir": data_dirs.first(),
        "sqlite_sync": sqlite_sync(args), "backend": backend, "replicas": servers.len()});
    if let Some(pg) = &launch.postgres {
        target["database_server"] = json!(pg.display_url());
        target["database"] = json!(servers.first().and_then(|m| m.database.as_deref()));
        target["postgres_version"] = json!(pg.version().await.ok());
        target["data_dirs"] = json!(data_dirs);
    }
    target
}

/// The SQLite durability the started server runs with (none on PostgreSQL).
fn sqlite_sync(args: &Args) -> Option<&str> {
    match (&args.database_url, &args.sqlite_sync) {
        (Some(_), _) => None,
        (None, Some(sync)) => Some(sync),
        (None, None) => Some("full (default)"),
    }
}

/// What every target's report says about the agents and the fake.
fn describe_target(args: &Args, fake: &Fake, report: &mut Report) {
    if let Some(target) = report.target.as_object_mut() {
        target.insert("model".into(), json!(args.model));
        target.insert("embedding".into(), json!(args.embedding));
        target.insert("agent_type".into(), json!(args.agent_type));
        target.insert("fake_llm".into(), json!(fake.openai_base_url()));
    }
}

/// The idle memory figure, when the server's processes can be read.
async fn idle_memory(watch: &Watch, report: &mut Report) {
    // Let start-up work settle before reading idle memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(memory) = watch.memory() {
        report.figures.push(
            Figure::new("rss_idle_mib", "memory idle", "MiB", memory.headline())
                .goal_max(30e6 / 1_048_576.0, "< 30 MB (28.6 MiB)"),
        );
        report.details.insert("memory_idle".into(), json!(memory));
    }
}

/// "mneme" on SQLite (as before PostgreSQL), else with the backend and replica count, so that
/// tables of different runs say what they measured.
fn default_name(args: &Args) -> String {
    match (&args.base_url, &args.database_url, args.replicas) {
        (Some(_), _, _) => "server".to_owned(),
        (None, None, _) => "mneme".to_owned(),
        (None, Some(_), 1) => "mneme (postgresql)".to_owned(),
        (None, Some(_), n) => format!("mneme (postgresql, {n} replicas)"),
    }
}

/// Runs each phase not skipped; a failed phase is reported and the run goes on.
async fn run_phases(ctx: &mut Ctx, skip: &[Phase]) {
    let all = [
        Phase::Agents,
        Phase::Send,
        Phase::Chain,
        Phase::Flat,
        Phase::Stream,
        Phase::Throughput,
        Phase::History,
        Phase::Search,
    ];
    for phase in all.into_iter().filter(|p| !skip.contains(p)) {
        let result = match phase {
            Phase::Agents => phases::agents(ctx).await,
            Phase::Send => phases::send(ctx).await,
            Phase::Chain => phases::chain(ctx).await,
            Phase::Flat => phases::flat(ctx).await,
            Phase::Stream => phases::stream(ctx).await,
            Phase::Throughput => phases::throughput(ctx).await,
            Phase::History => phases::history(ctx).await,
            Phase::Search => phases::search(ctx).await,
        };
        if let Err(e) = result {
            progress(&format!("phase {phase:?} failed: {e:#}"));
            ctx.detail(&format!("error_{phase:?}").to_lowercase(), format!("{e:#}"));
        }
    }
}

/// Starts mneme `n` times on fresh data directories; the median time to the first healthy
/// response is the figure.
async fn cold_starts(launch: &Launch, n: usize, report: &mut Report) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    progress(&format!(
        "cold start: {n} starts of {}",
        launch.bin.display()
    ));
    let mut times = Vec::new();
    for _ in 0..n {
        let (mneme, elapsed) = launch.start().await?;
        mneme.kill().await?;
        times.push(elapsed);
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let median = ms(&stats::median(&times));
    report.figures.push(
        Figure::new(
            "cold_start_ms",
            format!("cold start to first healthy response (median of {n})"),
            "ms",
            median,
        )
        .goal_max(100.0, "< 100 ms"),
    );
    let all: Vec<f64> = times.iter().map(ms).collect();
    report.details.insert(
        "cold_start_ms".into(),
        json!({"median": median, "all": all}),
    );
    Ok(())
}

fn params(args: &Args) -> Params {
    let mut p = if args.quick {
        Params::quick()
    } else {
        Params::full()
    };
    if args.base_url.is_some() {
        p.cold_starts = 0;
        p.agent_checkpoints = Vec::new();
    }
    let set = |slot: &mut usize, value: Option<usize>| {
        if let Some(v) = value {
            *slot = v;
        }
    };
    set(&mut p.messages, args.messages);
    set(&mut p.agents, args.agents);
    set(&mut p.history, args.history);
    set(&mut p.streams, args.streams);
    set(&mut p.cold_starts, args.cold_starts);
    set(&mut p.flat_messages, args.flat_messages);
    set(&mut p.flat_window, args.flat_window);
    if let Some(c) = &args.agent_checkpoints {
        p.agent_checkpoints.clone_from(c);
    }
    if let Some(c) = &args.clients {
        p.clients.clone_from(c);
    }
    if let Some(d) = args.duration {
        p.throughput_secs = d;
    }
    p
}

/// `--mneme-bin`, else `mneme` beside this executable (both land in the same target dir).
fn mneme_bin(args: &Args) -> Result<PathBuf> {
    let bin = match &args.mneme_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("mneme"),
    };
    if !bin.is_file() {
        bail!(
            "no mneme binary at {} (build it: cargo build --release -p mneme, or pass --mneme-bin)",
            bin.display()
        );
    }
    Ok(bin)
}

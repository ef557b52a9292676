//! `mneme migrate from-letta`: a whole Letta deployment moved into this server's store, read
//! over the Letta REST API (what every Letta version since the 0.6 line serves, and what
//! mneme serves too), or from its PostgreSQL database directly (`db`, the 0.16 line's schema,
//! read-only): both origins give the same values (`origin`), written by the same code.
//!
//! Agents go through the Agent File import with their ids kept: each agent's export gives its
//! history, blocks, tools, folders and files; the source's other answers give the real ids the
//! file's local ones stand for; its archival passages come beside it. Agents that share a
//! block or a folder, or a group, are written in one transaction. Identities, blocks of no
//! agent, MCP servers and BYOK providers follow on their own.
//!
//! A run is idempotent: what the target already holds under the same id is counted as present
//! and not written again, so an interrupted run is finished by running it again. A unit whose
//! id is taken by something else (another name) is reported as a collision, never overwritten.

mod agents;
mod client;
mod db;
mod history;
mod letta;
mod origin;
mod rename;
mod report;
mod since;
mod standalone;
mod unit;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use futures_util::StreamExt;
use mneme_service::{Service, ServiceError};
use mneme_types::McpServer;

pub use report::{Report, Tally};

use origin::Origin;

/// What a migration is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The source server's base URL (`http://host:8283`).
    pub url: String,
    /// Instead of `url`: the source's PostgreSQL database, read directly (read-only).
    pub letta_database_url: Option<String>,
    /// Read a database whose schema version is not of the 0.16 line.
    pub letta_any_schema: bool,
    /// Sent as `Authorization: Bearer` (a Letta server's password or API key).
    pub token: Option<String>,
    /// Read everything and report what would move; write nothing.
    pub dry_run: bool,
    /// API keys of the source's BYOK providers, by provider name. The source shows keys
    /// masked: a provider whose key is not given here is not created.
    pub provider_keys: BTreeMap<String, String>,
    /// An embedding model handle for every migrated agent instead of its own (its passages
    /// are then embedded anew).
    pub embedding: Option<String>,
    /// Agents the target holds already are brought level with the source by what changed
    /// there since this time (messages, passages, block values), instead of being left as
    /// they are.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot reach {url}: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot read the answer to {path}: {message}")]
    Decode { path: String, message: String },
    #[error("{0}")]
    Source(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

pub type Result<T, E = MigrateError> = std::result::Result<T, E>;

/// How many units are read ahead of the one being written: the source's answers are the slow
/// part (Letta takes seconds for a long history), and it serves several at once.
const READ_AHEAD: usize = 4;

/// The agent fields the migration needs: blocks, tools and folders.
pub(crate) const AGENT_INCLUDE: &str =
    "include=agent.blocks&include=agent.tools&include=agent.sources&include=agent.tags";

/// How a history listing is asked for: every stored message's views as stored, a
/// `send_message` call as the tool call it is (with its id and arguments) and its return shown,
/// where the default listing shows the call as an assistant message and hides the return.
pub(crate) const VIEWS: &str = "use_assistant_message=false";

/// Runs the whole migration into `service`'s store.
pub async fn from_letta(service: &Service, opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let mut report = Report {
        dry_run: opts.dry_run,
        started_at: Some(chrono::Utc::now()),
        since: opts.since,
        ..Report::default()
    };
    let src = Origin::open(opts, &mut report).await?;
    let servers = src.mcp_servers(&mut report).await?;
    let groups = src.groups(&mut report).await?;
    let agents = src.agents(&groups, &mut report).await?;
    tracing::info!(
        agents = agents.len(),
        groups = groups.len(),
        "read the source's agents"
    );
    // MCP servers first: the agents' tools name them, and the source's list holds what an
    // Agent File leaves out (a stdio server's environment, an HTTP server's auth).
    standalone::mcp_servers(service, &servers, opts, &mut report).await?;
    let migrated =
        migrate_agents(service, &src, opts, &agents, &groups, &servers, &mut report).await?;
    standalone::identities(service, &src, opts, &mut report).await?;
    standalone::blocks(service, &src, opts, &migrated.blocks, &mut report).await?;
    standalone::tools(service, &src, opts, &migrated.tools, &mut report).await?;
    standalone::providers(service, &src, opts, &mut report).await?;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The agents, unit by unit: each unit read (several ahead) and written in one transaction; a
/// unit that cannot move is reported and the others still move.
async fn migrate_agents(
    service: &Service,
    src: &Origin,
    opts: &Options,
    agents: &[letta::Agent],
    groups: &[letta::Group],
    servers: &[McpServer],
    report: &mut Report,
) -> Result<Migrated> {
    let units = agents::components(agents, groups);
    let names: HashMap<&str, &str> = agents
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    let names = &names;
    let mut migrated = Migrated::default();
    let mut progress = Progress::new(agents.len());
    let reads = futures_util::stream::iter(units.iter())
        .map(|unit| async move {
            let read = unit::read(service, src, unit, groups, servers, opts.since, names).await;
            (unit, read)
        })
        .buffered(READ_AHEAD);
    let mut reads = std::pin::pin!(reads);
    let mut i = 0;
    while let Some((unit, read)) = reads.next().await {
        i += 1;
        tracing::info!(
            unit = i,
            of = units.len(),
            agents = unit.len(),
            "migrating agents"
        );
        let done = match read {
            Ok(read) => unit::write(service, opts, unit, read, report, &mut migrated).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => {}
            // The source is gone: nothing further can be read.
            Err(e @ MigrateError::Http { .. }) => return Err(e),
            // This unit cannot move (an export this version cannot read, a record the target
            // refuses): said, and the others still move.
            Err(e) => {
                for id in unit {
                    report.skip("agents", format!("agent {id}: {e}"));
                }
            }
        }
        progress.show(unit.len(), report);
    }
    progress.finish();
    Ok(migrated)
}

/// A progress line on a terminal (a log has the units' lines instead).
struct Progress {
    tty: bool,
    agents: usize,
    done: usize,
}

impl Progress {
    fn new(agents: usize) -> Progress {
        use std::io::IsTerminal;
        Progress {
            tty: std::io::stderr().is_terminal(),
            agents,
            done: 0,
        }
    }

    fn show(&mut self, agents: usize, report: &Report) {
        self.done += agents;
        if !self.tty {
            return;
        }
        let n = |kind: &str| report.kinds.get(kind).map_or(0, |t| t.copied + t.present);
        eprint!(
            "\ragents {}/{}  messages {}  passages {}  ",
            self.done,
            self.agents,
            n("messages"),
            n("passages")
        );
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// A 404 is "this server has no such thing" (an older version's missing route, an object
/// deleted meanwhile), not a failure.
fn optional<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(MigrateError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the run has written so far, for the objects migrated after the agents.
#[derive(Default)]
pub(crate) struct Migrated {
    /// Blocks the units brought (or would bring, in a dry run): not copied again on their own.
    pub(crate) blocks: HashSet<String>,
    /// The names of the tools the units brought, likewise.
    pub(crate) tools: HashSet<String>,
}

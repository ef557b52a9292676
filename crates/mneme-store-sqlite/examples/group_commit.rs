//! Write throughput of `SqliteStore` under concurrent agents: each of `--clients` tasks sends
//! "messages" to its own agent, one after another, as the step loop writes them: `create_run`,
//! one `commit_step` (a user and an assistant message, the step, the run's usage), `finish_run`.
//!
//! ```text
//! cargo run --release -p mneme-store-sqlite --example group_commit -- \
//!     [--clients 64] [--seconds 10] [--sync full|normal] [--dir DIR]
//! ```
//!
//! It prints messages/s and write transactions/s (three per message). To count the fsyncs,
//! run it under `strace -f -c -e trace=fsync,fdatasync`.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mneme_store::conformance::{commit, message, new_agent, run_record};
use mneme_store::{Agent, Role, RunEdit, Store};
use mneme_store_sqlite::{Durability, SqliteStore};
use mneme_types::{MessageId, RunStatus, StopReason};

/// The in-context ids a client keeps (older ones leave the context, as after a summary), so
/// that every step writes about the same amount.
const CONTEXT: usize = 20;

struct Options {
    clients: usize,
    seconds: u64,
    durability: Durability,
    dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let opts = options()?;
    let temp = tempfile::tempdir_in(opts.dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
        &temp.path().join("bench.db"),
        opts.durability,
    )?);
    let mut agents = Vec::new();
    for i in 0..opts.clients {
        agents.push(
            store
                .create_agent(new_agent(&format!("a{i}"), vec![]))
                .await?,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let clients: Vec<_> = agents
        .into_iter()
        .map(|agent| tokio::spawn(client(store.clone(), agent, deadline)))
        .collect();
    let mut messages = 0_u64;
    for c in clients {
        messages += c.await??;
    }
    report(&opts, messages, started.elapsed());
    Ok(())
}

/// Sends messages to `agent` until `deadline`; answers how many.
async fn client(
    store: Arc<dyn Store>,
    mut agent: Agent,
    deadline: Instant,
) -> Result<u64, mneme_store::StoreError> {
    let mut sent = 0;
    while Instant::now() < deadline {
        let run = store
            .create_run(run_record(agent.id, mneme_types::time::now()))
            .await?;
        let turn = vec![
            message(
                agent.id,
                Role::User,
                "How is the weather today, in a few words?",
            ),
            message(agent.id, Role::Assistant, "Sunny, with a light breeze."),
        ];
        let mut step = commit(&agent, run.id, turn);
        step.message_ids = keep_recent(step.message_ids);
        agent.message_ids = step.message_ids.clone();
        store.commit_step(step).await?;
        agent.message_ids_version += 1;
        let finish: RunEdit = Box::new(|r| {
            r.status = RunStatus::Completed;
            r.stop_reason = Some(StopReason::EndTurn);
            r.completed_at = Some(mneme_types::time::now());
        });
        store.finish_run(run.id, finish).await?;
        sent += 1;
    }
    Ok(sent)
}

/// The system message and the newest ids, at most `CONTEXT` in all.
fn keep_recent(mut ids: Vec<MessageId>) -> Vec<MessageId> {
    if ids.len() > CONTEXT {
        ids.drain(1..ids.len() - CONTEXT + 1);
    }
    ids
}

fn options() -> Result<Options, Box<dyn Error>> {
    let mut opts = Options {
        clients: 64,
        seconds: 10,
        durability: Durability::Full,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--clients" => opts.clients = value.parse()?,
            "--seconds" => opts.seconds = value.parse()?,
            "--dir" => opts.dir = Some(value.into()),
            "--sync" if value == "full" => opts.durability = Durability::Full,
            "--sync" if value == "normal" => opts.durability = Durability::Normal,
            _ => return Err(format!("unknown option {flag} {value}").into()),
        }
    }
    Ok(opts)
}

#[allow(clippy::print_stdout)]
fn report(opts: &Options, messages: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{} clients, sync {:?}: {messages} messages in {secs:.1} s = {:.0} messages/s, {:.0} write transactions/s",
        opts.clients,
        opts.durability,
        messages as f64 / secs,
        3.0 * messages as f64 / secs,
    );
}

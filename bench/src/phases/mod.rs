//! The measurements, one module per group; each adds its headline figures and its detailed
//! statistics to the report. Everything here talks HTTP only, so it runs against any server.

mod agents;
mod load;
mod messages;
mod search;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::api::Api;
use crate::fake::{Fake, Janitor};
use crate::procfs::Watch;
use crate::report::{Figure, Report};
use crate::stats::Samples;

pub(crate) use agents::agents;
pub(crate) use load::{history, throughput};
pub(crate) use messages::{chain, flat, send, stream};
pub(crate) use search::search;

/// How much of everything to do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Params {
    pub(crate) cold_starts: usize,
    /// Agents created one after the other for the create latency.
    pub(crate) agents: usize,
    /// Total agent counts after which memory is read (agents are created up to each).
    pub(crate) agent_checkpoints: Vec<usize>,
    /// Timed messages on one agent, plain and as heartbeat chains.
    pub(crate) messages: usize,
    /// Untimed messages before each timed series.
    pub(crate) warmup: usize,
    /// Streams per kind (per step, per token).
    pub(crate) streams: usize,
    /// Concurrent clients of each throughput run.
    pub(crate) clients: Vec<usize>,
    pub(crate) throughput_secs: f64,
    /// Listed messages the history agent is filled to.
    pub(crate) history: usize,
    /// Concurrent senders filling the history agent.
    pub(crate) fill_concurrency: usize,
    /// Requests per list-messages variant.
    pub(crate) list_requests: usize,
    /// Passages inserted into one agent's archival memory, then searched.
    pub(crate) passages: usize,
    /// Timed archival searches.
    pub(crate) searches: usize,
    /// Messages of the long series on one agent with a small window (flat step cost).
    pub(crate) flat_messages: usize,
    /// That agent's context window in tokens.
    pub(crate) flat_window: usize,
}

impl Params {
    pub(crate) fn full() -> Params {
        Params {
            cold_starts: 7,
            agents: 1_000,
            agent_checkpoints: vec![1_000, 10_000],
            messages: 500,
            warmup: 10,
            streams: 50,
            clients: vec![16, 64],
            throughput_secs: 15.0,
            history: 10_000,
            fill_concurrency: 8,
            list_requests: 200,
            passages: 10_000,
            searches: 500,
            flat_messages: 20_000,
            flat_window: 4_096,
        }
    }

    pub(crate) fn quick() -> Params {
        Params {
            cold_starts: 3,
            agents: 100,
            agent_checkpoints: vec![1_000],
            messages: 100,
            warmup: 3,
            streams: 20,
            clients: vec![16, 64],
            throughput_secs: 5.0,
            history: 1_000,
            fill_concurrency: 8,
            list_requests: 50,
            passages: 1_000,
            searches: 100,
            flat_messages: 2_000,
            flat_window: 4_096,
        }
    }
}

/// What every phase works with.
pub(crate) struct Ctx {
    pub(crate) api: Api,
    pub(crate) fake: Arc<Fake>,
    pub(crate) janitor: Janitor,
    pub(crate) watch: Watch,
    pub(crate) params: Params,
    pub(crate) report: Report,
}

impl Ctx {
    pub(crate) fn figure(&mut self, figure: Figure) {
        self.report.figures.push(figure);
    }

    pub(crate) fn detail(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.report.details.insert(key.to_owned(), value);
    }

    /// Server CPU time from now until `CpuMeter::per` is called.
    pub(crate) fn cpu_meter(&self) -> CpuMeter {
        CpuMeter {
            watch: self.watch.clone(),
            start: self.watch.cpu(),
            database_start: self.watch.database_cpu(),
        }
    }
}

/// Server CPU time over one phase (only when the server's processes are known).
pub(crate) struct CpuMeter {
    watch: Watch,
    start: Option<Duration>,
    database_start: Option<Duration>,
}

impl CpuMeter {
    /// Milliseconds of server CPU per operation since the meter started.
    pub(crate) fn per(&self, operations: usize) -> Option<f64> {
        per(self.start, self.watch.cpu(), operations)
    }

    /// Milliseconds of CPU per operation of the PostgreSQL backends serving the server, since
    /// the meter started; `None` on SQLite, whose work is in the server's own CPU time.
    pub(crate) fn database_per(&self, operations: usize) -> Option<f64> {
        per(self.database_start, self.watch.database_cpu(), operations)
    }
}

/// Milliseconds per operation between two CPU readings, when both exist.
fn per(start: Option<Duration>, end: Option<Duration>, operations: usize) -> Option<f64> {
    let spent = end?.saturating_sub(start?).as_secs_f64() * 1e3;
    (operations > 0).then(|| spent / operations as f64)
}

/// Progress goes to stderr, stamped with the time since the run began.
pub(crate) fn progress(message: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(Instant::now);
    eprintln!("[{:>7.1}s] {message}", start.elapsed().as_secs_f64());
}

/// Runs operations `0..total` on `workers` concurrent tasks and collects their wall times.
pub(crate) async fn spread<F, Fut>(workers: usize, total: usize, op: F) -> Samples
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (next, op) = (next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return samples;
                }
                let start = Instant::now();
                match op(i).await {
                    Ok(()) => samples.push(start.elapsed()),
                    Err(e) => samples.fail(&e),
                }
            }
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        match task.await {
            Ok(samples) => all.merge(samples),
            Err(e) => all.fail(&anyhow::anyhow!("worker task failed: {e}")),
        }
    }
    all
}

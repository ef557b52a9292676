//! mneme's Prometheus metrics: one process-wide registry of atomics, fed where things happen
//! (the HTTP layer, a step's commit, a model call, a tool call, a run's end) and rendered in
//! the text exposition format 0.0.4 on scrape. A leaf crate without dependencies, so that
//! every crate that records may use it.

mod process;
mod registry;
mod render;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

pub use registry::{Counter, Family, Histogram};
pub use render::Gauge;

/// Every instrument mneme records.
#[derive(Debug)]
pub struct Metrics {
    /// HTTP requests by method, route template (never the raw path) and status class.
    pub requests: Family<Histogram>,
    pub in_flight: AtomicI64,
    /// Committed steps: their wall time, model call and tools included.
    pub steps: Histogram,
    /// Model calls that answered, by model handle.
    pub model_calls: Family<Histogram>,
    /// Tool executions by tool type (`letta_core`, `custom`, `external_mcp`, …).
    pub tools: Family<Histogram>,
    /// Tokens by model handle and kind (`prompt`, `completion`).
    pub tokens: Family<Counter>,
    /// Finished runs by status and stop reason.
    pub runs: Family<Counter>,
    /// Requests refused by the per-caller rate limit (answered 429).
    pub rate_limited: Counter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    requests: Family::new(&["method", "route", "status"]),
    in_flight: AtomicI64::new(0),
    steps: Histogram::default(),
    model_calls: Family::new(&["model"]),
    tools: Family::new(&["tool_type"]),
    tokens: Family::new(&["model", "kind"]),
    runs: Family::new(&["status", "stop_reason"]),
    rate_limited: Counter::default(),
});

/// Off (`--metrics false`): nothing is recorded and `/metrics` is not served.
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The registry, or `None` when metrics are off.
fn on() -> Option<&'static Metrics> {
    enabled().then(|| &*METRICS)
}

/// One HTTP request answered; `status` is reduced to its class (`2xx`, …).
pub fn request(method: &str, route: &str, status: u16, took: Duration) {
    if let Some(m) = on() {
        let class = status_class(status);
        m.requests.with(&[method, route, class]).observe(took);
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Counts a request in flight until dropped.
#[derive(Debug)]
pub struct InFlight(bool);

pub fn in_flight() -> InFlight {
    let counted = on().map(|m| m.in_flight.fetch_add(1, Ordering::Relaxed));
    InFlight(counted.is_some())
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0 {
            METRICS.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A step committed after `took`.
pub fn step(took: Duration) {
    if let Some(m) = on() {
        m.steps.observe(took);
    }
}

/// A model call by `model` answered after `took`, with its token counts.
pub fn model_call(model: &str, took: Duration, (prompt, completion): (u64, u64)) {
    if let Some(m) = on() {
        m.model_calls.with(&[model]).observe(took);
        m.tokens.with(&[model, "prompt"]).add(prompt);
        m.tokens.with(&[model, "completion"]).add(completion);
    }
}

/// A tool of `tool_type` ran for `took`.
pub fn tool(tool_type: &str, took: Duration) {
    if let Some(m) = on() {
        m.tools.with(&[tool_type]).observe(took);
    }
}

/// A run ended with this status and stop reason (their wire names).
pub fn run_finished(status: &str, stop_reason: &str) {
    if let Some(m) = on() {
        m.runs.with(&[status, stop_reason]).add(1);
    }
}

/// A request refused by the rate limit.
pub fn rate_limited() {
    if let Some(m) = on() {
        m.rate_limited.add(1);
    }
}

/// The exposition of everything recorded, the process's figures, and `extra` gauges (the
/// database pool, which only the caller can read).
pub fn render(extra: &[Gauge]) -> String {
    render::render(&METRICS, extra)
}

/// The Content-Type of `render`'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

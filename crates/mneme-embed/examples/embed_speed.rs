//! How fast the in-process model embeds, through the public `Embedder` API (spawn_blocking
//! included, as the service calls it): one short query, one ~60-word passage, a batch of 512
//! mixed passages. Run in release mode:
//!
//! ```text
//! cargo run --release -p mneme-embed --example embed_speed [model dir]
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mneme_embed::{Embedder, LocalEmbedder};

const QUERY: &str = "when did my sister move to a new city";

const WORDS: [&str; 48] = [
    "the",
    "meeting",
    "with",
    "Anna",
    "was",
    "moved",
    "to",
    "Thursday",
    "because",
    "her",
    "flight",
    "from",
    "Lisbon",
    "got",
    "delayed",
    "and",
    "we",
    "talked",
    "about",
    "hiking",
    "trip",
    "in",
    "mountains",
    "next",
    "summer",
    "she",
    "recommended",
    "a",
    "book",
    "on",
    "sourdough",
    "baking",
    "my",
    "dog",
    "Max",
    "loves",
    "beach",
    "I",
    "started",
    "learning",
    "piano",
    "last",
    "year",
    "favourite",
    "café",
    "closed",
    "recently",
    "naïve",
];

/// A deterministic passage of `n` words.
fn passage(seed: usize, n: usize) -> String {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        words.push(WORDS[(state >> 33) % WORDS.len()]);
    }
    words.join(" ")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

/// This process's threads' time on a CPU and time waiting for one, in ns, from
/// /proc/self/task/*/schedstat: wall-clock figures on a shared machine include the waiting.
fn cpu_and_wait() -> (u64, u64) {
    let mut total = (0, 0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return total;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        total.0 += fields.next().unwrap_or(0);
        total.1 += fields.next().unwrap_or(0);
    }
    total
}

/// Prints the CPU time and the time spent waiting for a CPU per call since `before`.
fn per_call(label: &str, before: (u64, u64), calls: usize) {
    let after = cpu_and_wait();
    let calls = calls as f64;
    println!(
        "  {label}: {:.2} ms of CPU per call, {:.2} ms waiting for a CPU per call",
        (after.0 - before.0) as f64 / 1e6 / calls,
        (after.1 - before.1) as f64 / 1e6 / calls
    );
}

async fn time_one(embedder: &LocalEmbedder, text: &str, calls: usize) -> Vec<Duration> {
    let texts = vec![text.to_owned()];
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        embedder.embed(&texts).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/mneme/models/all-MiniLM-L6-v2")
        });
    let embedder = LocalEmbedder::new(dir);
    let started = Instant::now();
    embedder.embed(&[QUERY.to_owned()]).await.unwrap();
    println!("load + first embed: {:.1} ms", ms(started.elapsed()));

    let before = cpu_and_wait();
    let times = time_one(&embedder, QUERY, 200).await;
    println!(
        "short query ({} words), 200 calls: p50 {:.2} ms, p95 {:.2} ms",
        QUERY.split_whitespace().count(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95))
    );
    per_call("short query", before, 200);

    let long = passage(7, 60);
    let before = cpu_and_wait();
    let times = time_one(&embedder, &long, 50).await;
    println!(
        "one 60-word passage, 50 calls: p50 {:.2} ms, p95 {:.2} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95))
    );
    per_call("60-word passage", before, 50);

    let batch: Vec<String> = (0..512).map(|i| passage(i, 10 + (i * 37) % 71)).collect();
    let before = cpu_and_wait();
    let started = Instant::now();
    let vectors = embedder.embed(&batch).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(vectors.len(), batch.len());
    println!(
        "batch of 512 passages (10-80 words): {:.0} ms, {:.0} passages/s",
        ms(elapsed),
        batch.len() as f64 / elapsed.as_secs_f64()
    );
    per_call("batch (per passage)", before, batch.len());
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

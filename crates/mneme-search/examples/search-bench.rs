//! `search-bench`: ingest and query figures of `mneme-search` on a synthetic corpus.
//!
//! For each size: short texts (10-39 words from a 50k-word Zipf vocabulary) with 384-dim
//! unit vectors drawn from a mixture of 1,000 clusters in a 64-dim latent space projected to
//! 384 dims (structured like real embeddings, so that an ANN has real work to do), all held
//! by one owner. Measures ingest through `apply` + `flush`, the HNSW build, hybrid / vector /
//! text query latency, the vector leg's recall@10 against an exact scan, and read-your-writes
//! (a few documents applied to the memory tier, then a text query), and prints markdown.
//!
//! `cargo run --release -p mneme-search --example search-bench -- --sizes 10k,100k`
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark's report is its output, and any failure should abort it loudly"
)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mneme_search::{Change, Doc, Query, SearchIndex, SearchOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIMS: usize = 384;
const LATENT: usize = 64;
const CLUSTERS: usize = 1_000;
const VOCABULARY: usize = 50_000;
const BATCH: usize = 1_000;
const OWNER: &str = "archive-bench";
/// Documents re-upserted into the loaded collection to measure online ingest.
const ONLINE: usize = 10_000;
/// Read-your-writes rounds, and documents applied per round (a turn's few new messages).
const PENDING_ROUNDS: usize = 200;
const PENDING_BATCH: usize = 5;

struct Args {
    sizes: Vec<usize>,
    queries: usize,
    options: SearchOptions,
}

fn main() {
    let args = parse_args();
    let mut ingest = Vec::new();
    let mut queries = Vec::new();
    let mut pending = Vec::new();
    for &n in &args.sizes {
        let (i, q, p) = run(n, &args);
        ingest.push(i);
        queries.push(q);
        pending.push(p);
    }
    println!(
        "\nmachine: {} threads available; HNSW threshold {}, ef_search {}, build threads {}\n",
        std::thread::available_parallelism().map_or(1, usize::from),
        args.options.hnsw_threshold,
        args.options.expansion_search,
        args.options.build_threads,
    );
    println!(
        "| docs | apply, text only (docs/s) | load_vectors + HNSW build | online upsert, text + vector (docs/s) | tantivy on disk | RSS at end | load average |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in ingest {
        println!("{row}");
    }
    println!(
        "\n| docs | vector leg | hybrid p50 / p95 | vector only p50 / p95 | text only p50 / p95 | recall@10 vector leg |"
    );
    println!("|---|---|---|---|---|---|");
    for row in queries {
        println!("{row}");
    }
    println!(
        "\n| docs | apply {PENDING_BATCH} docs (memory tier) p50 / p95 | its CPU time, mean | text query right after p50 / p95 | flush of {} pending docs | same queries, all committed, p50 / p95 |",
        PENDING_ROUNDS * PENDING_BATCH
    );
    println!("|---|---|---|---|---|---|");
    for row in pending {
        println!("{row}");
    }
}

fn parse_args() -> Args {
    let mut args = Args {
        sizes: vec![10_000, 100_000],
        queries: 500,
        options: SearchOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => args.sizes = value.split(',').map(parse_size).collect(),
            "--queries" => args.queries = value.parse().expect("--queries N"),
            "--threshold" => args.options.hnsw_threshold = value.parse().expect("--threshold N"),
            "--ef" => args.options.expansion_search = value.parse().expect("--ef N"),
            "--build-threads" => args.options.build_threads = value.parse().expect("N"),
            _ => panic!(
                "unknown flag {flag}; flags: --sizes 10k,100k,1m --queries N --threshold N --ef N --build-threads N"
            ),
        }
    }
    args
}

fn parse_size(s: &str) -> usize {
    let s = s.trim().to_ascii_lowercase();
    let (digits, factor) = match s.as_bytes().last() {
        Some(b'k') => (&s[..s.len() - 1], 1_000),
        Some(b'm') => (&s[..s.len() - 1], 1_000_000),
        _ => (&s[..], 1),
    };
    digits.parse::<usize>().expect("a size like 10k") * factor
}

/// The generated documents: texts and one `DIMS`-wide vector each, row by row.
struct Data {
    texts: Vec<String>,
    vectors: Vec<f32>,
}

impl Data {
    fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * DIMS..(i + 1) * DIMS]
    }

    fn change(&self, i: usize) -> Change {
        upsert(i as u64 + 1, &self.texts[i], self.row(i))
    }
}

fn run(n: usize, args: &Args) -> (String, String, String) {
    eprintln!("== {n} documents: generating");
    let load_before = load_average();
    let mut rng = StdRng::seed_from_u64(42);
    let corpus = Corpus::new(&mut rng);
    let texts: Vec<String> = (0..n).map(|_| corpus.text(&mut rng)).collect();
    let mut vectors = Vec::with_capacity(n * DIMS);
    for _ in 0..n {
        vectors.extend(corpus.vector(&mut rng));
    }
    let data = Data { texts, vectors };
    let dir = tempfile::tempdir().expect("tempdir");
    let index = SearchIndex::open_with(Some(dir.path()), args.options.clone()).expect("open");

    eprintln!("== {n}: apply");
    let apply_rate = ingest(&index, &data, n, 1);
    eprintln!("== {n}: load_vectors + build");
    let (build, hnsw) = load_and_build(&index, &data, n);
    eprintln!("== {n}: queries");
    let query_vectors: Vec<Vec<f32>> = (0..args.queries).map(|_| corpus.vector(&mut rng)).collect();
    let query_texts: Vec<String> = (0..args.queries).map(|_| corpus.query(&mut rng)).collect();
    let latencies = query_latencies(&index, &query_texts, &query_vectors);
    eprintln!("== {n}: recall");
    let recall = recall_at_10(&index, &data, &query_vectors);
    eprintln!("== {n}: online upserts");
    let online_rate = ingest(&index, &data, ONLINE.min(n), n / BATCH + 2);
    eprintln!("== {n}: read-your-writes");
    let pending = read_your_writes(&index, &corpus, &mut rng, n);

    let load = format!("{load_before} -> {}", load_average());
    let leg = if hnsw { "HNSW f16" } else { "exact f32" };
    let ingest = format!(
        "| {} | {:.0} | {} | {:.0} | {:.0} MB | {:.0} MB | {load} |",
        human(n),
        apply_rate,
        build,
        online_rate,
        dir_size(dir.path()) as f64 / 1e6,
        rss_mb(),
    );
    let queries = format!("| {} | {leg} | {latencies} | {recall:.3} |", human(n));
    let pending = format!("| {} | {pending} |", human(n));
    eprintln!("{ingest}\n{queries}\n{pending}");
    (ingest, queries, pending)
}

/// Applies the first `n` documents in batches, each flushed (one tantivy commit and reader
/// reload), watermarks from `first_batch` on; documents per second. Before the collection is
/// loaded this is the tantivy path; after, the graph is updated inline too.
fn ingest(index: &SearchIndex, data: &Data, n: usize, first_batch: usize) -> f64 {
    let started = Instant::now();
    for (b, chunk) in (0..n).collect::<Vec<_>>().chunks(BATCH).enumerate() {
        let changes: Vec<Change> = chunk.iter().map(|&i| data.change(i)).collect();
        index
            .apply(&changes, (first_batch + b) as u64)
            .expect("apply");
        index.flush().expect("flush");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// A turn's read-your-writes: a few new documents (text only: recall vectors come later, in
/// the background) applied to the memory tier, then a text query for words of the last one,
/// which the tier and tantivy both answer; the pending documents accumulate over the rounds
/// and are flushed at the end, and the same queries run again with everything committed.
/// Then the CPU time of `apply` alone (this thread's, so preemption by other jobs on the
/// machine does not count), over as many rounds again. Table cells: apply p50 / p95, its
/// CPU time, query p50 / p95, flush, queries after the flush p50 / p95.
fn read_your_writes(index: &SearchIndex, corpus: &Corpus, rng: &mut StdRng, n: usize) -> String {
    let mut apply_us = Vec::with_capacity(PENDING_ROUNDS);
    let mut query_us = Vec::with_capacity(PENDING_ROUNDS);
    let mut queries = Vec::with_capacity(PENDING_ROUNDS);
    let watermark = index.applied_watermark();
    for round in 0..PENDING_ROUNDS {
        let texts: Vec<String> = (0..PENDING_BATCH).map(|_| corpus.text(rng)).collect();
        let changes: Vec<Change> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Change::Upsert(Doc {
                    key: (n + 1 + round * PENDING_BATCH + i) as u64,
                    owner: OWNER.to_owned(),
                    text: text.clone(),
                    vector: None,
                })
            })
            .collect();
        let started = Instant::now();
        index
            .apply(&changes, watermark + 1 + round as u64)
            .expect("apply");
        apply_us.push(started.elapsed().as_secs_f64() * 1e6);
        let words: Vec<&str> = texts[PENDING_BATCH - 1].split(' ').take(3).collect();
        let query = Query {
            text: Some(words.join(" ")),
            ..Query::new(OWNER)
        };
        let started = Instant::now();
        let hits = index.search(&query).expect("search");
        query_us.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(!hits.is_empty());
        queries.push(query);
    }
    let started = Instant::now();
    index.flush().expect("flush");
    let flush = started.elapsed().as_secs_f64() * 1e3;
    let committed_us: Vec<f64> = queries
        .iter()
        .map(|query| {
            let started = Instant::now();
            index.search(query).expect("search");
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let batches: Vec<Vec<Change>> = (0..PENDING_ROUNDS)
        .map(|round| {
            (0..PENDING_BATCH)
                .map(|i| {
                    Change::Upsert(Doc {
                        key: (n + 1 + (PENDING_ROUNDS + round) * PENDING_BATCH + i) as u64,
                        owner: OWNER.to_owned(),
                        text: corpus.text(rng),
                        vector: None,
                    })
                })
                .collect()
        })
        .collect();
    let cpu_before = thread_cpu_ns();
    for (round, changes) in batches.iter().enumerate() {
        let watermark = watermark + (PENDING_ROUNDS + round) as u64;
        index.apply(changes, watermark).expect("apply");
    }
    let apply_cpu = (thread_cpu_ns() - cpu_before) / 1e3 / PENDING_ROUNDS as f64;
    index.flush().expect("flush");
    format!(
        "{} µs | {apply_cpu:.0} µs | {} µs | {flush:.1} ms | {} µs",
        p50_p95(apply_us),
        p50_p95(query_us),
        p50_p95(committed_us)
    )
}

/// "p50 / p95" of samples.
fn p50_p95(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    format!("{:.0} / {:.0}", at(0.50), at(0.95))
}

/// Loads the collection as a start-up would and waits for its graph: what it cost, and
/// whether it is a graph.
fn load_and_build(index: &SearchIndex, data: &Data, n: usize) -> (String, bool) {
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let rows = (0..n)
        .map(|i| (i as u64 + 1, data.row(i).to_vec()))
        .collect();
    index.load_vectors(OWNER, rows);
    let loaded = started.elapsed();
    assert!(index.wait_for_vector_builds(Duration::from_secs(3 * 3600)));
    let built = started.elapsed();
    let build_cpu = process_cpu_seconds() - cpu_before;
    let stats = index.vector_stats(OWNER).expect("loaded");
    let build = if stats.hnsw {
        format!(
            "{:.1} s wall, {:.0} CPU-s (load {:.2} s)",
            built.as_secs_f64(),
            build_cpu,
            loaded.as_secs_f64()
        )
    } else {
        format!("{:.2} s (exact, no graph)", loaded.as_secs_f64())
    };
    (build, stats.hnsw)
}

/// p50 / p95 of hybrid, vector-only and text-only queries, as table cells.
fn query_latencies(index: &SearchIndex, texts: &[String], vectors: &[Vec<f32>]) -> String {
    let time = |make: &dyn Fn(usize) -> Query| {
        let mut ms: Vec<f64> = (0..texts.len())
            .map(|i| {
                let q = make(i);
                let started = Instant::now();
                let hits = index.search(&q).expect("search");
                let elapsed = started.elapsed().as_secs_f64() * 1e3;
                assert!(!hits.is_empty());
                elapsed
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let at = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
        format!("{:.2} / {:.2} ms", at(0.50), at(0.95))
    };
    let hybrid = time(&|i| Query {
        text: Some(texts[i].clone()),
        vector: Some(vectors[i].clone()),
        ..Query::new(OWNER)
    });
    let vector_only = time(&|i| Query {
        vector: Some(vectors[i].clone()),
        ..Query::new(OWNER)
    });
    let text_only = time(&|i| Query {
        text: Some(texts[i].clone()),
        ..Query::new(OWNER)
    });
    format!("{hybrid} | {vector_only} | {text_only}")
}

/// Recall of the vector leg's top 10 against an exact f32 scan.
fn recall_at_10(index: &SearchIndex, data: &Data, queries: &[Vec<f32>]) -> f64 {
    let mut found = 0;
    for q in queries {
        let query = Query {
            vector: Some(q.clone()),
            limit: 10,
            candidates: Some(10),
            ..Query::new(OWNER)
        };
        let got: HashSet<u64> = index
            .search(&query)
            .expect("search")
            .iter()
            .map(|h| h.key)
            .collect();
        found += exact_top10(&data.vectors, q)
            .iter()
            .filter(|k| got.contains(k))
            .count();
    }
    found as f64 / (queries.len() * 10) as f64
}

fn upsert(key: u64, text: &str, vector: &[f32]) -> Change {
    Change::Upsert(Doc {
        key,
        owner: OWNER.to_owned(),
        text: text.to_owned(),
        vector: Some(vector.to_vec()),
    })
}

fn exact_top10(vectors: &[f32], q: &[f32]) -> Vec<u64> {
    let mut best: Vec<(f32, u64)> = Vec::with_capacity(11);
    for (i, v) in vectors.chunks_exact(DIMS).enumerate() {
        let s: f32 = v.iter().zip(q).map(|(a, b)| a * b).sum();
        if best.len() < 10 || s > best[best.len() - 1].0 {
            let at = best.partition_point(|(b, _)| *b >= s);
            best.insert(at, (s, i as u64 + 1));
            best.truncate(10);
        }
    }
    best.into_iter().map(|(_, k)| k).collect()
}

/// The generator of texts, query texts and vectors.
struct Corpus {
    words: Vec<String>,
    word_cdf: Vec<f64>,
    centroids: Vec<[f32; LATENT]>,
    cluster_cdf: Vec<f64>,
    spread: [f32; LATENT],
    projection: Vec<f32>,
}

impl Corpus {
    fn new(rng: &mut StdRng) -> Corpus {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "ix", "or", "el",
            "an", "bu", "de", "fi", "go", "hu", "ja", "wy", "xo", "yi",
        ];
        let mut seen = HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY);
        while words.len() < VOCABULARY {
            let len = rng.random_range(2..=4);
            let word: String = (0..len)
                .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
                .collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let centroids = (0..CLUSTERS)
            .map(|_| std::array::from_fn(|_| gaussian(rng)))
            .collect();
        // Decaying spread per latent dimension: most variance in a few directions, as in
        // real embeddings.
        let spread = std::array::from_fn(|d| 0.8 * 0.95f32.powi(d as i32));
        let scale = 1.0 / (LATENT as f32).sqrt();
        let projection = (0..DIMS * LATENT).map(|_| gaussian(rng) * scale).collect();
        Corpus {
            words,
            word_cdf: zipf_cdf(VOCABULARY, 1.0),
            centroids,
            cluster_cdf: zipf_cdf(CLUSTERS, 0.7),
            spread,
            projection,
        }
    }

    fn text(&self, rng: &mut StdRng) -> String {
        let len = rng.random_range(10..=39);
        let words: Vec<&str> = (0..len)
            .map(|_| self.words[sample(&self.word_cdf, rng)].as_str())
            .collect();
        words.join(" ")
    }

    /// Two content words (frequency rank 100-5000) and one drawn from the Zipf law, which
    /// is often a very frequent word: the expensive case for BM25.
    fn query(&self, rng: &mut StdRng) -> String {
        let a = &self.words[rng.random_range(100..5_000)];
        let b = &self.words[rng.random_range(100..5_000)];
        let c = &self.words[sample(&self.word_cdf, rng)];
        format!("{a} {b} {c}")
    }

    fn vector(&self, rng: &mut StdRng) -> Vec<f32> {
        let centroid = &self.centroids[sample(&self.cluster_cdf, rng)];
        let latent: [f32; LATENT] =
            std::array::from_fn(|d| centroid[d] + self.spread[d] * gaussian(rng));
        let mut v: Vec<f32> = self
            .projection
            .chunks_exact(LATENT)
            .map(|row| {
                row.iter().zip(&latent).map(|(p, l)| p * l).sum::<f32>() + 0.3 * gaussian(rng)
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut total = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|rank| {
            total += 1.0 / (rank as f64).powf(s);
            total
        })
        .collect();
    cdf.iter_mut().for_each(|c| *c /= total);
    cdf
}

fn sample(cdf: &[f64], rng: &mut StdRng) -> usize {
    let u: f64 = rng.random();
    cdf.partition_point(|c| *c < u).min(cdf.len() - 1)
}

/// A standard normal sample (Box-Muller), to avoid a dependency for one distribution.
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn human(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process so far (all threads), from /proc.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux reports in USER_HZ, 100 on every mainstream configuration.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU nanoseconds this thread has run, from the scheduler (/proc/thread-self/schedstat).
fn thread_cpu_ns() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The 1-minute load average: the machine is shared, and wall times depend on it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

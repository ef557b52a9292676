//! Archival memory over the API: insert throughput (each passage embedded by the agent's model
//! when it has one) and search latency on one agent holding many passages.

use std::time::Instant;

use anyhow::{Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::{Ctx, progress, spread};
use crate::report::Figure;
use crate::stats::Samples;

/// Concurrent inserting clients.
const INSERT_WORKERS: usize = 8;
/// A vocabulary with a Zipf-like frequency law: word `i` is drawn with weight 1/(i+1).
const VOCABULARY: usize = 5_000;

pub(crate) async fn search(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.params.passages;
    let agent = ctx.api.create_agent("search").await?;
    progress(&format!("archival memory: inserting {n} passages"));
    let words = Words::new();
    let texts: Vec<String> = {
        let mut rng = StdRng::seed_from_u64(7);
        (0..n).map(|_| words.sentence(&mut rng, 12, 30)).collect()
    };
    let texts = std::sync::Arc::new(texts);
    let api = ctx.api.clone();
    let started = Instant::now();
    let inserted = {
        let (agent, texts) = (agent.clone(), texts.clone());
        spread(INSERT_WORKERS, n, move |i| {
            let (api, agent, texts) = (api.clone(), agent.clone(), texts.clone());
            async move { api.insert_passage(&agent, &texts[i]).await }
        })
        .await
    };
    let elapsed = started.elapsed().as_secs_f64();
    let summary = inserted.summary();
    if summary.count == 0 {
        bail!(
            "no passage stored: {}",
            summary.first_error.unwrap_or_default()
        );
    }
    let rate = summary.count as f64 / elapsed;
    ctx.figure(
        Figure::new(
            "passage_insert_per_s",
            format!("archival insert throughput ({INSERT_WORKERS} clients)"),
            "passages/s",
            rate,
        )
        .higher_is_better(),
    );

    let queries = ctx.params.searches;
    progress(&format!(
        "archival memory: {queries} searches over {n} passages"
    ));
    let mut rng = StdRng::seed_from_u64(11);
    let mut samples = Samples::default();
    let mut empty = 0usize;
    for _ in 0..queries {
        let q = words.sentence(&mut rng, 2, 4);
        let start = Instant::now();
        match ctx.api.search_passages(&agent, &q, 10).await {
            Ok(found) => {
                samples.push(start.elapsed());
                empty += usize::from(found == 0);
            }
            Err(e) => samples.fail(&e),
        }
    }
    let latency = samples.summary();
    ctx.figure(Figure::new(
        "passage_search_p50_ms",
        format!("archival search p50 ({n} passages)"),
        "ms",
        latency.p50_ms,
    ));
    ctx.figure(
        Figure::new(
            "passage_search_p95_ms",
            format!("archival search p95 ({n} passages)"),
            "ms",
            latency.p95_ms,
        )
        .goal_max(10.0, "< 10 ms"),
    );
    ctx.detail(
        "archival_search",
        json!({"passages": n, "insert": summary, "insert_seconds": elapsed,
               "search": latency, "searches_without_results": empty}),
    );
    Ok(())
}

/// Synthetic words (`w0`, `w1`, ...) drawn with Zipf-like weights, so that queries mix
/// frequent and rare terms as real text does.
struct Words {
    cumulative: Vec<f64>,
}

impl Words {
    fn new() -> Words {
        let mut total = 0.0;
        let cumulative = (0..VOCABULARY)
            .map(|i| {
                total += 1.0 / (i as f64 + 1.0);
                total
            })
            .collect();
        Words { cumulative }
    }

    fn word(&self, rng: &mut StdRng) -> String {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c < x);
        format!("w{i}")
    }

    fn sentence(&self, rng: &mut StdRng, min: usize, max: usize) -> String {
        let len = rng.random_range(min..=max);
        (0..len)
            .map(|_| self.word(rng))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

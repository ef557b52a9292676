//! Create-agent latency (sequential creates) and server memory as the agent count grows.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use super::{Ctx, progress, spread};
use crate::report::Figure;
use crate::stats::Samples;

/// Workers creating the agents that only fill the database for the memory checkpoints.
const BULK_WORKERS: usize = 8;

/// 500 MB in MiB: the goal for 10,000 agents.
const GOAL_10K_MIB: f64 = 500e6 / 1_048_576.0;

pub(crate) async fn agents(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.params.agents;
    progress(&format!("create-agent latency: {n} sequential creates"));
    let meter = ctx.cpu_meter();
    let mut samples = Samples::default();
    for i in 0..n {
        let start = Instant::now();
        match ctx.api.create_agent(&format!("create-{i}")).await {
            Ok(_) => samples.push(start.elapsed()),
            Err(e) => samples.fail(&e),
        }
    }
    let latency = samples.summary();
    if latency.count == 0 {
        bail!(
            "no agent could be created: {}",
            latency.first_error.unwrap_or_default()
        );
    }
    let cpu = meter.per(latency.count);
    ctx.figure(Figure::new(
        "create_agent_p50_ms",
        "create agent p50",
        "ms",
        latency.p50_ms,
    ));
    ctx.figure(Figure::new(
        "create_agent_p95_ms",
        "create agent p95",
        "ms",
        latency.p95_ms,
    ));
    ctx.detail(
        "create_agent",
        json!({"latency": latency, "server_cpu_ms_per_create": cpu}),
    );
    checkpoints(ctx, latency.count + latency.errors).await
}

/// Creates agents up to each checkpoint and reads the server's memory there.
async fn checkpoints(ctx: &mut Ctx, mut created: usize) -> Result<()> {
    if ctx.watch.is_empty() {
        return Ok(());
    }
    let targets = ctx.params.agent_checkpoints.clone();
    let mut details = Vec::new();
    for (i, target) in targets.into_iter().enumerate() {
        if target > created {
            progress(&format!("creating agents up to {target}"));
            let api = ctx.api.clone();
            let bulk = spread(BULK_WORKERS, target - created, move |j| {
                let api = api.clone();
                async move { api.create_agent(&format!("bulk-{i}-{j}")).await.map(drop) }
            })
            .await;
            created = target;
            let summary = bulk.summary();
            if summary.errors > 0 {
                progress(&format!(
                    "{} creates failed: {}",
                    summary.errors,
                    summary.first_error.clone().unwrap_or_default()
                ));
            }
        }
        // Let freed request buffers go back before reading memory.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(memory) = ctx.watch.memory() else {
            continue;
        };
        let (key, goal) = match i {
            0 => ("rss_agents_1_mib", None),
            _ => ("rss_agents_2_mib", Some(GOAL_10K_MIB)),
        };
        let mut figure = Figure::new(
            key,
            format!("memory after {target} agents"),
            "MiB",
            memory.headline(),
        );
        if let (Some(goal), 10_000) = (goal, target) {
            figure = figure.goal_max(goal, "< 500 MB (476.8 MiB)");
        }
        ctx.figure(figure);
        details.push(json!({"agents": target, "memory": memory}));
    }
    ctx.detail("memory_by_agents", details);
    Ok(())
}

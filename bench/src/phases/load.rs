//! Load: throughput with N concurrent clients on distinct agents, and list-messages latency on
//! an agent with a long history.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use super::{Ctx, progress, spread};
use crate::report::Figure;
use crate::stats::Samples;

/// Letta measured on this machine: 2.9 messages/s to 16 clients; the goal is 50 times that.
const GOAL_16_CLIENTS: f64 = 50.0 * 2.9;

/// For each client count: that many agents, one client task each, sending one message after
/// another for the configured duration. With replicas, client `i` talks to replica `i` modulo
/// their number (as a load balancer with sticky sessions would send it).
pub(crate) async fn throughput(ctx: &mut Ctx) -> Result<()> {
    let mut details = serde_json::Map::new();
    for clients in ctx.params.clients.clone() {
        let secs = ctx.params.throughput_secs;
        progress(&format!("throughput: {clients} clients for {secs} s"));
        let mut agents = Vec::new();
        for i in 0..clients {
            agents.push(ctx.api.create_agent(&format!("load{clients}-{i}")).await?);
        }
        // One untimed message each, so that every agent has left its first-turn path.
        let (api, warm) = (ctx.api.clone(), agents.clone());
        let warmed = spread(clients, clients, move |i| {
            let (api, agent) = (api.on_replica(i), warm[i].clone());
            async move { api.send(&agent, "warm-up").await.map(drop) }
        })
        .await;
        if warmed.len() == 0 {
            bail!("warm-up failed: {:?}", warmed.summary().first_error);
        }
        let meter = ctx.cpu_meter();
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, agent) in agents.into_iter().enumerate() {
            let api = ctx.api.on_replica(i);
            tasks.push(tokio::spawn(async move {
                let mut samples = Samples::default();
                let mut i = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match api.send(&agent, &format!("load {i}: how are you?")).await {
                        Ok(_) => samples.push(t.elapsed()),
                        Err(e) => samples.fail(&e),
                    }
                    i += 1;
                }
                samples
            }));
        }
        let mut samples = Samples::default();
        for task in tasks {
            match task.await {
                Ok(s) => samples.merge(s),
                Err(e) => samples.fail(&anyhow::anyhow!("client task failed: {e}")),
            }
        }
        let wall = start.elapsed().as_secs_f64();
        let rate = samples.len() as f64 / wall;
        let cpu = meter.per(samples.len());
        let database_cpu = meter.database_per(samples.len());
        let mut figure = Figure::new(
            &format!("throughput_{clients}"),
            format!("throughput, {clients} clients"),
            "msg/s",
            rate,
        )
        .higher_is_better();
        if clients == 16 {
            figure = figure.goal_min(GOAL_16_CLIENTS, "≥ 145 (50 × Letta's 2.9)");
        }
        ctx.figure(figure);
        let latency = samples.summary();
        ctx.figure(Figure::new(
            &format!("throughput_{clients}_p50_ms"),
            format!("latency p50 under {clients} clients"),
            "ms",
            latency.p50_ms,
        ));
        let mut detail = json!({"messages": samples.len(), "wall_s": wall,
            "messages_per_s": rate, "latency": latency, "server_cpu_ms_per_message": cpu});
        if let Some(cpu) = database_cpu {
            detail["database_cpu_ms_per_message"] = json!(cpu);
        }
        details.insert(clients.to_string(), detail);
    }
    ctx.detail("throughput", details);
    Ok(())
}

/// Fills one agent to `history` listed messages, then times list requests on it.
pub(crate) async fn history(ctx: &mut Ctx) -> Result<()> {
    let target = ctx.params.history;
    let agent = ctx.api.create_agent("history").await?;
    let (per_turn, after) = turn_size(ctx, &agent).await?;
    progress(&format!(
        "history: filling one agent to {target} messages ({per_turn} listed per turn)"
    ));
    let fill_start = Instant::now();
    let fill = fill_history(ctx, &agent, target, per_turn, after).await?;
    let turns = fill.len();
    let fill_secs = fill_start.elapsed().as_secs_f64();
    let walk_start = Instant::now();
    let listed = count(ctx, &agent).await?;
    let walk_ms = walk_start.elapsed().as_secs_f64() * 1e3;
    progress(&format!(
        "history: {listed} messages listed ({} failed turns), timing lists",
        fill.summary().errors
    ));
    let mut details = serde_json::Map::new();
    // Servers apply `limit` to stored messages (tool plumbing included), so a page lists fewer.
    for (key, query, label) in [
        ("list_newest", "limit=100", "newest page (limit=100)"),
        (
            "list_oldest",
            "limit=100&order=asc",
            "oldest page (limit=100)",
        ),
    ] {
        let detail = time_list(ctx, &agent, listed, (key, query, label)).await;
        details.insert(key.to_owned(), detail);
    }
    ctx.figure(Figure::new(
        "list_all_ms",
        format!("list all {listed} messages (limit=1000 pages)"),
        "ms",
        walk_ms,
    ));
    details.insert(
        "fill".to_owned(),
        json!({"turns": turns, "seconds": fill_secs, "listed": listed, "turn": fill.summary(),
               "walk_all_ms": walk_ms}),
    );
    ctx.detail("history", details);
    Ok(())
}

/// Sends the agent its first two turns; returns how many listed messages a turn adds and how
/// many the agent lists after them.
async fn turn_size(ctx: &Ctx, agent: &str) -> Result<(usize, usize)> {
    // The second turn tells how many listed messages a turn adds (user + assistant on mneme;
    // Letta's first turn lists an extra reasoning message).
    ctx.api.send(agent, "history 0: hello").await?;
    let before = count(ctx, agent).await?;
    ctx.api.send(agent, "history 0: hello again").await?;
    let after = count(ctx, agent).await?;
    Ok((after.saturating_sub(before).max(1), after))
}

/// Sends the agent concurrent turns until it lists `target` messages (at most five rounds);
/// returns the turns' samples.
async fn fill_history(
    ctx: &Ctx,
    agent: &str,
    target: usize,
    per_turn: usize,
    mut listed: usize,
) -> Result<Samples> {
    let mut fill = Samples::default();
    // Letta can lose turns sent concurrently to one agent, so fill in rounds until the count
    // is reached.
    for _round in 0..5 {
        let turns = target.saturating_sub(listed).div_ceil(per_turn);
        if turns == 0 {
            break;
        }
        let (api, id, offset) = (ctx.api.clone(), agent.to_owned(), fill.len() + 1);
        let round = spread(ctx.params.fill_concurrency, turns, move |i| {
            let (api, id) = (api.clone(), id.clone());
            async move {
                let text = format!("history {}: hello, how are you today?", offset + i);
                api.send(&id, &text).await.map(drop)
            }
        })
        .await;
        fill.merge(round);
        listed = count(ctx, agent).await?;
    }
    Ok(fill)
}

/// Times `list_requests` list requests of one kind (`key`, `query`, `label`) on the agent that
/// lists `listed` messages: records the p50 and p95 figures and returns the detail.
async fn time_list(
    ctx: &mut Ctx,
    agent: &str,
    listed: usize,
    (key, query, label): (&str, &str, &str),
) -> serde_json::Value {
    let mut samples = Samples::default();
    let mut page_size = 0;
    for _ in 0..ctx.params.list_requests {
        let start = Instant::now();
        match ctx.api.list_messages(agent, query).await {
            Ok(page) if !page.is_empty() => {
                samples.push(start.elapsed());
                page_size = page.len();
            }
            Ok(_) => samples.fail(&anyhow::anyhow!("an empty page")),
            Err(e) => samples.fail(&e),
        }
    }
    let latency = samples.summary();
    let label = format!("list messages of {listed}: {label}");
    ctx.figure(Figure::new(
        &format!("{key}_p50_ms"),
        format!("{label} p50"),
        "ms",
        latency.p50_ms,
    ));
    ctx.figure(Figure::new(
        &format!("{key}_p95_ms"),
        format!("{label} p95"),
        "ms",
        latency.p95_ms,
    ));
    json!({"query": query, "listed_per_page": page_size, "latency": latency})
}

/// How many messages the agent lists, paging oldest first 1,000 at a time.
async fn count(ctx: &Ctx, agent: &str) -> Result<usize> {
    let mut total = 0;
    let mut after: Option<String> = None;
    loop {
        let mut query = "limit=1000&order=asc".to_owned();
        if let Some(id) = &after {
            query.push_str(&format!("&after={id}"));
        }
        let page = ctx.api.list_messages(agent, &query).await?;
        let last = page
            .last()
            .and_then(|m| m["id"].as_str())
            .map(str::to_owned);
        total += page.len();
        match last {
            Some(id) if after.as_deref() != Some(id.as_str()) => after = Some(id),
            _ => return Ok(total),
        }
    }
}

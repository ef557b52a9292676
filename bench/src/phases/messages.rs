//! Sequential round trips on one agent: a plain message (one step), a two-step heartbeat chain,
//! and streamed messages (time to first byte and first message chunk).

use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::{Ctx, progress};
use crate::fake::CHAIN_MARKER;
use crate::report::Figure;
use crate::stats::{Latency, Samples};

/// A short user message without the letter the chain's search looks for, so that the search
/// stays cheap and the same on every server.
fn text(i: usize) -> String {
    format!("message {i}: hello, how are you today?")
}

/// `messages` one-step turns on one fresh agent.
pub(crate) async fn send(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.params.messages;
    progress(&format!(
        "send-message round trip: {n} messages on one agent"
    ));
    let (latency, cpu, database_cpu) = series(ctx, "send", 1, text).await?;
    ctx.figure(
        Figure::new(
            "send_p50_ms",
            "send message p50 (1 step)",
            "ms",
            latency.p50_ms,
        )
        .goal_max(2.0, "< 2 ms"),
    );
    ctx.figure(Figure::new(
        "send_p95_ms",
        "send message p95 (1 step)",
        "ms",
        latency.p95_ms,
    ));
    if let Some(cpu) = cpu {
        ctx.figure(Figure::new(
            "send_cpu_ms",
            "server CPU per message (1 step)",
            "ms",
            cpu,
        ));
    }
    let mut detail = json!({"latency": latency, "server_cpu_ms_per_message": cpu});
    if let Some(cpu) = database_cpu {
        ctx.figure(Figure::new(
            "send_db_cpu_ms",
            "PostgreSQL CPU per message (1 step)",
            "ms",
            cpu,
        ));
        detail["database_cpu_ms_per_message"] = json!(cpu);
    }
    ctx.detail("send", detail);
    Ok(())
}

/// `messages` two-step turns (search with a heartbeat, then `send_message`) on one fresh agent.
pub(crate) async fn chain(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.params.messages;
    progress(&format!("heartbeat chain round trip: {n} two-step turns"));
    ctx.janitor.pause(true).await;
    ctx.fake.reset(true).await?;
    let result = series(ctx, "chain", 2, |i| format!("{CHAIN_MARKER} {i}")).await;
    ctx.fake.reset(false).await?;
    ctx.janitor.pause(false).await;
    let (latency, cpu, database_cpu) = result?;
    ctx.figure(Figure::new(
        "chain_p50_ms",
        "heartbeat chain p50 (2 steps)",
        "ms",
        latency.p50_ms,
    ));
    ctx.figure(Figure::new(
        "chain_p95_ms",
        "heartbeat chain p95 (2 steps)",
        "ms",
        latency.p95_ms,
    ));
    if let Some(send) = ctx.report.figure("send_p50_ms") {
        ctx.figure(
            Figure::new(
                "chain_ratio",
                "heartbeat chain / send p50",
                "x",
                latency.p50_ms / send,
            )
            .goal_max(2.0, "< 2"),
        );
    }
    if let Some(cpu) = cpu {
        ctx.figure(Figure::new(
            "chain_cpu_ms",
            "server CPU per chain (2 steps)",
            "ms",
            cpu,
        ));
    }
    let mut detail = json!({"latency": latency, "server_cpu_ms_per_turn": cpu});
    if let Some(cpu) = database_cpu {
        ctx.figure(Figure::new(
            "chain_db_cpu_ms",
            "PostgreSQL CPU per chain (2 steps)",
            "ms",
            cpu,
        ));
        detail["database_cpu_ms_per_turn"] = json!(cpu);
    }
    ctx.detail("chain", detail);
    Ok(())
}

/// A long series on one agent whose small window makes it compact again and again: the last
/// 100 messages should cost what the first 100 did.
pub(crate) async fn flat(ctx: &mut Ctx) -> Result<()> {
    let (n, window) = (ctx.params.flat_messages, ctx.params.flat_window);
    progress(&format!(
        "long series: {n} messages on one agent with a {window}-token window"
    ));
    let extra = json!({"context_window_limit": window});
    let agent = ctx.api.create_agent_with("flat", extra).await?;
    let meter = ctx.cpu_meter();
    let mut samples = Samples::default();
    for i in 0..n {
        let start = Instant::now();
        match ctx.api.send(&agent, &text(i)).await {
            Ok(_) => samples.push(start.elapsed()),
            Err(e) => samples.fail(&e),
        }
    }
    let cpu = meter.per(samples.len());
    let len = samples.len();
    let (first, last) = (
        samples.window(0..100),
        samples.window(len.saturating_sub(100)..len),
    );
    let ratio = if first.p50_ms > 0.0 {
        last.p50_ms / first.p50_ms
    } else {
        0.0
    };
    ctx.figure(
        Figure::new(
            "flat_ratio",
            format!("last / first 100 of {n} messages (p50)"),
            "x",
            ratio,
        )
        .goal_max(1.2, "< 1.2"),
    );
    ctx.figure(Figure::new(
        "flat_last_p50_ms",
        "long series: last 100 p50",
        "ms",
        last.p50_ms,
    ));
    if let Some(cpu) = cpu {
        ctx.figure(Figure::new(
            "flat_cpu_ms",
            "long series: server CPU per message",
            "ms",
            cpu,
        ));
    }
    let in_context = ctx.api.context_messages(&agent).await.ok();
    ctx.detail(
        "flat",
        json!({"messages": n, "window": window, "first_100": first, "last_100": last,
               "latency": samples.summary(), "server_cpu_ms_per_message": cpu,
               "in_context_at_end": in_context}),
    );
    Ok(())
}

/// Sends warm-up messages then `messages` timed ones to a new agent, one at a time; a turn
/// counts only if it took `steps` steps. With replicas, turn `i` goes to replica `i` modulo
/// their number, so that each turn follows one another replica wrote. Returns the latency and
/// the server's and PostgreSQL's CPU per turn.
async fn series(
    ctx: &mut Ctx,
    name: &str,
    steps: u64,
    text: impl Fn(usize) -> String,
) -> Result<(Latency, Option<f64>, Option<f64>)> {
    let agent = ctx.api.create_agent(name).await?;
    for i in 0..ctx.params.warmup {
        let body = ctx.api.on_replica(i).send(&agent, &text(i)).await?;
        check_steps(&body, steps)?;
    }
    let meter = ctx.cpu_meter();
    let mut samples = Samples::default();
    for i in 0..ctx.params.messages {
        let turn = ctx.params.warmup + i;
        let api = ctx.api.on_replica(turn);
        let start = Instant::now();
        let sent = api.send(&agent, &text(turn)).await;
        let elapsed = start.elapsed();
        match sent.and_then(|body| check_steps(&body, steps)) {
            Ok(()) => samples.push(elapsed),
            Err(e) => samples.fail(&e),
        }
        // The chain phase pauses the janitor, so it clears the fake's recordings itself.
        if i % 100 == 99 && steps > 1 {
            ctx.fake.reset(true).await?;
        }
    }
    let (cpu, database_cpu) = (meter.per(samples.len()), meter.database_per(samples.len()));
    // The context grows with every turn, and so does the work per step: keep both ends.
    let n = samples.len();
    let ends = json!({"first_100": samples.window(0..100), "last_100": samples.window(n.saturating_sub(100)..n)});
    ctx.detail(&format!("{name}_ends"), ends);
    Ok((samples.summary(), cpu, database_cpu))
}

/// Letta's `usage.step_count` says how many model calls the turn made.
fn check_steps(body: &Value, steps: u64) -> Result<()> {
    match body["usage"]["step_count"].as_u64() {
        Some(n) if n == steps => Ok(()),
        other => bail!("expected {steps} steps, got {other:?}"),
    }
}

/// Streams per step and per token on one fresh agent.
pub(crate) async fn stream(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.params.streams;
    progress(&format!(
        "streaming: {n} streams per step and {n} per token"
    ));
    let agent = ctx.api.create_agent("stream").await?;
    for i in 0..ctx.params.warmup.min(3) {
        ctx.api.stream(&agent, &text(i), false).await?;
    }
    let fresh = ctx.api.without_keep_alive()?;
    let mut details = serde_json::Map::new();
    for (kind, tokens, keep_alive) in [
        ("steps", false, true),
        ("tokens", true, true),
        ("steps_new_connection", false, false),
    ] {
        let api = if keep_alive { &ctx.api } else { &fresh };
        let (mut first_byte, mut first_message, mut total) =
            (Samples::default(), Samples::default(), Samples::default());
        for i in 0..n {
            match api.stream(&agent, &text(i), tokens).await {
                Ok(t) => {
                    first_byte.push(t.first_byte);
                    first_message.push(t.first_message);
                    total.push(t.total);
                }
                Err(e) => first_message.fail(&e),
            }
        }
        let (byte, message) = (first_byte.summary(), first_message.summary());
        let label = match (tokens, keep_alive) {
            (false, true) => "per step",
            (true, _) => "per token",
            (false, false) => "per step, new connection each",
        };
        ctx.figure(Figure::new(
            &format!("stream_{kind}_first_chunk_p50_ms"),
            format!("stream ({label}): first message chunk p50"),
            "ms",
            message.p50_ms,
        ));
        if kind == "steps" {
            ctx.figure(Figure::new(
                "stream_first_byte_p50_ms",
                "stream (per step): first byte p50",
                "ms",
                byte.p50_ms,
            ));
        }
        details.insert(
            kind.to_owned(),
            json!({"first_byte": byte, "first_message": message, "total": total.summary()}),
        );
    }
    ctx.detail("stream", details);
    Ok(())
}

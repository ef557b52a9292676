//! `GET /metrics`: Prometheus's text format, and the figures moving as an agent is used:
//! requests by route template, steps, model and tool calls, tokens, runs, the database pool.

use std::collections::{HashMap, HashSet};

use mneme_testkit::{FakeLlm, TestServer};
use serde_json::json;

use crate::bin;
use crate::messages::{agent, send};

/// Every series of a scrape by its `name{labels}`, after checking that each line is a comment
/// or `name{labels} value`, and that each series' family has its HELP and TYPE before it.
fn parse(text: &str) -> HashMap<String, f64> {
    let (mut helped, mut typed) = (HashSet::new(), HashMap::new());
    let mut series = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect(line);
            assert!(valid_name(name) && !help.is_empty(), "{line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string(), kind.to_string()).is_none());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (key, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = key.split('{').next().unwrap();
        assert!(valid_name(name), "{line}");
        if let Some(labels) = key.strip_prefix(name) {
            check_labels(labels, line);
        }
        let family = family_of(name, &typed);
        assert!(helped.contains(family), "no HELP before {line}");
        assert!(
            series.insert(key.to_string(), value).is_none(),
            "twice: {line}"
        );
    }
    series
}

/// A histogram's `_bucket`, `_sum` and `_count` lines belong to its family.
fn family_of<'a>(name: &'a str, typed: &HashMap<String, String>) -> &'a str {
    if typed.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && typed.get(base).map(String::as_str) == Some("histogram")
        {
            return base;
        }
    }
    panic!("no TYPE for {name}")
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `{k="v",...}` with `\\`, `\"` and `\n` escapes, or nothing.
fn check_labels(labels: &str, line: &str) {
    if labels.is_empty() {
        return;
    }
    let inner = labels
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .expect(line);
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect(line);
        assert!(valid_name(name), "{line}");
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect(line) {
                (_, '\\') => assert!(matches!(chars.next(), Some((_, '\\' | '"' | 'n')))),
                (i, '"') => break i,
                _ => {}
            }
        };
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

async fn scrape(srv: &TestServer) -> HashMap<String, f64> {
    let resp = srv
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap();
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    parse(&resp.text().await.unwrap())
}

/// How much a series grew between two scrapes (a series not there yet was 0).
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    let now = after.get(key).unwrap_or_else(|| panic!("no {key}"));
    now - before.get(key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_move_with_requests_steps_model_and_tool_calls_tokens_and_runs() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", url.as_str())]).await;
    let before = scrape(&srv).await;

    let a = agent(&srv, json!({})).await;
    fake.push_text("hello");
    send(&srv, &a, "hi").await;
    fake.push_tool_call("conversation_search", json!({"query": "hi"}));
    fake.push_text("found it");
    send(&srv, &a, "look it up").await;
    let after = scrape(&srv).await;

    let messages = "method=\"POST\",route=\"/v1/agents/{agent_id}/messages\",status=\"2xx\"";
    let requests = format!("mneme_http_request_duration_seconds_count{{{messages}}}");
    assert_eq!(moved(&before, &after, &requests), 2.0);
    let bucket = format!("mneme_http_request_duration_seconds_bucket{{{messages},le=\"+Inf\"}}");
    assert_eq!(after[&bucket], 2.0);
    assert!(
        after.keys().all(|k| !k.contains(&a)),
        "a raw path leaked into a label"
    );
    // The scrape being answered is the one request in flight.
    assert_eq!(after["mneme_http_requests_in_flight"], 1.0);

    // Three steps: the answer, the search, the answer after it; each one model call.
    assert_eq!(
        moved(&before, &after, "mneme_step_duration_seconds_count"),
        3.0
    );
    let model = "model=\"openai/gpt-4o-mini\"";
    let calls = format!("mneme_model_call_duration_seconds_count{{{model}}}");
    assert_eq!(moved(&before, &after, &calls), 3.0);
    let tools = "mneme_tool_duration_seconds_count{tool_type=\"letta_core\"}";
    assert_eq!(moved(&before, &after, tools), 1.0);
    for kind in ["prompt", "completion"] {
        let tokens = format!("mneme_tokens_total{{{model},kind=\"{kind}\"}}");
        assert!(moved(&before, &after, &tokens) > 0.0, "{kind} tokens");
    }
    let runs = "mneme_runs_finished_total{status=\"completed\",stop_reason=\"end_turn\"}";
    assert_eq!(moved(&before, &after, runs), 2.0);

    assert!(after["process_resident_memory_bytes"] > 0.0);
    assert!(after["process_open_fds"] > 0.0);
    assert!(after["process_start_time_seconds"] > 1.0e9);
    assert!(after.contains_key("process_cpu_seconds_total"));
    // PostgreSQL's pool is reported; SQLite has none.
    let pool = after.get("mneme_db_pool_connections").copied();
    if TestServer::on_postgres() {
        assert!(pool.unwrap() >= 1.0);
        assert!(after["mneme_db_pool_max_connections"] >= pool.unwrap());
    } else {
        assert_eq!(pool, None);
    }
}

#[tokio::test]
async fn metrics_off_answers_404() {
    let srv = TestServer::start_with_env(bin(), &[("MNEME_METRICS", "false")]).await;
    let resp = srv
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    srv.get("/v1/health/").await.ok();
}

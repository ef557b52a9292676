//! Telemetry: each step's provider trace (what the model was sent and answered), its pruning,
//! the trace routes, a step's transaction id, and the timings of steps and runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mneme_testkit::{FakeLlm, TestServer};
use serde_json::{Value, json};

use crate::messages::{agent, send};
use crate::streaming::{read_events, stream};
use crate::{bin, id};

const KEY: &str = "sk-telemetry-secret-key";

async fn with_key(fake: &FakeLlm, dir: &std::path::Path, extra: &[(&str, &str)]) -> TestServer {
    let url = fake.base_url();
    let mut env = vec![("OPENAI_BASE_URL", url.as_str()), ("OPENAI_API_KEY", KEY)];
    env.extend_from_slice(extra);
    TestServer::start_in_with_env(bin(), dir, &env).await
}

/// The ids of the steps a message response's messages name, in order, once each.
fn step_ids(response: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for m in response["messages"].as_array().unwrap() {
        let id = m["step_id"].as_str().unwrap().to_owned();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn a_step_s_trace_is_the_model_s_request_and_answer_without_the_key() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let a = agent(&srv, json!({})).await;
    fake.push_text("tea is good");
    let res = send(&srv, &a, "I like tea").await;
    let steps = step_ids(&res);
    assert_eq!(steps.len(), 1, "{res}");
    let step = &steps[0];

    let trace = srv.get(&format!("/v1/steps/{step}/trace")).await.ok();
    let sent = fake.requests();
    assert_eq!(trace["request_json"], sent[0], "the exact body sent");
    assert_eq!(
        trace["response_json"]["choices"][0]["message"]["content"],
        "tea is good"
    );
    assert_eq!(trace["step_id"], step.as_str());
    assert_eq!(trace["agent_id"], a.as_str());
    assert_eq!(trace["run_id"], res["messages"][0]["run_id"]);
    assert_eq!(trace["call_type"], "agent_step");
    let suffix = step.strip_prefix("step-").unwrap();
    assert_eq!(trace["id"], format!("provider_trace-{suffix}"));
    let keys: Vec<&str> = trace
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "created_by_id",
            "last_updated_by_id",
            "created_at",
            "updated_at",
            "id",
            "request_json",
            "response_json",
            "step_id",
            "agent_id",
            "agent_tags",
            "call_type",
            "run_id",
            "source",
            "org_id",
            "user_id",
            "compaction_settings",
            "llm_config",
            "billing_context"
        ]
    );

    // The key went with the call, never into the trace.
    let recorded = fake.recorded();
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(!trace.to_string().contains(KEY));

    // The deprecated route answers the same; an unknown step has none.
    let old = srv.get(&format!("/v1/telemetry/{step}")).await.ok();
    assert_eq!(old, trace);
    let unknown = "step-00000000-0000-4000-8000-000000000000";
    assert_eq!(
        srv.get(&format!("/v1/steps/{unknown}/trace")).await.ok(),
        Value::Null
    );
    assert_eq!(srv.get("/v1/telemetry/not-a-step").await.ok(), Value::Null);
    srv.get("/v1/steps/not-a-step/trace").await.err(422);
    srv.stop().await;
}

#[tokio::test]
async fn a_streamed_step_s_trace_holds_the_provider_s_events() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let a = agent(&srv, json!({})).await;
    fake.push_text("streamed tea");
    let res = stream(&srv, &a, json!({"input": "hi", "stream_tokens": true})).await;
    let events = read_events(res, usize::MAX).await;
    let step = events
        .iter()
        .find_map(|e| e.json()["step_id"].as_str().map(str::to_owned))
        .unwrap();
    let trace = srv.get(&format!("/v1/steps/{step}/trace")).await.ok();
    assert_eq!(trace["request_json"], fake.requests()[0]);
    assert_eq!(trace["request_json"]["stream"], true);
    let chunks = trace["response_json"]["stream"]
        .as_array()
        .unwrap_or_else(|| panic!("{trace}"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "streamed tea");
    assert!(!trace.to_string().contains(KEY));
    srv.stop().await;
}

#[tokio::test]
async fn traces_are_pruned_after_their_retention_and_can_be_turned_off() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let a = agent(&srv, json!({})).await;
    fake.push_text("kept");
    let step = step_ids(&send(&srv, &a, "one").await).remove(0);
    let path = format!("/v1/steps/{step}/trace");
    assert!(srv.get(&path).await.ok().is_object());
    srv.stop().await;

    // A server keeping traces for no time prunes them when it starts.
    let retention = [("MNEME_PROVIDER_TRACE_RETENTION_SECS", "0")];
    let srv = with_key(&fake, dir.path(), &retention).await;
    assert_eq!(srv.get(&path).await.ok(), Value::Null);
    // The step itself stays.
    srv.get(&format!("/v1/steps/{step}")).await.ok();
    srv.stop().await;

    let off = [("MNEME_PROVIDER_TRACES", "false")];
    let srv = with_key(&fake, dir.path(), &off).await;
    fake.push_text("untraced");
    let step = step_ids(&send(&srv, &a, "two").await).remove(0);
    assert_eq!(
        srv.get(&format!("/v1/steps/{step}/trace")).await.ok(),
        Value::Null
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_run_s_trace_is_its_steps_under_the_run() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let a = agent(&srv, json!({"agent_type": "memgpt_v2_agent"})).await;
    fake.push_tool_call(
        "conversation_search",
        json!({"query": "tea", "request_heartbeat": true}),
    );
    fake.push_tool_call("send_message", json!({"message": "done"}));
    let res = send(&srv, &a, "search").await;
    let steps = step_ids(&res);
    assert_eq!(steps.len(), 2, "{res}");
    let run = res["messages"][0]["run_id"].as_str().unwrap();

    let spans = srv.get(&format!("/v1/runs/{run}/trace")).await.ok();
    let spans = spans.as_array().unwrap();
    assert_eq!(spans.len(), 3);
    let root = &spans[0];
    assert_eq!(root["SpanName"], "run");
    assert_eq!(root["ParentSpanId"], "");
    assert_eq!(root["StatusCode"], "STATUS_CODE_OK");
    assert!(root["Duration"].as_u64().is_some());
    for (span, step) in spans[1..].iter().zip(&steps) {
        assert_eq!(span["SpanName"], "agent_step");
        assert_eq!(span["ParentSpanId"], root["SpanId"]);
        assert_eq!(span["TraceId"], root["TraceId"]);
        assert_eq!(span["SpanAttributes"]["step_id"], step.as_str());
    }
    let one = srv.get(&format!("/v1/runs/{run}/trace?limit=1")).await.ok();
    assert_eq!(one.as_array().unwrap().len(), 1);
    srv.get(&format!("/v1/runs/{run}/trace?limit=0"))
        .await
        .err(422);
    srv.get(&format!("/v1/runs/{run}/trace?limit=5001"))
        .await
        .err(422);
    let unknown = "run-00000000-0000-4000-8000-000000000000";
    srv.get(&format!("/v1/runs/{unknown}/trace")).await.err(404);
    srv.stop().await;
}

#[tokio::test]
async fn a_step_records_the_transaction_that_processed_it() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let a = agent(&srv, json!({})).await;
    fake.push_text("hi");
    let step = step_ids(&send(&srv, &a, "hello").await).remove(0);
    let before = srv.get(&format!("/v1/steps/{step}")).await.ok();
    assert_eq!(before["tid"], Value::Null);

    let path = format!("/v1/steps/{step}/transaction/txn-42");
    let updated = srv.patch(&path, json!({})).await.ok();
    assert_eq!(updated["tid"], "txn-42");
    assert_eq!(updated["id"], step.as_str());
    let again = srv.get(&format!("/v1/steps/{step}")).await.ok();
    assert_eq!(again, updated);

    let unknown = "step-00000000-0000-4000-8000-000000000000";
    srv.patch(&format!("/v1/steps/{unknown}/transaction/t"), json!({}))
        .await
        .err(404);
    srv.patch("/v1/steps/bad/transaction/t", json!({}))
        .await
        .err(422);
    srv.stop().await;
}

/// The model's scripted latency and the tool's nap in the timing tests.
const LATENCY: Duration = Duration::from_millis(150);
const NAP: Duration = Duration::from_millis(250);

const NAP_TOOL: &str = r#"
import time

def nap(seconds: float) -> str:
    """Rest for a while.

    Args:
        seconds: How long.
    """
    time.sleep(seconds)
    return "rested"
"#;

/// Letta 0.16.7's `Step` properties: the wire step gains no key for the timings.
const STEP_KEYS: [&str; 31] = [
    "id",
    "origin",
    "organization_id",
    "provider_id",
    "run_id",
    "agent_id",
    "provider_name",
    "provider_category",
    "model",
    "model_handle",
    "model_endpoint",
    "context_window_limit",
    "completion_tokens",
    "prompt_tokens",
    "total_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "completion_tokens_details",
    "prompt_tokens_details",
    "stop_reason",
    "tags",
    "tid",
    "trace_id",
    "request_id",
    "messages",
    "feedback",
    "project_id",
    "error_type",
    "error_data",
    "status",
];

fn now_ns() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_nanos()).unwrap()
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap()
}

/// A step's metrics, after checking that they name the step and its run.
async fn metrics(srv: &TestServer, step: &str, run: &str) -> Value {
    let m = srv.get(&format!("/v1/steps/{step}/metrics")).await.ok();
    assert_eq!(
        (m["id"].as_str(), m["run_id"].as_str()),
        (Some(step), Some(run))
    );
    m
}

fn field(m: &Value, key: &str) -> i64 {
    m[key].as_i64().unwrap_or_else(|| panic!("{key} in {m}"))
}

/// The run's time to first token and total duration, in ns.
async fn run_timings(srv: &TestServer, run: &str) -> (i64, i64) {
    let r = srv.get(&format!("/v1/runs/{run}")).await.ok();
    (field(&r, "ttft_ns"), field(&r, "total_duration_ns"))
}

#[tokio::test]
async fn a_step_s_metrics_time_its_model_call_and_its_tools() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let tool = srv
        .post("/v1/tools/", json!({"source_code": NAP_TOOL}))
        .await
        .ok();
    let a = agent(&srv, json!({"tool_ids": [id(&tool)]})).await;
    fake.set_latency(LATENCY);
    fake.push_tool_call("nap", json!({"seconds": NAP.as_secs_f64()}));
    fake.push_text("rested");
    let before = now_ns();
    let res = send(&srv, &a, "take a nap").await;
    let after = now_ns();
    let steps = step_ids(&res);
    assert_eq!(steps.len(), 2, "{res}");
    let run = res["messages"][0]["run_id"].as_str().unwrap();

    // The tool step: its model call, then the tool, inside the step, inside the request.
    let m = metrics(&srv, &steps[0], run).await;
    let (start, step) = (field(&m, "step_start_ns"), field(&m, "step_ns"));
    let (llm_start, llm) = (
        field(&m, "llm_request_start_ns"),
        field(&m, "llm_request_ns"),
    );
    let tools = field(&m, "tool_execution_ns");
    assert!(before <= start && start + step <= after, "{m}");
    assert!(llm >= ns(LATENCY) && tools >= ns(NAP), "{m}");
    assert!(step >= llm + tools, "{m}");
    assert!(start <= llm_start && llm_start + llm <= start + step, "{m}");

    // The answer's step: a model call and no tool, after the first step.
    let m2 = metrics(&srv, &steps[1], run).await;
    let (start2, step2) = (field(&m2, "step_start_ns"), field(&m2, "step_ns"));
    assert!(start + step <= start2 && start2 + step2 <= after, "{m2}");
    assert!(field(&m2, "llm_request_ns") >= ns(LATENCY), "{m2}");
    assert!(step2 >= field(&m2, "llm_request_ns"), "{m2}");
    assert_eq!(m2["tool_execution_ns"], Value::Null, "{m2}");

    // The wire step stays Letta's.
    for step in &steps {
        let wire = srv.get(&format!("/v1/steps/{step}")).await.ok();
        let extra: Vec<&String> = wire
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !STEP_KEYS.contains(&k.as_str()))
            .collect();
        assert!(extra.is_empty(), "{extra:?} in {wire}");
    }

    // The first token came with the first model answer, before the nap and the second call.
    let (ttft, total) = run_timings(&srv, run).await;
    assert!(ttft >= ns(LATENCY), "ttft {ttft}");
    assert!(
        ttft + ns(NAP) + ns(LATENCY) <= total,
        "ttft {ttft}, total {total}"
    );
    assert!(total <= after - before, "total {total}");
    srv.stop().await;
}

#[tokio::test]
async fn a_streamed_run_s_first_token_and_its_step_s_model_call_are_timed() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = with_key(&fake, dir.path(), &[]).await;
    let a = agent(&srv, json!({})).await;
    fake.set_latency(LATENCY);
    fake.push_text("streamed tea");
    let res = stream(&srv, &a, json!({"input": "hi", "stream_tokens": true})).await;
    let events = read_events(res, usize::MAX).await;
    let ids = |key: &str| {
        events
            .iter()
            .find_map(|e| e.json()[key].as_str().map(str::to_owned))
            .unwrap()
    };
    let (step, run) = (ids("step_id"), ids("run_id"));

    let m = metrics(&srv, &step, &run).await;
    let llm = field(&m, "llm_request_ns");
    assert!(llm >= ns(LATENCY), "{m}");
    assert!(field(&m, "step_ns") >= llm, "{m}");
    assert_eq!(m["tool_execution_ns"], Value::Null, "{m}");
    let (ttft, total) = run_timings(&srv, &run).await;
    assert!(
        ns(LATENCY) <= ttft && ttft <= total,
        "ttft {ttft}, total {total}"
    );
    srv.stop().await;
}

//! What an operator sees of requests: ids echoed in `X-Request-Id`, JSON log lines that carry
//! the request's and the run's ids and never a secret, and OTLP traces from the request down
//! to each model and tool call.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mneme_testkit::{FakeLlm, TestServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::bin;
use crate::messages::agent;

const PROVIDER_KEY: &str = "sk-proj-0bservabilityProviderKey42";
const SECRET_KEY: &str = "mneme-secret-key-never-logged-7781";
const SERVER_PASSWORD: &str = "letta-password-never-logged-5512";
const BEARER: &str = "client-bearer-token-never-logged-31";
/// A client's request id shaped like a key: kept as the id, masked in the log.
const KEY_SHAPED_ID: &str = "sk-ant-api03-ClientChoseAKeyAsItsId";

/// A server logging JSON at debug level, its standard error kept line by line.
struct Logged {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    /// The server's database on PostgreSQL, dropped with it.
    database: Option<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if let Some(name) = &self.database {
            mneme_store_postgres::scratch::drop_database(name);
        }
    }
}

impl Logged {
    async fn start(fake: &FakeLlm) -> Logged {
        let dir = tempfile::tempdir().unwrap();
        let store = mneme_testkit::store_env(dir.path());
        let database = store
            .first()
            .and_then(|(_, url)| url.rsplit('/').next())
            .map(str::to_owned);
        let mut child = Command::new(bin())
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--log-format",
            ])
            .args(["json", "--data-dir"])
            .arg(dir.path())
            .env("RUST_LOG", "debug")
            .env("OPENAI_BASE_URL", fake.base_url())
            .env("OPENAI_API_KEY", PROVIDER_KEY)
            .env("MNEME_SECRET_KEY", SECRET_KEY)
            .env("LETTA_SERVER_PASSWORD", SERVER_PASSWORD)
            .env("MNEME_EMBEDDING_MODEL_FETCH", "false")
            .env("MNEME_EMBEDDING_MODEL_DIR", dir.path().join("none"))
            .envs(store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        let base = tokio::time::timeout(Duration::from_secs(20), listening(&lines))
            .await
            .expect("the server did not start");
        Logged {
            child,
            base,
            lines,
            database,
            _dir: dir,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// A request carrying the bearer token and, when given, a request id.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        id: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(BEARER);
        match id {
            Some(id) => req.header("x-request-id", id),
            None => req,
        }
    }
}

/// The address of the "listening on" line, once logged.
async fn listening(lines: &Mutex<Vec<String>>) -> String {
    loop {
        let found = lines.lock().unwrap().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let message = v["fields"]["message"].as_str()?;
            Some(format!("http://{}", message.strip_prefix("listening on ")?))
        });
        if let Some(base) = found {
            return base;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of `field` in the line's span named `span`, if the line sits in one.
fn span_field<'a>(line: &'a Value, span: &str, field: &str) -> Option<&'a str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == span)?
        .get(field)?
        .as_str()
}

#[tokio::test]
async fn json_logs_carry_request_and_run_ids_and_no_secret() {
    let fake = FakeLlm::start().await;
    let srv = Logged::start(&fake).await;
    let created = srv
        .request(reqwest::Method::POST, "/v1/agents/", None)
        .json(&json!({
            "model": "openai/gpt-4o-mini",
            "memory_blocks": [{"label": "human", "value": "Name: Ada"}],
        }))
        .send()
        .await
        .unwrap();
    // No id sent: a fresh one comes back.
    let fresh = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(fresh.len(), 32, "{fresh}");
    let agent: Value = created.json().await.unwrap();
    let agent = agent["id"].as_str().unwrap().to_owned();

    fake.push_tool_call("conversation_search", json!({"query": "Ada"}));
    fake.push_text("found her");
    let path = format!("/v1/agents/{agent}/messages");
    let sent = srv
        .request(reqwest::Method::POST, &path, Some("req-send-1"))
        .json(&json!({"input": "look Ada up"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    assert_eq!(sent.headers()["x-request-id"], "req-send-1");
    let run = sent.json::<Value>().await.unwrap()["messages"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A key-shaped id is the client's to choose; an unsafe one is replaced.
    let odd = srv
        .request(reqwest::Method::GET, "/v1/health/", Some(KEY_SHAPED_ID))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.headers()["x-request-id"], KEY_SHAPED_ID);
    let long = "x".repeat(200);
    let replaced = srv
        .request(reqwest::Method::GET, "/v1/health/", Some(&long))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.headers()["x-request-id"].len(), 32);

    // The last lines of the last request are written as its response leaves.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = srv.lines();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_send = |l: &&Value| span_field(l, "request", "request_id") == Some("req-send-1");
    assert!(parsed.iter().any(|l| of_send(&l)), "no line of the send");
    assert!(
        parsed
            .iter()
            .any(|l| span_field(l, "request", "request_id") == Some(fresh.as_str())),
        "no line of the creation"
    );
    // The turn's lines carry its run id under the request that started it.
    let turn_lines: Vec<&Value> = parsed
        .iter()
        .filter(|l| span_field(l, "turn", "run_id") == Some(run.as_str()))
        .collect();
    assert!(!turn_lines.is_empty(), "no line of the turn");
    assert!(turn_lines.iter().all(of_send));
    let route = span_field(turn_lines[0], "request", "route");
    assert_eq!(route, Some("/v1/agents/{agent_id}/messages"));

    let all = lines.join("\n");
    for secret in [
        PROVIDER_KEY,
        SECRET_KEY,
        SERVER_PASSWORD,
        BEARER,
        KEY_SHAPED_ID,
    ] {
        assert!(!all.contains(secret), "{secret} reached the log");
    }
    let masked = parsed
        .iter()
        .any(|l| span_field(l, "request", "request_id") == Some("***"));
    assert!(
        masked,
        "the key-shaped id's request is not in the log, masked"
    );
}

/// An OTLP/HTTP collector on loopback: every document it was sent.
struct Collector {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Collector {
    async fn start() -> Collector {
        use axum::extract::State;
        type Received = Arc<Mutex<Vec<Value>>>;
        async fn traces(
            State(kept): State<Received>,
            headers: axum::http::HeaderMap,
            axum::Json(mut doc): axum::Json<Value>,
        ) -> &'static str {
            // Kept beside the document, for the test to see the configured header arrive.
            let key = headers.get("x-collector-key").and_then(|v| v.to_str().ok());
            doc["_key"] = json!(key);
            kept.lock().unwrap().push(doc);
            "{}"
        }
        let received: Received = Arc::default();
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(traces))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { url, received }
    }

    /// Whether every document came with `key` in its `x-collector-key` header.
    fn all_keyed(&self, key: &str) -> bool {
        self.received
            .lock()
            .unwrap()
            .iter()
            .all(|d| d["_key"] == key)
    }

    /// The spans of trace `trace` received so far, with the resource's service name.
    fn spans(&self, trace: &str) -> (Vec<Value>, Option<String>) {
        let mut spans = Vec::new();
        let mut service = None;
        for doc in self.received.lock().unwrap().iter() {
            for resource in doc["resourceSpans"].as_array().unwrap() {
                let attrs = resource["resource"]["attributes"].as_array().unwrap();
                if let Some(name) = attrs.iter().find(|a| a["key"] == "service.name") {
                    service = name["value"]["stringValue"].as_str().map(str::to_owned);
                }
                for scope in resource["scopeSpans"].as_array().unwrap() {
                    let of_trace = scope["spans"].as_array().unwrap().iter();
                    spans.extend(of_trace.filter(|s| s["traceId"] == trace).cloned());
                }
            }
        }
        (spans, service)
    }
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

#[tokio::test]
async fn traces_follow_a_message_from_the_request_to_its_model_and_tool_calls() {
    let collector = Collector::start().await;
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.as_str()),
        ("OTEL_SERVICE_NAME", "mneme-under-test"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k-123"),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let a = agent(&srv, json!({})).await;
    fake.push_tool_call("conversation_search", json!({"query": "hi"}));
    fake.push_text("found it");
    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let req = srv
        .request(reqwest::Method::POST, &format!("/v1/agents/{a}/messages"))
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .json(&json!({"input": "look it up"}));
    srv.send(req).await.ok();

    let mut waited = Duration::ZERO;
    let (spans, service) = loop {
        let (spans, service) = collector.spans(trace);
        let done = named(&spans, "request").len() == 1 && named(&spans, "model_call").len() == 2;
        if done || waited > Duration::from_secs(15) {
            break (spans, service);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    };
    assert_eq!(service.as_deref(), Some("mneme-under-test"));
    assert!(collector.all_keyed("k-123"));
    let request = named(&spans, "request");
    assert_eq!(request.len(), 1, "{spans:#?}");
    let request = request[0];
    assert_eq!(
        request["parentSpanId"], caller,
        "the caller's span is the parent"
    );
    assert_eq!(request["kind"], 2);
    assert_eq!(
        attr(request, "route"),
        Some("/v1/agents/{agent_id}/messages")
    );
    assert_eq!(attr(request, "method"), Some("POST"));
    let attributes = request["attributes"].as_array().unwrap();
    let status = attributes.iter().find(|a| a["key"] == "status").unwrap();
    assert_eq!(status["value"]["intValue"], "200");
    assert_eq!(request["status"]["code"], 0);

    let child_of = |parent: &Value, name: &str| -> Vec<Value> {
        named(&spans, name)
            .into_iter()
            .filter(|s| s["parentSpanId"] == parent["spanId"])
            .cloned()
            .collect()
    };
    let turn = child_of(request, "turn");
    assert_eq!(turn.len(), 1, "{spans:#?}");
    assert!(attr(&turn[0], "run_id").unwrap().starts_with("run-"));
    assert_eq!(attr(&turn[0], "agent_id"), Some(a.as_str()));
    let steps = child_of(&turn[0], "step");
    assert_eq!(steps.len(), 2, "{spans:#?}");
    let models: Vec<Value> = steps
        .iter()
        .flat_map(|s| child_of(s, "model_call"))
        .collect();
    assert_eq!(models.len(), 2, "one model call per step: {spans:#?}");
    let tools: Vec<Value> = steps
        .iter()
        .flat_map(|s| child_of(s, "tool_call"))
        .collect();
    assert_eq!(tools.len(), 1, "{spans:#?}");
    assert_eq!(attr(&tools[0], "tool"), Some("conversation_search"));
    for span in &spans {
        let start: u128 = span["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        let end: u128 = span["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start > 0 && end >= start, "{span}");
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
    }
}

//! A scripted LLM server for tests and benchmarks (never used in production).
//!
//! It answers OpenAI's `POST /v1/chat/completions` and `POST /v1/responses`, Anthropic's
//! `POST /v1/messages` (all plain and SSE), `POST /v1/embeddings` and `GET /v1/models`
//! (Anthropic's shape when the request carries `anthropic-version`); Gemini's
//! `/v1beta/models/...` (generate, stream, embed, list); and Ollama's `/api/chat`, `/api/embed`,
//! `/api/tags` and `/api/show`. Every chat route follows the same script. Tests script the next
//! answers (text, tool calls, errors, delays, reported usage), answers by system prompt (a
//! summarizer's calls), and a context limit past which every protocol answers its
//! context-length error, through
//! the Rust handle `FakeLlm` or, from other languages, the control API under `/_fake/`; every
//! request body is recorded so tests can assert what mneme sent. With nothing scripted it echoes
//! the last user message, through `send_message` when the request offers that tool.

mod anthropic;
mod chat;
mod control;
mod embeddings;
mod errors;
mod gemini;
mod ollama;
mod responses;
mod script;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use anthropic::signature as thinking_signature;
pub use embeddings::{REFUSED_KEY, embed};
pub use script::{ErrorKind, ErrorReply, RecordedRequest, Reply, Rule, ToolCallReply};

/// A running fake LLM server; it stops when dropped.
pub struct FakeLlm {
    addr: SocketAddr,
    script: Shared,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeLlm {
    /// Starts a server on `127.0.0.1` with a free port, in a task of the current runtime.
    pub async fn start() -> FakeLlm {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        FakeLlm::bind(addr).await.expect("bind the fake LLM")
    }

    /// Starts a server on `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<FakeLlm> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Shared::default();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = router(script.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("fake LLM server failed: {e}");
            }
        });
        Ok(FakeLlm {
            addr,
            script,
            shutdown: Some(shutdown),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of both protocols, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The server's root, `http://127.0.0.1:PORT`: Gemini's base URL (it adds `/v1beta`) and
    /// Ollama's (it adds `/api`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a reply; queued replies answer chat requests in order.
    pub fn push(&self, reply: Reply) {
        self.lock().push(reply);
    }

    pub fn push_text(&self, text: impl Into<String>) {
        self.push(Reply::text(text));
    }

    /// Queues one tool call; `arguments` is usually a JSON object.
    pub fn push_tool_call(&self, name: impl Into<String>, arguments: Value) {
        self.push(Reply::tool_call(name, arguments));
    }

    pub fn push_error(&self, status: u16, body: Value) {
        self.push(Reply::error(status, body));
    }

    /// Queues OpenAI's 400 `context_length_exceeded`.
    pub fn push_context_length_exceeded(&self) {
        self.push(Reply::context_length_exceeded());
    }

    /// Answers with `reply` whenever the queue is empty and the last user message contains
    /// `text`; earlier rules win.
    pub fn add_rule(&self, text: impl Into<String>, reply: Reply) {
        self.lock().add_rule(Rule::on_user(text, reply));
    }

    /// Adds any rule (`Rule::on_system` answers before the queue).
    pub fn add_rule_for(&self, rule: Rule) {
        self.lock().add_rule(rule);
    }

    /// Answers requests with more than `chars` characters of text with the protocol's
    /// context-length error (`None`: no limit), as a model with a small window does.
    pub fn set_context_limit(&self, chars: Option<usize>) {
        self.lock().context_limit = chars;
    }

    /// A delay before every response (chat, embeddings, models).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The chat request bodies received so far (Chat Completions and Anthropic Messages),
    /// oldest first.
    pub fn requests(&self) -> Vec<Value> {
        self.lock()
            .bodies_where(|path| path == chat::PATH || path == anthropic::PATH)
    }

    /// The Responses API request bodies received so far, oldest first.
    pub fn responses_requests(&self) -> Vec<Value> {
        self.lock().bodies(responses::PATH)
    }

    /// The Gemini `generateContent` and `streamGenerateContent` bodies, oldest first.
    pub fn gemini_requests(&self) -> Vec<Value> {
        self.lock().bodies_where(gemini::is_chat_path)
    }

    /// The Ollama `/api/chat` bodies, oldest first.
    pub fn ollama_requests(&self) -> Vec<Value> {
        self.lock().bodies(ollama::CHAT_PATH)
    }

    /// The embeddings request bodies received so far, oldest first.
    pub fn embedding_requests(&self) -> Vec<Value> {
        self.lock().bodies(embeddings::PATH)
    }

    /// Every request received so far, with its path and `Authorization` header.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.lock().recorded.clone()
    }

    /// How many queued replies are still unused.
    pub fn pending(&self) -> usize {
        self.lock().queued().len()
    }

    /// Clears the queue, the rules, the latency and the recordings.
    pub fn reset(&self) {
        self.lock().reset();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, script::Script> {
        self.script.lock().unwrap()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The state every handler shares with the `FakeLlm` handle. A std mutex: it is never held
/// across an await.
type Shared = Arc<Mutex<script::Script>>;

fn router(script: Shared) -> Router {
    Router::new()
        .route(chat::PATH, post(chat::chat_completions))
        .route(responses::PATH, post(responses::responses))
        .route(anthropic::PATH, post(anthropic::messages))
        .route(embeddings::PATH, post(embeddings::embeddings))
        .route("/v1/models", get(embeddings::models))
        .route(gemini::PREFIX, get(gemini::list_models))
        .route(
            &format!("{}/{{model_method}}", gemini::PREFIX),
            post(gemini::model_method),
        )
        .route(ollama::CHAT_PATH, post(ollama::chat))
        .route(ollama::EMBED_PATH, post(ollama::embed_texts))
        .route("/api/tags", get(ollama::tags))
        .route("/api/show", post(ollama::show))
        .route(
            "/_fake/replies",
            post(control::push_replies).get(control::queued_replies),
        )
        .route("/_fake/rules", post(control::add_rules))
        .route("/_fake/latency", post(control::set_latency))
        .route("/_fake/config", post(control::set_config))
        .route("/_fake/requests", get(control::chat_requests))
        .route("/_fake/recorded", get(control::recorded))
        .route("/_fake/reset", post(control::reset))
        .with_state(script)
}

/// Whether a recorded path is a chat request of any protocol.
pub(crate) fn is_chat_path(path: &str) -> bool {
    path == chat::PATH
        || path == responses::PATH
        || path == anthropic::PATH
        || path == ollama::CHAT_PATH
        || gemini::is_chat_path(path)
}

/// Records a request and returns its body as JSON (the raw text as a JSON string when it is
/// not JSON, so a malformed body is still visible to the test).
fn record(script: &Shared, path: &str, headers: &HeaderMap, body: &[u8]) -> Value {
    let value = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    script.lock().unwrap().recorded.push(RecordedRequest {
        path: path.to_owned(),
        authorization: header(header::AUTHORIZATION.as_str()).or_else(|| {
            header(gemini::KEY_HEADER).map(|key| format!("{} {key}", gemini::KEY_HEADER))
        }),
        api_key: header("x-api-key"),
        anthropic_version: header("anthropic-version"),
        anthropic_beta: header("anthropic-beta"),
        body: value.clone(),
    });
    value
}

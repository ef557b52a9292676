//! A scripted web for the web built-ins' tests: one server that answers as a search backend
//! (SearXNG's `GET /search`, Exa's and Tavily's `POST /search`, all with the scripted results)
//! and serves pages (`GET /page/{name}` with scripted HTML, `GET /hop/{name}` redirecting to
//! that page). Every search request is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Default)]
struct Script {
    results: Vec<Value>,
    pages: HashMap<String, String>,
    searches: Vec<Value>,
}

type Shared = Arc<Mutex<Script>>;

/// A running fake web server; it stops when dropped.
pub struct FakeWeb {
    addr: SocketAddr,
    script: Shared,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeWeb {
    /// Starts on `127.0.0.1` with a free port, in a task of the current runtime.
    pub async fn start() -> FakeWeb {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the fake web");
        let addr = listener.local_addr().expect("fake web address");
        let script = Shared::default();
        let app = Router::new()
            .route("/search", get(searxng).post(api_search))
            .route("/page/{name}", get(page))
            .route("/hop/{name}", get(hop))
            .with_state(script.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("fake web server failed: {e}");
            }
        });
        FakeWeb {
            addr,
            script,
            shutdown: Some(shutdown),
        }
    }

    /// `http://127.0.0.1:PORT`: the base URL of every backend, and the pages' root.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The results every search answers (each backend's own fields, e.g. Exa's
    /// `publishedDate`).
    pub fn set_results(&self, results: Vec<Value>) {
        self.lock().results = results;
    }

    /// Serves `html` at `/page/{name}`.
    pub fn set_page(&self, name: &str, html: &str) {
        self.lock().pages.insert(name.into(), html.into());
    }

    /// Every search received: `{"method", "query", "headers", "body"}`.
    pub fn searches(&self) -> Vec<Value> {
        self.lock().searches.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeWeb {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn record(
    script: &Shared,
    method: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: Value,
) -> Vec<Value> {
    let mut s = script.lock().unwrap_or_else(|e| e.into_inner());
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    s.searches
        .push(json!({"method": method, "query": query, "headers": headers, "body": body}));
    s.results.clone()
}

async fn searxng(
    State(script): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let results = record(&script, "GET", query, &headers, Value::Null);
    axum::Json(json!({"results": results})).into_response()
}

async fn api_search(State(script): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let results = record(&script, "POST", None, &headers, body);
    axum::Json(json!({"results": results})).into_response()
}

async fn page(State(script): State<Shared>, Path(name): Path<String>) -> Response {
    let html = script
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pages
        .get(&name)
        .cloned();
    match html {
        Some(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn hop(Path(name): Path<String>) -> Redirect {
    Redirect::temporary(&format!("/page/{name}"))
}

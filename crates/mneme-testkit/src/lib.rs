//! Test support: `TestServer` starts the real `mneme` binary on 127.0.0.1 with a temporary data
//! directory, learns its port from the "listening on" log line, and kills it on drop (or when
//! a test kills it, to crash it);
//! `fake_llm::FakeLlm` is the scripted model server (OpenAI, Gemini, Ollama) tests point it at;
//! `mcp` runs the Python MCP test server.
//!
//! With `MNEME_TEST_BACKEND=postgres` each server keeps its state in a database of its own on
//! the test PostgreSQL (`MNEME_TEST_DATABASE_URL`), named after its data directory so that a
//! restart in the same directory finds it; a server on a temporary directory of its own drops
//! its database with it.
//!
//! Test-only code: it panics with a clear message instead of returning errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use mneme_store_postgres::scratch;

pub mod fake_llm;
pub mod fake_web;
pub mod mcp;

pub use fake_llm::{FakeLlm, Reply, Rule};
pub use fake_web::FakeWeb;

/// A running server process.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    http: reqwest::Client,
}

/// The store a server on `data_dir` keeps its state in, opened beside it (to set up what a crash
/// would leave), on the backend tests run on.
pub async fn store_of(data_dir: &Path) -> std::sync::Arc<dyn mneme_store::Store> {
    match test_database(data_dir) {
        Some(name) => {
            let options = mneme_store_postgres::PgOptions {
                max_connections: 2,
                ..Default::default()
            };
            let store =
                mneme_store_postgres::PgStore::connect(&scratch::database_url(&name), options)
                    .await
                    .expect("opening the test server's database");
            std::sync::Arc::new(store)
        }
        None => {
            let path = data_dir.join("mneme.db");
            let store = mneme_store_sqlite::SqliteStore::open(
                &path,
                mneme_store_sqlite::Durability::Normal,
            )
            .expect("opening the test server's database");
            std::sync::Arc::new(store)
        }
    }
}

/// Every byte a stopped server on `data_dir` keeps at rest: the SQLite file and its log, or a
/// dump of its PostgreSQL database's rows.
pub fn stored_bytes(data_dir: &Path) -> Vec<u8> {
    match test_database(data_dir) {
        Some(name) => {
            let out = std::process::Command::new("pg_dump")
                .args(["--data-only", &scratch::database_url(&name)])
                .output()
                .expect("pg_dump (postgresql-client) for the test database");
            assert!(out.status.success(), "pg_dump failed: {out:?}");
            out.stdout
        }
        None => {
            let mut bytes = std::fs::read(data_dir.join("mneme.db")).expect("the database file");
            bytes.extend(std::fs::read(data_dir.join("mneme.db-wal")).unwrap_or_default());
            bytes
        }
    }
}

/// The environment that points an offline command (`mneme import`, `mneme export`) on
/// `data_dir` at the store a test server on that directory uses.
pub fn store_env(data_dir: &Path) -> Vec<(&'static str, String)> {
    test_database(data_dir)
        .map(|name| ("MNEME_DATABASE_URL", scratch::database_url(&name)))
        .into_iter()
        .collect()
}

/// The database of the server on `data_dir` when tests run on PostgreSQL.
fn test_database(data_dir: &Path) -> Option<String> {
    use std::hash::{Hash, Hasher};
    if !TestServer::on_postgres() {
        return None;
    }
    // SipHash with fixed keys: the same directory always names the same database.
    let mut h = std::hash::DefaultHasher::new();
    data_dir.hash(&mut h);
    Some(format!("mneme_t_{:016x}", h.finish()))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Only a server on a directory of its own owns its database; one on a caller's
        // directory may be started again there (scripts/test drops what such tests leave).
        if self._temp.is_some()
            && let Some(name) = test_database(&self.data_dir)
        {
            let _ = self.child.start_kill();
            scratch::drop_database(&name);
        }
    }
}

/// A response: status and parsed JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
}

impl Resp {
    /// The body, after asserting a 2xx status.
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected 2xx, got {self:?}"
        );
        self.body
    }

    /// Asserts the status and that the body is Letta's error shape (`{"detail": ...}`).
    pub fn err(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status: {self:?}");
        assert!(
            self.body.get("detail").is_some(),
            "error without detail: {self:?}"
        );
        self.body
    }
}

impl TestServer {
    /// Starts `bin` on a fresh temporary data directory.
    pub async fn start(bin: &Path) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        let mut server = TestServer::start_in(bin, &dir).await;
        server._temp = Some(temp);
        server
    }

    /// Starts `bin` on a fresh temporary data directory with extra environment variables (for
    /// example the model endpoint of a `FakeLlm`).
    pub async fn start_with_env(bin: &Path, env: &[(&str, &str)]) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        let mut server = TestServer::start_in_with_env(bin, &dir, env).await;
        server._temp = Some(temp);
        server
    }

    /// Starts `bin` on `data_dir`, which outlives the server (for restart tests).
    pub async fn start_in(bin: &Path, data_dir: &Path) -> TestServer {
        TestServer::start_in_with_env(bin, data_dir, &[]).await
    }

    /// Starts `bin` on `data_dir` with extra environment variables (they win over the
    /// defaults of `isolate_local_model`).
    pub async fn start_in_with_env(
        bin: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> TestServer {
        let mut command = Command::new(bin);
        command
            .args(["server", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "info")
            // OpenAI is configured at a closed loopback port unless the test points it at a
            // fake: `openai/...` handles resolve (from the known models, as the list cannot be
            // fetched) and nothing leaves the machine.
            .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
            .env("OPENAI_API_KEY", "sk-test");
        isolate_local_model(&mut command, data_dir);
        command.envs(store_env(data_dir));
        let mut child = command
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn mneme");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = oneshot::channel();
        // Keep draining stderr for the life of the process so it never blocks on a full pipe.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut tx = Some(tx);
            let mut seen = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(addr.trim().to_owned()));
                    }
                } else if tx.is_some() {
                    seen.push_str(&line);
                    seen.push('\n');
                }
            }
            if let Some(tx) = tx.take() {
                let _ = tx.send(Err(seen));
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(20), rx).await {
            Ok(Ok(Ok(addr))) => addr,
            Ok(Ok(Err(log))) => panic!("mneme exited before listening:\n{log}"),
            other => panic!("mneme did not start: {other:?}"),
        };
        TestServer {
            child,
            base: format!("http://{addr}"),
            data_dir: data_dir.to_owned(),
            _temp: None,
            // A generic client: Letta (and mneme) load every relationship for it by default,
            // unlike for the 1.x SDK, which tests imitate with its header when they need to.
            http: reqwest::Client::builder()
                .user_agent("mneme-testkit")
                .build()
                .expect("http client"),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// True when test servers keep their state in PostgreSQL (`MNEME_TEST_BACKEND=postgres`).
    pub fn on_postgres() -> bool {
        std::env::var("MNEME_TEST_BACKEND").is_ok_and(|b| b == "postgres")
    }

    /// Stops the process with SIGTERM, as an operator would, and waits for it to exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg(pid.to_string()).status().await;
        }
        let exited = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        assert!(exited.is_ok(), "mneme did not stop on SIGTERM");
    }

    /// Kills the process with SIGKILL, as a crash or an OOM killer would (nothing is flushed,
    /// no handler runs), and waits for it to exit.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL mneme");
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.patch(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path))).await
    }

    /// Sends a raw body (for malformed-JSON tests).
    pub async fn post_raw(&self, path: &str, body: &'static str) -> Resp {
        let req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        self.send(req).await
    }

    /// The request builder for anything the helpers above do not cover (headers, methods).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, body }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A test server never downloads the local embedding model, and uses it only where the test
/// says (`MNEME_EMBEDDING_MODEL_DIR` in the environment or the test's own variables): otherwise
/// it looks in its own data directory, so results do not depend on what the machine has cached.
fn isolate_local_model(command: &mut Command, data_dir: &Path) {
    command.env("MNEME_EMBEDDING_MODEL_FETCH", "false");
    if std::env::var_os("MNEME_EMBEDDING_MODEL_DIR").is_none() {
        let dir = data_dir.join("models").join("all-MiniLM-L6-v2");
        command.env("MNEME_EMBEDDING_MODEL_DIR", dir);
    }
}

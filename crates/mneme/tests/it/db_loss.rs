//! Losing the PostgreSQL connection: requests fail with 503 and a clear message, nothing is
//! half-written, and the server recovers by itself when the database is back. The database is
//! reached through a proxy the test can cut, so the shared test server keeps running.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mneme_store_postgres::scratch::{self, ScratchDb};
use mneme_testkit::{FakeLlm, TestServer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::{bin, id};

/// A TCP proxy to PostgreSQL on a fixed local port; `cut` drops every connection and refuses new
/// ones until `restore`.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    tasks: JoinSet<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut proxy = Proxy {
            addr,
            upstream,
            tasks: JoinSet::new(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        self.tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// Every open connection is dropped and the port refuses new ones.
    async fn cut(&mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// `host:port` of the test PostgreSQL.
fn upstream() -> String {
    let url = scratch::admin_url();
    let after_at = url.rsplit('@').next().unwrap();
    after_at.split('/').next().unwrap().to_owned()
}

/// The scratch database's URL, reached through the proxy.
fn through(db: &ScratchDb, proxy: &Proxy) -> String {
    db.url().replacen(&upstream(), &proxy.addr.to_string(), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_answers_503_and_the_server_recovers_by_itself() {
    let db = ScratchDb::create().await;
    let mut proxy = Proxy::start(upstream()).await;
    let fake = FakeLlm::start().await;
    let url = through(&db, &proxy);
    let srv = TestServer::start_with_env(
        bin(),
        &[
            ("MNEME_DATABASE_URL", url.as_str()),
            ("OPENAI_BASE_URL", fake.base_url().as_str()),
        ],
    )
    .await;
    let body = json!({"model": "openai/gpt-4o-mini",
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}]});
    let agent = id(&srv.post("/v1/agents/", body).await.ok());
    let path = format!("/v1/agents/{agent}/messages");
    srv.post(&path, json!({"input": "one"})).await.ok();

    proxy.cut().await;
    let lost = srv.get(&format!("/v1/agents/{agent}")).await.err(503);
    let detail = lost["detail"].as_str().unwrap();
    assert!(detail.contains("database is unavailable"), "{detail}");
    srv.post(&path, json!({"input": "lost"})).await.err(503);

    proxy.restore().await;
    let start = Instant::now();
    loop {
        let r = srv.get(&format!("/v1/agents/{agent}")).await;
        if r.status == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not recovered: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    srv.post(&path, json!({"input": "two"})).await.ok();
    let h = srv.get(&format!("{path}?limit=100")).await.ok();
    let said: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] == "user_message")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    // The send made while the database was gone wrote nothing.
    assert_eq!(said, ["one", "two"]);
}

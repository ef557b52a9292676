//! The fake LLM the measured server talks to: the testkit's `FakeLlm` in this process, or a
//! `mneme-fake-llm` process scripted over its `/_fake/` control API. Either way it answers at
//! 0 ms: it echoes through `send_message`, and two rules script the heartbeat chain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use mneme_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// User messages containing this start a two-step heartbeat chain.
pub(crate) const CHAIN_MARKER: &str = "HBCHAIN";

/// Every heartbeat message (mneme's and Letta's) is JSON with this pair.
const HEARTBEAT_TEXT: &str = "\"type\": \"heartbeat\"";

pub(crate) enum Fake {
    Local(FakeLlm),
    Remote {
        http: reqwest::Client,
        /// `http://HOST:PORT`, where `/_fake/` lives.
        root: String,
    },
}

impl Fake {
    /// An in-process fake on 127.0.0.1:`port` (0 picks a free one).
    pub(crate) async fn local(port: u16) -> Result<Fake> {
        let fake = FakeLlm::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        Ok(Fake::Local(fake))
    }

    /// A fake LLM server already running; `openai_base_url` ends in `/v1`.
    pub(crate) fn remote(openai_base_url: &str) -> Result<Fake> {
        let root = openai_base_url.trim_end_matches('/');
        let Some(root) = root.strip_suffix("/v1") else {
            bail!("--fake-url must end in /v1 (got {openai_base_url})");
        };
        Ok(Fake::Remote {
            http: reqwest::Client::new(),
            root: root.to_owned(),
        })
    }

    /// The URL to give the server as `OPENAI_BASE_URL`.
    pub(crate) fn openai_base_url(&self) -> String {
        match self {
            Fake::Local(fake) => fake.base_url(),
            Fake::Remote { root, .. } => format!("{root}/v1"),
        }
    }

    /// Back to nothing scripted, no latency, no recordings; with `chain`, the two rules of the
    /// heartbeat chain are installed again.
    pub(crate) async fn reset(&self, chain: bool) -> Result<()> {
        match self {
            Fake::Local(fake) => {
                fake.reset();
                if chain {
                    for (text, reply) in chain_rules() {
                        fake.add_rule(text, reply);
                    }
                }
            }
            Fake::Remote { http, root } => {
                let reset = http.post(format!("{root}/_fake/reset")).send().await?;
                reset.error_for_status()?;
                if chain {
                    let rules: Vec<Value> = chain_rules()
                        .into_iter()
                        .map(|(text, reply)| json!({"when_last_user_contains": text, "reply": reply}))
                        .collect();
                    let res = http.post(format!("{root}/_fake/rules")).json(&rules);
                    res.send().await?.error_for_status()?;
                }
            }
        }
        Ok(())
    }

    /// Checks the fake answers (a remote one may not be running).
    pub(crate) async fn check(&self) -> Result<()> {
        if let Fake::Remote { http, root } = self {
            let res = http.get(format!("{root}/v1/models")).send().await?;
            res.error_for_status()?;
        }
        Ok(())
    }
}

/// The first step answers the marked user message with a search that requests a heartbeat; the
/// heartbeat that follows is answered with `send_message`, which ends the turn.
fn chain_rules() -> Vec<(String, Reply)> {
    let search = json!({"query": "x", "request_heartbeat": true});
    vec![
        (
            CHAIN_MARKER.to_owned(),
            Reply::tool_call("conversation_search", search),
        ),
        (
            HEARTBEAT_TEXT.to_owned(),
            Reply::tool_call("send_message", json!({"message": "done"})),
        ),
    ]
}

/// The fake records every request body, which would grow without bound over a run (an agent
/// with a long history sends hundreds of kilobytes per call): this task clears the recordings
/// every second, unless paused while a phase needs the chain rules.
pub(crate) struct Janitor {
    /// Held while clearing, so that once `pause` returns no clearing is in flight.
    paused: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Janitor {
    pub(crate) fn start(fake: Arc<Fake>) -> Janitor {
        let paused = Arc::new(Mutex::new(false));
        let state = paused.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let paused = state.lock().await;
                if !*paused && let Err(e) = fake.reset(false).await {
                    eprintln!("warning: clearing the fake LLM's recordings failed: {e:#}");
                }
            }
        });
        Janitor { paused, task }
    }

    /// While paused the janitor leaves the fake alone (the phase resets it itself, keeping its
    /// rules).
    pub(crate) async fn pause(&self, paused: bool) {
        *self.paused.lock().await = paused;
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

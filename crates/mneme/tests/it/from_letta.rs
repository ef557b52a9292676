//! `mneme migrate from-letta`: a server of the Letta API (mneme itself here; Letta 0.16.7 in
//! `bench/letta-migration`) filled over HTTP, moved by the real binary into a fresh data
//! directory, and compared object by object; a second run copies nothing.

use std::path::Path;
use std::process::Command;

use mneme_testkit::{FakeLlm, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

/// Runs `mneme migrate from-letta --url` into `dir`; its standard output (the report).
fn migrate(dir: &Path, url: &str, fake: &str, extra: &[&str]) -> String {
    migrate_from(dir, &["--url", url], fake, extra)
}

/// Runs `mneme migrate from-letta` from `source` (its flags) into `dir`; the report.
pub(crate) fn migrate_from(dir: &Path, source: &[&str], fake: &str, extra: &[&str]) -> String {
    let out = Command::new(bin())
        .args(["migrate", "from-letta"])
        .args(source)
        .arg("--data-dir")
        .arg(dir)
        .args(["--embedding-model-fetch", "false"])
        .args(extra)
        .env("OPENAI_BASE_URL", fake)
        .env("OPENAI_API_KEY", "sk-test")
        .envs(mneme_testkit::store_env(dir))
        .output()
        .expect("run mneme");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "migrate failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The `copied` and `present` columns of a kind's line of the report.
pub(crate) fn counts(report: &str, kind: &str) -> (u64, u64) {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} line in {report}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    (n[0], n[1])
}

/// What a source holds: two agents sharing a block (one with a tool, rules, tags, history
/// and passages), a group of the two, an identity, a block of no agent, an MCP server.
struct Filled {
    ada: String,
    bob: String,
    shared: String,
    loose: String,
    identity: String,
    group: String,
    loose_tool: String,
}

async fn fill(src: &TestServer) -> Filled {
    let shared = id(&src
        .post(
            "/v1/blocks/",
            json!({"label": "team", "value": "We ship on Fridays."}),
        )
        .await
        .ok());
    let loose = id(&src
        .post(
            "/v1/blocks/",
            json!({"label": "loose", "value": "Nobody's block."}),
        )
        .await
        .ok());
    let tool = src
        .post(
            "/v1/tools/",
            json!({"source_code": "def shout(text: str) -> str:\n    \"\"\"Shouts.\n\n    Args:\n        text: What to shout.\n    \"\"\"\n    return text.upper()\n"}),
        )
        .await
        .ok();
    let loose_tool = id(&src
        .post(
            "/v1/tools/",
            json!({"source_code": "def whisper(text: str) -> str:\n    \"\"\"Whispers.\n\n    Args:\n        text: What to whisper.\n    \"\"\"\n    return text.lower()\n"}),
        )
        .await
        .ok());
    let agent = |name: &str, extra: Value| {
        let mut body = json!({
            "name": name,
            "model": "openai/gpt-4o-mini",
            "memory_blocks": [{"label": "human", "value": format!("Talks to {name}.")}],
            "block_ids": [shared],
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let ada = id(&src
        .post(
            "/v1/agents/",
            agent(
                "ada",
                json!({"tags": ["migrated", "first"], "tool_ids": [id(&tool)],
                       "tool_rules": [{"tool_name": "shout", "type": "exit_loop"}]}),
            ),
        )
        .await
        .ok());
    let bob = id(&src.post("/v1/agents/", agent("bob", json!({}))).await.ok());
    for text in ["Hello, I am Grace.", "I like tea."] {
        src.post(
            &format!("/v1/agents/{ada}/messages"),
            json!({"messages": [{"role": "user", "content": text}]}),
        )
        .await
        .ok();
    }
    // A history longer than a page of the listing, most of it out of context after a
    // compaction: the export holds only the context, the rest comes from the listing.
    for i in 0..60 {
        src.post(
            &format!("/v1/agents/{bob}/messages"),
            json!({"messages": [{"role": "user", "content": format!("Note {i}.")}]}),
        )
        .await
        .ok();
    }
    let all = json!({"compaction_settings": {"mode": "all"}});
    src.post(&format!("/v1/agents/{bob}/summarize"), all)
        .await
        .ok();
    let context = src.get(&format!("/v1/agents/{bob}")).await.ok()["message_ids"].clone();
    let listed = history(src, &bob).await.len();
    assert!(
        context.as_array().unwrap().len() < 10 && listed > 100,
        "{listed} listed: {context}"
    );
    for (text, tags) in [
        ("Grace's cat is Miso", ["pets"]),
        ("Grace works nights", ["work"]),
    ] {
        src.post(
            &format!("/v1/agents/{ada}/archival-memory"),
            json!({"text": text, "tags": tags}),
        )
        .await
        .ok();
    }
    let identity = id(&src
        .post(
            "/v1/identities/",
            json!({"identifier_key": "grace", "name": "Grace", "identity_type": "user",
                   "agent_ids": [ada], "block_ids": [shared]}),
        )
        .await
        .ok());
    let group = id(&src
        .post(
            "/v1/groups/",
            json!({"agent_ids": [ada, bob], "description": "pair",
                   "manager_config": {"manager_type": "round_robin", "max_turns": 2}}),
        )
        .await
        .ok());
    src.post(
        "/v1/mcp-servers/",
        json!({"server_name": "notes", "config": {"mcp_server_type": "stdio",
               "command": "/nonexistent/notes-mcp", "args": ["--quiet"]}}),
    )
    .await
    .ok();
    Filled {
        loose_tool,
        ada,
        bob,
        shared,
        loose,
        identity,
        group,
    }
}

/// The fields of an object that a migration must carry over, read from both servers.
async fn same(src: &TestServer, dst: &TestServer, path: &str, fields: &[&str]) {
    let (a, b) = (src.get(path).await.ok(), dst.get(path).await.ok());
    for f in fields {
        assert_eq!(a[f], b[f], "{path} .{f}");
    }
}

/// Messages as both servers list them: id, type and text.
async fn history(srv: &TestServer, agent: &str) -> Vec<(String, String, Value)> {
    let listed = srv
        .get(&format!("/v1/agents/{agent}/messages?order=asc&limit=1000"))
        .await
        .ok();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                id(m),
                m["message_type"].as_str().unwrap_or_default().to_owned(),
                m["content"].clone(),
            )
        })
        .collect()
}

// Two workers: the fake answers while this test's thread waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_deployment_moves_with_its_ids_and_a_second_run_copies_nothing() {
    let fake = FakeLlm::start().await;
    let base = fake.base_url();
    let env = [("OPENAI_BASE_URL", base.as_str())];
    let src = TestServer::start_with_env(bin(), &env).await;
    let f = fill(&src).await;

    let dir = tempfile::tempdir().unwrap();
    let dry = migrate(dir.path(), &src.base, &base, &["--dry-run"]);
    assert_eq!(counts(&dry, "agents"), (2, 0), "{dry}");
    let report = migrate(dir.path(), &src.base, &base, &[]);
    assert_eq!(counts(&report, "agents"), (2, 0), "{report}");
    assert_eq!(counts(&report, "passages"), (2, 0), "{report}");
    assert_eq!(counts(&report, "identities"), (1, 0), "{report}");

    let dst = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    // The dry run wrote nothing before the real one: one agent of each, no copies.
    let listed = dst.get("/v1/agents/").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    for agent in [&f.ada, &f.bob] {
        let path = format!("/v1/agents/{agent}");
        same(
            &src,
            &dst,
            &path,
            &[
                "name",
                "system",
                "tags",
                "tool_rules",
                "agent_type",
                "message_ids",
            ],
        )
        .await;
        let blocks = |v: &Value| {
            let mut b: Vec<(String, String, String)> = v["memory"]["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| (id(b), b["label"].to_string(), b["value"].to_string()))
                .collect();
            b.sort();
            b
        };
        let (a, b) = (src.get(&path).await.ok(), dst.get(&path).await.ok());
        assert_eq!(blocks(&a), blocks(&b), "blocks of {agent}");
        let tools = |v: &Value| {
            let mut t: Vec<String> = v["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].to_string())
                .collect();
            t.sort();
            t
        };
        assert_eq!(tools(&a), tools(&b), "tools of {agent}");
        assert_eq!(
            history(&src, agent).await,
            history(&dst, agent).await,
            "history of {agent}"
        );
    }
    same(
        &src,
        &dst,
        &format!("/v1/blocks/{}", f.shared),
        &["value", "label"],
    )
    .await;
    same(
        &src,
        &dst,
        &format!("/v1/blocks/{}", f.loose),
        &["value", "label"],
    )
    .await;
    same(
        &src,
        &dst,
        &format!("/v1/identities/{}", f.identity),
        &["name", "identifier_key", "agent_ids", "block_ids"],
    )
    .await;
    same(
        &src,
        &dst,
        &format!("/v1/groups/{}", f.group),
        &["agent_ids", "manager_type", "max_turns"],
    )
    .await;
    same(
        &src,
        &dst,
        &format!("/v1/tools/{}", f.loose_tool),
        &["name", "source_code", "json_schema"],
    )
    .await;
    let passages = |v: Value| -> Vec<(String, String, Value)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| (id(p), p["text"].to_string(), p["tags"].clone()))
            .collect()
    };
    let path = format!("/v1/agents/{}/archival-memory?ascending=true", f.ada);
    assert_eq!(
        passages(src.get(&path).await.ok()),
        passages(dst.get(&path).await.ok())
    );
    let servers = dst.get("/v1/mcp-servers/").await.ok();
    assert_eq!(servers, src.get("/v1/mcp-servers/").await.ok());

    // The migrated agent takes its next message with the context it had on the source.
    let before = fake.requests().len();
    let next = json!({"messages": [{"role": "user", "content": "What do I drink?"}]});
    src.post(&format!("/v1/agents/{}/messages", f.ada), next.clone())
        .await
        .ok();
    dst.post(&format!("/v1/agents/{}/messages", f.ada), next)
        .await
        .ok();
    let sent = fake.requests();
    let turn = |r: &Value| -> Vec<Value> {
        r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|m| json!([m["role"], m["content"]]))
            .collect()
    };
    assert_eq!(sent.len(), before + 2);
    assert_eq!(turn(&sent[before]), turn(&sent[before + 1]));
    dst.stop().await;

    // Again: everything is there already; nothing is copied twice.
    let again = migrate(dir.path(), &src.base, &base, &[]);
    assert_eq!(counts(&again, "agents"), (0, 2), "{again}");
    assert_eq!(counts(&again, "identities"), (0, 1), "{again}");
    let dst = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    assert_eq!(
        dst.get("/v1/agents/").await.ok().as_array().unwrap().len(),
        2
    );
    assert_eq!(
        dst.get("/v1/identities/")
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    dst.stop().await;
}

// Two workers: the fake answers while this test's thread polls the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_half_way_is_finished_by_the_next_without_duplicates() {
    let fake = FakeLlm::start().await;
    let base = fake.base_url();
    let env = [("OPENAI_BASE_URL", base.as_str())];
    let src = TestServer::start_with_env(bin(), &env).await;
    let mut agents = Vec::new();
    for i in 0..4 {
        let body = json!({"name": format!("solo-{i}"), "model": "openai/gpt-4o-mini",
                          "embedding": "openai/text-embedding-3-small",
                          "memory_blocks": [{"label": "human", "value": format!("Agent {i}.")}]});
        let a = id(&src.post("/v1/agents/", body).await.ok());
        let path = format!("/v1/agents/{a}/archival-memory");
        src.post(&path, json!({"text": format!("fact {i}")}))
            .await
            .ok();
        agents.push(a);
    }
    // Each agent's passages are embedded anew for another model, a second a call: the run
    // takes seconds, and is killed once the first agent is in.
    fake.set_latency(std::time::Duration::from_millis(1000));
    let dir = tempfile::tempdir().unwrap();
    TestServer::start_in(bin(), dir.path()).await.stop().await;
    let store = mneme_testkit::store_of(dir.path()).await;
    let count = || async {
        store
            .count_agents(&mneme_store::AgentFilter::default())
            .await
            .unwrap()
    };
    let other_model = ["--embedding", "openai/text-embedding-3-large"];
    let mut run = tokio::process::Command::new(bin())
        .args(["migrate", "from-letta", "--url", &src.base, "--data-dir"])
        .arg(dir.path())
        .args(["--embedding-model-fetch", "false"])
        .args(other_model)
        .env("OPENAI_BASE_URL", &base)
        .env("OPENAI_API_KEY", "sk-test")
        .envs(mneme_testkit::store_env(dir.path()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while count().await == 0 {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before any agent was in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    run.kill().await.unwrap();
    let before = count().await;
    assert!((1..4).contains(&before), "{before} agents in when killed");

    fake.set_latency(std::time::Duration::ZERO);
    let report = migrate(dir.path(), &src.base, &base, &other_model);
    assert_eq!(counts(&report, "agents"), (4 - before, before), "{report}");
    let dst = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let listed = dst.get("/v1/agents/").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 4, "{listed}");
    for a in &agents {
        let passages = dst
            .get(&format!("/v1/agents/{a}/archival-memory"))
            .await
            .ok();
        assert_eq!(passages.as_array().unwrap().len(), 1, "{a}: {passages}");
        same(
            &src,
            &dst,
            &format!("/v1/agents/{a}"),
            &["name", "message_ids"],
        )
        .await;
    }
    dst.stop().await;
}

/// The `--since` the report of a run offers for the next.
fn next_since(report: &str) -> String {
    let line = report
        .lines()
        .find(|l| l.contains("--since"))
        .unwrap_or_else(|| panic!("no --since in {report}"));
    line.rsplit(' ').next().unwrap().to_owned()
}

// Two workers: the fake answers while this test's thread waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_over_run_with_since_copies_only_what_changed_on_the_source() {
    let fake = FakeLlm::start().await;
    let base = fake.base_url();
    let env = [("OPENAI_BASE_URL", base.as_str())];
    let src = TestServer::start_with_env(bin(), &env).await;
    let say = |agent: String, text: &'static str| {
        let src = &src;
        async move {
            let body = json!({"messages": [{"role": "user", "content": text}]});
            src.post(&format!("/v1/agents/{agent}/messages"), body)
                .await
                .ok();
        }
    };
    let shared = id(&src
        .post(
            "/v1/blocks/",
            json!({"label": "team", "value": "Ships on Fridays."}),
        )
        .await
        .ok());
    let loose = id(&src
        .post("/v1/blocks/", json!({"label": "loose", "value": "v1"}))
        .await
        .ok());
    let agent = |name: &str| {
        json!({"name": name, "model": "openai/gpt-4o-mini", "block_ids": [shared],
               "memory_blocks": [{"label": "human", "value": format!("Talks to {name}.")}]})
    };
    let ada = id(&src.post("/v1/agents/", agent("ada")).await.ok());
    let bob = id(&src.post("/v1/agents/", agent("bob")).await.ok());
    say(ada.clone(), "Hello, I am Grace.").await;
    say(bob.clone(), "Hello, I am Hal.").await;
    let archival = format!("/v1/agents/{ada}/archival-memory");
    src.post(&archival, json!({"text": "Grace likes tea"}))
        .await
        .ok();

    let dir = tempfile::tempdir().unwrap();
    let first = migrate(dir.path(), &src.base, &base, &[]);
    assert_eq!(counts(&first, "agents"), (2, 0), "{first}");
    let since = next_since(&first);

    // Meanwhile on the source: more talk, a passage, memory edits, a compaction, an agent.
    say(ada.clone(), "I moved to Lisbon.").await;
    say(ada.clone(), "My cat is Miso.").await;
    src.post(
        &archival,
        json!({"text": "Grace lives in Lisbon", "tags": ["home"]}),
    )
    .await
    .ok();
    let edit = |value: &str| json!({ "value": value });
    src.patch(&format!("/v1/blocks/{shared}"), edit("Ships on Thursdays."))
        .await
        .ok();
    src.patch(&format!("/v1/blocks/{loose}"), edit("v2"))
        .await
        .ok();
    say(bob.clone(), "Remember the code 1234.").await;
    let all = json!({"compaction_settings": {"mode": "all"}});
    src.post(&format!("/v1/agents/{bob}/summarize"), all)
        .await
        .ok();
    // A new agent on the shared block: its unit is partly in the target already.
    let cy = id(&src.post("/v1/agents/", agent("cy")).await.ok());

    let cut = ["--since", since.as_str()];
    let dry = migrate(
        dir.path(),
        &src.base,
        &base,
        &[&cut[..], &["--dry-run"]].concat(),
    );
    let report = migrate(dir.path(), &src.base, &base, &cut);
    for r in [&dry, &report] {
        assert_eq!(counts(r, "agents"), (1, 2), "{r}");
        // Its own block is new; the shared one is attached, not made again.
        assert_eq!(counts(r, "blocks"), (1, 1), "{r}");
        assert_eq!(counts(r, "passages").0, 1, "{r}");
        // The shared block once (the second agent finds it level), the loose one.
        assert_eq!(counts(r, "block_values").0, 2, "{r}");
        assert!(counts(r, "messages").0 >= 4, "{r}");
    }
    // The same window again: what it holds is here already.
    let again = migrate(dir.path(), &src.base, &base, &cut);
    assert_eq!(counts(&again, "agents"), (0, 3), "{again}");
    for kind in ["messages", "passages", "block_values"] {
        assert_eq!(counts(&again, kind).0, 0, "{again}");
    }
    let dst = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    for agent in [&ada, &bob, &cy] {
        let path = format!("/v1/agents/{agent}");
        same(&src, &dst, &path, &["name", "message_ids"]).await;
        assert_eq!(
            history(&src, agent).await,
            history(&dst, agent).await,
            "history of {agent}"
        );
    }
    for block in [&shared, &loose] {
        same(&src, &dst, &format!("/v1/blocks/{block}"), &["value"]).await;
    }
    let sharing = |v: Value| -> Vec<String> {
        let mut ids: Vec<String> = v.as_array().unwrap().iter().map(id).collect();
        ids.sort();
        ids
    };
    let path = format!("/v1/blocks/{shared}/agents");
    assert_eq!(
        sharing(src.get(&path).await.ok()),
        sharing(dst.get(&path).await.ok())
    );
    let passages = |v: Value| -> Vec<(String, Value, Value)> {
        let listed = v.as_array().unwrap().iter();
        listed
            .map(|p| (id(p), p["text"].clone(), p["tags"].clone()))
            .collect()
    };
    let path = format!("{archival}?ascending=true");
    assert_eq!(
        passages(src.get(&path).await.ok()),
        passages(dst.get(&path).await.ok())
    );
    // The caught-up agent takes its next message with the context it has on the source.
    let before = fake.requests().len();
    let next = json!({"messages": [{"role": "user", "content": "Where do I live?"}]});
    src.post(&format!("/v1/agents/{ada}/messages"), next.clone())
        .await
        .ok();
    dst.post(&format!("/v1/agents/{ada}/messages"), next)
        .await
        .ok();
    let sent = fake.requests();
    let turn = |r: &Value| -> Vec<Value> {
        let messages = r["messages"].as_array().unwrap().iter().skip(1);
        messages.map(|m| json!([m["role"], m["content"]])).collect()
    };
    assert_eq!(sent.len(), before + 2);
    assert_eq!(turn(&sent[before]), turn(&sent[before + 1]));
    dst.stop().await;
}

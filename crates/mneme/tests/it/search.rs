//! Hybrid archival and recall search: with no embedding model (full text), with an
//! OpenAI-compatible one (the fake), with the built-in local model, and through the agent's
//! own tools.

use std::path::PathBuf;
use std::time::Duration;

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

/// Where `scripts/fetch-model` installs all-MiniLM-L6-v2.
fn model_dir() -> PathBuf {
    let dir = std::env::var_os("MNEME_EMBEDDING_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .expect("home")
                .join(".cache/mneme/models/all-MiniLM-L6-v2")
        });
    assert!(
        dir.join("model.safetensors").is_file(),
        "the local embedding model is not installed in {}: run scripts/fetch-model",
        dir.display()
    );
    dir
}

async fn setup(local_model: bool) -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let dir = model_dir();
    let mut env = vec![("OPENAI_BASE_URL", url.as_str())];
    let dir_text = dir.to_string_lossy().into_owned();
    if local_model {
        env.push(("MNEME_EMBEDDING_MODEL_DIR", dir_text.as_str()));
    } else {
        // Point at a directory without the model, whatever the environment says.
        env.push(("MNEME_EMBEDDING_MODEL_DIR", "/nonexistent/mneme-model"));
    }
    (TestServer::start_with_env(bin(), &env).await, fake)
}

async fn agent(srv: &TestServer, embedding: Option<&str>) -> String {
    let mut body = json!({
        "model": "openai/gpt-4o-mini",
        "tools": ["archival_memory_search", "archival_memory_insert"],
    });
    if let Some(e) = embedding {
        body["embedding"] = json!(e);
    }
    id(&srv.post("/v1/agents/", body).await.ok())
}

const CORPUS: [(&str, &[&str]); 6] = [
    ("Mount Everest is the highest mountain on Earth", &["geo"]),
    (
        "My cat Miso sleeps all afternoon on the windowsill",
        &["pets"],
    ),
    (
        "Quarterly revenue grew twelve percent thanks to new customers",
        &["work"],
    ),
    (
        "The recipe needs two eggs, flour and a pinch of salt",
        &["food"],
    ),
    ("Ada prefers to be called by her first name", &["people"]),
    (
        "The train to Lyon leaves at 7:40 from platform 3",
        &["travel"],
    ),
];

async fn insert_corpus(srv: &TestServer, agent: &str) {
    for (text, tags) in CORPUS {
        srv.post(
            &format!("/v1/agents/{agent}/archival-memory"),
            json!({"text": text, "tags": tags}),
        )
        .await
        .ok();
    }
}

async fn search(srv: &TestServer, agent: &str, query: &str) -> Value {
    let q = query.replace(' ', "%20");
    srv.get(&format!(
        "/v1/agents/{agent}/archival-memory/search?query={q}&top_k=3"
    ))
    .await
    .ok()
}

fn first(results: &Value) -> &str {
    results["results"][0]["content"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn without_an_embedding_model_search_ranks_by_full_text() {
    let (srv, _fake) = setup(false).await;
    let a = agent(&srv, None).await;
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert!(state["embedding_config"].is_null());
    insert_corpus(&srv, &a).await;
    let found = search(&srv, &a, "when does the train leave").await;
    assert_eq!(first(&found), CORPUS[5].0);
    assert_eq!(found["results"][0]["relevance"]["search_mode"], "full_text");
    // Stemming: "sleeping cats" finds "cat ... sleeps".
    let found = search(&srv, &a, "sleeping cats").await;
    assert_eq!(first(&found), CORPUS[1].0);
    // Filters apply before the limit.
    let tagged = srv
        .get(&format!(
            "/v1/agents/{a}/archival-memory/search?query=the&tags=food"
        ))
        .await
        .ok();
    assert_eq!(tagged["count"], 1);
    assert_eq!(first(&tagged), CORPUS[3].0);
}

#[tokio::test]
async fn the_local_model_finds_paraphrases_with_no_shared_words() {
    let (srv, _fake) = setup(true).await;
    let models = srv.get("/v1/models/embedding").await.ok();
    assert!(
        models
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["handle"] == "local/all-MiniLM-L6-v2")
    );
    // Installed, the built-in model is the default embedding.
    let a = agent(&srv, None).await;
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert_eq!(
        state["embedding_config"]["embedding_model"],
        "all-MiniLM-L6-v2"
    );
    insert_corpus(&srv, &a).await;
    let listed = srv
        .get(&format!("/v1/agents/{a}/archival-memory?limit=1"))
        .await
        .ok();
    assert_eq!(listed[0]["embedding"].as_array().unwrap().len(), 384);
    for (query, expected) in [
        ("tallest peak worldwide", 0),
        ("kitten napping", 1),
        ("company earnings increased", 2),
        ("baking ingredients", 3),
        ("railway departure time", 5),
    ] {
        let found = search(&srv, &a, query).await;
        assert_eq!(first(&found), CORPUS[expected].0, "query {query:?}");
        let mode = found["results"][0]["relevance"]["search_mode"].clone();
        assert!(mode == "vector" || mode == "hybrid", "{query}: {mode}");
    }
}

#[tokio::test]
async fn an_openai_compatible_model_embeds_passages_and_queries() {
    let (srv, fake) = setup(false).await;
    let a = agent(&srv, Some("openai/text-embedding-3-small")).await;
    insert_corpus(&srv, &a).await;
    let found = search(&srv, &a, "train to Lyon").await;
    assert_eq!(first(&found), CORPUS[5].0);
    assert_eq!(found["results"][0]["relevance"]["search_mode"], "hybrid");
    let inputs: Vec<Value> = fake
        .embedding_requests()
        .iter()
        .map(|r| r["input"].clone())
        .collect();
    assert!(inputs.iter().any(|i| i[0] == CORPUS[0].0));
    assert!(inputs.iter().any(|i| i[0] == "train to Lyon"));
}

#[tokio::test]
async fn a_failing_embedding_model_stores_nothing() {
    let (srv, _fake) = setup(false).await;
    let a = agent(&srv, None).await;
    // An archive whose model lives on a port nobody listens on.
    let dead = json!({
        "embedding_endpoint_type": "openai", "embedding_endpoint": "http://127.0.0.1:9/v1",
        "embedding_model": "text-embedding-3-small", "embedding_dim": 1536
    });
    let archive = srv
        .post(
            "/v1/archives/",
            json!({"name": "dead", "embedding_config": dead}),
        )
        .await
        .ok();
    let ar = id(&archive);
    srv.patch(&format!("/v1/agents/{a}/archives/attach/{ar}"), json!({}))
        .await
        .ok();
    let err = srv
        .post(
            &format!("/v1/archives/{ar}/passages"),
            json!({"text": "never stored"}),
        )
        .await
        .err(503);
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("embedding model unavailable"),
        "{err}"
    );
    let listed = srv
        .get(&format!("/v1/agents/{a}/archival-memory"))
        .await
        .ok();
    assert_eq!(listed.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn archives_are_shared_collections_of_passages() {
    let (srv, _fake) = setup(false).await;
    let (ar, batch) = handbook_archive(&srv).await;

    // Two agents read the same archive.
    let (a, b) = (agent(&srv, None).await, agent(&srv, None).await);
    for agent in [&a, &b] {
        srv.patch(
            &format!("/v1/agents/{agent}/archives/attach/{ar}"),
            json!({}),
        )
        .await
        .ok();
        let found = search(&srv, agent, "holidays").await;
        assert_eq!(first(&found), "Holidays must be requested two weeks ahead");
    }
    let readers = srv.get(&format!("/v1/archives/{ar}/agents")).await.ok();
    assert_eq!(readers.as_array().unwrap().len(), 2);
    let mine = srv.get(&format!("/v1/archives/?agent_id={a}")).await.ok();
    assert_eq!(mine[0]["id"], ar.as_str());

    let by_archive = srv
        .post(
            "/v1/passages/search",
            json!({"archive_id": ar, "query": "expense report", "tags": ["finance"]}),
        )
        .await
        .ok();
    assert_eq!(by_archive.as_array().unwrap().len(), 1);
    let hit = &by_archive[0];
    assert_eq!(
        hit["passage"]["text"],
        "Expense reports are due on the fifth"
    );
    assert!(hit["score"].as_f64().unwrap() > 0.0);

    // Deleting a passage removes it from every index at once.
    let pid = id(&batch[0]);
    srv.delete(&format!("/v1/archives/{ar}/passages/{pid}"))
        .await
        .ok();
    let found = search(&srv, &a, "holidays").await;
    assert_eq!(found["count"], 0);
    renamed_detached_and_deleted(&srv, &ar, &a, &b).await;
}

/// Creates the "handbook" archive with two tagged passages; returns its id and the created
/// passages.
async fn handbook_archive(srv: &TestServer) -> (String, Value) {
    let archive = srv
        .post(
            "/v1/archives/",
            json!({"name": "handbook", "description": "company rules"}),
        )
        .await
        .ok();
    let ar = id(&archive);
    assert!(ar.starts_with("archive-"));
    assert_eq!(archive["vector_db_provider"], "native");
    let batch = srv
        .post(
            &format!("/v1/archives/{ar}/passages/batch"),
            json!({"passages": [
                {"text": "Holidays must be requested two weeks ahead", "tags": ["hr"]},
                {"text": "Expense reports are due on the fifth", "tags": ["finance"]}
            ]}),
        )
        .await
        .ok();
    assert_eq!(batch.as_array().unwrap().len(), 2);
    assert_eq!(batch[0]["archive_id"], ar.as_str());
    (ar, batch)
}

/// Renames the archive `ar`, detaches it from agent `b`, deletes it (agent `a` then finds
/// nothing), and checks bad archive and search requests.
async fn renamed_detached_and_deleted(srv: &TestServer, ar: &str, a: &str, b: &str) {
    let renamed = srv
        .patch(&format!("/v1/archives/{ar}"), json!({"name": "rules"}))
        .await
        .ok();
    assert_eq!(renamed["name"], "rules");
    srv.patch(&format!("/v1/agents/{b}/archives/detach/{ar}"), json!({}))
        .await
        .ok();
    assert_eq!(search(srv, b, "expense").await["count"], 0);
    srv.delete(&format!("/v1/archives/{ar}")).await.ok();
    srv.get(&format!("/v1/archives/{ar}")).await.err(404);
    assert_eq!(search(srv, a, "expense").await["count"], 0);
    srv.post("/v1/archives/", json!({"name": ""}))
        .await
        .err(422);
    srv.post("/v1/passages/search", json!({"query": "x"}))
        .await
        .err(400);
}

/// The text of the tool return in a send's messages.
fn tool_return(res: &Value) -> String {
    res["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_type"] == "tool_return_message")
        .and_then(|m| m["tool_return"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_agent_inserts_and_finds_archival_memories_with_its_tools() {
    let (srv, fake) = setup(true).await;
    let a = agent(&srv, Some("local/all-MiniLM-L6-v2")).await;
    let path = format!("/v1/agents/{a}/messages");
    let send = |input: &str| srv.post(&path, json!({"input": input}));
    for (text, _) in CORPUS {
        fake.push(Reply::tool_call(
            "archival_memory_insert",
            json!({"content": text}),
        ));
        fake.push_text("Noted.");
        send("remember this").await.ok();
    }
    fake.push(Reply::tool_call(
        "archival_memory_search",
        json!({"query": "kitten napping", "top_k": 2}),
    ));
    fake.push_text("Found it.");
    let res = send("what about the kitten?").await.ok();
    let ret = tool_return(&res);
    let miso = ret.find("Miso").expect(&ret);
    assert!(ret.find("Everest").is_none_or(|e| e > miso), "{ret}");
}

#[tokio::test]
async fn conversation_search_finds_old_messages_with_and_without_a_model() {
    for local in [false, true] {
        let (srv, fake) = setup(local).await;
        let a = agent(&srv, local.then_some("local/all-MiniLM-L6-v2")).await;
        let path = format!("/v1/agents/{a}/messages");
        let send = |input: String| srv.post(&path, json!({"input": input}));
        for topic in [
            "I adopted a puppy named Biscuit last spring",
            "My sister lives in Montreal and works as a nurse",
            "I am training for the Berlin marathon in September",
        ] {
            fake.push_text("Nice.");
            send(topic.to_owned()).await.ok();
        }
        let query = if local {
            // No word in common: only the vectors can find it.
            wait_for_recall_vectors(&srv, &a).await;
            "dog"
        } else {
            "marathon"
        };
        fake.push(Reply::tool_call(
            "conversation_search",
            json!({"query": query, "limit": 1}),
        ));
        fake.push_text("Yes.");
        let ret = tool_return(&send("remember?".into()).await.ok());
        let expected = if local { "Biscuit" } else { "Berlin marathon" };
        assert!(ret.contains(expected), "local={local}: {ret}");
        assert!(ret.contains("Showing 1 results"), "{ret}");
    }
}

/// Recall vectors are computed in the background; wait until a vector search answers.
async fn wait_for_recall_vectors(srv: &TestServer, agent: &str) {
    for _ in 0..200 {
        let found = srv
            .post(
                "/v1/messages/search",
                json!({"query": "puppy", "agent_id": agent, "search_mode": "vector"}),
            )
            .await
            .ok();
        if found.as_array().is_some_and(|r| r.len() >= 3) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("recall vectors were not computed in 20 s");
}

#[tokio::test]
async fn the_index_survives_a_restart_and_rebuilds_when_lost() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_EMBEDDING_MODEL_DIR", "/nonexistent/mneme-model"),
    ];
    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let a = agent(&srv, None).await;
    insert_corpus(&srv, &a).await;
    assert_eq!(first(&search(&srv, &a, "recipe eggs").await), CORPUS[3].0);
    srv.stop().await;

    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    assert_eq!(first(&search(&srv, &a, "recipe eggs").await), CORPUS[3].0);
    srv.stop().await;

    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    assert_eq!(first(&search(&srv, &a, "recipe eggs").await), CORPUS[3].0);
    srv.stop().await;
}

/// A search applies new rows to the index's memory only; the outbox keeps them until a flush
/// writes them to disk, so a crash before that loses nothing.
#[tokio::test]
async fn a_crash_loses_no_change_the_index_held_only_in_memory() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_EMBEDDING_MODEL_DIR", "/nonexistent/mneme-model"),
    ];
    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let a = agent(&srv, None).await;
    insert_corpus(&srv, &a).await;
    assert_eq!(first(&search(&srv, &a, "recipe eggs").await), CORPUS[3].0);
    // SIGTERM flushes: the index on disk now has a watermark past the corpus.
    srv.stop().await;

    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let lighthouse = "The lighthouse keeper logs every storm";
    srv.post(
        &format!("/v1/agents/{a}/archival-memory"),
        json!({"text": lighthouse}),
    )
    .await
    .ok();
    assert_eq!(
        first(&search(&srv, &a, "lighthouse storm").await),
        lighthouse
    );
    // Killed before the background flush (5 s after start-up).
    srv.kill().await;

    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    assert_eq!(
        first(&search(&srv, &a, "lighthouse storm").await),
        lighthouse
    );
    assert_eq!(first(&search(&srv, &a, "recipe eggs").await), CORPUS[3].0);
    srv.stop().await;
}

#[tokio::test]
async fn deleting_passages_never_touches_recall_and_the_reverse() {
    let (srv, fake) = setup(false).await;
    let a = agent(&srv, None).await;
    let path = format!("/v1/agents/{a}/archival-memory");
    // Passages and messages number their rows independently: both start at 1 here.
    let mut passages = Vec::new();
    for text in ["zebra facts", "zebra notes", "zebra trivia"] {
        passages.push(id(&srv.post(&path, json!({"text": text})).await.ok()[0]));
    }
    fake.push_text("ok");
    srv.post(
        &format!("/v1/agents/{a}/messages"),
        json!({"input": "zebra stripes are unique"}),
    )
    .await
    .ok();
    for p in &passages {
        srv.delete(&format!("{path}/{p}")).await.ok();
    }
    let found = srv
        .post(
            "/v1/messages/search",
            json!({"query": "zebra", "agent_id": a, "search_mode": "fts"}),
        )
        .await
        .ok();
    assert_eq!(found[0]["content"], "zebra stripes are unique", "{found}");
    srv.patch(&format!("/v1/agents/{a}/reset-messages"), json!({}))
        .await
        .ok();
    srv.post(&path, json!({"text": "zebra herds"})).await.ok();
    assert_eq!(first(&search(&srv, &a, "zebra").await), "zebra herds");
}

#[tokio::test]
async fn recall_still_matches_substrings_as_letta_did() {
    let (srv, fake) = setup(false).await;
    let a = agent(&srv, None).await;
    fake.push_text("Cute.");
    srv.post(
        &format!("/v1/agents/{a}/messages"),
        json!({"input": "My puppy is called Biscuit"}),
    )
    .await
    .ok();
    // "Bisc" is no word of the message: ranking finds nothing, the substring match does.
    let found = srv
        .post(
            "/v1/messages/search",
            json!({"query": "Bisc", "agent_id": a, "search_mode": "fts"}),
        )
        .await
        .ok();
    assert_eq!(found[0]["content"], "My puppy is called Biscuit", "{found}");
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "iscui"}),
    ));
    fake.push_text("Yes.");
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "what was the name?"}),
        )
        .await
        .ok();
    let ret = tool_return(&res);
    assert!(
        ret.contains("Biscuit") && ret.contains("substring"),
        "{ret}"
    );
}

//! `/v1/providers`, the live model catalogue and handle validation, against the fake LLM.

use mneme_testkit::fake_llm::REFUSED_KEY;
use mneme_testkit::{FakeLlm, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

const KEY: &str = "sk-byok-0123456789abcdefSECRET";

/// A server with OpenAI at the fake, and the fake.
async fn setup() -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("OPENAI_API_KEY", "sk-env"),
    ];
    (TestServer::start_with_env(bin(), &env).await, fake)
}

fn assert_masked(v: &Value) {
    let text = v.to_string();
    assert!(!text.contains(KEY) && !text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn providers_are_created_listed_modified_checked_and_deleted() {
    let (srv, fake) = setup().await;
    let body = json!({"name": "my-box", "provider_type": "openai", "api_key": KEY,
        "base_url": fake.base_url()});
    let created = srv.post("/v1/providers/", body).await.ok();
    assert_masked(&created);
    assert_eq!(created["provider_category"], "byok");
    assert_eq!(created["api_key"], "****CRET");
    let pid = id(&created);
    assert!(pid.starts_with("provider-"));
    let listed = srv.get("/v1/providers/?provider_type=openai").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_masked(&listed);
    let none = srv.get("/v1/providers/?name=other").await.ok();
    assert_eq!(none, json!([]));
    assert_masked(&srv.get(&format!("/v1/providers/{pid}")).await.ok());

    let ok = srv
        .post(&format!("/v1/providers/{pid}/check"), json!({}))
        .await
        .ok();
    assert_eq!(ok["message"], "Valid api key for provider_type=openai");
    let refreshed = srv
        .patch(&format!("/v1/providers/{pid}/refresh"), json!({}))
        .await
        .ok();
    assert!(refreshed["last_synced"].is_string(), "{refreshed}");

    let modified = srv
        .patch(
            &format!("/v1/providers/{pid}"),
            json!({"api_key": REFUSED_KEY}),
        )
        .await
        .ok();
    assert_eq!(modified["base_url"], fake.base_url());
    let refused = srv
        .post(&format!("/v1/providers/{pid}/check"), json!({}))
        .await
        .err(401);
    assert_eq!(refused["error"]["type"], "llm_authentication");

    let dup = json!({"name": "my-box", "provider_type": "openai", "api_key": "k"});
    srv.post("/v1/providers/", dup).await.err(409);
    let base = json!({"name": "openai", "provider_type": "openai", "api_key": "k"});
    srv.post("/v1/providers/", base).await.err(400);
    let bedrock = json!({"name": "b", "provider_type": "bedrock", "api_key": "k"});
    srv.post("/v1/providers/", bedrock).await.err(400);

    srv.delete(&format!("/v1/providers/{pid}")).await.ok();
    srv.get(&format!("/v1/providers/{pid}")).await.err(404);
    let gone = json!({"model": "my-box/gpt-4o-mini"});
    srv.post("/v1/agents/", gone).await.err(404);
}

#[tokio::test]
async fn checks_report_bad_keys_and_unreachable_hosts() {
    let (srv, fake) = setup().await;
    let check =
        |key: &str, url: &str| json!({"provider_type": "openai", "api_key": key, "base_url": url});
    let ok = srv
        .post("/v1/providers/check", check(KEY, &fake.base_url()))
        .await
        .ok();
    assert_eq!(ok["message"], "Valid api key for provider_type=openai");
    let bad = srv
        .post("/v1/providers/check", check(REFUSED_KEY, &fake.base_url()))
        .await
        .err(401);
    assert!(bad["detail"].is_string());
    let down = srv
        .post("/v1/providers/check", check(KEY, "http://127.0.0.1:9/v1"))
        .await
        .err(502);
    assert_eq!(down["error"]["type"], "llm_error");
    assert_masked(&down);
}

#[tokio::test]
async fn a_byok_handle_answers_through_its_provider_with_its_key_after_a_restart() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_in(bin(), dir.path()).await;
    let body = json!({"name": "box", "provider_type": "vllm", "api_key": KEY,
        "base_url": fake.base_url()});
    srv.post("/v1/providers/", body).await.ok();
    srv.stop().await;
    let stored = mneme_testkit::stored_bytes(dir.path());
    let needle = KEY.as_bytes();
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle),
        "key stored in clear"
    );

    let srv = TestServer::start_in(bin(), dir.path()).await;
    let agent = srv
        .post("/v1/agents/", json!({"model": "box/qwen3-8b"}))
        .await
        .ok();
    assert_eq!(agent["llm_config"]["provider_name"], "box");
    assert_eq!(agent["llm_config"]["provider_category"], "byok");
    assert_eq!(agent["llm_config"]["max_tokens"], 4096);
    fake.push_text("hello from the box");
    let res = srv
        .post(
            &format!("/v1/agents/{}/messages", id(&agent)),
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .ok();
    assert_eq!(res["messages"][0]["content"], "hello from the box", "{res}");
    let chat = fake
        .recorded()
        .into_iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    assert_eq!(
        chat.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let unknown = srv
        .post("/v1/agents/", json!({"model": "box/not-served"}))
        .await
        .err(404);
    assert!(
        unknown["detail"].as_str().unwrap().contains("box/qwen3-8b"),
        "{unknown}"
    );
}

#[tokio::test]
async fn the_catalogue_lists_what_the_server_serves_and_handles_are_checked() {
    let (srv, _fake) = setup().await;
    let models = srv.get("/v1/models/").await.ok();
    let handles: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["handle"].as_str())
        .collect();
    // qwen3-8b is known only to the server; embedding models are listed apart.
    assert!(handles.contains(&"openai/qwen3-8b"), "{handles:?}");
    assert!(
        !handles.contains(&"openai/text-embedding-3-small"),
        "{handles:?}"
    );
    let embeddings = srv.get("/v1/models/embedding").await.ok();
    assert!(
        embeddings
            .to_string()
            .contains("openai/text-embedding-3-small")
    );
    let byok_only = srv.get("/v1/models/?provider_category=byok").await.ok();
    assert_eq!(byok_only, json!([]));

    let e = srv
        .post(
            "/v1/agents/",
            json!({"model": "anthropic/claude-haiku-4-5"}),
        )
        .await
        .err(404);
    assert!(
        e["detail"].as_str().unwrap().contains("ANTHROPIC_API_KEY"),
        "{e}"
    );
    // A model the server does not list.
    srv.post("/v1/agents/", json!({"model": "openai/gpt-4-32k"}))
        .await
        .err(404);
    let agent = srv
        .post("/v1/agents/", json!({"model": "openai/gpt-4.1"}))
        .await
        .ok();
    assert_eq!(agent["llm_config"]["max_tokens"], 16384);
    assert_eq!(agent["llm_config"]["temperature"], 1.0);
    let path = format!("/v1/agents/{}", id(&agent));
    srv.patch(&path, json!({"model": "nowhere/x"}))
        .await
        .err(404);
}

#[tokio::test]
async fn override_model_is_checked_and_used_for_one_request() {
    let (srv, fake) = setup().await;
    let agent = srv
        .post("/v1/agents/", json!({"model": "openai/gpt-4o-mini"}))
        .await
        .ok();
    let path = format!("/v1/agents/{}/messages", id(&agent));
    let msg = |model: &str| json!({"messages": [{"role": "user", "content": "hi"}], "override_model": model});
    let e = srv.post(&path, msg("openai/no-such-model")).await.err(404);
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("openai/no-such-model")
    );
    srv.post(&path, msg("nowhere/x")).await.err(404);
    assert!(
        fake.requests().is_empty(),
        "no model call for a bad override"
    );
    fake.push_text("from 4.1");
    srv.post(&path, msg("openai/gpt-4.1")).await.ok();
    fake.push_text("back to mini");
    srv.post(
        &path,
        json!({"messages": [{"role": "user", "content": "again"}]}),
    )
    .await
    .ok();
    let models: Vec<Value> = fake.requests().iter().map(|r| r["model"].clone()).collect();
    assert_eq!(models, [json!("gpt-4.1"), json!("gpt-4o-mini")]);
    let stored = srv.get(&format!("/v1/agents/{}", id(&agent))).await.ok();
    assert_eq!(stored["llm_config"]["model"], "gpt-4o-mini");
}

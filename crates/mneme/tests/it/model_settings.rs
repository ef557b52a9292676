//! `model_settings` and `response_format` over HTTP: derived from `llm_config` for every
//! provider family, written back on create and modify, and sent to the model.

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::json;

use crate::{bin, id, server};

#[tokio::test]
async fn an_anthropic_config_shows_anthropic_settings_and_takes_them_back() {
    let srv = server().await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"llm_config": {"model": "claude-haiku-4-5", "model_endpoint_type": "anthropic",
                                  "context_window": 200000, "max_tokens": 8192,
                                  "enable_reasoner": true, "max_reasoning_tokens": 2048}}),
        )
        .await
        .ok();
    let ms = &agent["model_settings"];
    assert_eq!(ms["provider_type"], "anthropic");
    assert_eq!(ms["max_output_tokens"], 8192);
    assert_eq!(
        ms["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    let a = id(&agent);
    let updated = srv
        .patch(
            &format!("/v1/agents/{a}"),
            json!({"model_settings": {"provider_type": "anthropic", "temperature": 0.4,
                                      "thinking": {"type": "disabled", "budget_tokens": 1024},
                                      "effort": "low"}}),
        )
        .await
        .ok();
    let config = &updated["llm_config"];
    assert_eq!(
        (
            &config["temperature"],
            &config["enable_reasoner"],
            &config["max_tokens"]
        ),
        (&json!(0.4), &json!(false), &json!(8192))
    );
    assert_eq!(config["effort"], "low");
    let shown = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert_eq!(shown["model_settings"]["thinking"]["type"], "disabled");
    assert_eq!(shown["model_settings"]["effort"], "low");
}

#[tokio::test]
async fn a_bad_response_format_is_refused() {
    let srv = server().await;
    let err = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "response_format": {"type": "yaml"}}),
        )
        .await
        .err(422);
    assert!(err["detail"].to_string().contains("yaml"), "{err}");
}

#[tokio::test]
async fn the_top_level_response_format_reaches_the_model() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv: TestServer =
        TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", url.as_str())]).await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "response_format": {"type": "json_object"}}),
        )
        .await
        .ok();
    assert_eq!(agent["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        agent["model_settings"]["response_format"],
        json!({"type": "json_object"})
    );
    fake.push(Reply::text(r#"{"ok": true}"#));
    let res = srv
        .post(
            &format!("/v1/agents/{}/messages", id(&agent)),
            json!({"input": "json please"}),
        )
        .await
        .ok();
    assert_eq!(res["messages"][0]["content"], r#"{"ok": true}"#);
    assert_eq!(
        fake.requests()[0]["response_format"],
        json!({"type": "json_object"})
    );
}

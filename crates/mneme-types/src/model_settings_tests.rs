#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::FormatChange;

fn llm(endpoint: &str) -> LlmConfig {
    serde_json::from_value(json!({
        "model": "m", "model_endpoint_type": endpoint, "context_window": 8000,
        "temperature": 0.3, "max_tokens": 2000, "parallel_tool_calls": true,
        "enable_reasoner": false, "max_reasoning_tokens": 0
    }))
    .unwrap()
}

#[test]
fn an_openai_config_shows_openai_settings_with_its_response_format() {
    let format = ResponseFormat::JsonObject;
    let shown = serde_json::to_value(ModelSettings::from_config(&llm("openai"), Some(&format)));
    assert_eq!(
        shown.unwrap(),
        json!({
            "provider_type": "openai", "max_output_tokens": 2000, "parallel_tool_calls": true,
            "temperature": 0.3, "reasoning": {"reasoning_effort": "minimal"},
            "response_format": {"type": "json_object"}, "strict": false
        })
    );
}

#[test]
fn anthropic_thinking_follows_the_reasoner_switch() {
    let mut config = llm("anthropic");
    config.enable_reasoner = true;
    config.max_reasoning_tokens = 2048;
    let shown = serde_json::to_value(ModelSettings::from_config(&config, None)).unwrap();
    assert_eq!(shown["provider_type"], "anthropic");
    assert_eq!(
        shown["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(shown["effort"], Value::Null);
    let shown = serde_json::to_value(ModelSettings::from_config(&llm("anthropic"), None)).unwrap();
    assert_eq!(
        shown["thinking"],
        json!({"type": "disabled", "budget_tokens": 1024})
    );
}

#[test]
fn unknown_endpoint_types_show_the_generic_shape() {
    let shown = serde_json::to_value(ModelSettings::from_config(&llm("ollama"), None)).unwrap();
    assert_eq!(
        shown,
        json!({"max_output_tokens": 2000, "parallel_tool_calls": true})
    );
}

#[test]
fn applying_settings_writes_the_legacy_config_fields() {
    let sent: ModelSettings = serde_json::from_value(json!({
        "provider_type": "anthropic", "temperature": 0.5, "max_output_tokens": 999,
        "thinking": {"type": "enabled", "budget_tokens": 3000},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    }))
    .unwrap();
    let mut config = llm("anthropic");
    let change = sent.apply(&mut config);
    assert_eq!(
        (
            config.temperature,
            config.max_tokens,
            config.enable_reasoner,
            config.max_reasoning_tokens
        ),
        (0.5, Some(999), true, 3000)
    );
    // Letta's class default: parallel calls on.
    assert_eq!(config.parallel_tool_calls, Some(true));
    let FormatChange::Set(Some(ResponseFormat::JsonSchema { json_schema })) = change else {
        panic!("{change:?}")
    };
    assert_eq!(json_schema["name"], "x");
}

#[test]
fn a_left_out_max_output_tokens_keeps_max_tokens_and_defaults_apply() {
    let sent: ModelSettings =
        serde_json::from_value(json!({"provider_type": "openai", "parallel_tool_calls": false}))
            .unwrap();
    let mut config = llm("openai");
    assert_eq!(sent.apply(&mut config), FormatChange::Set(None));
    assert_eq!(config.max_tokens, Some(2000));
    assert_eq!(config.temperature, 0.7);
    assert_eq!(config.parallel_tool_calls, Some(false));
    assert_eq!(config.reasoning_effort.as_deref(), Some("high"));
}

#[test]
fn round_trip_of_every_provider_type() {
    for endpoint in [
        "openai",
        "anthropic",
        "google_ai",
        "google_vertex",
        "azure",
        "xai",
        "zai",
        "groq",
        "deepseek",
        "together",
        "bedrock",
        "openrouter",
        "baseten",
        "chatgpt_oauth",
    ] {
        let shown = ModelSettings::from_config(&llm(endpoint), None);
        let wire = serde_json::to_value(&shown).unwrap();
        let back: ModelSettings = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(back, shown, "{endpoint}: {wire}");
        let mut config = llm(endpoint);
        back.apply(&mut config);
        assert_eq!(
            (config.temperature, config.max_tokens),
            (0.3, Some(2000)),
            "{endpoint}"
        );
    }
}

#[test]
fn a_misspelt_provider_type_is_refused_with_its_name() {
    let err =
        serde_json::from_value::<ModelSettings>(json!({"provider_type": "opena1"})).unwrap_err();
    assert!(err.to_string().contains("opena1"), "{err}");
    assert!(serde_json::from_value::<ModelSettings>(json!({"temperature": 1})).is_err());
}

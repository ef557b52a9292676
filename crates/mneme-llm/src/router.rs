//! `LlmRouter`: picks the client for a config's `model_endpoint_type` from the provider
//! registry, and the base URL the call goes to.

use std::borrow::Cow;

use async_trait::async_trait;
use mneme_types::{ConfiguredProviders, LlmConfig, ProviderKind, ProviderSpec, Wire};

use crate::openai::{OpenAiClient, OpenAiOptions};
use crate::{ChatRequest, ChatResponse, ChatStream, LlmClient, LlmError};

/// The `LlmClient` the step loop holds: one client per wire protocol, chosen per call by the
/// registry row of the config's endpoint type.
#[derive(Debug, Clone)]
pub struct LlmRouter {
    openai: OpenAiClient,
}

/// A client for one call, with the base URL it goes to.
enum Route<'a> {
    OpenAi(&'a OpenAiClient, Cow<'a, str>),
}

impl LlmRouter {
    pub fn new(openai: OpenAiClient) -> LlmRouter {
        LlmRouter { openai }
    }

    /// The router for what the operator configured: every client gets the API keys of the
    /// providers it serves, each under its provider's name.
    pub fn configured(
        options: OpenAiOptions,
        providers: &ConfiguredProviders,
    ) -> Result<LlmRouter, LlmError> {
        let mut openai = OpenAiClient::new(options)?;
        for (spec, settings) in providers.iter() {
            if let (Some(Wire::OpenAi), Some(key)) = (spec.chat, &settings.api_key) {
                openai = openai.with_api_key(spec.name, key.clone());
            }
        }
        Ok(LlmRouter { openai })
    }

    /// Whether a call with this endpoint type would reach a provider.
    pub fn supports(endpoint_type: &str) -> bool {
        chat_spec(endpoint_type).is_some_and(|spec| spec.chat == Some(Wire::OpenAi))
    }

    fn route<'a>(&'a self, config: &'a LlmConfig) -> Result<Route<'a>, LlmError> {
        let kind = config.model_endpoint_type.as_str();
        let unsupported = || LlmError::Unsupported(kind.to_owned());
        let spec = chat_spec(kind).ok_or_else(unsupported)?;
        match spec.chat {
            Some(Wire::OpenAi) => Ok(Route::OpenAi(
                &self.openai,
                spec.openai_base_url(config.model_endpoint.as_deref()),
            )),
            Some(Wire::Anthropic | Wire::Gemini) | None => Err(unsupported()),
        }
    }
}

fn chat_spec(endpoint_type: &str) -> Option<&'static ProviderSpec> {
    ProviderKind::from_endpoint_type(endpoint_type).map(ProviderKind::spec)
}

#[async_trait]
impl LlmClient for LlmRouter {
    async fn chat(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        match self.route(config)? {
            Route::OpenAi(client, base) => client.chat_at(&base, config, request).await,
        }
    }

    async fn chat_stream(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        match self.route(config)? {
            Route::OpenAi(client, base) => client.chat_stream_at(&base, config, request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::{PROVIDERS, ProviderSettings};
    use serde_json::json;

    fn router() -> LlmRouter {
        LlmRouter::new(OpenAiClient::new(OpenAiOptions::default()).unwrap())
    }

    fn config(kind: &str, endpoint: Option<&str>) -> LlmConfig {
        serde_json::from_value(json!({
            "model": "m", "model_endpoint_type": kind, "model_endpoint": endpoint,
            "context_window": 8192,
        }))
        .unwrap()
    }

    fn endpoint(kind: &str, endpoint: Option<&str>) -> String {
        let config = config(kind, endpoint);
        match router().route(&config).unwrap() {
            Route::OpenAi(_, base) => base.into_owned(),
        }
    }

    #[test]
    fn ollama_gets_the_v1_suffix_once() {
        let expected = "http://host:11434/v1";
        assert_eq!(endpoint("ollama", Some("http://host:11434")), expected);
        assert_eq!(endpoint("ollama", Some("http://host:11434/")), expected);
        assert_eq!(endpoint("ollama", Some("http://host:11434/v1")), expected);
        assert_eq!(endpoint("ollama", None), "http://localhost:11434/v1");
    }

    #[test]
    fn endpoints_are_kept_or_defaulted() {
        assert_eq!(endpoint("openai", None), crate::OPENAI_BASE_URL);
        assert_eq!(endpoint("openai-compatible", None), crate::OPENAI_BASE_URL);
        assert_eq!(
            endpoint("openai", Some("http://proxy/openai")),
            "http://proxy/openai"
        );
        assert_eq!(
            endpoint("vllm", Some("http://gpu:9000/v1")),
            "http://gpu:9000/v1"
        );
        assert_eq!(endpoint("vllm", None), "http://localhost:8000/v1");
        assert_eq!(
            endpoint("lmstudio_openai", None),
            "http://localhost:1234/v1"
        );
        assert_eq!(endpoint("groq", None), "https://api.groq.com/openai/v1");
    }

    #[test]
    fn every_openai_compatible_row_has_somewhere_to_go() {
        for spec in PROVIDERS.iter().filter(|s| s.chat == Some(Wire::OpenAi)) {
            assert!(LlmRouter::supports(spec.endpoint_type), "{}", spec.name);
            assert!(endpoint(spec.endpoint_type, None).starts_with("http"));
        }
    }

    #[tokio::test]
    async fn providers_without_a_client_are_unsupported() {
        let request = ChatRequest {
            system: None,
            messages: vec![],
            tools: vec![],
            tool_choice: crate::ToolChoice::Auto,
        };
        for kind in ["anthropic", "google_ai", "bedrock"] {
            let error = router().chat(&config(kind, None), &request).await;
            assert_eq!(error, Err(LlmError::Unsupported(kind.into())));
            assert!(!LlmRouter::supports(kind));
        }
        assert!(LlmRouter::supports("together"));
    }

    #[test]
    fn configured_keys_go_to_their_providers_clients() {
        let key = |k: &str| ProviderSettings {
            api_key: Some(k.into()),
            base_url: None,
        };
        let providers = ConfiguredProviders::default()
            .with(ProviderKind::Openai, key("sk-openai"))
            .with(ProviderKind::Anthropic, key("sk-ant"));
        let router = LlmRouter::configured(OpenAiOptions::default(), &providers).unwrap();
        // Anthropic has no client yet, so its key is held by none.
        assert_eq!(router.openai.providers_with_keys(), ["openai"]);
    }
}

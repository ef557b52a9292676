//! `LlmRouter`: picks the provider client for a config's `model_endpoint_type`.

use std::borrow::Cow;

use async_trait::async_trait;
use mneme_types::LlmConfig;

use crate::openai::OpenAiClient;
use crate::{ChatRequest, ChatResponse, ChatStream, LlmClient, LlmError};

/// Endpoint types that speak OpenAI's Chat Completions, with the base URL each one uses when
/// the config names none (`None`: OpenAI's own).
const OPENAI_COMPATIBLE: [(&str, Option<&str>); 10] = [
    ("openai", None),
    ("openai-compatible", None),
    ("vllm", Some("http://localhost:8000/v1")),
    ("ollama", Some("http://localhost:11434/v1")),
    ("lmstudio_openai", Some("http://localhost:1234/v1")),
    ("together", Some("https://api.together.xyz/v1")),
    ("groq", Some("https://api.groq.com/openai/v1")),
    ("deepseek", Some("https://api.deepseek.com/v1")),
    ("xai", Some("https://api.x.ai/v1")),
    ("openrouter", Some("https://openrouter.ai/api/v1")),
];

/// The `LlmClient` the step loop holds: dispatches each call on `model_endpoint_type`.
#[derive(Debug, Clone)]
pub struct LlmRouter {
    openai: OpenAiClient,
}

impl LlmRouter {
    pub fn new(openai: OpenAiClient) -> LlmRouter {
        LlmRouter { openai }
    }

    /// Whether a call with this endpoint type would reach a provider.
    pub fn supports(endpoint_type: &str) -> bool {
        OPENAI_COMPATIBLE.iter().any(|(t, _)| *t == endpoint_type)
    }

    fn route<'a>(&self, config: &'a LlmConfig) -> Result<Cow<'a, LlmConfig>, LlmError> {
        let kind = config.model_endpoint_type.as_str();
        let Some((_, default_url)) = OPENAI_COMPATIBLE.iter().find(|(t, _)| *t == kind) else {
            return Err(LlmError::Unsupported(kind.to_owned()));
        };
        let endpoint = config.model_endpoint.as_deref().or(*default_url);
        let endpoint = match (kind, endpoint) {
            // Letta stores Ollama's native root (`http://host:11434`); its OpenAI API is `/v1`.
            ("ollama", Some(url)) if !url.trim_end_matches('/').ends_with("/v1") => {
                Some(format!("{}/v1", url.trim_end_matches('/')))
            }
            (_, url) => url.map(str::to_owned),
        };
        if endpoint == config.model_endpoint {
            return Ok(Cow::Borrowed(config));
        }
        let mut config = config.clone();
        config.model_endpoint = endpoint;
        Ok(Cow::Owned(config))
    }
}

#[async_trait]
impl LlmClient for LlmRouter {
    async fn chat(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let config = self.route(config)?;
        self.openai.chat(&config, request).await
    }

    async fn chat_stream(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let config = self.route(config)?;
        self.openai.chat_stream(&config, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::OpenAiOptions;
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

    fn endpoint(kind: &str, endpoint: Option<&str>) -> Option<String> {
        router()
            .route(&config(kind, endpoint))
            .unwrap()
            .model_endpoint
            .clone()
    }

    #[test]
    fn ollama_gets_the_v1_suffix_once() {
        let expected = Some("http://host:11434/v1".to_owned());
        assert_eq!(endpoint("ollama", Some("http://host:11434")), expected);
        assert_eq!(endpoint("ollama", Some("http://host:11434/")), expected);
        assert_eq!(endpoint("ollama", Some("http://host:11434/v1")), expected);
        assert_eq!(
            endpoint("ollama", None).as_deref(),
            Some("http://localhost:11434/v1")
        );
    }

    #[test]
    fn endpoints_are_kept_or_defaulted() {
        assert_eq!(endpoint("openai", None), None);
        assert_eq!(
            endpoint("vllm", Some("http://gpu:9000/v1")).as_deref(),
            Some("http://gpu:9000/v1")
        );
        assert_eq!(
            endpoint("groq", None).as_deref(),
            Some("https://api.groq.com/openai/v1")
        );
    }

    #[tokio::test]
    async fn unknown_endpoint_types_are_unsupported() {
        let request = ChatRequest {
            messages: vec![],
            tools: vec![],
            tool_choice: crate::ToolChoice::Auto,
        };
        let error = router().chat(&config("anthropic", None), &request).await;
        assert_eq!(error, Err(LlmError::Unsupported("anthropic".into())));
        assert!(!LlmRouter::supports("google_ai") && LlmRouter::supports("together"));
    }
}

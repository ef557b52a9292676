//! `LlmRouter`: resolves where a call goes (the access table) and which client speaks that
//! provider's protocol (the registry's `Wire`).

use std::sync::Arc;

use async_trait::async_trait;
use mneme_types::{LlmConfig, Wire};
use serde_json::Value;

use crate::access::{AccessTable, Endpoint, ProviderAccess};
use crate::anthropic::AnthropicClient;
use crate::gemini::GeminiClient;
use crate::ollama::OllamaClient;
use crate::openai::{OpenAiClient, OpenAiOptions};
use crate::{ChatRequest, ChatResponse, ChatStream, LlmClient, LlmError, RemoteModel};

/// The `LlmClient` the step loop holds: one client per wire protocol, chosen per call by the
/// registry row of the config's endpoint type, with the endpoint and key from the access table.
#[derive(Debug, Clone)]
pub struct LlmRouter {
    access: Arc<AccessTable>,
    openai: OpenAiClient,
    gemini: GeminiClient,
    ollama: OllamaClient,
    anthropic: AnthropicClient,
}

impl LlmRouter {
    /// A router over `access`; the caller keeps the table to change it later.
    pub fn new(options: OpenAiOptions, access: Arc<AccessTable>) -> Result<LlmRouter, LlmError> {
        // One connection pool (and one load of the CA roots) for every provider.
        let http = crate::openai::http_client(&options)?;
        Ok(LlmRouter {
            access,
            gemini: GeminiClient::new(http.clone(), options.clone()),
            ollama: OllamaClient::new(http.clone(), options.clone()),
            anthropic: AnthropicClient::new(http.clone(), options.clone()),
            openai: OpenAiClient::with_http(http, options),
        })
    }

    /// The table calls are resolved against.
    pub fn access(&self) -> &Arc<AccessTable> {
        &self.access
    }

    /// Whether a call with this endpoint type would reach a client.
    pub fn supports(endpoint_type: &str) -> bool {
        mneme_types::ProviderKind::from_endpoint_type(endpoint_type)
            .and_then(|k| k.spec().chat)
            .is_some_and(has_client)
    }

    fn endpoint(&self, config: &LlmConfig) -> Result<Endpoint, LlmError> {
        let unsupported = || LlmError::Unsupported(config.model_endpoint_type.clone());
        let endpoint = self.access.endpoint(config).ok_or_else(unsupported)?;
        match endpoint.kind.spec().chat {
            Some(wire) if has_client(wire) => Ok(endpoint),
            _ => Err(unsupported()),
        }
    }

    /// The models provider `name` serves, asked from its model list.
    pub async fn list_models(&self, name: &str) -> Result<Vec<RemoteModel>, LlmError> {
        let unsupported = || LlmError::Unsupported(name.to_owned());
        let endpoint = self
            .access
            .provider_endpoint(name)
            .ok_or_else(unsupported)?;
        self.list_models_at_endpoint(&endpoint).await
    }

    /// The models served at `access`, which need not be in the table (checking a key).
    pub async fn list_models_at(
        &self,
        access: &ProviderAccess,
    ) -> Result<Vec<RemoteModel>, LlmError> {
        let endpoint = Endpoint {
            kind: access.kind,
            base_url: access
                .kind
                .spec()
                .openai_base_url(access.base_url.as_deref())
                .into_owned(),
            api_key: access.api_key.clone(),
            api_version: access.api_version.clone(),
        };
        self.list_models_at_endpoint(&endpoint).await
    }

    async fn list_models_at_endpoint(
        &self,
        endpoint: &Endpoint,
    ) -> Result<Vec<RemoteModel>, LlmError> {
        match endpoint.kind.spec().chat {
            Some(Wire::OpenAi) => self.openai.list_models(endpoint).await,
            Some(Wire::Gemini) => self.gemini.list_models(endpoint).await,
            Some(Wire::Ollama) => self.ollama.list_models(endpoint).await,
            Some(Wire::Anthropic) => self.anthropic.list_models(endpoint).await,
            _ => Err(LlmError::Unsupported(
                endpoint.kind.endpoint_type().to_owned(),
            )),
        }
    }
}

/// Whether this crate has a client for `wire`.
fn has_client(wire: Wire) -> bool {
    matches!(
        wire,
        Wire::OpenAi | Wire::Anthropic | Wire::Gemini | Wire::Ollama
    )
}

#[async_trait]
impl LlmClient for LlmRouter {
    async fn chat(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let endpoint = self.endpoint(config)?;
        match endpoint.kind.spec().chat {
            Some(Wire::OpenAi) => self.openai.chat_at(&endpoint, config, request).await,
            Some(Wire::Gemini) => self.gemini.chat_at(&endpoint, config, request).await,
            Some(Wire::Ollama) => self.ollama.chat_at(&endpoint, config, request).await,
            Some(Wire::Anthropic) => self.anthropic.chat_at(&endpoint, config, request).await,
            _ => Err(LlmError::Unsupported(config.model_endpoint_type.clone())),
        }
    }

    fn request_body(&self, config: &LlmConfig, request: &ChatRequest) -> Result<Value, LlmError> {
        let endpoint = self.endpoint(config)?;
        match endpoint.kind.spec().chat {
            Some(Wire::OpenAi) => self.openai.request_body(&endpoint, config, request),
            Some(Wire::Gemini) => Ok(self.gemini.request_body(config, request)),
            Some(Wire::Ollama) => Ok(self.ollama.request_body(config, request)),
            Some(Wire::Anthropic) => Ok(self.anthropic.request_body(config, request)),
            _ => Err(LlmError::Unsupported(config.model_endpoint_type.clone())),
        }
    }

    async fn chat_stream(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let endpoint = self.endpoint(config)?;
        match endpoint.kind.spec().chat {
            Some(Wire::OpenAi) => self.openai.chat_stream_at(&endpoint, config, request).await,
            Some(Wire::Gemini) => self.gemini.chat_stream_at(&endpoint, config, request).await,
            Some(Wire::Ollama) => self.ollama.chat_stream_at(&endpoint, config, request).await,
            Some(Wire::Anthropic) => {
                let anthropic = &self.anthropic;
                anthropic.chat_stream_at(&endpoint, config, request).await
            }
            _ => Err(LlmError::Unsupported(config.model_endpoint_type.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProviderAccess;
    use mneme_types::{ConfiguredProviders, PROVIDERS, ProviderKind, ProviderSettings};
    use serde_json::json;

    fn router(providers: &ConfiguredProviders) -> LlmRouter {
        let access = Arc::new(AccessTable::configured(providers));
        LlmRouter::new(OpenAiOptions::default(), access).unwrap()
    }

    fn config(kind: &str, endpoint: Option<&str>) -> LlmConfig {
        serde_json::from_value(json!({
            "model": "m", "model_endpoint_type": kind, "model_endpoint": endpoint,
            "context_window": 8192,
        }))
        .unwrap()
    }

    fn endpoint(kind: &str, endpoint: Option<&str>) -> String {
        let router = router(&ConfiguredProviders::default());
        router.endpoint(&config(kind, endpoint)).unwrap().base_url
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
            // Azure has no public endpoint: each resource has its own URL.
            if spec.kind != ProviderKind::Azure {
                assert!(endpoint(spec.endpoint_type, None).starts_with("http"));
            }
        }
    }

    #[tokio::test]
    async fn unknown_endpoint_types_are_unsupported() {
        let request = ChatRequest {
            system: None,
            messages: vec![],
            tools: vec![],
            tool_choice: crate::ToolChoice::Auto,
            response_format: None,
        };
        let router = router(&ConfiguredProviders::default());
        let error = router.chat(&config("bedrock", None), &request).await;
        assert_eq!(error, Err(LlmError::Unsupported("bedrock".into())));
        assert!(!LlmRouter::supports("bedrock"));
        assert!(LlmRouter::supports("together"));
    }

    #[test]
    fn keys_go_only_to_their_own_provider() {
        let key = |k: &str| ProviderSettings {
            api_key: Some(k.into()),
            ..ProviderSettings::default()
        };
        let providers = ConfiguredProviders::default()
            .with(ProviderKind::Openai, key("sk-openai"))
            .with(ProviderKind::Groq, key("gsk-groq"));
        let router = router(&providers);
        let key_of = |kind: &str| router.endpoint(&config(kind, None)).unwrap().api_key;
        assert_eq!(key_of("openai").as_deref(), Some("sk-openai"));
        assert_eq!(key_of("groq").as_deref(), Some("gsk-groq"));
        assert_eq!(key_of("vllm"), None);
    }

    #[test]
    fn a_provider_added_later_is_found_by_its_name() {
        let router = router(&ConfiguredProviders::default());
        router.access().set(
            "my-vllm",
            ProviderAccess {
                kind: ProviderKind::Vllm,
                base_url: Some("http://gpu:8000/v1".into()),
                api_key: Some("k".into()),
                api_version: None,
            },
        );
        let mut config = config("vllm", None);
        config.provider_name = Some("my-vllm".into());
        let endpoint = router.endpoint(&config).unwrap();
        assert_eq!(endpoint.base_url, "http://gpu:8000/v1");
        assert_eq!(endpoint.api_key.as_deref(), Some("k"));
        let debug = format!("{endpoint:?} {:?}", router.access().get("my-vllm"));
        assert!(!debug.contains("\"k\""), "{debug}");
    }
}

//! `model_settings`: the 1.x API's per-provider view of an agent's model configuration, and
//! Letta's `response_format` union.
//!
//! mneme keeps one source of truth, the agent's `llm_config` (plus its `response_format`):
//! `ModelSettings::from_config` derives the settings every `AgentState` shows, and
//! `ModelSettings::apply` writes settings a client sends back into the config, field for field
//! as Letta maps them (`_to_model_settings` / `_to_legacy_config_params`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::LlmConfig;

/// Letta's `ResponseFormatUnion`: what the model's final answer must look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    /// `json_schema` is OpenAI's object: `{name, schema, strict?, description?}`.
    JsonSchema {
        json_schema: Map<String, Value>,
    },
}

/// `model_settings`: one shape per provider type, or the generic shape Letta shows for
/// endpoint types it has no settings class for (no `provider_type`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ModelSettings {
    Provider(ProviderSettings),
    Generic(GenericSettings),
}

impl<'de> Deserialize<'de> for ModelSettings {
    /// By `provider_type` when present, so that errors name the field at fault rather than
    /// "no variant matched".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        if v.get("provider_type").is_some() {
            ProviderSettings::deserialize(v)
                .map(ModelSettings::Provider)
                .map_err(D::Error::custom)
        } else {
            GenericSettings::deserialize(v)
                .map(ModelSettings::Generic)
                .map_err(D::Error::custom)
        }
    }
}

/// The settings classes, by `provider_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "provider_type")]
pub enum ProviderSettings {
    #[serde(rename = "openai")]
    OpenAi(OpenAiSettings),
    #[serde(rename = "sglang")]
    SgLang(SgLangSettings),
    #[serde(rename = "anthropic")]
    Anthropic(AnthropicSettings),
    #[serde(rename = "google_ai")]
    GoogleAi(GoogleSettings),
    #[serde(rename = "google_vertex")]
    GoogleVertex(GoogleSettings),
    #[serde(rename = "azure")]
    Azure(CompatibleSettings),
    #[serde(rename = "xai")]
    Xai(CompatibleSettings),
    #[serde(rename = "zai")]
    Zai(ZaiSettings),
    #[serde(rename = "groq")]
    Groq(CompatibleSettings),
    #[serde(rename = "deepseek")]
    Deepseek(CompatibleSettings),
    #[serde(rename = "together")]
    Together(CompatibleSettings),
    #[serde(rename = "bedrock")]
    Bedrock(CompatibleSettings),
    #[serde(rename = "baseten")]
    Baseten(BasetenSettings),
    #[serde(rename = "openrouter")]
    OpenRouter(CompatibleSettings),
    #[serde(rename = "chatgpt_oauth")]
    ChatGptOauth(ChatGptOauthSettings),
}

/// `ModelSettings` (the base class). Unknown keys are refused so that a misspelt
/// `provider_type` is an error, not silently this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericSettings {
    /// `None` when a request left it out: the config's `max_tokens` is then kept, as in Letta.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
}

/// `OpenAIModelSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpenAiSettings {
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    #[serde(default = "temperature_07")]
    pub temperature: f64,
    #[serde(default = "high_effort")]
    pub reasoning: OpenAiReasoning,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    #[serde(default = "yes")]
    pub strict: bool,
}

/// `SGLangModelSettings`: OpenAI's, with the server's tool call parser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SgLangSettings {
    #[serde(flatten)]
    pub openai: OpenAiSettings,
    #[serde(default)]
    pub tool_call_parser: Option<String>,
}

/// `OpenAIReasoning` / `ChatGPTOAuthReasoning`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpenAiReasoning {
    #[serde(default = "minimal")]
    pub reasoning_effort: String,
}

/// `AnthropicModelSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AnthropicSettings {
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    #[serde(default = "temperature_1")]
    pub temperature: f64,
    #[serde(default)]
    pub thinking: AnthropicThinking,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    #[serde(default)]
    pub verbosity: Option<String>,
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub strict: bool,
}

/// `AnthropicThinking`: `type` is `enabled` or `disabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AnthropicThinking {
    #[serde(rename = "type", default = "enabled")]
    pub kind: String,
    #[serde(default = "budget_1024")]
    pub budget_tokens: u32,
}

impl Default for AnthropicThinking {
    fn default() -> Self {
        AnthropicThinking {
            kind: enabled(),
            budget_tokens: 1024,
        }
    }
}

/// `GoogleAIModelSettings` / `GoogleVertexModelSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GoogleSettings {
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    #[serde(default = "temperature_07")]
    pub temperature: f64,
    #[serde(default)]
    pub thinking_config: GeminiThinkingConfig,
    #[serde(default)]
    pub response_schema: Option<ResponseFormat>,
}

/// `GeminiThinkingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeminiThinkingConfig {
    #[serde(default = "yes")]
    pub include_thoughts: bool,
    #[serde(default = "budget_1024")]
    pub thinking_budget: u32,
}

impl Default for GeminiThinkingConfig {
    fn default() -> Self {
        GeminiThinkingConfig {
            include_thoughts: true,
            thinking_budget: 1024,
        }
    }
}

/// The OpenAI-compatible providers' settings (Azure, xAI, Groq, DeepSeek, Together, Bedrock,
/// OpenRouter): no reasoning options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompatibleSettings {
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    #[serde(default = "temperature_07")]
    pub temperature: f64,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
}

/// `ZAIModelSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ZaiSettings {
    #[serde(flatten)]
    pub base: CompatibleSettings,
    #[serde(default)]
    pub thinking: ZaiThinking,
}

/// `ZAIThinking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ZaiThinking {
    #[serde(rename = "type", default = "enabled")]
    pub kind: String,
    #[serde(default)]
    pub clear_thinking: bool,
}

impl Default for ZaiThinking {
    fn default() -> Self {
        ZaiThinking {
            kind: enabled(),
            clear_thinking: false,
        }
    }
}

/// `BasetenModelSettings`: no response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BasetenSettings {
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    #[serde(default = "temperature_07")]
    pub temperature: f64,
}

/// `ChatGPTOAuthModelSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatGptOauthSettings {
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    #[serde(default = "temperature_07")]
    pub temperature: f64,
    #[serde(default = "medium_effort")]
    pub reasoning: OpenAiReasoning,
}

fn yes() -> bool {
    true
}

fn temperature_07() -> f64 {
    0.7
}

fn temperature_1() -> f64 {
    1.0
}

fn budget_1024() -> u32 {
    1024
}

fn enabled() -> String {
    "enabled".into()
}

fn minimal() -> String {
    "minimal".into()
}

fn high_effort() -> OpenAiReasoning {
    OpenAiReasoning {
        reasoning_effort: "high".into(),
    }
}

fn medium_effort() -> OpenAiReasoning {
    OpenAiReasoning {
        reasoning_effort: "medium".into(),
    }
}

#[path = "model_settings_map.rs"]
mod map;
pub use map::FormatChange;

#[cfg(test)]
#[path = "model_settings_tests.rs"]
mod tests;

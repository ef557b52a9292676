//! Model configurations: `LLMConfig` and `EmbeddingConfig`.
//!
//! The fields mneme acts on are typed; everything else a client sends is kept in `extra` and
//! returned unchanged, so newer SDK fields survive a round trip.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `LLMConfig`: `model`, `model_endpoint_type` and `context_window` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LlmConfig {
    pub model: String,
    pub model_endpoint_type: String,
    #[serde(default)]
    pub model_endpoint: Option<String>,
    #[serde(default)]
    pub provider_name: Option<String>,
    #[serde(default)]
    pub provider_category: Option<String>,
    pub context_window: u32,
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub put_inner_thoughts_in_kwargs: Option<bool>,
    #[serde(default = "default_true")]
    pub enable_reasoner: bool,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    #[serde(default)]
    pub max_reasoning_tokens: u32,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `EmbeddingConfig`: `embedding_endpoint_type`, `embedding_model`, `embedding_dim` required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EmbeddingConfig {
    pub embedding_endpoint_type: String,
    #[serde(default)]
    pub embedding_endpoint: Option<String>,
    pub embedding_model: String,
    pub embedding_dim: u32,
    #[serde(default = "default_chunk_size")]
    pub embedding_chunk_size: Option<u32>,
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_temperature() -> f64 {
    1.0
}

fn default_true() -> bool {
    true
}

fn default_chunk_size() -> Option<u32> {
    Some(300)
}

fn default_batch_size() -> u32 {
    32
}

//! Model answers outside an agent's turn loop: `POST /v1/agents/{id}/generate` (one completion
//! with the agent's model, nothing stored) and the OpenAI-compatible `POST /v1/chat/completions`
//! (a turn of the agent named by `model`, streamed as `chat.completion.chunk` frames).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::LettaUsageStatistics;

/// `GenerateRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GenerateRequest {
    /// Refused when blank, as Letta's validator does, while the request is read (422).
    #[serde(deserialize_with = "non_blank")]
    pub prompt: String,
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// A model handle in place of the agent's.
    #[serde(default)]
    pub override_model: Option<String>,
    /// A JSON schema (`properties`, `required`) the answer must follow; the model is made to
    /// call one tool with it and the call's arguments are the answer.
    #[serde(default)]
    pub response_schema: Option<Map<String, Value>>,
}

fn non_blank<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "prompt cannot be empty or whitespace-only",
        ));
    }
    Ok(text)
}

/// `GenerateResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GenerateResponse {
    pub content: String,
    /// The model's name (`llm_config.model`), not its handle.
    pub model: String,
    pub usage: LettaUsageStatistics,
}

/// `ChatCompletionRequest`: OpenAI's request. Only `model` (an agent id) and the last user
/// message drive the turn; the sampling fields are accepted and, as in Letta, not used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<ChatCompletionMessage>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stop: Option<Value>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    #[serde(default)]
    pub user: Option<String>,
}

/// One message of an OpenAI conversation. Only user messages are read, so other roles keep no
/// more than their role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatCompletionMessage {
    pub role: String,
    /// A user message's text, or its parts (`{"type": "text", "text": ...}`), passed on as a
    /// Letta message's content.
    #[serde(default)]
    pub content: Option<Value>,
}

/// `ChatCompletionChunk`, in the field order (and with the `null`s) of OpenAI's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatCompletionChunk {
    /// `chatcmpl-<run id>`.
    pub id: String,
    pub choices: Vec<ChunkChoice>,
    /// Unix seconds when the completion started; the same in every chunk.
    pub created: i64,
    pub model: String,
    pub object: ChunkObject,
    pub service_tier: Option<String>,
    pub system_fingerprint: Option<String>,
    pub usage: Option<Value>,
}

/// The constant `"chat.completion.chunk"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ChunkObject {
    #[serde(rename = "chat.completion.chunk")]
    ChatCompletionChunk,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChunkChoice {
    pub delta: ChoiceDelta,
    /// `stop` on the last chunk, `null` before.
    pub finish_reason: Option<String>,
    pub index: u32,
    pub logprobs: Option<Value>,
}

/// The text a chunk adds; the first one names the role.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChoiceDelta {
    pub content: Option<String>,
    pub function_call: Option<Value>,
    pub refusal: Option<String>,
    pub role: Option<String>,
    pub tool_calls: Option<Value>,
}

/// An error inside a chat completion stream, in OpenAI's shape (its client raises on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatCompletionError {
    pub error: ChatCompletionErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatCompletionErrorBody {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_prompt_is_refused_when_read() {
        let err = serde_json::from_str::<GenerateRequest>(r#"{"prompt": "  "}"#).unwrap_err();
        assert!(err.to_string().contains("whitespace-only"), "{err}");
    }

    #[test]
    fn a_chunk_is_written_as_openai_writes_it() {
        let chunk = ChatCompletionChunk {
            id: "chatcmpl-x".into(),
            choices: vec![ChunkChoice {
                delta: ChoiceDelta {
                    content: Some("hi".into()),
                    role: Some("assistant".into()),
                    ..ChoiceDelta::default()
                },
                finish_reason: None,
                index: 0,
                logprobs: None,
            }],
            created: 1,
            model: "m".into(),
            object: ChunkObject::ChatCompletionChunk,
            service_tier: None,
            system_fingerprint: None,
            usage: None,
        };
        assert_eq!(
            serde_json::to_string(&chunk).unwrap(),
            r#"{"id":"chatcmpl-x","choices":[{"delta":{"content":"hi","function_call":null,"refusal":null,"role":"assistant","tool_calls":null},"finish_reason":null,"index":0,"logprobs":null}],"created":1,"model":"m","object":"chat.completion.chunk","service_tier":null,"system_fingerprint":null,"usage":null}"#
        );
    }
}

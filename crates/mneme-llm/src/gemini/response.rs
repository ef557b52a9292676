//! Reads `GenerateContentResponse` objects: a whole response and each chunk of a stream have
//! the same shape (a stream's chunks carry new parts each), so one decoder turns both into
//! `ChatDelta`s and a whole response is those deltas assembled.

use serde_json::Value;

use crate::assemble::new_tool_call_id;
use crate::{
    ChatDelta, ChatResponse, ChatResponseBuilder, FinishReason, LlmError, ModelKind, RemoteModel,
    Usage,
};

/// A whole `generateContent` response.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let mut decoder = ChunkDecoder::default();
    let mut builder = ChatResponseBuilder::new();
    for delta in decoder.decode(&json)? {
        builder.push(delta);
    }
    match decoder.finish() {
        Some(done) => builder.push(done),
        None => {
            return Err(LlmError::InvalidResponse(
                "the response has no candidate and no finish reason".to_owned(),
            ));
        }
    }
    Ok(builder.finish())
}

/// The state of one response across its chunks.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    calls: usize,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl ChunkDecoder {
    /// The deltas of one chunk. A candidate cut off as a malformed function call is an error
    /// worth retrying: Gemini 2.5 produces them now and then, and the next attempt usually
    /// succeeds (Letta retries them too).
    pub(crate) fn decode(&mut self, chunk: &Value) -> Result<Vec<ChatDelta>, LlmError> {
        if let Some(error) = chunk.get("error").filter(|e| e.is_object()) {
            return Err(super::error::from_body(error));
        }
        if chunk["usageMetadata"].is_object() {
            self.usage = Some(usage(&chunk["usageMetadata"]));
        }
        let mut deltas = Vec::new();
        let Some(candidate) = chunk["candidates"].as_array().and_then(|c| c.first()) else {
            // No candidate at all: the prompt itself was blocked.
            if chunk["promptFeedback"]["blockReason"].is_string() {
                self.finish_reason = Some("SAFETY".to_owned());
            }
            return Ok(deltas);
        };
        let parts = candidate["content"]["parts"].as_array();
        for part in parts.into_iter().flatten() {
            self.part(part, &mut deltas);
        }
        if let Some(reason) = candidate["finishReason"].as_str() {
            if reason == "MALFORMED_FUNCTION_CALL" && self.calls == 0 {
                return Err(LlmError::Unavailable {
                    status: 502,
                    message: "the model produced a malformed function call".to_owned(),
                });
            }
            self.finish_reason = Some(reason.to_owned());
        }
        Ok(deltas)
    }

    fn part(&mut self, part: &Value, deltas: &mut Vec<ChatDelta>) {
        let signature = part["thoughtSignature"].as_str().filter(|s| !s.is_empty());
        let text = part["text"].as_str().filter(|t| !t.is_empty());
        if part["thought"] == true {
            deltas.extend(text.map(|t| ChatDelta::Reasoning(t.to_owned())));
            deltas.extend(signature.map(|s| ChatDelta::ReasoningSignature(s.to_owned())));
            return;
        }
        deltas.extend(signature.map(|s| ChatDelta::ReasoningSignature(s.to_owned())));
        if let Some(call) = part.get("functionCall").filter(|c| c.is_object()) {
            let id = call["id"].as_str().filter(|id| !id.is_empty());
            let args = match &call["args"] {
                Value::Null => "{}".to_owned(),
                args => args.to_string(),
            };
            deltas.push(ChatDelta::ToolCall {
                index: self.calls,
                id: Some(id.map_or_else(new_tool_call_id, str::to_owned)),
                name: call["name"].as_str().map(str::to_owned),
                arguments: args,
            });
            self.calls += 1;
            return;
        }
        deltas.extend(text.map(|t| ChatDelta::Content(t.to_owned())));
    }

    /// `Done` once a finish reason was seen; `None` for a response cut short. Gemini says
    /// `STOP` after function calls too: calls make it `ToolCalls`.
    pub(crate) fn finish(&mut self) -> Option<ChatDelta> {
        if self.done {
            return None;
        }
        let reason = self.finish_reason.take()?;
        self.done = true;
        let finish_reason = match reason.as_str() {
            "STOP" if self.calls > 0 => FinishReason::ToolCalls,
            "STOP" => FinishReason::Stop,
            "MAX_TOKENS" => FinishReason::Length,
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII"
            | "IMAGE_SAFETY" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        };
        Some(ChatDelta::Done {
            finish_reason: Some(finish_reason),
            usage: self.usage.take().unwrap_or_default(),
        })
    }
}

/// `usageMetadata`. Gemini's prompt count includes cached content; its candidate count leaves
/// out the thoughts, which count as output here as they do at OpenAI (and are reported apart).
pub(crate) fn usage(metadata: &Value) -> Usage {
    let count = |key: &str| metadata[key].as_u64();
    let prompt_tokens = count("promptTokenCount").unwrap_or(0);
    let thoughts = count("thoughtsTokenCount");
    let completion_tokens = count("candidatesTokenCount").unwrap_or(0) + thoughts.unwrap_or(0);
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: count("totalTokenCount").unwrap_or(prompt_tokens + completion_tokens),
        cache_read_tokens: count("cachedContentTokenCount"),
        cache_creation_tokens: None,
        reasoning_tokens: thoughts,
    }
}

/// One page of `GET /v1beta/models`: the models and the next page's token.
pub(crate) fn parse_model_page(
    body: &[u8],
) -> Result<(Vec<RemoteModel>, Option<String>), LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let models = json["models"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let next = json["nextPageToken"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok((models.iter().filter_map(model).collect(), next))
}

/// A model that embeds (`embedContent`) or chats (`generateContent`, Gemini models only, as
/// Letta lists them); others (image, audio, tuning-only) are left out.
fn model(model: &Value) -> Option<RemoteModel> {
    let full = model["name"].as_str()?;
    let name = full.strip_prefix("models/").unwrap_or(full).to_owned();
    let methods = model["supportedGenerationMethods"].as_array()?;
    let supports = |m: &str| methods.iter().any(|x| x == m);
    let limit = |key: &str| model[key].as_u64().and_then(|n| u32::try_from(n).ok());
    let kind = if supports("embedContent") {
        ModelKind::Embedding
    } else if supports("generateContent") && name.starts_with("gemini-") {
        ModelKind::Chat
    } else {
        return None;
    };
    Some(RemoteModel {
        name,
        kind,
        context_window: limit("inputTokenLimit"),
        max_output_tokens: (kind == ModelKind::Chat)
            .then(|| limit("outputTokenLimit"))
            .flatten(),
        embedding_dim: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReasoningBlock;
    use serde_json::json;

    fn parse(value: Value) -> Result<ChatResponse, LlmError> {
        parse_response(value.to_string().as_bytes())
    }

    #[test]
    fn thoughts_text_calls_and_usage() {
        let response = parse(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Let me look.", "thought": true},
                {"functionCall": {"name": "search", "args": {"q": "cats"}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "send_message", "args": {"message": "hi"}}},
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20,
                "cachedContentTokenCount": 60, "thoughtsTokenCount": 7, "totalTokenCount": 127},
        }))
        .unwrap();
        assert_eq!(
            response.reasoning,
            [ReasoningBlock::Text {
                text: "Let me look.".into(),
                signature: Some("c2ln".into())
            }]
        );
        let calls: Vec<_> = response
            .tool_calls
            .iter()
            .map(|c| (c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(
            calls,
            [
                ("search", r#"{"q":"cats"}"#),
                ("send_message", r#"{"message":"hi"}"#)
            ]
        );
        assert!(
            response
                .tool_calls
                .iter()
                .all(|c| c.id.starts_with("call_"))
        );
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 100,
                completion_tokens: 27,
                total_tokens: 127,
                cache_read_tokens: Some(60),
                cache_creation_tokens: None,
                reasoning_tokens: Some(7),
            }
        );
    }

    #[test]
    fn finish_reasons_are_typed() {
        let reason = |r: &str| {
            let body =
                json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": r}]});
            parse(body).unwrap().finish_reason
        };
        assert_eq!(reason("STOP"), Some(FinishReason::Stop));
        assert_eq!(reason("MAX_TOKENS"), Some(FinishReason::Length));
        assert_eq!(reason("SAFETY"), Some(FinishReason::ContentFilter));
        assert_eq!(reason("OTHER"), Some(FinishReason::Other("OTHER".into())));
        let blocked = parse(json!({"promptFeedback": {"blockReason": "SAFETY"}})).unwrap();
        assert_eq!(blocked.finish_reason, Some(FinishReason::ContentFilter));
    }

    #[test]
    fn malformed_calls_are_retryable_and_garbage_is_refused() {
        let malformed = parse(json!({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}]}));
        assert!(malformed.unwrap_err().is_retryable());
        assert!(matches!(
            parse(json!({})),
            Err(LlmError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_response(b"<html>"),
            Err(LlmError::InvalidResponse(_))
        ));
    }

    #[test]
    fn model_pages_keep_gemini_chat_and_embedding_models() {
        let body = json!({"models": [
            {"name": "models/gemini-2.5-flash", "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
             "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "inputTokenLimit": 2048, "outputTokenLimit": 1,
             "supportedGenerationMethods": ["embedContent"]},
            {"name": "models/imagen-3.0", "supportedGenerationMethods": ["predict"]},
            {"name": "models/gemma-3-27b-it", "supportedGenerationMethods": ["generateContent"]},
        ], "nextPageToken": "p2"});
        let (models, next) = parse_model_page(body.to_string().as_bytes()).unwrap();
        assert_eq!(next.as_deref(), Some("p2"));
        let names: Vec<_> = models.iter().map(|m| (m.name.as_str(), m.kind)).collect();
        assert_eq!(
            names,
            [
                ("gemini-2.5-flash", ModelKind::Chat),
                ("text-embedding-004", ModelKind::Embedding)
            ]
        );
        assert_eq!(models[0].context_window, Some(1_048_576));
        assert_eq!(models[0].max_output_tokens, Some(65_536));
        assert_eq!(models[1].max_output_tokens, None);
    }
}

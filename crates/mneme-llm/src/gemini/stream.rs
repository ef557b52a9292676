//! `streamGenerateContent?alt=sse`: each event is a `GenerateContentResponse` with the new
//! parts; there is no end marker, the last chunk carries the finish reason.

use serde_json::Value;

use super::response::ChunkDecoder;
use crate::sse_stream::SseDecoder;
use crate::{ChatDelta, LlmError};
use mneme_types::sse::SseEvent;

/// Each event is one chunk; only the end of the body ends the response.
impl SseDecoder for ChunkDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<ChatDelta>) -> Result<bool, LlmError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::InvalidResponse(format!("bad chunk: {e}")))?;
        out.extend(self.decode(&chunk)?);
        Ok(false)
    }

    /// A stream that stopped without a finish reason was cut off.
    fn finish(&mut self, _explicit: bool) -> Option<ChatDelta> {
        ChunkDecoder::finish(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FinishReason, ReasoningBlock, assemble};

    fn run(body: &str, piece: usize) -> Vec<Result<ChatDelta, LlmError>> {
        use crate::framed::Decoder;
        let mut decoder = crate::sse_stream::events(ChunkDecoder::default());
        let mut out: Vec<_> = body
            .as_bytes()
            .chunks(piece)
            .flat_map(|c| decoder.push(c))
            .collect();
        out.extend(decoder.end());
        out
    }

    const BODY: &str = concat!(
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hmm\",\"thought\":true}]}}],\"usageMetadata\":{\"promptTokenCount\":9}}\r\n\r\n",
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]}}]}\r\n\r\n",
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\",\"thoughtSignature\":\"U0lH\"}]},\"finishReason\":\"STOP\"}],",
        "\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":1,\"totalTokenCount\":12}}\r\n\r\n",
    );

    #[test]
    fn any_split_gives_the_same_response() {
        for piece in [1, 7, 64, BODY.len()] {
            let deltas: Vec<ChatDelta> = run(BODY, piece).into_iter().map(Result::unwrap).collect();
            let response = assemble(deltas);
            assert_eq!(response.content.as_deref(), Some("Hello"));
            assert_eq!(
                response.reasoning,
                [ReasoningBlock::Text {
                    text: "Hmm".into(),
                    signature: Some("U0lH".into())
                }]
            );
            assert_eq!(response.finish_reason, Some(FinishReason::Stop));
            assert_eq!(response.usage.total_tokens, 12);
            assert_eq!(response.usage.completion_tokens, 3);
        }
    }

    #[test]
    fn a_stream_without_finish_is_an_error() {
        let body = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"half\"}]}}]}\n\n";
        let out = run(body, 10);
        assert!(matches!(out.last(), Some(Err(LlmError::Connection(_)))));
    }

    #[test]
    fn an_error_event_is_classified() {
        let body = "data: {\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\n\n";
        let out = run(body, 100);
        assert!(matches!(
            out[0],
            Err(LlmError::Unavailable { status: 503, .. })
        ));
    }
}

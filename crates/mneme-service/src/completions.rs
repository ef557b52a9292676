//! Model answers outside the agent API's own shapes: `generate` (one model call with the
//! agent's model, nothing stored) and OpenAI-compatible chat completions (an agent's turn,
//! its assistant text streamed as `chat.completion.chunk` frames).

use mneme_llm::{ChatMessage, ChatRequest, ToolChoice, ToolSchema, Usage};
use mneme_types::{
    AgentId, ChatCompletionChunk, ChatCompletionError, ChatCompletionErrorBody,
    ChatCompletionRequest, ChoiceDelta, ChunkChoice, ChunkObject, GenerateRequest,
    GenerateResponse, LettaMessage, LettaRequest, LettaStreamingResponse, LettaUsageStatistics,
    MessageBody, MessageContent, MessageCreate,
};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::chunks::SseEvent;
use crate::{MessageStream, Result, Service, ServiceError};

/// The system prompt of a generation that gives none (some providers require one).
const DEFAULT_SYSTEM: &str = "You are a helpful assistant.";

/// The one tool a generation with a `response_schema` must call.
const STRUCTURED_OUTPUT_TOOL: &str = "structured_output";

impl Service {
    /// `POST /v1/agents/{id}/generate`: one call to the agent's model (or `override_model`)
    /// with the prompt; no message, run or step is stored and the agent does not change.
    pub async fn generate(
        &self,
        agent_id: AgentId,
        req: GenerateRequest,
    ) -> Result<GenerateResponse> {
        let agent = self.store.get_agent(agent_id).await?;
        let config = match req.override_model.as_deref().filter(|h| !h.is_empty()) {
            Some(handle) => self.models.resolve_llm(handle, None).await?,
            None => agent.llm_config,
        };
        let structured = req.response_schema.is_some();
        let request = generation_request(req);
        let answer = (self.llm.chat(&config, &request).await).map_err(ServiceError::Generation)?;
        let content = match answer.tool_calls.into_iter().next() {
            Some(call) if structured => call.arguments,
            _ => answer.content.unwrap_or_default(),
        };
        Ok(GenerateResponse {
            content,
            model: config.model,
            usage: generation_usage(&answer.usage),
        })
    }

    /// `POST /v1/chat/completions`: the agent named by `model` takes the last user message as
    /// a streamed turn (through the scheduler like any message); its assistant text comes back
    /// as chat completion chunks, then a `stop` chunk and `[DONE]`. Only streaming is served,
    /// as in Letta.
    pub async fn chat_completion(&self, req: ChatCompletionRequest) -> Result<MessageStream> {
        let agent_id = chat_agent(&req.model)?;
        let agent = self.store.get_agent(agent_id).await?;
        let content = last_user_content(&req)?;
        if req.stream != Some(true) {
            return Err(ServiceError::bad(
                "Non-streaming chat completions not yet implemented. Please set stream=true.",
            ));
        }
        let turn = LettaRequest {
            messages: Some(vec![MessageCreate {
                role: Some("user".into()),
                content: Some(content),
                ..MessageCreate::default()
            }]),
            stream_tokens: Some(true),
            include_pings: Some(false),
            ..LettaRequest::default()
        };
        let letta = self.stream_message(agent_id, turn).await?;
        let run_id = letta.run_id;
        let (tx, rx) = mpsc::channel(256);
        let framer = ChunkFramer {
            id: format!("chatcmpl-{run_id}"),
            model: agent.llm_config.model,
            created: chrono::Utc::now().timestamp(),
            started: false,
        };
        tokio::spawn(framer.relay(letta.events, tx));
        Ok(MessageStream { run_id, events: rx })
    }
}

/// The model request of a generation: a system prompt, the prompt as the user's message, and
/// with a schema one tool the model must call.
fn generation_request(req: GenerateRequest) -> ChatRequest {
    let (tools, tool_choice) = match req.response_schema {
        Some(schema) => (
            vec![structured_output_tool(&schema)],
            ToolChoice::Named(STRUCTURED_OUTPUT_TOOL.into()),
        ),
        None => (Vec::new(), ToolChoice::None),
    };
    ChatRequest {
        system: Some(req.system_prompt.unwrap_or_else(|| DEFAULT_SYSTEM.into())),
        messages: vec![ChatMessage::user(req.prompt)],
        tools,
        tool_choice,
        response_format: None,
    }
}

/// The tool whose arguments are the structured answer: the schema's properties, every one
/// required unless the schema says which.
fn structured_output_tool(schema: &Map<String, Value>) -> ToolSchema {
    let properties = schema.get("properties").cloned().unwrap_or(json!({}));
    let required = match schema.get("required") {
        Some(r) => r.clone(),
        None => Value::Array(
            (properties.as_object().into_iter())
                .flat_map(|p| p.keys().cloned().map(Value::String))
                .collect(),
        ),
    };
    ToolSchema {
        name: STRUCTURED_OUTPUT_TOOL.into(),
        description: "Returns a structured response matching the requested schema.".into(),
        parameters: json!({"type": "object", "properties": properties, "required": required}),
    }
}

fn generation_usage(u: &Usage) -> LettaUsageStatistics {
    LettaUsageStatistics {
        completion_tokens: u.completion_tokens,
        prompt_tokens: u.prompt_tokens,
        total_tokens: u.total_tokens,
        step_count: 1,
        run_ids: None,
        cached_input_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_creation_tokens,
        reasoning_tokens: u.reasoning_tokens,
        context_tokens: None,
    }
}

/// The agent a chat completion drives: its id is the request's `model`.
fn chat_agent(model: &str) -> Result<AgentId> {
    let refuse = || {
        ServiceError::bad(format!(
            "For this endpoint, the 'model' field should contain an agent ID (format: 'agent-...'). Received: '{model}'"
        ))
    };
    if !model.starts_with("agent-") {
        return Err(refuse());
    }
    model.parse().map_err(|_| refuse())
}

/// The content of the last user message: the agent keeps the conversation, so earlier
/// messages are not sent again.
fn last_user_content(req: &ChatCompletionRequest) -> Result<Value> {
    let last = req.messages.iter().rev().find(|m| m.role == "user");
    match last {
        Some(m) => Ok(m
            .content
            .clone()
            .unwrap_or_else(|| Value::String(String::new()))),
        None => Err(ServiceError::bad(
            "No user message found in the request. Please include at least one message with role='user'.",
        )),
    }
}

/// Turns a turn's Letta chunks into chat completion chunks: assistant text only (reasoning,
/// tool calls and returns, usage and stop reasons are the agent's business).
struct ChunkFramer {
    id: String,
    model: String,
    created: i64,
    /// The first chunk names the role; the others do not.
    started: bool,
}

impl ChunkFramer {
    /// Forwards until the turn's `[DONE]`; a client that hung up drops `out`, which drops the
    /// turn's receiver, so the turn is cancelled as for any stream.
    async fn relay(mut self, mut events: mpsc::Receiver<SseEvent>, out: mpsc::Sender<SseEvent>) {
        while let Some(event) = events.recv().await {
            for framed in self.frames(event) {
                if out.send(framed).await.is_err() {
                    return;
                }
            }
        }
    }

    fn frames(&mut self, event: SseEvent) -> Vec<SseEvent> {
        match event {
            SseEvent::Data(LettaStreamingResponse::Message(m)) => Self::text_of(&m)
                .map(|t| self.text(t))
                .into_iter()
                .collect(),
            SseEvent::Data(_) => Vec::new(),
            SseEvent::Error(e) => vec![SseEvent::ChatError(ChatCompletionError {
                error: ChatCompletionErrorBody {
                    message: e.message,
                    kind: "server_error".into(),
                },
            })],
            // Only a background run's log is read back, and these turns are never background.
            SseEvent::Logged { .. } => Vec::new(),
            SseEvent::ChatChunk(_) | SseEvent::ChatError(_) => vec![event],
            SseEvent::Done => vec![self.chunk(ChoiceDelta::default(), Some("stop")), event],
        }
    }

    fn text_of(m: &LettaMessage) -> Option<String> {
        match &m.body {
            MessageBody::Assistant(a) => Some(assistant_text(&a.content)).filter(|t| !t.is_empty()),
            _ => None,
        }
    }

    fn text(&mut self, text: String) -> SseEvent {
        let role = (!self.started).then(|| "assistant".to_owned());
        self.started = true;
        let delta = ChoiceDelta {
            content: Some(text),
            role,
            ..ChoiceDelta::default()
        };
        self.chunk(delta, None)
    }

    fn chunk(&self, delta: ChoiceDelta, finish: Option<&str>) -> SseEvent {
        SseEvent::ChatChunk(ChatCompletionChunk {
            id: self.id.clone(),
            choices: vec![ChunkChoice {
                delta,
                finish_reason: finish.map(str::to_owned),
                index: 0,
                logprobs: None,
            }],
            created: self.created,
            model: self.model.clone(),
            object: ChunkObject::ChatCompletionChunk,
            service_tier: None,
            system_fingerprint: None,
            usage: None,
        })
    }
}

/// An assistant message's text: its string, or its text parts joined.
fn assistant_text(content: &MessageContent) -> String {
    match content {
        MessageContent::Text(text) => text.clone(),
        MessageContent::Parts(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
    }
}

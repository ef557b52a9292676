//! The model request for a step: the frozen system prompt, the in-context history, this
//! request's inputs, and the agent's tools.

use mneme_llm::{
    ChatMessage, ChatRequest, Content, ReasoningBlock, ToolCall, ToolChoice, ToolSchema,
};
use mneme_store::{AgentContext, Message, ReasoningRecord, Role};
use mneme_types::{AgentType, ResponseFormat, Tool};
use serde_json::{Value, json};

use crate::parts::content_of;
use crate::tool_rules::{Allowed, Solver};

const SEND_MESSAGE: &str = "send_message";

/// The two loop families Letta has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `letta_v1_agent`, `sleeptime_agent`: native tool calling; plain text ends the turn.
    Native,
    /// MemGPT-style agents: every answer is a tool call; `request_heartbeat` chains steps.
    Heartbeat,
}

impl Flavor {
    pub fn of(agent_type: AgentType) -> Flavor {
        match agent_type {
            AgentType::LettaV1Agent | AgentType::SleeptimeAgent => Flavor::Native,
            _ => Flavor::Heartbeat,
        }
    }
}

pub(crate) fn build_request(
    ctx: &AgentContext,
    flavor: Flavor,
    system_text: &str,
    pending: &[Message],
    (solver, allowed): (&Solver, &Allowed),
) -> ChatRequest {
    let mut messages = Vec::with_capacity(ctx.messages.len() + pending.len());
    let images = mneme_llm::accepts_images(&ctx.agent.llm_config);
    for m in ctx.messages.iter().skip(1).chain(pending) {
        push_message(&mut messages, m, &ctx.agent.llm_config.model, images);
    }
    let format = response_format(ctx);
    let tools: Vec<ToolSchema> = ctx
        .tools
        .iter()
        .filter(|t| allowed.tools.contains(&t.name))
        .map(|t| schema(t, flavor, solver.is_terminal(&t.name)))
        .map(|s| shaped_send_message(s, format.as_ref()))
        .collect();
    // Heartbeat agents always answer with a call; native ones only when the rules demand it.
    let must_call = flavor == Flavor::Heartbeat || allowed.must_call;
    let tool_choice = match (tools.len(), must_call) {
        (0, _) => ToolChoice::None,
        (_, false) => ToolChoice::Auto,
        (1, true) => ToolChoice::Named(tools[0].name.clone()),
        (_, true) => ToolChoice::Required,
    };
    ChatRequest {
        system: Some(system_text.to_owned()),
        messages,
        tools,
        tool_choice,
        response_format: format.as_ref().map(Into::into),
    }
}

/// Stored messages as `config`'s model gets them (a compaction's request to the agent's own
/// model).
pub(crate) fn chat_history(
    messages: &[Message],
    config: &mneme_types::LlmConfig,
) -> Vec<ChatMessage> {
    let images = mneme_llm::accepts_images(config);
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        push_message(&mut out, m, &config.model, images);
    }
    out
}

/// The agent's response format. One stored before formats were checked, and does not parse,
/// is free text.
fn response_format(ctx: &AgentContext) -> Option<ResponseFormat> {
    let stored = ctx.agent.settings.response_format.clone()?;
    serde_json::from_value(stored).ok()
}

/// Heartbeat agents answer through `send_message`: as in Letta, a structured format becomes
/// the schema of its `message`, so the answer the user sees has the asked shape.
fn shaped_send_message(mut tool: ToolSchema, format: Option<&ResponseFormat>) -> ToolSchema {
    let shape = match format {
        Some(ResponseFormat::JsonSchema { json_schema }) => json_schema
            .get("schema")
            .cloned()
            .unwrap_or_else(|| Value::Object(json_schema.clone())),
        Some(ResponseFormat::JsonObject) => json!({
            "type": "object",
            "description": "The message, as a JSON object.",
            "additionalProperties": true,
            "properties": {},
        }),
        Some(ResponseFormat::Text) | None => return tool,
    };
    if tool.name != SEND_MESSAGE {
        return tool;
    }
    if let Some(props) = tool
        .parameters
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        props.insert("message".into(), shape);
    }
    tool
}

/// One stored message as the model sees it. A `tool` message holding several returns becomes
/// one tool message per call, as providers require. Content parts (images) go as parts to
/// models that take images, and as text with placeholders to the others.
fn push_message(out: &mut Vec<ChatMessage>, m: &Message, model: &str, images: bool) {
    match m.role {
        Role::System => out.push(ChatMessage::System {
            content: m.text.clone(),
        }),
        Role::User | Role::Summary => out.push(ChatMessage::User {
            content: content_of(m.content.as_ref(), images)
                .unwrap_or_else(|| Content::Text(m.text.clone())),
        }),
        Role::Assistant => out.push(assistant_turn(m, model)),
        Role::Tool if !m.tool_returns.is_empty() => {
            for r in &m.tool_returns {
                out.push(ChatMessage::Tool {
                    tool_call_id: r.tool_call_id.clone(),
                    content: content_of(r.content.as_ref(), images)
                        .unwrap_or_else(|| Content::Text(r.func_response.clone())),
                });
            }
        }
        Role::Tool => out.push(ChatMessage::Tool {
            tool_call_id: m.tool_call_id.clone().unwrap_or_default(),
            content: Content::Text(m.text.clone()),
        }),
        // An approval request is the assistant's tool call, for the model; the answer is
        // bookkeeping (the tool message after it carries the results).
        // Calls of one answer that needed no approval were stored just before the request:
        // providers want all of an answer's calls in one assistant turn.
        Role::Approval if !m.tool_calls.is_empty() => match out.last_mut() {
            Some(ChatMessage::Assistant { tool_calls, .. }) if !tool_calls.is_empty() => {
                tool_calls.extend(assistant_calls(m));
            }
            _ => out.push(assistant_turn(m, model)),
        },
        Role::Approval => {}
    }
}

/// An assistant message (or an approval request, which is one) with its tool calls, and its
/// reasoning when `model` wrote it: a signature is valid only for the model that made it
/// (providers without signed reasoning ignore the blocks).
fn assistant_turn(m: &Message, model: &str) -> ChatMessage {
    let same_model = m.model.as_deref() == Some(model);
    ChatMessage::Assistant {
        content: Some(m.text.clone()).filter(|t| !t.is_empty()),
        reasoning: match same_model {
            true => m.reasoning.iter().map(reasoning_block).collect(),
            false => Vec::new(),
        },
        tool_calls: assistant_calls(m),
    }
}

fn assistant_calls(m: &Message) -> Vec<ToolCall> {
    m.tool_calls
        .iter()
        .map(|c| ToolCall {
            id: c.id.clone(),
            name: c.name.clone(),
            arguments: c.arguments.clone(),
        })
        .collect()
}

fn reasoning_block(record: &ReasoningRecord) -> ReasoningBlock {
    match record {
        ReasoningRecord::Reasoning { text, signature } => ReasoningBlock::Text {
            text: text.clone(),
            signature: signature.clone(),
        },
        ReasoningRecord::Redacted { data } => ReasoningBlock::Redacted { data: data.clone() },
    }
}

/// The function schema sent for `tool`. Heartbeat agents get a required `request_heartbeat`
/// flag on every tool that does not end the turn.
fn schema(tool: &Tool, flavor: Flavor, terminal: bool) -> ToolSchema {
    let stored = tool.json_schema.clone().unwrap_or(Value::Null);
    let mut parameters = stored
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}, "required": []}));
    if flavor == Flavor::Heartbeat && !terminal {
        if let Some(props) = parameters
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            props.insert(
                "request_heartbeat".into(),
                json!({"type": "boolean", "description": "Set to true to act again right after this tool returns; false to wait for the user."}),
            );
        }
        match parameters.get_mut("required").and_then(Value::as_array_mut) {
            Some(req) => req.push(json!("request_heartbeat")),
            None => {
                if let Some(obj) = parameters.as_object_mut() {
                    obj.insert("required".into(), json!(["request_heartbeat"]));
                }
            }
        }
    }
    ToolSchema {
        name: tool.name.clone(),
        description: tool
            .description
            .clone()
            .or_else(|| {
                stored
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default(),
        parameters,
    }
}

//! Builds the Messages API body from a provider-neutral `ChatRequest`.
//!
//! `response_format`: Anthropic has no JSON mode, so a JSON answer is asked for with a tool
//! whose input schema is the wanted schema (`json_answer`). Without other tools the call is
//! forced; with the agent's tools (or with thinking on, which refuses forced calls) it is
//! offered beside them, and the system prompt says to answer through it. The client turns a
//! call to it back into the answer's text.

use mneme_types::LlmConfig;
use serde_json::{Map, Value, json};

use super::messages::{text_block, turns};
use crate::{ChatMessage, ChatRequest, ReasoningBlock, ResponseFormat, ToolChoice, ToolSchema};

/// The tool a JSON answer comes through.
pub(crate) const ANSWER_TOOL: &str = "json_answer";

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;

/// The body and what the response reader must know about it.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub body: Value,
    /// A call to `ANSWER_TOOL` is the answer's text.
    pub answer_tool: bool,
    /// Budgeted thinking with tools: the beta that lets Claude 4 think between calls.
    pub interleaved_thinking: bool,
}

pub(crate) fn prepare(config: &LlmConfig, request: &ChatRequest, stream: bool) -> Prepared {
    let thinking = thinking(config, request);
    let answer = request.response_format.as_ref().and_then(answer_tool);
    let mut body = Map::new();
    body.insert("model".into(), json!(model_name(config)));
    body.insert("max_tokens".into(), json!(max_tokens(config, &thinking)));
    match &thinking {
        // Anthropic refuses any temperature but 1 with thinking; 1 is its default.
        Some(thinking) => {
            body.insert("thinking".into(), thinking.clone());
        }
        None => {
            body.insert(
                "temperature".into(),
                json!(config.temperature.clamp(0.0, 1.0)),
            );
        }
    }
    let system = system_blocks(request.system.as_deref(), answer.is_some());
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let (tools, choice) = tools_and_choice(config, request, thinking.is_some(), answer.clone());
    let has_tools = !tools.is_empty();
    if has_tools {
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), choice);
    }
    let mut messages = turns(&request.messages);
    mark_last_block(&mut messages);
    body.insert("messages".into(), Value::Array(messages));
    if stream {
        body.insert("stream".into(), json!(true));
    }
    let budgeted = thinking.as_ref().is_some_and(|t| t["type"] == "enabled");
    Prepared {
        body: Value::Object(body),
        answer_tool: answer.is_some(),
        interleaved_thinking: budgeted && has_tools,
    }
}

/// The model as Anthropic names it: a handle's `anthropic/` prefix, if one slipped into the
/// config, is cut.
fn model_name(config: &LlmConfig) -> &str {
    let model = config.model.as_str();
    model.split_once('/').map_or(model, |(_, name)| name)
}

/// `max_tokens` is required: the config's, else a default by model. Thinking tokens count
/// toward it, so with a budget at or above it the answer keeps its own room on top.
fn max_tokens(config: &LlmConfig, thinking: &Option<Value>) -> u32 {
    let max = config
        .max_tokens
        .unwrap_or_else(|| default_max_tokens(model_name(config)));
    let budget = thinking
        .as_ref()
        .and_then(|t| t["budget_tokens"].as_u64())
        .and_then(|b| u32::try_from(b).ok());
    match budget {
        Some(budget) if max <= budget => budget.saturating_add(max),
        _ => max,
    }
}

/// Claude 3 (but 3.5 and 3.7) answers at most 4,096 tokens; later models more, but a large
/// limit on a non-streaming call makes Anthropic refuse it as possibly too slow.
fn default_max_tokens(model: &str) -> u32 {
    match version(model) {
        Some((3, minor)) if minor < 5 => 4096,
        _ => 8192,
    }
}

/// `(major, minor)` of a Claude model name, old (`claude-3-5-sonnet-…`) or new
/// (`claude-sonnet-4-5-…`) style; a date is not a minor version.
fn version(model: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = model.strip_prefix("claude-")?.split('-').collect();
    let number = |i: usize| {
        parts
            .get(i)
            .filter(|p| p.len() <= 2)
            .and_then(|p| p.parse::<u32>().ok())
    };
    let first = if number(0).is_some() { 0 } else { 1 };
    Some((number(first)?, number(first + 1).unwrap_or(0)))
}

/// The `thinking` setting when the agent asked for reasoning with a budget and the model
/// thinks (Claude 3.7 and 4+); none in a tool loop whose last call was made without thinking
/// (Anthropic requires that turn to open with a thinking block).
fn thinking(config: &LlmConfig, request: &ChatRequest) -> Option<Value> {
    if !config.enable_reasoner || config.max_reasoning_tokens == 0 {
        return None;
    }
    let version = version(model_name(config))?;
    if version < (3, 7) || continues_unthinking_call(&request.messages) {
        return None;
    }
    if version >= (4, 6) {
        // Claude 4.6 and later decide their thinking themselves.
        return Some(json!({"type": "adaptive"}));
    }
    let budget = config.max_reasoning_tokens.max(MIN_THINKING_BUDGET);
    Some(json!({"type": "enabled", "budget_tokens": budget}))
}

/// The history ends with tool results for an assistant turn that carries no thinking.
fn continues_unthinking_call(messages: &[ChatMessage]) -> bool {
    if !matches!(messages.last(), Some(ChatMessage::Tool { .. })) {
        return false;
    }
    let last_assistant = messages.iter().rev().find_map(|m| match m {
        ChatMessage::Assistant { reasoning, .. } => Some(reasoning),
        _ => None,
    });
    last_assistant.is_some_and(|reasoning| {
        !reasoning.iter().any(|b| match b {
            ReasoningBlock::Text { signature, .. } => signature.is_some(),
            ReasoningBlock::Redacted { .. } => true,
        })
    })
}

fn answer_tool(format: &ResponseFormat) -> Option<ToolSchema> {
    let schema = match format {
        ResponseFormat::Text => return None,
        ResponseFormat::JsonObject => json!({"type": "object"}),
        ResponseFormat::JsonSchema { schema, .. } if schema.is_object() => schema.clone(),
        ResponseFormat::JsonSchema { .. } => json!({"type": "object"}),
    };
    Some(ToolSchema {
        name: ANSWER_TOOL.to_owned(),
        description: "Give your final answer: its input is the answer, as JSON.".to_owned(),
        parameters: schema,
    })
}

/// The system prompt as text blocks, the last one a cache breakpoint.
fn system_blocks(system: Option<&str>, answer_tool: bool) -> Vec<Value> {
    let mut blocks: Vec<Value> = system
        .filter(|s| !s.trim().is_empty())
        .map(text_block)
        .into_iter()
        .collect();
    if answer_tool {
        blocks.push(text_block(&format!(
            "Your final answer must be JSON: give it as the input of a call to the \
             `{ANSWER_TOOL}` tool, not as text."
        )));
    }
    if let Some(last) = blocks.last_mut() {
        last["cache_control"] = ephemeral();
    }
    blocks
}

fn tools_and_choice(
    config: &LlmConfig,
    request: &ChatRequest,
    thinking: bool,
    answer: Option<ToolSchema>,
) -> (Vec<Value>, Value) {
    let mut tools: Vec<&ToolSchema> = request.tools.iter().collect();
    let mut choice = request.tool_choice.clone();
    if let Some(answer) = &answer {
        if tools.is_empty() || choice == ToolChoice::None {
            tools.clear();
            choice = ToolChoice::Named(ANSWER_TOOL.to_owned());
        }
        tools.push(answer);
    }
    // Thinking refuses forced calls: the model is asked, not forced (as Letta does).
    if thinking && matches!(choice, ToolChoice::Required | ToolChoice::Named(_)) {
        choice = ToolChoice::Auto;
    }
    let mut tools: Vec<Value> = tools.into_iter().map(tool).collect();
    // The tool list rarely changes: the first cache breakpoint.
    if let Some(last) = tools.last_mut() {
        last["cache_control"] = ephemeral();
    }
    let disable_parallel = !config.parallel_tool_calls.unwrap_or(false);
    let choice = match choice {
        ToolChoice::Auto => json!({"type": "auto", "disable_parallel_tool_use": disable_parallel}),
        ToolChoice::Required => {
            json!({"type": "any", "disable_parallel_tool_use": disable_parallel})
        }
        ToolChoice::Named(name) => {
            json!({"type": "tool", "name": name, "disable_parallel_tool_use": disable_parallel})
        }
        ToolChoice::None => json!({"type": "none"}),
    };
    (tools, choice)
}

fn tool(tool: &ToolSchema) -> Value {
    let mut schema = match &tool.parameters {
        Value::Object(schema) => schema.clone(),
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    json!({"name": tool.name, "description": tool.description, "input_schema": schema})
}

/// The rolling breakpoint: the last block of the last turn, so that the next request reads
/// the whole conversation so far from the cache. Thinking blocks cannot carry one.
fn mark_last_block(messages: &mut [Value]) {
    let Some(blocks) = messages
        .last_mut()
        .and_then(|m| m["content"].as_array_mut())
    else {
        return;
    };
    let markable = blocks
        .iter_mut()
        .rev()
        .find(|b| b["type"] != "thinking" && b["type"] != "redacted_thinking");
    if let Some(block) = markable {
        block["cache_control"] = ephemeral();
    }
}

fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

//! OpenAI's Responses API (`POST /responses`), which Letta uses for OpenAI's reasoning models:
//! it returns reasoning summaries, and with `store: false` the encrypted reasoning that must go
//! back with the next request for the model to keep its chain of thought across tool calls.
//! The encrypted reasoning is kept as the reasoning block's signature.

use mneme_types::LlmConfig;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::response::text;
use super::wire::{ImageUrl, Mapped, encode, is_false};
use crate::{
    ChatMessage, ChatRequest, ChatResponse, Content, ContentPart, FinishReason, LlmError,
    ReasoningBlock, ResponseFormat, ToolCall, ToolChoice, ToolSchema, Usage,
};

/// OpenAI's encrypted reasoning is a Fernet token; a signature of another provider (after the
/// agent changed models) must not be sent, or the request is refused.
const ENCRYPTED_REASONING_PREFIX: &str = "gAAAA";

/// The bytes of the JSON body for `POST /responses`.
pub(crate) fn body(
    config: &LlmConfig,
    request: &ChatRequest,
    stream: bool,
) -> Result<bytes::Bytes, LlmError> {
    encode(&Body::new(config, request, stream))
}

/// The body; the fields' order is the order of the keys sent.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
    input: Vec<Item<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Mapped<'a, ToolSchema, Tool<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Choice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    reasoning: Reasoning<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Text<'a>>,
    store: bool,
    include: [&'static str; 1],
    #[serde(skip_serializing_if = "is_false")]
    stream: bool,
}

impl<'a> Body<'a> {
    fn new(config: &'a LlmConfig, request: &'a ChatRequest, stream: bool) -> Body<'a> {
        let has_tools = !request.tools.is_empty();
        let mut input = Vec::with_capacity(request.messages.len());
        for message in &request.messages {
            items(message, &mut input);
        }
        Body {
            model: &config.model,
            instructions: request.system.as_deref(),
            input,
            tools: has_tools.then(|| Mapped::new(&request.tools, Tool::of)),
            tool_choice: has_tools.then(|| Choice::of(&request.tool_choice)),
            parallel_tool_calls: config.parallel_tool_calls.filter(|_| has_tools),
            reasoning: Reasoning {
                summary: "auto",
                effort: config.reasoning_effort.as_deref(),
            },
            max_output_tokens: config.max_tokens,
            text: request.response_format.as_ref().map(|format| Text {
                format: Format::of(format),
            }),
            // Nothing is kept on OpenAI's side; the reasoning comes back encrypted instead.
            store: false,
            include: ["reasoning.encrypted_content"],
            stream,
        }
    }
}

#[derive(Serialize)]
struct Reasoning<'a> {
    summary: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    effort: Option<&'a str>,
}

/// An input item: a message keyed by its role, or an item keyed by its type.
#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Message(RoleItem<'a>),
    Typed(TypedItem<'a>),
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
enum RoleItem<'a> {
    Developer { content: &'a str },
    User { content: InputContent<'a> },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TypedItem<'a> {
    Reasoning {
        summary: Summary<'a>,
        encrypted_content: &'a str,
    },
    Message {
        role: &'static str,
        content: [OutputText<'a>; 1],
    },
    FunctionCall {
        call_id: &'a str,
        name: &'a str,
        arguments: &'a str,
    },
    FunctionCallOutput {
        call_id: &'a str,
        output: InputContent<'a>,
    },
}

/// A reasoning item's summary: empty, or its one text.
struct Summary<'a>(Option<&'a str>);

impl Serialize for Summary<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Part<'a> {
            SummaryText { text: &'a str },
        }
        serializer.collect_seq(self.0.map(|text| Part::SummaryText { text }))
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutputText<'a> {
    OutputText { text: &'a str },
}

/// The input items of one history message, added to `input`.
fn items<'a>(message: &'a ChatMessage, input: &mut Vec<Item<'a>>) {
    match message {
        ChatMessage::System { content } => {
            input.push(Item::Message(RoleItem::Developer { content }));
        }
        ChatMessage::User { content } => input.push(Item::Message(RoleItem::User {
            content: InputContent::of(content),
        })),
        ChatMessage::Assistant {
            content,
            reasoning,
            tool_calls,
        } => {
            let reasoning = reasoning.iter().filter_map(reasoning_item);
            let text = content.iter().map(|text| TypedItem::Message {
                role: "assistant",
                content: [OutputText::OutputText { text }],
            });
            let calls = tool_calls.iter().map(|c| TypedItem::FunctionCall {
                call_id: &c.id,
                name: &c.name,
                arguments: &c.arguments,
            });
            input.extend(reasoning.chain(text).chain(calls).map(Item::Typed));
        }
        ChatMessage::Tool {
            tool_call_id,
            content,
        } => input.push(Item::Typed(TypedItem::FunctionCallOutput {
            call_id: tool_call_id,
            output: InputContent::of(content),
        })),
    }
}

/// Earlier reasoning goes back only as OpenAI's own encrypted item.
fn reasoning_item(block: &ReasoningBlock) -> Option<TypedItem<'_>> {
    let ReasoningBlock::Text {
        text,
        signature: Some(encrypted),
    } = block
    else {
        return None;
    };
    if !encrypted.starts_with(ENCRYPTED_REASONING_PREFIX) {
        return None;
    }
    Some(TypedItem::Reasoning {
        summary: Summary((!text.is_empty()).then_some(text.as_str())),
        encrypted_content: encrypted,
    })
}

#[derive(Serialize)]
#[serde(untagged)]
enum InputContent<'a> {
    Text(&'a str),
    Parts(Mapped<'a, ContentPart, InputPart<'a>>),
}

impl<'a> InputContent<'a> {
    fn of(content: &'a Content) -> InputContent<'a> {
        match content {
            Content::Text(text) => InputContent::Text(text),
            Content::Parts(parts) => InputContent::Parts(Mapped::new(parts, InputPart::of)),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum InputPart<'a> {
    InputText { text: &'a str },
    InputImage { image_url: ImageUrl<'a> },
}

impl<'a> InputPart<'a> {
    fn of(part: &'a ContentPart) -> InputPart<'a> {
        match part {
            ContentPart::Text { text } => InputPart::InputText { text },
            ContentPart::Image { source } => InputPart::InputImage {
                image_url: ImageUrl(source),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Tool<'a> {
    Function {
        name: &'a str,
        description: &'a str,
        parameters: &'a Value,
        strict: bool,
    },
}

impl<'a> Tool<'a> {
    fn of(tool: &'a ToolSchema) -> Tool<'a> {
        Tool::Function {
            name: &tool.name,
            description: &tool.description,
            parameters: &tool.parameters,
            strict: false,
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Choice<'a> {
    Mode(&'static str),
    Named(NamedChoice<'a>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum NamedChoice<'a> {
    Function { name: &'a str },
}

impl<'a> Choice<'a> {
    fn of(choice: &'a ToolChoice) -> Choice<'a> {
        match choice {
            ToolChoice::Auto => Choice::Mode("auto"),
            ToolChoice::Required => Choice::Mode("required"),
            ToolChoice::None => Choice::Mode("none"),
            ToolChoice::Named(name) => Choice::Named(NamedChoice::Function { name }),
        }
    }
}

#[derive(Serialize)]
struct Text<'a> {
    format: Format<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Format<'a> {
    Text,
    JsonObject,
    JsonSchema {
        name: &'a str,
        schema: &'a Value,
        strict: bool,
    },
}

impl<'a> Format<'a> {
    fn of(format: &'a ResponseFormat) -> Format<'a> {
        match format {
            ResponseFormat::Text => Format::Text,
            ResponseFormat::JsonObject => Format::JsonObject,
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => Format::JsonSchema {
                name,
                schema,
                strict: *strict,
            },
        }
    }
}

/// Reads a whole `response` object.
pub(crate) fn parse(body: &[u8]) -> Result<ChatResponse, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let Some(output) = json["output"].as_array() else {
        return Err(LlmError::InvalidResponse(
            "the response has no output".to_owned(),
        ));
    };
    let mut response = ChatResponse::default();
    let mut content = String::new();
    for item in output {
        match item["type"].as_str() {
            Some("reasoning") => response.reasoning.push(reasoning_block(item)),
            Some("message") => content.push_str(&text(&item["content"]).unwrap_or_default()),
            Some("function_call") => response.tool_calls.push(ToolCall {
                id: item["call_id"].as_str().unwrap_or_default().to_owned(),
                name: item["name"].as_str().unwrap_or_default().to_owned(),
                arguments: crate::assemble::normalize_arguments(
                    item["arguments"].as_str().unwrap_or_default().to_owned(),
                ),
            }),
            _ => {}
        }
    }
    response.content = (!content.is_empty()).then_some(content);
    response.finish_reason = Some(finish_reason(&json, !response.tool_calls.is_empty()));
    response.usage = usage(&json["usage"]);
    Ok(response)
}

/// A reasoning item: its summary texts, its encrypted content as the signature.
pub(crate) fn reasoning_block(item: &Value) -> ReasoningBlock {
    let summary: Vec<&str> = item["summary"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["text"].as_str())
        .collect();
    ReasoningBlock::Text {
        text: summary.join("\n\n"),
        signature: item["encrypted_content"].as_str().map(str::to_owned),
    }
}

/// `status` with `incomplete_details`, as a finish reason.
pub(crate) fn finish_reason(response: &Value, called_tools: bool) -> FinishReason {
    match response["status"].as_str() {
        Some("incomplete") => match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            other => FinishReason::Other(other.unwrap_or("incomplete").to_owned()),
        },
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

pub(crate) fn usage(usage: &Value) -> Usage {
    let count = |v: &Value| v.as_u64();
    let input = count(&usage["input_tokens"]).unwrap_or(0);
    let output = count(&usage["output_tokens"]).unwrap_or(0);
    Usage {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: count(&usage["total_tokens"]).unwrap_or(input + output),
        cache_read_tokens: count(&usage["input_tokens_details"]["cached_tokens"]),
        cache_creation_tokens: None,
        reasoning_tokens: count(&usage["output_tokens_details"]["reasoning_tokens"]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::openai::fixture::every_kind;

    fn sent(config: &LlmConfig, request: &ChatRequest) -> Value {
        serde_json::from_slice(&body(config, request, false).unwrap()).unwrap()
    }

    /// The bytes sent, compared with what the `Value` tree built before typed wire structs
    /// sent: same keys, same order, same values; only OpenAI's encrypted reasoning goes back.
    #[test]
    fn a_request_of_every_kind_is_sent_exactly_as_before() {
        let (mut config, request) = every_kind();
        config.model = "o3".into();
        let sent = body(&config, &request, true).unwrap();
        let expected = json!({
            "model": "o3",
            "instructions": "You are \"helpful\".\nBe brief.",
            "input": [
                {"role": "developer", "content": "A note from the system"},
                {"role": "user", "content": "hello ✓"},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what are these?"},
                        {"type": "input_image", "image_url": "https://example.com/cat.png"},
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                    ],
                },
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "they are images"}],
                    "encrypted_content": "gAAAAenc1",
                },
                {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAenc2"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Let me look."}],
                },
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "look",
                    "arguments": "{\"at\": 1}",
                },
                {
                    "type": "function_call",
                    "call_id": "call_2",
                    "name": "look",
                    "arguments": "{}",
                },
                {
                    "type": "function_call_output",
                    "call_id": "call_1",
                    "output": [
                        {"type": "input_text", "text": "a cat"},
                        {"type": "input_image", "image_url": "data:image/png;base64,BBBB"},
                        {"type": "input_text", "text": "on a mat"},
                    ],
                },
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [
                        {"type": "input_image", "image_url": "data:image/png;base64,CCCC"},
                        {"type": "input_image", "image_url": "data:image/png;base64,DDDD"},
                    ],
                },
                {"type": "function_call_output", "call_id": "call_3", "output": "plain"},
                {"role": "user", "content": "thanks"},
                {
                    "type": "function_call_output",
                    "call_id": "call_4",
                    "output": [
                        {"type": "input_image", "image_url": "data:image/png;base64,EEEE"},
                    ],
                },
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "look",
                    "description": "Looks at a thing.",
                    "parameters": {
                        "type": "object",
                        "properties": {"at": {"type": "integer"}},
                        "required": ["at"],
                    },
                    "strict": false,
                },
            ],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "reasoning": {"summary": "auto", "effort": "high"},
            "max_output_tokens": 256,
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "schema": {"type": "object", "properties": {"z": {}, "a": {}}},
                    "strict": true,
                },
            },
            "store": false,
            "include": ["reasoning.encrypted_content"],
            "stream": true,
        });
        assert_eq!(std::str::from_utf8(&sent).unwrap(), expected.to_string());
    }

    #[test]
    fn tool_choices_formats_and_optional_keys_take_responses_shapes() {
        let (mut config, mut request) = every_kind();
        request.tool_choice = ToolChoice::Named("look".into());
        request.response_format = Some(ResponseFormat::JsonObject);
        let body = sent(&config, &request);
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "name": "look"})
        );
        assert_eq!(body["text"], json!({"format": {"type": "json_object"}}));
        request.tools.clear();
        request.system = None;
        (config.reasoning_effort, config.max_tokens) = (None, None);
        let body = sent(&config, &request);
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["model", "input", "reasoning", "text", "store", "include"]
        );
        assert_eq!(body["reasoning"], json!({"summary": "auto"}));
    }
}

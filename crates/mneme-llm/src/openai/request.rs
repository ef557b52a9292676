//! Builds the Chat Completions request body from a provider-neutral `ChatRequest`: wire types
//! that borrow the request's text, encoded once straight to the bytes sent.

use mneme_types::LlmConfig;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::OPENAI_ENDPOINT_TYPE;
use super::wire::{ImageUrl, JoinedText, Mapped, encode, is_false};
use crate::{
    ChatMessage, ChatRequest, Content, ContentPart, LlmError, ResponseFormat, ToolCall, ToolChoice,
    ToolSchema,
};

/// The bytes of the JSON body for `POST /chat/completions`.
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
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Mapped<'a, ToolSchema, Tool<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Choice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Format<'a>>,
    #[serde(skip_serializing_if = "is_false")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

impl<'a> Body<'a> {
    fn new(config: &'a LlmConfig, request: &'a ChatRequest, stream: bool) -> Body<'a> {
        let has_tools = !request.tools.is_empty();
        let reasoning_model = is_openai_reasoning_model(config);
        // OpenAI deprecated `max_tokens` (its reasoning models refuse it); other servers
        // often know only `max_tokens`.
        let openai = config.model_endpoint_type == OPENAI_ENDPOINT_TYPE;
        Body {
            model: &config.model,
            messages: messages(request),
            tools: has_tools.then(|| Mapped::new(&request.tools, Tool::of)),
            tool_choice: has_tools.then(|| Choice::of(&request.tool_choice)),
            parallel_tool_calls: config.parallel_tool_calls.filter(|_| has_tools),
            // OpenAI's reasoning models reject any temperature but the default.
            temperature: (!reasoning_model).then_some(config.temperature),
            max_completion_tokens: config.max_tokens.filter(|_| openai),
            max_tokens: config.max_tokens.filter(|_| !openai),
            reasoning_effort: config
                .reasoning_effort
                .as_deref()
                .filter(|_| reasoning_model),
            response_format: request.response_format.as_ref().map(Format::of),
            stream,
            // Without this OpenAI sends no usage at all on a stream.
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
enum Message<'a> {
    System {
        content: &'a str,
    },
    User {
        content: UserContent<'a>,
    },
    Assistant {
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Mapped<'a, ToolCall, Call<'a>>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: ToolText<'a>,
    },
}

/// Plain text stays a string (what every server accepts); parts become OpenAI's content array.
#[derive(Serialize)]
#[serde(untagged)]
enum UserContent<'a> {
    Text(&'a str),
    Parts(Mapped<'a, ContentPart, Part<'a>>),
    ToolImages(ToolImages<'a>),
}

/// The system prompt first, then the history. Reasoning from earlier turns is not sent back
/// (Chat Completions has no place for it). Tool messages take text only, so the images of a
/// run of tool results follow it as one user message that says which call they came from.
fn messages(request: &ChatRequest) -> Vec<Message<'_>> {
    let history = &request.messages;
    let mut out = Vec::with_capacity(history.len() + 2);
    out.extend(
        request
            .system
            .as_deref()
            .map(|content| Message::System { content }),
    );
    // Where the current run of tool results began, and whether any of them holds an image.
    let (mut run_start, mut run_has_images) = (0, false);
    for (i, m) in history.iter().enumerate() {
        if matches!(m, ChatMessage::Tool { .. }) {
            run_has_images |= has_image(m);
        } else {
            if run_has_images {
                out.push(ToolImages::message(&history[run_start..i]));
            }
            (run_start, run_has_images) = (i + 1, false);
        }
        out.push(Message::of(m));
    }
    if run_has_images {
        out.push(ToolImages::message(&history[run_start..]));
    }
    out
}

fn has_image(message: &ChatMessage) -> bool {
    let ChatMessage::Tool {
        content: Content::Parts(parts),
        ..
    } = message
    else {
        return false;
    };
    parts.iter().any(|p| matches!(p, ContentPart::Image { .. }))
}

impl<'a> Message<'a> {
    fn of(message: &'a ChatMessage) -> Message<'a> {
        match message {
            ChatMessage::System { content } => Message::System { content },
            ChatMessage::User { content } => Message::User {
                content: match content {
                    Content::Text(text) => UserContent::Text(text),
                    Content::Parts(parts) => UserContent::Parts(Mapped::new(parts, Part::of)),
                },
            },
            ChatMessage::Assistant {
                content,
                tool_calls,
                reasoning: _,
            } => Message::Assistant {
                content: content.as_deref(),
                tool_calls: (!tool_calls.is_empty()).then(|| Mapped::new(tool_calls, Call::of)),
            },
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => Message::Tool {
                tool_call_id,
                content: ToolText(content),
            },
        }
    }
}

/// A tool result's text, images left out.
struct ToolText<'a>(&'a Content);

impl Serialize for ToolText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Content::Text(text) => serializer.serialize_str(text),
            Content::Parts(parts) => JoinedText(parts).serialize(serializer),
        }
    }
}

/// The images of a run of tool results, each call's after a note naming it.
struct ToolImages<'a>(&'a [ChatMessage]);

impl<'a> ToolImages<'a> {
    fn message(run: &'a [ChatMessage]) -> Message<'a> {
        Message::User {
            content: UserContent::ToolImages(ToolImages(run)),
        }
    }
}

impl Serialize for ToolImages<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for message in self.0 {
            let ChatMessage::Tool {
                tool_call_id,
                content: Content::Parts(parts),
            } = message
            else {
                continue;
            };
            let mut images = parts
                .iter()
                .filter(|p| matches!(p, ContentPart::Image { .. }))
                .peekable();
            if images.peek().is_some() {
                seq.serialize_element(&Part::Note { text: tool_call_id })?;
            }
            for image in images {
                seq.serialize_element(&Part::of(image))?;
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text {
        text: &'a str,
    },
    ImageUrl {
        image_url: Url<'a>,
    },
    /// Which call the images after it came from.
    #[serde(rename = "text")]
    Note {
        #[serde(serialize_with = "images_note")]
        text: &'a str,
    },
}

fn images_note<S: Serializer>(tool_call_id: &&str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!(
        "Images returned by tool call {tool_call_id}:"
    ))
}

impl<'a> Part<'a> {
    fn of(part: &'a ContentPart) -> Part<'a> {
        match part {
            ContentPart::Text { text } => Part::Text { text },
            ContentPart::Image { source } => Part::ImageUrl {
                image_url: Url {
                    url: ImageUrl(source),
                },
            },
        }
    }
}

#[derive(Serialize)]
struct Url<'a> {
    url: ImageUrl<'a>,
}

#[derive(Serialize)]
struct Call<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: CallFunction<'a>,
}

#[derive(Serialize)]
struct CallFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

impl<'a> Call<'a> {
    fn of(call: &'a ToolCall) -> Call<'a> {
        Call {
            id: &call.id,
            kind: "function",
            function: CallFunction {
                name: &call.name,
                arguments: &call.arguments,
            },
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Tool<'a> {
    Function { function: Function<'a> },
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

impl<'a> Tool<'a> {
    fn of(tool: &'a ToolSchema) -> Tool<'a> {
        Tool::Function {
            function: Function {
                name: &tool.name,
                description: &tool.description,
                parameters: &tool.parameters,
            },
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
    Function { function: Name<'a> },
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

impl<'a> Choice<'a> {
    fn of(choice: &'a ToolChoice) -> Choice<'a> {
        match choice {
            ToolChoice::Auto => Choice::Mode("auto"),
            ToolChoice::Required => Choice::Mode("required"),
            ToolChoice::None => Choice::Mode("none"),
            ToolChoice::Named(name) => Choice::Named(NamedChoice::Function {
                function: Name { name },
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Format<'a> {
    Text,
    JsonObject,
    JsonSchema { json_schema: Schema<'a> },
}

#[derive(Serialize)]
struct Schema<'a> {
    name: &'a str,
    schema: &'a Value,
    strict: bool,
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
                json_schema: Schema {
                    name,
                    schema,
                    strict: *strict,
                },
            },
        }
    }
}

/// o1, o3, o4-mini, gpt-5...: models that take `reasoning_effort` and no `temperature`.
pub(crate) fn is_openai_reasoning_model(config: &LlmConfig) -> bool {
    let model = config.model.as_str();
    config.model_endpoint_type == OPENAI_ENDPOINT_TYPE
        && ["o1", "o3", "o4", "gpt-5"]
            .iter()
            .any(|prefix| model.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ImageSource;
    use crate::openai::fixture::every_kind;

    /// The body as the server reads it.
    fn body(config: &LlmConfig, request: &ChatRequest, stream: bool) -> Value {
        serde_json::from_slice(&super::body(config, request, stream).unwrap()).unwrap()
    }

    fn config(endpoint_type: &str, model: &str) -> LlmConfig {
        serde_json::from_value(json!({
            "model": model, "model_endpoint_type": endpoint_type, "context_window": 8192,
            "temperature": 0.7, "max_tokens": 100, "reasoning_effort": "low",
        }))
        .unwrap()
    }

    fn request(tools: Vec<ToolSchema>) -> ChatRequest {
        ChatRequest {
            system: Some("sys".into()),
            messages: vec![
                ChatMessage::user("hi"),
                ChatMessage::Assistant {
                    content: None,
                    reasoning: vec![crate::ReasoningBlock::Text {
                        text: "hm".into(),
                        signature: Some("sig".into()),
                    }],
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                    }],
                },
                ChatMessage::Tool {
                    tool_call_id: "call_1".into(),
                    content: "ok".into(),
                },
            ],
            tools,
            tool_choice: ToolChoice::Named("f".into()),
            response_format: None,
        }
    }

    #[test]
    fn messages_and_tools_take_openai_shapes() {
        let tools = vec![ToolSchema {
            name: "f".into(),
            description: "does f".into(),
            parameters: json!({"type": "object", "properties": {}}),
        }];
        let body = body(&config("vllm", "llama"), &request(tools), true);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            ])
        );
        assert_eq!(body["tools"][0]["function"]["description"], "does f");
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(
            (&body["temperature"], &body["max_tokens"]),
            (&json!(0.7), &json!(100))
        );
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert!(body.get("reasoning_effort").is_none());
    }

    #[test]
    fn image_parts_become_image_urls_and_mid_history_system_messages_stay() {
        let mut request = request(vec![]);
        request.system = None;
        request.messages = vec![
            ChatMessage::System {
                content: "note".into(),
            },
            ChatMessage::User {
                content: Content::Parts(vec![
                    ContentPart::Text {
                        text: "what is this?".into(),
                    },
                    ContentPart::Image {
                        source: ImageSource::Url {
                            url: "https://example.com/cat.png".into(),
                        },
                    },
                    ContentPart::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBORw0".into(),
                        },
                    },
                ]),
            },
        ];
        let body = body(&config("openai", "gpt-4o"), &request, false);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "note"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
                ]},
            ])
        );
    }

    #[test]
    fn no_tools_means_no_tool_choice() {
        let body = body(&config("openai", "gpt-4o-mini"), &request(vec![]), false);
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
        assert!(body.get("stream").is_none());
        assert_eq!(body["max_completion_tokens"], 100);
    }

    #[test]
    fn openai_reasoning_models_get_effort_and_no_temperature() {
        let body = body(&config("openai", "o3-mini"), &request(vec![]), false);
        assert!(body.get("temperature").is_none());
        assert_eq!(body["reasoning_effort"], "low");
    }

    #[test]
    fn tool_images_follow_the_tool_results_as_a_user_message() {
        let mut request = request(vec![]);
        let image = ContentPart::Image {
            source: ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBOR".into(),
            },
        };
        request.messages[2] = ChatMessage::Tool {
            tool_call_id: "call_1".into(),
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "a chart".into(),
                },
                image,
            ]),
        };
        request.messages.push(ChatMessage::user("and now?"));
        let body = body(&config("openai", "gpt-4o"), &request, false);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "a chart"})
        );
        assert_eq!(
            messages[4],
            json!({"role": "user", "content": [
                {"type": "text", "text": "Images returned by tool call call_1:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
            ]})
        );
        assert_eq!(messages[5]["content"], "and now?");
    }

    /// The bytes sent, compared with what the `Value` tree built before typed wire structs
    /// sent: same keys, same order, same values.
    #[test]
    fn a_request_of_every_kind_is_sent_exactly_as_before() {
        let (config, request) = every_kind();
        let sent = super::body(&config, &request, true).unwrap();
        let expected = json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are \"helpful\".\nBe brief."},
                {"role": "system", "content": "A note from the system"},
                {"role": "user", "content": "hello ✓"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what are these?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.png"},
                        },
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,AAAA"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "look", "arguments": "{\"at\": 1}"},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "look", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat\non a mat"},
                {"role": "tool", "tool_call_id": "call_2", "content": ""},
                {"role": "tool", "tool_call_id": "call_3", "content": "plain"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Images returned by tool call call_1:"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,BBBB"},
                        },
                        {"type": "text", "text": "Images returned by tool call call_2:"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,CCCC"},
                        },
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,DDDD"},
                        },
                    ],
                },
                {"role": "assistant", "content": null},
                {"role": "user", "content": "thanks"},
                {"role": "tool", "tool_call_id": "call_4", "content": ""},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Images returned by tool call call_4:"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,EEEE"},
                        },
                    ],
                },
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "look",
                        "description": "Looks at a thing.",
                        "parameters": {
                            "type": "object",
                            "properties": {"at": {"type": "integer"}},
                            "required": ["at"],
                        },
                    },
                },
            ],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "temperature": 0.5,
            "max_completion_tokens": 256,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "schema": {"type": "object", "properties": {"z": {}, "a": {}}},
                    "strict": true,
                },
            },
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        assert_eq!(std::str::from_utf8(&sent).unwrap(), expected.to_string());
    }

    #[test]
    fn tool_choices_and_response_formats_take_openai_shapes() {
        let (config, mut request) = every_kind();
        let choices = [
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::None, json!("none")),
            (
                ToolChoice::Named("look".into()),
                json!({"type": "function", "function": {"name": "look"}}),
            ),
        ];
        for (choice, expected) in choices {
            request.tool_choice = choice;
            assert_eq!(body(&config, &request, false)["tool_choice"], expected);
        }
        let formats = [
            (ResponseFormat::Text, json!({"type": "text"})),
            (ResponseFormat::JsonObject, json!({"type": "json_object"})),
        ];
        for (format, expected) in formats {
            request.response_format = Some(format);
            assert_eq!(body(&config, &request, false)["response_format"], expected);
        }
    }
}

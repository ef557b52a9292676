//! A request with every kind of message and option, for the tests of both request bodies.

use mneme_types::LlmConfig;
use serde_json::json;

use crate::{
    ChatMessage, ChatRequest, Content, ContentPart, ImageSource, ReasoningBlock, ResponseFormat,
    ToolCall, ToolChoice, ToolSchema,
};

/// A mid-history system message, user text and parts with images, an assistant turn with
/// reasoning (signed by OpenAI, by another provider, unsigned, redacted) and two tool calls,
/// a run of tool results with images, an empty assistant turn, and a last tool result with an
/// image; tools, a required tool choice and a JSON schema answer.
pub(super) fn every_kind() -> (LlmConfig, ChatRequest) {
    let config: LlmConfig = serde_json::from_value(json!({
        "model": "gpt-4o", "model_endpoint_type": "openai", "context_window": 8192,
        "temperature": 0.5, "max_tokens": 256, "parallel_tool_calls": false,
        "reasoning_effort": "high",
    }))
    .unwrap();
    let url = ImageSource::Url {
        url: "https://example.com/cat.png".into(),
    };
    let mut messages = vec![
        ChatMessage::System {
            content: "A note from the system".into(),
        },
        ChatMessage::user("hello ✓"),
        ChatMessage::User {
            content: parts(vec![
                text("what are these?"),
                ContentPart::Image { source: url },
                png("AAAA"),
            ]),
        },
        assistant_turn(),
        tool(
            "call_1",
            parts(vec![text("a cat"), png("BBBB"), text("on a mat")]),
        ),
        tool("call_2", parts(vec![png("CCCC"), png("DDDD")])),
        tool("call_3", "plain".into()),
    ];
    messages.extend([
        ChatMessage::Assistant {
            content: None,
            reasoning: vec![],
            tool_calls: vec![],
        },
        ChatMessage::user("thanks"),
        tool("call_4", parts(vec![png("EEEE")])),
    ]);
    let request = ChatRequest {
        system: Some("You are \"helpful\".\nBe brief.".into()),
        messages,
        tools: vec![ToolSchema {
            name: "look".into(),
            description: "Looks at a thing.".into(),
            parameters: json!({"type": "object", "properties": {"at": {"type": "integer"}},
                               "required": ["at"]}),
        }],
        tool_choice: ToolChoice::Required,
        response_format: Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: json!({"type": "object", "properties": {"z": {}, "a": {}}}),
            strict: true,
        }),
    };
    (config, request)
}

fn assistant_turn() -> ChatMessage {
    let reasoning = |text: &str, signature: Option<&str>| ReasoningBlock::Text {
        text: text.into(),
        signature: signature.map(str::to_owned),
    };
    let call = |id: &str, arguments: &str| ToolCall {
        id: id.into(),
        name: "look".into(),
        arguments: arguments.into(),
    };
    ChatMessage::Assistant {
        content: Some("Let me look.".into()),
        reasoning: vec![
            reasoning("they are images", Some("gAAAAenc1")),
            reasoning("", Some("gAAAAenc2")),
            reasoning("foreign", Some("anthropic-sig")),
            reasoning("unsigned", None),
            ReasoningBlock::Redacted {
                data: "redacted".into(),
            },
        ],
        tool_calls: vec![call("call_1", "{\"at\": 1}"), call("call_2", "{}")],
    }
}

fn tool(tool_call_id: &str, content: Content) -> ChatMessage {
    ChatMessage::Tool {
        tool_call_id: tool_call_id.into(),
        content,
    }
}

fn parts(parts: Vec<ContentPart>) -> Content {
    Content::Parts(parts)
}

fn text(text: &str) -> ContentPart {
    ContentPart::Text { text: text.into() }
}

fn png(data: &str) -> ContentPart {
    ContentPart::Image {
        source: ImageSource::Base64 {
            media_type: "image/png".into(),
            data: data.into(),
        },
    }
}

//! A Letta export holds only the agent's in-context messages; the rest of its history (recall
//! memory) is read from the history listing, whose `LettaMessage`s are views of the stored
//! messages, and turned back into stored messages: the views of one stored message (same id)
//! make one message again.

use chrono::{DateTime, Utc};
use mneme_types::agent_file::{
    ContentPart, FuncResponse, MessageKind, MessageRole, MessageSchema, MessageToolReturn,
};
use mneme_types::{ChatToolCall, FunctionCall, FunctionKind, ToolReturnStatus};
use serde_json::Value;

use crate::letta::{ListedCall, ListedMessage};

/// The stored messages the listing's views come from, in the listing's order. With
/// `send_message`, the agent's replies are calls of that tool (the listing shows them as
/// assistant messages), as memgpt-style agents store them.
pub(crate) fn stored(listed: &[ListedMessage], send_message: bool) -> Vec<MessageSchema> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < listed.len() {
        let id = &listed[start].id;
        let end = start + listed[start..].iter().take_while(|m| &m.id == id).count();
        if let Some(m) = one(&listed[start..end], &listed[end..], send_message) {
            out.push(m);
        }
        start = end;
    }
    out
}

/// One stored message from its views; `after` is the rest of the listing (a reply's
/// `send_message` call takes the id its listed return names).
fn one(
    views: &[ListedMessage],
    after: &[ListedMessage],
    send_message: bool,
) -> Option<MessageSchema> {
    let first = views.first()?;
    let role = role(&first.message_type)?;
    let mut m = empty(first, role);
    for v in views {
        match v.message_type.as_str() {
            "reasoning_message" => m.content.push(reasoning(v)),
            "assistant_message" if send_message => {
                let text = text_of(v.content.as_ref());
                let id = reply_call_id(after).unwrap_or_else(|| format!("call_{}", v.id));
                let arguments = serde_json::json!({ "message": text }).to_string();
                m.tool_calls
                    .get_or_insert_default()
                    .push(call("send_message", arguments, id));
            }
            "tool_call_message" => {
                let calls = v
                    .tool_calls
                    .clone()
                    .unwrap_or_else(|| v.tool_call.clone().into_iter().collect());
                let calls = calls
                    .into_iter()
                    .map(|c: ListedCall| call(&c.name, c.arguments, c.tool_call_id));
                m.tool_calls.get_or_insert_default().extend(calls);
            }
            "tool_return_message" => tool_return(&mut m, v),
            _ => m.content.extend(parts(v.content.as_ref())),
        }
    }
    Some(m)
}

fn empty(first: &ListedMessage, role: MessageRole) -> MessageSchema {
    MessageSchema {
        kind: Some(MessageKind::Message),
        otid: first.otid.clone(),
        group_id: None,
        role,
        content: Vec::new(),
        name: first.name.clone(),
        sender_id: first.sender_id.clone(),
        batch_item_id: None,
        id: first.id.clone(),
        model: None,
        agent_id: None,
        tool_calls: None,
        tool_call_id: None,
        tool_returns: None,
        created_at: first.date,
        approve: None,
        approval_request_id: None,
        denial_reason: None,
        approvals: None,
    }
}

/// The role of the stored message a view comes from (`None`: a view this does not restore).
pub(crate) fn role(message_type: &str) -> Option<MessageRole> {
    Some(match message_type {
        "system_message" => MessageRole::System,
        "user_message" => MessageRole::User,
        "assistant_message"
        | "reasoning_message"
        | "hidden_reasoning_message"
        | "tool_call_message" => MessageRole::Assistant,
        "tool_return_message" => MessageRole::Tool,
        _ => return None,
    })
}

/// A model that does not reason writes its thoughts as text; a reasoning model's reasoning is
/// its own part.
fn reasoning(v: &ListedMessage) -> ContentPart {
    let text = v.reasoning.clone().unwrap_or_default();
    match v.source.as_deref() {
        Some("non_reasoner_model") => ContentPart::text(text),
        _ => ContentPart::Reasoning {
            is_native: true,
            reasoning: text,
            signature: v.signature.clone(),
        },
    }
}

/// The id of the `send_message` call whose return comes next in the listing.
fn reply_call_id(after: &[ListedMessage]) -> Option<String> {
    after
        .iter()
        .find(|m| {
            m.message_type == "tool_return_message" && m.name.as_deref() == Some("send_message")
        })
        .and_then(|m| m.tool_call_id.clone())
}

fn call(name: &str, arguments: String, id: String) -> ChatToolCall {
    ChatToolCall {
        id,
        kind: FunctionKind::Function,
        function: FunctionCall {
            name: name.to_owned(),
            arguments,
        },
    }
}

fn tool_return(m: &mut MessageSchema, v: &ListedMessage) {
    let text = match &v.tool_return {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let status = match v.status.as_deref() {
        Some("error") => ToolReturnStatus::Error,
        _ => ToolReturnStatus::Success,
    };
    // The listing shows the message of the package the model was given; it is stored (and
    // sent to the model again) packed, as the source stored it.
    let text = packed(&text, status == ToolReturnStatus::Success, v.date);
    m.tool_call_id.clone_from(&v.tool_call_id);
    m.content.push(ContentPart::text(text.clone()));
    m.tool_returns
        .get_or_insert_default()
        .push(MessageToolReturn {
            tool_call_id: v.tool_call_id.clone(),
            status,
            stdout: v.stdout.clone(),
            stderr: v.stderr.clone(),
            func_response: Some(FuncResponse::Text(text)),
        });
}

/// A tool's return as Letta stores it: `{"status", "message", "time"}`, 2-space indented, the
/// time as Letta writes it (in UTC: the listing gives no time zone).
fn packed(message: &str, ok: bool, at: DateTime<Utc>) -> String {
    let package = serde_json::json!({
        "status": if ok { "OK" } else { "Failed" },
        "message": message,
        "time": at.format("%Y-%m-%d %I:%M:%S %p UTC%z").to_string(),
    });
    serde_json::to_string_pretty(&package).unwrap_or_else(|_| message.to_owned())
}

/// A view's content: a string is one text part; a list, its parts (a part this version does
/// not know becomes its text, if it has one).
fn parts(content: Option<&Value>) -> Vec<ContentPart> {
    match content {
        Some(Value::String(s)) => vec![ContentPart::text(s.clone())],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| {
                serde_json::from_value::<ContentPart>(p.clone())
                    .ok()
                    .or_else(|| {
                        let text = p.get("text")?.as_str()?;
                        Some(ContentPart::text(text))
                    })
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn text_of(content: Option<&Value>) -> String {
    parts(content)
        .into_iter()
        .filter_map(|p| match p {
            ContentPart::Text { text, .. } => Some(text),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(v: Value) -> Vec<ListedMessage> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_views_of_one_message_make_it_again_and_a_reply_is_a_send_message_call() {
        let views = listed(serde_json::json!([
            {"id": "message-1", "date": "2026-01-01T00:00:01Z", "message_type": "user_message",
             "content": "hi"},
            {"id": "message-2", "date": "2026-01-01T00:00:02Z", "message_type": "reasoning_message",
             "reasoning": "greet back", "source": "non_reasoner_model"},
            {"id": "message-2", "date": "2026-01-01T00:00:02Z", "message_type": "assistant_message",
             "content": "hello"},
            {"id": "message-3", "date": "2026-01-01T00:00:02Z", "message_type": "tool_return_message",
             "name": "send_message", "tool_call_id": "call_9", "status": "success",
             "tool_return": "Sent message successfully."}
        ]));
        let stored = stored(&views, true);
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[0].role, MessageRole::User);
        assert_eq!(stored[0].content, vec![ContentPart::text("hi")]);
        let reply = &stored[1];
        assert_eq!(reply.role, MessageRole::Assistant);
        assert_eq!(reply.content, vec![ContentPart::text("greet back")]);
        let call = &reply.tool_calls.as_ref().unwrap()[0];
        assert_eq!(
            (call.id.as_str(), call.function.name.as_str()),
            ("call_9", "send_message")
        );
        let args: Value = serde_json::from_str(&call.function.arguments).unwrap();
        assert_eq!(args["message"], "hello");
        assert_eq!(stored[2].tool_call_id.as_deref(), Some("call_9"));
        // Stored packed, as the source stored it: the listing showed its message.
        let [ContentPart::Text { text, .. }] = stored[2].content.as_slice() else {
            panic!("{:?}", stored[2].content);
        };
        let packed: Value = serde_json::from_str(text).unwrap();
        assert_eq!(packed["status"], "OK");
        assert_eq!(packed["message"], "Sent message successfully.");
    }

    #[test]
    fn without_send_message_a_reply_is_text_and_tool_calls_keep_their_ids() {
        let views = listed(serde_json::json!([
            {"id": "message-2", "date": "2026-01-01T00:00:02Z", "message_type": "reasoning_message",
             "reasoning": "think", "source": "reasoner_model", "signature": "sig"},
            {"id": "message-2", "date": "2026-01-01T00:00:02Z", "message_type": "tool_call_message",
             "tool_call": {"name": "roll", "arguments": "{\"sides\": 6}", "tool_call_id": "call_1"}},
            {"id": "message-4", "date": "2026-01-01T00:00:03Z", "message_type": "assistant_message",
             "content": [{"type": "text", "text": "rolled"}]},
            {"id": "message-5", "date": "2026-01-01T00:00:03Z", "message_type": "event_message"}
        ]));
        let stored = stored(&views, false);
        assert_eq!(stored.len(), 2, "an unknown view is left out");
        assert!(
            matches!(&stored[0].content[0], ContentPart::Reasoning { reasoning, .. } if reasoning == "think")
        );
        assert_eq!(stored[0].tool_calls.as_ref().unwrap()[0].id, "call_1");
        assert_eq!(stored[1].content, vec![ContentPart::text("rolled")]);
        assert!(stored[1].tool_calls.is_none());
    }
}

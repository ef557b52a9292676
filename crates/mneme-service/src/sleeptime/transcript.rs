//! What a companion reads: the primary's messages as `speaker: text` lines, as Letta writes
//! them for its sleep-time agents.

use mneme_store::{Message, Role};
use mneme_types::AgentType;
use serde_json::Value;

/// Told to a companion of a primary that uses native tool calling, before the transcript: it
/// is not the one speaking, and its `memory_persona` block holds its policy.
const REMINDER: &str = "<system-reminder>
You are a background memory agent. The conversation below already took place between another \
agent (the primary) and its user; you are not taking part in it:
- lines from \"assistant\" are the primary agent's, not yours;
- lines from \"user\" are the primary agent's user.
Update the memory blocks you share with the primary agent with whatever in this conversation is \
worth keeping, following the policy in your memory_persona block.
</system-reminder>";

/// The companion's message: for a primary of the native-tool-calling kind the reminder, then
/// the transcript; for older (MemGPT-style) primaries the bare transcript, as Letta sends it.
pub(super) fn input(primary: AgentType, lines: &[String]) -> String {
    let messages = lines.join("\n");
    match primary {
        AgentType::LettaV1Agent => format!("{REMINDER}\n\nMessages:\n{messages}"),
        _ => messages,
    }
}

/// One or more lines per message, oldest first; system messages and what says nothing (an
/// empty return, an approval answer) leave none.
pub(super) fn lines(messages: &[Message]) -> Vec<String> {
    messages.iter().flat_map(message_lines).collect()
}

fn message_lines(m: &Message) -> Vec<String> {
    match m.role {
        Role::System | Role::Summary => Vec::new(),
        Role::User => vec![format!(
            "{}: {}",
            m.name.as_deref().unwrap_or("user"),
            m.text
        )],
        Role::Assistant | Role::Approval => assistant_lines(m),
        Role::Tool => tool_line(m).into_iter().collect(),
    }
}

fn assistant_lines(m: &Message) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(thinking) = m.reasoning_text() {
        out.push(format!("assistant: <thinking>{thinking}</thinking>"));
    }
    if !m.text.is_empty() {
        out.push(format!("assistant: {}", m.text));
    }
    for call in &m.tool_calls {
        let said = (call.name == "send_message")
            .then(|| serde_json::from_str::<Value>(&call.arguments).ok())
            .flatten()
            .and_then(|args| {
                args.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        match said {
            Some(text) => out.push(format!("assistant: {text}")),
            None => out.push(format!("assistant: Calling tool {}", call.name)),
        }
    }
    out
}

/// A tool's answer, from its packed return (`{"status", "message", "time"}`).
fn tool_line(m: &Message) -> Option<String> {
    let packed: Value = serde_json::from_str(&m.text).ok()?;
    let said = match packed.get("message")? {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        other => other.to_string(),
    };
    (said != "None").then(|| format!("assistant: Tool call returned {said}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_store::ToolCallRecord;
    use mneme_types::AgentId;

    fn msg(role: Role, text: &str) -> Message {
        Message::new(AgentId::new(), role, text, mneme_types::time::now())
    }

    #[test]
    fn each_kind_of_message_reads_as_letta_writes_it() {
        let mut reply = msg(Role::Assistant, "thinking aloud");
        reply.tool_calls = vec![
            ToolCallRecord {
                id: "c1".into(),
                name: "send_message".into(),
                arguments: r#"{"message": "Hello Ada"}"#.into(),
            },
            ToolCallRecord {
                id: "c2".into(),
                name: "memory_insert".into(),
                arguments: "{}".into(),
            },
        ];
        let mut named = msg(Role::User, "hi");
        named.name = Some("ada".into());
        let messages = vec![
            msg(Role::System, "prompt"),
            named,
            reply,
            msg(
                Role::Tool,
                r#"{"status": "OK", "message": "None", "time": "t"}"#,
            ),
            msg(
                Role::Tool,
                r#"{"status": "OK", "message": "3 results", "time": "t"}"#,
            ),
        ];
        assert_eq!(
            lines(&messages),
            [
                "ada: hi",
                "assistant: thinking aloud",
                "assistant: Hello Ada",
                "assistant: Calling tool memory_insert",
                "assistant: Tool call returned 3 results",
            ]
        );
    }

    #[test]
    fn native_primaries_get_the_reminder_first() {
        let lines = vec!["user: hi".to_owned()];
        let v1 = input(AgentType::LettaV1Agent, &lines);
        assert!(v1.starts_with("<system-reminder>") && v1.ends_with("Messages:\nuser: hi"));
        assert_eq!(input(AgentType::MemgptV2Agent, &lines), "user: hi");
    }
}

//! What a summarizer reads and what it writes: the transcript of the messages leaving the
//! context, the summarizer's request (ours, or the agent's own for the `self_compact` modes),
//! and the summary message that replaces them (§10.6's packed JSON).

use chrono::{DateTime, Utc};
use mneme_llm::{ChatMessage, ChatRequest, ToolChoice, ToolSchema};
use mneme_store::{Message, Role};
use mneme_types::{CompactionMode, CompactionStats};
use serde::{Deserialize, Serialize};

use crate::system::local_time;

/// Said by the assistant before the transcript when `prompt_acknowledgement` is set, so that a
/// model inclined to chat answers with the summary rather than a reply.
pub(crate) const ACKNOWLEDGEMENT: &str =
    "Understood. Send the transcript and I will answer with its summary only.";
/// What a clipped summary ends with.
pub(crate) const CLIPPED: &str = "... [summary truncated to fit]";
/// Tool returns are cut to this many characters when the whole transcript is too long.
const RETURN_CLIP: usize = 5_000;

/// The transcript of `messages`: one `[role] text` entry each (tool calls as ` -> name(args)`),
/// between markers; earlier summaries appear as what they say, so that they are summarised
/// again with the rest. Tool returns longer than `clip_returns` characters are cut.
pub(crate) fn transcript(messages: &[Message], clip_returns: Option<usize>) -> String {
    let mut out = String::from(
        "The conversation to summarise, oldest first, between the markers:\n<start_transcript>\n",
    );
    for m in messages {
        if let Some(entry) = entry(m, clip_returns) {
            out.push_str(&entry);
            out.push('\n');
        }
    }
    out.push_str("<end_transcript>");
    out
}

/// The transcript, cut to fit `budget_chars`: tool returns clipped first, then the middle of
/// the transcript dropped (its start and end kept) with a note saying how much.
pub(crate) fn fitted_transcript(messages: &[Message], budget_chars: usize) -> String {
    let whole = transcript(messages, None);
    if whole.len() <= budget_chars {
        return whole;
    }
    let clipped = transcript(messages, Some(RETURN_CLIP));
    if clipped.len() <= budget_chars {
        return clipped;
    }
    middle_truncated(&clipped, budget_chars)
}

/// The request to a summarizer model: the prompt as the system prompt, the transcript as the
/// user's message, no tools.
pub(crate) fn summarizer_request(
    prompt: &str,
    acknowledge: bool,
    transcript: String,
) -> ChatRequest {
    let mut messages = Vec::with_capacity(2);
    if acknowledge {
        messages.push(assistant(ACKNOWLEDGEMENT));
    }
    messages.push(ChatMessage::user(transcript));
    ChatRequest {
        system: Some(prompt.to_owned()),
        messages,
        tools: Vec::new(),
        tool_choice: ToolChoice::None,
        response_format: None,
    }
}

/// The request to the agent's own model (`self_compact` modes): its system prompt, the
/// history leaving the context and its tools as it knows them (so the provider's prompt cache
/// still applies), then the prompt as the user's next message; no tool may be called.
pub(crate) fn self_request(
    system: &str,
    mut history: Vec<ChatMessage>,
    tools: &[ToolSchema],
    prompt: &str,
) -> ChatRequest {
    if !matches!(history.last(), Some(ChatMessage::Assistant { .. })) {
        history.push(assistant("Understood; I will write the summary now."));
    }
    history.push(ChatMessage::user(prompt));
    ChatRequest {
        system: Some(system.to_owned()),
        messages: history,
        tools: tools.to_vec(),
        tool_choice: ToolChoice::None,
        response_format: None,
    }
}

/// The summary, cut to `clip` characters with a note when it is longer.
pub(crate) fn clipped(summary: &str, clip: Option<u32>) -> String {
    let summary = summary.trim();
    match clip.map(|c| c as usize) {
        Some(max) if summary.chars().count() > max => {
            let kept: String = summary.chars().take(max).collect();
            format!("{kept}{CLIPPED}")
        }
        _ => summary.to_owned(),
    }
}

/// The summary message's text: Letta's packed `system_alert` (2-space JSON), a note that
/// earlier messages left the context, then the summary; with the stats of a loop compaction.
pub(crate) fn packed(
    summary: &str,
    stats: Option<&CompactionStats>,
    mode: CompactionMode,
    at: DateTime<Utc>,
) -> String {
    let evicted = stats.map(|s| {
        s.messages_count_before
            .saturating_sub(s.messages_count_after)
    });
    let note = match (mode.is_sliding(), evicted) {
        (true, Some(k)) => format!(
            "Note: {k} messages from the start of the conversation were moved out of your \
             context to save space; they are still in recall memory."
        ),
        (true, None) => "Note: the oldest messages of the conversation were moved out of your \
                         context to save space; they are still in recall memory."
            .to_owned(),
        (false, _) => "Note: earlier messages were moved out of your context to save space; \
                       they are still in recall memory."
            .to_owned(),
    };
    let alert = Alert {
        kind: "system_alert".into(),
        message: format!("{note}\nSummary of those messages:\n {summary}"),
        time: local_time(at),
        compaction_stats: stats.cloned(),
    };
    serde_json::to_string_pretty(&alert).unwrap_or_default()
}

/// Whether `m` is a compaction summary: stored with role `summary`, or as a user message
/// holding a packed `system_alert` (without `include_compaction_messages`).
pub(crate) fn is_summary(m: &Message) -> bool {
    match m.role {
        Role::Summary => true,
        Role::User => unpacked(&m.text).is_some(),
        _ => false,
    }
}

/// The message a packed summary carries (the note and the summary).
pub(crate) fn unpacked(text: &str) -> Option<String> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let alert: Alert = serde_json::from_str(text).ok()?;
    (alert.kind == "system_alert").then_some(alert.message)
}

/// Letta's packed summary, fields in its order.
#[derive(Serialize, Deserialize)]
struct Alert {
    #[serde(rename = "type")]
    kind: String,
    message: String,
    time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compaction_stats: Option<CompactionStats>,
}

fn assistant(text: &str) -> ChatMessage {
    ChatMessage::Assistant {
        content: Some(text.to_owned()),
        reasoning: Vec::new(),
        tool_calls: Vec::new(),
    }
}

/// One transcript entry, or none for what carries nothing to summarise (an approval answer).
fn entry(m: &Message, clip_returns: Option<usize>) -> Option<String> {
    let clip = |text: &str| match clip_returns {
        Some(max) if text.chars().count() > max => {
            let kept: String = text.chars().take(max).collect();
            format!("{kept} [... cut]")
        }
        _ => text.to_owned(),
    };
    let text = match m.role {
        Role::Approval if m.tool_calls.is_empty() => return None,
        _ if is_summary(m) => {
            let said = unpacked(&m.text).unwrap_or_else(|| m.text.clone());
            return Some(format!("[summary of earlier messages] {said}"));
        }
        Role::Tool if !m.tool_returns.is_empty() => {
            let returns = m.tool_returns.iter().map(|r| clip(&r.func_response));
            returns.collect::<Vec<_>>().join("\n")
        }
        Role::Tool => clip(&m.text),
        _ => m.text.clone(),
    };
    let mut line = format!("[{}] {text}", speaker(m.role));
    for call in &m.tool_calls {
        line.push_str(&format!(" -> {}({})", call.name, call.arguments));
    }
    Some(line)
}

fn speaker(role: Role) -> &'static str {
    match role {
        Role::Approval => "assistant",
        other => other.as_str(),
    }
}

/// `text` cut to `budget` bytes: 30% from its start and 30% from its end, with a note on what
/// was dropped between them.
fn middle_truncated(text: &str, budget: usize) -> String {
    let keep = budget.max(2_000) * 3 / 10;
    let head = floor_boundary(text, keep);
    let tail = ceil_boundary(text, text.len().saturating_sub(keep));
    if head >= tail {
        return text.to_owned();
    }
    let dropped = text[head..tail].chars().count();
    format!(
        "{}\n[... {dropped} characters of the middle left out to fit ...]\n{}",
        &text[..head],
        &text[tail..]
    )
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_store::{ToolCallRecord, ToolReturnRecord};
    use mneme_types::AgentId;

    fn msg(role: Role, text: &str) -> Message {
        Message::new(AgentId::new(), role, text, mneme_types::time::now())
    }

    #[test]
    fn the_transcript_shows_roles_calls_returns_and_earlier_summaries() {
        let stats = CompactionStats {
            trigger: "post_step_context_check".into(),
            context_tokens_before: Some(900),
            context_tokens_after: Some(300),
            context_window: 1000,
            messages_count_before: 10,
            messages_count_after: 4,
        };
        let at = DateTime::from_timestamp(1_736_931_600, 0).unwrap();
        let old = packed("They met.", Some(&stats), CompactionMode::SlidingWindow, at);
        let mut call = msg(Role::Assistant, "Looking.");
        call.tool_calls.push(ToolCallRecord {
            id: "c".into(),
            name: "search".into(),
            arguments: r#"{"q":"tea"}"#.into(),
        });
        let mut ret = msg(Role::Tool, "");
        ret.tool_returns.push(ToolReturnRecord {
            tool_call_id: "c".into(),
            status: "success".into(),
            func_response: "x".repeat(20),
            stdout: None,
            stderr: None,
            content: None,
        });
        let messages = [msg(Role::User, &old), msg(Role::User, "hi"), call, ret];
        let t = transcript(&messages, Some(5));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1], "<start_transcript>");
        assert!(
            lines[2].starts_with("[summary of earlier messages] Note: 6 messages from the start"),
            "{}",
            lines[2]
        );
        // The earlier summary's note and summary take three lines.
        assert_eq!(lines[4], " They met.");
        assert_eq!(lines[5], "[user] hi");
        assert_eq!(lines[6], r#"[assistant] Looking. -> search({"q":"tea"})"#);
        assert_eq!(lines[7], "[tool] xxxxx [... cut]");
        assert_eq!(lines[8], "<end_transcript>");
    }

    #[test]
    fn the_summary_is_packed_as_a_system_alert() {
        let at = DateTime::from_timestamp(1_736_931_600, 0).unwrap();
        let text = packed("We talked.", None, CompactionMode::All, at);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["type", "message", "time"]);
        assert_eq!(v["time"], "2025-01-15 09:00:00 AM UTC+0000");
        let message = v["message"].as_str().unwrap();
        assert!(message.ends_with("\nSummary of those messages:\n We talked."));
        assert!(text.starts_with("{\n  \"type\": \"system_alert\""));
        assert!(is_summary(&msg(Role::User, &text)));
        assert!(is_summary(&msg(Role::Summary, "anything")));
        assert!(!is_summary(&msg(Role::User, r#"{"type": "heartbeat"}"#)));
        assert!(!is_summary(&msg(Role::User, "hello")));
    }

    #[test]
    fn long_summaries_and_transcripts_are_cut() {
        assert_eq!(clipped("  abcdef ", Some(3)), format!("abc{CLIPPED}"));
        assert_eq!(clipped("abc", Some(3)), "abc");
        assert_eq!(clipped("abcdef", None), "abcdef");
        let long = "é".repeat(10_000);
        let cut = middle_truncated(&long, 4_000);
        assert!(cut.len() < 4_000, "{}", cut.len());
        assert!(cut.contains("characters of the middle left out"));
        let messages = [msg(Role::User, &"y".repeat(50_000))];
        let fitted = fitted_transcript(&messages, 10_000);
        assert!(fitted.len() < 10_000);
        assert!(fitted.starts_with("The conversation"));
        assert!(fitted.ends_with("<end_transcript>"));
    }
}

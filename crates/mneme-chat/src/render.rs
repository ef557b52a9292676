//! One reply on the terminal, as its stream arrives: the assistant's text token by token,
//! reasoning dimmed on one line, each tool call and return on a line of its own, memory edits
//! named, and the turn's stop reason and usage at the end.
//!
//! The renderer writes to any `Write` (stdout in the chat, a `Vec<u8>` in the tests) and keeps
//! what it needs across chunks: which line is open, the calls waiting for their returns, and
//! the run's id (for a cancel).

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use mneme_types::{
    LettaMessage, LettaUsageStatistics, MessageBody, MessageContent, MessageId, ToolCall,
    ToolCallDelta, ToolCallMessage, ToolCallOrDelta, ToolCalls, ToolReturnMessage,
    ToolReturnStatus,
};

use crate::sse::StreamEvent;
use crate::text::{Style, call_arguments, first_line, one_line, plural, thousands, truncate};

/// Reasoning is shown compact: one line, this many characters at most.
const REASONING_MAX: usize = 160;

pub(crate) struct Renderer {
    style: Style,
    open: Open,
    /// False once text was written without its line ending.
    at_line_start: bool,
    /// A call whose fragments are still arriving (token streaming).
    streaming: Option<Fragments>,
    /// Calls shown, by `tool_call_id`, for their returns.
    calls: HashMap<String, Call>,
    run_ids: Vec<String>,
    stop: Option<String>,
    usage: Option<LettaUsageStatistics>,
    done: bool,
    errors: usize,
}

/// What the last chunk started that the next may continue.
#[derive(Debug, PartialEq)]
enum Open {
    Nothing,
    Assistant(MessageId),
    /// A reasoning line: its text so far and how many characters of it are shown.
    Reasoning(MessageId, String, usize),
    /// The line saying reasoning was withheld.
    Hidden(MessageId),
}

/// A streamed call being put together, with its message and its mark (`→`, or `?` for a call
/// that waits for approval).
#[derive(Debug)]
struct Fragments {
    message: MessageId,
    mark: &'static str,
    call: Call,
}

#[derive(Debug, Clone, Default)]
struct Call {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl Renderer {
    pub(crate) fn new(style: Style) -> Renderer {
        Renderer {
            style,
            open: Open::Nothing,
            at_line_start: true,
            streaming: None,
            calls: HashMap::new(),
            run_ids: Vec::new(),
            stop: None,
            usage: None,
            done: false,
            errors: 0,
        }
    }

    /// The runs this reply belongs to, as far as the stream told.
    pub(crate) fn run_ids(&self) -> &[String] {
        &self.run_ids
    }

    pub(crate) fn on_event(&mut self, event: StreamEvent, out: &mut impl Write) -> io::Result<()> {
        match event {
            StreamEvent::Message(m) => {
                self.note_run(m.run_id.map(|r| r.to_string()));
                self.on_message(*m, out)?;
            }
            StreamEvent::Ping { run_id } => self.note_run(run_id),
            StreamEvent::Stop(reason) => self.stop = Some(reason),
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Error(text) => {
                self.errors += 1;
                self.flush_call(out)?;
                let line = self.style.red(&format!("error: {text}"));
                self.line(out, &line)?;
            }
            StreamEvent::Done => self.done = true,
            StreamEvent::Other => {}
        }
        Ok(())
    }

    /// The end of a stream: open lines closed, then why the turn stopped (unless it simply
    /// ended) and what it used, dimmed.
    pub(crate) fn finish(&mut self, elapsed: Duration, out: &mut impl Write) -> io::Result<()> {
        self.flush_call(out)?;
        self.close_line(out)?;
        match self.stop.as_deref() {
            Some("end_turn") => {}
            Some(reason) => {
                let line = self
                    .style
                    .yellow(&format!("stopped: {}", stop_text(reason)));
                self.line(out, &line)?;
            }
            None if !self.done && self.errors == 0 => {
                let line = self
                    .style
                    .yellow("the stream ended before the server said the turn was over");
                self.line(out, &line)?;
            }
            None => {}
        }
        let summary = self.style.dim(&usage_text(self.usage.as_ref(), elapsed));
        self.line(out, &summary)
    }

    /// The reply was cut short (Ctrl-C, a broken connection): open lines closed, nothing more.
    pub(crate) fn abort(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.flush_call(out)?;
        self.close_line(out)
    }

    fn note_run(&mut self, run: Option<String>) {
        if let Some(run) = run
            && !self.run_ids.contains(&run)
        {
            self.run_ids.push(run);
        }
    }

    fn on_message(&mut self, m: LettaMessage, out: &mut impl Write) -> io::Result<()> {
        let id = m.id;
        let is_call = matches!(
            m.body,
            MessageBody::ToolCall(_) | MessageBody::ApprovalRequest(_)
        );
        if !is_call {
            // Anything but a call's next fragment completes the call being streamed.
            self.flush_call(out)?;
        }
        match m.body {
            MessageBody::ToolCall(call) => self.on_tool_call(id, call, "→", out),
            MessageBody::ApprovalRequest(call) => self.on_tool_call(id, call, "?", out),
            MessageBody::Assistant(m) => self.assistant(id, &content_text(&m.content), out),
            MessageBody::Reasoning(r) => self.reasoning(id, &r.reasoning, out),
            MessageBody::HiddenReasoning(_) => {
                // A token stream repeats the message for each fragment: one line is enough.
                if self.open != Open::Hidden(id) {
                    let line = self.style.dim("thinking: (hidden by the provider)");
                    self.line(out, &line)?;
                    self.open = Open::Hidden(id);
                }
                Ok(())
            }
            MessageBody::ToolReturn(r) => self.tool_return(&r, out),
            MessageBody::Summary(s) => {
                let text = format!(
                    "⋯ earlier messages summarized: {}",
                    first_line(&s.summary, 80)
                );
                let line = self.style.dim(&text);
                self.line(out, &line)
            }
            MessageBody::Event(e) => {
                let line = self
                    .style
                    .dim(&format!("⋯ {}", e.event_type.replace('_', " ")));
                self.line(out, &line)
            }
            // Streams carry no user or system messages; an echo of an approval needs no line.
            MessageBody::User(_) | MessageBody::System(_) | MessageBody::ApprovalResponse(_) => {
                Ok(())
            }
        }
    }

    fn assistant(&mut self, id: MessageId, text: &str, out: &mut impl Write) -> io::Result<()> {
        if self.open != Open::Assistant(id) {
            self.close_line(out)?;
            self.open = Open::Assistant(id);
        }
        self.write(out, text)
    }

    /// Reasoning shown compact: the fragments so far with their blanks and line breaks as
    /// single spaces (which only ever extends what is shown), cut at `REASONING_MAX`.
    fn reasoning(&mut self, id: MessageId, text: &str, out: &mut impl Write) -> io::Result<()> {
        let (mut full, shown) = match std::mem::replace(&mut self.open, Open::Nothing) {
            Open::Reasoning(open, full, shown) if open == id => (full, shown),
            _ => {
                self.close_line(out)?;
                let head = self.style.dim("  thinking: ");
                self.write(out, &head)?;
                (String::new(), 0)
            }
        };
        if shown < REASONING_MAX {
            full.push_str(text);
        }
        let compact = one_line(&full);
        let visible = match compact.chars().count() < REASONING_MAX {
            true => compact,
            false => truncate(&compact, REASONING_MAX),
        };
        let new: String = visible.chars().skip(shown).collect();
        self.open = Open::Reasoning(id, full, shown + new.chars().count());
        let dimmed = self.style.dim(&new);
        self.write(out, &dimmed)
    }

    /// A message listing its calls shows them at once. Anything else is a fragment (token
    /// streaming), collected until the call is complete, which is when anything else arrives:
    /// a first fragment may look like a whole call (name, id and some arguments), so only the
    /// list form is taken as complete.
    fn on_tool_call(
        &mut self,
        id: MessageId,
        call: ToolCallMessage,
        mark: &'static str,
        out: &mut impl Write,
    ) -> io::Result<()> {
        let delta = match (call.tool_calls, call.tool_call) {
            (Some(ToolCalls::List(list)), _) if !list.is_empty() => {
                self.flush_call(out)?;
                for c in &list {
                    self.show_call(Call::from(c), mark, out)?;
                }
                return Ok(());
            }
            (Some(ToolCalls::Delta(delta)), _) | (_, ToolCallOrDelta::Delta(delta)) => delta,
            (_, ToolCallOrDelta::Call(c)) => ToolCallDelta {
                name: Some(c.name),
                arguments: Some(c.arguments),
                tool_call_id: Some(c.tool_call_id),
            },
        };
        self.on_fragment(id, &delta, mark, out)
    }

    fn on_fragment(
        &mut self,
        id: MessageId,
        delta: &ToolCallDelta,
        mark: &'static str,
        out: &mut impl Write,
    ) -> io::Result<()> {
        let same = self.streaming.as_ref().is_some_and(|f| {
            f.message == id && (delta.tool_call_id.is_none() || f.call.id == delta.tool_call_id)
        });
        if !same {
            self.flush_call(out)?;
        }
        let f = self.streaming.get_or_insert_with(|| Fragments {
            message: id,
            mark,
            call: Call {
                id: delta.tool_call_id.clone(),
                ..Call::default()
            },
        });
        // The name comes in the first fragment (some servers repeat it in every one).
        if let Some(name) = delta.name.as_ref().filter(|_| f.call.name.is_empty()) {
            f.call.name = name.clone();
        }
        if let Some(args) = &delta.arguments {
            f.call.arguments.push_str(args);
        }
        Ok(())
    }

    /// Shows the call whose fragments were arriving, now that it is complete.
    fn flush_call(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self.streaming.take() {
            Some(f) => self.show_call(f.call, f.mark, out),
            None => Ok(()),
        }
    }

    fn show_call(&mut self, call: Call, mark: &str, out: &mut impl Write) -> io::Result<()> {
        let text = format!("{mark} {}({})", call.name, call_arguments(&call.arguments));
        let line = match mark {
            "?" => self.style.yellow(&format!("{text}  waits for approval")),
            _ => self.style.cyan(&text),
        };
        self.line(out, &line)?;
        if let Some(id) = &call.id {
            self.calls.insert(id.clone(), call);
        }
        Ok(())
    }

    /// `← status: first line…`, or for a memory tool that succeeded `✎ memory <label> updated`.
    fn tool_return(&mut self, r: &ToolReturnMessage, out: &mut impl Write) -> io::Result<()> {
        let returns: Vec<(String, ToolReturnStatus, String)> = match &r.tool_returns {
            Some(list) if !list.is_empty() => list
                .iter()
                .map(|t| {
                    (
                        t.tool_call_id.clone(),
                        t.status,
                        content_text(&t.tool_return),
                    )
                })
                .collect(),
            _ => vec![(r.tool_call_id.clone(), r.status, r.tool_return.clone())],
        };
        for (call_id, status, value) in returns {
            let call = self.calls.get(&call_id);
            let edit = call.and_then(|c| memory_edit(&c.name, &c.arguments));
            let line = match (status, edit) {
                (ToolReturnStatus::Success, Some((label, verb))) => {
                    self.style.green(&format!("✎ memory {label} {verb}"))
                }
                (ToolReturnStatus::Success, None) => {
                    let text = first_line(&return_text(&value), 80);
                    self.style.dim(&format!("← success: {text}"))
                }
                (ToolReturnStatus::Error, _) => {
                    let text = first_line(&return_text(&value), 80);
                    self.style.red(&format!("← error: {text}"))
                }
            };
            self.line(out, &line)?;
        }
        Ok(())
    }

    /// A line of its own, indented under the conversation.
    fn line(&mut self, out: &mut impl Write, text: &str) -> io::Result<()> {
        self.close_line(out)?;
        self.open = Open::Nothing;
        writeln!(out, "  {text}")
    }

    fn write(&mut self, out: &mut impl Write, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        out.write_all(text.as_bytes())?;
        self.at_line_start = text.ends_with('\n');
        Ok(())
    }

    fn close_line(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.at_line_start {
            out.write_all(b"\n")?;
            self.at_line_start = true;
        }
        self.open = Open::Nothing;
        Ok(())
    }
}

impl From<&ToolCall> for Call {
    fn from(c: &ToolCall) -> Call {
        Call {
            id: Some(c.tool_call_id.clone()),
            name: c.name.clone(),
            arguments: c.arguments.clone(),
        }
    }
}

/// The text of a message's content: the string, or its text parts joined.
fn content_text(content: &MessageContent) -> String {
    match content {
        MessageContent::Text(s) => s.clone(),
        MessageContent::Parts(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// What a tool returned, unpacked: Letta wraps returns as `{"status", "message", "time"}`,
/// and the message is what a reader wants.
fn return_text(value: &str) -> String {
    let packed = serde_json::from_str::<serde_json::Value>(value).ok();
    match packed.as_ref().and_then(|v| v.get("message")) {
        Some(serde_json::Value::String(message)) => message.clone(),
        Some(other) => other.to_string(),
        None => value.to_owned(),
    }
}

/// The block a memory tool call changed and what it did to it, from the call's arguments:
/// Letta's core-memory tools name a `label`, its `memory` tool a `path` under `/memories/`.
fn memory_edit(name: &str, arguments: &str) -> Option<(String, &'static str)> {
    let args: serde_json::Value = serde_json::from_str(arguments).ok()?;
    let text = |key: &str| args.get(key).and_then(serde_json::Value::as_str);
    match name {
        "core_memory_append"
        | "core_memory_replace"
        | "memory_insert"
        | "memory_replace"
        | "memory_rethink" => Some((text("label")?.to_owned(), "updated")),
        "memory" => {
            let verb = match text("command")? {
                "create" => "created",
                "delete" => "deleted",
                "rename" => "renamed",
                _ => "updated",
            };
            let path = text("new_path").or_else(|| text("path"))?;
            let label = path
                .trim()
                .strip_prefix("/memories/")
                .unwrap_or(path.trim());
            Some((label.trim_start_matches('/').to_owned(), verb))
        }
        _ => None,
    }
}

/// A stop reason with what it means for the user.
fn stop_text(reason: &str) -> String {
    let why = match reason {
        "max_steps" => "the agent reached its step limit",
        "requires_approval" => "a tool call waits for approval",
        "cancelled" => "the run was cancelled",
        "no_tool_call" | "invalid_tool_call" | "invalid_llm_response" => {
            "the model's answer could not be used"
        }
        "llm_api_error" => "the model provider failed",
        "max_tokens_exceeded" | "context_window_overflow_in_system_prompt" => {
            "the context window is full"
        }
        _ => return reason.to_owned(),
    };
    format!("{reason} ({why})")
}

/// `3 steps · 1,234 tokens · 0.8 s`; only the time when the server sent no usage.
fn usage_text(usage: Option<&LettaUsageStatistics>, elapsed: Duration) -> String {
    let time = format!("{:.1} s", elapsed.as_secs_f64());
    match usage {
        Some(u) => format!(
            "{} · {} tokens · {time}",
            plural(u.step_count, "step"),
            thousands(u.total_tokens)
        ),
        None => time,
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;

//! Stored messages as the API shows them: the `LettaMessage` union. One stored message can
//! become several API messages (reasoning, then text, then a tool call); they share its id.

use chrono::{DateTime, SecondsFormat, Utc};
use mneme_agent::tools::Args;
use mneme_store::{Message, Role};
use mneme_types::{MessageId, RunId, StepId};
use serde_json::{Map, Value, json};

/// How assistant messages of heartbeat agents are shown.
#[derive(Debug, Clone)]
pub(crate) struct RenderOptions {
    /// Show calls of `tool_name` as `assistant_message` (and hide their returns).
    pub use_assistant_message: bool,
    pub tool_name: String,
    pub tool_kwarg: String,
    /// Native-loop agents: assistant text is the reply, not inner thoughts.
    pub native: bool,
}

impl RenderOptions {
    pub(crate) fn new(native: bool) -> RenderOptions {
        RenderOptions {
            use_assistant_message: true,
            tool_name: "send_message".into(),
            tool_kwarg: "message".into(),
            native,
        }
    }
}

/// Renders `m` into its API messages.
pub(crate) fn letta_messages(m: &Message, opts: &RenderOptions) -> Vec<Value> {
    let mut out = Vec::new();
    let mut part = |kind: &str, fields: Value| {
        let n = out.len() as u8;
        out.push(base(m, kind, n, fields));
    };
    match m.role {
        Role::System => part("system_message", json!({ "content": m.text })),
        Role::User | Role::Summary => {
            let content = m.content.clone().unwrap_or_else(|| json!(m.text));
            part("user_message", json!({ "content": content }));
        }
        Role::Assistant => {
            if let Some(reasoning) = &m.reasoning {
                part(
                    "reasoning_message",
                    json!({"reasoning": reasoning, "source": "reasoner_model", "signature": null}),
                );
            }
            if !m.text.is_empty() {
                if opts.native {
                    part("assistant_message", json!({ "content": m.text }));
                } else {
                    part(
                        "reasoning_message",
                        json!({"reasoning": m.text, "source": "non_reasoner_model", "signature": null}),
                    );
                }
            }
            for call in &m.tool_calls {
                let as_reply = opts.use_assistant_message && call.name == opts.tool_name;
                if as_reply {
                    let args = Args::parse(&call.arguments);
                    let said = args
                        .opt_string(&opts.tool_kwarg)
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    part("assistant_message", json!({ "content": said }));
                } else {
                    let wire = json!({
                        "name": call.name, "arguments": call.arguments, "tool_call_id": call.id,
                    });
                    part(
                        "tool_call_message",
                        json!({ "tool_call": wire, "tool_calls": [wire] }),
                    );
                }
            }
        }
        Role::Tool => {
            let hidden =
                opts.use_assistant_message && m.name.as_deref() == Some(opts.tool_name.as_str());
            if !hidden {
                part("tool_return_message", tool_return(m));
            }
        }
        Role::Approval if !m.tool_calls.is_empty() => {
            if !m.text.is_empty() {
                let kind = if opts.native {
                    "assistant_message"
                } else {
                    "reasoning_message"
                };
                let fields = if opts.native {
                    json!({ "content": m.text })
                } else {
                    json!({"reasoning": m.text, "source": "non_reasoner_model", "signature": null})
                };
                part(kind, fields);
            }
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| json!({"name": c.name, "arguments": c.arguments, "tool_call_id": c.id}))
                .collect();
            part(
                "approval_request_message",
                json!({ "tool_call": calls[0], "tool_calls": calls }),
            );
        }
        Role::Approval => {
            let answer = m.content.clone().unwrap_or_default();
            part(
                "approval_response_message",
                json!({
                    "approvals": answer["approvals"], "approve": answer["approve"],
                    "approval_request_id": answer["approval_request_id"],
                    "reason": answer["reason"],
                }),
            );
        }
    }
    out
}

fn tool_return(m: &Message) -> Value {
    let returns: Vec<Value> = m
        .tool_returns
        .iter()
        .map(|r| {
            json!({
                "type": "tool", "tool_call_id": r.tool_call_id, "status": r.status,
                "tool_return": r.func_response, "stdout": r.stdout, "stderr": r.stderr,
            })
        })
        .collect();
    let first = m.tool_returns.first();
    json!({
        "tool_return": m.text,
        "status": first.map(|r| r.status.as_str()).unwrap_or("success"),
        "tool_call_id": first.map(|r| r.tool_call_id.clone()).or_else(|| m.tool_call_id.clone()),
        "stdout": first.and_then(|r| r.stdout.clone()),
        "stderr": first.and_then(|r| r.stderr.clone()),
        "tool_returns": returns,
    })
}

/// The fields every `LettaMessage` carries.
struct Header<'a> {
    id: MessageId,
    date: DateTime<Utc>,
    name: Option<&'a str>,
    /// A client-given `otid` (used for the first part only).
    otid: Option<&'a str>,
    sender_id: Option<&'a str>,
    step_id: Option<StepId>,
    run_id: Option<RunId>,
    is_err: bool,
}

impl<'a> Header<'a> {
    fn of(m: &'a Message) -> Header<'a> {
        Header {
            id: m.id,
            date: m.created_at,
            name: m.name.as_deref().filter(|_| m.role != Role::Tool),
            otid: m.otid.as_deref(),
            sender_id: m.sender_id.as_deref(),
            step_id: m.step_id,
            run_id: m.run_id,
            is_err: m.is_err,
        }
    }
}

/// The common fields of part `n` of a message, then the variant's own.
fn base(m: &Message, kind: &str, n: u8, fields: Value) -> Value {
    with_header(&Header::of(m), kind, n, fields)
}

fn with_header(h: &Header<'_>, kind: &str, n: u8, fields: Value) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(h.id.to_string()));
    obj.insert("date".into(), json!(message_date(&h.date)));
    obj.insert("name".into(), json!(h.name));
    obj.insert("message_type".into(), json!(kind));
    obj.insert("otid".into(), json!(otid(h, n)));
    obj.insert("sender_id".into(), json!(h.sender_id));
    obj.insert("step_id".into(), json!(h.step_id.map(|s| s.to_string())));
    obj.insert(
        "is_err".into(),
        if h.is_err { json!(true) } else { Value::Null },
    );
    obj.insert("seq_id".into(), Value::Null);
    obj.insert("run_id".into(), json!(h.run_id.map(|r| r.to_string())));
    if let Value::Object(own) = fields {
        obj.extend(own);
    }
    Value::Object(obj)
}

/// A streamed fragment of message `id` (token streaming): the common fields, then `fields`.
pub(crate) fn delta_message(
    id: MessageId,
    step: StepId,
    run: RunId,
    kind: &str,
    part: u8,
    fields: Value,
) -> Value {
    let header = Header {
        id,
        date: mneme_types::time::now(),
        name: None,
        otid: None,
        sender_id: None,
        step_id: Some(step),
        run_id: Some(run),
        is_err: false,
    };
    with_header(&header, kind, part, fields)
}

/// Message dates have second precision and `+00:00`, unlike resource timestamps.
pub(crate) fn message_date(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The stored id's UUID with its low 7 bits replaced by the part's index, as Letta derives
/// `otid`s of the API messages made from one stored message.
fn otid(h: &Header<'_>, n: u8) -> String {
    if let Some(otid) = h.otid.filter(|_| n == 0) {
        return otid.to_owned();
    }
    let mut bytes = *h.id.uuid().as_bytes();
    bytes[15] = (bytes[15] & 0x80) | (n & 0x7f);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Keeps only the message types asked for (all when `types` is empty).
pub(crate) fn filter_types(messages: Vec<Value>, types: &[String]) -> Vec<Value> {
    if types.is_empty() {
        return messages;
    }
    messages
        .into_iter()
        .filter(|m| {
            m.get("message_type")
                .and_then(Value::as_str)
                .is_some_and(|t| types.iter().any(|want| want == t))
        })
        .collect()
}

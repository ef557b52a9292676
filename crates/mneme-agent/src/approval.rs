//! Human-in-the-loop approvals: a call to a tool with a `requires_approval` rule stops the turn
//! with an approval request; the client's answer runs (or denies) the calls in a step of its
//! own, without a model call, and the turn goes on. A request nobody will answer (its run
//! ended without waiting for the answer, or the client cancelled) is cleared by a denial.

use chrono::{DateTime, Utc};
use mneme_store::{Message, Role, Store, StoreError, ToolCallRecord, ToolReturnRecord};
use mneme_types::{
    ApprovalItem, ApprovalResponseMessage, ApprovalReturn, RunId, RunStatus, Thread, content_text,
};
use serde_json::Value;

use crate::AgentError;
use crate::step::{pack_return, tool_message};
use crate::tools::ToolOutcome;

/// Letta's reason for the calls of a request cancelled through `messages/cancel`, in its words
/// (models and clients read it).
pub const CANCEL_REASON: &str = "The user cancelled the request, so the tool call was denied.";

/// The reason a new message gives when it clears an abandoned request.
pub const ABANDONED_REASON: &str = "The request was abandoned before anyone answered it (its run ended), so the tool call was denied.";

/// The client's decision on one pending call.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Approve {
        tool_call_id: String,
    },
    Deny {
        tool_call_id: String,
        reason: Option<String>,
    },
    /// A client-side tool's result, used as given.
    Return {
        tool_call_id: String,
        status: String,
        /// The result's text (of a list of parts: the text parts).
        tool_return: String,
        /// The result as a list of content parts (text and images), when it was one.
        parts: Option<Value>,
    },
}

impl Decision {
    pub fn tool_call_id(&self) -> &str {
        match self {
            Decision::Approve { tool_call_id }
            | Decision::Deny { tool_call_id, .. }
            | Decision::Return { tool_call_id, .. } => tool_call_id,
        }
    }

    /// Reads one element of `approvals` (`ApprovalReturn` or `ToolReturn`).
    pub fn parse(v: &Value) -> Result<Decision, String> {
        let id = v["tool_call_id"]
            .as_str()
            .ok_or("every approval needs a tool_call_id")?
            .to_owned();
        match v["type"].as_str().unwrap_or("approval") {
            "approval" => match v["approve"].as_bool() {
                Some(true) => Ok(Decision::Approve { tool_call_id: id }),
                Some(false) => Ok(Decision::Deny {
                    tool_call_id: id,
                    reason: v["reason"].as_str().map(str::to_owned),
                }),
                None => Err("an approval needs approve: true or false".into()),
            },
            "tool" => Ok(Decision::Return {
                tool_call_id: id,
                status: v["status"].as_str().unwrap_or("success").to_owned(),
                tool_return: match &v["tool_return"] {
                    Value::String(s) => s.clone(),
                    parts @ Value::Array(_) => content_text(parts).unwrap_or_default(),
                    other => other.to_string(),
                },
                parts: Some(v["tool_return"].clone()).filter(Value::is_array),
            }),
            other => Err(format!("unknown approval type '{other}'")),
        }
    }
}

/// An answer to a pending approval request, with the message that records it.
#[derive(Debug, Clone)]
pub struct ApprovalAnswer {
    pub decisions: Vec<Decision>,
    /// Legacy single-decision form: applies to every pending call.
    pub all: Option<Decision>,
    /// The stored `approval` message carrying the decisions (rendered as
    /// `approval_response_message`).
    pub message: Message,
}

/// The approval request awaiting an answer: the last in-context message, when it is one.
pub fn pending_request(context: &[Message]) -> Option<&Message> {
    context
        .last()
        .filter(|m| m.role == Role::Approval && !m.tool_calls.is_empty())
}

/// Whether a pending approval request was abandoned: the run that raised it ended failed or
/// cancelled (a crash, a cancellation) rather than stopping to wait for the answer. A new
/// message clears an abandoned request; a live one refuses it (Letta's 409
/// `PENDING_APPROVAL`). A request of no known run counts as live.
pub async fn is_abandoned(store: &dyn Store, request: &Message) -> Result<bool, StoreError> {
    let Some(run) = request.run_id else {
        return Ok(false);
    };
    match store.get_run(run).await {
        Ok(run) => Ok(matches!(
            run.status,
            RunStatus::Failed | RunStatus::Cancelled
        )),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `POST /v1/agents/{id}/messages/cancel` with an approval pending and no run active: every
/// pending call is denied with Letta's cancellation reason and gets its error return, so the
/// agent is not left blocked. Returns the request cleared and its run, or `None` when nothing
/// was pending (Letta cancels runs: a request of no run is left alone). The caller holds the
/// agent, so that no turn runs meanwhile.
pub async fn cancel(
    store: &dyn Store,
    thread: Thread,
) -> Result<Option<(Message, RunId)>, AgentError> {
    let mut ctx = crate::thread_context(store, thread).await?;
    let Some((request, run)) =
        pending_request(&ctx.messages).and_then(|r| Some((r.clone(), r.run_id?)))
    else {
        return Ok(None);
    };
    let tail = crate::repair::Tail::Deny(CANCEL_REASON);
    if let Some(repair) = crate::repair::plan(&ctx, tail, mneme_types::time::now()) {
        crate::repair::apply(store, &mut ctx, repair, run).await?;
    }
    Ok(Some((request, run)))
}

/// The answer that clears a pending `request` nobody will answer: an approval response
/// denying its calls with `reason`, and one tool message with Letta's denial return for every
/// open call of its step (`calls`: the request's and those stored just before it), both
/// stamped with the request's step and run, as Letta records a cancelled approval.
pub(crate) fn denial(
    request: &Message,
    calls: &[&ToolCallRecord],
    reason: &str,
    now: DateTime<Utc>,
) -> [Message; 2] {
    let denials = request.tool_calls.iter().map(|c| {
        ApprovalItem::Approval(ApprovalReturn {
            tool_call_id: c.id.clone(),
            approve: false,
            reason: Some(reason.to_owned()),
        })
    });
    let body = ApprovalResponseMessage {
        approvals: Some(denials.collect()),
        approve: None,
        approval_request_id: Some(request.id.to_string()),
        reason: None,
    };
    let mut answer = Message::new(request.agent_id, Role::Approval, "", now);
    answer.content = serde_json::to_value(&body).ok();
    let returns = calls.iter().map(|c| denied_return(&c.id, Some(reason)));
    let name = calls.first().map(|c| c.name.clone());
    let tool = tool_message(request.agent_id, now, name, returns.collect());
    [answer, tool].map(|mut m| {
        m.step_id = request.step_id;
        m.run_id = request.run_id;
        m
    })
}

/// Calls of the request's step that needed no approval: Letta stores them in the assistant
/// message just before the request, and runs them with the approved ones.
pub(crate) fn pending_calls<'a>(context: &'a [Message], request: &Message) -> &'a [ToolCallRecord] {
    let [.., before, last] = context else {
        return &[];
    };
    let same_step = before.step_id.is_some() && before.step_id == request.step_id;
    if last.id == request.id && before.role == Role::Assistant && same_step {
        &before.tool_calls
    } else {
        &[]
    }
}

/// Each pending call with the client's decision on it, in the request's order; an error
/// unless the answer covers exactly the pending calls.
pub(crate) fn decisions_for<'a>(
    pending: &'a Message,
    answer: &ApprovalAnswer,
) -> Result<Vec<(&'a ToolCallRecord, Decision)>, String> {
    let decisions: Vec<Decision> = match &answer.all {
        Some(d) => pending
            .tool_calls
            .iter()
            .map(|c| with_id(d, &c.id))
            .collect(),
        None => answer.decisions.clone(),
    };
    let mut asked: Vec<&str> = pending.tool_calls.iter().map(|c| c.id.as_str()).collect();
    let mut answered: Vec<&str> = decisions.iter().map(Decision::tool_call_id).collect();
    asked.sort_unstable();
    answered.sort_unstable();
    if asked != answered {
        return Err(format!(
            "The approvals must answer exactly the pending tool calls: {}",
            asked.join(", ")
        ));
    }
    Ok(pending
        .tool_calls
        .iter()
        .filter_map(|c| {
            let d = decisions.iter().find(|d| d.tool_call_id() == c.id)?;
            Some((c, d.clone()))
        })
        .collect())
}

/// The error return of a denied call, in Letta's words.
pub(crate) fn denied_return(tool_call_id: &str, reason: Option<&str>) -> ToolReturnRecord {
    let text = format!(
        "Error: request to call tool denied. User reason: {}",
        reason.unwrap_or("none given")
    );
    client_return(
        tool_call_id,
        "error",
        pack_return(&ToolOutcome::failed(text), 50_000),
        None,
    )
}

/// A client tool's result as a stored return.
pub(crate) fn client_return(
    tool_call_id: &str,
    status: &str,
    text: String,
    parts: Option<Value>,
) -> ToolReturnRecord {
    ToolReturnRecord {
        tool_call_id: tool_call_id.to_owned(),
        status: if status == "error" {
            "error"
        } else {
            "success"
        }
        .into(),
        func_response: text,
        stdout: None,
        stderr: None,
        content: parts,
    }
}

/// The legacy single decision, for one of the pending calls.
fn with_id(d: &Decision, id: &str) -> Decision {
    let id = id.to_owned();
    match d {
        Decision::Approve { .. } => Decision::Approve { tool_call_id: id },
        Decision::Deny { reason, .. } => Decision::Deny {
            tool_call_id: id,
            reason: reason.clone(),
        },
        Decision::Return {
            status,
            tool_return,
            parts,
            ..
        } => Decision::Return {
            tool_call_id: id,
            status: status.clone(),
            tool_return: tool_return.clone(),
            parts: parts.clone(),
        },
    }
}

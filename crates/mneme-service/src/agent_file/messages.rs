//! Messages between an Agent File's shape (`MessageSchema`) and the stored one (`Message`).

use mneme_store::{Message, ReasoningRecord, Role, ToolCallRecord, ToolReturnRecord};
use mneme_types::agent_file::{
    ContentPart, FileApproval, FuncResponse, MessageKind, MessageRole, MessageSchema,
    MessageToolReturn,
};
use mneme_types::{
    AgentId, ApprovalItem, ApprovalResponseMessage, ChatToolCall, FunctionCall, FunctionKind,
    MessageContent, ToolReturn, ToolReturnStatus,
};
use serde_json::Value;

/// A file's message as stored for `agent`, under a fresh id.
pub(crate) fn stored(m: &MessageSchema, agent: AgentId) -> Message {
    let role = match m.role {
        MessageRole::Assistant => Role::Assistant,
        MessageRole::User => Role::User,
        MessageRole::Tool | MessageRole::Function => Role::Tool,
        MessageRole::System => Role::System,
        MessageRole::Approval => Role::Approval,
        MessageRole::Summary => Role::Summary,
    };
    let mut out = Message::new(agent, role, texts(&m.content), m.created_at);
    out.content = parts_value(&m.content);
    out.reasoning = m.content.iter().filter_map(reasoning).collect();
    out.model = m.model.clone();
    out.tool_calls = m.tool_calls.iter().flatten().map(call_record).collect();
    out.tool_call_id = m.tool_call_id.clone();
    out.tool_returns = returns(m, &out.text);
    out.name = m.name.clone();
    out.otid = m.otid.clone();
    out.sender_id = m.sender_id.clone();
    out.group_id = m.group_id.clone();
    if role == Role::Approval && out.tool_calls.is_empty() {
        out.content = serde_json::to_value(approval_answer(m)).ok();
    }
    out
}

/// The text parts, joined by newlines (the text a model and a search see).
fn texts(parts: &[ContentPart]) -> String {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| match p {
            ContentPart::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

/// The parts as stored beside the text when there is more than text (images).
fn parts_value(parts: &[ContentPart]) -> Option<Value> {
    let images = parts.iter().any(|p| matches!(p, ContentPart::Image { .. }));
    images
        .then(|| {
            let kept: Vec<&ContentPart> = parts
                .iter()
                .filter(|p| matches!(p, ContentPart::Text { .. } | ContentPart::Image { .. }))
                .collect();
            serde_json::to_value(kept).ok()
        })
        .flatten()
}

fn reasoning(part: &ContentPart) -> Option<ReasoningRecord> {
    match part {
        ContentPart::Reasoning {
            reasoning,
            signature,
            ..
        } => Some(ReasoningRecord::Reasoning {
            text: reasoning.clone(),
            signature: signature.clone(),
        }),
        ContentPart::RedactedReasoning { data } => {
            Some(ReasoningRecord::Redacted { data: data.clone() })
        }
        ContentPart::SummarizedReasoning {
            summary,
            encrypted_content,
            ..
        } => Some(ReasoningRecord::Reasoning {
            text: summary
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            signature: encrypted_content.clone(),
        }),
        _ => None,
    }
}

fn call_record(c: &ChatToolCall) -> ToolCallRecord {
    ToolCallRecord {
        id: c.id.clone(),
        name: c.function.name.clone(),
        arguments: c.function.arguments.clone(),
    }
}

/// A tool message's returns: the file's, or (older files) one made of its call id and text.
fn returns(m: &MessageSchema, text: &str) -> Vec<ToolReturnRecord> {
    if !matches!(m.role, MessageRole::Tool | MessageRole::Function) {
        return Vec::new();
    }
    let listed: Vec<ToolReturnRecord> = m
        .tool_returns
        .iter()
        .flatten()
        .filter_map(|r| return_record(r, m.tool_call_id.as_deref(), text))
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    m.tool_call_id
        .iter()
        .map(|id| ToolReturnRecord {
            tool_call_id: id.clone(),
            status: "success".into(),
            func_response: text.to_owned(),
            stdout: None,
            stderr: None,
            content: None,
        })
        .collect()
}

fn return_record(
    r: &MessageToolReturn,
    call: Option<&str>,
    text: &str,
) -> Option<ToolReturnRecord> {
    let tool_call_id = r.tool_call_id.as_deref().or(call)?.to_owned();
    let (func_response, content) = match &r.func_response {
        Some(FuncResponse::Text(t)) => (t.clone(), None),
        Some(FuncResponse::Parts(parts)) => (texts(parts), serde_json::to_value(parts).ok()),
        None => (text.to_owned(), None),
    };
    Some(ToolReturnRecord {
        tool_call_id,
        status: status_str(r.status).into(),
        func_response,
        stdout: r.stdout.clone(),
        stderr: r.stderr.clone(),
        content,
    })
}

fn status_str(s: ToolReturnStatus) -> &'static str {
    match s {
        ToolReturnStatus::Success => "success",
        ToolReturnStatus::Error => "error",
    }
}

/// An approval answer as stored (the body an `approval_response_message` shows).
fn approval_answer(m: &MessageSchema) -> ApprovalResponseMessage {
    let approvals = m.approvals.as_ref().map(|items| {
        items
            .iter()
            .filter_map(|item| match item {
                FileApproval::Approval(a) => Some(ApprovalItem::Approval(a.clone())),
                FileApproval::Tool(r) => tool_item(r),
            })
            .collect()
    });
    ApprovalResponseMessage {
        approvals,
        approve: m.approve,
        approval_request_id: m.approval_request_id.clone(),
        reason: m.denial_reason.clone(),
    }
}

fn tool_item(r: &MessageToolReturn) -> Option<ApprovalItem> {
    let content = match &r.func_response {
        Some(FuncResponse::Text(t)) => MessageContent::Text(t.clone()),
        Some(FuncResponse::Parts(p)) => MessageContent::Parts(
            p.iter()
                .filter_map(|x| serde_json::to_value(x).ok())
                .collect(),
        ),
        None => MessageContent::Text(String::new()),
    };
    Some(ApprovalItem::Tool(ToolReturn {
        tool_call_id: r.tool_call_id.clone()?,
        status: r.status,
        tool_return: content,
        stdout: r.stdout.clone(),
        stderr: r.stderr.clone(),
    }))
}

/// A stored message in a file's shape, under its file-local id (`message-N`).
/// Takes the message, so that its texts move into the file rather than being copied (an
/// export of a long history would otherwise hold it twice).
pub(crate) fn schema(m: Message, id: String, agent: &str) -> MessageSchema {
    let mut content: Vec<ContentPart> = m.reasoning.iter().map(reasoning_part).collect();
    let approval_answer = m.role == Role::Approval && m.tool_calls.is_empty();
    let parts = m
        .content
        .as_ref()
        .filter(|_| m.role != Role::Approval)
        .and_then(|c| serde_json::from_value::<Vec<ContentPart>>(c.clone()).ok());
    match parts {
        Some(parts) => content.extend(parts),
        None if !m.text.is_empty() => content.push(ContentPart::text(m.text)),
        None => {}
    }
    let answer = approval_answer
        .then(|| {
            m.content
                .and_then(|c| serde_json::from_value::<ApprovalResponseMessage>(c).ok())
        })
        .flatten();
    MessageSchema {
        kind: Some(MessageKind::Message),
        otid: m.otid,
        group_id: m.group_id,
        role: role(m.role),
        content,
        name: m.name,
        sender_id: m.sender_id,
        batch_item_id: None,
        id,
        model: m.model,
        agent_id: Some(agent.to_owned()),
        tool_calls: (!m.tool_calls.is_empty())
            .then(|| m.tool_calls.iter().map(chat_call).collect()),
        tool_call_id: m.tool_call_id,
        tool_returns: (!m.tool_returns.is_empty())
            .then(|| m.tool_returns.iter().map(file_return).collect()),
        created_at: m.created_at,
        approve: answer.as_ref().and_then(|a| a.approve),
        approval_request_id: answer.as_ref().and_then(|a| a.approval_request_id.clone()),
        denial_reason: answer.as_ref().and_then(|a| a.reason.clone()),
        approvals: answer
            .and_then(|a| a.approvals)
            .map(|items| items.into_iter().filter_map(file_approval).collect()),
    }
}

fn role(r: Role) -> MessageRole {
    match r {
        Role::System => MessageRole::System,
        Role::User => MessageRole::User,
        Role::Assistant => MessageRole::Assistant,
        Role::Tool => MessageRole::Tool,
        Role::Approval => MessageRole::Approval,
        Role::Summary => MessageRole::Summary,
    }
}

fn reasoning_part(r: &ReasoningRecord) -> ContentPart {
    match r {
        ReasoningRecord::Reasoning { text, signature } => ContentPart::Reasoning {
            is_native: signature.is_some(),
            reasoning: text.clone(),
            signature: signature.clone(),
        },
        ReasoningRecord::Redacted { data } => ContentPart::RedactedReasoning { data: data.clone() },
    }
}

fn chat_call(c: &ToolCallRecord) -> ChatToolCall {
    ChatToolCall {
        id: c.id.clone(),
        kind: FunctionKind::Function,
        function: FunctionCall {
            name: c.name.clone(),
            arguments: c.arguments.clone(),
        },
    }
}

fn file_return(r: &ToolReturnRecord) -> MessageToolReturn {
    let func_response = match r
        .content
        .as_ref()
        .and_then(|c| serde_json::from_value::<Vec<ContentPart>>(c.clone()).ok())
    {
        Some(parts) => FuncResponse::Parts(parts),
        None => FuncResponse::Text(r.func_response.clone()),
    };
    MessageToolReturn {
        tool_call_id: Some(r.tool_call_id.clone()),
        status: if r.status == "error" {
            ToolReturnStatus::Error
        } else {
            ToolReturnStatus::Success
        },
        stdout: r.stdout.clone(),
        stderr: r.stderr.clone(),
        func_response: Some(func_response),
    }
}

fn file_approval(item: ApprovalItem) -> Option<FileApproval> {
    match item {
        ApprovalItem::Approval(a) => Some(FileApproval::Approval(a)),
        ApprovalItem::Tool(t) => Some(FileApproval::Tool(MessageToolReturn {
            tool_call_id: Some(t.tool_call_id),
            status: t.status,
            stdout: t.stdout,
            stderr: t.stderr,
            func_response: Some(match t.tool_return {
                MessageContent::Text(s) => FuncResponse::Text(s),
                MessageContent::Parts(p) => FuncResponse::Parts(
                    p.into_iter()
                        .filter_map(|v| serde_json::from_value(v).ok())
                        .collect(),
                ),
            }),
        })),
    }
}

/// The file-local id of the `n`th message.
pub(crate) fn file_id(n: usize) -> String {
    format!("message-{n}")
}

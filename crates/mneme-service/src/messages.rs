//! Message use cases: send a message (run a turn), list, modify, reset, and the context window.

use mneme_agent::Flavor;
use mneme_agent::approval::{ApprovalAnswer, Decision};
use mneme_llm::tokens::TokenCounter;
use mneme_store::{Message, MessageQuery, Order, Role, RunData, RunRecord};
use mneme_types::{
    AgentId, AgentState, ChatToolCall, ContextWindowOverview, FunctionCall, FunctionKind,
    FunctionTool, InternalMessage, LettaMessage, LettaRequest, LettaResponse, LettaStopReason,
    LettaUsageStatistics, MessageCreate, MessageId, MessageUpdate, ResetMessages, RunId, RunStatus,
    TextContent, UsageStatistics, content_text, time,
};
use serde_json::{Value, json};

use crate::render::{
    RenderOptions, compaction_event, compaction_summary, filter_types, letta_messages,
};
use crate::streaming::Target;
use crate::{Include, Result, Service, ServiceError};

/// Letta's default step budget per request.
pub(crate) const DEFAULT_MAX_STEPS: u32 = 50;

/// `GET /v1/agents/{id}/messages` parameters.
#[derive(Debug, Clone, Default)]
pub struct ListMessages {
    pub before: Option<MessageId>,
    pub after: Option<MessageId>,
    pub limit: u32,
    pub order: Order,
    pub render: Option<RenderOverrides>,
    pub include_types: Vec<String>,
    /// A conversation's messages instead of the default conversation's.
    pub conversation: Option<mneme_types::ConversationId>,
}

impl ListMessages {
    /// The store's query for this page (of the conversation asked, if any).
    pub(crate) fn query(&self) -> MessageQuery {
        MessageQuery {
            before: self.before,
            after: self.after,
            limit: self.limit,
            order: self.order,
            run_id: None,
            conversation: self.conversation,
        }
    }
}

/// The `use_assistant_message` family of parameters.
#[derive(Debug, Clone, Default)]
pub struct RenderOverrides {
    pub use_assistant_message: Option<bool>,
    pub tool_name: Option<String>,
    pub tool_kwarg: Option<String>,
}

impl Service {
    /// `POST /v1/agents/{id}/messages`: runs a turn and answers with its `LettaResponse`.
    pub async fn send_message(
        &self,
        agent_id: AgentId,
        req: LettaRequest,
    ) -> Result<LettaResponse> {
        self.send_to(Target::agent(agent_id), req).await
    }

    /// A blocking request's turn in `target`, answered with its `LettaResponse`.
    pub(crate) async fn send_to(&self, target: Target, req: LettaRequest) -> Result<LettaResponse> {
        Ok(self.send_to_run(target, req).await?.1)
    }

    /// `send_to`, with the run the turn ran as.
    pub(crate) async fn send_to_run(
        &self,
        target: Target,
        req: LettaRequest,
    ) -> Result<(RunId, LettaResponse)> {
        let (job, _) = self
            .prepare_as(target, &req, false, RunStatus::Running)
            .await?;
        let run = job.turn.run_id;
        let opts = job.opts.clone();
        let types = job.types.clone();
        let companions = job.companions.clone();
        let output = self.run_blocking(job).await?;
        if let Some(e) = output.error {
            return Err(ServiceError::Llm(e));
        }
        let messages: Vec<LettaMessage> = output
            .messages
            .iter()
            .flat_map(|m| {
                let compaction = output.compactions.iter().find(|c| c.summary.id == m.id);
                match compaction {
                    Some(done) => [
                        compaction_event(&done.start, &opts),
                        compaction_summary(done, &opts),
                    ]
                    .concat(),
                    // Heartbeats (and the caller's own approval answer) are stored, not shown
                    // as replies (nor streamed).
                    None if is_reply(m) => letta_messages(m, &opts),
                    None => Vec::new(),
                }
            })
            .collect();
        let response = LettaResponse {
            messages: filter_types(messages, &types),
            stop_reason: LettaStopReason {
                stop_reason: output.stop_reason,
            },
            usage: LettaUsageStatistics {
                run_ids: crate::sleeptime::started(companions),
                ..usage_of(&output.usage)
            },
        };
        Ok((run, response))
    }

    /// `GET /v1/agents/{id}/messages`: pages of stored messages, oldest first, rendered.
    pub async fn list_messages(
        &self,
        agent_id: AgentId,
        q: ListMessages,
    ) -> Result<Vec<LettaMessage>> {
        let agent = self.store.get_agent(agent_id).await?;
        if let Some(c) = q.conversation {
            let thread = self.thread(crate::ConversationRef::Conversation(c)).await?;
            if thread.agent != agent_id {
                return Err(mneme_store::StoreError::not_found("Conversation", c).into());
            }
        }
        let stored = self.store.list_messages(agent_id, &q.query()).await?;
        let opts = overridden(render_native(&agent.agent_type), q.render.as_ref());
        let rendered = stored
            .iter()
            .flat_map(|m| letta_messages(m, &opts))
            .collect();
        Ok(filter_types(rendered, &q.include_types))
    }

    /// `GET /v1/messages/`: pages of every agent's messages (or one conversation's), oldest
    /// first, rendered. Like Letta, every message renders as a native agent's would (text is
    /// the assistant's message), whatever its agent's type.
    pub async fn list_all_messages(&self, q: ListMessages) -> Result<Vec<LettaMessage>> {
        if let Some(c) = q.conversation {
            self.thread(crate::ConversationRef::Conversation(c)).await?;
        }
        let stored = self.store.all_messages(&q.query()).await?;
        let opts = overridden(true, q.render.as_ref());
        let rendered = stored
            .iter()
            .flat_map(|m| letta_messages(m, &opts))
            .collect();
        Ok(filter_types(rendered, &q.include_types))
    }

    /// `GET /v1/messages/{id}`: one stored message, as the `LettaMessage`s it shows as.
    pub async fn message_parts(&self, id: MessageId) -> Result<Vec<LettaMessage>> {
        let message = self.store.get_message(id).await?;
        let agent = self.store.get_agent(message.agent_id).await?;
        let mut opts = RenderOptions::new(render_native(&agent.agent_type));
        // Asked for by id, a `send_message` return shows too (lists leave it out).
        opts.use_assistant_message &= message.role != Role::Tool;
        Ok(letta_messages(&message, &opts))
    }

    /// `PATCH /v1/agents/{id}/messages/{message_id}`: replaces a message's text.
    pub async fn modify_message(
        &self,
        agent_id: AgentId,
        id: MessageId,
        update: MessageUpdate,
    ) -> Result<LettaMessage> {
        let agent = self.store.get_agent(agent_id).await?;
        let message = self.store.get_message(id).await?;
        if message.agent_id != agent_id {
            return Err(mneme_store::StoreError::not_found("Message", id).into());
        }
        let kind = update.message_type.clone().unwrap_or_default();
        let text = match (&update.reasoning, &update.content) {
            (Some(r), _) if kind == "reasoning_message" || update.content.is_none() => r.clone(),
            (_, Some(c)) => content_text(c).ok_or_else(|| {
                ServiceError::Unprocessable("content must be a string or text parts".into())
            })?,
            _ => return Err(ServiceError::Unprocessable("content is required".into())),
        };
        let content = update.content.clone().filter(|c| c.is_array());
        let updated = self
            .store
            .update_message(
                id,
                Box::new(move |m: &mut Message| {
                    m.text = text;
                    m.content = content;
                    Ok(())
                }),
            )
            .await?;
        let opts = RenderOptions::new(render_native(&agent.agent_type));
        let mut parts = letta_messages(&updated, &opts);
        let wanted = parts
            .iter()
            .position(|p| kind.is_empty() || p.message_type() == kind)
            .unwrap_or(0);
        (wanted < parts.len())
            .then(|| parts.swap_remove(wanted))
            .ok_or_else(|| {
                ServiceError::Unprocessable("this message has no editable content".into())
            })
    }

    /// `PATCH /v1/agents/{id}/reset-messages`: forgets every message but the system message.
    pub async fn reset_messages(
        &self,
        agent_id: AgentId,
        req: ResetMessages,
    ) -> Result<AgentState> {
        let _turn = self
            .scheduler
            .exclusive(mneme_types::Thread::default_of(agent_id))
            .await;
        let agent = self.store.get_agent(agent_id).await?;
        let initial = if req.add_default_initial_messages && !render_native(&agent.agent_type) {
            vec![Message::new(
                agent_id,
                Role::User,
                login_event(),
                time::now(),
            )]
        } else {
            Vec::new()
        };
        self.store.reset_messages(agent_id, initial).await?;
        self.recompile(agent_id).await?;
        self.get_agent(agent_id, Include::ALL).await
    }

    /// `GET /v1/agents/{id}/context`: what the next model call would contain, each section
    /// counted with the model's tokenizer (`mneme_agent::overview`).
    pub async fn context_window(
        &self,
        agent_id: AgentId,
        conversation: Option<mneme_types::ConversationId>,
    ) -> Result<ContextWindowOverview> {
        let thread = mneme_types::Thread {
            agent: agent_id,
            conversation,
        };
        let ctx = mneme_agent::thread_context(&*self.store, thread).await?;
        let config = ctx.agent.llm_config.clone();
        let (ctx, o) = tokio::task::spawn_blocking(move || {
            let counter = TokenCounter::for_config_blocking(&config);
            let overview = mneme_agent::overview::context_overview(&ctx, &counter);
            (ctx, overview)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("counting tokens: {e}")))?;
        let functions: Vec<FunctionTool> = ctx.tools.iter().map(function_tool).collect();
        let (summary_tokens, summary) = match o.summary.clone() {
            Some(s) => (s.tokens, Some(s.text)),
            None => (0, None),
        };
        let (rules_tokens, rules) = match o.tool_usage_rules.clone() {
            Some(s) => (s.tokens, Some(s.text)),
            None => (0, None),
        };
        Ok(ContextWindowOverview {
            context_window_size_max: ctx.agent.llm_config.context_window,
            context_window_size_current: o.total(),
            num_messages: ctx.messages.len() as u64,
            num_archival_memory: ctx.passage_count,
            num_recall_memory: ctx.message_count,
            num_tokens_external_memory_summary: o.memory_metadata.tokens,
            external_memory_summary: o.memory_metadata.text,
            num_tokens_system: o.system_prompt.tokens,
            system_prompt: o.system_prompt.text,
            num_tokens_core_memory: o.core_memory.tokens,
            core_memory: o.core_memory.text,
            num_tokens_memory_filesystem: 0,
            memory_filesystem: None,
            num_tokens_tool_usage_rules: rules_tokens,
            tool_usage_rules: rules,
            num_tokens_directories: 0,
            directories: None,
            num_tokens_summary_memory: summary_tokens,
            summary_memory: summary,
            num_tokens_functions_definitions: o.tools_tokens,
            functions_definitions: functions,
            num_tokens_messages: o.messages_tokens,
            messages: ctx.messages.iter().map(internal_message).collect(),
        })
    }
}

/// The usage a turn reports; `step_count` is never below one.
pub(crate) fn usage_of(usage: &UsageStatistics) -> LettaUsageStatistics {
    let mut wire = LettaUsageStatistics::from(usage);
    wire.step_count = wire.step_count.max(1);
    wire
}

/// A tool as the model sees it in the overview.
fn function_tool(t: &mneme_types::Tool) -> FunctionTool {
    FunctionTool {
        kind: FunctionKind::Function,
        function: t.json_schema.clone(),
    }
}

/// Letta's internal `Message` shape, which the context overview lists.
pub(crate) fn internal_message(m: &Message) -> InternalMessage {
    InternalMessage {
        id: m.id,
        agent_id: m.agent_id,
        role: m.role.as_str().to_owned(),
        content: vec![TextContent::new(m.text.clone())],
        name: m.name.clone(),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| ChatToolCall {
                id: c.id.clone(),
                kind: FunctionKind::Function,
                function: FunctionCall {
                    name: c.name.clone(),
                    arguments: c.arguments.clone(),
                },
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
        step_id: m.step_id,
        run_id: m.run_id,
        created_at: m.created_at,
    }
}

fn login_event() -> String {
    serde_json::to_string_pretty(&json!({
        "type": "login",
        "last_login": "Never (first login)",
        "time": mneme_agent::system::local_time(chrono::Utc::now()),
    }))
    .unwrap_or_default()
}

pub(crate) fn render_native(agent_type: &mneme_types::AgentType) -> bool {
    Flavor::of(*agent_type) == Flavor::Native
}

pub(crate) fn render_options(
    agent_type: &mneme_types::AgentType,
    req: &LettaRequest,
) -> RenderOptions {
    let mut opts = overridden(
        render_native(agent_type),
        Some(&RenderOverrides {
            use_assistant_message: req.use_assistant_message,
            tool_name: req.assistant_message_tool_name.clone(),
            tool_kwarg: req.assistant_message_tool_kwarg.clone(),
        }),
    );
    opts.compaction_messages = req.include_compaction_messages == Some(true);
    opts
}

pub(crate) fn overridden(native: bool, o: Option<&RenderOverrides>) -> RenderOptions {
    let mut opts = RenderOptions::new(native);
    if let Some(o) = o {
        if let Some(v) = o.use_assistant_message {
            opts.use_assistant_message = v;
        }
        if let Some(v) = &o.tool_name {
            opts.tool_name = v.clone();
        }
        if let Some(v) = &o.tool_kwarg {
            opts.tool_kwarg = v.clone();
        }
    }
    opts
}

/// A run record; `status` is `created` for runs that may wait (async), `running` for runs that
/// start at once (saves a write per request).
pub(crate) fn new_run(
    agent_id: AgentId,
    req: &LettaRequest,
    background: bool,
    status: RunStatus,
) -> RunRecord {
    let config = json!({
        "use_assistant_message": req.use_assistant_message.unwrap_or(true),
        "assistant_message_tool_name": req.assistant_message_tool_name.clone().unwrap_or_else(|| "send_message".into()),
        "assistant_message_tool_kwarg": req.assistant_message_tool_kwarg.clone().unwrap_or_else(|| "message".into()),
        "include_return_message_types": req.include_return_message_types,
    });
    RunRecord {
        id: RunId::new(),
        agent_id,
        status,
        stop_reason: None,
        background,
        data: RunData {
            request_config: Some(config),
            ..RunData::default()
        },
        created_at: time::now(),
        completed_at: None,
        conversation_id: None,
    }
}

/// The request's input messages, not stored yet (the first step writes them).
pub(crate) fn input_messages(
    agent: AgentId,
    req: &LettaRequest,
    streaming: bool,
) -> Result<Vec<Message>> {
    let stream_flags = req.stream_tokens == Some(true)
        || req.background == Some(true)
        || req.include_pings == Some(false);
    if stream_flags && !streaming {
        return Err(ServiceError::Unprocessable(
            "stream_tokens, include_pings and background are only supported with streaming".into(),
        ));
    }
    let now = time::now();
    match (&req.input, &req.messages) {
        (Some(_), Some(_)) => Err(ServiceError::Unprocessable(
            "Send either input or messages, not both".into(),
        )),
        (None, None) => Err(ServiceError::Unprocessable(
            "Either input or messages must be provided".into(),
        )),
        (None, Some(list)) if list.is_empty() => Err(ServiceError::Unprocessable(
            "Messages must not be empty".into(),
        )),
        (Some(input), None) => Ok(vec![user_message(agent, input, now)?]),
        (None, Some(list)) => list
            .iter()
            // Approvals and client tool returns are the turn's answer, not its input messages.
            .filter(|m| !matches!(m.kind(), "approval" | "tool_return"))
            .map(|m| {
                if m.kind() != "message" {
                    return Err(ServiceError::Unprocessable(format!(
                        "unknown input type '{}'",
                        m.kind()
                    )));
                }
                let role = match m.role.as_deref() {
                    Some("user") | None => Role::User,
                    Some("system") => Role::System,
                    Some("assistant") => Role::Assistant,
                    Some(other) => {
                        return Err(ServiceError::Unprocessable(format!(
                            "role must be user, system or assistant, got '{other}'"
                        )));
                    }
                };
                let content = m
                    .content
                    .as_ref()
                    .ok_or_else(|| ServiceError::Unprocessable("content is required".into()))?;
                let mut msg = user_message(agent, content, now)?;
                msg.role = role;
                msg.name = m.name.clone();
                msg.otid = m.otid.clone();
                msg.sender_id = m.sender_id.clone();
                msg.group_id = m.group_id.clone();
                Ok(msg)
            })
            .collect(),
    }
}

fn user_message(
    agent: AgentId,
    content: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Message> {
    let text = content_text(content).ok_or_else(|| {
        ServiceError::Unprocessable("content must be a string or a list of content parts".into())
    })?;
    let mut m = Message::new(agent, Role::User, text, now);
    if content
        .as_array()
        .is_some_and(|parts| parts.len() > 1 || parts.iter().any(|p| p["type"] != "text"))
    {
        m.content = Some(content.clone());
    }
    Ok(m)
}

/// The request's answer to a pending approval, if it carries one: an `approval` item (its
/// `approvals`, or the deprecated single `approve`) or a `tool_return` item of client results.
pub(crate) fn approval_answer(
    agent: AgentId,
    req: &LettaRequest,
) -> Result<Option<ApprovalAnswer>> {
    let items: Vec<&MessageCreate> = req
        .messages
        .iter()
        .flatten()
        .filter(|m| matches!(m.kind(), "approval" | "tool_return"))
        .collect();
    let Some(item) = items.first() else {
        return Ok(None);
    };
    if items.len() > 1 {
        return Err(ServiceError::Unprocessable(
            "send one approval item per request".into(),
        ));
    }
    let raw: Vec<Value> = match (&item.approvals, &item.tool_returns, item.approve) {
        (Some(list), _, _) => list.clone(),
        (None, Some(returns), _) => returns
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(obj) = r.as_object_mut() {
                    obj.entry("type").or_insert(json!("tool"));
                }
                r
            })
            .collect(),
        (None, None, Some(_)) => Vec::new(),
        (None, None, None) => {
            return Err(ServiceError::Unprocessable(
                "an approval needs approvals (or approve)".into(),
            ));
        }
    };
    let decisions = raw
        .iter()
        .map(Decision::parse)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ServiceError::Unprocessable)?;
    let all = item.approve.map(|approve| match approve {
        true => Decision::Approve {
            tool_call_id: String::new(),
        },
        false => Decision::Deny {
            tool_call_id: String::new(),
            reason: item.reason.clone(),
        },
    });
    let mut message = Message::new(agent, Role::Approval, "", time::now());
    message.content = Some(json!({
        "approvals": raw,
        "approve": item.approve,
        "approval_request_id": item.approval_request_id,
        "reason": item.reason,
    }));
    message.otid = item.otid.clone();
    Ok(Some(ApprovalAnswer {
        decisions,
        all: all.filter(|_| raw.is_empty()),
        message,
    }))
}

/// Whether a message a turn produced is part of its reply: not a heartbeat (user role), not
/// the approval answer the caller just sent.
pub(crate) fn is_reply(m: &Message) -> bool {
    match m.role {
        Role::User => false,
        Role::Approval => !m.tool_calls.is_empty(),
        _ => true,
    }
}

/// `override_system` and `client_skills`: what the request changes in the system prompt it
/// sends, for itself only.
pub(crate) fn system_overrides(req: &LettaRequest) -> mneme_agent::SystemOverrides {
    mneme_agent::SystemOverrides {
        system: req.override_system.clone(),
        client_skills: req.client_skills.clone().unwrap_or_default(),
    }
}

/// `client_tools`: `[{name, description?, parameters?}]`, validated here so that a bad schema
/// is a 422 before anything runs.
pub(crate) fn client_tools(req: &LettaRequest) -> Result<Vec<mneme_agent::ClientTool>> {
    let bad =
        |i: usize, why: &str| ServiceError::Unprocessable(format!("client_tools[{i}]: {why}"));
    let mut out: Vec<mneme_agent::ClientTool> = Vec::new();
    for (i, t) in req.client_tools.iter().flatten().enumerate() {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(i, "name is required"))?;
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(bad(i, "name must be 1-64 letters, digits, '_' or '-'"));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(bad(i, "duplicate name"));
        }
        let parameters = match t.get("parameters") {
            None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => return Err(bad(i, "parameters must be a JSON schema object")),
        };
        out.push(mneme_agent::ClientTool {
            name: name.to_owned(),
            description: t
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters,
        });
    }
    Ok(out)
}

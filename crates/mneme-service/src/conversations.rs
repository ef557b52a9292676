//! Conversations: threads of one agent with their own history and context, sharing its memory
//! (`/v1/conversations/...`). A conversation route names its thread by a `conv-` id, or by
//! `default` with an `agent_id` (or, deprecated, the agent id itself) for the agent's own
//! default conversation, so code written against the agent routes reaches the same messages.

use mneme_agent::{MemoryStats, compile_system_message};
use mneme_store::{
    AgentFrame, ConversationFilter, ConversationRecord, Message, NewConversation, Page, Role,
    RunFilter,
};
use mneme_types::{
    AgentId, Block, BlockId, CancelledRuns, CompactionResponse, Conversation, ConversationId,
    CreateConversation, LettaMessage, LettaRequest, LettaResponse, LlmConfig, MessageId,
    RetrieveStream, RunId, RunStatus, SummarizeRequest, Thread, UpdateConversation, time,
};

use crate::render::{RenderOptions, filter_types, letta_messages};
use crate::streaming::{MessageStream, Target};
use crate::{Result, Service, ServiceError};

/// How long a background run's stream can be picked up again by a conversation (Letta: 3 h).
const STREAM_RESUMABLE_FOR: chrono::Duration = chrono::Duration::hours(3);

/// The thread a conversation route names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationRef {
    Conversation(ConversationId),
    /// The agent's default conversation (`default` with an `agent_id`, or the agent's id).
    Default(AgentId),
}

impl ConversationRef {
    /// Reads a route's `conversation_id` with the `agent_id` the request gave (query or body).
    pub fn parse(path: &str, agent_id: Option<AgentId>) -> Result<ConversationRef> {
        if path == "default" {
            return agent_id.map(ConversationRef::Default).ok_or_else(|| {
                ServiceError::Unprocessable(
                    "agent_id is required to address the default conversation".into(),
                )
            });
        }
        if path.starts_with("agent-") {
            return path
                .parse()
                .map(ConversationRef::Default)
                .map_err(|_| ServiceError::NotFound(format!("Agent {path} not found")));
        }
        path.parse()
            .map(ConversationRef::Conversation)
            .map_err(|_| ServiceError::NotFound(format!("Conversation {path} not found")))
    }
}

/// A send's answer: a stream of chunks (the default), or the whole response.
pub enum ConversationReply {
    Stream(MessageStream),
    Response(LettaResponse),
}

/// `GET /v1/conversations/{id}/messages` parameters.
#[derive(Debug, Clone, Default)]
pub struct ConversationMessages {
    pub page: Page,
    pub include_types: Vec<String>,
}

impl Service {
    /// `POST /v1/conversations/?agent_id=`: a new conversation whose system message is
    /// compiled from the agent's memory as it is now.
    pub async fn create_conversation(
        &self,
        agent_id: AgentId,
        req: CreateConversation,
    ) -> Result<Conversation> {
        self.check_model(req.model.as_deref()).await?;
        let frame = self.store.agent_frame(agent_id).await?;
        let isolated = isolated_copies(&frame, req.isolated_block_labels.as_deref())?;
        let mut record = new_record(agent_id, req.summary, req.model, req.model_settings);
        let new = conversation_start(&frame, &mut record, isolated, Vec::new());
        Ok(wire(self.store.create_conversation(new).await?))
    }

    /// `POST /v1/conversations/{id}/fork`: a new conversation with a fresh system message and
    /// the source's other in-context messages (shared, not copied); independent afterwards.
    pub async fn fork_conversation(&self, source: ConversationRef) -> Result<Conversation> {
        let (thread, inherited, mut record, copies) = match source {
            ConversationRef::Default(agent) => {
                let a = self.store.get_agent(agent).await?;
                let record = new_record(agent, None, None, None);
                (Thread::default_of(agent), a.message_ids, record, Vec::new())
            }
            ConversationRef::Conversation(id) => {
                let c = self.store.get_conversation(id).await?;
                let thread = thread_of(&c);
                let copies = self.store.get_blocks(&c.isolated_block_ids).await?;
                let record = new_record(c.agent_id, None, c.model, c.model_settings);
                (thread, c.message_ids, record, copies)
            }
        };
        let frame = mneme_agent::thread_frame(&*self.store, thread).await?;
        let copies = copies.into_iter().map(copy_block).collect();
        let inherited = inherited.into_iter().skip(1).collect();
        let new = conversation_start(&frame, &mut record, copies, inherited);
        Ok(wire(self.store.create_conversation(new).await?))
    }

    /// `GET /v1/conversations/`: newest first by default.
    pub async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &Page,
    ) -> Result<Vec<Conversation>> {
        let found = self.store.list_conversations(filter, page).await?;
        Ok(found.into_iter().map(wire).collect())
    }

    pub async fn get_conversation(&self, id: ConversationId) -> Result<Conversation> {
        Ok(wire(self.store.get_conversation(id).await?))
    }

    /// `PATCH /v1/conversations/{id}`: the fields given; absent and `null` leave a field alone.
    pub async fn update_conversation(
        &self,
        id: ConversationId,
        req: UpdateConversation,
    ) -> Result<Conversation> {
        self.check_model(req.model.as_deref()).await?;
        let edit = Box::new(move |c: &mut ConversationRecord| {
            if let Some(summary) = req.summary {
                c.summary = Some(summary);
            }
            if let Some(model) = req.model {
                c.model = Some(model);
            }
            if let Some(settings) = req.model_settings {
                c.model_settings = Some(settings);
            }
            if let Some(at) = req.last_message_at {
                c.last_message_at = Some(at);
            }
            Ok(())
        });
        Ok(wire(self.store.update_conversation(id, edit).await?))
    }

    /// `DELETE /v1/conversations/{id}`: a turn running in it is cancelled and waited for, then
    /// the conversation goes with its messages, runs and isolated blocks.
    pub async fn delete_conversation(&self, id: ConversationId) -> Result<()> {
        let thread = thread_of(&self.store.get_conversation(id).await?);
        for (_, run) in self.scheduler.active_runs_of(thread) {
            run.cancel.cancel();
        }
        let _held = self.scheduler.exclusive(thread).await;
        Ok(self.store.delete_conversation(id).await?)
    }

    /// `GET /v1/conversations/{id}/messages`: the thread's whole history, newest first for
    /// `desc` (each stored message's parts in their own order), cursors along the listing.
    pub async fn list_conversation_messages(
        &self,
        conversation: ConversationRef,
        q: ConversationMessages,
    ) -> Result<Vec<LettaMessage>> {
        let thread = self.thread(conversation).await?;
        let agent = self.store.get_agent(thread.agent).await?;
        let stored = self
            .store
            .thread_messages(thread.agent, thread.conversation, &q.page)
            .await?;
        let native = crate::messages::render_native(&agent.agent_type);
        let opts = RenderOptions::new(native);
        let rendered = stored
            .iter()
            .flat_map(|m| letta_messages(m, &opts))
            .collect();
        Ok(filter_types(rendered, &q.include_types))
    }

    /// `POST /v1/conversations/{id}/messages`: a turn in the conversation, streamed unless
    /// `streaming` is false. A turn running in it already is a 409 (Letta's
    /// `CONVERSATION_BUSY`); a background request whose messages' `otid`s started a run before
    /// gets that run's stream again instead of a second turn.
    pub async fn send_conversation_message(
        &self,
        conversation: ConversationRef,
        req: LettaRequest,
    ) -> Result<ConversationReply> {
        if req.messages.as_ref().is_none_or(Vec::is_empty) && req.input.is_none() {
            return Err(ServiceError::Unprocessable(
                "Messages must not be empty".into(),
            ));
        }
        let target = self.conversation_target(conversation).await?;
        let streaming = req.streaming != Some(false);
        // Only a background run's stream can be read again: only those are found by `otid`.
        let background = streaming && req.background == Some(true);
        let otids = match background {
            true => request_otids(&req),
            false => Vec::new(),
        };
        if let Some(stream) = self.recover_request(&otids).await? {
            return Ok(ConversationReply::Stream(stream));
        }
        if let ConversationRef::Conversation(id) = conversation {
            self.touch_conversation(id).await?;
        }
        let reply = if streaming {
            let stream = self.stream_to(target, req).await?;
            self.map_otids(stream.run_id, otids).await?;
            ConversationReply::Stream(stream)
        } else {
            ConversationReply::Response(self.send_to(target, req).await?)
        };
        Ok(reply)
    }

    /// `POST /v1/conversations/{id}/messages/preview-raw-payload`: the body the provider would
    /// receive for the first model call of a send, with the conversation's history, model and
    /// memory; nothing stored, nothing sent.
    pub async fn preview_conversation_request(
        &self,
        conversation: ConversationRef,
        req: LettaRequest,
    ) -> Result<serde_json::Value> {
        let target = self.conversation_target(conversation).await?;
        self.preview_in(target, req).await
    }

    /// `POST /v1/conversations/{id}/stream`: the stream of a background run of the thread,
    /// picked by `run_id`, by an input message's `otid`, or else its newest active run.
    pub async fn retrieve_conversation_stream(
        &self,
        conversation: ConversationRef,
        req: RetrieveStream,
    ) -> Result<MessageStream> {
        let run = match (req.run_id, req.otid.as_deref()) {
            (Some(run), _) => self.store.get_run(run).await?,
            (None, Some(otid)) => {
                let run = self.store.run_of_otid(otid).await?.ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "No run found for otid={otid}. The run may have expired or never existed."
                    ))
                })?;
                self.store.get_run(run).await?
            }
            (None, None) => self.active_run_of(conversation).await?,
        };
        if !run.background {
            return Err(ServiceError::bad(
                "Run was not created in background mode, so it cannot be retrieved.",
            ));
        }
        if run.created_at < time::now() - STREAM_RESUMABLE_FOR {
            return Err(ServiceError::Expired(
                "EXPIRED: Run was created more than 3 hours ago, and is now expired.".into(),
            ));
        }
        self.resume_stream(run.id, req.starting_after.unwrap_or(0))
            .await
    }

    /// `POST /v1/conversations/{id}/cancel`: cancels the runs active in the conversation; the
    /// default conversation's as the agent route does.
    pub async fn cancel_conversation(
        &self,
        conversation: ConversationRef,
    ) -> Result<CancelledRuns> {
        let thread = match conversation {
            ConversationRef::Default(agent) => return self.cancel_runs(agent, None).await,
            ConversationRef::Conversation(_) => self.thread(conversation).await?,
        };
        let mut active = Vec::new();
        for (run, handle) in self.scheduler.active_runs_of(thread) {
            // A run stays registered for a moment after its end is stored (its stream is told
            // last), and one cancelled already is on its way out: neither is there to cancel.
            let going = !handle.cancel.is_cancelled()
                && !self.store.get_run(run).await?.status.is_terminal();
            if going {
                active.push((run, handle));
            }
        }
        let mut out = Vec::with_capacity(active.len());
        for (run, handle) in active {
            handle.cancel.cancel();
            out.push((run, RunStatus::Cancelled));
        }
        if out.is_empty() {
            out = self.cancel_conversation_elsewhere(thread).await?;
        }
        if out.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "CONFLICT: No active runs to cancel for conversation {thread}"
            )));
        }
        Ok(CancelledRuns(out))
    }

    /// With other replicas on the database, the conversation's active runs that execute on
    /// one of them, each asked to stop (its owner cancels it within a heartbeat).
    async fn cancel_conversation_elsewhere(
        &self,
        thread: Thread,
    ) -> Result<Vec<(RunId, RunStatus)>> {
        if self.config.coordination.shared().is_none() {
            return Ok(Vec::new());
        }
        let filter = mneme_store::RunFilter {
            agent_ids: vec![thread.agent],
            active: true,
            conversation: thread.conversation,
            ..Default::default()
        };
        let mut out = Vec::new();
        for run in self.store.list_runs(&filter, &Page::default()).await? {
            if self.cancel_remote(thread.agent, run.id).await? {
                out.push((run.id, RunStatus::Cancelled));
            }
        }
        Ok(out)
    }

    /// `POST /v1/conversations/{id}/recompile`: the thread's system message compiled from the
    /// memory as it is now (its isolated blocks included); stored unless `dry_run`.
    pub async fn recompile_conversation(
        &self,
        conversation: ConversationRef,
        dry_run: bool,
    ) -> Result<String> {
        let thread = self.thread(conversation).await?;
        self.recompile_thread(thread, dry_run).await
    }

    /// `POST /v1/conversations/{id}/compact`: summarizes the thread's older messages now. A
    /// conversation with nothing to summarize is a 400, as in Letta.
    pub async fn compact_conversation(
        &self,
        conversation: ConversationRef,
        req: Option<SummarizeRequest>,
    ) -> Result<CompactionResponse> {
        let thread = self.thread(conversation).await?;
        let (ids, _) = self.scheduler.context_ids(thread).await?;
        if ids.len() <= 1 {
            return Err(ServiceError::bad(
                "No in-context messages found for this conversation.",
            ));
        }
        let done = self.summarize_thread(thread, req).await?;
        if done.num_messages_after >= done.num_messages_before {
            return Err(ServiceError::bad(
                "Summarization failed to reduce the number of messages. You may not have enough messages to compact or need to use a different CompactionSettings (e.g. using `all` mode).",
            ));
        }
        Ok(done)
    }

    /// The thread a reference names; an unknown conversation or agent is a 404.
    pub(crate) async fn thread(&self, conversation: ConversationRef) -> Result<Thread> {
        match conversation {
            ConversationRef::Default(agent) => {
                self.store.get_agent(agent).await?;
                Ok(Thread::default_of(agent))
            }
            ConversationRef::Conversation(id) => {
                Ok(thread_of(&self.store.get_conversation(id).await?))
            }
        }
    }

    /// Where a conversation send runs: its thread, refused while busy, with the
    /// conversation's model unless the request overrides it.
    async fn conversation_target(&self, conversation: ConversationRef) -> Result<Target> {
        let id = match conversation {
            ConversationRef::Default(agent) => {
                self.store.get_agent(agent).await?;
                return Ok(Target {
                    refuse_if_busy: true,
                    ..Target::agent(agent)
                });
            }
            ConversationRef::Conversation(id) => id,
        };
        let c = self.store.get_conversation(id).await?;
        let model = match c.model.as_deref().filter(|m| !m.is_empty()) {
            Some(handle) => Some(self.conversation_model(&c, handle).await?),
            None => None,
        };
        Ok(Target {
            thread: thread_of(&c),
            refuse_if_busy: true,
            model,
            group: None,
            metadata: None,
        })
    }

    /// The conversation's model: its handle within the agent's context window, with its
    /// `model_settings` applied.
    async fn conversation_model(&self, c: &ConversationRecord, handle: &str) -> Result<LlmConfig> {
        let agent = self.store.get_agent(c.agent_id).await?;
        let limit = Some(agent.llm_config.context_window);
        let mut config = self.models.resolve_llm(handle, limit).await?;
        if let Some(settings) = &c.model_settings {
            let settings: mneme_types::ModelSettings = serde_json::from_value(settings.clone())
                .map_err(|e| ServiceError::Unprocessable(format!("invalid model_settings: {e}")))?;
            settings.apply(&mut config);
        }
        Ok(config)
    }

    /// A model handle a conversation takes must name a model, as at agent creation.
    async fn check_model(&self, handle: Option<&str>) -> Result<()> {
        match handle.filter(|h| !h.is_empty()) {
            Some(h) if !h.contains('/') || h.starts_with('/') || h.ends_with('/') => {
                Err(ServiceError::bad(
                    "INVALID_ARGUMENT: The model handle should be in the format provider/model-name",
                ))
            }
            Some(h) => self.models.resolve_llm(h, None).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Marks the conversation messaged now (`last_message_at`), as Letta does per request.
    async fn touch_conversation(&self, id: ConversationId) -> Result<()> {
        let now = time::now();
        let edit = Box::new(move |c: &mut ConversationRecord| {
            c.last_message_at = Some(now);
            Ok(())
        });
        self.store.update_conversation(id, edit).await?;
        Ok(())
    }

    /// The stream of the run a previous request with the same input `otid`s started.
    async fn recover_request(&self, otids: &[String]) -> Result<Option<MessageStream>> {
        let Some(token) = request_token(otids) else {
            return Ok(None);
        };
        match self.store.run_of_otid(&token).await? {
            Some(run) => Ok(Some(self.resume_stream(run, 0).await?)),
            None => Ok(None),
        }
    }

    /// Remembers which run the request's `otid`s (each, and all of them together) started.
    async fn map_otids(&self, run: RunId, mut otids: Vec<String>) -> Result<()> {
        if let Some(token) = request_token(&otids) {
            otids.push(token);
            self.store.map_otids(run, otids).await?;
        }
        Ok(())
    }

    /// The thread's newest run still going, for a stream to pick up.
    async fn active_run_of(&self, conversation: ConversationRef) -> Result<mneme_store::RunRecord> {
        let thread = self.thread(conversation).await?;
        let filter = RunFilter {
            agent_ids: vec![thread.agent],
            active: true,
            conversation: thread.conversation,
            ..RunFilter::default()
        };
        let page = Page {
            limit: 1,
            ..Page::default()
        };
        let runs = self.store.list_runs(&filter, &page).await?;
        runs.into_iter()
            .next()
            .ok_or_else(|| ServiceError::bad("No active runs found for this conversation."))
    }
}

/// The `otid`s of a request's input messages.
fn request_otids(req: &LettaRequest) -> Vec<String> {
    req.messages
        .iter()
        .flatten()
        .filter_map(|m| m.otid.clone())
        .collect()
}

/// The key of a request by all its messages' `otid`s, so that a request differing in any
/// message is another request.
fn request_token(otids: &[String]) -> Option<String> {
    (!otids.is_empty()).then(|| format!("request:{}", otids.join("|")))
}

fn thread_of(c: &ConversationRecord) -> Thread {
    Thread {
        agent: c.agent_id,
        conversation: Some(c.id),
    }
}

fn new_record(
    agent_id: AgentId,
    summary: Option<String>,
    model: Option<String>,
    model_settings: Option<serde_json::Value>,
) -> ConversationRecord {
    let now = time::now();
    ConversationRecord {
        id: ConversationId::new(),
        agent_id,
        summary,
        model,
        model_settings,
        message_ids: Vec::new(),
        message_ids_version: 0,
        isolated_block_ids: Vec::new(),
        last_message_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Copies of the agent's blocks with these labels, for a conversation to hold apart.
fn isolated_copies(frame: &AgentFrame, labels: Option<&[String]>) -> Result<Vec<Block>> {
    let mut copies: Vec<Block> = Vec::new();
    for label in labels.unwrap_or_default() {
        if copies.iter().any(|b| b.label.as_deref() == Some(label)) {
            continue;
        }
        let source = frame
            .blocks
            .iter()
            .find(|b| b.label.as_deref() == Some(label))
            .ok_or_else(|| {
                ServiceError::bad(format!(
                    "Block with label '{label}' not found on agent '{}'",
                    frame.agent.id
                ))
            })?;
        copies.push(copy_block(source.clone()));
    }
    Ok(copies)
}

/// A block with a new id and the same content.
fn copy_block(mut block: Block) -> Block {
    block.id = BlockId::new();
    block
}

/// What a new conversation is stored with: its system message compiled from `frame`'s agent
/// with the copies in place of the agent's blocks of their labels, then the inherited ids.
fn conversation_start(
    frame: &AgentFrame,
    record: &mut ConversationRecord,
    isolated: Vec<Block>,
    inherited: Vec<MessageId>,
) -> NewConversation {
    let blocks: Vec<Block> = frame
        .blocks
        .iter()
        .map(|b| {
            let copy = isolated.iter().find(|c| c.label == b.label);
            copy.unwrap_or(b).clone()
        })
        .collect();
    let stats = MemoryStats {
        messages_total: frame.message_count + 1,
        in_context: 1 + inherited.len() as u64,
        passages: frame.passage_count,
        conversation: Some(record.id),
    };
    let now = time::now();
    let text = compile_system_message(&frame.agent, &blocks, &frame.files, stats, now);
    let mut system = Message::new(frame.agent.id, Role::System, text, now);
    system.model = Some(frame.agent.llm_config.model.clone());
    record.message_ids = std::iter::once(system.id)
        .chain(inherited.iter().copied())
        .collect();
    NewConversation {
        conversation: record.clone(),
        system,
        isolated_blocks: isolated,
        inherited,
    }
}

/// The wire shape of a stored conversation.
pub(crate) fn wire(c: ConversationRecord) -> Conversation {
    Conversation {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: Some(c.created_at),
        updated_at: Some(c.updated_at),
        id: c.id,
        agent_id: c.agent_id,
        summary: c.summary,
        in_context_message_ids: c.message_ids,
        isolated_block_ids: c.isolated_block_ids,
        model: c.model,
        model_settings: c.model_settings,
        last_message_at: c.last_message_at,
    }
}

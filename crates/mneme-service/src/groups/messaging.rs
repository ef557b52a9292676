//! Group messaging (`POST /v1/groups/{id}/messages` and `/stream`, the routes older SDKs
//! call): one request answered by the group's agents, every turn an ordinary turn of its agent
//! (`send_to` / `stream_to`, so locks, runs and persistence are those of any request) whose
//! messages name the group.
//!
//! Round robin and dynamic groups run an exchange (`Chat`); a supervisor gets the input and
//! reaches its members with its tool; a sleep-time group's primary agent gets it as any
//! message to it. When an exchange ends, every participant that did not speak last is given
//! what it has not seen (the input, later replies), stored in its context so that it knows at
//! its next turn what the group said; Letta stored these lines outside the context, where the
//! model never saw them. An agent waiting for an approval, or with
//! `message_buffer_autoclear`, gets them stored but not in context.

use mneme_scheduler::TurnGuard;
use mneme_store::{Order, Page, Role, StoreError};
use mneme_types::{
    AgentId, Group, GroupId, LettaErrorMessage, LettaRequest, LettaResponse, LettaStopReason,
    LettaStreamingResponse, LettaUsageStatistics, ManagerType, MessageBody, MessageContent,
    MessageCreate, RunId, StopReason, Thread,
};
use tokio::sync::mpsc;

use super::chat::{Chat, Member, Step};
use crate::chunks::SseEvent;
use crate::render::{RenderOptions, letta_messages};
use crate::streaming::{MessageStream, Target};
use crate::{Result, Service, ServiceError};

/// Where a group message goes.
enum Route {
    /// An exchange among the members (round robin, dynamic).
    Chat,
    /// One agent's turn, stamped with the group (a supervisor).
    Manager(AgentId),
    /// An ordinary message to the primary agent of a sleep-time group.
    Primary(AgentId),
}

/// One turn of an exchange: whose, given what, and as which speaker (`None`: the manager
/// asked to choose).
struct Turn {
    agent: AgentId,
    inputs: Vec<MessageCreate>,
    speaker: Option<usize>,
}

/// What the turns of an exchange add up to.
#[derive(Default)]
struct Tally {
    runs: Vec<RunId>,
    stop: Option<StopReason>,
    usage: LettaUsageStatistics,
}

impl Service {
    /// `POST /v1/groups/{id}/messages`: every turn's messages in order, one stop reason (the
    /// last turn's) and the usage of all turns, with their runs in `run_ids`.
    pub async fn send_group_message(
        &self,
        id: GroupId,
        req: LettaRequest,
    ) -> Result<LettaResponse> {
        let group = self.store.get_group(id).await?;
        match route(&group)? {
            Route::Primary(agent) => return self.send_message(agent, req).await,
            Route::Manager(agent) => return self.send_to(target(agent, id), req).await,
            Route::Chat => {}
        }
        let _exchange = self.group_exchange(id).await;
        let (mut chat, template) = self.open_chat(&group, &req, false).await?;
        let mut tally = Tally::default();
        let mut messages = Vec::new();
        while let Some(turn) = next_turn(&mut chat) {
            let req = with_inputs(&template, turn.inputs);
            let (run, response) = self.send_to_run(target(turn.agent, id), req).await?;
            messages.extend(response.messages);
            tally.add(run, response.stop_reason.stop_reason, &response.usage);
            if !self
                .follow(&mut chat, &turn.speaker, turn.agent, &tally)
                .await?
            {
                break;
            }
        }
        self.deliver_leftovers(id, chat).await?;
        Ok(LettaResponse {
            messages,
            stop_reason: LettaStopReason {
                stop_reason: tally.stop.unwrap_or(StopReason::EndTurn),
            },
            usage: tally.usage(),
        })
    }

    /// `POST /v1/groups/{id}/messages/stream`: every turn's chunks in order, then one stop
    /// reason and the usage of all turns. The first turn starts before the answer, so that
    /// its refusals (404, 409, 422) are errors, not events.
    pub async fn stream_group_message(
        &self,
        id: GroupId,
        req: LettaRequest,
    ) -> Result<MessageStream> {
        let group = self.store.get_group(id).await?;
        match route(&group)? {
            Route::Primary(agent) => return self.stream_message(agent, req).await,
            Route::Manager(agent) => return self.stream_to(target(agent, id), req).await,
            Route::Chat => {}
        }
        if req.background == Some(true) {
            return Err(ServiceError::bad(
                "background is not supported for round robin and dynamic groups",
            ));
        }
        let exchange = self.group_exchange(id).await;
        let (mut chat, template) = self.open_chat(&group, &req, true).await?;
        let turn = next_turn(&mut chat)
            .ok_or_else(|| ServiceError::Internal(format!("group {id} has no turn to run")))?;
        let req = with_inputs(&template, turn.inputs.clone());
        let first = self.stream_to(target(turn.agent, id), req).await?;
        let run = first.run_id;
        let (tx, rx) = mpsc::channel(256);
        let service = self.clone();
        let exchange_run = Exchange {
            group: id,
            chat,
            template,
            tx,
            _lock: exchange,
        };
        tokio::spawn(async move { service.stream_chat(exchange_run, turn, first).await });
        Ok(MessageStream {
            run_id: run,
            events: rx,
        })
    }

    /// Checks the request as the first member's turn would, and sets the exchange up: its
    /// members (and dynamic manager) and the request each turn copies.
    async fn open_chat(
        &self,
        group: &Group,
        req: &LettaRequest,
        streaming: bool,
    ) -> Result<(Chat, LettaRequest)> {
        let first = *group.agent_ids.first().ok_or_else(|| {
            ServiceError::bad("Empty group: the group must have at least one agent")
        })?;
        if crate::messages::approval_answer(first, req)?.is_some() {
            return Err(ServiceError::Unprocessable(
                "an approval is answered on the agent's own messages route, not the group's".into(),
            ));
        }
        crate::messages::input_messages(first, req, streaming)?;
        let mut members = Vec::with_capacity(group.agent_ids.len());
        for id in &group.agent_ids {
            members.push(self.member(*id).await?);
        }
        let manager = match (group.manager_type, group.manager_agent_id) {
            (ManagerType::Dynamic, Some(id)) => Some(self.member(id).await?),
            _ => None,
        };
        let chat = Chat::new(group, members, manager, request_inputs(req));
        let template = LettaRequest {
            input: None,
            messages: None,
            agent_id: None,
            ..req.clone()
        };
        Ok((chat, template))
    }

    async fn member(&self, id: AgentId) -> Result<Member> {
        let agent = self.store.get_agent(id).await?;
        Ok(Member {
            id,
            name: agent.name,
            description: agent.description,
        })
    }

    /// Moves the exchange on after a turn of `agent`: the manager's choice, or the
    /// speaker's replies. False when the turn's stop reason ends the exchange (an approval
    /// to wait for, a cancellation, a failure).
    async fn follow(
        &self,
        chat: &mut Chat,
        speaker: &Option<usize>,
        agent: AgentId,
        tally: &Tally,
    ) -> Result<bool> {
        if tally.stop.is_some_and(ends_exchange) {
            if let Some(speaker) = speaker {
                chat.halted(*speaker);
            }
            return Ok(false);
        }
        let run = *tally
            .runs
            .last()
            .ok_or_else(|| ServiceError::Internal("a group turn without a run".into()))?;
        let replies = self.replies_of(agent, run).await?;
        match speaker {
            None => chat
                .chose(&replies.join("\n"))
                .map_err(ServiceError::NoSpeaker)?,
            Some(speaker) => chat.spoke(*speaker, replies),
        }
        Ok(true)
    }

    /// The texts of the assistant messages `agent` wrote in `run`, as the API shows them
    /// whatever the request's rendering options (a `send_message` call's message included).
    async fn replies_of(&self, agent: AgentId, run: RunId) -> Result<Vec<String>> {
        let native = crate::messages::render_native(&self.store.get_agent(agent).await?.agent_type);
        let page = Page {
            limit: 10_000,
            order: Order::Asc,
            ..Page::default()
        };
        let stored = self.store.run_messages(run, &page).await?;
        let opts = RenderOptions::new(native);
        let replies = stored
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .flat_map(|m| letta_messages(m, &opts))
            .filter_map(|m| match m.body {
                MessageBody::Assistant(a) => Some(content_text(a.content)),
                _ => None,
            })
            .collect();
        Ok(replies)
    }

    /// Gives every participant that did not speak last what it has not seen, while none of
    /// their turns runs (see the module doc).
    async fn deliver_leftovers(&self, group: GroupId, chat: Chat) -> Result<()> {
        let mut left = chat.leftovers();
        if left.is_empty() {
            return Ok(());
        }
        left.sort_by_key(|(agent, _)| agent.to_string());
        let mut held = Vec::with_capacity(left.len());
        for (agent, _) in &left {
            held.push(self.scheduler.exclusive(Thread::default_of(*agent)).await);
        }
        let (mut messages, mut into_context) = (Vec::new(), Vec::new());
        for (agent, lines) in left {
            let stored = match self.store.get_agent(agent).await {
                Ok(stored) => stored,
                // Deleted during the exchange: nobody to tell.
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let req = LettaRequest {
                messages: Some(lines),
                ..LettaRequest::default()
            };
            messages.extend(crate::messages::input_messages(agent, &req, false)?);
            let waiting = self.scheduler.pending_approval(&stored.message_ids).await?;
            if waiting.is_none() && !stored.settings.message_buffer_autoclear {
                into_context.push(agent);
            }
        }
        self.store
            .deliver_group_messages(group, messages, &into_context)
            .await?;
        drop(held);
        Ok(())
    }
}

/// A streamed exchange in progress, with the lock that keeps others out of the group.
struct Exchange {
    group: GroupId,
    chat: Chat,
    template: LettaRequest,
    tx: mpsc::Sender<SseEvent>,
    _lock: TurnGuard,
}

/// How a participant's stream ended.
enum Forwarded {
    Ended {
        stop: StopReason,
        usage: LettaUsageStatistics,
    },
    /// It ended with an error event (already passed on).
    Failed(StopReason),
    /// The client went away.
    Gone,
}

impl Service {
    /// Forwards the first turn's stream, then runs and forwards the others; closes with one
    /// stop reason and the summed usage, or with the error that ended the exchange.
    async fn stream_chat(&self, mut x: Exchange, first: Turn, stream: MessageStream) {
        let error_run = stream.run_id;
        let mut tally = Tally::default();
        let mut current = Some((first, stream));
        loop {
            let (turn, stream) = match current.take() {
                Some(started) => started,
                None => match next_turn(&mut x.chat) {
                    None => break,
                    Some(turn) => {
                        let req = with_inputs(&x.template, turn.inputs.clone());
                        match self.stream_to(target(turn.agent, x.group), req).await {
                            Ok(stream) => (turn, stream),
                            Err(e) => return fail(&x.tx, error_run, &e).await,
                        }
                    }
                },
            };
            let run = stream.run_id;
            match forward(stream, &x.tx).await {
                Forwarded::Ended { stop, usage } => tally.add(run, stop, &usage),
                Forwarded::Failed(stop) => return close(&x.tx, stop, None).await,
                Forwarded::Gone => return,
            }
            match self
                .follow(&mut x.chat, &turn.speaker, turn.agent, &tally)
                .await
            {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return fail(&x.tx, run, &e).await,
            }
        }
        if let Err(e) = self.deliver_leftovers(x.group, x.chat).await {
            return fail(&x.tx, error_run, &e).await;
        }
        let stop = tally.stop.unwrap_or(StopReason::EndTurn);
        close(&x.tx, stop, Some(tally.usage())).await;
    }
}

/// Passes a participant's chunks on but its stop reason, usage and `[DONE]`, which the
/// exchange sends once at its end.
async fn forward(mut stream: MessageStream, tx: &mpsc::Sender<SseEvent>) -> Forwarded {
    let (mut stop, mut usage, mut failed) = (None, None, false);
    while let Some(event) = stream.events.recv().await {
        let passed = match event {
            SseEvent::Data(LettaStreamingResponse::StopReason(s)) => {
                stop = Some(s.stop_reason);
                continue;
            }
            SseEvent::Data(LettaStreamingResponse::Usage(u)) => {
                usage = Some(u);
                continue;
            }
            SseEvent::Done => break,
            SseEvent::Error(e) => {
                failed = true;
                SseEvent::Error(e)
            }
            other => other,
        };
        // A client that went away: dropping `stream` cancels the participant's run.
        if tx.send(passed).await.is_err() {
            return Forwarded::Gone;
        }
    }
    let stop = stop.unwrap_or(StopReason::Error);
    match (failed, usage) {
        (false, Some(usage)) => Forwarded::Ended { stop, usage },
        _ => Forwarded::Failed(stop),
    }
}

/// The end of an exchange's stream: its stop reason, its usage when it completed, `[DONE]`.
async fn close(tx: &mpsc::Sender<SseEvent>, stop: StopReason, usage: Option<LettaUsageStatistics>) {
    let stop = LettaStreamingResponse::StopReason(LettaStopReason { stop_reason: stop });
    let mut events = vec![SseEvent::Data(stop)];
    events.extend(usage.map(|u| SseEvent::Data(LettaStreamingResponse::Usage(u))));
    events.push(SseEvent::Done);
    for event in events {
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// An exchange that cannot go on: the error as an event, then its end.
async fn fail(tx: &mpsc::Sender<SseEvent>, run: RunId, e: &ServiceError) {
    let error_type = match e {
        ServiceError::Llm(_) => "llm_error",
        ServiceError::NoSpeaker(_) => "llm_invalid_response",
        _ => "internal_error",
    };
    let message = e.to_string();
    let event = SseEvent::Error(LettaErrorMessage {
        run_id: run,
        error_type: error_type.to_owned(),
        detail: Some(message.clone()),
        message,
        seq_id: None,
    });
    if tx.send(event).await.is_ok() {
        close(tx, StopReason::Error, None).await;
    }
}

impl Tally {
    fn add(&mut self, run: RunId, stop: StopReason, usage: &LettaUsageStatistics) {
        self.runs.push(run);
        self.stop = Some(stop);
        let sum = &mut self.usage;
        sum.completion_tokens += usage.completion_tokens;
        sum.prompt_tokens += usage.prompt_tokens;
        sum.total_tokens += usage.total_tokens;
        sum.step_count += usage.step_count;
        for (total, part) in [
            (&mut sum.cached_input_tokens, usage.cached_input_tokens),
            (&mut sum.cache_write_tokens, usage.cache_write_tokens),
            (&mut sum.reasoning_tokens, usage.reasoning_tokens),
        ] {
            if let Some(n) = part {
                *total = Some(total.unwrap_or(0) + n);
            }
        }
        if usage.context_tokens.is_some() {
            sum.context_tokens = usage.context_tokens;
        }
    }

    /// The summed usage, naming every turn's run.
    fn usage(&self) -> LettaUsageStatistics {
        LettaUsageStatistics {
            run_ids: Some(self.runs.iter().map(RunId::to_string).collect()),
            ..self.usage.clone()
        }
    }
}

fn route(group: &Group) -> Result<Route> {
    let manager = || {
        group
            .manager_agent_id
            .ok_or_else(|| ServiceError::bad(format!("group {} has no manager agent", group.id)))
    };
    match group.manager_type {
        ManagerType::RoundRobin | ManagerType::Dynamic => Ok(Route::Chat),
        ManagerType::Supervisor => Ok(Route::Manager(manager()?)),
        ManagerType::Sleeptime | ManagerType::VoiceSleeptime => Ok(Route::Primary(manager()?)),
        ManagerType::Swarm => Err(ServiceError::bad(
            "swarm groups are not supported: they cannot be messaged",
        )),
    }
}

fn next_turn(chat: &mut Chat) -> Option<Turn> {
    match chat.next() {
        Step::Done => None,
        Step::Ask { manager, message } => Some(Turn {
            agent: manager,
            inputs: vec![*message],
            speaker: None,
        }),
        Step::Speak { speaker, messages } => Some(Turn {
            agent: chat.member(speaker).id,
            inputs: messages,
            speaker: Some(speaker),
        }),
    }
}

/// A turn of `agent` whose messages name the group.
fn target(agent: AgentId, group: GroupId) -> Target {
    Target {
        group: Some(group),
        ..Target::agent(agent)
    }
}

fn with_inputs(template: &LettaRequest, inputs: Vec<MessageCreate>) -> LettaRequest {
    LettaRequest {
        messages: Some(inputs),
        ..template.clone()
    }
}

/// The request's input messages as `MessageCreate`s (`input` is one user message).
fn request_inputs(req: &LettaRequest) -> Vec<MessageCreate> {
    if let Some(input) = &req.input {
        let create = serde_json::json!({"role": "user", "content": input});
        return serde_json::from_value(create).into_iter().collect();
    }
    req.messages
        .iter()
        .flatten()
        .filter(|m| m.kind() == "message")
        .cloned()
        .collect()
}

/// Stop reasons after which the exchange does not go on: the agent waits for an approval, the
/// turn was cancelled, or it failed.
fn ends_exchange(stop: StopReason) -> bool {
    matches!(
        stop,
        StopReason::RequiresApproval
            | StopReason::Cancelled
            | StopReason::Error
            | StopReason::LlmApiError
            | StopReason::InvalidLlmResponse
            | StopReason::InsufficientCredits
            | StopReason::ContextWindowOverflowInSystemPrompt
    )
}

fn content_text(content: MessageContent) -> String {
    match content {
        MessageContent::Text(text) => text,
        MessageContent::Parts(parts) => {
            mneme_types::content_text(&serde_json::Value::Array(parts)).unwrap_or_default()
        }
    }
}

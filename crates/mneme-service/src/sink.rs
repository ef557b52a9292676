//! Where a scheduled turn reports: `RunSink` turns the scheduler's reports into Letta's SSE
//! chunks and delivers them to a connected client, to the run's chunk log (background runs), or
//! nowhere (blocking and async requests).

use std::sync::Arc;

use async_trait::async_trait;
use mneme_agent::{TurnEvent, TurnOutput};
use mneme_llm::LlmError;
use mneme_scheduler::{ActiveRun, SchedulerError, TurnSink};
use mneme_store::{RunChunk, Store, StoreError};
use mneme_types::{
    LettaErrorMessage, LettaStopReason, LettaStreamingResponse, LettaUsageStatistics, RunId,
    StopReason,
};
use tokio::sync::mpsc;

use crate::chunks::{Chunker, SseEvent, to_json};
use crate::render::filter_types;
use crate::search::Searcher;

/// Where a job's chunks go.
pub(crate) enum Delivery {
    /// Blocking and async requests: nobody reads chunks.
    None,
    /// A connected client; if it goes away the run is cancelled.
    Client(mpsc::Sender<SseEvent>),
    /// The run's chunk log in the database (background runs), read by any number of streams.
    Log { seq: u64 },
}

/// How a run's chunks are shaped.
pub(crate) struct Presentation {
    pub(crate) chunker: Chunker,
    /// `include_return_message_types`; empty: all.
    pub(crate) types: Vec<String>,
    pub(crate) include_pings: bool,
}

/// The service's `TurnSink`.
pub(crate) struct RunSink {
    pub(crate) run: RunId,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) searcher: Arc<Searcher>,
    pub(crate) delivery: Delivery,
    pub(crate) presentation: Presentation,
    /// A sleep-time primary's turn: its companions are due after it (`AfterTurn`).
    pub(crate) after: Option<AfterTurn>,
}

/// What follows a sleep-time primary's turn: its companions' runs, queued before the turn's
/// end is reported so that a blocking answer can name them (`usage.run_ids`).
pub(crate) struct AfterTurn {
    pub(crate) service: crate::Service,
    pub(crate) thread: mneme_types::Thread,
    pub(crate) runs: crate::sleeptime::RunSlot,
}

impl AfterTurn {
    async fn follow(&self, output: &TurnOutput) {
        // Letta skips a turn that produced nothing to read.
        let Some(last) = output.messages.last() else {
            return;
        };
        match self.service.trigger_companions(self.thread, last.id).await {
            Ok(runs) => self
                .runs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(runs),
            Err(e) => {
                tracing::warn!(error = %e, agent = %self.thread.agent, "sleep-time companions not started")
            }
        }
    }
}

#[async_trait]
impl TurnSink for RunSink {
    async fn registered(&mut self, active: &ActiveRun) {
        if let Delivery::Client(tx) = &self.delivery {
            // The reader is dropped when the client hangs up: cancel at once, even while the
            // turn waits for the agent or the model and has nothing to send.
            let (tx, cancel) = (tx.clone(), active.cancel.clone());
            tokio::spawn(async move {
                tx.closed().await;
                cancel.cancel();
            });
        }
    }

    async fn admitted(&mut self, active: &ActiveRun) {
        if self.presentation.include_pings {
            self.emit(active, SseEvent::ping(self.run, None)).await;
        }
    }

    async fn event(&mut self, active: &ActiveRun, event: TurnEvent) {
        let chunks = self.presentation.chunker.on_event(event);
        for chunk in filter_types(chunks, &self.presentation.types) {
            self.emit(active, SseEvent::Data(chunk)).await;
        }
    }

    async fn finished(&mut self, active: &ActiveRun, result: &Result<TurnOutput, SchedulerError>) {
        // New messages are searchable: index them soon, off this request's path.
        self.searcher.changed();
        if let (Some(after), Ok(output)) = (&self.after, result) {
            after.follow(output).await;
        }
        if matches!(self.delivery, Delivery::None) {
            return;
        }
        let companions = self.after.as_ref().map(|a| a.runs.clone());
        let run_ids = crate::sleeptime::started(companions);
        for event in closing_events(self.run, result, run_ids) {
            self.emit(active, event).await;
        }
    }
}

impl RunSink {
    /// Delivers one event. A client that is gone cancels the run: its current step is dropped,
    /// completed steps stay stored.
    async fn emit(&mut self, active: &ActiveRun, event: SseEvent) {
        let run = self.run;
        match &mut self.delivery {
            Delivery::None => {}
            Delivery::Client(tx) => {
                if tx.send(event).await.is_err() && !active.cancel.is_cancelled() {
                    tracing::info!(%run, "client went away; cancelling the run");
                    active.cancel.cancel();
                }
            }
            Delivery::Log { seq } => {
                *seq += 1;
                let chunk = log_chunk(*seq, run, event);
                let appended = self.store.append_chunks(run, vec![chunk]).await;
                // A run deleted under its turn (with its agent or conversation) has no log left.
                if let Err(e) = appended
                    && !matches!(
                        self.store.get_run(run).await,
                        Err(StoreError::NotFound { .. })
                    )
                {
                    tracing::error!(error = %e, %run, "cannot store a stream chunk");
                }
                active.appended.notify_waiters();
            }
        }
    }
}

/// The end of a stream: stop reason and usage, or stop reason and an error event; `[DONE]`.
/// The end of a stream; `run_ids`: the sleep-time companions' runs the turn started.
fn closing_events(
    run: RunId,
    result: &Result<TurnOutput, SchedulerError>,
    run_ids: Option<Vec<String>>,
) -> Vec<SseEvent> {
    let stop = |stop_reason: StopReason| {
        SseEvent::Data(LettaStreamingResponse::StopReason(LettaStopReason {
            stop_reason,
        }))
    };
    let error = |kind: &str, message: String| {
        SseEvent::Error(LettaErrorMessage {
            run_id: run,
            error_type: kind.to_owned(),
            detail: Some(message.clone()),
            message,
            seq_id: None,
        })
    };
    match result {
        Ok(out) => match &out.error {
            Some(e) => vec![
                stop(out.stop_reason),
                error(llm_error_type(e), e.to_string()),
                SseEvent::Done,
            ],
            None => vec![
                stop(out.stop_reason),
                SseEvent::Data(LettaStreamingResponse::Usage(LettaUsageStatistics {
                    run_ids,
                    ..crate::messages::usage_of(&out.usage)
                })),
                SseEvent::Done,
            ],
        },
        Err(e) => vec![
            stop(StopReason::Error),
            error("internal_error", e.to_string()),
            SseEvent::Done,
        ],
    }
}

fn llm_error_type(e: &LlmError) -> &'static str {
    match e {
        LlmError::RateLimited { .. } => "llm_rate_limit",
        LlmError::Authentication(_) => "llm_authentication",
        LlmError::Timeout => "llm_timeout",
        LlmError::ContextWindowExceeded(_) => "context_window_overflow_in_system_prompt",
        _ => "llm_error",
    }
}

/// A chunk for the log: message and ping chunks get their `seq_id` and `run_id` written in.
fn log_chunk(seq: u64, run: RunId, event: SseEvent) -> RunChunk {
    let (event, data) = match event {
        SseEvent::Data(mut chunk) => {
            match &mut chunk {
                LettaStreamingResponse::Message(m) => {
                    m.seq_id = Some(seq);
                    m.run_id.get_or_insert(run);
                }
                LettaStreamingResponse::Ping(p) => {
                    p.seq_id = Some(seq);
                    p.run_id.get_or_insert(run);
                }
                LettaStreamingResponse::StopReason(_)
                | LettaStreamingResponse::Usage(_)
                | LettaStreamingResponse::Error(_) => {}
            }
            (None, to_json(&chunk))
        }
        SseEvent::Error(e) => (Some("error".to_owned()), to_json(&e)),
        SseEvent::Logged { event, data } => (event, data),
        // Made from a turn's chunks after they are logged; logged as framed, should one come.
        SseEvent::ChatChunk(c) => (None, to_json(&c)),
        SseEvent::ChatError(e) => (None, to_json(&e)),
        SseEvent::Done => (None, "[DONE]".to_owned()),
    };
    RunChunk { seq, event, data }
}

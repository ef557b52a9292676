//! Context compaction as the API sees it: the settings an agent shows and takes, the
//! summarizer model a turn gets, and `POST /v1/agents/{id}/summarize`.

use mneme_agent::CompactionOptions;
use mneme_store::Agent;
use mneme_types::{
    AgentId, CompactionResponse, CompactionSettings, CompactionSettingsPatch, LettaRequest,
    LlmConfig, SummarizeRequest, Thread,
};

use crate::{Result, Service, ServiceError};

impl Service {
    /// `POST /v1/agents/{id}/summarize`: compacts the agent's context now, holding the agent
    /// as a reset does. The request's settings override the agent's for this call.
    pub async fn summarize(
        &self,
        agent_id: AgentId,
        req: Option<SummarizeRequest>,
    ) -> Result<CompactionResponse> {
        self.summarize_thread(Thread::default_of(agent_id), req)
            .await
    }

    /// Compacts a thread's context now, holding the thread as a turn does.
    pub(crate) async fn summarize_thread(
        &self,
        thread: Thread,
        req: Option<SummarizeRequest>,
    ) -> Result<CompactionResponse> {
        let patch = req.and_then(|r| r.compaction_settings);
        check_patch(patch.as_ref())?;
        let _turn = self.scheduler.exclusive(thread).await;
        let agent = self.store.get_agent(thread.agent).await?;
        let stored = agent
            .settings
            .compaction_settings
            .clone()
            .unwrap_or_default();
        let settings = match &patch {
            Some(p) => p.apply_to(stored),
            None => stored,
        };
        let summarizer = self.summarizer(&agent, &settings, None).await;
        let done = self
            .runtime
            .summarize(thread, &settings, summarizer)
            .await?;
        Ok(CompactionResponse {
            summary: done.summary,
            num_messages_before: done.messages_before as u32,
            num_messages_after: done.messages_after as u32,
        })
    }

    /// How a request's turn compacts: its summarizer model (the agent's `compaction_settings`
    /// model, else the request's own) and whether compactions are shown.
    pub(crate) async fn compaction_options(
        &self,
        agent: &Agent,
        req: &LettaRequest,
        model: Option<&LlmConfig>,
    ) -> CompactionOptions {
        let settings = agent
            .settings
            .compaction_settings
            .clone()
            .unwrap_or_default();
        CompactionOptions {
            summarizer: self.summarizer(agent, &settings, model).await,
            include_messages: req.include_compaction_messages == Some(true),
        }
    }

    /// The summarizer's config: `settings.model` resolved like any handle, with
    /// `settings.model_settings` applied; `None` (the model of the request) when no model is
    /// set. Unlike Letta, no cheap model of the provider is picked by default: a server behind
    /// `OPENAI_BASE_URL` often does not serve one, and compaction would then always fail. A
    /// handle that does not resolve falls back to the agent's model, as in Letta.
    async fn summarizer(
        &self,
        agent: &Agent,
        settings: &CompactionSettings,
        model: Option<&LlmConfig>,
    ) -> Option<LlmConfig> {
        let base = match settings.model.as_deref().filter(|h| !h.is_empty()) {
            Some(handle) => match self.models.resolve_llm(handle, None).await {
                Ok(config) => config,
                Err(e) => {
                    tracing::warn!(%handle, error = %e, "the compaction model does not resolve; using the agent's");
                    return None;
                }
            },
            None if settings.model_settings.is_some() => model.unwrap_or(&agent.llm_config).clone(),
            None => return None,
        };
        let mut config = base;
        if let Some(model_settings) = &settings.model_settings {
            model_settings.apply(&mut config);
        }
        Some(config)
    }
}

/// The settings an agent shows: Letta's defaults for what it was not given, and the mode's
/// default prompt when it has none of its own (`model: null` is the agent's own model).
pub(crate) fn shown(stored: Option<CompactionSettings>) -> CompactionSettings {
    let mut s = stored.unwrap_or_default();
    if s.prompt.is_none() {
        s.prompt = Some(mneme_agent::default_prompt(s.mode).to_owned());
    }
    s
}

/// Settings a request gives, applied to what the agent has (Letta's defaults if nothing).
pub(crate) fn patched(
    stored: Option<CompactionSettings>,
    patch: CompactionSettingsPatch,
) -> CompactionSettings {
    patch.apply_to(stored.unwrap_or_default())
}

/// A patch the settings cannot take is a 422.
pub(crate) fn check_patch(patch: Option<&CompactionSettingsPatch>) -> Result<()> {
    match patch.and_then(CompactionSettingsPatch::problem) {
        Some(problem) => Err(ServiceError::Unprocessable(problem)),
        None => Ok(()),
    }
}

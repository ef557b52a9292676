//! Context compaction: `CompactionSettings` (an agent's, and the partial form requests send),
//! `CompactionStats`, the summarize route's request and `CompactionResponse`, and the data of a
//! compaction `event_message`.

use serde::{Deserialize, Deserializer, Serialize};

use crate::ModelSettings;

/// Letta's default summary length limit, in characters.
pub const DEFAULT_CLIP_CHARS: u32 = 50_000;
/// Letta's default share of the window a sliding-window compaction evicts (its
/// `partial_evict_summarizer_percentage`).
pub const DEFAULT_SLIDING_WINDOW_PERCENTAGE: f64 = 0.3;

/// How a compaction picks what to summarise and who writes the summary.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CompactionMode {
    /// Everything after the system message (the newest turn stays when it fits).
    All,
    /// The oldest messages, until the rest fits in `1 - sliding_window_percentage` of the window.
    #[default]
    SlidingWindow,
    /// As `all`, the summary written by the agent's own model with its tools offered.
    SelfCompactAll,
    /// As `sliding_window`, the summary written by the agent's own model.
    SelfCompactSlidingWindow,
}

impl CompactionMode {
    /// Whether the agent's own model writes the summary (with its tools, for cache reuse).
    pub fn is_self(self) -> bool {
        matches!(
            self,
            CompactionMode::SelfCompactAll | CompactionMode::SelfCompactSlidingWindow
        )
    }

    /// Whether the oldest messages are summarised until the rest fits (rather than all).
    pub fn is_sliding(self) -> bool {
        matches!(
            self,
            CompactionMode::SlidingWindow | CompactionMode::SelfCompactSlidingWindow
        )
    }
}

/// `CompactionSettings`, complete: what an agent has (Letta's defaults for what it was not
/// given). `model: None` is the agent's own model; `prompt: None` the mode's default prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompactionSettings {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub model_settings: Option<ModelSettings>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub prompt_acknowledgement: bool,
    /// `None`: the summary is never clipped.
    #[serde(default = "default_clip")]
    pub clip_chars: Option<u32>,
    #[serde(default)]
    pub mode: CompactionMode,
    #[serde(default = "default_percentage")]
    pub sliding_window_percentage: f64,
}

impl Default for CompactionSettings {
    fn default() -> CompactionSettings {
        CompactionSettings {
            model: None,
            model_settings: None,
            prompt: None,
            prompt_acknowledgement: false,
            clip_chars: default_clip(),
            mode: CompactionMode::default(),
            sliding_window_percentage: DEFAULT_SLIDING_WINDOW_PERCENTAGE,
        }
    }
}

/// `compaction_settings` as requests send it (agent create and modify, the summarize route):
/// only the fields given change anything, and an explicit `null` is a value (no clipping, the
/// agent's own model, the mode's default prompt), as Letta reads `model_fields_set`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, schemars::JsonSchema)]
pub struct CompactionSettingsPatch {
    #[serde(default, deserialize_with = "given")]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    pub model_settings: Option<Option<ModelSettings>>,
    #[serde(default, deserialize_with = "given")]
    pub prompt: Option<Option<String>>,
    #[serde(default)]
    pub prompt_acknowledgement: Option<bool>,
    #[serde(default, deserialize_with = "given")]
    pub clip_chars: Option<Option<u32>>,
    #[serde(default)]
    pub mode: Option<CompactionMode>,
    #[serde(default)]
    pub sliding_window_percentage: Option<f64>,
}

impl CompactionSettingsPatch {
    /// `base` with the given fields changed. A new mode without a new prompt drops the old
    /// prompt for the new mode's default, as Letta does.
    pub fn apply_to(&self, mut base: CompactionSettings) -> CompactionSettings {
        if let Some(mode) = self.mode
            && mode != base.mode
            && self.prompt.is_none()
        {
            base.prompt = None;
        }
        let p = self.clone();
        base.model = p.model.unwrap_or(base.model);
        base.model_settings = p.model_settings.unwrap_or(base.model_settings);
        base.prompt = p.prompt.unwrap_or(base.prompt);
        base.prompt_acknowledgement = p
            .prompt_acknowledgement
            .unwrap_or(base.prompt_acknowledgement);
        base.clip_chars = p.clip_chars.unwrap_or(base.clip_chars);
        base.mode = p.mode.unwrap_or(base.mode);
        base.sliding_window_percentage = p
            .sliding_window_percentage
            .unwrap_or(base.sliding_window_percentage);
        base
    }

    /// Why the patch cannot be applied, if it cannot: a share outside (0, 1].
    pub fn problem(&self) -> Option<String> {
        let p = self.sliding_window_percentage?;
        (!(p > 0.0 && p <= 1.0)).then(|| {
            format!("sliding_window_percentage must be greater than 0 and at most 1, got {p}")
        })
    }
}

/// `CompactionStats`: what a compaction the loop ran did (absent for the summarize route).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompactionStats {
    /// `post_step_context_check`, `context_window_exceeded` (or mneme's `pre_step_context_check`).
    pub trigger: String,
    #[serde(default)]
    pub context_tokens_before: Option<u64>,
    /// The in-context messages and tool schemas after compaction (local count).
    #[serde(default)]
    pub context_tokens_after: Option<u64>,
    pub context_window: u32,
    pub messages_count_before: u32,
    /// Kept messages plus the summary.
    pub messages_count_after: u32,
}

/// The data of a compaction `event_message`, sent before the compaction runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompactionEventData {
    pub trigger: String,
    /// The context size that triggered it, in tokens (provider-reported or local).
    pub context_token_estimate: Option<u64>,
    pub context_window: u32,
}

/// The body of `POST /v1/agents/{id}/summarize` (Letta's `CompactionRequest`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, schemars::JsonSchema)]
pub struct SummarizeRequest {
    #[serde(default)]
    pub compaction_settings: Option<CompactionSettingsPatch>,
    /// `POST /v1/conversations/default/compact`: the agent whose default conversation.
    #[serde(default)]
    pub agent_id: Option<crate::AgentId>,
}

/// `CompactionResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompactionResponse {
    pub summary: String,
    pub num_messages_before: u32,
    pub num_messages_after: u32,
}

fn default_clip() -> Option<u32> {
    Some(DEFAULT_CLIP_CHARS)
}

fn default_percentage() -> f64 {
    DEFAULT_SLIDING_WINDOW_PERCENTAGE
}

/// A field that was given, `null` included (`Some(None)`); absent fields stay `None` through
/// `#[serde(default)]`.
fn given<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: serde_json::Value) -> CompactionSettingsPatch {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn settings_read_with_letta_defaults() {
        let s: CompactionSettings = serde_json::from_value(json!({})).unwrap();
        assert_eq!(s, CompactionSettings::default());
        assert_eq!(s.clip_chars, Some(50_000));
        let s: CompactionSettings =
            serde_json::from_value(json!({"clip_chars": null, "mode": "all"})).unwrap();
        assert_eq!((s.clip_chars, s.mode), (None, CompactionMode::All));
        let wire = serde_json::to_value(CompactionSettings::default()).unwrap();
        assert_eq!(
            wire,
            json!({"model": null, "model_settings": null, "prompt": null,
                   "prompt_acknowledgement": false, "clip_chars": 50000,
                   "mode": "sliding_window", "sliding_window_percentage": 0.3})
        );
        assert!(
            serde_json::from_value::<CompactionSettingsPatch>(json!({"mode": "most"})).is_err()
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let base = CompactionSettings {
            prompt: Some("mine".into()),
            model: Some("openai/gpt-4o-mini".into()),
            ..CompactionSettings::default()
        };
        let s = patch(json!({"clip_chars": null})).apply_to(base.clone());
        assert_eq!(s.clip_chars, None);
        assert_eq!(s.prompt.as_deref(), Some("mine"));
        assert_eq!(s.model.as_deref(), Some("openai/gpt-4o-mini"));
        // A new mode without a prompt takes the new mode's default prompt.
        let s = patch(json!({"mode": "all"})).apply_to(base.clone());
        assert_eq!((s.mode, s.prompt), (CompactionMode::All, None));
        let s = patch(json!({"mode": "all", "prompt": "p"})).apply_to(base.clone());
        assert_eq!(s.prompt.as_deref(), Some("p"));
        let s = patch(json!({"model": null})).apply_to(base);
        assert_eq!(s.model, None);
        assert!(
            patch(json!({"sliding_window_percentage": 1.5}))
                .problem()
                .is_some()
        );
        assert!(
            patch(json!({"sliding_window_percentage": 0.5}))
                .problem()
                .is_none()
        );
    }
}

//! Between `model_settings` and `llm_config`, as Letta maps them.

use serde_json::{Value, json};

use super::*;

/// What settings a client sent change besides the `llm_config`.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatChange {
    /// The settings class has no response format: the agent's stays as it is.
    Keep,
    /// The agent's response format becomes this (`None`: free text).
    Set(Option<ResponseFormat>),
}

impl ModelSettings {
    /// The settings an agent on `llm` with `response_format` shows (Letta's
    /// `LLMConfig._to_model_settings`, with the agent's real `parallel_tool_calls` and
    /// response format rather than the class defaults).
    pub fn from_config(llm: &LlmConfig, response_format: Option<&ResponseFormat>) -> ModelSettings {
        let format = response_format.cloned();
        let parallel = llm.parallel_tool_calls.unwrap_or(false);
        let max = |default: u32| Some(llm.max_tokens.unwrap_or(default));
        let compatible = || CompatibleSettings {
            max_output_tokens: max(4096),
            parallel_tool_calls: parallel,
            temperature: llm.temperature,
            response_format: format.clone(),
        };
        let p = match llm.model_endpoint_type.as_str() {
            "openai" => return openai_settings(llm, format),
            "anthropic" | "minimax" => ProviderSettings::Anthropic(AnthropicSettings {
                max_output_tokens: max(4096),
                parallel_tool_calls: parallel,
                temperature: llm.temperature,
                thinking: AnthropicThinking {
                    kind: on_off(llm.enable_reasoner),
                    budget_tokens: nonzero_or(llm.max_reasoning_tokens, 1024),
                },
                response_format: format,
                verbosity: extra_str(llm, "verbosity"),
                effort: extra_str(llm, "effort"),
                strict: extra_bool(llm, "strict"),
            }),
            kind @ ("google_ai" | "google_vertex") => {
                let g = GoogleSettings {
                    max_output_tokens: max(65536),
                    parallel_tool_calls: parallel,
                    temperature: llm.temperature,
                    thinking_config: GeminiThinkingConfig {
                        include_thoughts: llm.max_reasoning_tokens > 0,
                        thinking_budget: nonzero_or(llm.max_reasoning_tokens, 1024),
                    },
                    response_schema: format,
                };
                match kind {
                    "google_ai" => ProviderSettings::GoogleAi(g),
                    _ => ProviderSettings::GoogleVertex(g),
                }
            }
            "azure" => ProviderSettings::Azure(compatible()),
            "xai" => ProviderSettings::Xai(compatible()),
            "zai" | "zai_coding" => ProviderSettings::Zai(ZaiSettings {
                base: compatible(),
                thinking: ZaiThinking {
                    kind: on_off(llm.enable_reasoner),
                    clear_thinking: false,
                },
            }),
            "groq" => ProviderSettings::Groq(compatible()),
            "deepseek" => ProviderSettings::Deepseek(compatible()),
            "together" => ProviderSettings::Together(compatible()),
            "bedrock" => ProviderSettings::Bedrock(compatible()),
            "openrouter" => ProviderSettings::OpenRouter(compatible()),
            "baseten" => ProviderSettings::Baseten(BasetenSettings {
                max_output_tokens: max(4096),
                parallel_tool_calls: parallel,
                temperature: llm.temperature,
            }),
            "chatgpt_oauth" => ProviderSettings::ChatGptOauth(ChatGptOauthSettings {
                max_output_tokens: max(4096),
                parallel_tool_calls: parallel,
                temperature: llm.temperature,
                reasoning: OpenAiReasoning {
                    reasoning_effort: llm
                        .reasoning_effort
                        .clone()
                        .unwrap_or_else(|| "medium".into()),
                },
            }),
            _ => {
                return ModelSettings::Generic(GenericSettings {
                    max_output_tokens: max(4096),
                    parallel_tool_calls: parallel,
                });
            }
        };
        ModelSettings::Provider(p)
    }

    /// Writes these settings into `llm` (Letta's `_to_legacy_config_params`); what they say
    /// about the agent's response format. A `max_output_tokens` left out keeps `max_tokens`.
    pub fn apply(&self, llm: &mut LlmConfig) -> FormatChange {
        let p = match self {
            ModelSettings::Generic(g) => {
                set_common(llm, g.max_output_tokens, g.parallel_tool_calls, None);
                return FormatChange::Keep;
            }
            ModelSettings::Provider(p) => p,
        };
        match p {
            ProviderSettings::OpenAi(s) => apply_openai(llm, s),
            ProviderSettings::SgLang(s) => {
                set_extra(llm, "tool_call_parser", json!(s.tool_call_parser));
                apply_openai(llm, &s.openai)
            }
            ProviderSettings::Anthropic(s) => {
                set_common(
                    llm,
                    s.max_output_tokens,
                    s.parallel_tool_calls,
                    Some(s.temperature),
                );
                llm.enable_reasoner = s.thinking.kind == "enabled";
                llm.max_reasoning_tokens = s.thinking.budget_tokens;
                set_extra(llm, "verbosity", json!(s.verbosity));
                set_extra(llm, "effort", json!(s.effort));
                set_extra(llm, "strict", json!(s.strict));
                FormatChange::Set(s.response_format.clone())
            }
            ProviderSettings::GoogleAi(s) | ProviderSettings::GoogleVertex(s) => {
                set_common(
                    llm,
                    s.max_output_tokens,
                    s.parallel_tool_calls,
                    Some(s.temperature),
                );
                llm.max_reasoning_tokens = match s.thinking_config.include_thoughts {
                    true => s.thinking_config.thinking_budget,
                    false => 0,
                };
                set_extra(llm, "strict", json!(false));
                FormatChange::Set(s.response_schema.clone())
            }
            ProviderSettings::Zai(s) => {
                llm.enable_reasoner = s.thinking.kind == "enabled";
                apply_compatible(llm, &s.base)
            }
            ProviderSettings::Azure(s)
            | ProviderSettings::Xai(s)
            | ProviderSettings::Groq(s)
            | ProviderSettings::Deepseek(s)
            | ProviderSettings::Together(s)
            | ProviderSettings::Bedrock(s)
            | ProviderSettings::OpenRouter(s) => apply_compatible(llm, s),
            ProviderSettings::Baseten(s) => {
                let temperature = Some(s.temperature);
                set_common(llm, s.max_output_tokens, s.parallel_tool_calls, temperature);
                set_extra(llm, "strict", json!(true));
                FormatChange::Keep
            }
            ProviderSettings::ChatGptOauth(s) => {
                let temperature = Some(s.temperature);
                set_common(llm, s.max_output_tokens, s.parallel_tool_calls, temperature);
                llm.reasoning_effort = Some(s.reasoning.reasoning_effort.clone());
                FormatChange::Keep
            }
        }
    }
}

fn openai_settings(llm: &LlmConfig, format: Option<ResponseFormat>) -> ModelSettings {
    let openai = OpenAiSettings {
        max_output_tokens: Some(llm.max_tokens.unwrap_or(4096)),
        parallel_tool_calls: llm.parallel_tool_calls.unwrap_or(false),
        temperature: llm.temperature,
        reasoning: OpenAiReasoning {
            reasoning_effort: llm
                .reasoning_effort
                .clone()
                .unwrap_or_else(|| "minimal".into()),
        },
        response_format: format,
        strict: extra_bool(llm, "strict"),
    };
    let sglang = llm.handle.as_deref().unwrap_or("").starts_with("sglang/")
        || llm
            .provider_name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains("sglang"));
    ModelSettings::Provider(match sglang {
        true => ProviderSettings::SgLang(SgLangSettings {
            openai,
            tool_call_parser: extra_str(llm, "tool_call_parser"),
        }),
        false => ProviderSettings::OpenAi(openai),
    })
}

fn apply_openai(llm: &mut LlmConfig, s: &OpenAiSettings) -> FormatChange {
    set_common(
        llm,
        s.max_output_tokens,
        s.parallel_tool_calls,
        Some(s.temperature),
    );
    llm.reasoning_effort = Some(s.reasoning.reasoning_effort.clone());
    set_extra(llm, "strict", json!(s.strict));
    FormatChange::Set(s.response_format.clone())
}

fn apply_compatible(llm: &mut LlmConfig, s: &CompatibleSettings) -> FormatChange {
    set_common(
        llm,
        s.max_output_tokens,
        s.parallel_tool_calls,
        Some(s.temperature),
    );
    set_extra(llm, "strict", json!(false));
    FormatChange::Set(s.response_format.clone())
}

fn set_common(llm: &mut LlmConfig, max: Option<u32>, parallel: bool, temperature: Option<f64>) {
    if let Some(max) = max {
        llm.max_tokens = Some(max);
    }
    llm.parallel_tool_calls = Some(parallel);
    if let Some(t) = temperature {
        llm.temperature = t;
    }
}

/// Letta's config fields mneme does not act on live in `extra`, so `llm_config` shows them.
fn set_extra(llm: &mut LlmConfig, key: &str, value: Value) {
    llm.extra.insert(key.to_owned(), value);
}

fn extra_str(llm: &LlmConfig, key: &str) -> Option<String> {
    llm.extra
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn extra_bool(llm: &LlmConfig, key: &str) -> bool {
    llm.extra.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn on_off(on: bool) -> String {
    match on {
        true => "enabled",
        false => "disabled",
    }
    .into()
}

fn nonzero_or(v: u32, default: u32) -> u32 {
    if v == 0 { default } else { v }
}

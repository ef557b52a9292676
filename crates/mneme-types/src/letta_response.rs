//! What a turn answers: `LettaResponse` (blocking requests) and the members of
//! `LettaStreamingResponse` (one SSE `data:` payload each): messages, pings, the stop reason,
//! usage statistics and the error chunk.

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{LettaMessage, RunId, StopReason, UsageStatistics, time};

/// `LettaResponse`: the answer of `POST /v1/agents/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LettaResponse {
    pub messages: Vec<LettaMessage>,
    pub stop_reason: LettaStopReason,
    pub usage: LettaUsageStatistics,
}

/// `LettaStopReason`: `{"message_type": "stop_reason", "stop_reason": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "message_type", rename = "stop_reason")]
pub struct LettaStopReason {
    pub stop_reason: StopReason,
}

/// `LettaUsageStatistics` (`message_type: "usage_statistics"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "message_type", rename = "usage_statistics")]
pub struct LettaUsageStatistics {
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default)]
    pub step_count: u64,
    #[serde(default)]
    pub run_ids: Option<Vec<String>>,
    /// `null` when the provider did not report it, as for the other optional counts.
    #[serde(default)]
    pub cached_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
    /// The latest context size estimate, not a sum.
    #[serde(default)]
    pub context_tokens: Option<u64>,
}

impl From<&UsageStatistics> for LettaUsageStatistics {
    fn from(u: &UsageStatistics) -> Self {
        LettaUsageStatistics {
            completion_tokens: u.completion_tokens,
            prompt_tokens: u.prompt_tokens,
            total_tokens: u.total_tokens,
            step_count: u.step_count,
            run_ids: None,
            cached_input_tokens: u.cached_input_tokens,
            cache_write_tokens: u.cache_write_tokens,
            reasoning_tokens: u.reasoning_tokens,
            context_tokens: u.context_tokens,
        }
    }
}

/// `LettaPing`: tells a stream's reader the run id, and keeps proxies from closing it. It has
/// the common fields of a message, all `null` but these.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LettaPing {
    /// `ping-<uuid>`.
    pub id: String,
    pub date: DateTime<Utc>,
    #[serde(default)]
    pub seq_id: Option<u64>,
    #[serde(default)]
    pub run_id: Option<RunId>,
}

impl LettaPing {
    pub fn new(run: RunId, seq_id: Option<u64>) -> LettaPing {
        LettaPing {
            id: format!("ping-{}", uuid::Uuid::new_v4()),
            date: time::now(),
            seq_id,
            run_id: Some(run),
        }
    }
}

impl Serialize for LettaPing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let null: Option<&str> = None;
        let mut st = s.serialize_struct("LettaPing", 10)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("date", &time::message(&self.date))?;
        st.serialize_field("name", &null)?;
        st.serialize_field("message_type", "ping")?;
        st.serialize_field("otid", &null)?;
        st.serialize_field("sender_id", &null)?;
        st.serialize_field("step_id", &null)?;
        st.serialize_field("is_err", &null)?;
        st.serialize_field("seq_id", &self.seq_id)?;
        st.serialize_field("run_id", &self.run_id)?;
        st.end()
    }
}

/// `LettaErrorMessage`: the payload of a stream's `event: error` frame, which the SDKs raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "message_type", rename = "error_message")]
pub struct LettaErrorMessage {
    pub run_id: RunId,
    /// `internal_error`, `llm_timeout`, `llm_rate_limit`, ...
    pub error_type: String,
    pub message: String,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub seq_id: Option<u64>,
}

/// `LettaStreamingResponse`: one `data:` payload of a message stream, discriminated by
/// `message_type`.
#[derive(Debug, Clone, PartialEq)]
pub enum LettaStreamingResponse {
    Message(LettaMessage),
    Ping(LettaPing),
    StopReason(LettaStopReason),
    Usage(LettaUsageStatistics),
    Error(LettaErrorMessage),
}

impl LettaStreamingResponse {
    pub fn message_type(&self) -> &'static str {
        match self {
            LettaStreamingResponse::Message(m) => m.message_type(),
            LettaStreamingResponse::Ping(_) => "ping",
            LettaStreamingResponse::StopReason(_) => "stop_reason",
            LettaStreamingResponse::Usage(_) => "usage_statistics",
            LettaStreamingResponse::Error(_) => "error_message",
        }
    }
}

impl From<LettaMessage> for LettaStreamingResponse {
    fn from(m: LettaMessage) -> Self {
        LettaStreamingResponse::Message(m)
    }
}

impl Serialize for LettaStreamingResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every member writes its own `message_type`.
        match self {
            LettaStreamingResponse::Message(m) => m.serialize(s),
            LettaStreamingResponse::Ping(p) => p.serialize(s),
            LettaStreamingResponse::StopReason(r) => r.serialize(s),
            LettaStreamingResponse::Usage(u) => u.serialize(s),
            LettaStreamingResponse::Error(e) => e.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for LettaStreamingResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let kind = v.get("message_type").and_then(Value::as_str).unwrap_or("");
        let parsed = match kind {
            "ping" => LettaPing::deserialize(v).map(LettaStreamingResponse::Ping),
            "stop_reason" => {
                LettaStopReason::deserialize(v).map(LettaStreamingResponse::StopReason)
            }
            "usage_statistics" => {
                LettaUsageStatistics::deserialize(v).map(LettaStreamingResponse::Usage)
            }
            "error_message" => LettaErrorMessage::deserialize(v).map(LettaStreamingResponse::Error),
            _ => LettaMessage::deserialize(v).map(LettaStreamingResponse::Message),
        };
        parsed.map_err(D::Error::custom)
    }
}

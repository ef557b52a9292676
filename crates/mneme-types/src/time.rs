//! Timestamps as Letta writes them: resources in UTC with microseconds and `Z`; message dates
//! to the second with `+00:00`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Now, truncated to microseconds so what we store equals what we return.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// `2025-05-14T16:58:54.123456Z`, the form resource fields (`created_at`, ...) use.
pub fn resource(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `2025-05-14T16:58:54+00:00`, the form of a `LettaMessage`'s `date`.
pub fn message(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Serde adapter for resource timestamps.
pub fn serialize_resource<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&resource(t))
}

/// Serde adapter for optional resource timestamps.
pub fn serialize_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&resource(t)),
        None => s.serialize_none(),
    }
}

/// Serde adapter for message dates.
pub fn serialize_message<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&message(t))
}

//! How records are encoded in any backend's rows: the parts that are not SQL.
//!
//! Both backends keep the same columns (see `mneme migrate`), so what a column holds is decided
//! once, here: JSON documents as text, vectors as little-endian f32 bytes, timestamps as
//! microseconds since the epoch.

use chrono::{DateTime, Utc};
use mneme_types::ToolRule;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

/// Stored tool rules. A rule this version cannot read (a type added later, a hand edit) is
/// skipped with a warning rather than make the agent unreadable; the next write of the agent's
/// rules drops it.
pub fn tool_rules(text: Option<String>) -> Option<Vec<ToolRule>> {
    let values: Vec<serde_json::Value> = match serde_json::from_str(&text?) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "stored tool rules are not a JSON list; ignored");
            return None;
        }
    };
    let rules = values
        .into_iter()
        .filter_map(|v| match ToolRule::deserialize(&v) {
            Ok(rule) => Some(rule),
            Err(e) => {
                tracing::warn!(error = %e, rule = %v, "skipping a stored tool rule");
                None
            }
        })
        .collect();
    Some(rules)
}

/// A stored JSON document.
pub fn json<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn json_opt<T: DeserializeOwned>(s: Option<String>) -> Result<Option<T>, StoreError> {
    s.map(|s| json(&s)).transpose()
}

/// A value as a JSON document to store.
pub fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Db(e.to_string()))
}

pub fn to_json_opt<T: Serialize>(v: &Option<T>) -> Result<Option<String>, StoreError> {
    v.as_ref().map(to_json).transpose()
}

/// A stored enum kept as its wire string (a run's status, a stop reason).
pub fn enum_value<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown value {s}")))
}

/// A stored id.
pub fn parse<T: std::str::FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id {s}")))
}

pub fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A vector as stored: little-endian f32s.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn bytes_vector(b: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !b.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!("vector of {} bytes", b.len())));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn unreadable_stored_tool_rules_are_skipped_not_fatal() {
        let stored = r#"[{"type":"exit_loop","tool_name":"a"},{"type":"from_the_future","tool_name":"b"},
            {"type":"max_count_per_step","tool_name":"c"},{"type":"requires_approval","tool_name":"d"}]"#;
        let rules = tool_rules(Some(stored.to_owned())).unwrap();
        let names: Vec<&str> = rules.iter().map(ToolRule::tool_name).collect();
        assert_eq!(names, ["a", "d"]);
        assert_eq!(tool_rules(Some("{not json".to_owned())), None);
        assert_eq!(tool_rules(None), None);
    }

    #[test]
    fn vectors_round_trip_and_torn_ones_are_corrupt() {
        let v = [1.5f32, -0.25, 3.0];
        assert_eq!(bytes_vector(&vector_bytes(&v)).unwrap(), v);
        assert!(matches!(
            bytes_vector(&[0, 1, 2]),
            Err(StoreError::Corrupt(_))
        ));
    }
}

//! `conversation_search` (recall) and archival memory tools.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use mneme_store::{Agent, Message, MessageFilter, Passage, PassageFilter, Role};
use mneme_types::time;
use serde_json::{Map, Value, json};

use super::args::Args;
use super::py_repr;
use crate::recall::{ArchivalQuery, MemorySearch, RecallQuery, Relevance};
use crate::system::local_time;

const DEFAULT_LIMIT: i64 = 5;

/// `conversation_search(query?, roles?, limit?, start_date?, end_date?)`: hybrid ranking over
/// the whole history (most recent first without a query), dates and roles applied before the
/// limit (Letta's SQL path ignored dates).
pub(super) async fn conversation_search(
    search: &dyn MemorySearch,
    agent: &Agent,
    args: &Args,
) -> Result<Value, String> {
    let start = parse_date(args.opt_string("start_date")?, "start_date", false)?;
    let end = parse_date(args.opt_string("end_date")?, "end_date", true)?;
    let roles = args
        .strings("roles")?
        .iter()
        .map(|r| match r.as_str() {
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            "tool" => Ok(Role::Tool),
            other => Err(format!(
                "Error: unknown role '{other}' (use assistant, user or tool)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let limit = args.int_or("limit", DEFAULT_LIMIT)?.clamp(1, 100) as usize;
    let query = RecallQuery {
        text: args.opt_string("query")?.filter(|q| !q.trim().is_empty()),
        filter: MessageFilter {
            roles: if roles.is_empty() {
                vec![Role::User, Role::Assistant]
            } else {
                roles
            },
            start,
            end,
            contains: None,
            newest: None,
            // Memory spans the agent's conversations, as in Letta.
            thread: None,
        },
        // Over-fetch: entries without readable text are dropped after the query.
        limit: limit * 4,
    };
    let found = search
        .recall(agent, query)
        .await
        .map_err(|e| format!("Error searching conversation history: {e}"))?;
    let now = Utc::now();
    let results: Vec<Value> = found
        .iter()
        .filter_map(|f| recall_entry(&f.item, &f.relevance, now))
        .take(limit)
        .collect();
    let message = match results.len() {
        0 => "No results found.".to_owned(),
        n => format!("Showing {n} results:"),
    };
    Ok(json!({ "message": message, "results": results }))
}

/// The readable part of a message, or `None` for what recall should not show (system
/// messages, heartbeats, tool plumbing, the search calls themselves).
fn recall_entry(m: &Message, relevance: &Relevance, now: DateTime<Utc>) -> Option<Value> {
    let mut entry = Map::new();
    entry.insert("timestamp".into(), json!(time::resource(&m.created_at)));
    entry.insert("time_ago".into(), json!(time_ago(now, m.created_at)));
    entry.insert("role".into(), json!(m.role.as_str()));
    match m.role {
        Role::User => {
            if is_server_event(&m.text) {
                return None;
            }
            entry.insert("content".into(), json!(m.text));
        }
        Role::Assistant => {
            let send = m.tool_calls.iter().find(|c| c.name == "send_message");
            if let Some(call) = send {
                let said = super::args::Args::parse(&call.arguments)
                    .opt_string("message")
                    .ok()??;
                if !m.text.is_empty() {
                    entry.insert("thinking".into(), json!(m.text));
                }
                entry.insert("content".into(), json!(said));
            } else if m.text.trim().is_empty() {
                return None;
            } else {
                entry.insert("content".into(), json!(m.text));
            }
        }
        _ => return None,
    }
    entry.insert("relevance".into(), relevance.to_json());
    Some(Value::Object(entry))
}

/// The text recall indexes for a message: what the user said, or the assistant's text and the
/// string arguments of its tool calls (`send_message`'s message). Empty for what
/// `conversation_search` never shows (tool plumbing, heartbeats, the system prompt).
pub fn recall_text(m: &Message) -> String {
    match m.role {
        Role::User if !is_server_event(&m.text) => m.text.clone(),
        Role::Assistant => {
            let mut out = m.text.clone();
            for call in &m.tool_calls {
                if call.name == "conversation_search" {
                    continue;
                }
                if let Ok(Value::Object(args)) = serde_json::from_str::<Value>(&call.arguments) {
                    for v in args.values() {
                        if let Value::String(s) = v {
                            out.push('\n');
                            out.push_str(s);
                        }
                    }
                }
            }
            out.trim().to_owned()
        }
        _ => String::new(),
    }
}

/// Heartbeats and other packed server messages stored with the user role.
fn is_server_event(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .is_some_and(|t| matches!(t.as_str(), "heartbeat" | "login" | "system_alert"))
}

fn time_ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

/// ISO 8601 date or datetime; a bare date is the start (or the end) of that day, in UTC.
fn parse_date(
    raw: Option<String>,
    field: &str,
    end: bool,
) -> Result<Option<DateTime<Utc>>, String> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    let r = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(r) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(r, fmt) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(r, "%Y-%m-%d") {
        let t = if end {
            d.and_hms_micro_opt(23, 59, 59, 999_999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return Ok(t.map(|t| t.and_utc()));
    }
    Err(format!(
        "Invalid {field} format: {raw}. Use ISO 8601 format (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
    ))
}

/// `archival_memory_insert(content, tags?)`: the passage (embedded now) is written with the step.
pub(super) async fn archival_memory_insert(
    search: &dyn MemorySearch,
    agent: &Agent,
    args: &Args,
) -> Result<Passage, String> {
    let content = args.string("content")?;
    if content.trim().is_empty() {
        return Err("Error: content must not be empty".into());
    }
    search
        .new_passage(agent, content, args.strings("tags")?)
        .await
}

/// `archival_memory_search(query, tags?, tag_match_mode?, top_k?, start_datetime?, end_datetime?)`:
/// Letta's result shape, a Python-style list of dicts; tags filter before the limit.
pub(super) async fn archival_memory_search(
    search: &dyn MemorySearch,
    agent: &Agent,
    args: &Args,
) -> Result<String, String> {
    let query = args.string("query")?;
    if query.trim().is_empty() {
        return Ok("[]".into());
    }
    let match_all = match args.opt_string("tag_match_mode")?.as_deref() {
        None | Some("any") => false,
        Some("all") => true,
        Some(other) => {
            return Err(format!(
                "Error: tag_match_mode must be 'any' or 'all', got '{other}'"
            ));
        }
    };
    let q = ArchivalQuery {
        text: query,
        filter: PassageFilter {
            tags: args.strings("tags")?,
            match_all_tags: match_all,
            start: parse_date(args.opt_string("start_datetime")?, "start_datetime", false)?,
            end: parse_date(args.opt_string("end_datetime")?, "end_datetime", true)?,
        },
        limit: args.int_or("top_k", DEFAULT_LIMIT)?.clamp(1, 100) as usize,
    };
    let found = search
        .archival(agent, q)
        .await
        .map_err(|e| format!("Error searching archival memory: {e}"))?;
    let items: Vec<Value> = found
        .iter()
        .map(|f| {
            let p = &f.item;
            json!({
                "id": p.id.to_string(),
                "timestamp": local_time(p.created_at),
                "content": p.text,
                "tags": p.tags,
                "relevance": f.relevance.to_json(),
            })
        })
        .collect();
    Ok(py_repr(&Value::Array(items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_as_letta_documents_them() {
        let day = parse_date(Some("2025-01-31".into()), "start_date", false)
            .unwrap()
            .unwrap();
        assert_eq!(time::resource(&day), "2025-01-31T00:00:00.000000Z");
        let end = parse_date(Some("2025-01-31".into()), "end_date", true)
            .unwrap()
            .unwrap();
        assert_eq!(time::resource(&end), "2025-01-31T23:59:59.999999Z");
        assert!(
            parse_date(Some("2025-01-31T14:00".into()), "x", false)
                .unwrap()
                .is_some()
        );
        let bad = parse_date(Some("yesterday".into()), "start_date", false).unwrap_err();
        assert!(bad.starts_with("Invalid start_date format: yesterday."));
    }

    #[test]
    fn heartbeats_are_not_recall_results() {
        assert!(is_server_event(r#"{"type": "heartbeat", "reason": "x"}"#));
        assert!(!is_server_event("hello"));
    }
}

//! Step listing and editing on SQLite, kept apart from the run operations for length. Steps
//! are stored as JSON documents; the filters of `GET /v1/steps/` read their fields in place.

use mneme_store::{Page, StepEdit, StepFilter, StepRecord};
use mneme_types::{Step, StepId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use crate::Result;
use crate::agents::{Where, order_limit, paginate};
use crate::rows::{self, micros, placeholders, to_json};

pub(crate) fn list_steps(conn: &Connection, f: &StepFilter, page: &Page) -> Result<Vec<Step>> {
    let mut w = filter_sql(f);
    paginate(conn, &mut w, "steps", "created_at", page, false)?;
    let sql = format!(
        "SELECT data FROM steps {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let data = stmt
        .query_map(params_from_iter(w.params), |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    data.iter().map(|d| rows::json(d)).collect()
}

/// Edits the step of the stored record; its timings stay as they were.
pub(crate) fn update_step(conn: &Connection, id: StepId, edit: StepEdit) -> Result<Step> {
    let mut record: StepRecord = rows::document(conn, "steps", "Step", id)?;
    edit(&mut record.step);
    record.step.id = id;
    conn.execute(
        "UPDATE steps SET data = ?2 WHERE id = ?1",
        rusqlite::params![id.to_string(), to_json(&record)?],
    )?;
    Ok(record.step)
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn filter_sql(f: &StepFilter) -> Where {
    let mut w = Where::default();
    if let Some(a) = f.agent {
        w.push("agent_id = ?", [text(&a.to_string())]);
    }
    if let Some(r) = f.run {
        w.push("run_id = ?", [text(&r.to_string())]);
    }
    if let Some(m) = &f.model {
        w.push("json_extract(data, '$.model') = ?", [text(m)]);
    }
    if !f.trace_ids.is_empty() {
        w.push(
            format!(
                "json_extract(data, '$.trace_id') IN ({})",
                placeholders(f.trace_ids.len())
            ),
            f.trace_ids.iter().map(|t| text(t)),
        );
    }
    if let Some(fb) = &f.feedback {
        w.push("json_extract(data, '$.feedback') = ?", [text(fb)]);
    }
    match f.has_feedback {
        Some(true) => w.push("json_extract(data, '$.feedback') IS NOT NULL", []),
        Some(false) => w.push("json_extract(data, '$.feedback') IS NULL", []),
        None => {}
    }
    if let Some(d) = &f.start_date {
        w.push("created_at > ?", [SqlValue::Integer(micros(d))]);
    }
    if let Some(d) = &f.end_date {
        w.push("created_at < ?", [SqlValue::Integer(micros(d))]);
    }
    w
}

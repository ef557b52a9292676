//! Step listing and editing on PostgreSQL, kept apart from the run operations for length.
//! Steps are stored as JSON documents; the filters of `GET /v1/steps/` read their fields in
//! place.

use mneme_store::codec::{json, micros, to_json};
use mneme_store::{Page, StepEdit, StepFilter, StepRecord};
use mneme_types::{Step, StepId};
use serde::de::DeserializeOwned;
use sqlx::{PgConnection, Row};

use crate::Result;
use crate::query::{Arg, Where, fetch, order_limit, paginate};

pub(crate) async fn list_steps(
    conn: &mut PgConnection,
    f: &StepFilter,
    page: &Page,
) -> Result<Vec<Step>> {
    let mut w = filter_sql(f);
    paginate(conn, &mut w, "steps", "created_at", page, false).await?;
    let sql = format!(
        "SELECT data FROM steps {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    fetch(conn, &sql, w.params, |row| {
        Ok(json(&row.try_get::<String, _>(0)?)?)
    })
    .await
}

/// One step as stored: a `Step`, or the `StepRecord` with its timings; `lock` holds its row
/// until the transaction ends.
pub(crate) async fn load_step<T: DeserializeOwned>(
    conn: &mut PgConnection,
    id: StepId,
    lock: bool,
) -> Result<T> {
    crate::rows::document(conn, "steps", "Step", id, lock).await
}

/// Edits the step of the stored record; its timings stay as they were.
pub(crate) async fn update_step(
    conn: &mut PgConnection,
    id: StepId,
    edit: StepEdit,
) -> Result<Step> {
    // Locked: the document is read, edited and written back whole.
    let mut record: StepRecord = load_step(conn, id, true).await?;
    edit(&mut record.step);
    record.step.id = id;
    sqlx::query("UPDATE steps SET data = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(to_json(&record)?)
        .execute(&mut *conn)
        .await?;
    Ok(record.step)
}

/// A field of the step document, as text (NULL when absent or JSON null).
fn field(name: &str) -> String {
    format!("((data::jsonb) ->> '{name}')")
}

fn filter_sql(f: &StepFilter) -> Where {
    let mut w = Where::default();
    if let Some(a) = f.agent {
        w.push("agent_id = ?", [Arg::Text(a.to_string())]);
    }
    if let Some(r) = f.run {
        w.push("run_id = ?", [Arg::Text(r.to_string())]);
    }
    if let Some(m) = &f.model {
        w.push(format!("{} = ?", field("model")), [Arg::from(m)]);
    }
    if !f.trace_ids.is_empty() {
        w.push(
            format!("{} = ANY(?)", field("trace_id")),
            [Arg::Texts(f.trace_ids.clone())],
        );
    }
    if let Some(fb) = &f.feedback {
        w.push(format!("{} = ?", field("feedback")), [Arg::from(fb)]);
    }
    match f.has_feedback {
        Some(true) => w.push(format!("{} IS NOT NULL", field("feedback")), []),
        Some(false) => w.push(format!("{} IS NULL", field("feedback")), []),
        None => {}
    }
    if let Some(d) = &f.start_date {
        w.push("created_at > ?", [Arg::Int(micros(d))]);
    }
    if let Some(d) = &f.end_date {
        w.push("created_at < ?", [Arg::Int(micros(d))]);
    }
    w
}

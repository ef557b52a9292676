//! `GET /v1/tags/` on SQLite: the distinct tags of agents (`agent_tags`) and blocks (the JSON
//! array in `blocks.tags`), in one query.

use mneme_store::TagQuery;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use crate::Result;
use crate::agents::Where;

pub(crate) fn list_tags(conn: &Connection, q: &TagQuery) -> Result<Vec<String>> {
    let mut w = Where::default();
    if let Some(t) = &q.text {
        w.push(
            "instr(lower(tag), lower(?)) > 0",
            [SqlValue::Text(t.clone())],
        );
    }
    // `after` moves along the listing direction, `before` against it.
    let (later, earlier) = if q.descending { ("<", ">") } else { (">", "<") };
    for (cursor, op) in [(&q.after, later), (&q.before, earlier)] {
        if let Some(c) = cursor {
            w.push(format!("tag {op} ?"), [SqlValue::Text(c.clone())]);
        }
    }
    let dir = if q.descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT tag FROM (
             SELECT tag FROM agent_tags
             UNION
             SELECT j.value AS tag FROM blocks b, json_each(b.tags) j
             WHERE b.tags IS NOT NULL AND json_valid(b.tags) AND j.type = 'text'
         ) {} ORDER BY tag {dir} LIMIT {}",
        w.where_clause(),
        q.limit
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let tags = stmt
        .query_map(params_from_iter(w.params), |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tags)
}

//! `GET /v1/tags/` on PostgreSQL: the distinct tags of agents (`agent_tags`) and blocks (the
//! JSON array in `blocks.tags`), in one query.

use mneme_store::TagQuery;
use sqlx::{PgConnection, Row};

use crate::Result;
use crate::query::{Arg, Where, fetch};

pub(crate) async fn list_tags(conn: &mut PgConnection, q: &TagQuery) -> Result<Vec<String>> {
    let mut w = Where::default();
    if let Some(t) = &q.text {
        w.push("strpos(lower(tag), lower(?)) > 0", [Arg::from(t)]);
    }
    // `after` moves along the listing direction, `before` against it.
    let (later, earlier) = if q.descending { ("<", ">") } else { (">", "<") };
    for (cursor, op) in [(&q.after, later), (&q.before, earlier)] {
        if let Some(c) = cursor {
            w.push(format!("tag {op} ?"), [Arg::from(c)]);
        }
    }
    let dir = if q.descending { "DESC" } else { "ASC" };
    // Only the strings of a block's tags array count, as in SQLite (`j.type = 'text'`). The
    // documents are ours (`to_json_opt` of a list), so they are valid JSON.
    let sql = format!(
        "SELECT tag FROM (
             SELECT tag FROM agent_tags
             UNION
             SELECT j.tag COLLATE \"C\" FROM blocks b
             CROSS JOIN LATERAL jsonb_array_elements(
                 CASE WHEN jsonb_typeof(b.tags::jsonb) = 'array' THEN b.tags::jsonb
                      ELSE '[]'::jsonb END) e
             CROSS JOIN LATERAL (SELECT e #>> '{{}}' AS tag) j
             WHERE b.tags IS NOT NULL AND jsonb_typeof(e) = 'string'
         ) t {} ORDER BY tag {dir} LIMIT {}",
        w.where_clause(),
        q.limit
    );
    fetch(conn, &sql, w.params, |r| Ok(r.try_get::<String, _>(0)?)).await
}

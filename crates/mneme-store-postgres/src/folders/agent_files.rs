//! The agent's files: read with the agent's frame every turn, written by the file tools'
//! steps and by the routes that open and close files.

use mneme_store::codec::{micros, parse, time};
use mneme_store::{AgentDirectory, AgentFile, AgentFiles};
use mneme_types::AgentId;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::Result;
use crate::rows::{flag, to_flag};

/// The agent's attached folders in attachment order and their files by creation.
pub(crate) async fn of_agent(conn: &mut PgConnection, agent: AgentId) -> Result<AgentFiles> {
    Ok(AgentFiles {
        directories: directories(conn, agent).await?,
        files: files(conn, agent).await?,
    })
}

async fn directories(conn: &mut PgConnection, agent: AgentId) -> Result<Vec<AgentDirectory>> {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT f.id, f.name, f.description, f.instructions FROM folders f
         JOIN agent_folders af ON af.folder_id = f.id WHERE af.agent_id = $1 ORDER BY af.seq",
    )
    .bind(agent.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, name, description, instructions)| {
            Ok(AgentDirectory {
                id: parse(&id)?,
                name,
                description,
                instructions,
            })
        })
        .collect()
}

async fn files(conn: &mut PgConnection, agent: AgentId) -> Result<Vec<AgentFile>> {
    let rows = sqlx::query(
        "SELECT a.id, a.file_id, a.folder_id, COALESCE(f.file_name, f.original_file_name, ''),
            a.is_open, a.visible_content, a.start_line, a.end_line, a.last_accessed_at,
            a.created_at
         FROM agent_files a JOIN files f ON f.id = a.file_id
         WHERE a.agent_id = $1 ORDER BY a.created_at, a.id",
    )
    .bind(agent.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(file).collect()
}

fn file(r: &PgRow) -> Result<AgentFile> {
    let line = |i: usize| -> Result<Option<u32>> {
        Ok(r.try_get::<Option<i64>, _>(i)?
            .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)))
    };
    Ok(AgentFile {
        id: parse(&r.try_get::<String, _>(0)?)?,
        file_id: parse(&r.try_get::<String, _>(1)?)?,
        folder_id: parse(&r.try_get::<String, _>(2)?)?,
        file_name: r.try_get(3)?,
        is_open: flag(r.try_get(4)?),
        visible_content: r.try_get(5)?,
        start_line: line(6)?,
        end_line: line(7)?,
        last_accessed_at: time(r.try_get(8)?),
        created_at: time(r.try_get(9)?),
    })
}

/// Upserts the rows by (agent, file); rows whose file is gone or whose folder is no longer
/// the agent's are skipped.
pub(crate) async fn save(
    conn: &mut PgConnection,
    agent: AgentId,
    files: &[AgentFile],
) -> Result<()> {
    for f in files {
        sqlx::query(
            "INSERT INTO agent_files (id, agent_id, file_id, folder_id, is_open, visible_content,
                start_line, end_line, last_accessed_at, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
             WHERE EXISTS (SELECT 1 FROM files WHERE id = $3 AND folder_id = $4)
               AND EXISTS (SELECT 1 FROM agent_folders WHERE agent_id = $2 AND folder_id = $4)
             ON CONFLICT (agent_id, file_id) DO UPDATE SET is_open = excluded.is_open,
                visible_content = excluded.visible_content, start_line = excluded.start_line,
                end_line = excluded.end_line, last_accessed_at = excluded.last_accessed_at",
        )
        .bind(f.id.to_string())
        .bind(agent.to_string())
        .bind(f.file_id.to_string())
        .bind(f.folder_id.to_string())
        .bind(to_flag(f.is_open))
        .bind(&f.visible_content)
        .bind(f.start_line.map(i64::from))
        .bind(f.end_line.map(i64::from))
        .bind(micros(&f.last_accessed_at))
        .bind(micros(&f.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes the agent's files of folders it no longer has.
pub(crate) async fn drop_detached(conn: &mut PgConnection, agent: AgentId) -> Result<()> {
    sqlx::query(
        "DELETE FROM agent_files WHERE agent_id = $1 AND folder_id NOT IN
            (SELECT folder_id FROM agent_folders WHERE agent_id = $1)",
    )
    .bind(agent.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

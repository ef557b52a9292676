//! The agent's files (migration 0014): read with the agent's frame every turn, written by
//! the file tools' steps and by the routes that open and close files.

use mneme_store::{AgentDirectory, AgentFile, AgentFiles};
use mneme_types::AgentId;
use rusqlite::{Connection, Row};

use crate::rows::{self, micros};
use crate::{Cached, Result};

/// The agent's attached folders in attachment order and their files by creation.
pub(crate) fn of_agent(conn: &Connection, agent: AgentId) -> Result<AgentFiles> {
    Ok(AgentFiles {
        directories: directories(conn, agent)?,
        files: files(conn, agent)?,
    })
}

fn directories(conn: &Connection, agent: AgentId) -> Result<Vec<AgentDirectory>> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.id, f.name, f.description, f.instructions FROM folders f
         JOIN agent_folders af ON af.folder_id = f.id WHERE af.agent_id = ?1 ORDER BY af.seq",
    )?;
    let mut rows = stmt.query([agent.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(AgentDirectory {
            id: rows::parse(&r.get::<_, String>(0)?)?,
            name: r.get(1)?,
            description: r.get(2)?,
            instructions: r.get(3)?,
        });
    }
    Ok(out)
}

fn files(conn: &Connection, agent: AgentId) -> Result<Vec<AgentFile>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.file_id, a.folder_id, COALESCE(f.file_name, f.original_file_name, ''),
            a.is_open, a.visible_content, a.start_line, a.end_line, a.last_accessed_at,
            a.created_at
         FROM agent_files a JOIN files f ON f.id = a.file_id
         WHERE a.agent_id = ?1 ORDER BY a.created_at, a.id",
    )?;
    let mut rows = stmt.query([agent.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(file(r)?);
    }
    Ok(out)
}

fn file(r: &Row<'_>) -> Result<AgentFile> {
    Ok(AgentFile {
        id: rows::parse(&r.get::<_, String>(0)?)?,
        file_id: rows::parse(&r.get::<_, String>(1)?)?,
        folder_id: rows::parse(&r.get::<_, String>(2)?)?,
        file_name: r.get(3)?,
        is_open: r.get(4)?,
        visible_content: r.get(5)?,
        start_line: r.get(6)?,
        end_line: r.get(7)?,
        last_accessed_at: rows::time(r.get(8)?),
        created_at: rows::time(r.get(9)?),
    })
}

/// Upserts the rows by (agent, file); rows whose file is gone or whose folder is no longer
/// the agent's are skipped.
pub(crate) fn save(tx: &Connection, agent: AgentId, files: &[AgentFile]) -> Result<()> {
    for f in files {
        tx.execute_cached(
            "INSERT INTO agent_files (id, agent_id, file_id, folder_id, is_open, visible_content,
                start_line, end_line, last_accessed_at, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
             WHERE EXISTS (SELECT 1 FROM files WHERE id = ?3 AND folder_id = ?4)
               AND EXISTS (SELECT 1 FROM agent_folders WHERE agent_id = ?2 AND folder_id = ?4)
             ON CONFLICT (agent_id, file_id) DO UPDATE SET is_open = excluded.is_open,
                visible_content = excluded.visible_content, start_line = excluded.start_line,
                end_line = excluded.end_line, last_accessed_at = excluded.last_accessed_at",
            rusqlite::params![
                f.id.to_string(),
                agent.to_string(),
                f.file_id.to_string(),
                f.folder_id.to_string(),
                f.is_open,
                f.visible_content,
                f.start_line,
                f.end_line,
                micros(&f.last_accessed_at),
                micros(&f.created_at),
            ],
        )?;
    }
    Ok(())
}

/// Removes the agent's files of folders it no longer has.
pub(crate) fn drop_detached(tx: &Connection, agent: AgentId) -> Result<()> {
    tx.execute_cached(
        "DELETE FROM agent_files WHERE agent_id = ?1 AND folder_id NOT IN
            (SELECT folder_id FROM agent_folders WHERE agent_id = ?1)",
        [agent.to_string()],
    )?;
    Ok(())
}

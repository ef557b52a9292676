//! `MessageStore` on SQLite.

use async_trait::async_trait;
use mneme_types::MessageId;
use rusqlite::Connection;

use super::SqliteStore;
use super::rows::{self, micros};
use crate::{Message, MessageStore, Result, StoreError};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn get_message(&self, id: MessageId) -> Result<Message> {
        self.read(move |conn| load_message(conn, id)).await
    }

    async fn set_message_text(&self, id: MessageId, text: String) -> Result<()> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE messages SET text = ?2, updated_at = ?3 WHERE id = ?1",
                rusqlite::params![id.to_string(), text, micros(&mneme_types::time::now())],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("Message", id));
            }
            Ok(())
        })
        .await
    }
}

pub(super) fn insert_message(conn: &Connection, m: &Message) -> Result<()> {
    conn.execute(
        "INSERT INTO messages (id, agent_id, role, text, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            m.id.to_string(),
            m.agent_id.to_string(),
            m.role,
            m.text,
            micros(&m.created_at),
            micros(&m.updated_at),
        ],
    )?;
    Ok(())
}

pub(super) fn load_message(conn: &Connection, id: MessageId) -> Result<Message> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, agent_id, role, text, created_at, updated_at FROM messages WHERE id = ?1",
    )?;
    let mut rows = stmt.query([id.to_string()])?;
    let Some(row) = rows.next()? else {
        return Err(StoreError::not_found("Message", id));
    };
    Ok(Message {
        id: rows::parse(&row.get::<_, String>(0)?)?,
        agent_id: rows::parse(&row.get::<_, String>(1)?)?,
        role: row.get(2)?,
        text: row.get(3)?,
        created_at: rows::time(row.get(4)?),
        updated_at: rows::time(row.get(5)?),
    })
}

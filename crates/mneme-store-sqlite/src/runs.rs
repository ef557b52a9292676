//! `RunStore` on SQLite: runs, steps, and the step commit that writes a whole step at once.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{RunId, RunStatus, Step, StepId, StopReason};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::agents::{Where, attach, ensure_agent, order_limit, paginate};
use crate::rows::{self, micros, placeholders, to_json};
use crate::{Error, Result, StoreResult};
use crate::{SqliteStore, blocks, messages, passages};
use mneme_store::{
    BlockChange, HistoryAppend, Page, RunChunk, RunEdit, RunFilter, RunRecord, RunStore,
    StepCommit, StepEdit, StepFilter, StepRecord, StepTrace, StoreError,
};

const RUN_COLUMNS: &str = "id, agent_id, status, stop_reason, background, data, created_at, \
    completed_at, conversation_id";

#[async_trait]
impl RunStore for SqliteStore {
    async fn create_run(&self, run: RunRecord) -> StoreResult<RunRecord> {
        // The replica that executes the run owns it (`replicas`).
        let owner = self.db.replica.clone();
        self.write(move |tx| {
            insert_run(tx, &run, &owner)?;
            Ok(run)
        })
        .await
    }

    async fn get_run(&self, id: RunId) -> StoreResult<RunRecord> {
        self.read(move |conn| load_run(conn, id)).await
    }

    async fn list_runs(&self, filter: &RunFilter, page: &Page) -> StoreResult<Vec<RunRecord>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut w = filter_sql(&filter);
            paginate(conn, &mut w, "runs", "created_at", &page, false)?;
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs {} {}",
                w.where_clause(),
                order_limit("created_at", &page)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(w.params))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(run(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn update_run(&self, id: RunId, edit: RunEdit) -> StoreResult<RunRecord> {
        self.write(move |tx| {
            let mut r = load_run(tx, id)?;
            edit(&mut r);
            save_run(tx, &r)?;
            Ok(r)
        })
        .await
    }

    async fn finish_run(&self, id: RunId, edit: RunEdit) -> StoreResult<RunRecord> {
        self.write(move |tx| {
            let mut r = load_run(tx, id)?;
            edit(&mut r);
            save_run(tx, &r)?;
            let duration_ms = r.data.total_duration_ns.map(|ns| (ns / 1_000_000) as i64);
            tx.execute_cached(
                "UPDATE agents SET last_run_completion = ?2, last_run_duration_ms = ?3,
                    last_stop_reason = ?4
                 WHERE id = ?1",
                rusqlite::params![
                    r.agent_id.to_string(),
                    r.completed_at.as_ref().map(micros),
                    duration_ms,
                    r.stop_reason.map(|s| s.as_str()),
                ],
            )?;
            Ok(r)
        })
        .await
    }

    async fn get_step(&self, id: StepId) -> StoreResult<Step> {
        self.read(move |conn| rows::document(conn, "steps", "Step", id))
            .await
    }

    async fn get_step_record(&self, id: StepId) -> StoreResult<StepRecord> {
        self.read(move |conn| rows::document(conn, "steps", "Step", id))
            .await
    }

    async fn list_steps(&self, filter: &StepFilter, page: &Page) -> StoreResult<Vec<Step>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| crate::steps::list_steps(conn, &filter, &page))
            .await
    }

    async fn update_step(&self, id: StepId, edit: StepEdit) -> StoreResult<Step> {
        self.write(move |tx| crate::steps::update_step(tx, id, edit))
            .await
    }

    async fn delete_run(&self, id: RunId) -> StoreResult<()> {
        self.write(move |tx| {
            load_run(tx, id)?;
            // Steps, stream chunks and otids go with the run (foreign keys cascade); messages
            // have no key on it and keep their `run_id`, as Letta's do.
            tx.execute_cached("DELETE FROM runs WHERE id = ?1", [id.to_string()])?;
            Ok(())
        })
        .await
    }

    async fn commit_step(&self, c: StepCommit) -> StoreResult<()> {
        self.write(move |tx| commit_step(tx, &c)).await
    }

    async fn map_otids(&self, run: RunId, otids: Vec<String>) -> StoreResult<()> {
        self.write(move |tx| {
            // Checked first: the foreign key would refuse an unknown run as a conflict.
            load_run(tx, run)?;
            let now = micros(&mneme_types::time::now());
            for otid in &otids {
                tx.execute_cached(
                    "INSERT INTO run_otids (otid, run_id, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (otid) DO UPDATE SET run_id = ?2, created_at = ?3",
                    rusqlite::params![otid, run.to_string(), now],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn run_of_otid(&self, otid: &str) -> StoreResult<Option<RunId>> {
        let otid = otid.to_owned();
        self.read(move |conn| {
            let run: Option<String> = conn
                .query_row_cached(
                    "SELECT run_id FROM run_otids WHERE otid = ?1",
                    [otid],
                    |r| r.get(0),
                )
                .optional()?;
            run.map(|r| rows::parse(&r)).transpose()
        })
        .await
    }

    async fn append_chunks(&self, run: RunId, chunks: Vec<RunChunk>) -> StoreResult<()> {
        self.write(move |tx| append_chunks(tx, run, &chunks)).await
    }

    async fn read_chunks(&self, run: RunId, after: u64, limit: u32) -> StoreResult<Vec<RunChunk>> {
        self.read(move |conn| read_chunks(conn, run, after, limit))
            .await
    }

    async fn prune_chunks(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx.execute_cached(
                "DELETE FROM run_chunks WHERE run_id IN
                   (SELECT id FROM runs WHERE completed_at IS NOT NULL AND completed_at < ?1)",
                [micros(&before)],
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn step_trace(&self, step: StepId) -> StoreResult<Option<StepTrace>> {
        self.read(move |conn| read_trace(conn, step)).await
    }

    async fn prune_traces(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx.execute_cached(
                "DELETE FROM provider_traces WHERE created_at < ?1",
                [micros(&before)],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

/// Stores a step's trace; the second commit of a step keeps the one its first wrote.
fn write_trace(tx: &Connection, t: &StepTrace) -> Result<()> {
    tx.execute_cached(
        "INSERT INTO provider_traces (step_id, run_id, agent_id, request, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (step_id) DO NOTHING",
        rusqlite::params![
            t.step_id.to_string(),
            t.run_id.to_string(),
            t.agent_id.to_string(),
            &t.request[..],
            &t.response[..],
            micros(&t.created_at),
        ],
    )?;
    Ok(())
}

fn read_trace(conn: &Connection, step: StepId) -> Result<Option<StepTrace>> {
    conn.query_row_cached(
        "SELECT run_id, agent_id, request, response, created_at
         FROM provider_traces WHERE step_id = ?1",
        [step.to_string()],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        },
    )
    .optional()?
    .map(|(run, agent, request, response, created_at)| {
        Ok(StepTrace {
            step_id: step,
            agent_id: rows::parse(&agent)?,
            run_id: rows::parse(&run)?,
            request: request.into(),
            response: response.into(),
            created_at: rows::time(created_at),
        })
    })
    .transpose()
}

/// Writes a whole step; the context goes first, so that a stale one costs no other write.
fn commit_step(tx: &Connection, c: &StepCommit) -> Result<()> {
    let agent = c.agent_id;
    let thread = Thread {
        agent,
        conversation: c.conversation_id,
    };
    set_context(
        tx,
        thread,
        &c.message_ids,
        c.message_ids_version,
        &c.created_at,
    )?;
    let mut run = load_run(tx, c.run_id)?;
    for m in &c.messages {
        messages::insert_message(tx, m, c.conversation_id)?;
    }
    for change in &c.block_changes {
        apply_block_change(tx, agent, change)?;
    }
    if let Some((id, text)) = &c.system_text {
        messages::set_text(tx, *id, text, &c.created_at)?;
    }
    for p in &c.passages {
        passages::insert_passage(tx, p)?;
    }
    crate::folders::agent_files::save(tx, agent, &c.file_changes)?;
    let Some(step) = &c.step else {
        return Ok(());
    };
    write_step(tx, c, step)?;
    if let Some(trace) = &c.trace {
        write_trace(tx, trace)?;
    }
    if !step.is_pending() {
        run.data.usage.add(&step_usage(step));
        save_run(tx, &run)?;
    }
    Ok(())
}

/// A migration's catch-up: what a step writes of messages, context, blocks and passages,
/// without a run or a step record.
pub(crate) fn append_history(tx: &Connection, a: &HistoryAppend) -> Result<()> {
    let thread = Thread {
        agent: a.agent_id,
        conversation: None,
    };
    set_context(
        tx,
        thread,
        &a.message_ids,
        a.message_ids_version,
        &a.created_at,
    )?;
    for m in &a.messages {
        messages::insert_message(tx, m, None)?;
    }
    for change in &a.block_changes {
        apply_block_change(tx, a.agent_id, change)?;
    }
    for p in &a.passages {
        passages::insert_passage(tx, p)?;
    }
    if let Some((id, text)) = &a.system_text {
        messages::set_text(tx, *id, text, &a.created_at)?;
    }
    Ok(())
}

/// Inserts the step record, or replaces the `pending` record of the same step and run.
fn write_step(tx: &Connection, c: &StepCommit, step: &Step) -> Result<()> {
    let id = step.id.to_string();
    let stored: Option<(String, String)> = tx
        .query_row("SELECT run_id, data FROM steps WHERE id = ?1", [&id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let data = to_json(&StepRecord {
        step: step.clone(),
        timings: c.timings,
    })?;
    let Some((run, old)) = stored else {
        tx.execute_cached(
            "INSERT INTO steps (id, run_id, agent_id, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                id,
                c.run_id.to_string(),
                c.agent_id.to_string(),
                data,
                micros(&c.created_at),
            ],
        )?;
        return Ok(());
    };
    let old: Step = rows::json(&old)?;
    if run != c.run_id.to_string() || !old.is_pending() {
        return Err(Error::Store(StoreError::Conflict(format!(
            "Step {id} is stored already"
        ))));
    }
    tx.execute_cached(
        "UPDATE steps SET data = ?2 WHERE id = ?1",
        rusqlite::params![id, data],
    )?;
    Ok(())
}

/// Writes an agent's in-context ids if the stored ones are still at the version the writer
/// read (a step, a compaction).
/// Whose context a write changes: an agent's default conversation or one of its conversations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thread {
    pub agent: mneme_types::AgentId,
    pub conversation: Option<mneme_types::ConversationId>,
}

/// Writes a thread's in-context ids if its version is still `version`, bumping it.
pub(crate) fn set_context(
    tx: &Connection,
    thread: Thread,
    ids: &[mneme_types::MessageId],
    version: u64,
    at: &chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let (table, key) = match thread.conversation {
        None => ("agents", thread.agent.to_string()),
        Some(c) => ("conversations", c.to_string()),
    };
    let sql = format!(
        "UPDATE {table} SET message_ids = ?2, updated_at = ?3,
            message_ids_version = message_ids_version + 1
         WHERE id = ?1 AND message_ids_version = ?4"
    );
    let n = tx.execute_cached(
        &sql,
        rusqlite::params![key, to_json(&ids)?, micros(at), version as i64],
    )?;
    if n == 0 {
        ensure_agent(tx, thread.agent)?;
        if let Some(c) = thread.conversation {
            crate::conversations::ensure_conversation(tx, c)?;
        }
        return Err(Error::Store(StoreError::Conflict(format!(
            "The in-context messages of {key} were changed by another writer meanwhile"
        ))));
    }
    Ok(())
}

/// The run-chunk operations, kept apart from the trait impl for length.
pub(crate) fn append_chunks(conn: &Connection, run: RunId, chunks: &[RunChunk]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO run_chunks (run_id, seq, event, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let now = micros(&mneme_types::time::now());
    for c in chunks {
        stmt.execute(rusqlite::params![
            run.to_string(),
            c.seq as i64,
            c.event,
            c.data,
            now
        ])?;
    }
    Ok(())
}

pub(crate) fn read_chunks(
    conn: &Connection,
    run: RunId,
    after: u64,
    limit: u32,
) -> Result<Vec<RunChunk>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event, data FROM run_chunks WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![run.to_string(), after as i64, limit as i64],
        |r| {
            Ok(RunChunk {
                seq: r.get::<_, i64>(0)?.max(0) as u64,
                event: r.get(1)?,
                data: r.get(2)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn step_usage(step: &Step) -> mneme_types::UsageStatistics {
    mneme_types::UsageStatistics {
        completion_tokens: step.completion_tokens.unwrap_or(0),
        prompt_tokens: step.prompt_tokens.unwrap_or(0),
        total_tokens: step.total_tokens.unwrap_or(0),
        step_count: 1,
        cached_input_tokens: step.cached_input_tokens,
        cache_write_tokens: step.cache_write_tokens,
        reasoning_tokens: step.reasoning_tokens,
        context_tokens: step.total_tokens,
    }
}

/// Applies one block change of a step; a block changed by someone else since the step read it
/// is a conflict, and the whole step is rolled back.
fn apply_block_change(
    conn: &Connection,
    agent: mneme_types::AgentId,
    change: &BlockChange,
) -> Result<()> {
    match change {
        BlockChange::Update { expected, block } => {
            let current = blocks::load_block(conn, block.id)?;
            if &current.value != expected {
                return Err(Error::Store(StoreError::Conflict(format!(
                    "Block {} was changed by another writer while the step ran",
                    block.id
                ))));
            }
            blocks::save_block(conn, block, current.label.as_deref())
        }
        BlockChange::Create { block } => {
            blocks::insert_block(conn, block, &mneme_types::time::now())?;
            attach(conn, agent, block.id)
        }
        BlockChange::Detach { id } => {
            conn.execute_cached(
                "DELETE FROM agent_blocks WHERE agent_id = ?1 AND block_id = ?2",
                [agent.to_string(), id.to_string()],
            )?;
            Ok(())
        }
    }
}

fn filter_sql(f: &RunFilter) -> Where {
    let mut w = Where::default();
    if !f.agent_ids.is_empty() {
        w.push(
            format!("agent_id IN ({})", placeholders(f.agent_ids.len())),
            f.agent_ids.iter().map(|a| SqlValue::Text(a.to_string())),
        );
    }
    if !f.statuses.is_empty() {
        w.push(
            format!("status IN ({})", placeholders(f.statuses.len())),
            f.statuses.iter().map(|s| SqlValue::Text(s.as_str().into())),
        );
    }
    if let Some(b) = f.background {
        w.push("background = ?", [SqlValue::Integer(b as i64)]);
    }
    if let Some(r) = f.stop_reason {
        w.push("stop_reason = ?", [SqlValue::Text(r.as_str().into())]);
    }
    if f.active {
        w.push("status IN ('created', 'running')", []);
    }
    if let Some(c) = f.conversation {
        w.push("conversation_id = ?", [SqlValue::Text(c.to_string())]);
    }
    w
}

/// Stores a new run owned by replica `owner`.
pub(crate) fn insert_run(conn: &Connection, run: &RunRecord, owner: &str) -> Result<()> {
    conn.execute_cached(
        &format!(
            "INSERT INTO runs ({RUN_COLUMNS}, owner) VALUES ({})",
            placeholders(10)
        ),
        rusqlite::params![
            run.id.to_string(),
            run.agent_id.to_string(),
            run.status.as_str(),
            run.stop_reason.map(|s| s.as_str()),
            run.background,
            to_json(&run.data)?,
            micros(&run.created_at),
            run.completed_at.as_ref().map(micros),
            run.conversation_id.map(|c| c.to_string()),
            owner,
        ],
    )?;
    Ok(())
}

fn load_run(conn: &Connection, id: RunId) -> Result<RunRecord> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(row) => run(row),
        None => Err(Error::not_found("Run", id)),
    }
}

fn save_run(conn: &Connection, r: &RunRecord) -> Result<()> {
    conn.execute_cached(
        "UPDATE runs SET status = ?2, stop_reason = ?3, data = ?4, completed_at = ?5 WHERE id = ?1",
        rusqlite::params![
            r.id.to_string(),
            r.status.as_str(),
            r.stop_reason.map(|s| s.as_str()),
            to_json(&r.data)?,
            r.completed_at.as_ref().map(micros),
        ],
    )?;
    Ok(())
}

fn run(row: &Row<'_>) -> Result<RunRecord> {
    let status: String = row.get(2)?;
    let stop: Option<String> = row.get(3)?;
    Ok(RunRecord {
        id: rows::parse(&row.get::<_, String>(0)?)?,
        agent_id: rows::parse(&row.get::<_, String>(1)?)?,
        status: mneme_store::codec::enum_value::<RunStatus>(&status)?,
        stop_reason: stop
            .map(|s| mneme_store::codec::enum_value::<StopReason>(&s))
            .transpose()?,
        background: row.get(4)?,
        data: rows::json(&row.get::<_, String>(5)?)?,
        created_at: rows::time(row.get(6)?),
        completed_at: row.get::<_, Option<i64>>(7)?.map(rows::time),
        conversation_id: row
            .get::<_, Option<String>>(8)?
            .map(|c| rows::parse(&c))
            .transpose()?,
    })
}

//! `RunStore` on PostgreSQL: runs, steps, stream chunks, and the step commit that writes a
//! whole step at once.

#[path = "steps.rs"]
mod steps;

use async_trait::async_trait;
use mneme_store::codec::{json, micros, parse, time, to_json};
use mneme_store::{
    BlockChange, HistoryAppend, Page, RunChunk, RunEdit, RunFilter, RunRecord, RunStore,
    StepCommit, StepEdit, StepFilter, StepRecord, StepTrace, StoreError,
};
use mneme_types::{AgentId, ConversationId, MessageId, RunId, RunStatus, Step, StepId, StopReason};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::query::{Arg, Where, ensure_agent, fetch, order_limit, paginate};
use crate::rows::{flag, to_flag};
use crate::{Error, PgStore, Result, StoreResult};
use crate::{agents, blocks, messages, passages};

const RUN_COLUMNS: &str = "id, agent_id, status, stop_reason, background, data, created_at, \
    completed_at, conversation_id";

#[async_trait]
impl RunStore for PgStore {
    async fn create_run(&self, run: RunRecord) -> StoreResult<RunRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        insert_run(&mut conn, &run).await?;
        Ok(run)
    }

    async fn get_run(&self, id: RunId) -> StoreResult<RunRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_run(&mut conn, id, false).await?)
    }

    async fn list_runs(&self, filter: &RunFilter, page: &Page) -> StoreResult<Vec<RunRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(list_runs(&mut conn, filter, page).await?)
    }

    async fn update_run(&self, id: RunId, edit: RunEdit) -> StoreResult<RunRecord> {
        Ok(edit_run(&self.pool, id, edit, false).await?)
    }

    async fn finish_run(&self, id: RunId, edit: RunEdit) -> StoreResult<RunRecord> {
        Ok(edit_run(&self.pool, id, edit, true).await?)
    }

    async fn get_step(&self, id: StepId) -> StoreResult<Step> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(steps::load_step(&mut conn, id, false).await?)
    }

    async fn get_step_record(&self, id: StepId) -> StoreResult<StepRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(steps::load_step(&mut conn, id, false).await?)
    }

    async fn list_steps(&self, filter: &StepFilter, page: &Page) -> StoreResult<Vec<Step>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(steps::list_steps(&mut conn, filter, page).await?)
    }

    async fn update_step(&self, id: StepId, edit: StepEdit) -> StoreResult<Step> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let step = steps::update_step(&mut tx, id, edit).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(step)
    }

    async fn delete_run(&self, id: RunId) -> StoreResult<()> {
        // Steps, stream chunks and otids go with the run (foreign keys cascade); messages have
        // no key on it and keep their `run_id`, as Letta's do.
        Ok(crate::query::delete_by_id(&self.pool, "runs", "Run", id).await?)
    }

    async fn commit_step(&self, c: StepCommit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        commit_step(&mut tx, &c).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn map_otids(&self, run: RunId, otids: Vec<String>) -> StoreResult<()> {
        Ok(map_otids(&self.pool, run, otids).await?)
    }

    async fn run_of_otid(&self, otid: &str) -> StoreResult<Option<RunId>> {
        let run: Option<String> =
            sqlx::query_scalar("SELECT run_id FROM run_otids WHERE otid = $1")
                .bind(otid)
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::from)?;
        Ok(run.map(|r| parse(&r)).transpose()?)
    }

    async fn append_chunks(&self, run: RunId, chunks: Vec<RunChunk>) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(append_chunks(&mut conn, run, &chunks).await?)
    }

    async fn read_chunks(&self, run: RunId, after: u64, limit: u32) -> StoreResult<Vec<RunChunk>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(read_chunks(&mut conn, run, after, limit).await?)
    }

    async fn prune_chunks(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        let n = sqlx::query(
            "DELETE FROM run_chunks WHERE run_id IN
               (SELECT id FROM runs WHERE completed_at IS NOT NULL AND completed_at < $1)",
        )
        .bind(micros(&before))
        .execute(&self.pool)
        .await
        .map_err(Error::from)?
        .rows_affected();
        Ok(n)
    }

    async fn step_trace(&self, step: StepId) -> StoreResult<Option<StepTrace>> {
        let row = sqlx::query(
            "SELECT run_id, agent_id, request, response, created_at
             FROM provider_traces WHERE step_id = $1",
        )
        .bind(step.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(row.map(|r| trace(step, &r)).transpose()?)
    }

    async fn prune_traces(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        let n = sqlx::query("DELETE FROM provider_traces WHERE created_at < $1")
            .bind(micros(&before))
            .execute(&self.pool)
            .await
            .map_err(Error::from)?
            .rows_affected();
        Ok(n)
    }
}

fn trace(step: StepId, r: &PgRow) -> Result<StepTrace> {
    Ok(StepTrace {
        step_id: step,
        run_id: parse(&r.try_get::<String, _>("run_id")?)?,
        agent_id: parse(&r.try_get::<String, _>("agent_id")?)?,
        request: r.try_get::<Vec<u8>, _>("request")?.into(),
        response: r.try_get::<Vec<u8>, _>("response")?.into(),
        created_at: time(r.try_get("created_at")?),
    })
}

/// Stores a step's trace; the second commit of a step keeps the one its first wrote.
async fn write_trace(tx: &mut PgConnection, t: &StepTrace) -> Result<()> {
    sqlx::query(
        "INSERT INTO provider_traces (step_id, run_id, agent_id, request, response, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (step_id) DO NOTHING",
    )
    .bind(t.step_id.to_string())
    .bind(t.run_id.to_string())
    .bind(t.agent_id.to_string())
    .bind(&t.request[..])
    .bind(&t.response[..])
    .bind(micros(&t.created_at))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn insert_run(conn: &mut PgConnection, run: &RunRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO runs (id, agent_id, status, stop_reason, background, data, created_at,
            completed_at, conversation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(run.id.to_string())
    .bind(run.agent_id.to_string())
    .bind(run.status.as_str())
    .bind(run.stop_reason.map(|s| s.as_str()))
    .bind(to_flag(run.background))
    .bind(to_json(&run.data)?)
    .bind(micros(&run.created_at))
    .bind(run.completed_at.as_ref().map(micros))
    .bind(run.conversation_id.map(|c| c.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn list_runs(conn: &mut PgConnection, f: &RunFilter, page: &Page) -> Result<Vec<RunRecord>> {
    let mut w = filter_sql(f);
    paginate(conn, &mut w, "runs", "created_at", page, false).await?;
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    fetch(conn, &sql, w.params, run).await
}

/// Applies `edit` to the locked run; `finish` also records the run's end on its agent.
async fn edit_run(pool: &PgPool, id: RunId, edit: RunEdit, finish: bool) -> Result<RunRecord> {
    let mut tx = pool.begin().await?;
    let mut r = load_run(&mut tx, id, true).await?;
    edit(&mut r);
    save_run(&mut tx, &r).await?;
    if finish {
        let duration_ms = r.data.total_duration_ns.map(|ns| (ns / 1_000_000) as i64);
        sqlx::query(
            "UPDATE agents SET last_run_completion = $2, last_run_duration_ms = $3,
                last_stop_reason = $4
             WHERE id = $1",
        )
        .bind(r.agent_id.to_string())
        .bind(r.completed_at.as_ref().map(micros))
        .bind(duration_ms)
        .bind(r.stop_reason.map(|s| s.as_str()))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(r)
}

async fn map_otids(pool: &PgPool, run: RunId, otids: Vec<String>) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Checked first: the foreign key would refuse an unknown run as a conflict.
    load_run(&mut tx, run, false).await?;
    sqlx::query(
        "INSERT INTO run_otids (otid, run_id, created_at)
         SELECT o, $2, $3 FROM UNNEST($1::text[]) AS o
         ON CONFLICT (otid) DO UPDATE SET run_id = EXCLUDED.run_id,
            created_at = EXCLUDED.created_at",
    )
    .bind(dedup(otids))
    .bind(run.to_string())
    .bind(micros(&mneme_types::time::now()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `otids` without repeats, first occurrence kept: one INSERT … ON CONFLICT may not touch a
/// row twice.
fn dedup(mut otids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    otids.retain(|o| seen.insert(o.clone()));
    otids
}

/// A migration's catch-up: what a step writes of messages, context, blocks and passages,
/// without a run or a step record.
pub(crate) async fn append_history(tx: &mut PgConnection, a: &HistoryAppend) -> Result<()> {
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
    )
    .await?;
    messages::insert_messages(tx, &a.messages, None).await?;
    lock_blocks(tx, &a.block_changes).await?;
    for change in &a.block_changes {
        apply_block_change(tx, a.agent_id, change).await?;
    }
    for p in &a.passages {
        passages::insert_passage(tx, p).await?;
    }
    if let Some((id, text)) = &a.system_text {
        messages::set_text(tx, *id, text, &a.created_at).await?;
    }
    Ok(())
}

/// Writes a whole step. The run row is locked first (its usage is read, then added to), in
/// the order `finish_run` locks run then agent, so the two cannot deadlock. Then the context:
/// its conditional UPDATE takes the thread's row lock (agent or conversation) and checks the
/// version under it, so a concurrent commit of the same thread waits, then sees the new
/// version and is refused before writing anything else; locks are held to the end of the
/// transaction.
async fn commit_step(tx: &mut PgConnection, c: &StepCommit) -> Result<()> {
    let agent = c.agent_id;
    let mut run = load_run(tx, c.run_id, true).await?;
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
    )
    .await?;
    messages::insert_messages(tx, &c.messages, c.conversation_id).await?;
    lock_blocks(tx, &c.block_changes).await?;
    for change in &c.block_changes {
        apply_block_change(tx, agent, change).await?;
    }
    if let Some((id, text)) = &c.system_text {
        messages::set_text(tx, *id, text, &c.created_at).await?;
    }
    for p in &c.passages {
        passages::insert_passage(tx, p).await?;
    }
    if !c.file_changes.is_empty() {
        crate::folders::agent_files::save(tx, agent, &c.file_changes).await?;
    }
    let Some(step) = &c.step else {
        return Ok(());
    };
    write_step(tx, c, step).await?;
    if let Some(trace) = &c.trace {
        write_trace(tx, trace).await?;
    }
    if !step.is_pending() {
        run.data.usage.add(&step_usage(step));
        save_run(tx, &run).await?;
    }
    Ok(())
}

/// Inserts the step record, or replaces the `pending` record of the same step and run; any
/// other stored record of that id is a conflict.
async fn write_step(tx: &mut PgConnection, c: &StepCommit, step: &Step) -> Result<()> {
    let n = sqlx::query(
        "INSERT INTO steps (id, run_id, agent_id, data, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data
         WHERE steps.run_id = EXCLUDED.run_id AND (steps.data::jsonb) ->> 'status' = $6",
    )
    .bind(step.id.to_string())
    .bind(c.run_id.to_string())
    .bind(c.agent_id.to_string())
    .bind(to_json(&StepRecord {
        step: step.clone(),
        timings: c.timings,
    })?)
    .bind(micros(&c.created_at))
    .bind(Step::PENDING)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::Store(StoreError::Conflict(format!(
            "Step {} is stored already",
            step.id
        ))));
    }
    Ok(())
}

/// Whose context a write changes: an agent's default conversation or one of its conversations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thread {
    pub agent: AgentId,
    pub conversation: Option<ConversationId>,
}

/// Writes a thread's in-context ids if its version is still `version`, bumping it. The UPDATE
/// locks the row and, should a concurrent writer have changed it first, re-reads the version
/// after that writer commits (READ COMMITTED re-checks the WHERE on the newest row): a stale
/// version updates nothing and is refused.
pub(crate) async fn set_context(
    tx: &mut PgConnection,
    thread: Thread,
    ids: &[MessageId],
    version: u64,
    at: &chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let (table, key) = match thread.conversation {
        None => ("agents", thread.agent.to_string()),
        Some(c) => ("conversations", c.to_string()),
    };
    let sql = format!(
        "UPDATE {table} SET message_ids = $2, updated_at = $3,
            message_ids_version = message_ids_version + 1
         WHERE id = $1 AND message_ids_version = $4"
    );
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&key)
        .bind(to_json(&ids)?)
        .bind(micros(at))
        .bind(version as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        ensure_agent(tx, thread.agent).await?;
        if let Some(c) = thread.conversation {
            crate::conversations::ensure_conversation(tx, c).await?;
        }
        return Err(Error::Store(StoreError::Conflict(format!(
            "The in-context messages of {key} were changed by another writer meanwhile"
        ))));
    }
    Ok(())
}

/// Stores stream chunks of a run in one statement.
async fn append_chunks(conn: &mut PgConnection, run: RunId, chunks: &[RunChunk]) -> Result<()> {
    if chunks.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i64> = chunks.iter().map(|c| c.seq as i64).collect();
    let events: Vec<Option<String>> = chunks.iter().map(|c| c.event.clone()).collect();
    let data: Vec<String> = chunks.iter().map(|c| c.data.clone()).collect();
    sqlx::query(
        "INSERT INTO run_chunks (run_id, seq, event, data, created_at)
         SELECT $1, s, e, d, $5 FROM UNNEST($2::int8[], $3::text[], $4::text[]) AS c (s, e, d)",
    )
    .bind(run.to_string())
    .bind(seqs)
    .bind(events)
    .bind(data)
    .bind(micros(&mneme_types::time::now()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn read_chunks(
    conn: &mut PgConnection,
    run: RunId,
    after: u64,
    limit: u32,
) -> Result<Vec<RunChunk>> {
    let rows: Vec<(i64, Option<String>, String)> = sqlx::query_as(
        "SELECT seq, event, data FROM run_chunks WHERE run_id = $1 AND seq > $2
         ORDER BY seq LIMIT $3",
    )
    .bind(run.to_string())
    .bind(after as i64)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, event, data)| RunChunk {
            seq: seq.max(0) as u64,
            event,
            data,
        })
        .collect())
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

/// Locks the blocks a step updates, in one statement and in id order, so that two steps
/// updating the same blocks wait for each other instead of deadlocking.
async fn lock_blocks(tx: &mut PgConnection, changes: &[BlockChange]) -> Result<()> {
    let mut ids: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            BlockChange::Update { block, .. } => Some(block.id.to_string()),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort();
    sqlx::query("SELECT 1 FROM blocks WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Applies one block change of a step; a block changed by someone else since the step read it
/// is a conflict, and the whole step is rolled back.
async fn apply_block_change(
    conn: &mut PgConnection,
    agent: AgentId,
    change: &BlockChange,
) -> Result<()> {
    match change {
        BlockChange::Update { expected, block } => {
            // Locked by `lock_blocks`: the value is checked, then overwritten.
            let current = blocks::load_block(conn, block.id).await?;
            if &current.value != expected {
                return Err(Error::Store(StoreError::Conflict(format!(
                    "Block {} was changed by another writer while the step ran",
                    block.id
                ))));
            }
            blocks::save_block(conn, block, current.label.as_deref()).await
        }
        BlockChange::Create { block } => {
            blocks::insert_block(conn, block, &mneme_types::time::now()).await?;
            agents::attach(conn, agent, block.id).await
        }
        BlockChange::Detach { id } => {
            sqlx::query("DELETE FROM agent_blocks WHERE agent_id = $1 AND block_id = $2")
                .bind(agent.to_string())
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
    }
}

fn filter_sql(f: &RunFilter) -> Where {
    let mut w = Where::default();
    if !f.agent_ids.is_empty() {
        let ids = f.agent_ids.iter().map(|a| a.to_string()).collect();
        w.push("agent_id = ANY(?)", [Arg::Texts(ids)]);
    }
    if !f.statuses.is_empty() {
        let statuses = f.statuses.iter().map(|s| s.as_str().to_owned()).collect();
        w.push("status = ANY(?)", [Arg::Texts(statuses)]);
    }
    if let Some(b) = f.background {
        w.push("background = ?", [Arg::Int(to_flag(b))]);
    }
    if let Some(r) = f.stop_reason {
        w.push("stop_reason = ?", [Arg::from(r.as_str())]);
    }
    if f.active {
        w.push("status IN ('created', 'running')", []);
    }
    if let Some(c) = f.conversation {
        w.push("conversation_id = ?", [Arg::Text(c.to_string())]);
    }
    w
}

/// One run; `lock` holds its row until the transaction ends.
async fn load_run(conn: &mut PgConnection, id: RunId, lock: bool) -> Result<RunRecord> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ? {lock}");
    let mut found = fetch(conn, &sql, vec![Arg::Text(id.to_string())], run).await?;
    found.pop().ok_or_else(|| Error::not_found("Run", id))
}

async fn save_run(conn: &mut PgConnection, r: &RunRecord) -> Result<()> {
    sqlx::query(
        "UPDATE runs SET status = $2, stop_reason = $3, data = $4, completed_at = $5
         WHERE id = $1",
    )
    .bind(r.id.to_string())
    .bind(r.status.as_str())
    .bind(r.stop_reason.map(|s| s.as_str()))
    .bind(to_json(&r.data)?)
    .bind(r.completed_at.as_ref().map(micros))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn run(row: &PgRow) -> Result<RunRecord> {
    let status: String = row.try_get(2)?;
    let stop: Option<String> = row.try_get(3)?;
    let conversation: Option<String> = row.try_get(8)?;
    Ok(RunRecord {
        id: parse(&row.try_get::<String, _>(0)?)?,
        agent_id: parse(&row.try_get::<String, _>(1)?)?,
        status: mneme_store::codec::enum_value::<RunStatus>(&status)?,
        stop_reason: stop
            .map(|s| mneme_store::codec::enum_value::<StopReason>(&s))
            .transpose()?,
        background: flag(row.try_get(4)?),
        data: json(&row.try_get::<String, _>(5)?)?,
        created_at: time(row.try_get(6)?),
        completed_at: row.try_get::<Option<i64>, _>(7)?.map(time),
        conversation_id: conversation.map(|c| parse(&c)).transpose()?,
    })
}

/// A stored enum value (its serde name).
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use mneme_store::conformance::{
        commit, conversation, conversation_commit, message, new_agent, run_for,
    };
    use mneme_store::{AgentStore, ConversationStore, MessageStore, Role, RunStore, StoreError};

    use crate::scratch::ScratchDb;

    /// Two replicas (two pools) commit a step of one agent from the same context version at
    /// once: one wins, the other is refused whole, round after round.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_steps_of_one_agent_commit_once() {
        let db = ScratchDb::create().await;
        let (one, two) = (db.store().await, db.store().await);
        let a = one.create_agent(new_agent("a", vec![])).await.unwrap();
        let run = run_for(&one, a.id).await;
        for _ in 0..8 {
            let a = one.get_agent(a.id).await.unwrap();
            let (m1, m2) = (
                message(a.id, Role::User, "one"),
                message(a.id, Role::User, "two"),
            );
            let (c1, c2) = (
                commit(&a, run, vec![m1.clone()]),
                commit(&a, run, vec![m2.clone()]),
            );
            let (r1, r2) = tokio::join!(one.commit_step(c1), two.commit_step(c2));
            let (won, lost, err) = match (r1, r2) {
                (Ok(()), Err(e)) => (m1, m2, e),
                (Err(e), Ok(())) => (m2, m1, e),
                other => panic!("expected one success and one conflict: {other:?}"),
            };
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
            let after = one.get_agent(a.id).await.unwrap();
            assert_eq!(after.message_ids_version, a.message_ids_version + 1);
            assert_eq!(after.message_ids.last(), Some(&won.id));
            assert!(one.get_message(lost.id).await.is_err());
        }
    }

    /// Steps of two conversations of one agent (two runs), committed at once by two replicas,
    /// both land:
    /// their contexts are apart, and the agent row they both touch (its message count) only
    /// makes them wait.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_steps_of_two_conversations_both_commit() {
        let db = ScratchDb::create().await;
        let (one, two) = (db.store().await, db.store().await);
        let a = one.create_agent(new_agent("a", vec![])).await.unwrap();
        let (run1, run2) = (run_for(&one, a.id).await, run_for(&one, a.id).await);
        let (c1, c2) = (
            conversation(&one, a.id).await,
            conversation(&one, a.id).await,
        );
        for _ in 0..4 {
            let f1 = one.conversation_frame(c1.id).await.unwrap();
            let f2 = two.conversation_frame(c2.id).await.unwrap();
            let s1 = conversation_commit(&f1, run1, vec![message(a.id, Role::User, "one")]);
            let s2 = conversation_commit(&f2, run2, vec![message(a.id, Role::User, "two")]);
            let (r1, r2) = tokio::join!(one.commit_step(s1), two.commit_step(s2));
            r1.unwrap();
            r2.unwrap();
        }
        let got = one.get_conversation(c2.id).await.unwrap();
        assert_eq!(got.message_ids_version, c2.message_ids_version + 4);
        let usage = one.get_run(run2).await.unwrap().data.usage;
        assert_eq!(usage.step_count, 4);
    }
}

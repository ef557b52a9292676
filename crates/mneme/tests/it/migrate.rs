//! `mneme migrate`: a SQLite data directory written through the SQLite store, copied by the
//! real binary into a scratch PostgreSQL database, compared table by table.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use mneme_store::conformance as fixtures;
use mneme_store::{Role, RunChunk, Store, ToolCallRecord, ToolReturnRecord};
use mneme_store_postgres::scratch::ScratchDb;
use mneme_store_sqlite::{Durability, SqliteStore};
use rusqlite::types::Value as SqlValue;
use sqlx::{Connection, PgConnection, Row};
use tempfile::TempDir;

use super::bin;

/// A value of either side in one form, so rows compare across backends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Norm {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

type Rows = Vec<Vec<Norm>>;

async fn run_migrate(dir: &Path, to: &str) -> Output {
    tokio::process::Command::new(bin())
        .arg("migrate")
        .arg("--data-dir")
        .arg(dir)
        .arg("--to")
        .arg(to)
        .env_remove("LETTA_PG_URI")
        .env("RUST_BACKTRACE", "0")
        .output()
        .await
        .unwrap()
}

fn db_path(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("mneme.db")
}

/// A data directory with a row in every table: what the store writes, then (for the parts
/// whose records take long to build) rows written as the store would.
async fn populated() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir), Durability::Normal).unwrap();
    let store: &dyn Store = &store;
    let blocks = vec![
        fixtures::block("human", "Name: Ada ✓"),
        fixtures::block("persona", "terse"),
    ];
    let ada = store
        .create_agent(fixtures::new_agent("ada", blocks))
        .await
        .unwrap();
    let bob = fixtures::agent(store, "bob").await;
    // The replica that wrote it, with a lease it held: copied like any row (a PostgreSQL
    // replica then finds it long silent and clears it).
    store.heartbeat(Duration::from_secs(10)).await.unwrap();
    let lease = store
        .acquire_lease(&format!("turn:{}", ada.id), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(lease, None);
    let after = fixtures::append(store, ada.id, turn(ada.id)).await;
    let run = fixtures::run_for(store, ada.id).await;
    store
        .append_chunks(
            run,
            vec![RunChunk {
                seq: 1,
                event: Some("message".into()),
                data: "{\"a\":1}".into(),
            }],
        )
        .await
        .unwrap();
    store.map_otids(run, vec!["otid-1".into()]).await.unwrap();
    let isolated = fixtures::block("human", "isolated");
    let inherited = after.message_ids[1..].to_vec();
    let conv = fixtures::new_conversation(ada.id, vec![isolated], inherited);
    let conv = store.create_conversation(conv).await.unwrap();
    let user = fixtures::message(ada.id, Role::User, "in a conversation");
    fixtures::say(store, conv.id, vec![user]).await;
    let tools = store
        .upsert_tools(vec![fixtures::tool("lookup", "custom")])
        .await
        .unwrap();
    store.attach_tool(ada.id, tools[0].id).await.unwrap();
    store
        .create_mcp_server(fixtures::server("files"))
        .await
        .unwrap();
    let archive = store
        .create_archive(fixtures::archive("notes"), Some(ada.id))
        .await
        .unwrap();
    store.attach_archive(ada.id, archive.id).await.unwrap();
    store.attach_archive(bob.id, archive.id).await.unwrap();
    let passages = vec![
        fixtures::passage(
            archive.id,
            "with a vector",
            &["a"],
            Some(vec![0.5, -1.0, 2.0]),
        ),
        fixtures::passage(archive.id, "without", &[], None),
    ];
    store.insert_passages(passages).await.unwrap();
    let (seq, _) = store.messages_after(0, 100).await.unwrap().pop().unwrap();
    store
        .store_message_vectors(vec![(seq, ada.id, vec![0.25, 0.75])], ("recall", seq))
        .await
        .unwrap();
    write_the_rest(&db_path(&dir), &ada.id.to_string(), &archive.id.to_string());
    // A step with its provider trace.
    let current = store.get_agent(bob.id).await.unwrap();
    let traced_run = fixtures::run_for(store, bob.id).await;
    let mut traced = fixtures::commit(&current, traced_run, vec![]);
    traced.trace = Some(mneme_store::StepTrace {
        step_id: traced.step.as_ref().unwrap().id,
        agent_id: bob.id,
        run_id: traced_run,
        request: br#"{"model":"m","messages":[]}"#.to_vec().into(),
        response: br#"{"choices":[]}"#.to_vec().into(),
        created_at: mneme_types::time::now(),
    });
    store.commit_step(traced).await.unwrap();
    dir
}

/// A turn with a tool call and its return.
fn turn(agent: mneme_types::AgentId) -> Vec<mneme_store::Message> {
    let user = fixtures::message(agent, Role::User, "what's up? ünïcode");
    let mut call = fixtures::message(agent, Role::Assistant, "let me look");
    call.tool_calls = vec![ToolCallRecord {
        id: "call-1".into(),
        name: "lookup".into(),
        arguments: "{\"q\": \"up\"}".into(),
    }];
    let mut ret = fixtures::message(agent, Role::Tool, "{\"status\": \"OK\"}");
    ret.tool_call_id = Some("call-1".into());
    ret.tool_returns = vec![ToolReturnRecord {
        tool_call_id: "call-1".into(),
        status: "success".into(),
        func_response: "OK".into(),
        stdout: Some(vec!["out".into()]),
        stderr: None,
        content: None,
    }];
    vec![user, call, ret]
}

/// Providers, identities, groups, folders, files, jobs, batches, sandbox configurations and
/// the control plane (the default organization renamed, so that the copy is seen to replace
/// the target's) as their stores write them; and a message and an audit entry written then
/// deleted, so that SQLite's sequences are past the highest rows.
fn write_the_rest(path: &Path, agent: &str, archive: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let sql = format!(
        "INSERT INTO providers (id, name, provider_type, data, created_at, updated_at)
           VALUES ('provider-1', 'mine', 'openai', '{{}}', 1, 2);
         INSERT INTO identities (id, identifier_key, name, identity_type, properties, created_at,
           updated_at) VALUES ('identity-1', 'k', 'Ada', 'user', '[]', 1, 2);
         INSERT INTO identities_agents VALUES ('identity-1', '{agent}');
         INSERT INTO identities_blocks
           SELECT 'identity-1', block_id FROM agent_blocks WHERE agent_id = '{agent}' LIMIT 1;
         INSERT INTO groups (id, manager_type, description, manager_agent_id, config, created_at,
           updated_at) VALUES ('group-1', 'supervisor', 'g', '{agent}', '{{}}', 1, 2);
         INSERT INTO group_agents VALUES ('group-1', '{agent}', 0);
         INSERT INTO group_blocks
           SELECT 'group-1', block_id, 0 FROM agent_blocks WHERE agent_id = '{agent}' LIMIT 1;
         INSERT INTO folders (id, name, embedding_config, archive_id, created_at, updated_at)
           VALUES ('source-1', 'docs', '{{}}', '{archive}', 1, 2);
         INSERT INTO files (id, folder_id, file_name, processing_status, content, file_size,
           created_at, updated_at)
           VALUES ('file-1', 'source-1', 'a.txt', 'completed', 'hello', 5, 1, 2);
         INSERT INTO agent_folders (agent_id, folder_id) VALUES ('{agent}', 'source-1');
         INSERT INTO agent_files (id, agent_id, file_id, folder_id, is_open, visible_content,
           last_accessed_at, created_at)
           VALUES ('fa-1', '{agent}', 'file-1', 'source-1', 1, 'hello', 3, 1);
         INSERT INTO jobs (id, folder_id, status, document, created_at)
           VALUES ('job-1', 'source-1', 'completed', '{{}}', 1);
         INSERT INTO batches (id, status, document, created_at)
           VALUES ('job-b1', 'running', '{{}}', 1);
         INSERT INTO batch_runs SELECT 'job-b1', 0, id FROM runs LIMIT 1;
         INSERT INTO sandbox_configs (id, kind, data, created_at, updated_at)
           VALUES ('sandbox-1', 'local', '{{}}', 1, 2);
         INSERT INTO sandbox_env_vars (id, sandbox_config_id, key, data, created_at, updated_at)
           VALUES ('sandbox-env-1', 'sandbox-1', 'K', '{{}}', 1, 2);
         INSERT INTO messages (id, agent_id, role, text, created_at, updated_at)
           VALUES ('message-gone', '{agent}', 'user', 'x', 1, 1);
         DELETE FROM messages WHERE id = 'message-gone';
         UPDATE organizations SET name = 'renamed_default_org';
         INSERT INTO organizations (id, name, privileged_tools, created_at)
           VALUES ('org-1', 'acme', 1, 1);
         INSERT INTO users (id, organization_id, name, created_at, updated_at)
           VALUES ('user-1', 'org-1', 'ann', 1, 2);
         INSERT INTO api_keys (id, name, organization_id, user_id, role, prefix, hash,
           created_at, revoked_at)
           VALUES ('apikey-1', 'ci', 'org-1', 'user-1', 'member', 'sk-1', 'h1', 1, NULL),
                  ('apikey-2', 'old', 'org-1', 'user-1', 'admin', 'sk-2', 'h2', 1, 5);
         INSERT INTO audit_log (at, organization_id, user_id, key_id, method, route, path,
           status, request_id)
           VALUES (1, 'org-1', 'user-1', 'apikey-1', 'POST', '/v1/agents', '/v1/agents', 200,
                   'req-1'),
                  (2, 'org-1', 'user-1', NULL, 'DELETE', '/v1/agents/{{agent_id}}', '/v1/x',
                   404, NULL),
                  (3, 'org-1', 'user-1', NULL, 'GET', '/gone', '/gone', 200, NULL);
         DELETE FROM audit_log WHERE path = '/gone';"
    );
    conn.execute_batch(&sql).unwrap();
}

/// The tables of the PostgreSQL schema with their columns and types, `schema_migrations` aside.
async fn pg_tables(pg: &mut PgConnection) -> Vec<(String, Vec<(String, String)>)> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text
         FROM information_schema.columns WHERE table_schema = current_schema()
         AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pg)
    .await
    .unwrap();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (table, column, ty) in rows {
        match out.last_mut() {
            Some((t, cols)) if *t == table => cols.push((column, ty)),
            _ => out.push((table, vec![(column, ty)])),
        }
    }
    out
}

fn column_list(columns: &[(String, String)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    names.join(", ")
}

/// Every row of `table`, sorted (sorting here, not in SQL: the collations differ).
fn sqlite_rows(conn: &rusqlite::Connection, table: &str, columns: &[(String, String)]) -> Rows {
    // A link table's `seq` exists only on PostgreSQL, where it keeps SQLite's rowid order.
    let present = |c: &str| -> bool {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            [table, c],
            |r| r.get(0),
        )
        .unwrap()
    };
    let names: Vec<String> = columns
        .iter()
        .map(|(c, _)| {
            if present(c) {
                c.clone()
            } else {
                "rowid".to_owned()
            }
        })
        .collect();
    let sql = format!("SELECT {} FROM {table}", names.join(", "));
    let mut stmt = conn.prepare(&sql).unwrap();
    let mut rows: Rows = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    Ok(match r.get::<_, SqlValue>(i)? {
                        SqlValue::Null => Norm::Null,
                        SqlValue::Integer(v) => Norm::Int(v),
                        SqlValue::Text(v) => Norm::Text(v),
                        SqlValue::Blob(v) => Norm::Bytes(v),
                        SqlValue::Real(v) => Norm::Text(format!("real {v}")),
                    })
                })
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

async fn pg_rows(pg: &mut PgConnection, table: &str, columns: &[(String, String)]) -> Rows {
    let sql = format!("SELECT {} FROM {table}", column_list(columns));
    let fetched = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pg)
        .await
        .unwrap();
    let mut rows: Rows = fetched
        .iter()
        .map(|r| {
            columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| match ty.as_str() {
                    "bigint" => r.get::<Option<i64>, _>(i).map_or(Norm::Null, Norm::Int),
                    "text" => r.get::<Option<String>, _>(i).map_or(Norm::Null, Norm::Text),
                    "bytea" => r
                        .get::<Option<Vec<u8>>, _>(i)
                        .map_or(Norm::Null, Norm::Bytes),
                    other => panic!("column type {other}"),
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Rows in the whole database, `schema_migrations` aside.
async fn total_rows(pg: &mut PgConnection) -> i64 {
    let mut total = 0;
    for (table, _) in pg_tables(pg).await {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *pg)
            .await
            .unwrap();
        total += n;
    }
    total
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_deployment_is_copied_row_for_row() {
    let dir = populated().await;
    let db = ScratchDb::create().await;
    let out = run_migrate(dir.path(), db.url()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("copied table=messages"),
        "{}",
        stderr(&out)
    );
    let src = rusqlite::Connection::open(db_path(&dir)).unwrap();
    let mut pg = PgConnection::connect(db.url()).await.unwrap();
    let tables = pg_tables(&mut pg).await;
    assert!(tables.len() >= 30, "{tables:?}");
    for (table, columns) in &tables {
        if table == "search_outbox" {
            continue;
        }
        let expected = sqlite_rows(&src, table, columns);
        assert!(!expected.is_empty(), "the fixture leaves {table} empty");
        assert_eq!(pg_rows(&mut pg, table, columns).await, expected, "{table}");
    }
    outbox_is_requeued(&src, &mut pg).await;
    sequences_continue(&src, &mut pg).await;
}

/// The outbox holds every passage and non-system message, numbered after SQLite's outbox.
async fn outbox_is_requeued(src: &rusqlite::Connection, pg: &mut PgConnection) {
    let last: i64 = src
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let queued: Vec<(i64, String, i64, String, String)> =
        sqlx::query_as("SELECT seq, kind, key, owner, op FROM search_outbox ORDER BY seq")
            .fetch_all(&mut *pg)
            .await
            .unwrap();
    assert!(queued.iter().all(|q| q.0 > last && q.4 == "upsert"));
    let mut expected: Vec<(String, i64, String)> = src
        .prepare(
            "SELECT 'passage', seq, archive_id FROM passages UNION ALL
             SELECT 'message', seq, agent_id FROM messages WHERE role <> 'system'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut got: Vec<(String, i64, String)> = queued.into_iter().map(|q| (q.1, q.2, q.3)).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

/// A new message, or audit entry, gets the number after the highest SQLite ever gave, deleted
/// rows included.
async fn sequences_continue(src: &rusqlite::Connection, pg: &mut PgConnection) {
    audit_sequence_continues(src, pg).await;
    let last: i64 = src
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'messages'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let max: i64 = src
        .query_row("SELECT MAX(seq) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert!(last > max, "the fixture deletes the last message");
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO messages (id, agent_id, role, text, created_at, updated_at)
         SELECT 'message-new', id, 'user', 'x', 1, 1 FROM agents LIMIT 1 RETURNING seq",
    )
    .fetch_one(&mut *pg)
    .await
    .unwrap();
    assert_eq!(next, last + 1);
    // The triggers are back on: the new message is counted and queued.
    let queued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM search_outbox WHERE key = $1 AND kind = 'message'",
    )
    .bind(next)
    .fetch_one(&mut *pg)
    .await
    .unwrap();
    assert_eq!(queued, 1);
}

async fn audit_sequence_continues(src: &rusqlite::Connection, pg: &mut PgConnection) {
    let last: i64 = src
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO audit_log (at, organization_id, user_id, method, route, path, status)
         VALUES (4, 'org-1', 'user-1', 'POST', '/v1/agents', '/v1/agents', 200) RETURNING seq",
    )
    .fetch_one(&mut *pg)
    .await
    .unwrap();
    assert_eq!(next, last + 1);
}

/// Rows every database is created with: the default organization and user.
const CREATED_WITH: i64 = 2;

#[tokio::test]
async fn a_non_empty_target_is_refused_untouched() {
    let dir = populated().await;
    let db = ScratchDb::create().await;
    let store = db.store().await;
    sqlx::query(
        "INSERT INTO providers (id, name, provider_type, data, created_at, updated_at)
         VALUES ('provider-x', 'theirs', 'openai', '{}', 1, 1)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let out = run_migrate(dir.path(), db.url()).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("table providers has rows"),
        "{}",
        stderr(&out)
    );
    let mut pg = PgConnection::connect(db.url()).await.unwrap();
    assert_eq!(total_rows(&mut pg).await, CREATED_WITH + 1);
}

#[tokio::test]
async fn a_failure_mid_copy_leaves_the_target_empty() {
    let dir = populated().await;
    // A corrupt row in a table copied late: the tables before it were already written.
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    conn.execute(
        "UPDATE tools SET created_at = 'not a time' WHERE name = 'lookup'",
        [],
    )
    .unwrap();
    drop(conn);
    let db = ScratchDb::create().await;
    let out = run_migrate(dir.path(), db.url()).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("tools row 1, column created_at"), "{err}");
    assert!(err.contains("copied table=messages"), "{err}");
    let mut pg = PgConnection::connect(db.url()).await.unwrap();
    assert_eq!(total_rows(&mut pg).await, CREATED_WITH);
    let disabled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'",
    )
    .fetch_one(&mut pg)
    .await
    .unwrap();
    assert_eq!(
        disabled, 0,
        "the triggers are on again (the ALTERs rolled back)"
    );
}

#[tokio::test]
async fn a_missing_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(bin())
        .args(["migrate", "--from"])
        .arg(format!("sqlite://{}", dir.path().join("none.db").display()))
        .args(["--to", "postgres://nobody@127.0.0.1:1/none"])
        .env_remove("LETTA_PG_URI")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no SQLite database at"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn an_older_source_is_brought_up_to_date_first() {
    let dir = populated().await;
    // Version 15: before migrations 16 (the replicas' tables and run columns), 17 (the
    // owner of a file's processing), 18 (sandbox configurations), 19 (message batches), 20
    // (provider traces) and 21 (the control plane).
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    conn.execute_batch(
        "DELETE FROM schema_migrations WHERE version IN (16, 17, 18, 19, 20, 21);
         DROP TABLE audit_log; DROP TABLE api_keys; DROP TABLE users; DROP TABLE organizations;
         DROP TABLE sandbox_env_vars; DROP TABLE sandbox_configs;
         DROP TABLE batch_runs; DROP TABLE batches; DROP TABLE provider_traces;
         DROP INDEX files_unfinished_by_owner; ALTER TABLE files DROP COLUMN owner;
         DROP TABLE replicas; DROP TABLE leases; DROP INDEX runs_active_by_owner;
         ALTER TABLE runs DROP COLUMN owner; ALTER TABLE runs DROP COLUMN cancel_requested;",
    )
    .unwrap();
    drop(conn);
    let db = ScratchDb::create().await;
    let out = run_migrate(dir.path(), db.url()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("migrating the database"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_source_table_without_a_counterpart_is_refused() {
    let dir = populated().await;
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    conn.execute_batch("CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (1);")
        .unwrap();
    drop(conn);
    let db = ScratchDb::create().await;
    let out = run_migrate(dir.path(), db.url()).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("table extra has no PostgreSQL"),
        "{}",
        stderr(&out)
    );
    let mut pg = PgConnection::connect(db.url()).await.unwrap();
    assert_eq!(total_rows(&mut pg).await, CREATED_WITH);
}

#[tokio::test]
async fn each_organization_is_copied_into_its_own_schema() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(&db_path(&dir), Durability::Normal).unwrap());
    let org = mneme_types::OrgId::new();
    let tenant_db = dir
        .path()
        .join("tenants")
        .join(org.to_string())
        .join("mneme.db");
    std::fs::create_dir_all(tenant_db.parent().unwrap()).unwrap();
    let tenant = SqliteStore::open(&tenant_db, Durability::Normal).unwrap();
    let store: &dyn Store = &tenant;
    let agent = store
        .create_agent(fixtures::new_agent("tenant-agent", vec![]))
        .await
        .unwrap();
    drop(tenant);

    let db = ScratchDb::create().await;
    let out = run_migrate(dir.path(), db.url()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let mut pg = PgConnection::connect(db.url()).await.unwrap();
    let schema = format!("tenant_{}", org.uuid().simple());
    let in_schema: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM \"{schema}\".agents"
    )))
    .fetch_all(&mut pg)
    .await
    .unwrap();
    assert_eq!(in_schema, vec![agent.id.to_string()]);
    let in_main: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM public.agents")
        .fetch_one(&mut pg)
        .await
        .unwrap();
    assert_eq!(
        in_main, 0,
        "the organization's agent stays out of the main schema"
    );
}

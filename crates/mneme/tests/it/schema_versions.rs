//! Databases written at every earlier schema version: the current binary migrates and serves
//! them. Each is built by applying the shipped migrations 1..k, then writing at version k the
//! rows a current server wrote for an agent (the columns version k has), as SQL.

use std::path::{Path, PathBuf};

use mneme_store::{AgentStore, MessageQuery, MessageStore};
use mneme_store_sqlite::{Durability, SqliteStore};
use mneme_testkit::{FakeLlm, TestServer};
use mneme_types::AgentId;
use rusqlite::Connection;
use serde_json::json;

use crate::messages::{agent, history, send};
use crate::{bin, create_agent, id};

/// The tables version 1 had, parents first.
const TABLES: &[&str] = &[
    "agents",
    "agent_tags",
    "blocks",
    "agent_blocks",
    "tools",
    "agent_tools",
    "messages",
];

/// Every shipped SQLite migration, by version.
fn migrations() -> Vec<(i64, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mneme-store-sqlite/migrations");
    let mut out: Vec<(i64, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            let version = name[..4].parse().unwrap();
            (version, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn columns(conn: &Connection, schema: &str, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM {schema}.pragma_table_info(?1)"))
        .unwrap();
    stmt.query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A database at schema version `k` holding `reference`'s rows, as that version stores them.
fn database_at(k: i64, reference: &Path, dir: &Path) -> PathBuf {
    let path = dir.join("mneme.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute("ATTACH ?1 AS src", [reference.to_str().unwrap()])
        .unwrap();
    // Built in one transaction: a commit per statement would be hundreds of syncs.
    conn.execute_batch("PRAGMA synchronous=OFF; BEGIN").unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .unwrap();
    for (version, sql) in migrations().into_iter().filter(|(v, _)| *v <= k) {
        conn.execute_batch(&sql).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
            [version],
        )
        .unwrap();
    }
    for table in TABLES {
        let source = columns(&conn, "src", table);
        let shared: Vec<String> = columns(&conn, "main", table)
            .into_iter()
            .filter(|c| source.contains(c))
            .collect();
        let list = shared.join(", ");
        conn.execute_batch(&format!(
            "INSERT INTO main.{table} ({list}) SELECT {list} FROM src.{table} ORDER BY rowid"
        ))
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    path
}

#[tokio::test]
async fn sqlite_only_databases_of_every_earlier_schema_version_are_migrated_and_served() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [("OPENAI_BASE_URL", url.as_str())];
    let reference = tempfile::tempdir().unwrap();
    let srv = TestServer::start_in_with_env(bin(), reference.path(), &env).await;
    let ada = id(&create_agent(&srv, "ada", &["old"]).await);
    let bob = agent(&srv, json!({"name": "bob"})).await;
    send(&srv, &ada, "remember the aardvark").await;
    let agents = [ada, bob];
    let mut expected = Vec::new();
    for a in &agents {
        let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
        expected.push((state, history(&srv, a).await));
    }
    srv.stop().await;
    let reference_db = reference.path().join("mneme.db");

    let newest = migrations().last().unwrap().0;
    assert_eq!(newest, mneme_store::SCHEMA_VERSION);
    // Every version is migrated by the store and reads back as written ...
    let reference_store = SqliteStore::open(&reference_db, Durability::Normal).unwrap();
    for k in 1..newest {
        let dir = tempfile::tempdir().unwrap();
        let path = database_at(k, &reference_db, dir.path());
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        for a in &agents {
            let a: AgentId = a.parse().unwrap();
            let (got, want) = (
                store.get_agent(a).await.unwrap(),
                reference_store.get_agent(a).await.unwrap(),
            );
            assert_eq!(
                (&got.name, &got.system, &got.tags, &got.message_ids),
                (&want.name, &want.system, &want.tags, &want.message_ids),
                "version {k}"
            );
            let query = MessageQuery {
                limit: 1000,
                ..MessageQuery::default()
            };
            // What version 1 stored of each message (later columns, such as the model, were
            // not written then).
            let v1 = |list: Vec<mneme_store::Message>| -> Vec<String> {
                list.iter()
                    .map(|m| {
                        format!(
                            "{} {:?} {:?} {:?} {:?} {}",
                            m.id, m.role, m.text, m.step_id, m.run_id, m.created_at
                        )
                    })
                    .collect()
            };
            assert_eq!(
                v1(store.list_messages(a, &query).await.unwrap()),
                v1(reference_store.list_messages(a, &query).await.unwrap()),
                "version {k}"
            );
        }
    }
    // ... and the binary serves the oldest and the newest of them (a server start costs over
    // a second of CPU in a debug build: not one per version).
    for k in [1, newest - 1] {
        check_version(k, &reference_db, &env, &agents, &expected).await;
    }
}

async fn check_version(
    k: i64,
    reference_db: &Path,
    env: &[(&str, &str)],
    agents: &[String],
    expected: &[(serde_json::Value, Vec<serde_json::Value>)],
) {
    let dir = tempfile::tempdir().unwrap();
    database_at(k, reference_db, dir.path());
    let srv = TestServer::start_in_with_env(bin(), dir.path(), env).await;
    for (a, (state, messages)) in agents.iter().zip(expected) {
        let got = srv.get(&format!("/v1/agents/{a}")).await.ok();
        assert_eq!(got["name"], state["name"], "version {k}");
        assert_eq!(got["tags"], state["tags"], "version {k}");
        assert_eq!(got["blocks"], state["blocks"], "version {k}");
        assert_eq!(got["tools"], state["tools"], "version {k}");
        assert_eq!(got["message_ids"], state["message_ids"], "version {k}");
        assert_eq!(&history(&srv, a).await, messages, "version {k}");
    }
    // And it keeps working: a new turn on the migrated database.
    let answer = send(&srv, &agents[0], "still there?").await;
    assert!(
        !answer["messages"].as_array().unwrap().is_empty(),
        "version {k}"
    );
    srv.stop().await;
}

//! `mneme migrate from-letta --letta-database-url`: a real Letta 0.16.7 database (filled by
//! `bench/letta-migration/populate.py`, dumped without pgvector by `save_db_fixture.py`) loaded
//! into a scratch database of the test PostgreSQL, moved by the real binary, and the target
//! compared with what that Letta's REST API showed of the same data (saved beside the dump).

use std::io::Read;
use std::path::Path;

use mneme_store::{MessageQuery, Order};
use mneme_store_postgres::scratch::ScratchDb;
use mneme_testkit::{FakeLlm, TestServer};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::from_letta::{counts, migrate_from};
use crate::{bin, id};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/letta-db")
        .join(name)
}

/// The dump loaded into a fresh database, plus rows this version must leave behind: an agent
/// of a type it does not know and one with a message of a role it does not know (both
/// reported), and a soft-deleted block (not migrated).
async fn letta_database() -> ScratchDb {
    let db = ScratchDb::create().await;
    let mut sql = String::new();
    let gz = std::fs::File::open(fixture("letta-0.16.7.sql.gz")).unwrap();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut sql)
        .unwrap();
    sql.push_str(
        "INSERT INTO public.agents (id, name, agent_type, message_buffer_autoclear, is_deleted, organization_id)
           SELECT 'agent-00000000-0000-4000-8000-00000000f00d', 'from-the-future', 'future_agent', false, false, id
           FROM public.organizations LIMIT 1;
         INSERT INTO public.agents (id, name, agent_type, message_buffer_autoclear, is_deleted, organization_id)
           SELECT 'agent-00000000-0000-4000-8000-0000000bad00', 'odd-history', 'letta_v1_agent', false, false, id
           FROM public.organizations LIMIT 1;
         INSERT INTO public.messages (id, role, content, tool_calls, sequence_id, is_deleted, organization_id, agent_id, created_at)
           SELECT 'message-00000000-0000-4000-8000-0000000bad01', 'narrator', '[{\"type\": \"text\", \"text\": \"Meanwhile...\"}]',
                  '[]', 100000, false, id, 'agent-00000000-0000-4000-8000-0000000bad00', now()
           FROM public.organizations LIMIT 1;
         INSERT INTO public.block (id, label, value, \"limit\", is_template, read_only, version, is_deleted, organization_id)
           SELECT 'block-00000000-0000-4000-8000-0000000de1e7', 'gone', 'deleted', 100, false, false, 1, true, id
           FROM public.organizations LIMIT 1;",
    );
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    db
}

/// Runs the migration from the database into `dir`; its report.
fn migrate(dir: &Path, database: &str, fake: &str, extra: &[&str]) -> String {
    migrate_from(dir, &["--letta-database-url", database], fake, extra)
}

fn sorted(v: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[key].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

/// A listed message as the fixture keeps it (`compare.py`'s `norm_message`, for the types the
/// check below uses).
fn view(m: &Value) -> Value {
    let t = m["message_type"].as_str().unwrap_or_default();
    let mut out = serde_json::json!({"id": m["id"], "message_type": t});
    match t {
        "user_message" | "system_message" => {
            let text = match &m["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .map(|p| p["text"].as_str().unwrap_or_default())
                    .collect(),
                _ => String::new(),
            };
            out["text"] = Value::String(text);
        }
        "tool_call_message" => {
            let calls = match &m["tool_calls"] {
                Value::Array(c) => c.clone(),
                _ => vec![m["tool_call"].clone()],
            };
            let calls: Vec<Value> = calls
                .iter()
                .map(|c| {
                    let args = c["arguments"].as_str().unwrap_or_default();
                    let args = serde_json::from_str(args).unwrap_or(Value::String(args.into()));
                    serde_json::json!({"name": c["name"], "arguments": args})
                })
                .collect();
            out["tool_calls"] = Value::Array(calls);
        }
        _ => {}
    }
    out
}

async fn check_agents(dst: &TestServer, expected: &Value) {
    for (aid, want) in expected["agents"].as_object().unwrap() {
        let got = dst.get(&format!("/v1/agents/{aid}")).await.ok();
        for f in ["name", "agent_type", "system", "tool_rules", "message_ids"] {
            let mut g = got[f].clone();
            if f == "tool_rules" {
                // Letta writes `prompt_template: null` (and `args: null`); mneme leaves them out.
                for r in g.as_array_mut().into_iter().flatten() {
                    r.as_object_mut().unwrap().retain(|_, v| !v.is_null());
                }
                let mut w = want[f].clone();
                for r in w.as_array_mut().into_iter().flatten() {
                    r.as_object_mut().unwrap().retain(|_, v| !v.is_null());
                }
                assert_eq!(g, w, "{aid} .{f}");
                continue;
            }
            assert_eq!(g, want[f], "{aid} .{f}");
        }
        let mut tags: Vec<Value> = got["tags"].as_array().unwrap().clone();
        tags.sort_by_key(|t| t.to_string());
        assert_eq!(Value::Array(tags), want["tags"], "{aid} tags");
        let mut blocks: Vec<Value> = got["memory"]["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| serde_json::json!({"id": b["id"], "label": b["label"], "value": b["value"]}))
            .collect();
        blocks.sort_by_key(|b| b["label"].to_string());
        assert_eq!(Value::Array(blocks), want["blocks"], "{aid} blocks");
        let mut tools = sorted(&got["tools"], "name");
        tools.dedup();
        let want_tools: Vec<String> = serde_json::from_value(want["tools"].clone()).unwrap();
        assert_eq!(tools, want_tools, "{aid} tools");
        assert_eq!(got["llm_config"]["model"], want["model"], "{aid} model");
    }
}

/// Every message the source stored is in the target under its id, in its order; the views
/// both servers list alike (user, system, tool calls) are the same.
async fn check_histories(dst: &TestServer, dir: &Path, source: &ScratchDb, expected: &Value) {
    let store = mneme_testkit::store_of(dir).await;
    let mut conn = PgConnection::connect(source.url()).await.unwrap();
    for (aid, listed) in expected["messages"].as_object().unwrap() {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM messages WHERE agent_id = $1 AND NOT is_deleted ORDER BY sequence_id",
        )
        .bind(aid)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let query = MessageQuery {
            limit: 10_000,
            order: Order::Asc,
            ..MessageQuery::default()
        };
        let stored: Vec<String> = store
            .list_messages(aid.parse().unwrap(), &query)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id.to_string())
            .collect();
        assert_eq!(stored, rows, "the stored history of {aid}");
        let got = dst
            .get(&format!("/v1/agents/{aid}/messages?order=asc&limit=1000"))
            .await
            .ok();
        let got: Vec<Value> = got.as_array().unwrap().iter().map(view).collect();
        for want in listed.as_array().unwrap() {
            let t = want["message_type"].as_str().unwrap();
            if !stored.iter().any(|s| want["id"] == s.as_str()) {
                panic!("{aid}: listed message {} is not in the target", want["id"]);
            }
            if matches!(t, "user_message" | "system_message" | "tool_call_message") {
                assert!(got.contains(want), "{aid}: {want} not listed by the target");
            }
        }
    }
}

async fn check_others(dst: &TestServer, expected: &Value) {
    for (aid, want) in expected["passages"].as_object().unwrap() {
        let got = dst
            .get(&format!(
                "/v1/agents/{aid}/archival-memory?ascending=true&limit=200"
            ))
            .await
            .ok();
        let got: Vec<Value> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let mut tags = p["tags"].as_array().cloned().unwrap_or_default();
                tags.sort_by_key(|t| t.to_string());
                serde_json::json!({"id": p["id"], "text": p["text"], "tags": tags})
            })
            .collect();
        assert_eq!(Value::Array(got), *want, "passages of {aid}");
    }
    for b in expected["blocks"].as_array().unwrap() {
        let got = dst.get(&format!("/v1/blocks/{}", id(b))).await.ok();
        assert_eq!((&got["label"], &got["value"]), (&b["label"], &b["value"]));
    }
    let gone = dst
        .get("/v1/blocks/block-00000000-0000-4000-8000-0000000de1e7")
        .await;
    assert_eq!(gone.status, 404, "a soft-deleted block is not migrated");
    for i in expected["identities"].as_array().unwrap() {
        let got = dst.get(&format!("/v1/identities/{}", id(i))).await.ok();
        for f in ["identifier_key", "name", "identity_type"] {
            assert_eq!(got[f], i[f], "identity .{f}");
        }
        for kind in ["agents", "blocks"] {
            let linked = dst
                .get(&format!("/v1/identities/{}/{kind}", id(i)))
                .await
                .ok();
            let want: Vec<String> = serde_json::from_value(i[kind].clone()).unwrap();
            assert_eq!(sorted(&linked, "id"), want, "identity {kind}");
        }
    }
    for g in expected["groups"].as_array().unwrap() {
        let got = dst.get(&format!("/v1/groups/{}", id(g))).await.ok();
        for f in [
            "manager_type",
            "agent_ids",
            "manager_agent_id",
            "description",
        ] {
            assert_eq!(got[f], g[f], "group .{f}");
        }
        let mut shared: Vec<Value> = got["shared_block_ids"].as_array().unwrap().clone();
        shared.sort_by_key(|b| b.to_string());
        let mut want = g["shared_block_ids"].as_array().unwrap().clone();
        want.sort_by_key(|b| b.to_string());
        assert_eq!(shared, want, "group shared blocks");
    }
    let tools = dst.get("/v1/tools/?limit=1000").await.ok();
    for t in expected["tools"].as_array().unwrap() {
        let found = tools
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == t["name"]);
        let found = found.unwrap_or_else(|| panic!("tool {} not in the target", t["name"]));
        assert_eq!(found["source_code"], t["source_code"], "tool {}", t["name"]);
    }
    for (fid, f) in expected["folders"].as_object().unwrap() {
        let files = dst.get(&format!("/v1/folders/{fid}/files")).await.ok();
        let want: Vec<String> = serde_json::from_value(f["files"].clone()).unwrap();
        assert_eq!(sorted(&files, "id"), want, "files of folder {fid}");
    }
    let servers = dst.get("/v1/mcp-servers/").await.ok();
    for s in expected["mcp_servers"].as_array().unwrap() {
        let found = servers
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["server_name"] == s["server_name"]);
        let found =
            found.unwrap_or_else(|| panic!("MCP server {} not in the target", s["server_name"]));
        for f in ["id", "mcp_server_type", "command", "args", "env"] {
            assert_eq!(found[f], s[f], "MCP server .{f}");
        }
    }
}

// Two workers: the fake answers while this test's thread waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letta_database_moves_as_its_rest_api_showed_it_and_a_second_run_copies_nothing() {
    let source = letta_database().await;
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture("letta-0.16.7.rest.json")).unwrap()).unwrap();
    let agents = expected["agents"].as_object().unwrap().len() as u64;
    let fake = FakeLlm::start().await;
    let base = fake.base_url();
    let dir = tempfile::tempdir().unwrap();

    let dry = migrate(dir.path(), source.url(), &base, &["--dry-run"]);
    assert_eq!(counts(&dry, "agents"), (agents, 0), "{dry}");
    let store = mneme_testkit::store_of(dir.path()).await;
    let none = store.count_agents(&Default::default()).await.unwrap();
    assert_eq!(none, 0, "a dry run writes nothing");

    let report = migrate(dir.path(), source.url(), &base, &[]);
    assert_eq!(counts(&report, "agents"), (agents, 0), "{report}");
    assert_eq!(counts(&report, "messages"), (115, 0), "{report}");
    assert_eq!(counts(&report, "passages"), (8, 0), "{report}");
    assert_eq!(counts(&report, "identities"), (1, 0), "{report}");
    assert_eq!(counts(&report, "groups"), (2, 0), "{report}");
    assert_eq!(counts(&report, "mcp_servers"), (1, 0), "{report}");
    assert!(
        report.contains("agent-00000000-0000-4000-8000-00000000f00d: agent_type \"future_agent\""),
        "the unknown agent type is reported: {report}"
    );
    assert!(
        report.contains(
            "agent agent-00000000-0000-4000-8000-0000000bad00: message message-00000000-0000-4000-8000-0000000bad01: its row cannot be read: unknown variant `narrator`"
        ),
        "the agent with a message of an unknown role is reported: {report}"
    );

    let env = [("OPENAI_BASE_URL", base.as_str())];
    let dst = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let listed = dst.get("/v1/agents/?limit=100").await.ok();
    assert_eq!(listed.as_array().unwrap().len() as u64, agents, "{listed}");
    check_agents(&dst, &expected).await;
    check_histories(&dst, dir.path(), &source, &expected).await;
    check_others(&dst, &expected).await;
    dst.stop().await;

    let again = migrate(dir.path(), source.url(), &base, &[]);
    assert_eq!(counts(&again, "agents"), (0, agents), "{again}");
    assert_eq!(counts(&again, "identities"), (0, 1), "{again}");
    assert_eq!(counts(&again, "mcp_servers"), (0, 1), "{again}");
    assert!(
        !again
            .lines()
            .any(|l| l.starts_with("messages") && counts(&again, "messages").0 > 0),
        "{again}"
    );
}

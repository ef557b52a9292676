//! Tenancy and authentication over HTTP: API keys (`mneme keys`, `/v1/admin/keys`), Letta's
//! admin routes and secure mode, organizations kept apart route by route, and the audit log.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mneme_testkit::{Resp, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

use crate::bin;

/// Runs `mneme keys ...` on `dir` (and the test database on PostgreSQL); its standard output.
fn keys(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(mneme_testkit::store_env(dir))
        .output()
        .expect("run mneme keys");
    assert!(
        out.status.success(),
        "mneme keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A request with `key` as the SDKs send it.
async fn call(
    srv: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let mut req = srv.request(method, path).bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    srv.send(req).await
}

async fn get(srv: &TestServer, key: &str, path: &str) -> Resp {
    call(srv, key, Method::GET, path, None).await
}

async fn post(srv: &TestServer, key: &str, path: &str, body: Value) -> Resp {
    call(srv, key, Method::POST, path, Some(body)).await
}

/// A new organization with one user and a member key acting as that user.
async fn tenant(srv: &TestServer, admin: &str, name: &str) -> (String, String, String) {
    let org = post(srv, admin, "/v1/admin/orgs/", json!({"name": name}))
        .await
        .ok();
    let org_id = org["id"].as_str().unwrap().to_owned();
    assert!(org_id.starts_with("org-"), "{org}");
    let user = post(
        srv,
        admin,
        "/v1/admin/users/",
        json!({"name": format!("{name}-user"), "organization_id": org_id}),
    )
    .await
    .ok();
    assert_eq!(user["organization_id"], org_id);
    let user_id = user["id"].as_str().unwrap().to_owned();
    let key = post(
        srv,
        admin,
        "/v1/admin/keys/",
        json!({"name": name, "user_id": user_id}),
    )
    .await
    .ok();
    assert_eq!(key["role"], "member");
    assert_eq!(key["organization_id"], org_id);
    let secret = key["api_key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-mneme-"), "{key}");
    (org_id, user_id, secret)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn organizations_see_only_their_own_data_route_by_route() {
    let dir = tempfile::tempdir().unwrap();
    let admin = keys(dir.path(), &["create", "--admin", "--name", "ops"]);
    let admin = admin.trim();
    let srv = TestServer::start_in(bin(), dir.path()).await;
    let (_, _, a) = tenant(&srv, admin, "acme").await;
    let (_, _, b) = tenant(&srv, admin, "globex").await;

    // Acme's things.
    let agent = post(&srv, &a, "/v1/agents/", json!({"name": "acme-agent", "model": "openai/gpt-4o-mini", "embedding": "openai/text-embedding-3-small"})).await.ok();
    let agent_id = agent["id"].as_str().unwrap();
    let block = post(
        &srv,
        &a,
        "/v1/blocks/",
        json!({"label": "notes", "value": "acme secret"}),
    )
    .await
    .ok();
    let block_id = block["id"].as_str().unwrap();
    let tool = post(
        &srv,
        &a,
        "/v1/tools/",
        json!({"source_code": "def acme_tool(x: int) -> int:\n    \"\"\"Doubles.\n\n    Args:\n        x: a number\n    \"\"\"\n    return 2 * x\n"}),
    )
    .await
    .ok();
    let tool_id = tool["id"].as_str().unwrap();
    let identity = post(
        &srv,
        &a,
        "/v1/identities/",
        json!({"identifier_key": "k1", "name": "Ann", "identity_type": "user"}),
    )
    .await
    .ok();
    let identity_id = identity["id"].as_str().unwrap();

    // Globex sees none of them: lists are empty of them, ids answer 404, writes too.
    let theirs = get(&srv, &b, "/v1/agents/").await.ok();
    assert!(!ids(&theirs).contains(&agent_id.to_owned()), "{theirs}");
    for path in [
        format!("/v1/agents/{agent_id}"),
        format!("/v1/agents/{agent_id}/core-memory/blocks"),
        format!("/v1/agents/{agent_id}/messages"),
        format!("/v1/agents/{agent_id}/archival-memory"),
        format!("/v1/blocks/{block_id}"),
        format!("/v1/tools/{tool_id}"),
        format!("/v1/identities/{identity_id}"),
    ] {
        get(&srv, &b, &path).await.err(404);
    }
    assert!(!ids(&get(&srv, &b, "/v1/blocks/").await.ok()).contains(&block_id.to_owned()));
    assert!(!ids(&get(&srv, &b, "/v1/tools/").await.ok()).contains(&tool_id.to_owned()));
    assert!(
        get(&srv, &b, "/v1/identities/")
            .await
            .ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
    call(
        &srv,
        &b,
        Method::PATCH,
        &format!("/v1/blocks/{block_id}"),
        Some(json!({"value": "pwned"})),
    )
    .await
    .err(404);
    call(
        &srv,
        &b,
        Method::DELETE,
        &format!("/v1/agents/{agent_id}"),
        None,
    )
    .await
    .err(404);
    post(
        &srv,
        &b,
        &format!("/v1/agents/{agent_id}/messages"),
        json!({"messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
    .err(404);
    // Nor does the default organization (no key on an open server).
    srv.get(&format!("/v1/agents/{agent_id}")).await.err(404);

    // Globex has its own, and Acme does not see them either.
    let own = post(&srv, &b, "/v1/agents/", json!({"name": "globex-agent", "model": "openai/gpt-4o-mini", "embedding": "openai/text-embedding-3-small"})).await.ok();
    let own_id = own["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&get(&srv, &b, "/v1/agents/").await.ok()),
        vec![own_id.clone()]
    );
    assert_eq!(
        ids(&get(&srv, &a, "/v1/agents/").await.ok()),
        vec![agent_id.to_owned()]
    );
    get(&srv, &a, &format!("/v1/agents/{own_id}"))
        .await
        .err(404);

    // Acme's block is untouched.
    let kept = get(&srv, &a, &format!("/v1/blocks/{block_id}")).await.ok();
    assert_eq!(kept["value"], "acme secret");

    // A restart keeps every organization's data where it was.
    srv.stop().await;
    let srv = TestServer::start_in(bin(), dir.path()).await;
    assert_eq!(
        ids(&get(&srv, &a, "/v1/agents/").await.ok()),
        vec![agent_id.to_owned()]
    );
    assert_eq!(ids(&get(&srv, &b, "/v1/agents/").await.ok()), vec![own_id]);
}

#[tokio::test]
async fn keys_are_required_when_asked_and_members_are_not_admins() {
    let dir = tempfile::tempdir().unwrap();
    // With no key yet, a server that requires them does not start.
    let refused = Command::new(bin())
        .args(["server", "--port", "0", "--require-auth", "--data-dir"])
        .arg(dir.path())
        .envs(mneme_testkit::store_env(dir.path()))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("mneme keys create --admin"), "{said}");

    let admin = keys(dir.path(), &["create", "--admin"]).trim().to_owned();
    let member = keys(dir.path(), &["create", "--name", "app"])
        .trim()
        .to_owned();
    let listed = keys(dir.path(), &["list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        !listed.contains(&admin) && !listed.contains(&member),
        "keys are never shown again"
    );

    let srv =
        TestServer::start_in_with_env(bin(), dir.path(), &[("MNEME_REQUIRE_AUTH", "true")]).await;
    // No key, an unknown key: Letta's 401.
    let none = srv.get("/v1/agents/").await.err(401);
    assert_eq!(none["detail"], "Unauthorized");
    get(&srv, "sk-mneme-not-a-key", "/v1/agents/")
        .await
        .err(401);
    // Probes and the UI stay open.
    srv.get("/v1/health/").await.ok();
    assert_eq!(srv.get("/").await.status, 200);
    // A member reads its organization but not the admin routes.
    get(&srv, &member, "/v1/agents/").await.ok();
    get(&srv, &member, "/v1/admin/orgs/").await.err(403);
    post(&srv, &member, "/v1/admin/keys/", json!({"name": "x"}))
        .await
        .err(403);
    // `/metrics` is the operator's.
    assert_eq!(get(&srv, &member, "/metrics").await.status, 403);
    assert_eq!(get(&srv, &admin, "/metrics").await.status, 200);
    // An admin revokes the member's key: refused from the next request.
    let listed = get(&srv, &admin, "/v1/admin/keys/").await.ok();
    let member_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "member")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = call(
        &srv,
        &admin,
        Method::DELETE,
        &format!("/v1/admin/keys/{member_id}"),
        None,
    )
    .await
    .ok();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    get(&srv, &member, "/v1/agents/").await.err(401);
}

#[tokio::test]
async fn letta_secure_mode_takes_the_server_password() {
    let srv = TestServer::start_with_env(
        bin(),
        &[
            ("LETTA_SERVER_SECURE", "true"),
            ("LETTA_SERVER_PASSWORD", "hunter2"),
        ],
    )
    .await;
    srv.get("/v1/agents/").await.err(401);
    get(&srv, "wrong", "/v1/agents/").await.err(401);
    get(&srv, "hunter2", "/v1/agents/").await.ok();
    let bare = srv
        .request(Method::GET, "/v1/agents/")
        .header("X-BARE-PASSWORD", "password hunter2");
    srv.send(bare).await.ok();
    srv.get("/v1/health/").await.ok();
    // The password is the operator's: the admin routes answer it.
    get(&srv, "hunter2", "/v1/admin/orgs/").await.ok();
}

#[tokio::test]
async fn a_server_beyond_loopback_needs_a_key_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let refused = Command::new(bin())
        .args(["server", "--host", "0.0.0.0", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .envs(mneme_testkit::store_env(dir.path()))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("listening on 0.0.0.0") && said.contains("--insecure"),
        "{said}"
    );
}

#[tokio::test]
async fn the_user_id_header_acts_within_the_callers_rights() {
    let srv = TestServer::start(bin()).await;
    // An open server: the caller is the operator, and the header picks the user, as Letta's.
    let (org_a, user_a, key_a) = tenant(&srv, "", "initech").await;
    let (_, user_b, _) = tenant(&srv, "", "umbrella").await;
    let as_a = srv
        .request(Method::POST, "/v1/blocks/")
        .header("user_id", &user_a)
        .json(&json!({"label": "x", "value": "made as a"}));
    let block = srv.send(as_a).await.ok();
    let block_id = block["id"].as_str().unwrap();
    get(&srv, &key_a, &format!("/v1/blocks/{block_id}"))
        .await
        .ok();
    // A malformed user id is Letta's 400.
    let bad = srv
        .request(Method::GET, "/v1/agents/")
        .header("user_id", "nobody");
    srv.send(bad).await.err(400);
    // A member key cannot act as another organization's user.
    let across = srv
        .request(Method::GET, "/v1/agents/")
        .bearer_auth(&key_a)
        .header("user_id", &user_b);
    srv.send(across).await.err(403);
    let users = srv.get("/v1/admin/users/").await.ok();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == user_a.as_str() && u["organization_id"] == org_a.as_str()),
        "{users}"
    );
}

#[tokio::test]
async fn deleting_an_organization_deletes_its_keys_and_data() {
    let srv = TestServer::start(bin()).await;
    let (org, _, key) = tenant(&srv, "", "hooli").await;
    let block = post(
        &srv,
        &key,
        "/v1/blocks/",
        json!({"label": "x", "value": "v"}),
    )
    .await
    .ok();
    let block_id = block["id"].as_str().unwrap().to_owned();
    let dir = srv.data_dir().join("tenants").join(&org);
    if !TestServer::on_postgres() {
        assert!(dir.join("mneme.db").is_file());
    }
    let deleted = srv
        .send(srv.request(Method::DELETE, &format!("/v1/admin/orgs/?org_id={org}")))
        .await
        .ok();
    assert_eq!(deleted["id"], org.as_str());
    assert!(!dir.exists(), "the organization's files are gone");
    // Its key is no key any more: an open server takes the caller for the default user.
    get(&srv, &key, &format!("/v1/blocks/{block_id}"))
        .await
        .err(404);
    srv.send(srv.request(Method::DELETE, &format!("/v1/admin/orgs/?org_id={org}")))
        .await
        .err(404);
    // The default organization stays.
    let default = "org-00000000-0000-4000-8000-000000000000";
    srv.send(srv.request(Method::DELETE, &format!("/v1/admin/orgs/?org_id={default}")))
        .await
        .err(400);
}

#[tokio::test]
async fn every_mutation_is_in_the_audit_log() {
    let srv = TestServer::start(bin()).await;
    let (org, user, key) = tenant(&srv, "", "stark").await;
    let block = post(
        &srv,
        &key,
        "/v1/blocks/",
        json!({"label": "x", "value": "v"}),
    )
    .await
    .ok();
    let block_id = block["id"].as_str().unwrap();
    get(&srv, &key, "/v1/blocks/").await.ok();
    call(
        &srv,
        &key,
        Method::DELETE,
        &format!("/v1/blocks/{block_id}"),
        None,
    )
    .await
    .ok();
    call(
        &srv,
        &key,
        Method::DELETE,
        &format!("/v1/blocks/{block_id}"),
        None,
    )
    .await
    .err(404);

    // Written in the background: waited for.
    let mut entries = Vec::new();
    for _ in 0..50 {
        let listed = srv
            .get(&format!("/v1/admin/audit/?organization_id={org}&order=asc"))
            .await
            .ok();
        entries = listed.as_array().unwrap().clone();
        if entries.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen: Vec<(String, String, u64)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["user_id"], user.as_str());
            assert!(e["key_id"].as_str().unwrap().starts_with("apikey-"), "{e}");
            (
                e["method"].as_str().unwrap().to_owned(),
                e["route"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("POST".to_owned(), "/v1/blocks/".to_owned(), 200),
            ("DELETE".to_owned(), "/v1/blocks/{block_id}".to_owned(), 200),
            ("DELETE".to_owned(), "/v1/blocks/{block_id}".to_owned(), 404),
        ],
        "reads are not recorded; failures are"
    );
    assert_eq!(entries[1]["path"], format!("/v1/blocks/{block_id}"));
}

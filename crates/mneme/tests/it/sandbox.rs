//! Sandbox configurations applied to tool runs, and the built-in `run_code`.

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

const READ_ENV: &str = r#"
import os

def read_env(name: str) -> str:
    """Read an environment variable and the directory the tool runs in.

    Args:
        name: The variable.
    """
    return os.environ.get(name, "<unset>") + " in " + os.getcwd()
"#;

/// One turn in which the model calls `tool` with `args`; the tool return message.
async fn call(srv: &TestServer, fake: &FakeLlm, agent: &str, tool: &str, args: Value) -> Value {
    fake.push(Reply::tool_call(tool, args));
    fake.push_text("done");
    let res = srv
        .post(
            &format!("/v1/agents/{agent}/messages"),
            json!({"input": "go"}),
        )
        .await
        .ok();
    let ret = res["messages"][1].clone();
    assert_eq!(ret["message_type"], "tool_return_message", "{res}");
    ret
}

fn text(ret: &Value) -> &str {
    ret["tool_return"].as_str().unwrap()
}

/// run_code's own answer: the listed return is the packed return's message.
fn run_code_answer(ret: &Value) -> Value {
    serde_json::from_str(text(ret)).unwrap()
}

#[tokio::test]
async fn local_sandbox_variables_and_directory_reach_tool_runs() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = fake.base_url();
    let srv = TestServer::start_in_with_env(bin(), dir.path(), &[("OPENAI_BASE_URL", &url)]).await;
    let runs = tempfile::tempdir().unwrap();
    let runs_dir = runs.path().to_str().unwrap();
    let config = srv
        .post("/v1/sandbox-config/local", json!({"sandbox_dir": runs_dir}))
        .await
        .ok();
    let cid = id(&config);
    for (key, value) in [("SHARED", "from-sandbox"), ("ONLY_SANDBOX", "s3cr3t-value")] {
        srv.post(
            &format!("/v1/sandbox-config/{cid}/environment-variable"),
            json!({"key": key, "value": value}),
        )
        .await
        .ok();
    }
    let tool = srv
        .post("/v1/tools/", json!({"source_code": READ_ENV}))
        .await
        .ok();
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": [id(&tool)],
                   "tool_exec_environment_variables": {"SHARED": "from-agent"}}),
        )
        .await
        .ok();
    let a = id(&agent);

    let only = call(&srv, &fake, &a, "read_env", json!({"name": "ONLY_SANDBOX"})).await;
    assert_eq!(only["status"], "success", "{only}");
    assert!(text(&only).contains("s3cr3t-value in "), "{only}");
    assert!(
        text(&only).contains(runs_dir),
        "runs are made in sandbox_dir: {only}"
    );
    // The agent's own variable wins over the sandbox's, as in Letta.
    let shared = call(&srv, &fake, &a, "read_env", json!({"name": "SHARED"})).await;
    assert!(text(&shared).contains("from-agent in "), "{shared}");

    // A deleted variable is gone from the next run.
    let vars = srv
        .get(&format!("/v1/sandbox-config/{cid}/environment-variable"))
        .await
        .ok();
    let only_id = vars
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "ONLY_SANDBOX")
        .map(id)
        .unwrap();
    srv.delete(&format!(
        "/v1/sandbox-config/environment-variable/{only_id}"
    ))
    .await
    .ok();
    let gone = call(&srv, &fake, &a, "read_env", json!({"name": "ONLY_SANDBOX"})).await;
    assert!(text(&gone).contains("<unset> in "), "{gone}");

    // Values are sealed at rest.
    srv.stop().await;
    let stored = mneme_testkit::stored_bytes(dir.path());
    let needle = b"from-sandbox";
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle),
        "a sandbox variable stored in clear"
    );
}

#[tokio::test]
async fn run_code_runs_python_and_names_missing_interpreters() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", &url)]).await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tools": ["run_code"]}),
        )
        .await
        .ok();
    let a = id(&agent);
    let tools: Vec<&str> = agent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"run_code"), "{tools:?}");
    let run_code = agent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "run_code")
        .unwrap();
    assert_eq!(run_code["tool_type"], "letta_builtin");
    assert_eq!(
        run_code["json_schema"]["parameters"]["properties"]["language"]["enum"],
        json!(["python", "js", "ts", "r", "java"])
    );

    let code = "print('hello')\nx = 6\nx * 7";
    let ret = call(
        &srv,
        &fake,
        &a,
        "run_code",
        json!({"code": code, "language": "python"}),
    )
    .await;
    assert_eq!(ret["status"], "success", "{ret}");
    let answer = run_code_answer(&ret);
    assert_eq!(answer["results"], json!(["42"]));
    assert_eq!(answer["logs"]["stdout"], json!(["hello\n"]));
    assert!(answer.get("error").is_none(), "{answer}");

    let failing = json!({"code": "1/0", "language": "python"});
    let ret = call(&srv, &fake, &a, "run_code", failing).await;
    let answer = run_code_answer(&ret);
    assert_eq!(answer["error"]["name"], "ZeroDivisionError", "{answer}");

    // The fake model offers the tool with Letta's parameters.
    let offered = fake.requests()[0]["tools"].as_array().unwrap().clone();
    assert!(offered.iter().any(|t| t["function"]["name"] == "run_code"));

    let r = call(
        &srv,
        &fake,
        &a,
        "run_code",
        json!({"code": "1", "language": "r"}),
    )
    .await;
    if which("Rscript") {
        assert_eq!(r["status"], "success", "{r}");
    } else {
        assert_eq!(r["status"], "error", "{r}");
        assert!(text(&r).contains("no interpreter for language 'r'"), "{r}");
    }
}

#[tokio::test]
async fn only_an_e2b_sandbox_configured_makes_tool_runs_fail_clearly() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", &url)]).await;
    let e2b = srv
        .post("/v1/sandbox-config/e2b/default", json!({}))
        .await
        .ok();
    assert_eq!(e2b["type"], "e2b");
    assert_eq!(e2b["config"], json!({"timeout": 300}));
    let tool = srv
        .post("/v1/tools/", json!({"source_code": READ_ENV}))
        .await
        .ok();
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": [id(&tool)]}),
        )
        .await
        .ok();
    let a = id(&agent);
    let ret = call(&srv, &fake, &a, "read_env", json!({"name": "HOME"})).await;
    assert_eq!(ret["status"], "error", "{ret}");
    assert!(
        text(&ret).contains("E2B is not available on this server"),
        "{ret}"
    );

    // A local configuration beside it runs tools here again.
    srv.post("/v1/sandbox-config/local/default", json!({}))
        .await
        .ok();
    let ret = call(&srv, &fake, &a, "read_env", json!({"name": "HOME"})).await;
    assert_eq!(ret["status"], "success", "{ret}");
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false)
}

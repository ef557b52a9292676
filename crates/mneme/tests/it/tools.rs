//! Custom Python tools: registry, schema from source, sandboxed calls by the agent.

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

const WEATHER: &str = r#"
def get_weather(city: str, days: int = 1) -> str:
    """Tell the weather.

    Args:
        city: Which city.
        days: How many days ahead.

    Returns:
        str: The forecast.
    """
    return f"Sunny in {city} for {days} day(s)"
"#;

const SECRETIVE: &str = r#"
import os

def read_env(name: str) -> str:
    """Read an environment variable.

    Args:
        name: The variable.
    """
    return os.environ.get(name, "<unset>")
"#;

async fn setup() -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_CANARY_SECRET", "hunter2"),
    ];
    (TestServer::start_with_env(bin(), &env).await, fake)
}

#[tokio::test]
async fn tools_are_created_from_source_with_a_generated_schema() {
    let (srv, _fake) = setup().await;
    let tool = srv
        .post(
            "/v1/tools/",
            json!({"source_code": WEATHER, "tags": ["weather"]}),
        )
        .await
        .ok();
    assert!(id(&tool).starts_with("tool-"));
    assert_eq!(tool["name"], "get_weather");
    assert_eq!(tool["tool_type"], "custom");
    assert_eq!(tool["description"], "Tell the weather.");
    let params = &tool["json_schema"]["parameters"];
    assert_eq!(params["properties"]["city"]["type"], "string");
    assert_eq!(params["properties"]["days"]["type"], "integer");
    assert_eq!(params["required"], json!(["city"]));
    // The name is taken: POST and PUT both replace that tool in place, as Letta does.
    let same = srv
        .post("/v1/tools/", json!({"source_code": WEATHER}))
        .await
        .ok();
    assert_eq!(same["id"], tool["id"]);
    let again = srv
        .send(
            srv.request(reqwest::Method::PUT, "/v1/tools/")
                .json(&json!({"source_code": WEATHER, "return_char_limit": 100})),
        )
        .await
        .ok();
    assert_eq!(again["id"], tool["id"]);
    assert_eq!(again["return_char_limit"], 100);

    let listed = srv.get("/v1/tools/?name=get_weather").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let custom = srv.get("/v1/tools/count?tool_types=custom").await.ok();
    assert_eq!(custom, json!(1));
    let patched = srv
        .patch(
            &format!("/v1/tools/{}", id(&tool)),
            json!({"description": "Forecasts."}),
        )
        .await
        .ok();
    assert_eq!(patched["description"], "Forecasts.");

    let bad = srv
        .post(
            "/v1/tools/",
            json!({"source_code": "def broken(:\n    pass"}),
        )
        .await
        .err(422);
    assert!(bad["detail"].as_str().unwrap().contains("line"), "{bad}");
    srv.delete(&format!("/v1/tools/{}", id(&tool))).await.ok();
    srv.get(&format!("/v1/tools/{}", id(&tool))).await.err(404);
}

#[tokio::test]
async fn an_agent_calls_a_custom_tool_in_the_sandbox() {
    let (srv, fake) = setup().await;
    let weather = srv
        .post("/v1/tools/", json!({"source_code": WEATHER}))
        .await
        .ok();
    let env_tool = srv
        .post("/v1/tools/", json!({"source_code": SECRETIVE}))
        .await
        .ok();
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": [id(&weather)],
                   "tool_exec_environment_variables": {"TOOL_TOKEN": "for-the-tool"}}),
        )
        .await
        .ok();
    let a = id(&agent);
    let attached = srv
        .patch(
            &format!("/v1/agents/{a}/tools/attach/{}", id(&env_tool)),
            json!({}),
        )
        .await
        .ok();
    let names: Vec<&str> = attached["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"get_weather") && names.contains(&"read_env"));

    fake.push(Reply::tool_call(
        "get_weather",
        json!({"city": "Paris", "days": 2}),
    ));
    fake.push_text("It is sunny.");
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "weather?"}),
        )
        .await
        .ok();
    let ret = &res["messages"][1];
    assert_eq!(ret["message_type"], "tool_return_message");
    assert_eq!(ret["status"], "success");
    assert!(
        ret["tool_return"]
            .as_str()
            .unwrap()
            .contains("Sunny in Paris for 2 day(s)")
    );
    let offered: Vec<Value> = fake.requests()[0]["tools"].as_array().unwrap().clone();
    assert!(
        offered
            .iter()
            .any(|t| t["function"]["name"] == "get_weather")
    );

    // The tool sees the agent's variables, never the server's environment.
    for (var, expected) in [
        ("TOOL_TOKEN", "for-the-tool"),
        ("MNEME_CANARY_SECRET", "<unset>"),
    ] {
        fake.push(Reply::tool_call("read_env", json!({"name": var})));
        fake.push_text("ok");
        let res = srv
            .post(&format!("/v1/agents/{a}/messages"), json!({"input": "env"}))
            .await
            .ok();
        let text = res["messages"][1]["tool_return"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.contains(expected), "{var}: {text}");
    }
}

#[tokio::test]
async fn failing_tools_are_errors_the_agent_sees() {
    let (srv, fake) = setup().await;
    let source = "def explode(x: int) -> int:\n    \"\"\"Fail.\n\n    Args:\n        x: A number.\n    \"\"\"\n    raise ValueError(f'bad {x}')\n";
    let tool = srv
        .post("/v1/tools/", json!({"source_code": source}))
        .await
        .ok();
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": [id(&tool)]}),
        )
        .await
        .ok();
    fake.push(Reply::tool_call("explode", json!({"x": 3})));
    fake.push_text("sorry");
    let res = srv
        .post(
            &format!("/v1/agents/{}/messages", id(&agent)),
            json!({"input": "go"}),
        )
        .await
        .ok();
    assert_eq!(res["messages"][1]["status"], "error");
    let text = res["messages"][1]["tool_return"].as_str().unwrap();
    assert!(text.contains("ValueError: bad 3"), "{text}");
    assert_eq!(res["messages"][2]["content"], "sorry");

    let direct = srv
        .post(
            "/v1/tools/run",
            json!({"source_code": source, "args": {"x": 5}}),
        )
        .await
        .ok();
    assert_eq!(direct["status"], "error");
    assert!(direct["tool_return"].as_str().unwrap().contains("bad 5"));
}

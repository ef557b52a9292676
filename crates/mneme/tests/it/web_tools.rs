//! The web built-ins (`web_search`, `fetch_webpage`) and the tool routes beside the registry.

use mneme_testkit::{FakeLlm, FakeWeb, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

/// A server whose model is the fake LLM, with extra settings.
async fn setup(env: &[(&str, &str)]) -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let mut all = vec![("OPENAI_BASE_URL", url.as_str())];
    all.extend_from_slice(env);
    (TestServer::start_with_env(bin(), &all).await, fake)
}

async fn agent_with(srv: &TestServer, tools: &[&str]) -> String {
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tools": tools, "include_base_tools": false}),
        )
        .await
        .ok();
    id(&agent)
}

async fn run(srv: &TestServer, agent: &str, tool: &str, args: Value) -> Value {
    srv.post(
        &format!("/v1/agents/{agent}/tools/{tool}/run"),
        json!({"args": args}),
    )
    .await
    .ok()
}

#[tokio::test]
async fn web_tools_resolve_by_name_with_letta_parameters() {
    let (srv, _fake) = setup(&[]).await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tools": ["web_search", "fetch_webpage"]}),
        )
        .await
        .ok();
    let tools = agent["tools"].as_array().unwrap();
    let search = tools.iter().find(|t| t["name"] == "web_search").unwrap();
    assert_eq!(search["tool_type"], "letta_builtin");
    assert_eq!(search["tags"], json!(["letta_builtin"]));
    assert_eq!(search["enable_parallel_execution"], true);
    let params = &search["json_schema"]["parameters"];
    let names: Vec<&str> = params["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "query",
            "num_results",
            "category",
            "include_text",
            "include_domains",
            "exclude_domains",
            "start_published_date",
            "end_published_date",
            "user_location"
        ]
    );
    assert_eq!(params["required"], json!(["query"]));
    assert_eq!(
        params["properties"]["category"]["enum"][8],
        "financial report"
    );
    let fetch = tools.iter().find(|t| t["name"] == "fetch_webpage").unwrap();
    assert_eq!(
        fetch["json_schema"]["parameters"]["required"],
        json!(["url"])
    );
}

#[tokio::test]
async fn web_search_without_a_backend_is_a_tool_error() {
    let (srv, _fake) = setup(&[]).await;
    let agent = agent_with(&srv, &["web_search"]).await;
    let out = run(&srv, &agent, "web_search", json!({"query": "rust"})).await;
    assert_eq!(out["status"], "error");
    let text = out["func_return"].as_str().unwrap();
    assert!(text.contains("no search backend"), "{text}");
    assert!(text.contains("EXA_API_KEY"), "{text}");
}

#[tokio::test]
async fn fetch_webpage_refuses_loopback_and_metadata_addresses() {
    let web = FakeWeb::start().await;
    web.set_page("secret", "<p>internal only</p>");
    let (srv, _fake) = setup(&[]).await;
    let agent = agent_with(&srv, &["fetch_webpage"]).await;
    let targets = [
        format!("{}/page/secret", web.url()),
        format!(
            "http://localhost:{}/page/secret",
            web.url().rsplit(':').next().unwrap()
        ),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]/".to_owned(),
    ];
    for url in targets {
        let out = run(&srv, &agent, "fetch_webpage", json!({"url": url})).await;
        assert_eq!(out["status"], "error", "{url}");
        let text = out["func_return"].as_str().unwrap();
        assert!(text.contains("refusing to fetch"), "{url}: {text}");
        assert!(!text.contains("internal only"));
    }
    let out = run(
        &srv,
        &agent,
        "fetch_webpage",
        json!({"url": "file:///etc/passwd"}),
    )
    .await;
    assert_eq!(out["status"], "error");
    assert!(out["func_return"].as_str().unwrap().contains("scheme"));
}

#[tokio::test]
async fn fetch_webpage_follows_redirects_to_readable_text_when_allowed() {
    let web = FakeWeb::start().await;
    web.set_page(
        "doc",
        "<html><head><title>T</title><script>var hidden = 1;</script></head>\
         <body><h1>Release notes</h1><p>Version 2 &amp; more.</p></body></html>",
    );
    let (srv, _fake) = setup(&[("MNEME_FETCH_ALLOW_PRIVATE", "true")]).await;
    let agent = agent_with(&srv, &["fetch_webpage"]).await;
    let url = format!("{}/hop/doc", web.url());
    let out = run(&srv, &agent, "fetch_webpage", json!({"url": url})).await;
    assert_eq!(out["status"], "success", "{out}");
    let text = out["func_return"].as_str().unwrap();
    assert!(text.contains("Release notes"), "{text}");
    assert!(text.contains("Version 2 & more."), "{text}");
    assert!(!text.contains("hidden"), "{text}");
    let missing = format!("{}/page/none", web.url());
    let out = run(&srv, &agent, "fetch_webpage", json!({"url": missing})).await;
    assert_eq!(out["status"], "error");
    assert!(out["func_return"].as_str().unwrap().contains("404"));
}

#[tokio::test]
async fn a_scripted_model_searches_the_web_through_searxng() {
    let web = FakeWeb::start().await;
    web.set_results(vec![json!({
        "title": "The Rust Book", "url": "https://doc.rust-lang.org/book/",
        "content": "Learn Rust.", "publishedDate": null
    })]);
    let url = web.url();
    let (srv, fake) = setup(&[("MNEME_SEARXNG_URL", url.as_str())]).await;
    let agent = agent_with(&srv, &["web_search"]).await;
    fake.push(Reply::tool_call(
        "web_search",
        json!({"query": "rust book", "include_domains": ["rust-lang.org"]}),
    ));
    fake.push_text("Found it.");
    let res = srv
        .post(
            &format!("/v1/agents/{agent}/messages"),
            json!({"input": "find the rust book"}),
        )
        .await
        .ok();
    let ret = res["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_type"] == "tool_return_message")
        .unwrap();
    assert_eq!(ret["status"], "success");
    // Listed as the packed return's message: the search's JSON document.
    let doc: Value = serde_json::from_str(ret["tool_return"].as_str().unwrap()).unwrap();
    assert_eq!(doc["query"], "rust book");
    assert_eq!(doc["results"][0]["title"], "The Rust Book");
    assert_eq!(doc["results"][0]["summary"], "Learn Rust.");
    let seen = fake.requests()[1].to_string();
    assert!(
        seen.contains("The Rust Book"),
        "the model reads the results"
    );
    let searches = web.searches();
    assert_eq!(searches.len(), 1);
    let query = searches[0]["query"].as_str().unwrap();
    assert!(query.contains("format=json"), "{query}");
    assert!(query.contains("site%3Arust-lang.org"), "{query}");
}

#[tokio::test]
async fn web_search_asks_exa_with_the_key_and_letta_fields() {
    let web = FakeWeb::start().await;
    web.set_results(vec![json!({
        "title": "News", "url": "https://example.com/n", "publishedDate": "2025-01-02",
        "author": "Ann", "text": "full text", "highlights": ["a"], "summary": "short"
    })]);
    let url = web.url();
    let env = [
        ("EXA_API_KEY", "exa-key"),
        ("MNEME_EXA_BASE_URL", url.as_str()),
    ];
    let (srv, _fake) = setup(&env).await;
    let agent = agent_with(&srv, &["web_search"]).await;
    let args = json!({"query": "news", "num_results": 500, "category": "news"});
    let out = run(&srv, &agent, "web_search", args).await;
    assert_eq!(out["status"], "success", "{out}");
    let doc: Value = serde_json::from_str(out["func_return"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["results"][0],
        json!({"title": "News", "url": "https://example.com/n", "published_date": "2025-01-02",
               "author": "Ann", "highlights": ["a"], "summary": "short"})
    );
    let sent = &web.searches()[0];
    assert_eq!(sent["headers"]["x-api-key"], "exa-key");
    assert_eq!(sent["body"]["numResults"], 100);
    assert_eq!(sent["body"]["category"], "news");
    assert_eq!(sent["body"]["contents"]["text"], false);
}

#[tokio::test]
async fn tool_routes_beside_the_registry() {
    let (srv, _fake) = setup(&[]).await;
    let base = srv.post("/v1/tools/add-base-tools", json!({})).await.ok();
    let names: Vec<&str> = base
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"send_message") && names.contains(&"web_search"));
    let again = srv.post("/v1/tools/add-base-tools", json!({})).await.ok();
    assert_eq!(again, base, "the ids of stored built-ins are kept");

    let code = "def add(a: int, b: int = 1) -> int:\n    \"\"\"Add.\n\n    Args:\n        a: First.\n        b: Second.\n    \"\"\"\n    raise SystemExit('never run')\n";
    let schema = srv
        .post("/v1/tools/generate-schema", json!({"code": code}))
        .await
        .ok();
    assert_eq!(schema["name"], "add");
    assert_eq!(schema["parameters"]["required"], json!(["a"]));
    srv.post("/v1/tools/generate-schema", json!({"code": "x = 1"}))
        .await
        .err(422);

    let found = srv
        .post(
            "/v1/tools/search",
            json!({"query": "web search", "limit": 3}),
        )
        .await
        .ok();
    let found = found.as_array().unwrap();
    assert!(!found.is_empty() && found.len() <= 3);
    assert_eq!(found[0]["tool"]["name"], "web_search");
    assert_eq!(found[0]["fts_rank"], 1);
    assert!(found[0]["combined_score"].as_f64().unwrap() > 0.0);
    let typed = srv
        .post("/v1/tools/search", json!({"tool_types": ["letta_builtin"]}))
        .await
        .ok();
    assert!(
        typed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["tool"]["tool_type"] == "letta_builtin")
    );
    srv.post("/v1/tools/search", json!({"limit": 0}))
        .await
        .err(422);

    let agent = agent_with(&srv, &["web_search"]).await;
    let err = srv
        .post(&format!("/v1/agents/{agent}/tools/nope/run"), json!({}))
        .await
        .err(404);
    assert!(err["detail"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn generate_tool_asks_the_model_and_derives_the_schema() {
    let (srv, fake) = setup(&[]).await;
    let source = "def shout(text: str) -> str:\n    \"\"\"Shout.\n\n    Args:\n        text: What to shout.\n    \"\"\"\n    return text.upper()\n";
    fake.push(Reply::tool_call(
        "generate_tool",
        json!({
            "raw_source_code": source,
            "sample_args_json": "{\"text\": \"hi\"}",
            "pip_requirements_json": "{\"requests\": \"2.32.0\", \"rich\": \"\"}"
        }),
    ));
    let body = json!({
        "tool_name": "shout", "prompt": "upper-case the text", "handle": "openai/gpt-4o-mini",
        "validation_errors": ["missing docstring"]
    });
    let out = srv.post("/v1/tools/generate-tool", body).await.ok();
    assert_eq!(out["tool"]["name"], "shout");
    assert_eq!(out["tool"]["source_code"], source);
    assert_eq!(
        out["tool"]["json_schema"]["parameters"]["required"],
        json!(["text"])
    );
    assert_eq!(
        out["tool"]["pip_requirements"],
        json!([{"name": "requests", "version": "2.32.0"}, {"name": "rich", "version": null}])
    );
    assert_eq!(out["sample_args"], json!({"text": "hi"}));
    let asked = fake.requests()[0].to_string();
    assert!(asked.contains("upper-case the text") && asked.contains("missing docstring"));
    let listed = srv.get("/v1/tools/?name=shout").await.ok();
    assert_eq!(listed, json!([]), "a generated tool is not stored");

    fake.push_text("I would rather not.");
    let body = json!({"tool_name": "shout", "prompt": "x", "handle": "openai/gpt-4o-mini",
                      "validation_errors": []});
    let err = srv.post("/v1/tools/generate-tool", body).await.err(502);
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("did not call generate_tool")
    );
}

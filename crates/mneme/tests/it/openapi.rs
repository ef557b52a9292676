//! `/openapi.json` is a sound OpenAPI 3.1 document of what the server answers, and `/docs`
//! shows it without the network.

use std::collections::HashSet;

use serde_json::Value;

use crate::server;

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn path_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

#[tokio::test]
async fn document_is_sound_openapi() {
    let srv = server().await;
    let doc = srv.get("/openapi.json").await.ok();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 100, "only {} paths", paths.len());

    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        assert!(schemas.contains_key(name), "unresolved $ref {r}");
    }

    let mut ids = HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(!op["summary"].as_str().unwrap_or("").is_empty(), "{id}");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{id}"
            );
            let declared: HashSet<&str> = (op["parameters"].as_array().into_iter().flatten())
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().expect("name"))
                .collect();
            let wanted: HashSet<&str> = path_names(path).into_iter().collect();
            assert_eq!(declared, wanted, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn document_names_letta_operations_and_their_types() {
    let srv = server().await;
    let doc = srv.get("/openapi.json").await.ok();
    let retrieve = &doc["paths"]["/v1/agents/{agent_id}"]["get"];
    assert_eq!(retrieve["operationId"], "retrieve_agent");
    assert_eq!(
        retrieve["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AgentState"
    );
    let agent_id = &retrieve["parameters"][0]["schema"]["$ref"];
    assert_eq!(agent_id, "#/components/schemas/AgentId");
    let pattern = &doc["components"]["schemas"]["AgentId"]["pattern"];
    assert_eq!(pattern, "^agent-[0-9a-f-]{36}$");
    let list = &doc["paths"]["/v1/agents/"]["get"];
    let params: Vec<&str> = (list["parameters"].as_array().expect("parameters").iter())
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert!(
        params.contains(&"limit") && params.contains(&"tags"),
        "{params:?}"
    );
    let stream = &doc["paths"]["/v1/agents/{agent_id}/messages/stream"]["post"];
    assert_eq!(
        stream["responses"]["200"]["content"]["text/event-stream"]["schema"]["$ref"],
        "#/components/schemas/LettaStreamingResponse"
    );
    assert!(stream["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string());
}

#[tokio::test]
async fn docs_page_is_self_contained() {
    let srv = server().await;
    let resp = reqwest::get(format!("{}/docs", srv.base)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("/openapi.json"));
    // Nothing is fetched from elsewhere: users run offline.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains("<script src"));
}

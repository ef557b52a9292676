//! Routes outside the agent and message groups that SDK clients (older and newer than the
//! 0.16.7 API) call: `POST /v1/auth`, embeddings' storage size, cross-agent message search,
//! agent search and its count, template memory variables, and `GET /v1/models/embeddings`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use mneme_service::Service;
use mneme_types::{
    AgentId, AgentSearch, AgentSearchCount, AgentSearchResponse, AgentSearchTerm, AuthRequest,
    AuthResponse, MemoryVariables, MessageSearchRequest, MessageSearchResult, Passage, PassageId,
    PassageUpdate,
};
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::models;
use crate::openapi::{Route, op, route};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/auth").post(auth, op("authenticate_user_v1_auth_post", "Authenticate")),
        route("/v1/embeddings/total_storage_size").get(
            storage_size,
            op(
                "get_total_storage_size",
                "Estimated size of stored embeddings",
            ),
        ),
        route("/v1/agents/messages/search").post(
            search_messages,
            op("search_messages", "Search messages across agents"),
        ),
        route("/v1/agents/search")
            .post(search_agents, op("search_deployed_agents", "Search agents")),
        route("/v1/agents/search/count").get(
            count_agents,
            op("count_deployed_agents", "Count agents matching a search"),
        ),
        route("/v1/agents/{agent_id}/core-memory/variables").get(
            memory_variables,
            op("get_agent_variables", "An agent's template variables"),
        ),
        route("/v1/models/embeddings").get(
            models::list_embeddings,
            op(
                "list_embedding_models_alias",
                "List embedding models (newer SDKs' path)",
            ),
        ),
    ]
}

async fn auth(
    State(app): State<Service>,
    ApiJson(req): ApiJson<AuthRequest>,
) -> Json<AuthResponse> {
    Json(app.authenticate(req))
}

/// The unit comes in the `storage-unit` header (`GB` when absent).
async fn storage_size(State(app): State<Service>, headers: HeaderMap) -> ApiResult<f64> {
    let unit = headers.get("storage-unit").map(|v| v.to_str());
    let unit = match unit {
        None => "GB",
        Some(Ok(unit)) => unit,
        Some(Err(_)) => return Err(malformed_header("storage-unit")),
    };
    Ok(Json(app.embeddings_storage_size(unit).await?))
}

async fn search_messages(
    State(app): State<Service>,
    ApiJson(req): ApiJson<MessageSearchRequest>,
) -> ApiResult<Vec<MessageSearchResult>> {
    Ok(Json(app.search_agent_messages(req).await?))
}

async fn search_agents(
    State(app): State<Service>,
    client: Client,
    ApiJson(req): ApiJson<AgentSearch>,
) -> ApiResult<AgentSearchResponse> {
    Ok(Json(app.search_agents(req, client.include(&[])).await?))
}

/// The terms come as a form-encoded list of objects (`search[field]=name&search[operator]=eq
/// &search[value]=x`, a term per `search[field]`), or as one JSON list in `search`.
async fn count_agents(
    State(app): State<Service>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<AgentSearchCount> {
    let terms = search_terms(&pairs)?;
    let project = pairs.iter().find(|(k, _)| k == "project_id");
    let project = project.map(|(_, v)| v.clone());
    let count = app.count_searched_agents(&terms, project).await?;
    Ok(Json(AgentSearchCount { count }))
}

async fn memory_variables(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
) -> ApiResult<MemoryVariables> {
    Ok(Json(app.memory_variables(id).await?))
}

/// Older SDKs send no body at all: nothing changes then.
pub(crate) async fn modify_passage(
    State(app): State<Service>,
    ApiPath((agent, id)): ApiPath<(AgentId, PassageId)>,
    ApiJson(req): ApiJson<Option<PassageUpdate>>,
) -> ApiResult<Vec<Passage>> {
    let req = req.unwrap_or_default();
    Ok(Json(app.update_passage(agent, id, req).await?))
}

/// The count route's search terms, read from its query pairs.
fn search_terms(pairs: &[(String, String)]) -> Result<Vec<AgentSearchTerm>, ApiError> {
    let mut objects: Vec<Map<String, Value>> = Vec::new();
    let mut bracketed: Vec<(&str, &str)> = Vec::new();
    for (key, value) in pairs {
        if key == "search" {
            let list: Vec<Map<String, Value>> =
                serde_json::from_str(value).map_err(|e| malformed_search(e.to_string()))?;
            objects.extend(list);
        } else if let Some(field) = key
            .strip_prefix("search[")
            .and_then(|k| k.strip_suffix(']'))
        {
            bracketed.push((field, value));
        }
    }
    objects.extend(bracketed_terms(&bracketed));
    objects
        .into_iter()
        .map(|o| {
            serde_json::from_value(Value::Object(o)).map_err(|e| malformed_search(e.to_string()))
        })
        .collect()
}

/// Terms from `search[key]=value` pairs. Clients send them term by term (a new term at each
/// `field`), or grouped by key (every `field`, then every `operator`, ...: httpx's encoding),
/// where the i-th of each key belongs to the i-th term.
fn bracketed_terms(pairs: &[(&str, &str)]) -> Vec<Map<String, Value>> {
    let fields = pairs.iter().filter(|(k, _)| *k == "field").count();
    let leading = pairs.iter().take_while(|(k, _)| *k == "field").count();
    let mut terms: Vec<Map<String, Value>> = Vec::new();
    if fields > 1 && leading == fields {
        terms.resize(fields, Map::new());
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (key, value) in pairs {
            let n = match seen.iter_mut().find(|(k, _)| k == key) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    seen.push((key, 0));
                    0
                }
            };
            // Extra values (a tags term's list) stay with the last term.
            if let Some(term) = terms.get_mut(n.min(fields - 1)) {
                add_value(term, key, value);
            }
        }
        return terms;
    }
    for (key, value) in pairs {
        if *key == "field" || terms.is_empty() {
            terms.push(Map::new());
        }
        if let Some(term) = terms.last_mut() {
            add_value(term, key, value);
        }
    }
    terms
}

/// A repeated `value` (a tags term's list) becomes a list.
fn add_value(term: &mut Map<String, Value>, field: &str, value: &str) {
    let value = Value::String(value.to_owned());
    let is_list = field == "value" && term.get("field") == Some(&json!("tags"));
    match term.get_mut(field) {
        Some(Value::Array(list)) => list.push(value),
        Some(first) => *first = json!([first.take(), value]),
        None if is_list => {
            term.insert(field.to_owned(), json!([value]));
        }
        None => {
            term.insert(field.to_owned(), value);
        }
    }
}

fn malformed_search(msg: String) -> ApiError {
    ApiError::Malformed {
        loc: vec![json!("query"), json!("search")],
        msg,
        kind: "value_error",
    }
}

fn malformed_header(name: &str) -> ApiError {
    ApiError::Malformed {
        loc: vec![json!("header"), json!(name)],
        msg: "not a valid header value".into(),
        kind: "value_error",
    }
}

//! `/v1/tools/...` and an agent's tools.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_store::{Order, ToolFilter};
use mneme_types::{
    AgentId, AgentState, CodeInput, GenerateToolInput, GenerateToolOutput, LettaMessage,
    McpToolRun, Tool, ToolCreate, ToolExecutionResult, ToolId, ToolRunFromSource,
    ToolSearchRequest, ToolSearchResult, ToolUpdate,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, list_param};
use crate::openapi::{Route, op, route};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The tool routes beyond the registry's own (those are in `routes.rs`).
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/tools/search").post(search, op("search_tools", "Search tools")),
        route("/v1/tools/add-base-tools")
            .post(add_base_tools, op("add_base_tools", "Add base tools")),
        route("/v1/tools/generate-schema").post(
            generate_schema,
            op(
                "generate_json_schema",
                "Generate a tool's JSON schema from its source",
            ),
        ),
        route("/v1/tools/generate-tool").post(
            generate_tool,
            op("generate_tool", "Generate a tool with the model"),
        ),
        route("/v1/agents/{agent_id}/tools/{tool_name}/run").post(
            run_for_agent,
            op("run_tool_for_agent", "Run one of an agent's tools"),
        ),
    ]
}

pub(crate) async fn search(
    State(app): State<Service>,
    ApiJson(req): ApiJson<ToolSearchRequest>,
) -> ApiResult<Vec<ToolSearchResult>> {
    Ok(Json(app.search_tools(req).await?))
}

pub(crate) async fn add_base_tools(State(app): State<Service>) -> ApiResult<Vec<Tool>> {
    Ok(Json(app.add_base_tools().await?))
}

pub(crate) async fn generate_schema(
    State(app): State<Service>,
    ApiJson(req): ApiJson<CodeInput>,
) -> ApiResult<Value> {
    Ok(Json(app.generate_schema(req).await?))
}

pub(crate) async fn generate_tool(
    State(app): State<Service>,
    ApiJson(req): ApiJson<GenerateToolInput>,
) -> ApiResult<GenerateToolOutput> {
    Ok(Json(app.generate_tool(req).await?))
}

/// An empty body means no arguments, as in Letta.
pub(crate) async fn run_for_agent(
    State(app): State<Service>,
    ApiPath((id, tool_name)): ApiPath<(AgentId, String)>,
    ApiJson(req): ApiJson<McpToolRun>,
) -> ApiResult<ToolExecutionResult> {
    Ok(Json(app.run_agent_tool(id, &tool_name, req.args).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    name: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    tool_ids: Vec<ToolId>,
    search: Option<String>,
    #[serde(default)]
    tool_types: Vec<String>,
    #[serde(default)]
    exclude_tool_types: Vec<String>,
}

impl FilterQuery {
    fn filter(self) -> ToolFilter {
        let mut names = list_param(&self.names);
        names.extend(self.name);
        ToolFilter {
            names,
            ids: self.tool_ids,
            search: self.search,
            tool_types: list_param(&self.tool_types),
            exclude_tool_types: list_param(&self.exclude_tool_types),
        }
    }
}

/// `POST` and `PUT /v1/tools/` alike: a taken name updates that tool.
pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<ToolCreate>,
) -> ApiResult<Tool> {
    Ok(Json(app.create_tool(req).await?))
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Tool>> {
    let page = page.page(50, Order::Desc)?;
    Ok(Json(app.list_tools(&filter.filter(), &page).await?))
}

pub(crate) async fn count(
    State(app): State<Service>,
    ApiQuery(filter): ApiQuery<FilterQuery>,
) -> ApiResult<u64> {
    Ok(Json(app.count_tools(&filter.filter()).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ToolId>,
) -> ApiResult<Tool> {
    Ok(Json(app.get_tool(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ToolId>,
    ApiJson(update): ApiJson<ToolUpdate>,
) -> ApiResult<Tool> {
    Ok(Json(app.update_tool(id, update).await?))
}

/// Answers JSON `null`, like the other deletes the SDK types as `object`.
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ToolId>,
) -> ApiResult<Value> {
    app.delete_tool(id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn run(
    State(app): State<Service>,
    ApiJson(req): ApiJson<ToolRunFromSource>,
) -> ApiResult<LettaMessage> {
    Ok(Json(app.run_tool_from_source(req).await?))
}

pub(crate) async fn of_agent(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<Tool>> {
    let page = page.page(10, Order::Desc)?;
    Ok(Json(app.tools_of_agent(id, &page).await?))
}

pub(crate) async fn attach(
    State(app): State<Service>,
    ApiPath((id, tool)): ApiPath<(AgentId, ToolId)>,
) -> ApiResult<AgentState> {
    Ok(Json(app.attach_tool(id, tool).await?))
}

pub(crate) async fn detach(
    State(app): State<Service>,
    ApiPath((id, tool)): ApiPath<(AgentId, ToolId)>,
) -> ApiResult<AgentState> {
    Ok(Json(app.detach_tool(id, tool).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ApprovalQuery {
    requires_approval: Option<bool>,
}

pub(crate) async fn approval(
    State(app): State<Service>,
    ApiPath((id, tool_name)): ApiPath<(AgentId, String)>,
    ApiQuery(q): ApiQuery<ApprovalQuery>,
) -> ApiResult<AgentState> {
    let required = q.requires_approval.ok_or_else(|| ApiError::Malformed {
        loc: vec!["query".into(), "requires_approval".into()],
        msg: "Field required".into(),
        kind: "missing",
    })?;
    Ok(Json(
        app.set_requires_approval(id, &tool_name, required).await?,
    ))
}

//! Tool routes beyond the registry: re-registering the built-ins, schemas without creating a
//! tool, searching the registry, and running an agent's tool by name outside a turn.

use mneme_store::{Order, Page, ToolFilter};
use mneme_types::{
    AgentId, CodeInput, Tool, ToolExecutionResult, ToolExecutionStatus, ToolSearchRequest,
    ToolSearchResult,
};
use serde_json::{Map, Value};

use crate::tools::tool_error;
use crate::{Result, Service, ServiceError};

/// Reciprocal-rank constant of Letta's hybrid scores (`1 / (k + rank)`).
const RRF_K: f64 = 60.0;

impl Service {
    /// `POST /v1/tools/add-base-tools`: upserts every built-in tool (ids of stored ones kept)
    /// and answers them.
    pub async fn add_base_tools(&self) -> Result<Vec<Tool>> {
        Ok(self
            .store
            .upsert_tools(mneme_agent::tools::builtin_tools())
            .await?)
    }

    /// `POST /v1/tools/generate-schema`: the schema a tool created from `code` would get; the
    /// code is parsed, never run.
    pub async fn generate_schema(&self, req: CodeInput) -> Result<Value> {
        match req.source_type.as_deref() {
            None | Some("python") => {}
            Some(other) => {
                return Err(ServiceError::bad(format!(
                    "source_type '{other}' is not supported; mneme derives schemas from python"
                )));
            }
        }
        self.sandbox
            .get()
            .await
            .schema_from_source(&req.code, None)
            .await
            .map_err(tool_error)
    }

    /// `POST /v1/tools/search`: tools whose name, description or tags contain the query's
    /// words, best first. Letta ranks by tool embeddings when its server embeds tools; mneme
    /// does not embed tools, so every mode ranks by words and `vector_rank` stays empty.
    pub async fn search_tools(&self, req: ToolSearchRequest) -> Result<Vec<ToolSearchResult>> {
        if !matches!(req.search_mode.as_str(), "vector" | "fts" | "hybrid") {
            return Err(ServiceError::Unprocessable(format!(
                "search_mode must be one of vector, fts, hybrid; got '{}'",
                req.search_mode
            )));
        }
        if !(1..=100).contains(&req.limit) {
            return Err(ServiceError::Unprocessable(format!(
                "limit must be between 1 and 100, got {}",
                req.limit
            )));
        }
        let filter = ToolFilter {
            tool_types: req.tool_types.clone().unwrap_or_default(),
            ..ToolFilter::default()
        };
        let count = u32::try_from(self.store.count_tools(&filter).await?).unwrap_or(u32::MAX);
        let page = Page {
            before: None,
            after: None,
            limit: count.max(1),
            order: Order::Asc,
            order_by: None,
        };
        let tools = self.store.list_tools(&filter, &page).await?;
        Ok(rank_tools(tools, &req))
    }

    /// `POST /v1/agents/{id}/tools/{name}/run`: the agent's attached tool `name`, run with
    /// `args` by the same executor a turn would use. Tools that edit memory or insert passages
    /// keep their effects for turns (which commit them with the step): here their edits are
    /// refused and nothing changes.
    pub async fn run_agent_tool(
        &self,
        agent: AgentId,
        name: &str,
        args: Map<String, Value>,
    ) -> Result<ToolExecutionResult> {
        self.store.get_agent(agent).await?;
        let tools = self.store.agent_tools(agent).await?;
        if !tools.iter().any(|t| t.name == name) {
            return Err(ServiceError::NotFound(format!(
                "Tool '{name}' not found or not attached to agent '{agent}'"
            )));
        }
        let outcome = self
            .runtime
            .run_tool(agent, name, Value::Object(args))
            .await?;
        let (ok, value) = if outcome.memory_changed || outcome.passage.is_some() {
            (
                false,
                Value::String(format!(
                    "Error: '{name}' changes the agent's memory, which only happens in a turn; \
                     nothing was changed"
                )),
            )
        } else {
            (outcome.ok, outcome.value)
        };
        Ok(ToolExecutionResult {
            status: match ok {
                true => ToolExecutionStatus::Success,
                false => ToolExecutionStatus::Error,
            },
            func_return: value,
            agent_state: None,
            stdout: None,
            stderr: None,
            sandbox_config_fingerprint: None,
        })
    }
}

/// Filters by tags (any) and ranks by how many query words each tool's text holds; without a
/// query every tool matches, in registry order.
fn rank_tools(tools: Vec<Tool>, req: &ToolSearchRequest) -> Vec<ToolSearchResult> {
    let words: Vec<String> = req
        .query
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let tags = req.tags.clone().unwrap_or_default();
    let mut scored: Vec<(usize, Tool)> = tools
        .into_iter()
        .filter(|t| tags.is_empty() || t.tags.iter().any(|g| tags.contains(g)))
        .filter_map(|t| {
            let text = format!(
                "{} {} {}",
                t.name.replace('_', " "),
                t.description.as_deref().unwrap_or_default(),
                t.tags.join(" ")
            )
            .to_lowercase();
            let hits = words.iter().filter(|w| text.contains(w.as_str())).count();
            (words.is_empty() || hits > 0).then_some((hits, t))
        })
        .collect();
    // Stable: equal scores keep registry order.
    scored.sort_by(|a, b| b.0.cmp(&a.0));
    scored
        .into_iter()
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .zip(1u32..)
        .map(|((_, tool), rank)| ToolSearchResult {
            tool,
            embedded_text: None,
            fts_rank: (!words.is_empty()).then_some(rank),
            vector_rank: None,
            combined_score: 1.0 / (RRF_K + f64::from(rank)),
        })
        .collect()
}

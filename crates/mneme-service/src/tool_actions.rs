//! Tool routes beyond the registry: re-registering the built-ins, schemas without creating a
//! tool, searching the registry, and running an agent's tool by name outside a turn.

use mneme_llm::{ChatMessage, ChatRequest, Content, LlmError, ToolChoice, ToolSchema};
use mneme_store::{Order, Page, ToolFilter};
use mneme_types::{
    AgentId, CodeInput, GenerateToolInput, GenerateToolOutput, Tool, ToolExecutionResult,
    ToolExecutionStatus, ToolId, ToolSearchRequest, ToolSearchResult,
};
use serde_json::{Map, Value, json};

use crate::tools::tool_error;
use crate::{Result, Service, ServiceError};

/// The model `generate-tool` asks when the request names none and no default is set
/// (Letta's default for this route).
const GENERATE_TOOL_MODEL: &str = "openai/gpt-4.1";

/// What the tool-writing model is told; the function it must call carries the answer.
const GENERATE_TOOL_SYSTEM: &str = "You write Python functions that an AI agent can call as \
tools. Write one self-contained function with type-annotated parameters and a Google-style \
docstring (a summary line, an Args section describing every parameter, a Returns section), \
importing what it needs inside the function. Answer by calling generate_tool with the source \
code, sample arguments for a test run, and the pip packages the code needs.";

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

impl Service {
    /// `POST /v1/tools/generate-tool`: asks the model (`handle`, else the default model) to
    /// write the tool, and answers it with its derived schema, unsaved.
    pub async fn generate_tool(&self, req: GenerateToolInput) -> Result<GenerateToolOutput> {
        let handle = req
            .handle
            .clone()
            .or_else(|| self.config.default_model.clone())
            .unwrap_or_else(|| GENERATE_TOOL_MODEL.to_owned());
        let config = self.models.resolve_llm(&handle, None).await?;
        let response = self
            .runtime
            .complete(&config, &generate_tool_request(&req))
            .await
            .map_err(ServiceError::Llm)?;
        let call = response.tool_calls.first().ok_or_else(|| {
            ServiceError::Llm(LlmError::InvalidResponse(format!(
                "Failed to generate tool '{}': the model did not call generate_tool; it said: {}",
                req.tool_name,
                response.content.as_deref().unwrap_or("nothing")
            )))
        })?;
        let written = Written::parse(&call.arguments)?;
        let schema = self.schema(&written.source, None).await.map_err(|e| {
            ServiceError::bad(format!(
                "Failed to generate JSON schema for tool '{}': {e}",
                req.tool_name
            ))
        })?;
        Ok(GenerateToolOutput {
            tool: generated_tool(&req.tool_name, written.source, written.pip, schema),
            sample_args: written.sample_args,
            response: response.content.unwrap_or_default(),
        })
    }
}

/// The model's answer: `generate_tool`'s three arguments, the last two JSON in strings.
struct Written {
    source: String,
    sample_args: Map<String, Value>,
    pip: Vec<Value>,
}

impl Written {
    fn parse(arguments: &str) -> Result<Written> {
        let bad = |what: &str| {
            ServiceError::Llm(LlmError::InvalidResponse(format!(
                "the model's generate_tool call has no valid {what}"
            )))
        };
        let args: Map<String, Value> =
            serde_json::from_str(arguments).map_err(|_| bad("arguments"))?;
        let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default();
        let source = args
            .get("raw_source_code")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("raw_source_code"))?
            .to_owned();
        let sample_args: Map<String, Value> =
            serde_json::from_str(text("sample_args_json")).map_err(|_| bad("sample_args_json"))?;
        let packages: Map<String, Value> =
            serde_json::from_str(text("pip_requirements_json")).unwrap_or_default();
        let pip = packages
            .into_iter()
            .map(|(name, version)| {
                let version = version
                    .as_str()
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned);
                json!({"name": name, "version": version})
            })
            .collect();
        Ok(Written {
            source,
            sample_args,
            pip,
        })
    }
}

fn generate_tool_request(req: &GenerateToolInput) -> ChatRequest {
    let mut prompt = format!("Write a Python function named {}.\n\n", req.tool_name);
    if let Some(code) = &req.starter_code {
        prompt.push_str(&format!("Start from this code:\n\n```\n{code}\n```\n\n"));
    }
    if !req.validation_errors.is_empty() {
        prompt.push_str(&format!(
            "A previous attempt had these validation errors:\n{}\n\n",
            req.validation_errors.join(" ")
        ));
    }
    prompt.push_str(&format!("Instructions: {}", req.prompt));
    let string = |d: &str| json!({"type": "string", "description": d});
    ChatRequest {
        system: Some(GENERATE_TOOL_SYSTEM.to_owned()),
        messages: vec![ChatMessage::User {
            content: Content::Text(prompt),
        }],
        tools: vec![ToolSchema {
            name: "generate_tool".into(),
            description: "Hand over the written tool.".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "raw_source_code": string("The Python source of the tool."),
                    "sample_args_json": string("A JSON object of example arguments for a test run, by parameter name."),
                    "pip_requirements_json": string("A JSON object of the pip packages the code needs, name to version (empty string for any)."),
                },
                "required": ["raw_source_code", "sample_args_json", "pip_requirements_json"],
            }),
        }],
        tool_choice: ToolChoice::Required,
        response_format: None,
    }
}

/// The tool as Letta answers it: a `custom` Python tool, not stored (a fresh id).
fn generated_tool(name: &str, source: String, pip: Vec<Value>, schema: Value) -> Tool {
    Tool {
        id: ToolId::new(),
        tool_type: "custom".into(),
        name: name.to_owned(),
        description: schema["description"].as_str().map(str::to_owned),
        source_type: Some("python".into()),
        source_code: Some(source),
        json_schema: Some(schema),
        args_json_schema: None,
        tags: Vec::new(),
        return_char_limit: mneme_agent::tools::DEFAULT_RETURN_CHAR_LIMIT,
        pip_requirements: Some(pip),
        npm_requirements: None,
        default_requires_approval: None,
        enable_parallel_execution: Some(false),
        created_by_id: None,
        last_updated_by_id: None,
        metadata_: None,
        project_id: None,
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
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
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

//! Tool use cases: custom Python tools (schema from source, sandboxed runs), the tool registry
//! and agents' attachments.

use mneme_store::{Page, ToolFilter};
use mneme_tools::{RunRequest, RunStatus};
use mneme_types::{
    AgentId, AgentState, LettaMessage, MessageBody, MessageId, Tool, ToolCreate, ToolId,
    ToolReturnMessage, ToolReturnStatus, ToolRule, ToolRunFromSource, ToolUpdate,
};
use serde_json::Value;

use crate::{Include, Result, Service, ServiceError};

/// Letta's bounds on `return_char_limit`.
const RETURN_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000_000;

impl Service {
    /// `POST` and `PUT /v1/tools/`: a tool whose name is taken replaces that tool, keeping its
    /// id — Letta's POST does the same, and scripts that create their tools at every start
    /// rely on it.
    pub async fn create_tool(&self, req: ToolCreate) -> Result<Tool> {
        let tool = self.tool_from_source(req).await?;
        let mut saved = self.store.upsert_tools(vec![tool]).await?;
        saved
            .pop()
            .ok_or_else(|| ServiceError::Internal("upsert returned no tool".into()))
    }

    pub async fn get_tool(&self, id: ToolId) -> Result<Tool> {
        Ok(self.store.get_tool(id).await?)
    }

    pub async fn list_tools(&self, filter: &ToolFilter, page: &Page) -> Result<Vec<Tool>> {
        Ok(self.store.list_tools(filter, page).await?)
    }

    pub async fn count_tools(&self, filter: &ToolFilter) -> Result<u64> {
        Ok(self.store.count_tools(filter).await?)
    }

    /// `PATCH /v1/tools/{id}`: new source regenerates the schema unless one is given.
    pub async fn update_tool(&self, id: ToolId, u: ToolUpdate) -> Result<Tool> {
        let current = self.store.get_tool(id).await?;
        let schema = match (&u.json_schema, &u.source_code) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(src)) => Some(self.schema(src, Some(current.name.as_str())).await?),
            (None, None) => None,
        };
        if let Some(limit) = u.return_char_limit {
            check_limit(limit)?;
        }
        mneme_types::tool::timeout_seconds(u.metadata_.as_ref())
            .map_err(ServiceError::Unprocessable)?;
        let edit = Box::new(move |t: &mut Tool| {
            if let Some(schema) = schema {
                apply_schema(t, schema);
            }
            macro_rules! set_opt {
                ($($f:ident),*) => { $( if u.$f.is_some() { t.$f = u.$f; } )* };
            }
            set_opt!(
                source_code,
                source_type,
                description,
                args_json_schema,
                pip_requirements,
                npm_requirements,
                metadata_,
                default_requires_approval
            );
            if let Some(tags) = u.tags {
                t.tags = tags;
            }
            if let Some(limit) = u.return_char_limit {
                t.return_char_limit = limit;
            }
            if let Some(p) = u.enable_parallel_execution {
                t.enable_parallel_execution = Some(p);
            }
            Ok(())
        });
        Ok(self.store.update_tool(id, edit).await?)
    }

    pub async fn delete_tool(&self, id: ToolId) -> Result<()> {
        Ok(self.store.delete_tool(id).await?)
    }

    /// Attaches a tool; one created with `default_requires_approval` brings its
    /// `requires_approval` rule along, as in Letta.
    pub async fn attach_tool(&self, agent: AgentId, tool: ToolId) -> Result<AgentState> {
        self.store.attach_tool(agent, tool).await?;
        let t = self.store.get_tool(tool).await?;
        if t.default_requires_approval == Some(true) {
            self.set_requires_approval(agent, &t.name, true).await?;
        }
        self.get_agent(agent, Include::ALL).await
    }

    /// `PATCH /v1/agents/{id}/tools/approval/{tool_name}`: adds or removes the tool's
    /// `requires_approval` rule.
    pub async fn set_requires_approval(
        &self,
        agent: AgentId,
        tool_name: &str,
        required: bool,
    ) -> Result<AgentState> {
        let name = tool_name.to_owned();
        let edit = Box::new(move |a: &mut mneme_store::Agent| {
            let rules = a.tool_rules.get_or_insert_with(Vec::new);
            rules.retain(
                |r| !matches!(r, ToolRule::RequiresApproval { tool_name } if *tool_name == name),
            );
            if required {
                rules.push(ToolRule::RequiresApproval { tool_name: name });
            }
            Ok(())
        });
        self.store.update_agent(agent, edit, None).await?;
        self.get_agent(agent, Include::ALL).await
    }

    pub async fn detach_tool(&self, agent: AgentId, tool: ToolId) -> Result<AgentState> {
        self.store.detach_tool(agent, tool).await?;
        self.get_agent(agent, Include::ALL).await
    }

    /// `GET /v1/agents/{id}/tools`, paged by tool id in attachment order.
    pub async fn tools_of_agent(&self, agent: AgentId, page: &Page) -> Result<Vec<Tool>> {
        self.store.get_agent(agent).await?;
        let tools = self.store.agent_tools(agent).await?;
        Ok(crate::agents::page_in_order(tools, page, |t| {
            t.id.to_string()
        }))
    }

    /// `POST /v1/tools/run`: runs source in the sandbox without registering it; answers a
    /// `ToolReturnMessage`.
    pub async fn run_tool_from_source(&self, req: ToolRunFromSource) -> Result<LettaMessage> {
        let name = match (&req.json_schema, &req.name) {
            (Some(s), _) => s["name"].as_str().map(str::to_owned),
            (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        };
        let name = match name {
            Some(n) => n,
            None => self.schema(&req.source_code, None).await?["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        let env = req
            .env_vars
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect();
        let sandbox = self.sandbox.get().await;
        let run = RunRequest {
            source: req.source_code,
            function: name.clone(),
            args: req.args,
            env,
        };
        let out = sandbox.run(run).await.map_err(tool_error)?;
        let ok = out.status == RunStatus::Success;
        let text = match (&out.result, &out.result_str, &out.error) {
            (_, _, Some(e)) if !ok => format!("Error executing function {name}: {e}"),
            (Value::String(s), _, _) => s.clone(),
            (_, Some(s), _) => s.clone(),
            (v, None, _) => v.to_string(),
        };
        let body = ToolReturnMessage {
            tool_return: text,
            status: match ok {
                true => ToolReturnStatus::Success,
                false => ToolReturnStatus::Error,
            },
            // No call preceded this run; the field is required, so a placeholder.
            tool_call_id: "null".into(),
            stdout: Some(vec![out.stdout]),
            stderr: Some(vec![out.stderr]),
            tool_returns: None,
        };
        Ok(LettaMessage::new(
            MessageId::new(),
            mneme_types::time::now(),
            MessageBody::ToolReturn(body),
        ))
    }

    async fn tool_from_source(&self, req: ToolCreate) -> Result<Tool> {
        if let Some(kind) = req.source_type.as_deref().filter(|k| *k != "python") {
            return Err(ServiceError::bad(format!(
                "source_type '{kind}' is not supported; mneme runs python tools"
            )));
        }
        let limit = req.return_char_limit.unwrap_or(50_000);
        check_limit(limit)?;
        let schema = match &req.json_schema {
            Some(s) => s.clone(),
            None => self.schema(&req.source_code, None).await?,
        };
        let mut tool = Tool {
            id: ToolId::new(),
            tool_type: "custom".into(),
            name: String::new(),
            description: None,
            source_type: Some("python".into()),
            source_code: Some(req.source_code),
            json_schema: None,
            args_json_schema: req.args_json_schema,
            tags: req.tags.unwrap_or_default(),
            return_char_limit: limit,
            pip_requirements: req.pip_requirements,
            npm_requirements: req.npm_requirements,
            default_requires_approval: req.default_requires_approval,
            enable_parallel_execution: Some(req.enable_parallel_execution.unwrap_or(false)),
            created_by_id: None,
            last_updated_by_id: None,
            metadata_: None,
            project_id: None,
        };
        apply_schema(&mut tool, schema);
        if let Some(d) = req.description {
            tool.description = Some(d);
        }
        if tool.name.is_empty() {
            return Err(ServiceError::Unprocessable(
                "the tool's schema has no name".into(),
            ));
        }
        Ok(tool)
    }

    pub(crate) async fn schema(&self, source: &str, name: Option<&str>) -> Result<Value> {
        self.sandbox
            .get()
            .await
            .schema_from_source(source, name)
            .await
            .map_err(tool_error)
    }
}

/// Takes name and description from a schema, keeping the schema itself.
fn apply_schema(t: &mut Tool, schema: Value) {
    if let Some(name) = schema["name"].as_str() {
        t.name = name.to_owned();
    }
    if let Some(d) = schema["description"].as_str() {
        t.description = Some(d.to_owned());
    }
    t.json_schema = Some(schema);
}

fn check_limit(limit: u32) -> Result<()> {
    if RETURN_LIMIT_RANGE.contains(&limit) {
        Ok(())
    } else {
        Err(ServiceError::Unprocessable(format!(
            "return_char_limit must be between 1 and 1000000, got {limit}"
        )))
    }
}

pub(crate) fn tool_error(e: mneme_tools::ToolError) -> ServiceError {
    match e {
        mneme_tools::ToolError::InvalidSource(m) | mneme_tools::ToolError::InvalidRequest(m) => {
            ServiceError::Unprocessable(m)
        }
        mneme_tools::ToolError::Unavailable(m) | mneme_tools::ToolError::Unconfined(m) => {
            ServiceError::bad(format!("Python tools are unavailable here: {m}"))
        }
        other => ServiceError::Internal(other.to_string()),
    }
}

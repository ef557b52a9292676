//! Tool execution, dispatched by the tool's `tool_type` (Letta's strings: `letta_core`,
//! `custom`, `external_mcp`, ...) to one `ToolExecutor` each. The step loop never matches on
//! tool names or types: a new kind of tool (multi-agent, files) registers one executor.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use mneme_store::{Agent, AgentContext};
use mneme_types::{ConversationId, Tool};

use crate::tools::{Args, ToolOutcome, WorkingMemory};

/// One call as an executor sees it: the attached tool, its arguments (without
/// `request_heartbeat` and `thinking`), the agent, the conversation the turn runs in, and its
/// memory as held during the request.
pub struct Invocation<'a> {
    pub tool: &'a Tool,
    pub args: &'a Args,
    pub agent: &'a Agent,
    /// The turn's conversation (`None`: the agent's default one): the thread a call that
    /// waits on another agent holds meanwhile.
    pub conversation: Option<ConversationId>,
    pub memory: &'a mut WorkingMemory,
}

/// Runs the tools of one `tool_type`.
#[async_trait]
pub trait ToolExecutor: Send + Sync {
    /// The call's outcome. Failures are outcomes with `ok: false` the model sees as an error
    /// return; nothing here fails the request.
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome;

    /// Whether the model's answer is stored before calls of this executor run: true for code
    /// that runs outside the process or may take long (a sandbox, an MCP server), so that a
    /// crash meanwhile loses no acknowledged input and leaves a call the next turn can answer
    /// with an error return. Quick in-process executors say false and keep one commit per step.
    fn durable_calls(&self) -> bool {
        true
    }
}

/// The executors by `tool_type`, built once with the runtime; a type whose tools run on
/// different executors (Letta's `letta_builtin`: the web tools, `run_code`) has them by name.
#[derive(Clone, Default)]
pub(crate) struct ToolRegistry {
    by_type: HashMap<String, Arc<dyn ToolExecutor>>,
    /// Tool name -> its type and executor.
    by_name: HashMap<String, (String, Arc<dyn ToolExecutor>)>,
}

impl ToolRegistry {
    /// Routes tools of `tool_type` to `executor` (replacing any executor registered before).
    pub(crate) fn register(&mut self, tool_type: &str, executor: Arc<dyn ToolExecutor>) {
        self.by_type.insert(tool_type.to_owned(), executor);
    }

    /// Routes the tool `name` of `tool_type` to `executor`, before the type's own executor.
    pub(crate) fn register_named(
        &mut self,
        tool_type: &str,
        name: &str,
        executor: Arc<dyn ToolExecutor>,
    ) {
        let entry = (tool_type.to_owned(), executor);
        self.by_name.insert(name.to_owned(), entry);
    }

    fn executor(&self, tool: &Tool) -> Option<&Arc<dyn ToolExecutor>> {
        let named = self.by_name.get(&tool.name);
        let named = named.filter(|(tool_type, _)| *tool_type == tool.tool_type);
        (named.map(|(_, executor)| executor)).or_else(|| self.by_type.get(&tool.tool_type))
    }

    /// Whether a call of tool `name` runs on an executor whose calls are stored first
    /// (`ToolExecutor::durable_calls`); a tool that cannot run answers at once.
    pub(crate) fn durable(&self, ctx: &AgentContext, name: &str) -> bool {
        ctx.tools
            .iter()
            .find(|t| t.name == name)
            .and_then(|tool| self.executor(tool))
            .is_some_and(|executor| executor.durable_calls())
    }

    /// Runs the call `id` of tool `name` with the agent's attached tool of that name.
    #[tracing::instrument(name = "tool_call", skip_all, fields(tool = %name, tool_call_id = %id))]
    pub(crate) async fn run(
        &self,
        ctx: &AgentContext,
        memory: &mut WorkingMemory,
        (id, name): (&str, &str),
        args: &Args,
    ) -> ToolOutcome {
        let Some(tool) = ctx.tools.iter().find(|t| t.name == name) else {
            // The rules may name tools that are not attached (an init rule, a child list).
            let available: Vec<&str> = ctx.tools.iter().map(|t| t.name.as_str()).collect();
            return ToolOutcome::failed(format!(
                "Error: tool '{name}' is not attached to this agent; available tools: {}",
                available.join(", ")
            ));
        };
        let Some(executor) = self.executor(tool) else {
            tracing::debug!(tool_type = %tool.tool_type, "no executor for this tool type");
            return ToolOutcome::failed(format!(
                "Error: tool '{name}' is not available on this server"
            ));
        };
        let call = Invocation {
            tool,
            args,
            agent: &ctx.agent,
            conversation: ctx.conversation,
            memory,
        };
        let started = std::time::Instant::now();
        let outcome = executor.execute(call).await;
        mneme_metrics::tool(&tool.tool_type, started.elapsed());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Answers with its own name, so a test sees which executor ran.
    struct Named(&'static str);

    #[async_trait]
    impl ToolExecutor for Named {
        async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
            ToolOutcome::from_value(json!(format!("{} ran {}", self.0, call.tool.name)))
        }
    }

    fn tool(name: &str, tool_type: &str) -> Tool {
        let mut t = crate::tools::builtin_tools().remove(0);
        t.name = name.into();
        t.tool_type = tool_type.into();
        t
    }

    #[tokio::test]
    async fn calls_go_to_the_executor_of_their_tool_type() {
        let mut registry = ToolRegistry::default();
        registry.register("custom", Arc::new(Named("python")));
        registry.register("external_mcp", Arc::new(Named("mcp")));
        let mut ctx = crate::testing::context();
        ctx.tools = vec![
            tool("a", "custom"),
            tool("b", "external_mcp"),
            tool("c", "odd"),
        ];
        let mut memory = WorkingMemory::new(Vec::new());
        let mut outcomes = Vec::new();
        for name in ["a", "b", "c", "d"] {
            let args = Args::default();
            outcomes.push(
                registry
                    .run(&ctx, &mut memory, ("call-1", name), &args)
                    .await,
            );
        }
        let values: Vec<(bool, Value)> = outcomes.into_iter().map(|o| (o.ok, o.value)).collect();
        assert_eq!(
            values,
            [
                (true, json!("python ran a")),
                (true, json!("mcp ran b")),
                (
                    false,
                    json!("Error: tool 'c' is not available on this server")
                ),
                (
                    false,
                    json!(
                        "Error: tool 'd' is not attached to this agent; available tools: a, b, c"
                    )
                ),
            ]
        );
    }
}

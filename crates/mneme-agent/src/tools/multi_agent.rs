//! The multi-agent tools (`tool_type` `letta_multi_agent_core`): a message to another agent,
//! delivered as a system message naming the sender and answered by a turn of its own, through
//! the service's `AgentMessenger`. Calls that wait for a reply go through the wait-for graph
//! first, so that agents waiting on each other get a tool error instead of hanging forever.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use mneme_types::{AgentId, Thread};
use serde_json::{Value, json};

use crate::executor::{Invocation, ToolExecutor};
use crate::messenger::{
    AgentMessenger, MAX_WAIT_DEPTH, MessengerError, Sender, WaitGraph, WaitRefused,
};
use crate::tools::{Args, ToolOutcome, py_repr};

/// How many agents one fan-out messages at a time; the replies keep the targets' order.
const MAX_CONCURRENT_SENDS: usize = 16;

/// The reply of an agent whose turn wrote no assistant message.
const NO_RESPONSE: &str = "<no response>";

/// The executor of the multi-agent tools.
pub struct MultiAgentTools {
    messenger: Arc<dyn AgentMessenger>,
    waits: Arc<WaitGraph>,
}

impl MultiAgentTools {
    pub fn new(messenger: Arc<dyn AgentMessenger>) -> MultiAgentTools {
        MultiAgentTools {
            messenger,
            waits: Arc::new(WaitGraph::default()),
        }
    }
}

/// The calling turn: its thread (what it holds while it waits) and who it speaks as.
struct Caller {
    thread: Thread,
    sender: Sender,
}

/// Why a call to one agent gave no reply.
#[derive(Debug)]
enum AskError {
    Refused(WaitRefused),
    Messenger(MessengerError),
}

#[async_trait]
impl ToolExecutor for MultiAgentTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let caller = Caller {
            thread: Thread {
                agent: call.agent.id,
                conversation: call.conversation,
            },
            sender: Sender {
                id: call.agent.id,
                name: call.agent.name.clone(),
            },
        };
        let name = call.tool.name.as_str();
        let result = match name {
            "send_message_to_agent_and_wait_for_reply" => {
                self.wait_for_reply(&caller, call.args).await
            }
            "send_message_to_agent_async" => self.send_async(&caller, call.args).await,
            "send_message_to_agents_matching_tags" => self.matching_tags(&caller, call.args).await,
            "send_message_to_all_agents_in_group" => self.all_in_group(&caller, call.args).await,
            other => Err(format!(
                "Error: tool '{other}' is not available on this server"
            )),
        };
        match result {
            Ok(text) => ToolOutcome::from_value(Value::String(text)),
            Err(error) => ToolOutcome::failed(error),
        }
    }
}

impl MultiAgentTools {
    async fn wait_for_reply(&self, caller: &Caller, args: &Args) -> Result<String, String> {
        let message = args.string("message")?;
        let target = agent_id(args)?;
        match self.ask(caller, target, &message).await {
            Ok(texts) => Ok(py_repr(&reply(target, texts))),
            Err(AskError::Refused(why)) => Err(refusal(caller, target, &why)),
            Err(AskError::Messenger(e)) => Err(format!(
                "Error executing function send_message_to_agent_and_wait_for_reply: {e}"
            )),
        }
    }

    /// Fire and forget: no wait, so no edge in the graph (the target's turn queues behind
    /// whatever holds its thread, the caller's own included).
    async fn send_async(&self, caller: &Caller, args: &Args) -> Result<String, String> {
        let message = args.string("message")?;
        let target = agent_id(args)?;
        let text = format!(
            "[Incoming message from agent with ID '{}' - this is a one-way notification; if you \
             need to respond, use an agent-to-agent messaging tool if available] {message}",
            caller.sender.id
        );
        self.messenger
            .notify(&caller.sender, target, text)
            .await
            .map_err(|e| format!("Error executing function send_message_to_agent_async: {e}"))?;
        Ok("Successfully sent message".into())
    }

    async fn matching_tags(&self, caller: &Caller, args: &Args) -> Result<String, String> {
        let message = args.string("message")?;
        let match_all = args.strings("match_all")?;
        let match_some = args.strings("match_some")?;
        let targets = self
            .messenger
            .agents_with_tags(&match_all, &match_some)
            .await
            .map_err(|e| {
                format!("Error executing function send_message_to_agents_matching_tags: {e}")
            })?;
        Ok(self.fan_out(caller, targets, &message).await)
    }

    async fn all_in_group(&self, caller: &Caller, args: &Args) -> Result<String, String> {
        let message = args.string("message")?;
        let targets = self
            .messenger
            .supervised_agents(caller.sender.id)
            .await
            .map_err(|e| {
                format!("Error executing function send_message_to_all_agents_in_group: {e}")
            })?;
        if targets.is_empty() {
            return Err(
                "Error: you supervise no group with members, so there is nobody to message".into(),
            );
        }
        Ok(self.fan_out(caller, targets, &message).await)
    }

    /// Messages every target but the caller, several at a time, and lists their replies in
    /// the targets' order; one that fails shows its error in place of a reply.
    async fn fan_out(&self, caller: &Caller, targets: Vec<AgentId>, message: &str) -> String {
        let targets = targets.into_iter().filter(|t| *t != caller.sender.id);
        let replies: Vec<Value> = futures_util::stream::iter(targets)
            .map(|target| async move {
                match self.ask(caller, target, message).await {
                    Ok(texts) => reply(target, texts),
                    Err(AskError::Refused(why)) => {
                        error_reply(target, &refusal(caller, target, &why))
                    }
                    Err(AskError::Messenger(e)) => error_reply(target, &e.to_string()),
                }
            })
            .buffered(MAX_CONCURRENT_SENDS)
            .collect()
            .await;
        py_repr(&Value::Array(replies))
    }

    /// Runs `target`'s turn on `message` and waits for its reply texts, once the wait-for
    /// graph has the wait; the guard takes it out whatever happens to this call.
    async fn ask(
        &self,
        caller: &Caller,
        target: AgentId,
        message: &str,
    ) -> Result<Vec<String>, AskError> {
        let _wait = self
            .waits
            .enter(caller.thread, Thread::default_of(target))
            .map_err(AskError::Refused)?;
        let text = format!(
            "[Incoming message from agent with ID '{}' - your response will be delivered to the \
             sender] {message}",
            caller.sender.id
        );
        self.messenger
            .ask(&caller.sender, target, text)
            .await
            .map_err(AskError::Messenger)
    }
}

/// The target named by `other_agent_id`.
fn agent_id(args: &Args) -> Result<AgentId, String> {
    let raw = args.string("other_agent_id")?;
    raw.trim()
        .parse()
        .map_err(|_| format!("Error: '{raw}' is not an agent id (agent-<uuid>)"))
}

/// Letta's reply dict: the target and its assistant texts.
fn reply(target: AgentId, texts: Vec<String>) -> Value {
    let texts = match texts.is_empty() {
        true => vec![NO_RESPONSE.to_owned()],
        false => texts,
    };
    json!({"agent_id": target.to_string(), "response": texts})
}

fn error_reply(target: AgentId, error: &str) -> Value {
    json!({"agent_id": target.to_string(), "response": [format!("<error: {error}>")]})
}

/// The tool error for a wait the graph refused, in words the model can act on.
fn refusal(caller: &Caller, target: AgentId, why: &WaitRefused) -> String {
    match why {
        WaitRefused::Cycle(threads) => {
            let chain: Vec<String> = threads.iter().map(ToString::to_string).collect();
            let whom = match target == caller.sender.id {
                true => "yourself".to_owned(),
                false => format!("agent {target}"),
            };
            format!(
                "Error: waiting for a reply from {whom} would wait on itself: {} (each waits \
                 for the next to answer). Answer without messaging {whom}.",
                chain.join(" -> ")
            )
        }
        WaitRefused::TooDeep => format!(
            "Error: agents are already waiting on each other {MAX_WAIT_DEPTH} calls deep; \
             answer without messaging agent {target}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A messenger that answers every agent with one text and records what it delivered.
    #[derive(Default)]
    struct Recorder {
        asked: Mutex<Vec<(AgentId, String)>>,
        tagged: Vec<AgentId>,
        /// The agent whose turn fails.
        failing: Option<AgentId>,
        supervised: Vec<AgentId>,
    }

    #[async_trait]
    impl AgentMessenger for Recorder {
        async fn ask(
            &self,
            _from: &Sender,
            target: AgentId,
            text: String,
        ) -> Result<Vec<String>, MessengerError> {
            self.asked.lock().unwrap().push((target, text));
            match self.failing == Some(target) {
                true => Err(MessengerError::Failed("the model is down".into())),
                false => Ok(vec![format!("hi from {target}")]),
            }
        }

        async fn notify(&self, _: &Sender, _: AgentId, _: String) -> Result<(), MessengerError> {
            Ok(())
        }

        async fn agents_with_tags(
            &self,
            _: &[String],
            _: &[String],
        ) -> Result<Vec<AgentId>, MessengerError> {
            Ok(self.tagged.clone())
        }

        async fn supervised_agents(&self, _: AgentId) -> Result<Vec<AgentId>, MessengerError> {
            Ok(self.supervised.clone())
        }
    }

    fn caller() -> Caller {
        let id = AgentId::new();
        Caller {
            thread: Thread::default_of(id),
            sender: Sender {
                id,
                name: "boss".into(),
            },
        }
    }

    #[tokio::test]
    async fn fan_out_keeps_order_reports_failures_and_skips_the_sender() {
        let me = caller();
        let (failing, fine) = (AgentId::new(), AgentId::new());
        let recorder = Arc::new(Recorder {
            tagged: vec![failing, me.sender.id, fine],
            failing: Some(failing),
            ..Recorder::default()
        });
        let tools = MultiAgentTools::new(recorder.clone());
        let args = Args::new(json!({"message": "status?", "match_all": [], "match_some": []}));
        let text = tools.matching_tags(&me, &args).await.unwrap();
        assert_eq!(
            text,
            format!(
                "[{{'agent_id': '{failing}', 'response': ['<error: the model is down>']}}, \
                 {{'agent_id': '{fine}', 'response': ['hi from {fine}']}}]"
            )
        );
        let asked = recorder.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 2);
        assert_eq!(
            asked[1].1,
            format!(
                "[Incoming message from agent with ID '{}' - your response will be delivered \
                 to the sender] status?",
                me.sender.id
            )
        );
    }

    #[tokio::test]
    async fn a_supervisor_messages_its_members_and_nobody_else() {
        let me = caller();
        let members = vec![AgentId::new(), AgentId::new()];
        let recorder = Arc::new(Recorder {
            supervised: members.clone(),
            ..Recorder::default()
        });
        let tools = MultiAgentTools::new(recorder.clone());
        let args = Args::new(json!({"message": "go"}));
        let text = tools.all_in_group(&me, &args).await.unwrap();
        assert_eq!(
            text,
            format!(
                "[{{'agent_id': '{0}', 'response': ['hi from {0}']}}, \
                 {{'agent_id': '{1}', 'response': ['hi from {1}']}}]",
                members[0], members[1]
            )
        );
        let asked: Vec<AgentId> = recorder.asked.lock().unwrap().iter().map(|a| a.0).collect();
        assert_eq!(asked, members);

        let alone = MultiAgentTools::new(Arc::new(Recorder::default()));
        let error = alone.all_in_group(&me, &args).await.unwrap_err();
        assert!(error.contains("you supervise no group"), "{error}");
    }

    #[test]
    fn a_reply_without_text_says_so() {
        assert_eq!(
            py_repr(&reply(AgentId::new(), Vec::new()))
                .split("'response': ")
                .nth(1),
            Some("['<no response>']}")
        );
    }

    #[tokio::test]
    async fn asking_oneself_is_a_tool_error() {
        let me = caller();
        let tools = MultiAgentTools::new(Arc::new(Recorder::default()));
        let args = Args::new(json!({"message": "hi", "other_agent_id": me.sender.id.to_string()}));
        let error = tools.wait_for_reply(&me, &args).await.unwrap_err();
        assert!(
            error.starts_with("Error: waiting for a reply from yourself would wait on itself:"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_malformed_target_is_a_tool_error() {
        let tools = MultiAgentTools::new(Arc::new(Recorder::default()));
        let args = Args::new(json!({"message": "hi", "other_agent_id": "bob"}));
        let error = tools.wait_for_reply(&caller(), &args).await.unwrap_err();
        assert_eq!(error, "Error: 'bob' is not an agent id (agent-<uuid>)");
    }
}

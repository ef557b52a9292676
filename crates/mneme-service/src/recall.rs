//! `POST /v1/messages/search`: hybrid search over one agent's whole message history.

use mneme_store::{Message, MessageFilter, Role};
use mneme_types::{MessageListResult, MessageListType, SearchAllMessages};
use serde_json::Value;

use crate::search::Legs;
use crate::{Result, Service, ServiceError};

impl Service {
    pub async fn search_all_messages(
        &self,
        req: SearchAllMessages,
    ) -> Result<Vec<MessageListResult>> {
        let Some(agent) = req.agent_id else {
            return Err(ServiceError::bad(
                "agent_id is required: this server searches one agent's history at a time",
            ));
        };
        let legs = match req.search_mode.as_deref() {
            None | Some("hybrid") => Legs::HYBRID,
            Some("fts") => Legs {
                text: true,
                vector: false,
            },
            Some("vector") => Legs {
                text: false,
                vector: true,
            },
            Some(other) => {
                return Err(ServiceError::Unprocessable(format!(
                    "search_mode must be 'vector', 'fts' or 'hybrid', got '{other}'"
                )));
            }
        };
        let limit = req.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(ServiceError::Unprocessable(
                "limit must be between 1 and 100".into(),
            ));
        }
        let a = self.store.get_agent(agent).await?;
        let thread = match req.conversation_id.as_deref() {
            None => None,
            Some(c) => Some(self.search_thread(agent, c).await?),
        };
        let filter = MessageFilter {
            roles: vec![Role::User, Role::Assistant],
            start: req.start_date,
            end: req.end_date,
            contains: None,
            newest: None,
            thread,
        };
        let found = self
            .searcher
            .search_messages(&a, Some(&req.query), &filter, limit as usize, legs)
            .await?;
        Ok(found.iter().filter_map(|f| list_result(&f.item)).collect())
    }
}

impl Service {
    /// The thread a search's `conversation_id` names: `default`, or a conversation of `agent`.
    async fn search_thread(
        &self,
        agent: mneme_types::AgentId,
        conversation: &str,
    ) -> Result<Option<mneme_types::ConversationId>> {
        let named = crate::ConversationRef::parse(conversation, Some(agent))?;
        let thread = self.thread(named).await?;
        if thread.agent != agent {
            return Err(ServiceError::NotFound(format!(
                "Conversation {conversation} not found"
            )));
        }
        Ok(thread.conversation)
    }
}

/// A `…MessageListResult`: the message's readable content with its agent.
fn list_result(m: &Message) -> Option<MessageListResult> {
    let (kind, content) = match m.role {
        Role::User => (MessageListType::UserMessage, m.text.clone()),
        Role::Assistant => {
            let said = m
                .tool_calls
                .iter()
                .find(|c| c.name == "send_message")
                .and_then(|c| serde_json::from_str::<Value>(&c.arguments).ok())
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
            (
                MessageListType::AssistantMessage,
                said.unwrap_or_else(|| m.text.clone()),
            )
        }
        _ => return None,
    };
    Some(MessageListResult {
        message_type: kind,
        content,
        message_id: m.id,
        agent_id: Some(m.agent_id),
        conversation_id: None,
        created_at: m.created_at,
    })
}

//! Message search over one agent's whole history: `POST /v1/messages/search` (readable
//! results) and the older `POST /v1/agents/messages/search` (stored messages with their ranks).

use mneme_agent::Found;
use mneme_store::{Message, MessageFilter, Role};
use mneme_types::{
    AgentId, MessageListResult, MessageListType, MessageSearchRequest, MessageSearchResult,
    SearchAllMessages,
};
use serde_json::Value;

use crate::search::Legs;
use crate::{Result, Service, ServiceError};

/// What both search routes ask.
struct RecallQuery {
    agent: Option<AgentId>,
    query: Option<String>,
    search_mode: Option<String>,
    roles: Vec<Role>,
    conversation: Option<String>,
    limit: Option<u32>,
    start: Option<chrono::DateTime<chrono::Utc>>,
    end: Option<chrono::DateTime<chrono::Utc>>,
}

impl Service {
    pub async fn search_all_messages(
        &self,
        req: SearchAllMessages,
    ) -> Result<Vec<MessageListResult>> {
        let found = self
            .recall(RecallQuery {
                agent: req.agent_id,
                query: Some(req.query),
                search_mode: req.search_mode,
                roles: vec![Role::User, Role::Assistant],
                conversation: req.conversation_id,
                limit: req.limit,
                start: req.start_date,
                end: req.end_date,
            })
            .await?;
        Ok(found.iter().filter_map(|f| list_result(&f.item)).collect())
    }

    /// `POST /v1/agents/messages/search`: the same search, answered with each stored message,
    /// the text it was found by and its ranks; without `agent_id`, across every agent (older
    /// SDKs cannot name one). Projects and templates are not kept: a filter on one finds
    /// nothing.
    pub async fn search_agent_messages(
        &self,
        req: MessageSearchRequest,
    ) -> Result<Vec<MessageSearchResult>> {
        let roles = searchable_roles(req.roles.as_deref())?;
        // Only user and assistant messages are indexed; an empty role filter would mean all.
        if roles.is_empty() || req.project_id.is_some() || req.template_id.is_some() {
            return Ok(Vec::new());
        }
        let agents = match req.agent_id {
            Some(a) => vec![a],
            None => self.all_agent_ids().await?,
        };
        if agents.is_empty() {
            return Err(ServiceError::bad(
                "No agents found in organization to derive embedding configuration from",
            ));
        }
        let limit = req.limit.unwrap_or(50) as usize;
        let mut found = Vec::new();
        for agent in agents {
            let mut hits = self
                .recall(RecallQuery {
                    agent: Some(agent),
                    query: req.query.clone(),
                    search_mode: req.search_mode.clone(),
                    roles: roles.clone(),
                    conversation: req.conversation_id.clone(),
                    limit: req.limit,
                    start: req.start_date,
                    end: req.end_date,
                })
                .await?;
            found.append(&mut hits);
        }
        // Each agent's hits are ranked on their own: merged by score, the newest first among
        // equals (a search without a query scores nothing and lists the newest).
        found.sort_by(|a, b| {
            let score = |f: &Found<Message>| f.relevance.rrf_score.unwrap_or(0.0);
            (score(b).total_cmp(&score(a))).then(b.item.created_at.cmp(&a.item.created_at))
        });
        found.truncate(limit);
        Ok(found.iter().filter_map(search_result).collect())
    }

    /// Every agent's id, for a search across agents.
    async fn all_agent_ids(&self) -> Result<Vec<AgentId>> {
        let mut ids: Vec<AgentId> = Vec::new();
        loop {
            let page = mneme_store::Page {
                after: ids.last().map(ToString::to_string),
                limit: 1000,
                order: mneme_store::Order::Asc,
                ..mneme_store::Page::default()
            };
            let got = (self.store)
                .list_agents(&mneme_store::AgentFilter::default(), &page)
                .await?;
            let full = got.len() == page.limit as usize;
            ids.extend(got.iter().map(|a| a.id));
            if !full {
                return Ok(ids);
            }
        }
    }

    async fn recall(&self, req: RecallQuery) -> Result<Vec<Found<Message>>> {
        let Some(agent) = req.agent else {
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
        let thread = match req.conversation.as_deref() {
            None => None,
            Some(c) => Some(self.search_thread(agent, c).await?),
        };
        let filter = MessageFilter {
            roles: req.roles,
            start: req.start,
            end: req.end,
            contains: None,
            newest: None,
            thread,
        };
        self.searcher
            .search_messages(&a, req.query.as_deref(), &filter, limit as usize, legs)
            .await
    }
}

/// The roles asked for that are searched (user and assistant messages); none asked: both.
fn searchable_roles(asked: Option<&[String]>) -> Result<Vec<Role>> {
    let searchable = [Role::User, Role::Assistant];
    let Some(asked) = asked else {
        return Ok(searchable.to_vec());
    };
    let mut roles = Vec::new();
    for name in asked {
        let role = Role::parse(name)
            .ok_or_else(|| ServiceError::Unprocessable(format!("unknown message role '{name}'")))?;
        if searchable.contains(&role) && !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// A `MessageSearchResult`: the stored message, its readable text and its ranks.
fn search_result(f: &Found<Message>) -> Option<MessageSearchResult> {
    let text = list_result(&f.item)?.content;
    let r = &f.relevance;
    Some(MessageSearchResult {
        embedded_text: text,
        message: crate::messages::internal_message(&f.item),
        fts_rank: r.fts_rank.map(|n| n as u64),
        vector_rank: r.vector_rank.map(|n| n as u64),
        rrf_score: r.rrf_score.map(f64::from).unwrap_or(0.0),
    })
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

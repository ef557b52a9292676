//! The service's side of the multi-agent tools (`mneme_agent::AgentMessenger`): a message to
//! another agent is an ordinary request of that agent — a run of its own, through the same
//! admission, locks, run records and sinks as an HTTP request — carrying one system message
//! that names its sender.
//!
//! The runtime is built inside `Service::new`, before the `Service` it needs to send through
//! exists, so the messenger is bound to it afterwards. That makes a reference cycle (the
//! service holds the runtime, which holds the messenger), broken at `Service::shutdown`.

use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use mneme_agent::{AgentMessenger, MessengerError, Sender};
use mneme_store::{AgentFilter, Order, Page, StoreError};
use mneme_types::{
    AgentId, LettaRequest, LettaResponse, ManagerType, MessageBody, MessageContent, MessageCreate,
    content_text,
};
use serde_json::Value;

use crate::streaming::Target;
use crate::{Service, ServiceError};

/// At most this many agents are matched by tags (Letta lists 100 when no tag is required).
const MAX_TAGGED: u32 = 100;

/// Sends through the service it is bound to.
#[derive(Default)]
pub(crate) struct Messenger {
    service: RwLock<Option<Service>>,
}

impl Messenger {
    pub(crate) fn bind(&self, service: Service) {
        *self.service.write().unwrap_or_else(PoisonError::into_inner) = Some(service);
    }

    /// Drops the service (shutdown): later calls fail as tool errors.
    pub(crate) fn unbind(&self) {
        self.service
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn service(&self) -> Result<Service, MessengerError> {
        self.service
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| MessengerError::Failed("the server is shutting down".into()))
    }
}

#[async_trait]
impl AgentMessenger for Messenger {
    async fn ask(
        &self,
        from: &Sender,
        target: AgentId,
        text: String,
    ) -> Result<Vec<String>, MessengerError> {
        let service = self.service()?;
        let response = service
            .send_to(Target::agent(target), request(from, text))
            .await
            .map_err(|e| failure(target, e))?;
        Ok(assistant_texts(&response))
    }

    async fn notify(
        &self,
        from: &Sender,
        target: AgentId,
        text: String,
    ) -> Result<(), MessengerError> {
        let service = self.service()?;
        service
            .send_message_async(target, request(from, text))
            .await
            .map_err(|e| failure(target, e))?;
        Ok(())
    }

    async fn agents_with_tags(
        &self,
        match_all: &[String],
        match_some: &[String],
    ) -> Result<Vec<AgentId>, MessengerError> {
        let service = self.service()?;
        // The store filters by one list; the other is checked here.
        let filter = AgentFilter {
            match_all_tags: !match_all.is_empty(),
            tags: match match_all.is_empty() {
                true => match_some.to_vec(),
                false => match_all.to_vec(),
            },
            ..AgentFilter::default()
        };
        let page = Page {
            limit: MAX_TAGGED,
            order: Order::Asc,
            ..Page::default()
        };
        let agents = service
            .store
            .list_agents(&filter, &page)
            .await
            .map_err(store_failure)?;
        Ok(agents
            .into_iter()
            .filter(|a| match_some.is_empty() || a.tags.iter().any(|t| match_some.contains(t)))
            .map(|a| a.id)
            .collect())
    }

    async fn supervised_agents(&self, supervisor: AgentId) -> Result<Vec<AgentId>, MessengerError> {
        let service = self.service()?;
        let groups = service
            .store
            .managed_groups(supervisor)
            .await
            .map_err(store_failure)?;
        let mut members: Vec<AgentId> = Vec::new();
        let supervised = groups
            .iter()
            .filter(|g| g.manager_type == ManagerType::Supervisor);
        for id in supervised.flat_map(|g| &g.agent_ids) {
            if *id != supervisor && !members.contains(id) {
                members.push(*id);
            }
        }
        Ok(members)
    }
}

/// The request another agent's message is: one system message naming its sender.
fn request(from: &Sender, text: String) -> LettaRequest {
    let message = MessageCreate {
        kind: None,
        role: Some("system".into()),
        content: Some(Value::String(text)),
        name: Some(from.name.clone()),
        otid: None,
        sender_id: Some(from.id.to_string()),
        group_id: None,
        approvals: None,
        approve: None,
        approval_request_id: None,
        reason: None,
        tool_returns: None,
    };
    LettaRequest {
        messages: Some(vec![message]),
        ..LettaRequest::default()
    }
}

/// The texts of the assistant messages of a reply, in order.
fn assistant_texts(response: &LettaResponse) -> Vec<String> {
    response
        .messages
        .iter()
        .filter_map(|m| match &m.body {
            MessageBody::Assistant(a) => Some(match &a.content {
                MessageContent::Text(text) => text.clone(),
                MessageContent::Parts(parts) => {
                    content_text(&Value::Array(parts.clone())).unwrap_or_default()
                }
            }),
            _ => None,
        })
        .collect()
}

fn failure(target: AgentId, e: ServiceError) -> MessengerError {
    match e {
        ServiceError::Store(StoreError::NotFound { kind: "Agent", .. }) => {
            MessengerError::NotFound(target)
        }
        other => MessengerError::Failed(other.to_string()),
    }
}

fn store_failure(e: StoreError) -> MessengerError {
    tracing::warn!(error = %e, "multi-agent tool: cannot read agents");
    MessengerError::Failed(e.to_string())
}

//! Routes other SDK generations call: `POST /v1/auth`, agent search (`POST /v1/agents/search`
//! and its count, Letta Cloud's), template memory variables, and the embeddings' storage size.

use mneme_store::{AgentFilter, ArchiveFilter, Order, Page, PassageFilter};
use mneme_types::extras::NameOperator;
use mneme_types::{
    AgentId, AgentSearch, AgentSearchResponse, AgentSearchTerm, AgentSortBy, AuthRequest,
    AuthResponse, IdentityId, MemoryVariables,
};

use crate::{Include, Result, Service, ServiceError};

/// The id of the one user of this server (Letta's default user, without its `user-` prefix).
const DEFAULT_USER: uuid::Uuid = uuid::Uuid::from_u128(0x00000000_0000_4000_8000_000000000000);

/// Letta stores every vector padded to this many dimensions, and sizes them by it.
const MAX_EMBEDDING_DIM: u64 = 4096;

/// Bytes per stored dimension (`f32`).
const BYTES_PER_DIM: u64 = 4;

/// Agent search pages hold this many agents unless asked otherwise.
const DEFAULT_SEARCH_LIMIT: u32 = 50;

impl Service {
    /// `POST /v1/auth`. The server checks no password (every request acts as its one user, who
    /// may do everything), so any password names that user, as an administrator.
    pub fn authenticate(&self, _req: AuthRequest) -> AuthResponse {
        AuthResponse {
            uuid: DEFAULT_USER,
            is_admin: Some(true),
        }
    }

    /// `GET /v1/embeddings/total_storage_size`: Letta's estimate, archival passages times the
    /// size of one padded vector, in `unit` (`B`, `KB`, `MB`, `GB`, `TB`; binary multiples).
    /// Folders' passages are not counted, as in Letta.
    pub async fn embeddings_storage_size(&self, unit: &str) -> Result<f64> {
        let per_unit: u64 = match unit {
            "B" => 1,
            "KB" => 1 << 10,
            "MB" => 1 << 20,
            "GB" => 1 << 30,
            "TB" => 1 << 40,
            _ => {
                return Err(ServiceError::bad(format!(
                    "Invalid storage unit: {unit}. Must be one of ['B', 'KB', 'MB', 'GB', 'TB']."
                )));
            }
        };
        let passages = self.archival_passage_count().await?;
        let per_passage = (BYTES_PER_DIM * MAX_EMBEDDING_DIM) as f64 / per_unit as f64;
        Ok(passages as f64 * per_passage)
    }

    /// Passages of every archive (folders' archives are not listed).
    async fn archival_passage_count(&self) -> Result<usize> {
        let mut archives = Vec::new();
        loop {
            let page = Page {
                after: archives
                    .last()
                    .map(|id: &mneme_types::ArchiveId| id.to_string()),
                limit: 1000,
                order: Order::Asc,
                ..Page::default()
            };
            let got = self
                .store
                .list_archives(&ArchiveFilter::default(), &page)
                .await?;
            let full = got.len() == page.limit as usize;
            archives.extend(got.into_iter().map(|a| a.id));
            if !full {
                break;
            }
        }
        let keys = (self.store)
            .passage_keys(&archives, &PassageFilter::default())
            .await?;
        Ok(keys.len())
    }

    /// `GET /v1/agents/{id}/core-memory/variables`: the variables of the template an agent was
    /// made from. Agents here are not made from templates, so an existing agent has none.
    pub async fn memory_variables(&self, agent: AgentId) -> Result<MemoryVariables> {
        self.store.get_agent(agent).await?;
        Ok(MemoryVariables::default())
    }

    /// `POST /v1/agents/search`: agents matching every term, a page at a time; `nextCursor`
    /// is the last agent's id while a page comes back full.
    pub async fn search_agents(
        &self,
        req: AgentSearch,
        include: Include,
    ) -> Result<AgentSearchResponse> {
        let limit = match req.limit {
            Some(l) if l >= 1.0 => l.min(f64::from(u32::MAX)) as u32,
            Some(_) => return Err(ServiceError::bad("limit must be at least 1")),
            None => DEFAULT_SEARCH_LIMIT,
        };
        let Some(filter) = search_filter(&req.search, req.project_id) else {
            return Ok(AgentSearchResponse {
                agents: Vec::new(),
                next_cursor: None,
            });
        };
        let page = Page {
            before: None,
            after: req.after,
            limit,
            order: match req.ascending {
                Some(true) => Order::Asc,
                _ => Order::Desc,
            },
            order_by: req.sort_by.map(|s| sort_column(s).to_owned()),
        };
        let agents = self.list_agents(&filter, &page, include).await?;
        let next_cursor = (agents.len() == limit as usize)
            .then(|| agents.last().map(|a| a.id.to_string()))
            .flatten();
        Ok(AgentSearchResponse {
            agents,
            next_cursor,
        })
    }

    /// `GET /v1/agents/search/count`.
    pub async fn count_searched_agents(
        &self,
        terms: &[AgentSearchTerm],
        project_id: Option<String>,
    ) -> Result<u64> {
        match search_filter(terms, project_id) {
            Some(filter) => self.count_agents(&filter).await,
            None => Ok(0),
        }
    }
}

/// The store filter every term must pass; `None` when a term can match no agent here (a
/// template's name or version: no agent is made from a template).
fn search_filter(terms: &[AgentSearchTerm], project_id: Option<String>) -> Option<AgentFilter> {
    let mut f = AgentFilter {
        project_id,
        ..AgentFilter::default()
    };
    for term in terms {
        match term {
            AgentSearchTerm::Version { .. } | AgentSearchTerm::TemplateName { .. } => {
                return None;
            }
            AgentSearchTerm::Name { operator, value } => match operator {
                NameOperator::Eq => f.name = Some(value.clone()),
                NameOperator::Contains => f.query_text = Some(value.clone()),
            },
            AgentSearchTerm::Tags { value, .. } => {
                f.tags.extend(value.iter().cloned());
                f.match_all_tags = true;
            }
            // An identity's id, else its identifier key.
            AgentSearchTerm::Identity { value, .. } => match value.parse::<IdentityId>() {
                Ok(id) => f.identity_id = Some(id),
                Err(_) => f.identifier_keys.push(value.clone()),
            },
            AgentSearchTerm::AgentId { value, .. } => match value.parse::<AgentId>() {
                Ok(id) => f.id = Some(id),
                Err(_) => return None,
            },
        }
    }
    Some(f)
}

fn sort_column(s: AgentSortBy) -> &'static str {
    match s {
        AgentSortBy::CreatedAt => "created_at",
        AgentSortBy::LastRunCompletion => "last_run_completion",
        AgentSortBy::UpdatedAt => "updated_at",
    }
}

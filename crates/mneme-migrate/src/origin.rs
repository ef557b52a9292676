//! Where a migration reads from: a Letta server over its REST API (`--url`), or its PostgreSQL
//! database directly (`--letta-database-url`, the faster path for large deployments). Both give
//! the same values (agents and groups to make units of, each agent as an `Exported`, the
//! objects beside agents), so that writing, idempotence, the report and dry runs are one code.

use std::collections::HashSet;

use mneme_types::{CreateBlock, IdentityCreate, McpServer, Tool};
use serde::Deserialize;

use crate::agents::{self, Exported};
use crate::client::Source;
use crate::db::DbSource;
use crate::report::Report;
use crate::{AGENT_INCLUDE, MigrateError, Options, Result, letta, optional};

pub(crate) enum Origin {
    Http(Source),
    Db(Box<DbSource>),
}

impl Origin {
    /// The origin `opts` names, opened (a database's version checked, its small tables read).
    pub(crate) async fn open(opts: &Options, report: &mut Report) -> Result<Origin> {
        match &opts.letta_database_url {
            Some(_) if opts.since.is_some() => Err(MigrateError::Source(
                "--since reads what changed over the REST API: give --url, not --letta-database-url"
                    .into(),
            )),
            Some(url) => {
                report.source = redacted(url);
                let db = DbSource::open(url, opts.letta_any_schema, report).await?;
                report.source_version = Some(format!("schema {}", db.version()));
                Ok(Origin::Db(Box::new(db)))
            }
            None => {
                report.source = opts.url.clone();
                let src = Source::new(&opts.url, opts.token.clone())?;
                let health: letta::Health = src.get("/v1/health/").await?;
                report.source_version = health.version;
                Ok(Origin::Http(src))
            }
        }
    }

    /// The REST API, for what only it reads (`--since`).
    pub(crate) fn http(&self) -> Result<&Source> {
        match self {
            Origin::Http(src) => Ok(src),
            Origin::Db(_) => Err(MigrateError::Source(
                "--since reads over the REST API only (--url)".into(),
            )),
        }
    }

    pub(crate) async fn mcp_servers(&self, report: &mut Report) -> Result<Vec<McpServer>> {
        match self {
            Origin::Http(src) => {
                Ok(optional(src.get("/v1/mcp-servers/").await)?.unwrap_or_default())
            }
            Origin::Db(db) => Ok(db.mcp_servers(report)),
        }
    }

    pub(crate) async fn groups(&self, report: &mut Report) -> Result<Vec<letta::Group>> {
        match self {
            Origin::Http(src) => {
                Ok(optional(src.list("/v1/groups/?order=asc").await)?.unwrap_or_default())
            }
            Origin::Db(db) => db.groups(report).await,
        }
    }

    /// Every agent, oldest first (a server's listing with the group members it hides).
    pub(crate) async fn agents(
        &self,
        groups: &[letta::Group],
        report: &mut Report,
    ) -> Result<Vec<letta::Agent>> {
        match self {
            Origin::Http(src) => list_agents(src, groups).await,
            Origin::Db(db) => Ok(db.agents(report)),
        }
    }

    pub(crate) async fn agent(&self, id: &str) -> Result<letta::Agent> {
        match self {
            Origin::Http(src) => src.get(&format!("/v1/agents/{id}?{AGENT_INCLUDE}")).await,
            Origin::Db(db) => db.agent(id),
        }
    }

    /// The agent as the import takes it; `tag` tells an export's unmapped local ids apart.
    pub(crate) async fn export(
        &self,
        agent: &letta::Agent,
        servers: &[McpServer],
        tag: usize,
    ) -> Result<Exported> {
        match self {
            Origin::Http(src) => agents::export(src, agent, servers, tag).await,
            Origin::Db(db) => db.export(agent).await,
        }
    }

    /// The identities, their links not yet read (see `identity_links`).
    pub(crate) async fn identities(
        &self,
        report: &mut Report,
    ) -> Result<Vec<(String, IdentityCreate)>> {
        match self {
            Origin::Http(src) => {
                let listed: Vec<Identity> =
                    optional(src.list("/v1/identities/?order=asc").await)?.unwrap_or_default();
                Ok(listed.into_iter().map(|i| (i.id, i.create)).collect())
            }
            Origin::Db(db) => db.identities(report).await,
        }
    }

    /// An identity's links to agents and blocks, all of them in `create`. Letta lists an
    /// identity's links empty; its link routes give them (read only for an identity the
    /// target lacks). The database's link tables were read with the identity.
    pub(crate) async fn identity_links(&self, id: &str, create: &mut IdentityCreate) -> Result<()> {
        let Origin::Http(src) = self else {
            return Ok(());
        };
        create.agent_ids = Some(links(src, id, "agents", create.agent_ids.take()).await?);
        create.block_ids = Some(links(src, id, "blocks", create.block_ids.take()).await?);
        Ok(())
    }

    /// Every block, with its id.
    pub(crate) async fn blocks(&self, report: &mut Report) -> Result<Vec<(String, CreateBlock)>> {
        match self {
            Origin::Http(src) => {
                let listed: Vec<Block> = src.list("/v1/blocks/?order=asc").await?;
                Ok(listed.into_iter().map(|b| (b.id, b.create)).collect())
            }
            Origin::Db(db) => Ok(db.blocks(report)),
        }
    }

    /// Every tool; a list the server gives in a shape this version cannot read is reported
    /// and none are copied.
    pub(crate) async fn tools(&self, report: &mut Report) -> Result<Vec<Tool>> {
        match self {
            Origin::Http(src) => match src.list("/v1/tools/?order=asc").await {
                Ok(listed) => Ok(listed),
                Err(e @ MigrateError::Decode { .. }) => {
                    report.skip(
                        "tools",
                        format!("the source's tool list cannot be read: {e}"),
                    );
                    Ok(Vec::new())
                }
                Err(e) => Err(e),
            },
            Origin::Db(db) => Ok(db.tools(report)),
        }
    }

    pub(crate) async fn providers(&self, report: &mut Report) -> Result<Vec<letta::Provider>> {
        match self {
            Origin::Http(src) => {
                Ok(optional(src.list("/v1/providers/?order=asc").await)?.unwrap_or_default())
            }
            Origin::Db(db) => db.providers(report).await,
        }
    }
}

/// `Identity`: its id, and the rest as the create request takes it.
#[derive(Deserialize)]
struct Identity {
    id: String,
    #[serde(flatten)]
    create: IdentityCreate,
}

/// `BlockResponse`: its id, and the rest as the create request takes it.
#[derive(Deserialize)]
struct Block {
    id: String,
    #[serde(flatten)]
    create: CreateBlock,
}

/// Every agent of the source, and the members of its groups that its listing leaves out (a
/// server may hide sleep-time companions from it).
async fn list_agents(src: &Source, groups: &[letta::Group]) -> Result<Vec<letta::Agent>> {
    let mut agents: Vec<letta::Agent> = src
        .list(&format!("/v1/agents/?order=asc&{AGENT_INCLUDE}"))
        .await?;
    let listed: HashSet<String> = agents.iter().map(|a| a.id.clone()).collect();
    let mut missing: Vec<&String> = groups
        .iter()
        .flat_map(|g| g.agents())
        .filter(|id| !listed.contains(*id))
        .collect();
    missing.sort();
    missing.dedup();
    for id in missing {
        if let Some(a) = optional(src.get(&format!("/v1/agents/{id}?{AGENT_INCLUDE}")).await)? {
            agents.push(a);
        }
    }
    Ok(agents)
}

/// An identity's links of one kind (`agents`, `blocks`): those it names and those its link
/// route gives, that are ids of this kind.
async fn links<T: std::str::FromStr>(
    src: &Source,
    identity: &str,
    kind: &str,
    named: Option<Vec<T>>,
) -> Result<Vec<T>> {
    let listed: Vec<letta::Named> = src
        .list(&format!("/v1/identities/{identity}/{kind}"))
        .await?;
    let mut ids = named.unwrap_or_default();
    ids.extend(listed.iter().filter_map(|n| n.id.parse().ok()));
    Ok(ids)
}

/// The URL without its password, for the report.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "the Letta database".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_reported_without_its_password() {
        assert_eq!(
            redacted("postgres://letta:s3cret@db:5432/letta"),
            "postgres://letta:***@db:5432/letta"
        );
        assert_eq!(redacted("postgres://db/letta"), "postgres://db/letta");
    }
}

//! The objects that live beside agents: identities, blocks no migrated agent brought, MCP
//! servers and BYOK providers. Each is created under its source id unless the target holds it.

use std::collections::HashSet;

use mneme_service::{Service, ServiceError};
use mneme_store::{Page, ProviderFilter, StoreError};
use mneme_types::{
    AgentId, BlockId, BlockUpdate, CreateMcpServer, CreateProvider, IdentityId, McpServer,
};

use crate::origin::Origin;
use crate::report::Report;
use crate::{Options, Result};

fn not_found<T>(r: mneme_service::Result<T>) -> mneme_service::Result<Option<T>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(ServiceError::Store(StoreError::NotFound { .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Identities, linked to the agents and blocks of theirs that the target holds.
pub(crate) async fn identities(
    service: &Service,
    src: &Origin,
    opts: &Options,
    report: &mut Report,
) -> Result<()> {
    let listed = src.identities(report).await?;
    for (source_id, mut create) in listed {
        let Ok(id) = source_id.parse::<IdentityId>() else {
            report.skip(
                "identities",
                format!("identity {source_id}: not an identity id"),
            );
            continue;
        };
        if not_found(service.get_identity(id).await)?.is_some() {
            report.present("identities", 1);
            continue;
        }
        src.identity_links(&source_id, &mut create).await?;
        let agents = create.agent_ids.take().unwrap_or_default();
        let blocks = create.block_ids.take().unwrap_or_default();
        let agent_held = |id: AgentId| async move {
            Ok(not_found(service.get_agent(id, Default::default()).await)?.is_some())
        };
        let block_held =
            |id: BlockId| async move { Ok(not_found(service.get_block(id).await)?.is_some()) };
        create.agent_ids = Some(held(agents.into_iter(), agent_held).await?);
        create.block_ids = Some(held(blocks.into_iter(), block_held).await?);
        if !opts.dry_run {
            service.import_identity(id, create).await?;
        }
        report.copied("identities", 1);
    }
    Ok(())
}

/// The ids the target holds (`holds` says whether it holds one), each once.
async fn held<T, F, Fut>(ids: impl Iterator<Item = T>, holds: F) -> Result<Vec<T>>
where
    T: PartialEq + Copy,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = mneme_service::Result<bool>>,
{
    let mut out = Vec::new();
    for id in ids {
        if !out.contains(&id) && holds(id).await? {
            out.push(id);
        }
    }
    Ok(out)
}

/// Blocks the migrated agents did not bring (blocks of no agent, templates).
pub(crate) async fn blocks(
    service: &Service,
    src: &Origin,
    opts: &Options,
    brought: &HashSet<String>,
    report: &mut Report,
) -> Result<()> {
    let listed = src.blocks(report).await?;
    for (source_id, create) in listed.into_iter().filter(|(id, _)| !brought.contains(id)) {
        let Ok(id) = source_id.parse::<BlockId>() else {
            report.skip("blocks", format!("block {source_id}: not a block id"));
            continue;
        };
        if let Some(held) = not_found(service.get_block(id).await)? {
            // An agent brought it, or an earlier run; `--since` brings a new value.
            if opts.since.is_some() && create.value != held.value {
                if !opts.dry_run {
                    let len = create.value.chars().count();
                    let value = BlockUpdate {
                        limit: create.limit.map(|l| l.max(len)),
                        value: Some(create.value),
                        ..BlockUpdate::default()
                    };
                    service.update_block(id, value).await?;
                }
                report.copied("block_values", 1);
            }
            continue;
        }
        if !opts.dry_run {
            service.import_block(id, create).await?;
        }
        report.copied("blocks", 1);
    }
    Ok(())
}

/// Tools of no migrated agent (the agents brought theirs). The server's own tools are
/// matched by name, never copied.
pub(crate) async fn tools(
    service: &Service,
    src: &Origin,
    opts: &Options,
    brought: &HashSet<String>,
    report: &mut Report,
) -> Result<()> {
    let listed = src.tools(report).await?;
    let custom = listed
        .into_iter()
        .filter(|t| !t.tool_type.starts_with("letta_") && !brought.contains(&t.name));
    for t in custom {
        let written = if opts.dry_run {
            !service.has_tool_named(&t.name).await?
        } else {
            service.import_tool(t).await?
        };
        if written {
            report.copied("tools", 1);
        }
    }
    Ok(())
}

/// MCP servers no migrated tool brought.
pub(crate) async fn mcp_servers(
    service: &Service,
    servers: &[McpServer],
    opts: &Options,
    report: &mut Report,
) -> Result<()> {
    let held = service.list_mcp_servers().await?;
    for s in servers {
        if held.iter().any(|h| h.server_name == s.server_name) {
            report.present("mcp_servers", 1);
            continue;
        }
        if !opts.dry_run {
            let req = CreateMcpServer {
                server_name: s.server_name.clone(),
                config: s.config.clone(),
            };
            service.import_mcp_server(s.id, req).await?;
        }
        report.copied("mcp_servers", 1);
    }
    Ok(())
}

/// BYOK providers, for which the operator gave a key: the source shows keys masked, and a
/// key is never guessed. The providers a server configures from its environment are not
/// entries to copy.
pub(crate) async fn providers(
    service: &Service,
    src: &Origin,
    opts: &Options,
    report: &mut Report,
) -> Result<()> {
    let listed = src.providers(report).await?;
    for p in listed
        .into_iter()
        .filter(|p| p.provider_category.as_deref() == Some("byok"))
    {
        let filter = ProviderFilter {
            name: Some(p.name.clone()),
            provider_type: None,
        };
        let page = Page {
            limit: 1,
            ..Page::default()
        };
        if !service.list_providers(&filter, &page).await?.is_empty() {
            report.present("providers", 1);
            continue;
        }
        let Some(key) = opts.provider_keys.get(&p.name) else {
            report.skip(
                "providers",
                format!(
                    "provider {:?}: its key is not given (--provider-key '{}=KEY')",
                    p.name, p.name
                ),
            );
            continue;
        };
        if !opts.dry_run {
            let req = CreateProvider {
                name: p.name,
                provider_type: p.provider_type,
                api_key: key.clone(),
                access_key: None,
                region: p.region,
                base_url: p.base_url,
                api_version: p.api_version,
            };
            service.create_provider(req).await?;
        }
        report.copied("providers", 1);
    }
    Ok(())
}

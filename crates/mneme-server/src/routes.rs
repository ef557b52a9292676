//! Every route mneme serves, in one table, each method with its handler and its documentation
//! (see `openapi` for the builder, and for how to convert a plain `(path, MethodRouter)` list).

use axum::Router;
use mneme_service::Service;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::panic_response;
use crate::openapi::{self, Route, op, route};
use crate::{
    agent_files, agents, archival, archives, blocks, conversations, groups, health, identities,
    mcp_legacy, mcp_servers, messages, models, providers, runs, steps, tools,
};
use crate::{completions, folders, legacy, unrouted};
use mneme_types::{AgentFile, FileMetadata, LettaResponse};

/// Builds the application. Collection roots answer with and without their trailing slash (the
/// SDK calls `/v1/agents/`, people type `/v1/agents`), without Letta's redirect.
pub fn router(service: Service) -> Router {
    let routes: Vec<Route> = vec![
        route("/v1/health/").get(health::health, op("check_health", "Check health")),
        route("/v1/ready/").get(health::ready, op("check_readiness", "Check readiness")),
        route("/v1/models/").get(models::list_llms, op("list_models", "List models")),
        route("/v1/models/embedding").get(
            models::list_embeddings,
            op("list_embedding_models", "List embedding models"),
        ),
        route("/v1/agents/")
            .get(agents::list, op("list_agents", "List agents"))
            .post(agents::create, op("create_agent", "Create agent")),
        route("/v1/agents/count").get(agents::count, op("count_agents", "Count agents")),
        route("/v1/agents/import")
            .post(agent_files::import, op("import_agent", "Import agent"))
            .with(|r| {
                r.layer(axum::extract::DefaultBodyLimit::max(
                    agent_files::MAX_IMPORT_BYTES,
                ))
            }),
        route("/v1/agents/{agent_id}/export")
            .get(
                agent_files::export_get,
                op("export_agent", "Export agent").response::<AgentFile>(),
            )
            .post(
                agent_files::export_post,
                op("export_agent_with_skills", "Export agent with skills").response::<AgentFile>(),
            ),
        route("/v1/agents/{agent_id}")
            .get(agents::retrieve, op("retrieve_agent", "Retrieve agent"))
            .patch(agents::modify, op("modify_agent", "Modify agent"))
            .delete(agents::delete, op("delete_agent", "Delete agent")),
        route("/v1/agents/{agent_id}/core-memory").get(
            agents::memory,
            op("retrieve_agent_memory", "Retrieve agent memory"),
        ),
        route("/v1/agents/{agent_id}/core-memory/blocks").get(
            agents::list_blocks,
            op("list_core_memory_blocks", "List core memory blocks"),
        ),
        route("/v1/agents/{agent_id}/core-memory/blocks/{block_label}")
            .get(
                agents::retrieve_block,
                op("retrieve_core_memory_block", "Retrieve core memory block"),
            )
            .patch(
                agents::modify_block,
                op("modify_core_memory_block", "Modify core memory block"),
            ),
        route("/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}").patch(
            agents::attach_block,
            op("attach_core_memory_block", "Attach core memory block"),
        ),
        route("/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}").patch(
            agents::detach_block,
            op("detach_core_memory_block", "Detach core memory block"),
        ),
        route("/v1/agents/{agent_id}/recompile")
            .post(agents::recompile, op("recompile_agent", "Recompile agent")),
        route("/v1/agents/{agent_id}/messages")
            .get(messages::list, op("list_messages", "List messages"))
            .post(
                messages::send,
                op("send_message", "Send message")
                    .response::<LettaResponse>()
                    .sse(),
            ),
        route("/v1/agents/{agent_id}/messages/stream").post(
            messages::stream,
            op("create_agent_message_stream", "Create agent message stream").sse(),
        ),
        route("/v1/agents/{agent_id}/messages/async").post(
            messages::send_async,
            op("create_agent_message_async", "Create agent message async"),
        ),
        route("/v1/agents/{agent_id}/messages/cancel")
            .post(messages::cancel, op("cancel_message", "Cancel message")),
        route("/v1/agents/{agent_id}/messages/preview-raw-payload").post(
            messages::preview,
            op("preview_model_request", "Preview model request"),
        ),
        route("/v1/agents/{agent_id}/messages/{message_id}")
            .patch(messages::modify, op("modify_message", "Modify message")),
        route("/v1/agents/{agent_id}/reset-messages")
            .patch(messages::reset, op("reset_messages", "Reset messages")),
        route("/v1/agents/{agent_id}/summarize").post(
            messages::summarize,
            op("summarize_messages", "Summarize messages"),
        ),
        route("/v1/agents/{agent_id}/context").get(
            messages::context,
            op(
                "retrieve_agent_context_window",
                "Retrieve agent context window",
            ),
        ),
        route("/v1/agents/{agent_id}/archival-memory")
            .get(archival::list, op("list_passages", "List passages"))
            .post(archival::create, op("create_passage", "Create passage")),
        route("/v1/agents/{agent_id}/archival-memory/search").get(
            archival::search,
            op("search_archival_memory", "Search archival memory"),
        ),
        route("/v1/agents/{agent_id}/archival-memory/{memory_id}")
            .patch(
                legacy::modify_passage,
                op("modify_passage", "Modify passage (older SDKs)"),
            )
            .delete(archival::delete, op("delete_passage", "Delete passage")),
        route("/v1/agents/{agent_id}/tools").get(
            tools::of_agent,
            op("list_tools_for_agent", "List tools for agent"),
        ),
        route("/v1/agents/{agent_id}/tools/attach/{tool_id}").patch(
            tools::attach,
            op("attach_tool_to_agent", "Attach tool to agent"),
        ),
        route("/v1/agents/{agent_id}/tools/detach/{tool_id}").patch(
            tools::detach,
            op("detach_tool_from_agent", "Detach tool from agent"),
        ),
        route("/v1/agents/{agent_id}/tools/approval/{tool_name}").patch(
            tools::approval,
            op("modify_approval_for_tool", "Modify approval for tool"),
        ),
        route("/v1/tools/")
            .get(tools::list, op("list_tools", "List tools"))
            .post(tools::create, op("create_tool", "Create tool"))
            .put(tools::create, op("upsert_tool", "Upsert tool")),
        route("/v1/tools/count").get(tools::count, op("count_tools", "Count tools")),
        route("/v1/tools/run").post(
            tools::run,
            op("run_tool_from_source", "Run tool from source"),
        ),
        route("/v1/tools/{tool_id}")
            .get(tools::retrieve, op("retrieve_tool", "Retrieve tool"))
            .patch(tools::modify, op("modify_tool", "Modify tool"))
            .delete(tools::delete, op("delete_tool", "Delete tool")),
        route("/v1/mcp-servers/")
            .get(
                mcp_servers::list,
                op("mcp_list_mcp_servers", "Mcp list mcp servers"),
            )
            .post(
                mcp_servers::create,
                op("mcp_create_mcp_server", "Mcp create mcp server"),
            ),
        route("/v1/mcp-servers/{mcp_server_id}")
            .get(
                mcp_servers::retrieve,
                op("mcp_retrieve_mcp_server", "Mcp retrieve mcp server"),
            )
            .patch(
                mcp_servers::modify,
                op("mcp_update_mcp_server", "Mcp update mcp server"),
            )
            .delete(
                mcp_servers::delete,
                op("mcp_delete_mcp_server", "Mcp delete mcp server"),
            ),
        route("/v1/mcp-servers/{mcp_server_id}/tools").get(
            mcp_servers::tools,
            op(
                "mcp_list_tools_for_mcp_server",
                "Mcp list tools for mcp server",
            ),
        ),
        route("/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}").get(
            mcp_servers::tool,
            op("mcp_retrieve_mcp_tool", "Mcp retrieve mcp tool"),
        ),
        route("/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}/run")
            .post(mcp_servers::run, op("mcp_run_tool", "Mcp run tool")),
        route("/v1/mcp-servers/{mcp_server_id}/refresh").patch(
            mcp_servers::refresh,
            op(
                "mcp_refresh_mcp_server_tools",
                "Mcp refresh mcp server tools",
            ),
        ),
        route("/v1/providers/")
            .get(providers::list, op("list_providers", "List providers"))
            .post(providers::create, op("create_provider", "Create provider")),
        route("/v1/providers/check").post(providers::check, op("check_provider", "Check provider")),
        route("/v1/providers/{provider_id}")
            .get(
                providers::retrieve,
                op("retrieve_provider", "Retrieve provider"),
            )
            .patch(providers::modify, op("modify_provider", "Modify provider"))
            .delete(providers::delete, op("delete_provider", "Delete provider")),
        route("/v1/providers/{provider_id}/check").post(
            providers::check_existing,
            op("check_existing_provider", "Check existing provider"),
        ),
        route("/v1/providers/{provider_id}/refresh").patch(
            providers::refresh,
            op("refresh_provider_models", "Refresh provider models"),
        ),
        route("/v1/runs/").get(runs::list, op("list_runs", "List runs")),
        route("/v1/runs/active").get(runs::active, op("list_active_runs", "List active runs")),
        route("/v1/runs/{run_id}")
            .get(runs::retrieve, op("retrieve_run", "Retrieve run"))
            .delete(runs::delete, op("delete_run", "Delete run")),
        route("/v1/runs/{run_id}/metrics").get(
            runs::metrics,
            op("retrieve_metrics_for_run", "Retrieve metrics for run"),
        ),
        route("/v1/runs/{run_id}/messages").get(
            runs::messages,
            op("list_messages_for_run", "List messages for run"),
        ),
        route("/v1/runs/{run_id}/steps")
            .get(runs::steps, op("list_steps_for_run", "List steps for run")),
        route("/v1/runs/{run_id}/usage").get(
            runs::usage,
            op("retrieve_usage_for_run", "Retrieve usage for run"),
        ),
        route("/v1/runs/{run_id}/stream")
            .post(
                runs::stream,
                op("retrieve_stream_for_run", "Retrieve stream for run").sse(),
            )
            .get(
                runs::stream,
                op(
                    "retrieve_stream_for_run_get",
                    "Resume a run's stream (GET form)",
                )
                .sse(),
            ),
        route("/v1/steps/").get(steps::list, op("list_steps", "List steps")),
        route("/v1/steps/{step_id}").get(runs::step, op("retrieve_step", "Retrieve step")),
        route("/v1/steps/{step_id}/feedback").patch(
            steps::feedback,
            op("modify_feedback_for_step", "Modify feedback for step"),
        ),
        route("/v1/steps/{step_id}/messages").get(
            steps::messages,
            op("list_messages_for_step", "List messages for step"),
        ),
        route("/v1/steps/{step_id}/metrics").get(
            steps::metrics,
            op("retrieve_metrics_for_step", "Retrieve metrics for step"),
        ),
        route("/v1/tags/").get(steps::tags, op("list_tags", "List tags")),
        route("/v1/agents/{agent_id}/system-prompt/recompile").post(
            agents::recompile,
            op(
                "recompile_agent_system_prompt",
                "Recompile agent system prompt",
            ),
        ),
        route("/v1/blocks/")
            .get(blocks::list, op("list_blocks", "List blocks"))
            .post(blocks::create, op("create_block", "Create block")),
        route("/v1/blocks/count").get(blocks::count, op("count_blocks", "Count blocks")),
        route("/v1/blocks/{block_id}")
            .get(blocks::retrieve, op("retrieve_block", "Retrieve block"))
            .patch(blocks::modify, op("modify_block", "Modify block"))
            .delete(blocks::delete, op("delete_block", "Delete block")),
        route("/v1/blocks/{block_id}/agents").get(
            blocks::agents,
            op("list_agents_for_block", "List agents for block"),
        ),
        route("/v1/archives/")
            .get(archives::list, op("list_archives", "List archives"))
            .post(archives::create, op("create_archive", "Create archive")),
        route("/v1/archives/{archive_id}")
            .get(
                archives::retrieve,
                op("retrieve_archive", "Retrieve archive"),
            )
            .patch(archives::modify, op("modify_archive", "Modify archive"))
            .delete(archives::delete, op("delete_archive", "Delete archive")),
        route("/v1/archives/{archive_id}/agents").get(
            archives::agents,
            op("list_agents_for_archive", "List agents for archive"),
        ),
        route("/v1/archives/{archive_id}/passages").post(
            archives::create_passage,
            op("create_passage_in_archive", "Create passage in archive"),
        ),
        route("/v1/archives/{archive_id}/passages/batch").post(
            archives::create_passages,
            op("create_passages_in_archive", "Create passages in archive"),
        ),
        route("/v1/archives/{archive_id}/passages/{passage_id}").delete(
            archives::delete_passage,
            op("delete_passage_from_archive", "Delete passage from archive"),
        ),
        route("/v1/agents/{agent_id}/archives/attach/{archive_id}").patch(
            archives::attach,
            op("attach_archive_to_agent", "Attach archive to agent"),
        ),
        route("/v1/agents/{agent_id}/archives/detach/{archive_id}").patch(
            archives::detach,
            op("detach_archive_from_agent", "Detach archive from agent"),
        ),
        route("/v1/passages/search").post(
            archives::search_passages,
            op("search_passages", "Search passages"),
        ),
        route("/v1/messages/").get(
            messages::list_all,
            op("list_all_messages", "List all messages"),
        ),
        route("/v1/messages/search").post(
            messages::search,
            op("search_all_messages", "Search all messages"),
        ),
        route("/v1/messages/{message_id}").get(
            messages::retrieve,
            op("retrieve_message", "Retrieve message"),
        ),
        route("/v1/conversations/")
            .get(
                conversations::list,
                op("list_conversations", "List conversations"),
            )
            .post(
                conversations::create,
                op("create_conversation", "Create conversation"),
            ),
        route("/v1/conversations/{conversation_id}")
            .get(
                conversations::retrieve,
                op("retrieve_conversation", "Retrieve conversation"),
            )
            .patch(
                conversations::update,
                op("update_conversation", "Update conversation"),
            )
            .delete(
                conversations::delete,
                op("delete_conversation", "Delete conversation"),
            ),
        route("/v1/conversations/{conversation_id}/fork").post(
            conversations::fork,
            op("fork_conversation", "Fork conversation"),
        ),
        route("/v1/conversations/{conversation_id}/messages")
            .get(
                conversations::messages,
                op("list_conversation_messages", "List conversation messages"),
            )
            .post(
                conversations::send,
                op("send_conversation_message", "Send conversation message")
                    .response::<LettaResponse>()
                    .sse(),
            ),
        route("/v1/conversations/{conversation_id}/messages/preview-raw-payload").post(
            conversations::preview,
            op(
                "preview_conversation_model_request",
                "Preview conversation model request",
            ),
        ),
        route("/v1/conversations/{conversation_id}/stream").post(
            conversations::stream,
            op(
                "retrieve_conversation_stream",
                "Retrieve conversation stream",
            )
            .sse(),
        ),
        route("/v1/conversations/{conversation_id}/cancel").post(
            conversations::cancel,
            op("cancel_conversation", "Cancel conversation"),
        ),
        route("/v1/conversations/{conversation_id}/recompile").post(
            conversations::recompile,
            op("recompile_conversation", "Recompile conversation"),
        ),
        route("/v1/conversations/{conversation_id}/compact").post(
            conversations::compact,
            op("compact_conversation", "Compact conversation"),
        ),
        route("/v1/groups/")
            .get(groups::list, op("list_groups", "List groups"))
            .post(groups::create, op("create_group", "Create group")),
        route("/v1/groups/count").get(groups::count, op("count_groups", "Count groups")),
        route("/v1/groups/{group_id}")
            .get(groups::retrieve, op("retrieve_group", "Retrieve group"))
            .patch(groups::modify, op("modify_group", "Modify group"))
            .delete(groups::delete, op("delete_group", "Delete group")),
        route("/v1/groups/{group_id}/blocks/attach/{block_id}").patch(
            groups::attach_block,
            op("attach_block_to_group", "Attach block to group"),
        ),
        route("/v1/groups/{group_id}/blocks/detach/{block_id}").patch(
            groups::detach_block,
            op("detach_block_from_group", "Detach block from group"),
        ),
        route("/v1/groups/{group_id}/messages")
            .get(
                groups::messages,
                op("list_group_messages", "List group messages"),
            )
            .post(
                groups::send,
                op("send_group_message", "Send a message to a group")
                    .response::<LettaResponse>()
                    .sse(),
            ),
        route("/v1/groups/{group_id}/messages/stream").post(
            groups::stream,
            op(
                "create_group_message_stream",
                "Send a message to a group, streaming the answer",
            )
            .sse(),
        ),
        route("/v1/groups/{group_id}/messages/{message_id}").patch(
            groups::modify_message,
            op("modify_group_message", "Modify group message"),
        ),
        route("/v1/groups/{group_id}/reset-messages").patch(
            groups::reset_messages,
            op("reset_group_messages", "Reset group messages"),
        ),
        route("/v1/agents/{agent_id}/groups").get(
            groups::of_agent,
            op("list_groups_for_agent", "List groups for agent"),
        ),
        route("/v1/identities/")
            .get(identities::list, op("list_identities", "List identities"))
            .post(identities::create, op("create_identity", "Create identity"))
            .put(identities::upsert, op("upsert_identity", "Upsert identity")),
        route("/v1/identities/count").get(
            identities::count,
            op("count_identities", "Count identities"),
        ),
        route("/v1/identities/{identity_id}")
            .get(
                identities::retrieve,
                op("retrieve_identity", "Retrieve identity"),
            )
            .patch(identities::modify, op("update_identity", "Update identity"))
            .delete(identities::delete, op("delete_identity", "Delete identity")),
        route("/v1/identities/{identity_id}/properties").put(
            identities::properties,
            op(
                "upsert_properties_for_identity",
                "Upsert properties for identity",
            ),
        ),
        route("/v1/identities/{identity_id}/agents").get(
            identities::agents,
            op("list_agents_for_identity", "List agents for identity"),
        ),
        route("/v1/identities/{identity_id}/blocks").get(
            identities::blocks,
            op("list_blocks_for_identity", "List blocks for identity"),
        ),
        route("/v1/agents/{agent_id}/identities/attach/{identity_id}").patch(
            identities::attach_to_agent,
            op("attach_identity_to_agent", "Attach identity to agent"),
        ),
        route("/v1/agents/{agent_id}/identities/detach/{identity_id}").patch(
            identities::detach_from_agent,
            op("detach_identity_from_agent", "Detach identity from agent"),
        ),
        route("/v1/blocks/{block_id}/identities/attach/{identity_id}").patch(
            identities::attach_to_block,
            op("attach_identity_to_block", "Attach identity to block"),
        ),
        route("/v1/blocks/{block_id}/identities/detach/{identity_id}").patch(
            identities::detach_from_block,
            op("detach_identity_from_block", "Detach identity from block"),
        ),
    ];
    let routes: Vec<Route> = (routes.into_iter())
        .chain(folder_routes())
        .chain(agent_folder_and_job_routes())
        .chain(tools::routes())
        .chain(mcp_legacy::routes())
        .chain(completions::routes())
        .chain(legacy::routes())
        .chain(crate::batches::routes())
        .chain(crate::telemetry::routes())
        .chain(crate::sandbox_config::routes())
        .chain(crate::admin::routes())
        .collect();
    let mut app = Router::new();
    let mut operations = Vec::new();
    let mut served = Vec::new();
    for route in routes {
        let (path, handler, documented) = route.into_parts();
        operations.extend(documented);
        served.push((path, handler));
    }
    let documents = openapi::routes(operations).into_iter().map(|r| {
        let (path, handler, _) = r.into_parts();
        (path, handler)
    });
    for (path, handler) in served.into_iter().chain(documents) {
        if let Some(bare) = path.strip_suffix('/') {
            app = app.route(bare, handler.clone());
        }
        app = app.route(path, handler);
    }
    app.merge(crate::web::router())
        .merge(crate::metrics::router())
        .fallback(unrouted::not_found)
        .method_not_allowed_fallback(unrouted::method_not_allowed)
        .layer(axum::middleware::from_fn(crate::body::read_small))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside the panic layer, so that a panic is recorded as the 500 it answers.
        .layer(axum::middleware::from_fn(crate::audit::record))
        // Outside the panic layer, so that a panic counts as the 500 it answers.
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::observe::request_span)
                .on_response(crate::observe::finished),
        )
        // Outside the trace layer, so that its span carries the id.
        .layer(axum::middleware::from_fn(crate::observe::request_id))
        .with_state(service)
}

/// Folders under both their names (`folders`, and Letta's older `sources`): the same handlers
/// on the same data, so either SDK generation reads what the other wrote. Then jobs.
fn folder_routes() -> Vec<Route> {
    vec![
        route("/v1/folders/")
            .get(folders::list, op("list_folders", "List folders"))
            .post(folders::create, op("create_folder", "Create folder")),
        route("/v1/sources/")
            .get(folders::list, op("list_sources", "List sources"))
            .post(folders::create, op("create_source", "Create source")),
        route("/v1/folders/count").get(folders::count, op("count_folders", "Count folders")),
        route("/v1/sources/count").get(folders::count, op("count_sources", "Count sources")),
        route("/v1/folders/metadata").get(
            folders::metadata,
            op("retrieve_metadata", "Retrieve metadata"),
        ),
        route("/v1/sources/metadata").get(
            folders::metadata,
            op("get_sources_metadata", "Get sources metadata"),
        ),
        route("/v1/folders/name/{folder_name}").get(
            folders::id_by_name,
            op("get_folder_by_name", "Get folder by name"),
        ),
        route("/v1/sources/name/{source_name}").get(
            folders::id_by_name,
            op("get_source_id_by_name", "Get source id by name"),
        ),
        route("/v1/folders/{folder_id}")
            .get(folders::retrieve, op("retrieve_folder", "Retrieve folder"))
            .patch(folders::modify, op("modify_folder", "Modify folder"))
            .delete(folders::delete, op("delete_folder", "Delete folder")),
        route("/v1/sources/{source_id}")
            .get(folders::retrieve, op("retrieve_source", "Retrieve source"))
            .patch(folders::modify, op("modify_source", "Modify source"))
            .delete(folders::delete, op("delete_source", "Delete source")),
        route("/v1/folders/{folder_id}/upload")
            .post(
                folders::upload,
                op("upload_file_to_folder", "Upload file to folder").response::<FileMetadata>(),
            )
            .with(|r| r.layer(axum::extract::DefaultBodyLimit::disable())),
        route("/v1/sources/{source_id}/upload")
            .post(
                folders::upload,
                op("upload_file_to_source", "Upload file to source").response::<FileMetadata>(),
            )
            .with(|r| r.layer(axum::extract::DefaultBodyLimit::disable())),
        route("/v1/folders/{folder_id}/passages").get(
            folders::passages,
            op("list_folder_passages", "List folder passages"),
        ),
        route("/v1/sources/{source_id}/passages").get(
            folders::passages,
            op("list_source_passages", "List source passages"),
        ),
        route("/v1/folders/{folder_id}/agents").get(
            folders::agents,
            op("list_agents_for_folder", "List agents for folder"),
        ),
        route("/v1/sources/{source_id}/agents").get(
            folders::agents,
            op("get_agents_for_source", "Get agents for source"),
        ),
        route("/v1/folders/{folder_id}/files").get(
            folders::files,
            op("list_files_for_folder", "List files for folder"),
        ),
        route("/v1/sources/{source_id}/files")
            .get(folders::files, op("list_source_files", "List source files")),
        route("/v1/folders/{folder_id}/files/{file_id}")
            .get(folders::file, op("retrieve_file", "Retrieve file")),
        route("/v1/sources/{source_id}/files/{file_id}")
            .get(folders::file, op("get_file_metadata", "Get file metadata")),
        route("/v1/folders/{folder_id}/{file_id}").delete(
            folders::delete_file,
            op("delete_file_from_folder", "Delete file from folder"),
        ),
        route("/v1/sources/{source_id}/{file_id}").delete(
            folders::delete_file,
            op("delete_file_from_source", "Delete file from source"),
        ),
    ]
}

/// An agent's folders, under both names, and the jobs of file processing.
fn agent_folder_and_job_routes() -> Vec<Route> {
    vec![
        route("/v1/agents/{agent_id}/folders").get(
            folders::of_agent,
            op("list_folders_for_agent", "List folders for agent"),
        ),
        route("/v1/agents/{agent_id}/sources").get(
            folders::of_agent,
            op("list_agent_sources", "List agent sources"),
        ),
        route("/v1/agents/{agent_id}/folders/attach/{folder_id}").patch(
            folders::attach,
            op("attach_folder_to_agent", "Attach folder to agent"),
        ),
        route("/v1/agents/{agent_id}/sources/attach/{source_id}").patch(
            folders::attach,
            op("attach_source_to_agent", "Attach source to agent"),
        ),
        route("/v1/agents/{agent_id}/folders/detach/{folder_id}").patch(
            folders::detach,
            op("detach_folder_from_agent", "Detach folder from agent"),
        ),
        route("/v1/agents/{agent_id}/sources/detach/{source_id}").patch(
            folders::detach,
            op("detach_source_from_agent", "Detach source from agent"),
        ),
        route("/v1/agents/{agent_id}/files").get(
            folders::agent_files,
            op("list_files_for_agent", "List files for agent"),
        ),
        route("/v1/agents/{agent_id}/files/close-all").patch(
            folders::close_all_agent_files,
            op("close_all_files_for_agent", "Close all files for agent"),
        ),
        route("/v1/agents/{agent_id}/files/{file_id}/open").patch(
            folders::open_agent_file,
            op("open_file_for_agent", "Open file for agent"),
        ),
        route("/v1/agents/{agent_id}/files/{file_id}/close").patch(
            folders::close_agent_file,
            op("close_file_for_agent", "Close file for agent"),
        ),
        route("/v1/jobs/").get(folders::jobs, op("list_jobs", "List jobs")),
        route("/v1/jobs/active").get(
            folders::active_jobs,
            op("list_active_jobs", "List active jobs"),
        ),
        route("/v1/jobs/{job_id}")
            .get(folders::job, op("retrieve_job", "Retrieve job"))
            .delete(folders::delete_job, op("delete_job", "Delete job")),
        route("/v1/jobs/{job_id}/cancel")
            .patch(folders::cancel_job, op("cancel_job", "Cancel job")),
    ]
}

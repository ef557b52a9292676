//! Every route mneme serves, in one table.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use mneme_service::Service;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, panic_response};
use crate::folders;
use crate::sandbox_config;
use crate::{
    agent_files, agents, archival, archives, blocks, conversations, groups, health, identities,
    mcp_servers, messages, models, providers, runs, steps, tools,
};

/// Builds the application. Collection roots answer with and without their trailing slash (the
/// SDK calls `/v1/agents/`, people type `/v1/agents`), without Letta's redirect.
pub fn router(service: Service) -> Router {
    let routes: Vec<(&str, MethodRouter<Service>)> = vec![
        ("/v1/health/", get(health::health)),
        ("/v1/ready/", get(health::ready)),
        ("/v1/models/", get(models::list_llms)),
        ("/v1/models/embedding", get(models::list_embeddings)),
        ("/v1/agents/", get(agents::list).post(agents::create)),
        ("/v1/agents/count", get(agents::count)),
        (
            "/v1/agents/import",
            post(agent_files::import).layer(axum::extract::DefaultBodyLimit::max(
                agent_files::MAX_IMPORT_BYTES,
            )),
        ),
        (
            "/v1/agents/{agent_id}/export",
            get(agent_files::export_get).post(agent_files::export_post),
        ),
        (
            "/v1/agents/{agent_id}",
            get(agents::retrieve)
                .patch(agents::modify)
                .delete(agents::delete),
        ),
        ("/v1/agents/{agent_id}/core-memory", get(agents::memory)),
        (
            "/v1/agents/{agent_id}/core-memory/blocks",
            get(agents::list_blocks),
        ),
        (
            "/v1/agents/{agent_id}/core-memory/blocks/{block_label}",
            get(agents::retrieve_block).patch(agents::modify_block),
        ),
        (
            "/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}",
            patch(agents::attach_block),
        ),
        (
            "/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}",
            patch(agents::detach_block),
        ),
        ("/v1/agents/{agent_id}/recompile", post(agents::recompile)),
        (
            "/v1/agents/{agent_id}/messages",
            get(messages::list).post(messages::send),
        ),
        (
            "/v1/agents/{agent_id}/messages/stream",
            post(messages::stream),
        ),
        (
            "/v1/agents/{agent_id}/messages/async",
            post(messages::send_async),
        ),
        (
            "/v1/agents/{agent_id}/messages/cancel",
            post(messages::cancel),
        ),
        (
            "/v1/agents/{agent_id}/messages/preview-raw-payload",
            post(messages::preview),
        ),
        (
            "/v1/agents/{agent_id}/messages/{message_id}",
            patch(messages::modify),
        ),
        (
            "/v1/agents/{agent_id}/reset-messages",
            patch(messages::reset),
        ),
        ("/v1/agents/{agent_id}/summarize", post(messages::summarize)),
        ("/v1/agents/{agent_id}/context", get(messages::context)),
        (
            "/v1/agents/{agent_id}/archival-memory",
            get(archival::list).post(archival::create),
        ),
        (
            "/v1/agents/{agent_id}/archival-memory/search",
            get(archival::search),
        ),
        (
            "/v1/agents/{agent_id}/archival-memory/{memory_id}",
            axum::routing::delete(archival::delete),
        ),
        ("/v1/agents/{agent_id}/tools", get(tools::of_agent)),
        (
            "/v1/agents/{agent_id}/tools/attach/{tool_id}",
            patch(tools::attach),
        ),
        (
            "/v1/agents/{agent_id}/tools/detach/{tool_id}",
            patch(tools::detach),
        ),
        (
            "/v1/agents/{agent_id}/tools/approval/{tool_name}",
            patch(tools::approval),
        ),
        (
            "/v1/tools/",
            get(tools::list).post(tools::create).put(tools::create),
        ),
        ("/v1/tools/count", get(tools::count)),
        ("/v1/tools/run", post(tools::run)),
        (
            "/v1/tools/{tool_id}",
            get(tools::retrieve)
                .patch(tools::modify)
                .delete(tools::delete),
        ),
        (
            "/v1/mcp-servers/",
            get(mcp_servers::list).post(mcp_servers::create),
        ),
        (
            "/v1/mcp-servers/{mcp_server_id}",
            get(mcp_servers::retrieve)
                .patch(mcp_servers::modify)
                .delete(mcp_servers::delete),
        ),
        (
            "/v1/mcp-servers/{mcp_server_id}/tools",
            get(mcp_servers::tools),
        ),
        (
            "/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}",
            get(mcp_servers::tool),
        ),
        (
            "/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}/run",
            post(mcp_servers::run),
        ),
        (
            "/v1/mcp-servers/{mcp_server_id}/refresh",
            patch(mcp_servers::refresh),
        ),
        (
            "/v1/providers/",
            get(providers::list).post(providers::create),
        ),
        ("/v1/providers/check", post(providers::check)),
        (
            "/v1/providers/{provider_id}",
            get(providers::retrieve)
                .patch(providers::modify)
                .delete(providers::delete),
        ),
        (
            "/v1/providers/{provider_id}/check",
            post(providers::check_existing),
        ),
        (
            "/v1/providers/{provider_id}/refresh",
            patch(providers::refresh),
        ),
        ("/v1/runs/", get(runs::list)),
        ("/v1/runs/active", get(runs::active)),
        (
            "/v1/runs/{run_id}",
            get(runs::retrieve).delete(runs::delete),
        ),
        ("/v1/runs/{run_id}/metrics", get(runs::metrics)),
        ("/v1/runs/{run_id}/messages", get(runs::messages)),
        ("/v1/runs/{run_id}/steps", get(runs::steps)),
        ("/v1/runs/{run_id}/usage", get(runs::usage)),
        (
            "/v1/runs/{run_id}/stream",
            post(runs::stream).get(runs::stream),
        ),
        ("/v1/steps/", get(steps::list)),
        ("/v1/steps/{step_id}", get(runs::step)),
        ("/v1/steps/{step_id}/feedback", patch(steps::feedback)),
        ("/v1/steps/{step_id}/messages", get(steps::messages)),
        ("/v1/steps/{step_id}/metrics", get(steps::metrics)),
        ("/v1/tags/", get(steps::tags)),
        (
            "/v1/agents/{agent_id}/system-prompt/recompile",
            post(agents::recompile),
        ),
        ("/v1/blocks/", get(blocks::list).post(blocks::create)),
        ("/v1/blocks/count", get(blocks::count)),
        (
            "/v1/blocks/{block_id}",
            get(blocks::retrieve)
                .patch(blocks::modify)
                .delete(blocks::delete),
        ),
        ("/v1/blocks/{block_id}/agents", get(blocks::agents)),
        ("/v1/archives/", get(archives::list).post(archives::create)),
        (
            "/v1/archives/{archive_id}",
            get(archives::retrieve)
                .patch(archives::modify)
                .delete(archives::delete),
        ),
        ("/v1/archives/{archive_id}/agents", get(archives::agents)),
        (
            "/v1/archives/{archive_id}/passages",
            post(archives::create_passage),
        ),
        (
            "/v1/archives/{archive_id}/passages/batch",
            post(archives::create_passages),
        ),
        (
            "/v1/archives/{archive_id}/passages/{passage_id}",
            axum::routing::delete(archives::delete_passage),
        ),
        (
            "/v1/agents/{agent_id}/archives/attach/{archive_id}",
            patch(archives::attach),
        ),
        (
            "/v1/agents/{agent_id}/archives/detach/{archive_id}",
            patch(archives::detach),
        ),
        ("/v1/passages/search", post(archives::search_passages)),
        ("/v1/messages/", get(messages::list_all)),
        ("/v1/messages/search", post(messages::search)),
        ("/v1/messages/{message_id}", get(messages::retrieve)),
        (
            "/v1/conversations/",
            get(conversations::list).post(conversations::create),
        ),
        (
            "/v1/conversations/{conversation_id}",
            get(conversations::retrieve)
                .patch(conversations::update)
                .delete(conversations::delete),
        ),
        (
            "/v1/conversations/{conversation_id}/fork",
            post(conversations::fork),
        ),
        (
            "/v1/conversations/{conversation_id}/messages",
            get(conversations::messages).post(conversations::send),
        ),
        (
            "/v1/conversations/{conversation_id}/messages/preview-raw-payload",
            post(conversations::preview),
        ),
        (
            "/v1/conversations/{conversation_id}/stream",
            post(conversations::stream),
        ),
        (
            "/v1/conversations/{conversation_id}/cancel",
            post(conversations::cancel),
        ),
        (
            "/v1/conversations/{conversation_id}/recompile",
            post(conversations::recompile),
        ),
        (
            "/v1/conversations/{conversation_id}/compact",
            post(conversations::compact),
        ),
        ("/v1/groups/", get(groups::list).post(groups::create)),
        ("/v1/groups/count", get(groups::count)),
        (
            "/v1/groups/{group_id}",
            get(groups::retrieve)
                .patch(groups::modify)
                .delete(groups::delete),
        ),
        (
            "/v1/groups/{group_id}/blocks/attach/{block_id}",
            patch(groups::attach_block),
        ),
        (
            "/v1/groups/{group_id}/blocks/detach/{block_id}",
            patch(groups::detach_block),
        ),
        (
            "/v1/groups/{group_id}/messages",
            get(groups::messages).post(groups::send),
        ),
        (
            "/v1/groups/{group_id}/messages/stream",
            post(groups::stream),
        ),
        (
            "/v1/groups/{group_id}/messages/{message_id}",
            patch(groups::modify_message),
        ),
        (
            "/v1/groups/{group_id}/reset-messages",
            patch(groups::reset_messages),
        ),
        ("/v1/agents/{agent_id}/groups", get(groups::of_agent)),
        (
            "/v1/identities/",
            get(identities::list)
                .post(identities::create)
                .put(identities::upsert),
        ),
        ("/v1/identities/count", get(identities::count)),
        (
            "/v1/identities/{identity_id}",
            get(identities::retrieve)
                .patch(identities::modify)
                .delete(identities::delete),
        ),
        (
            "/v1/identities/{identity_id}/properties",
            put(identities::properties),
        ),
        (
            "/v1/identities/{identity_id}/agents",
            get(identities::agents),
        ),
        (
            "/v1/identities/{identity_id}/blocks",
            get(identities::blocks),
        ),
        (
            "/v1/agents/{agent_id}/identities/attach/{identity_id}",
            patch(identities::attach_to_agent),
        ),
        (
            "/v1/agents/{agent_id}/identities/detach/{identity_id}",
            patch(identities::detach_from_agent),
        ),
        (
            "/v1/blocks/{block_id}/identities/attach/{identity_id}",
            patch(identities::attach_to_block),
        ),
        (
            "/v1/blocks/{block_id}/identities/detach/{identity_id}",
            patch(identities::detach_from_block),
        ),
    ];
    let mut app = Router::new();
    let routes = (routes.into_iter())
        .chain(folder_routes())
        .chain(agent_folder_and_job_routes())
        .chain(sandbox_config::routes());
    for (path, handler) in routes {
        if let Some(bare) = path.strip_suffix('/') {
            app = app.route(bare, handler.clone());
        }
        app = app.route(path, handler);
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(service)
}

/// Folders under both their names (`folders`, and Letta's older `sources`): the same handlers
/// on the same data, so either SDK generation reads what the other wrote. Then jobs.
fn folder_routes() -> Vec<(&'static str, MethodRouter<Service>)> {
    vec![
        ("/v1/folders/", get(folders::list).post(folders::create)),
        ("/v1/sources/", get(folders::list).post(folders::create)),
        ("/v1/folders/count", get(folders::count)),
        ("/v1/sources/count", get(folders::count)),
        ("/v1/folders/metadata", get(folders::metadata)),
        ("/v1/sources/metadata", get(folders::metadata)),
        ("/v1/folders/name/{folder_name}", get(folders::id_by_name)),
        ("/v1/sources/name/{source_name}", get(folders::id_by_name)),
        (
            "/v1/folders/{folder_id}",
            get(folders::retrieve)
                .patch(folders::modify)
                .delete(folders::delete),
        ),
        (
            "/v1/sources/{source_id}",
            get(folders::retrieve)
                .patch(folders::modify)
                .delete(folders::delete),
        ),
        (
            "/v1/folders/{folder_id}/upload",
            post(folders::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        (
            "/v1/sources/{source_id}/upload",
            post(folders::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        ("/v1/folders/{folder_id}/passages", get(folders::passages)),
        ("/v1/sources/{source_id}/passages", get(folders::passages)),
        ("/v1/folders/{folder_id}/agents", get(folders::agents)),
        ("/v1/sources/{source_id}/agents", get(folders::agents)),
        ("/v1/folders/{folder_id}/files", get(folders::files)),
        ("/v1/sources/{source_id}/files", get(folders::files)),
        (
            "/v1/folders/{folder_id}/files/{file_id}",
            get(folders::file),
        ),
        (
            "/v1/sources/{source_id}/files/{file_id}",
            get(folders::file),
        ),
        (
            "/v1/folders/{folder_id}/{file_id}",
            delete(folders::delete_file),
        ),
        (
            "/v1/sources/{source_id}/{file_id}",
            delete(folders::delete_file),
        ),
    ]
}

/// An agent's folders, under both names, and the jobs of file processing.
fn agent_folder_and_job_routes() -> Vec<(&'static str, MethodRouter<Service>)> {
    vec![
        ("/v1/agents/{agent_id}/folders", get(folders::of_agent)),
        ("/v1/agents/{agent_id}/sources", get(folders::of_agent)),
        (
            "/v1/agents/{agent_id}/folders/attach/{folder_id}",
            patch(folders::attach),
        ),
        (
            "/v1/agents/{agent_id}/sources/attach/{source_id}",
            patch(folders::attach),
        ),
        (
            "/v1/agents/{agent_id}/folders/detach/{folder_id}",
            patch(folders::detach),
        ),
        (
            "/v1/agents/{agent_id}/sources/detach/{source_id}",
            patch(folders::detach),
        ),
        ("/v1/agents/{agent_id}/files", get(folders::agent_files)),
        (
            "/v1/agents/{agent_id}/files/close-all",
            patch(folders::close_all_agent_files),
        ),
        (
            "/v1/agents/{agent_id}/files/{file_id}/open",
            patch(folders::open_agent_file),
        ),
        (
            "/v1/agents/{agent_id}/files/{file_id}/close",
            patch(folders::close_agent_file),
        ),
        ("/v1/jobs/", get(folders::jobs)),
        ("/v1/jobs/active", get(folders::active_jobs)),
        (
            "/v1/jobs/{job_id}",
            get(folders::job).delete(folders::delete_job),
        ),
        ("/v1/jobs/{job_id}/cancel", patch(folders::cancel_job)),
    ]
}

async fn not_found() -> ApiError {
    ApiError::Status(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::Status(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

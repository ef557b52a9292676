//! Agent Files: `GET|POST /v1/agents/{id}/export` and `POST /v1/agents/import` (multipart).

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mneme_service::{ExportOptions, ImportOptions, ImportedAgents, Service, ServiceError};
use mneme_types::{AgentId, ConversationId};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Project};

/// The largest Agent File `POST /v1/agents/import` takes.
pub(crate) const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    scrub_messages: bool,
    #[serde(default)]
    use_legacy_format: bool,
    conversation_id: Option<ConversationId>,
}

/// `ExportAgentRequest`; `skills` are accepted and not exported yet.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ExportBody {
    #[serde(default)]
    scrub_messages: bool,
    conversation_id: Option<ConversationId>,
}

pub(crate) async fn export_get(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    if q.use_legacy_format {
        let why =
            "The legacy Agent File format is no longer written; export without use_legacy_format";
        return Err(ServiceError::BadRequest(why.into()).into());
    }
    let opts = ExportOptions {
        scrub_messages: q.scrub_messages,
        conversation: q.conversation_id,
    };
    export(app, id, opts).await
}

pub(crate) async fn export_post(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(body): ApiJson<Option<ExportBody>>,
) -> Result<Response, ApiError> {
    let body = body.unwrap_or_default();
    let opts = ExportOptions {
        scrub_messages: body.scrub_messages,
        conversation: body.conversation_id,
    };
    export(app, id, opts).await
}

/// The document, pretty-printed with two-space indents as Letta writes it.
async fn export(app: Service, id: AgentId, opts: ExportOptions) -> Result<Response, ApiError> {
    let text = app.export_agent_file(id, opts).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

/// `POST /v1/agents/import`: the `file` part and the options as text parts (Letta's
/// `Body_import_agent`).
pub(crate) async fn import(
    State(app): State<Service>,
    Project(project): Project,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Json<ImportedAgents>, ApiError> {
    let (file, mut opts) = read_form(multipart).await?;
    // The header wins over the form's field, as in Letta.
    if project.is_some() {
        opts.project_id = project;
    }
    if let Some(handle) = headers
        .get("x-override-embedding-model")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        opts.embedding.get_or_insert_with(|| handle.to_owned());
    }
    let file = file.ok_or_else(|| ApiError::Malformed {
        loc: vec!["body".into(), "file".into()],
        msg: "Field required".into(),
        kind: "missing",
    })?;
    Ok(Json(app.import_agent_file(file, opts).await?))
}

/// The form's parts: the file's bytes and the options.
async fn read_form(mut form: Multipart) -> Result<(Option<Vec<u8>>, ImportOptions), ApiError> {
    let mut file = None;
    let mut opts = ImportOptions::default();
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file = Some(Vec::from(field.bytes().await.map_err(bad_form)?));
            continue;
        }
        let value = field.text().await.map_err(bad_form)?;
        opts.set(&name, &value)?;
    }
    Ok((file, opts))
}

fn bad_form(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let detail = e.body_text();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::Status(StatusCode::PAYLOAD_TOO_LARGE, "The Agent File is too large");
    }
    ApiError::Service(ServiceError::BadRequest(format!(
        "Cannot read the upload: {detail}"
    )))
}

//! The route table's documentation: every route is declared with [`route`] and each method with
//! its handler and an [`Op`] (operationId, summary), so nothing is served undocumented. What a
//! handler reads and answers (path, query, body, response) is taken from its signature's
//! types ([`Documented`]), so the document describes the code, not a copy of it.
//!
//! Converting a `Vec<(&'static str, MethodRouter<Service>)>` list (the older form) is
//! mechanical: `("/v1/x/{id}", get(x::retrieve).delete(x::delete))` becomes
//! `route("/v1/x/{id}").get(x::retrieve, op("retrieve_x", "Fetch one x")).delete(x::delete,
//! op("delete_x", "Delete an x"))`, with Letta's operationId where Letta has the route; a
//! handler answering a raw `Response` adds `.response::<T>()` (or `.sse()`) to its `Op`.

pub(crate) mod describe;
mod document;

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::handler::Handler;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use mneme_service::Service;
use schemars::{JsonSchema, Schema, SchemaGenerator};

pub(crate) use describe::Documented;
use describe::Parts;

/// Builds a schema (a `$ref` for named types) in a generator.
pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What the table says of one operation beyond its handler's types.
#[derive(Clone)]
pub(crate) struct Op {
    id: &'static str,
    summary: &'static str,
    response: Option<SchemaFn>,
    /// The schema of each `data:` payload of a server-sent event stream.
    sse: Option<SchemaFn>,
}

/// An operation with Letta's operationId (or our own snake_case one) and a one-line summary.
pub(crate) fn op(id: &'static str, summary: &'static str) -> Op {
    Op {
        id,
        summary,
        response: None,
        sse: None,
    }
}

impl Op {
    /// The JSON body of a handler that answers a built `Response`.
    pub(crate) fn response<T: JsonSchema>(mut self) -> Op {
        self.response = Some(schema_of::<T>);
        self
    }

    /// A stream of `LettaStreamingResponse` server-sent events (the JSON answer, if any, is
    /// given with [`Op::response`]).
    pub(crate) fn sse(self) -> Op {
        self.sse_of::<mneme_types::LettaStreamingResponse>()
    }

    /// A stream of server-sent events whose `data:` payloads are `T`s.
    pub(crate) fn sse_of<T: JsonSchema>(mut self) -> Op {
        self.sse = Some(schema_of::<T>);
        self
    }
}

/// One documented method of a route.
#[derive(Clone)]
pub(crate) struct Operation {
    method: &'static str,
    path: &'static str,
    op: Op,
    describe: fn(&mut Parts),
}

/// A path with its methods, each with a handler and its documentation.
pub(crate) struct Route {
    path: &'static str,
    router: MethodRouter<Service>,
    operations: Vec<Operation>,
}

/// Starts a route; chain one call per method.
pub(crate) fn route(path: &'static str) -> Route {
    Route {
        path,
        router: MethodRouter::new(),
        operations: Vec::new(),
    }
}

macro_rules! method {
    ($name:ident, $method:literal) => {
        pub(crate) fn $name<H, T, A>(mut self, handler: H, op: Op) -> Route
        where
            H: Handler<T, Service> + Documented<A>,
            T: 'static,
        {
            self.router = self.router.$name(handler);
            self.document($method, op, <H as Documented<A>>::describe)
        }
    };
}

impl Route {
    method!(get, "get");
    method!(post, "post");
    method!(put, "put");
    method!(patch, "patch");
    method!(delete, "delete");

    fn document(mut self, method: &'static str, op: Op, describe: fn(&mut Parts)) -> Route {
        let path = self.path;
        self.operations.push(Operation {
            method,
            path,
            op,
            describe,
        });
        self
    }

    /// Wraps the methods declared so far (body limits and other layers).
    pub(crate) fn with(
        mut self,
        f: impl FnOnce(MethodRouter<Service>) -> MethodRouter<Service>,
    ) -> Route {
        self.router = f(self.router);
        self
    }

    pub(crate) fn into_parts(self) -> (&'static str, MethodRouter<Service>, Vec<Operation>) {
        (self.path, self.router, self.operations)
    }
}

/// `GET /openapi.json` and `GET /docs`, serving the document of `operations` (these two
/// included). The document is built on the first request, not at start-up.
pub(crate) fn routes(mut operations: Vec<Operation>) -> Vec<Route> {
    let spec = route("/openapi.json").get(
        not_built_here,
        op(
            "openapi_document",
            "This document: every route mneme serves",
        )
        .response::<Document>(),
    );
    let docs = route("/docs").get(
        docs_page,
        op("docs_page", "Interactive documentation of the API (HTML)").response::<String>(),
    );
    operations.extend(spec.operations.iter().cloned());
    operations.extend(docs.operations.iter().cloned());
    let cache = Arc::new(Cache {
        operations,
        json: OnceLock::new(),
    });
    let serve = move || {
        let cache = Arc::clone(&cache);
        async move { cache.response() }
    };
    vec![
        Route {
            router: get(serve),
            ..spec
        },
        docs,
    ]
}

/// Stands in for the real handler in the table (it needs the table itself).
async fn not_built_here() -> Json<Document> {
    Json(Document::default())
}

/// The document's shape as far as a client can rely on it: an OpenAPI 3.1 object.
#[derive(Default, serde::Serialize, JsonSchema)]
struct Document {
    openapi: String,
    info: serde_json::Map<String, serde_json::Value>,
    paths: serde_json::Map<String, serde_json::Value>,
    components: serde_json::Map<String, serde_json::Value>,
}

struct Cache {
    operations: Vec<Operation>,
    json: OnceLock<Vec<u8>>,
}

impl Cache {
    fn response(&self) -> Response {
        let body = self
            .json
            .get_or_init(|| document::build(&self.operations))
            .clone();
        let json = HeaderValue::from_static("application/json");
        ([(header::CONTENT_TYPE, json)], body).into_response()
    }
}

async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

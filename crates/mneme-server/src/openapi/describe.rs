//! What a handler's signature says about its operation: each extractor contributes its part
//! (path, query, body) and the return type the response.

use std::future::Future;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Response};
use schemars::JsonSchema;

use super::{SchemaFn, schema_of};
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Project};

/// A request body.
#[derive(Clone, Copy)]
pub(crate) enum Body {
    Json(SchemaFn),
    /// A form with a `file` part (uploads, Agent File imports).
    Multipart,
}

/// A successful answer.
#[derive(Clone, Copy)]
pub(crate) enum Reply {
    Json(SchemaFn),
    Html,
    /// `204 No Content`.
    Empty,
    /// A built `Response`: the table's `Op` says what it holds.
    Opaque,
}

/// The parts of an operation found in its handler's signature.
pub(crate) struct Parts {
    /// The path parameters' type (a tuple for several, in template order).
    pub(crate) path: Option<SchemaFn>,
    /// The query structs, each an object whose properties are parameters.
    pub(crate) query: Vec<SchemaFn>,
    pub(crate) body: Option<Body>,
    pub(crate) reply: Reply,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            path: None,
            query: Vec::new(),
            body: None,
            reply: Reply::Opaque,
        }
    }
}

/// An extractor's part of the operation.
pub(crate) trait ArgDoc {
    fn describe(_: &mut Parts) {}
}

impl<S> ArgDoc for State<S> {}
impl ArgDoc for Client {}
impl ArgDoc for HeaderMap {}
impl ArgDoc for Project {}

impl ArgDoc for Multipart {
    fn describe(parts: &mut Parts) {
        parts.body = Some(Body::Multipart);
    }
}

impl ArgDoc for Result<Multipart, MultipartRejection> {
    fn describe(parts: &mut Parts) {
        parts.body = Some(Body::Multipart);
    }
}

impl<T: JsonSchema> ArgDoc for ApiPath<T> {
    fn describe(parts: &mut Parts) {
        parts.path = Some(schema_of::<T>);
    }
}

impl<T: JsonSchema> ArgDoc for ApiQuery<T> {
    fn describe(parts: &mut Parts) {
        parts.query.push(query_object::<T>);
    }
}

/// A query struct inline (its properties become parameters), not as a `$ref`.
fn query_object<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    T::json_schema(generator)
}

impl<T: JsonSchema> ArgDoc for ApiJson<T> {
    fn describe(parts: &mut Parts) {
        parts.body = Some(Body::Json(schema_of::<T>));
    }
}

/// A handler's answer.
pub(crate) trait ReplyDoc {
    fn reply() -> Reply;
}

impl<T: JsonSchema> ReplyDoc for Json<T> {
    fn reply() -> Reply {
        Reply::Json(schema_of::<T>)
    }
}

impl<T> ReplyDoc for Html<T> {
    fn reply() -> Reply {
        Reply::Html
    }
}

impl ReplyDoc for StatusCode {
    fn reply() -> Reply {
        Reply::Empty
    }
}

impl ReplyDoc for Response {
    fn reply() -> Reply {
        Reply::Opaque
    }
}

/// A handler that only ever fails (a retired route).
impl ReplyDoc for ApiError {
    fn reply() -> Reply {
        Reply::Opaque
    }
}

impl<T: ReplyDoc> ReplyDoc for Result<T, ApiError> {
    fn reply() -> Reply {
        T::reply()
    }
}

/// A handler whose arguments `A` and answer document themselves.
pub(crate) trait Documented<A> {
    fn describe(parts: &mut Parts);
}

macro_rules! documented {
    ($($arg:ident),*) => {
        impl<F, Fut, Out, $($arg,)*> Documented<($($arg,)*)> for F
        where
            F: FnOnce($($arg,)*) -> Fut,
            Fut: Future<Output = Out>,
            Out: ReplyDoc,
            $($arg: ArgDoc,)*
        {
            fn describe(parts: &mut Parts) {
                $(<$arg as ArgDoc>::describe(parts);)*
                parts.reply = Out::reply();
            }
        }
    };
}

documented!();
documented!(A1);
documented!(A1, A2);
documented!(A1, A2, A3);
documented!(A1, A2, A3, A4);
documented!(A1, A2, A3, A4, A5);
documented!(A1, A2, A3, A4, A5, A6);
documented!(A1, A2, A3, A4, A5, A6, A7);

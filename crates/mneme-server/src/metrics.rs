//! `GET /metrics`: Prometheus's text exposition (`mneme-metrics`), and the layer that times
//! every request. Not a Letta route, so not in the OpenAPI document (like the web UI's `/`).
//! With `--metrics false` nothing is recorded and the route answers 404.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mneme_metrics::Gauge;
use mneme_service::Service;

use crate::error::ApiError;

pub(crate) fn router() -> Router<Service> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(service): State<Service>) -> Response {
    if !mneme_metrics::enabled() {
        return ApiError::Status(StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let text = mneme_metrics::render(&pool_gauges(&service));
    ([(header::CONTENT_TYPE, mneme_metrics::CONTENT_TYPE)], text).into_response()
}

/// The PostgreSQL pool's size and idle connections; SQLite has no pool to report.
fn pool_gauges(service: &Service) -> Vec<Gauge> {
    let Some(pool) = service.pool_state() else {
        return Vec::new();
    };
    vec![
        Gauge {
            name: "mneme_db_pool_connections",
            help: "Database connections open (in use or idle).",
            value: f64::from(pool.size),
        },
        Gauge {
            name: "mneme_db_pool_idle_connections",
            help: "Database connections open and idle.",
            value: f64::from(pool.idle),
        },
        Gauge {
            name: "mneme_db_pool_max_connections",
            help: "The most database connections the pool opens.",
            value: f64::from(pool.max),
        },
    ]
}

/// Times a request under its route template (`/v1/agents/{agent_id}`, never the raw path:
/// bounded label values); a request no route matched counts as `unmatched`.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    if !mneme_metrics::enabled() {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let _in_flight = mneme_metrics::in_flight();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", |r| r.as_str());
    mneme_metrics::request(method, route, response.status().as_u16(), started.elapsed());
    response
}

/// The standard methods by name; any other (a client may send any token) as `OTHER`, so that
/// the label stays bounded.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ]
    .into_iter()
    .zip(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    .find_map(|(m, name)| (m == method).then_some(name))
    .unwrap_or("OTHER")
}

//! Requests no route serves. A Letta operation mneme does not serve answers 501 naming it, so
//! a client learns the server lacks it instead of suspecting a mistyped URL; anything else is
//! the plain 404 (or 405) of an unknown route.

use std::sync::OnceLock;

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode, Uri};

use crate::error::ApiError;

/// Every operation a Letta server or SDK generation knows (`scripts/letta-routes` writes it).
const LETTA_ROUTES: &str = include_str!("letta_routes.txt");

/// One line of `letta_routes.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LettaOperation {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) operation_id: &'static str,
    /// Where it comes from: `0.16.7` (the self-hosted server), `1.x` (only the newer, Letta
    /// Cloud spec), `0.1.x` (only the seed-era SDK).
    pub(crate) source: &'static str,
}

fn operations() -> &'static [LettaOperation] {
    static OPS: OnceLock<Vec<LettaOperation>> = OnceLock::new();
    OPS.get_or_init(|| LETTA_ROUTES.lines().filter_map(parse_line).collect())
}

fn parse_line(line: &'static str) -> Option<LettaOperation> {
    let mut parts = line.split_whitespace();
    Some(LettaOperation {
        method: parts.next()?,
        path: parts.next()?,
        operation_id: parts.next()?,
        source: parts.next()?,
    })
}

/// The Letta operation `method path` names, if any. Where several templates match, the one with
/// the most literal segments wins (`/v1/sources/{id}/files` over `/v1/sources/{id}/{file_id}`).
/// A template whose parameter only captured a literal segment of a more specific path (`PATCH
/// /v1/agents/import` against `PATCH /v1/agents/{agent_id}`, where Letta has `POST
/// /v1/agents/import`) names nothing: that request is a wrong method on a known path, a 405,
/// not an operation mneme lacks.
pub(crate) fn letta_operation(method: &Method, path: &str) -> Option<LettaOperation> {
    let wanted: Vec<&str> = segments(path).collect();
    let matching = || {
        operations()
            .iter()
            .filter_map(|op| literal_matches(op.path, &wanted).map(|literals| (literals, *op)))
    };
    let (literals, op) = matching()
        .filter(|(_, op)| op.method == method.as_str())
        .max_by_key(|(literals, _)| *literals)?;
    let most_specific = matching().map(|(l, _)| l).max().unwrap_or(literals);
    (literals == most_specific).then_some(op)
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/')
}

/// How many literal segments of `template` match `wanted`, or `None` when it does not match.
fn literal_matches(template: &str, wanted: &[&str]) -> Option<usize> {
    let mut literals = 0;
    let mut count = 0;
    for (i, part) in segments(template).enumerate() {
        let given = wanted.get(i)?;
        if part.starts_with('{') {
            if given.is_empty() {
                return None;
            }
        } else if part == *given {
            literals += 1;
        } else {
            return None;
        }
        count += 1;
    }
    (count == wanted.len()).then_some(literals)
}

fn not_implemented(op: LettaOperation) -> ApiError {
    let whose = match op.source {
        "1.x" => "a Letta Cloud operation, not served by self-hosted servers",
        "0.1.x" => "an operation of older Letta SDKs",
        _ => "a Letta operation",
    };
    ApiError::NotImplemented(format!(
        "{} {} ({}) is {whose}; mneme does not serve it",
        op.method, op.path, op.operation_id
    ))
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    match letta_operation(&method, uri.path()) {
        Some(op) => not_implemented(op),
        None => ApiError::Status(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// A path mneme routes, with a method it does not serve there. The 501 is only for a Letta
/// operation on the very route that matched (same template): `PATCH
/// /v1/groups/{id}/messages/stream` matched mneme's `.../messages/stream`, so Letta's `PATCH
/// .../messages/{message_id}` is not what was asked and the answer is 405.
pub(crate) async fn method_not_allowed(
    method: Method,
    matched: Option<MatchedPath>,
    uri: Uri,
) -> ApiError {
    let op = letta_operation(&method, uri.path()).filter(|op| {
        matched
            .as_ref()
            .is_none_or(|m| same_template(m.as_str(), op.path))
    });
    match op {
        Some(op) => not_implemented(op),
        None => ApiError::Status(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
    }
}

/// Whether two route templates match the same paths (parameter names aside).
fn same_template(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (segments(a).collect(), segments(b).collect());
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || (x.starts_with('{') && y.starts_with('{')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        assert_eq!(operations().len(), LETTA_ROUTES.lines().count());
    }

    #[test]
    fn templates_match_ids_and_prefer_literals() {
        let op = letta_operation(&Method::DELETE, "/v1/admin/users/").map(|op| op.operation_id);
        assert_eq!(op, Some("delete_user"));
        let op = letta_operation(&Method::GET, "/v1/admin/users").map(|op| op.operation_id);
        assert_eq!(op, Some("list_users"));
        let op = letta_operation(&Method::GET, "/v1/sources/source-1/files");
        assert_eq!(op.map(|op| op.path), Some("/v1/sources/{source_id}/files"));
        assert_eq!(letta_operation(&Method::GET, "/v1/agentz/"), None);
        assert_eq!(letta_operation(&Method::GET, "/v1/agents/a/b/c/d/e"), None);
        assert_eq!(letta_operation(&Method::GET, "/v1/blocks//agents"), None);
    }

    #[test]
    fn a_parameter_capturing_a_literal_path_names_no_operation() {
        // Letta has POST /v1/agents/import: a PATCH there is a wrong method, not modify_agent.
        assert_eq!(letta_operation(&Method::PATCH, "/v1/agents/import"), None);
        let op = letta_operation(&Method::PATCH, "/v1/agents/agent-1").map(|op| op.operation_id);
        assert_eq!(op, Some("modify_agent"));
    }

    #[test]
    fn templates_compare_by_shape() {
        assert!(same_template("/v1/admin/orgs", "/v1/admin/orgs/"));
        assert!(same_template("/v1/a/{id}/b", "/v1/a/{agent_id}/b"));
        assert!(!same_template(
            "/v1/g/{id}/messages/stream",
            "/v1/g/{id}/messages/{m}"
        ));
    }
}

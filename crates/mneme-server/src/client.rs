//! What kind of client is calling, which decides the default `include` of agent reads.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mneme_service::Include;

/// Letta loads no relationships on agent reads for 1.x SDK clients unless asked with
/// `include=`, and everything for older clients. A 1.x client is one that sends
/// `X-Stainless-Package-Version`, a `letta-client/1.*` user agent, or no user agent at all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    pub(crate) modern: bool,
}

impl Client {
    /// The relationships to load for an agent read, given the `include` names asked for.
    pub(crate) fn include(&self, asked: &[String]) -> Include {
        if !self.modern {
            return Include::ALL;
        }
        Include::from_names(asked.iter().map(String::as_str))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        if headers.contains_key("x-stainless-package-version") {
            return Ok(Client { modern: true });
        }
        let modern = match headers.get("user-agent").and_then(|v| v.to_str().ok()) {
            None => true,
            Some(ua) => ua.starts_with("letta-client/1."),
        };
        Ok(Client { modern })
    }
}

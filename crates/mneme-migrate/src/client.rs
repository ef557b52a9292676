//! The source server over HTTP: JSON reads and cursor-paged lists, as every Letta version since
//! the 0.6 line serves them (`limit`, `after`, ascending order).

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{MigrateError, Result};

/// How many items a page asks for: Letta's routes cap lists at 100 or more.
pub(crate) const PAGE: usize = 100;

/// A Letta server (or any server of its API) read over HTTP.
pub(crate) struct Source {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// An item of a cursor-paged list: the next page starts after its id.
#[derive(Deserialize)]
struct Cursor {
    id: String,
}

impl Source {
    pub(crate) fn new(url: &str, token: Option<String>) -> Result<Source> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // An export of a long history is one large answer from a slow server.
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| MigrateError::Source(format!("cannot build an HTTP client: {e}")))?;
        Ok(Source {
            http,
            base: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The body of `GET path` (with its query), or the server's refusal.
    pub(crate) async fn text(&self, path: &str) -> Result<String> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.get(&url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|e| MigrateError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let status = res.status();
        let body = res.text().await.map_err(|e| MigrateError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            return Err(MigrateError::Status {
                url,
                status: status.as_u16(),
                body: body.chars().take(500).collect(),
            });
        }
        Ok(body)
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let body = self.text(path).await?;
        decode(path, &body)
    }

    /// Every item of a paged list: pages of [`PAGE`] after the last id seen, until a short
    /// page. `path` may carry a query of its own.
    pub(crate) async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        let (items, _) = self.list_while(path, None, PAGE, |_: &T| true).await?;
        Ok(items)
    }

    /// The items of a paged list, from its start or after the item `after`, in pages of
    /// `page`, up to the first for which `keep` is false (returned beside them), or all.
    ///
    /// Items may share an id (a history listing shows one stored message as several views),
    /// and a cursor skips every item of its id: so a full page gives up its last id's items,
    /// which the next page starts with.
    pub(crate) async fn list_while<T: DeserializeOwned>(
        &self,
        path: &str,
        mut after: Option<String>,
        page: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Option<T>)> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        loop {
            let mut page_path = format!("{path}{sep}limit={page}");
            if let Some(a) = &after {
                page_path.push_str("&after=");
                page_path.push_str(a);
            }
            let body = self.text(&page_path).await?;
            let ids: Vec<Cursor> = decode(&page_path, &body)?;
            let mut items: Vec<T> = decode(&page_path, &body)?;
            let full = items.len() >= page;
            let next = if full { resume_at(&ids) } else { None };
            if let Some((k, _)) = &next {
                items.truncate(k + 1);
            }
            if let Some(stop) = items.iter().position(|x| !keep(x)) {
                let first_left = items.drain(stop..).next();
                out.extend(items);
                return Ok((out, first_left));
            }
            out.extend(items);
            let Some((_, next)) = next else {
                return Ok((out, None));
            };
            // A server that ignores the cursor would page forever: stop on a repeat.
            if after.as_deref() == Some(next.as_str()) {
                return Ok((out, None));
            }
            after = Some(next);
        }
    }
}

/// Where the page after a full one starts: after the last item whose id differs from the
/// page's last (that id's items may go on in the next page), as (index, id).
fn resume_at(ids: &[Cursor]) -> Option<(usize, String)> {
    let last = ids.last()?.id.as_str();
    match ids.iter().rposition(|c| c.id != last) {
        Some(k) => Some((k, ids[k].id.clone())),
        // One id fills the page: nothing smaller to resume from.
        None => Some((ids.len() - 1, last.to_owned())),
    }
}

fn decode<T: DeserializeOwned>(path: &str, body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| MigrateError::Decode {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

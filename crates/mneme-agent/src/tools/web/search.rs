//! `web_search` over one of three backends, answered in Letta's shape: a pretty-printed JSON
//! document `{"query", "results": [{title, url, published_date, author, text?, highlights?,
//! summary?}]}`, or `{"query", "error"}` when the backend fails.

use serde_json::{Map, Value, json};

use super::{SearchBackend, WebOptions};
use crate::tools::Args;

/// Letta's `num_results` default and bounds.
const DEFAULT_RESULTS: i64 = 10;
const MAX_RESULTS: i64 = 100;

/// What the model asked for, read from its arguments.
struct Query {
    text: String,
    count: i64,
    category: Option<String>,
    include_text: bool,
    include_domains: Vec<String>,
    exclude_domains: Vec<String>,
    start_published: Option<String>,
    end_published: Option<String>,
    user_location: Option<String>,
}

impl Query {
    fn read(args: &Args) -> Result<Query, String> {
        Ok(Query {
            text: args.string("query")?,
            count: args
                .int_or("num_results", DEFAULT_RESULTS)?
                .clamp(1, MAX_RESULTS),
            category: args.opt_string("category")?,
            include_text: args.flag("include_text"),
            include_domains: args.strings("include_domains")?,
            exclude_domains: args.strings("exclude_domains")?,
            start_published: args.opt_string("start_published_date")?,
            end_published: args.opt_string("end_published_date")?,
            user_location: args.opt_string("user_location")?,
        })
    }
}

pub(super) async fn web_search(options: &WebOptions, args: &Args) -> Result<String, String> {
    let query = Query::read(args)?;
    if query.text.trim().is_empty() {
        return Ok(pretty(
            &json!({"error": "Query cannot be empty", "query": query.text}),
        ));
    }
    let Some(backend) = &options.search else {
        return Err(
            "Error: web_search has no search backend on this server; its operator can \
                    set EXA_API_KEY, TAVILY_API_KEY or MNEME_SEARXNG_URL"
                .into(),
        );
    };
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .build()
        .map_err(|e| format!("Error: cannot prepare the search client: {e}"))?;
    let found = match backend {
        SearchBackend::Exa { api_key, base_url } => exa(&client, base_url, api_key, &query).await,
        SearchBackend::Tavily { api_key, base_url } => {
            tavily(&client, base_url, api_key, &query).await
        }
        SearchBackend::Searxng { base_url } => searxng(&client, base_url, &query).await,
    };
    Ok(pretty(&match found {
        Ok(results) => json!({"query": query.text, "results": results}),
        Err(e) => json!({"query": query.text, "error": format!("Search failed: {e}")}),
    }))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn endpoint(base_url: &str, path: &str) -> String {
    format!("{}/{path}", base_url.trim_end_matches('/'))
}

async fn answer(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(500).collect();
        return Err(format!("HTTP {status}: {body}"));
    }
    response.json().await.map_err(|e| e.to_string())
}

/// Exa's `/search` with contents, as Letta asks for them: highlights and a summary always,
/// the full text only on request.
async fn exa(
    client: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    q: &Query,
) -> Result<Vec<Value>, String> {
    let mut body = json!({
        "query": q.text,
        "numResults": q.count,
        "type": "auto",
        "contents": {
            "text": q.include_text,
            "highlights": {"numSentences": 2, "highlightsPerUrl": 3, "query": q.text},
            "summary": {"query": format!("Key information related to: {}", q.text)},
        },
    });
    let optional = [
        ("category", q.category.clone().map(Value::from)),
        (
            "startPublishedDate",
            q.start_published.clone().map(Value::from),
        ),
        ("endPublishedDate", q.end_published.clone().map(Value::from)),
        ("userLocation", q.user_location.clone().map(Value::from)),
        ("includeDomains", non_empty(&q.include_domains)),
        ("excludeDomains", non_empty(&q.exclude_domains)),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            body[key] = v;
        }
    }
    let request = client
        .post(endpoint(base_url, "search"))
        .header("x-api-key", api_key)
        .json(&body);
    let doc = answer(request).await?;
    Ok(results(&doc)
        .iter()
        .map(|r| {
            let mut out = entry(r, "publishedDate", "author");
            if q.include_text {
                copy_present(r, "text", &mut out, "text");
            }
            copy_present(r, "highlights", &mut out, "highlights");
            copy_present(r, "summary", &mut out, "summary");
            Value::Object(out)
        })
        .collect())
}

/// Tavily's `/search`; its `content` snippet stands for the summary, `raw_content` for the text.
async fn tavily(
    client: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    q: &Query,
) -> Result<Vec<Value>, String> {
    let mut body = json!({
        "query": q.text,
        "max_results": q.count.min(20),
        "include_raw_content": q.include_text,
    });
    if let Some(v) = non_empty(&q.include_domains) {
        body["include_domains"] = v;
    }
    if let Some(v) = non_empty(&q.exclude_domains) {
        body["exclude_domains"] = v;
    }
    if q.category.as_deref() == Some("news") {
        body["topic"] = json!("news");
    }
    let request = client
        .post(endpoint(base_url, "search"))
        .bearer_auth(api_key)
        .json(&body);
    let doc = answer(request).await?;
    Ok(results(&doc)
        .iter()
        .map(|r| {
            let mut out = entry(r, "published_date", "author");
            if q.include_text {
                copy_present(r, "raw_content", &mut out, "text");
            }
            copy_present(r, "content", &mut out, "summary");
            Value::Object(out)
        })
        .collect())
}

/// SearXNG's JSON API (`format=json` must be enabled in its settings); domain filters become
/// `site:` terms, which its engines understand.
async fn searxng(
    client: &reqwest::Client,
    base_url: &str,
    q: &Query,
) -> Result<Vec<Value>, String> {
    let mut terms = q.text.clone();
    for d in &q.include_domains {
        terms.push_str(&format!(" site:{d}"));
    }
    for d in &q.exclude_domains {
        terms.push_str(&format!(" -site:{d}"));
    }
    let mut params = vec![("q", terms), ("format", "json".to_owned())];
    if let Some(lang) = &q.user_location {
        params.push(("language", lang.to_lowercase()));
    }
    let request = client.get(endpoint(base_url, "search")).query(&params);
    let doc = answer(request).await?;
    let count = usize::try_from(q.count).unwrap_or(usize::MAX);
    Ok(results(&doc)
        .iter()
        .take(count)
        .map(|r| {
            let mut out = entry(r, "publishedDate", "author");
            copy_present(r, "content", &mut out, "summary");
            Value::Object(out)
        })
        .collect())
}

fn results(doc: &Value) -> &[Value] {
    doc["results"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The fields every result has, `null` when the backend does not say.
fn entry(r: &Value, published: &str, author: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("title".into(), r["title"].clone());
    out.insert("url".into(), r["url"].clone());
    out.insert("published_date".into(), r[published].clone());
    out.insert("author".into(), r[author].clone());
    out
}

/// Copies a field that is present and not empty, as Letta leaves out empty ones.
fn copy_present(r: &Value, from: &str, out: &mut Map<String, Value>, to: &str) {
    let v = &r[from];
    let empty = match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if !empty {
        out.insert(to.into(), v.clone());
    }
}

fn non_empty(items: &[String]) -> Option<Value> {
    (!items.is_empty()).then(|| json!(items))
}

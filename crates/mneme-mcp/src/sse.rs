//! The legacy HTTP+SSE transport (MCP protocol 2024-11-05), which Letta offers as `sse` servers
//! and rmcp no longer ships: `GET` the server's event stream, wait for its `endpoint` event,
//! then `POST` every client message to that endpoint while the stream carries the answers.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use reqwest::{Client, Url};
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use sse_stream::SseStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::McpError;

/// Messages read ahead of the client; the reader waits when the client falls behind.
const BACKLOG: usize = 64;

pub(crate) struct SseTransport {
    client: Client,
    endpoint: Url,
    headers: HeaderMap,
    /// Bounds each POST: it runs in the transport's own task, outside the call's timeout.
    post_timeout: Duration,
    incoming: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: JoinHandle<()>,
}

impl SseTransport {
    /// Opens the event stream and waits for the endpoint to post to.
    pub(crate) async fn connect(
        client: Client,
        url: Url,
        headers: HeaderMap,
        post_timeout: Duration,
    ) -> Result<SseTransport, McpError> {
        let failed = |message: String| McpError::Connect {
            target: url.to_string(),
            message,
        };
        let response = client
            .get(url.clone())
            .headers(headers.clone())
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| failed(describe(&e)))?;
        let mut events = SseStream::from_bytes_stream(response.bytes_stream());
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let path = event.data.unwrap_or_default();
                    break url
                        .join(path.trim())
                        .map_err(|e| failed(format!("bad endpoint '{path}': {e}")))?;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(failed(format!("bad event stream: {e}"))),
                None => return Err(failed("the event stream ended before its endpoint".into())),
            }
        };
        let (tx, incoming) = mpsc::channel(BACKLOG);
        let reader = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let Ok(event) = event else { break };
                if !matches!(event.event.as_deref(), None | Some("message")) {
                    continue;
                }
                let Some(data) = event.data else { continue };
                match serde_json::from_str(&data) {
                    Ok(message) => {
                        if tx.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "MCP server sent a message we cannot read")
                    }
                }
            }
            // Dropping `tx` ends `receive`, which ends the client: the connection is gone.
        });
        Ok(SseTransport {
            client,
            endpoint,
            headers,
            post_timeout,
            incoming,
            reader,
        })
    }
}

impl Transport<RoleClient> for SseTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .client
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .timeout(self.post_timeout)
            .json(&item);
        async move {
            request
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map(|_| ())
                .map_err(|e| std::io::Error::other(describe(&e)))
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        Ok(())
    }
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// reqwest's message with its causes ("error sending request: connection refused").
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

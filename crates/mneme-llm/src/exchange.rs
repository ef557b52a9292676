//! The two HTTP exchanges every provider client makes, with the provider's own reading of a
//! failure status: a whole answer read at once, and a stream opened once its status is known.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::LlmError;
use crate::openai::error::from_reqwest;

/// A provider's classification of a failure status and its body.
pub(crate) type Classify = fn(u16, &HeaderMap, &[u8]) -> LlmError;

/// Sends `request` and reads the whole body within `timeout`; a non-2xx status is classified.
pub(crate) async fn read(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    classify: Classify,
) -> Result<bytes::Bytes, LlmError> {
    let call = async {
        let response = request.send().await.map_err(|e| from_reqwest(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| from_reqwest(&e))?;
        if !(200..300).contains(&status) {
            return Err(classify(status, &headers, &bytes));
        }
        Ok(bytes)
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| LlmError::Timeout)?
}

/// Sends `request` and waits (within `timeout`) for a 2xx status, leaving the body to be
/// streamed; on another status the body is read and classified, so errors that come before the
/// stream starts are retried like those of whole answers.
pub(crate) async fn open(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    classify: Classify,
) -> Result<reqwest::Response, LlmError> {
    let response = tokio::time::timeout(timeout, request.send())
        .await
        .map_err(|_| LlmError::Timeout)?
        .map_err(|e| from_reqwest(&e))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let bytes = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| LlmError::Timeout)?
        .map_err(|e| from_reqwest(&e))?;
    Err(classify(status, &headers, &bytes))
}

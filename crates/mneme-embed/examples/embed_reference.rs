//! Writes the reference vectors of `tests/it/reference_texts.json`'s texts as JSON to stdout:
//! how `tests/it/reference_vectors.json` was made (with the candle implementation, before the
//! hand-written forward pass replaced it), and how to compare another implementation.
//!
//! ```text
//! cargo run --release -p mneme-embed --example embed_reference > vectors.json
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use mneme_embed::{Embedder, LocalEmbedder};

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/mneme/models/all-MiniLM-L6-v2")
        });
    let texts: Vec<String> = serde_json::from_str(include_str!("../tests/it/reference_texts.json"))
        .expect("reference_texts.json");
    let embedder = LocalEmbedder::new(dir);
    // One at a time: a reference must not depend on batching.
    let mut vectors = Vec::new();
    for text in &texts {
        let vector = embedder.embed(std::slice::from_ref(text)).await.unwrap();
        // Six significant digits are far below the tolerance the test allows.
        let rounded: Vec<f64> = vector[0]
            .iter()
            .map(|v| (f64::from(*v) * 1e6).round() / 1e6)
            .collect();
        vectors.push(rounded);
    }
    println!("{}", serde_json::to_string(&vectors).unwrap());
}

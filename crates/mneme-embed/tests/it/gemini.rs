//! `GeminiEmbedder` against the fake's Gemini routes, and its retries against canned answers.

use std::time::Duration;

use mneme_embed::{EmbedError, Embedder, GeminiEmbedder, OpenAiEmbedderOptions};
use mneme_testkit::FakeLlm;

use crate::openai::Canned;
use crate::{dot, norm, strings};

fn options() -> OpenAiEmbedderOptions {
    OpenAiEmbedderOptions {
        backoff: Duration::from_millis(10),
        ..OpenAiEmbedderOptions::default()
    }
}

fn embedder(root: &str, dim: u32) -> GeminiEmbedder {
    let key = Some("gm-key".to_owned());
    GeminiEmbedder::new(root, "gemini-embedding-001", key, Some(dim), options()).unwrap()
}

#[tokio::test]
async fn batches_of_at_most_100_in_order_at_the_asked_dimension() {
    let fake = FakeLlm::start().await;
    let texts: Vec<String> = (0..150).map(|i| format!("passage {i}")).collect();
    let vectors = embedder(&fake.root_url(), 768).embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), 150);
    for i in [0, 99, 100, 149] {
        assert_eq!(vectors[i].len(), 768);
        assert!((norm(&vectors[i]) - 1.0).abs() < 1e-5);
        let expected = mneme_testkit::fake_llm::embed(&texts[i], 768);
        assert!(
            dot(&vectors[i], &expected) > 0.99999,
            "vector {i} out of place"
        );
    }
    let recorded = fake.recorded();
    let sizes: Vec<usize> = recorded
        .iter()
        .map(|r| r.body["requests"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 50]);
    let first = &recorded[0];
    assert_eq!(
        first.path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(
        first.authorization.as_deref(),
        Some("x-goog-api-key gm-key")
    );
    assert_eq!(
        first.body["requests"][1],
        serde_json::json!({"model": "models/gemini-embedding-001",
            "content": {"parts": [{"text": "passage 1"}]}, "outputDimensionality": 768})
    );
}

#[tokio::test]
async fn quota_errors_are_retried_and_bad_requests_are_not() {
    let exhausted =
        r#"{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}"#;
    let ok = r#"{"embeddings": [{"values": [0.0, 2.0]}]}"#;
    let server = Canned::start(vec![(429, exhausted), (200, ok)]).await;
    let vectors = embedder(&server.root_url(), 2)
        .embed(&strings(&["x"]))
        .await
        .unwrap();
    assert_eq!(vectors, [vec![0.0, 1.0]]);
    assert_eq!(server.requests(), 2);

    let invalid = r#"{"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}"#;
    let server = Canned::start(vec![(400, invalid)]).await;
    let error = embedder(&server.root_url(), 2)
        .embed(&strings(&["x"]))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        EmbedError::Provider {
            status: 400,
            message: "API key not valid.".into()
        }
    );
    assert!(!error.to_string().contains("gm-key"));
    assert_eq!(server.requests(), 1);
}

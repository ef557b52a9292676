//! `OllamaEmbedder` against the fake's `/api/embed`, and its errors against canned answers.

use std::time::Duration;

use mneme_embed::{EmbedError, Embedder, OllamaEmbedder, OpenAiEmbedderOptions};
use mneme_testkit::FakeLlm;

use crate::openai::Canned;
use crate::{dot, strings};

fn options() -> OpenAiEmbedderOptions {
    OpenAiEmbedderOptions {
        backoff: Duration::from_millis(10),
        batch_size: 2,
        ..OpenAiEmbedderOptions::default()
    }
}

#[tokio::test]
async fn vectors_in_order_from_the_native_endpoint() {
    let fake = FakeLlm::start().await;
    // Given with `/v1`, as users configure Ollama for OpenAI clients.
    let embedder =
        OllamaEmbedder::new(&fake.base_url(), "nomic-embed-text", None, options()).unwrap();
    let texts = strings(&["alpha", "beta", "gamma"]);
    let vectors = embedder.embed(&texts).await.unwrap();
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(vector.len(), 768);
        let expected = mneme_testkit::fake_llm::embed(text, 768);
        assert!(dot(vector, &expected) > 0.99999, "wrong vector for {text}");
    }
    let recorded = fake.recorded();
    assert_eq!(recorded.len(), 2, "batches of two");
    assert_eq!(recorded[0].path, "/api/embed");
    assert_eq!(
        recorded[0].body,
        serde_json::json!({"model": "nomic-embed-text", "input": ["alpha", "beta"]})
    );
}

#[tokio::test]
async fn a_missing_model_is_not_retried_and_a_crash_is() {
    let fake = FakeLlm::start().await;
    let embedder = OllamaEmbedder::new(&fake.root_url(), "nope", None, options()).unwrap();
    let error = embedder.embed(&strings(&["x"])).await.unwrap_err();
    assert_eq!(
        error,
        EmbedError::Provider {
            status: 404,
            message: "model \"nope\" not found, try pulling it first".into()
        }
    );
    assert_eq!(fake.recorded().len(), 1);

    let crash = r#"{"error": "llama runner process has terminated"}"#;
    let server = Canned::start(vec![(500, crash)]).await;
    let embedder = OllamaEmbedder::new(&server.root_url(), "m", None, options()).unwrap();
    let error = embedder.embed(&strings(&["x"])).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(server.requests(), 3, "three attempts");
}

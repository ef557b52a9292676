//! `EmbedderRouter`: which embedder a config gets, caching, and its errors.

use std::sync::Arc;

use mneme_embed::{EmbedError, EmbedderRouter, RouterConfig, local_embedding_config};
use mneme_testkit::FakeLlm;
use mneme_types::{ConfiguredProviders, EmbeddingConfig, ProviderKind, ProviderSettings};
use serde_json::json;

use crate::strings;

fn config(kind: &str, endpoint: Option<&str>, model: &str) -> EmbeddingConfig {
    serde_json::from_value(json!({
        "embedding_endpoint_type": kind,
        "embedding_endpoint": endpoint,
        "embedding_model": model,
        "embedding_dim": 1536,
    }))
    .unwrap()
}

#[tokio::test]
async fn one_instance_per_endpoint_type_endpoint_and_model() {
    let fake = FakeLlm::start().await;
    let router = EmbedderRouter::new(RouterConfig::default());
    let base = fake.base_url();
    let a = router
        .embedder_for(&config("openai", Some(&base), "m1"))
        .unwrap();
    let b = router
        .embedder_for(&config("openai", Some(&base), "m1"))
        .unwrap();
    let c = router
        .embedder_for(&config("openai", Some(&base), "m2"))
        .unwrap();
    let d = router
        .embedder_for(&config("vllm", Some(&base), "m1"))
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c) && !Arc::ptr_eq(&a, &d));
    assert_eq!(a.name(), "openai/m1");
    assert_eq!(d.name(), "vllm/m1");
    assert_eq!(a.embed(&strings(&["x", "y"])).await.unwrap().len(), 2);
}

#[tokio::test]
async fn openai_uses_the_server_base_url_and_key_when_the_config_has_no_endpoint() {
    let fake = FakeLlm::start().await;
    let router = EmbedderRouter::new(RouterConfig {
        providers: ConfiguredProviders::default().with(
            ProviderKind::Openai,
            ProviderSettings {
                api_key: Some("sk-router".into()),
                base_url: Some(fake.base_url()),
                api_version: None,
            },
        ),
        ..RouterConfig::default()
    });
    let embedder = router
        .embedder_for(&config("openai", None, "text-embedding-3-small"))
        .unwrap();
    embedder.embed(&strings(&["x"])).await.unwrap();
    let recorded = fake.recorded();
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some("Bearer sk-router")
    );
}

#[tokio::test]
async fn ollama_gets_its_native_endpoint_and_no_openai_key() {
    let fake = FakeLlm::start().await;
    let root = format!("http://{}", fake.addr());
    let providers = ConfiguredProviders::default()
        .with(
            ProviderKind::Openai,
            ProviderSettings {
                api_key: Some("sk-secret".into()),
                base_url: None,
                api_version: None,
            },
        )
        .with(
            ProviderKind::Ollama,
            ProviderSettings {
                api_key: None,
                base_url: Some(root),
                api_version: None,
            },
        );
    let router = EmbedderRouter::new(RouterConfig {
        providers,
        ..RouterConfig::default()
    });
    let embedder = router
        .embedder_for(&config("ollama", None, "nomic-embed-text"))
        .unwrap();
    embedder.embed(&strings(&["x"])).await.unwrap();
    let recorded = fake.recorded();
    assert_eq!(recorded[0].path, "/api/embed");
    assert_eq!(recorded[0].authorization, None);
    assert_eq!(recorded[0].body["model"], "nomic-embed-text");
}

#[test]
fn unknown_endpoint_types_are_named() {
    let router = EmbedderRouter::new(RouterConfig::default());
    let error = router
        .embedder_for(&config("hugging-face", None, "m"))
        .err()
        .unwrap();
    assert_eq!(
        error,
        EmbedError::UnknownEndpointType("hugging-face".into())
    );
    assert!(error.to_string().contains("hugging-face"));
    assert!(
        error.to_string().ends_with("lmstudio_openai, local"),
        "{error}"
    );
    // A provider of the registry without embeddings is unknown here too.
    for kind in ["anthropic", "groq"] {
        let error = router.embedder_for(&config(kind, None, "m")).err().unwrap();
        assert_eq!(error, EmbedError::UnknownEndpointType(kind.into()));
    }
}

#[test]
fn local_without_a_model_dir_is_model_missing() {
    let router = EmbedderRouter::new(RouterConfig::default());
    let error = router
        .embedder_for(&local_embedding_config())
        .err()
        .unwrap();
    #[cfg(feature = "local")]
    assert!(
        matches!(error, EmbedError::ModelMissing { .. }),
        "{error:?}"
    );
    #[cfg(not(feature = "local"))]
    assert!(matches!(error, EmbedError::NotConfigured(_)), "{error:?}");
}

#[cfg(feature = "local")]
#[test]
fn local_with_an_empty_model_dir_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let router = EmbedderRouter::new(RouterConfig {
        local_model_dir: Some(dir.path().to_owned()),
        ..RouterConfig::default()
    });
    let error = router
        .embedder_for(&local_embedding_config())
        .err()
        .unwrap();
    assert_eq!(
        error,
        EmbedError::ModelMissing {
            dir: dir.path().to_owned(),
            missing: "config.json".into()
        }
    );
}

#[test]
fn local_serves_only_its_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let router = EmbedderRouter::new(RouterConfig {
        local_model_dir: Some(dir.path().to_owned()),
        ..RouterConfig::default()
    });
    let error = router
        .embedder_for(&config("local", None, "bge-small-en"))
        .err()
        .unwrap();
    assert_eq!(error, EmbedError::UnknownModel("bge-small-en".into()));
}

#[tokio::test]
async fn gemini_and_ollama_configs_reach_their_native_endpoints() {
    let fake = FakeLlm::start().await;
    let router = EmbedderRouter::new(RouterConfig {
        providers: ConfiguredProviders::default()
            .with(
                ProviderKind::GoogleAi,
                ProviderSettings {
                    api_key: Some("gm-router".into()),
                    base_url: Some(fake.root_url()),
                    api_version: None,
                },
            )
            .with(
                ProviderKind::Ollama,
                ProviderSettings {
                    base_url: Some(fake.base_url()),
                    ..ProviderSettings::default()
                },
            ),
        ..RouterConfig::default()
    });
    let gemini = router
        .embedder_for(&config("google_ai", None, "text-embedding-004"))
        .unwrap();
    assert_eq!(gemini.name(), "google_ai/text-embedding-004");
    let vectors = gemini.embed(&strings(&["a", "b"])).await.unwrap();
    assert_eq!(
        vectors[1].len(),
        1536,
        "the config's dimension is asked for"
    );
    let ollama = router
        .embedder_for(&config("ollama", None, "nomic-embed-text"))
        .unwrap();
    assert_eq!(ollama.embed(&strings(&["c"])).await.unwrap()[0].len(), 768);
    let recorded = fake.recorded();
    let paths: Vec<&str> = recorded.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1beta/models/text-embedding-004:batchEmbedContents",
            "/api/embed"
        ]
    );
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some("x-goog-api-key gm-router")
    );
    assert_eq!(recorded[1].authorization, None, "no key goes to Ollama");
}

//! `OpenAiEmbedder`: order, batching, auth, retries and outages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mneme_embed::{EmbedError, Embedder, OpenAiEmbedder, OpenAiEmbedderOptions};
use mneme_testkit::FakeLlm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{dot, norm, strings};

/// The fake's default vector size (OpenAI's text-embedding-3-small).
const FAKE_DIM: usize = 1536;

fn fast_options() -> OpenAiEmbedderOptions {
    OpenAiEmbedderOptions {
        backoff: Duration::from_millis(10),
        ..OpenAiEmbedderOptions::default()
    }
}

fn embedder(base_url: &str, api_key: Option<&str>) -> OpenAiEmbedder {
    OpenAiEmbedder::new(
        base_url,
        "text-embedding-3-small",
        api_key.map(str::to_owned),
        fast_options(),
    )
    .unwrap()
}

#[tokio::test]
async fn vectors_come_back_in_input_order_and_unit_length() {
    let fake = FakeLlm::start().await;
    let texts = strings(&["alpha", "beta", "gamma", "", "delta"]);
    let vectors = embedder(&fake.base_url(), None)
        .embed(&texts)
        .await
        .unwrap();
    assert_eq!(vectors.len(), texts.len());
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(vector.len(), FAKE_DIM);
        assert!((norm(vector) - 1.0).abs() < 1e-5);
        let expected = mneme_testkit::fake_llm::embed(text, FAKE_DIM);
        assert!(
            dot(vector, &expected) > 0.99999,
            "wrong vector for {text:?}"
        );
    }
    let request = &fake.embedding_requests()[0];
    assert_eq!(request["model"], "text-embedding-3-small");
    assert_eq!(request["encoding_format"], "float");
    assert_eq!(request["input"][1], "beta");
}

#[tokio::test]
async fn inputs_are_sent_in_batches_of_256() {
    let fake = FakeLlm::start().await;
    let texts: Vec<String> = (0..600).map(|i| format!("passage number {i}")).collect();
    let vectors = embedder(&fake.base_url(), None)
        .embed(&texts)
        .await
        .unwrap();
    let sizes: Vec<usize> = fake
        .embedding_requests()
        .iter()
        .map(|r| r["input"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [256, 256, 88]);
    assert_eq!(vectors.len(), 600);
    for i in [0, 255, 256, 599] {
        let expected = mneme_testkit::fake_llm::embed(&texts[i], FAKE_DIM);
        assert!(
            dot(&vectors[i], &expected) > 0.99999,
            "vector {i} out of place"
        );
    }
}

#[tokio::test]
async fn no_input_sends_no_request() {
    let fake = FakeLlm::start().await;
    let vectors = embedder(&fake.base_url(), None).embed(&[]).await.unwrap();
    assert!(vectors.is_empty());
    assert!(fake.recorded().is_empty());
}

#[tokio::test]
async fn the_key_is_sent_as_a_bearer_token_and_only_when_set() {
    let fake = FakeLlm::start().await;
    let texts = strings(&["x"]);
    embedder(&fake.base_url(), Some("sk-test"))
        .embed(&texts)
        .await
        .unwrap();
    embedder(&fake.base_url(), Some(""))
        .embed(&texts)
        .await
        .unwrap();
    let auth: Vec<Option<String>> = fake
        .recorded()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(auth, [Some("Bearer sk-test".to_owned()), None]);
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_after_three_quick_attempts() {
    // A port that was just free: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let embedder = OpenAiEmbedder::new(
        &format!("http://127.0.0.1:{port}/v1"),
        "m",
        None,
        OpenAiEmbedderOptions::default(),
    )
    .unwrap();
    let error = embedder.embed(&strings(&["x"])).await.unwrap_err();
    let EmbedError::Unavailable(message) = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    // Three attempts with the default backoff (250 ms, then 500 ms, half of it jitter).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn overload_is_retried_and_then_succeeds() {
    let ok = r#"{"data": [{"index": 0, "embedding": [0.0, 3.0]}]}"#;
    let server = Canned::start(vec![
        (503, "busy"),
        (429, r#"{"error": {"message": "slow down"}}"#),
        (200, ok),
    ])
    .await;
    let vectors = embedder(&server.base_url(), None)
        .embed(&strings(&["x"]))
        .await
        .unwrap();
    assert_eq!(vectors, [vec![0.0, 1.0]]);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn persistent_overload_reports_the_last_status_after_three_attempts() {
    let busy = r#"{"error": {"message": "model overloaded"}}"#;
    let server = Canned::start(vec![(503, busy); 5]).await;
    let error = embedder(&server.base_url(), None)
        .embed(&strings(&["x"]))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        EmbedError::Provider {
            status: 503,
            message: "model overloaded".into()
        }
    );
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = Canned::start(vec![(
        401,
        r#"{"error": {"message": "Incorrect API key provided"}}"#,
    )])
    .await;
    let error = embedder(&server.base_url(), Some("bad"))
        .embed(&strings(&["x"]))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the embedding provider answered 401: Incorrect API key provided"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_body_that_is_not_an_embedding_list_is_a_bad_response() {
    let server = Canned::start(vec![(
        200,
        r#"{"data": [{"index": 0, "embedding": [1.0]}]}"#,
    )])
    .await;
    let error = embedder(&server.base_url(), None)
        .embed(&strings(&["x", "y"]))
        .await
        .unwrap_err();
    assert!(matches!(error, EmbedError::BadResponse(_)), "{error:?}");
}

/// An HTTP server that answers each request with the next canned (status, body) and counts
/// requests; the last answer repeats. The fake LLM cannot script embedding errors, hence this.
pub(crate) struct Canned {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl Canned {
    pub(crate) async fn start(answers: Vec<(u16, &'static str)>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                read_request(&mut socket).await;
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (status, body) = answers[n.min(answers.len() - 1)];
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(response.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
        });
        Canned { port, requests }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The server's root, for the protocols that add their own path (Gemini, Ollama).
    pub(crate) fn root_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one request: the headers, then `content-length` bytes of body.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed mid-request");
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return;
            }
        }
    }
}

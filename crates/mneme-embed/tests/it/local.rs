//! The real all-MiniLM-L6-v2: retrieval quality on a small labelled corpus, vector shape,
//! determinism, truncation. The model must be on disk (scripts/fetch-model); without it these
//! tests fail rather than skip, so a missing model never passes unnoticed.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use mneme_embed::{EmbedError, Embedder, LocalEmbedder, MODEL_FILES};

use crate::{dot, norm, strings};

/// One loaded model for the whole test binary: loading costs time, and sharing it also makes the
/// tests' parallel first calls exercise the load-once guard.
fn embedder() -> &'static LocalEmbedder {
    static EMBEDDER: OnceLock<LocalEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| LocalEmbedder::new(model_dir()))
}

/// `MNEME_EMBEDDING_MODEL_DIR`, else where scripts/fetch-model puts the model.
fn model_dir() -> PathBuf {
    let dir = std::env::var_os("MNEME_EMBEDDING_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is not set");
            PathBuf::from(home).join(".cache/mneme/models/all-MiniLM-L6-v2")
        });
    for file in MODEL_FILES {
        assert!(
            dir.join(file).is_file(),
            "the local embedding model is missing ({} has no {file}): run scripts/fetch-model \
             (or set MNEME_EMBEDDING_MODEL_DIR to a directory holding {MODEL_FILES:?})",
            dir.display()
        );
    }
    dir
}

/// Twenty passages on distinct topics.
const PASSAGES: [&str; 20] = [
    "The mitochondria produce most of the chemical energy a cell needs, in the form of ATP.",
    "Volcanoes erupt when magma from beneath the Earth's crust forces its way to the surface.",
    "The French Revolution began in 1789 and overthrew the monarchy of Louis XVI.",
    "To bake sourdough bread you need a starter of wild yeast and lactic acid bacteria.",
    "Interest rates set by the central bank influence how expensive it is to borrow money.",
    "A goalkeeper is the only player allowed to handle the ball inside the penalty area.",
    "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar.",
    "Rust's borrow checker prevents data races by enforcing ownership rules at compile time.",
    "The piano has 88 keys and produces sound when felt hammers strike steel strings.",
    "Jupiter is the largest planet in our solar system and has a giant storm called the Great Red Spot.",
    "Regular aerobic exercise strengthens the heart and lowers blood pressure.",
    "Impressionist painters such as Monet tried to capture fleeting light with quick brush strokes.",
    "Bees pollinate flowers while collecting nectar, which they turn into honey.",
    "The Great Wall of China was built over centuries to protect against invasions from the north.",
    "Vaccines train the immune system to recognise a pathogen without causing the disease.",
    "Glaciers are slow-moving rivers of ice that carve valleys as they advance.",
    "Chess openings like the Sicilian Defence shape the middle game.",
    "Electric cars use lithium-ion batteries instead of petrol engines.",
    "Shakespeare wrote Hamlet, a tragedy about a Danish prince seeking revenge.",
    "Coral reefs are built by tiny animals and shelter a quarter of all marine species.",
];

/// Paraphrased questions sharing few words with their passage, and that passage's index.
const QUERIES: [(&str, usize); 11] = [
    ("What part of a cell acts as its power plant?", 0),
    ("Why does molten rock burst out of mountains?", 1),
    ("When did the people of Paris topple their king?", 2),
    ("How do leaves make food from light?", 6),
    ("Which gas giant has an enormous hurricane?", 9),
    ("Does jogging help cardiovascular health?", 10),
    ("What insect makes a sweet golden food from blossoms?", 12),
    ("How do immunizations protect people from getting sick?", 14),
    (
        "How can a programming language stop two threads from corrupting memory?",
        7,
    ),
    (
        "What kind of vehicle runs on a rechargeable pack rather than gasoline?",
        17,
    ),
    (
        "Which playwright told the story of a prince who avenges his father's murder?",
        18,
    ),
];

#[tokio::test]
async fn paraphrased_queries_find_their_passage_first() {
    let started = Instant::now();
    let passages = embedder().embed(&strings(&PASSAGES)).await.unwrap();
    let queries: Vec<&str> = QUERIES.iter().map(|(q, _)| *q).collect();
    let queries = embedder().embed(&strings(&queries)).await.unwrap();
    eprintln!(
        "embedded {} texts in {:?} (load included)",
        PASSAGES.len() + QUERIES.len(),
        started.elapsed()
    );
    let mut failures = Vec::new();
    for ((query, expected), vector) in QUERIES.iter().zip(&queries) {
        let mut ranked: Vec<(f32, usize)> = passages
            .iter()
            .enumerate()
            .map(|(i, p)| (dot(vector, p), i))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        if ranked[0].1 != *expected {
            failures.push(format!(
                "{query:?}: expected #{expected} ({:.3}), got #{} {:?} ({:.3})",
                dot(vector, &passages[*expected]),
                ranked[0].1,
                PASSAGES[ranked[0].1],
                ranked[0].0
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "wrong passages ranked first:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn vectors_have_384_unit_length_dimensions_and_are_deterministic() {
    let texts = strings(&[
        "a short sentence",
        "Another, somewhat longer sentence about tea.",
    ]);
    let first = embedder().embed(&texts).await.unwrap();
    let second = embedder().embed(&texts).await.unwrap();
    assert_eq!(first, second);
    for vector in &first {
        assert_eq!(vector.len(), 384);
        assert!((norm(vector) - 1.0).abs() < 1e-5, "norm {}", norm(vector));
    }
    // Alone or padded in a batch, a text gets the same vector (to rounding).
    let alone = embedder().embed(&texts[..1]).await.unwrap();
    assert!(dot(&alone[0], &first[0]) > 0.99999);
    assert!(dot(&first[0], &first[1]) < 0.9);
}

#[tokio::test]
async fn an_empty_string_embeds() {
    let vectors = embedder().embed(&strings(&["", "hello"])).await.unwrap();
    assert_eq!(vectors[0].len(), 384);
    assert!((norm(&vectors[0]) - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn texts_past_256_tokens_are_truncated() {
    let words: Vec<String> = (0..300).map(|i| format!("word{i}")).collect();
    let long = words.join(" ");
    // Different text after the first 256 tokens must not change the vector.
    let longer = format!(
        "{long} {}",
        "completely unrelated astronomy telescopes ".repeat(50)
    );
    let vectors = embedder().embed(&[long, longer]).await.unwrap();
    assert!((norm(&vectors[0]) - 1.0).abs() < 1e-5);
    assert!(
        dot(&vectors[0], &vectors[1]) > 0.99999,
        "{}",
        dot(&vectors[0], &vectors[1])
    );
}

/// Prints the timings worth knowing (run alone, with `--nocapture`, for a clean first load).
#[tokio::test]
async fn a_single_short_text_before_and_after_loading() {
    let texts = strings(&["how long does one short sentence take?"]);
    let started = Instant::now();
    embedder().embed(&texts).await.unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    let vectors = embedder().embed(&texts).await.unwrap();
    eprintln!(
        "first embed (load included): {first:?}; one short text: {:?}",
        started.elapsed()
    );
    assert_eq!(vectors[0].len(), 384);
}

#[tokio::test]
async fn a_missing_model_dir_is_model_missing_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let embedder = LocalEmbedder::new(&missing);
    assert!(!embedder.is_loaded());
    let error = embedder.embed(&strings(&["x"])).await.unwrap_err();
    assert_eq!(
        error,
        EmbedError::ModelMissing {
            dir: missing.clone(),
            missing: "config.json".into()
        }
    );
    assert!(error.to_string().contains("scripts/fetch-model"), "{error}");
    // Nothing to embed needs no model.
    assert!(embedder.embed(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_truncated_weights_file_is_a_model_error() {
    let real = model_dir();
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(real.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not weights").unwrap();
    let error = LocalEmbedder::new(dir.path())
        .embed(&strings(&["x"]))
        .await
        .unwrap_err();
    assert!(matches!(error, EmbedError::Model(_)), "{error:?}");
}

/// Twenty texts (empty, short, long, unicode, code, one past 256 tokens) and the vectors the
/// candle implementation gave them one at a time (examples/embed_reference.rs, rounded to 1e-6):
/// the hand-written forward pass must give the same directions.
#[tokio::test]
async fn vectors_match_the_reference_implementation() {
    let texts: Vec<String> = serde_json::from_str(include_str!("reference_texts.json")).unwrap();
    let reference: Vec<Vec<f32>> =
        serde_json::from_str(include_str!("reference_vectors.json")).unwrap();
    assert_eq!(texts.len(), reference.len());
    let vectors = embedder().embed(&texts).await.unwrap();
    for ((text, vector), expected) in texts.iter().zip(&vectors).zip(&reference) {
        let cosine = dot(vector, expected) / norm(expected);
        assert!(cosine >= 0.9995, "cosine {cosine} for {text:?}");
    }
}

/// A text's vector is the same bits alone and within a batch of any composition (texts are not
/// padded, and each one's rows are computed independently of the others').
#[tokio::test]
async fn a_text_gets_the_same_bits_alone_and_in_any_batch() {
    let texts: Vec<String> = serde_json::from_str(include_str!("reference_texts.json")).unwrap();
    let together = embedder().embed(&texts).await.unwrap();
    let mut reversed = texts.clone();
    reversed.reverse();
    let mut backwards = embedder().embed(&reversed).await.unwrap();
    backwards.reverse();
    assert_eq!(together, backwards);
    for (text, vector) in texts.iter().zip(&together).step_by(3) {
        let alone = embedder().embed(std::slice::from_ref(text)).await.unwrap();
        assert_eq!(&alone[0], vector, "{text:?}");
    }
}

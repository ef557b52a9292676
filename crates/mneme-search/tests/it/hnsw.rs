//! Collections above the threshold: the background HNSW build, its recall and its removes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mneme_search::{Query, SearchIndex, SearchOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{doc, normalise, remove, search_keys, vector_query};

const DIMS: usize = 32;
const N: u64 = 2_000;

fn random_unit(rng: &mut StdRng) -> Vec<f32> {
    normalise((0..DIMS).map(|_| rng.random_range(-1.0f32..1.0)).collect())
}

fn exact_top(vectors: &[(u64, Vec<f32>)], query: &[f32], n: usize) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> = vectors
        .iter()
        .map(|(k, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), *k))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(n).map(|(_, k)| k).collect()
}

fn small_threshold() -> SearchOptions {
    SearchOptions {
        hnsw_threshold: 500,
        build_threads: 2,
        ..SearchOptions::default()
    }
}

#[test]
fn a_large_collection_gets_a_graph_with_good_recall_and_honest_removes() {
    let index = SearchIndex::open_with(None, small_threshold()).expect("open");
    let mut rng = StdRng::seed_from_u64(7);
    let mut vectors: Vec<(u64, Vec<f32>)> = (1..=N).map(|k| (k, random_unit(&mut rng))).collect();
    index.load_vectors("big", Vec::new());
    for batch in vectors.chunks(250) {
        let changes: Vec<_> = batch
            .iter()
            .map(|(k, v)| doc(*k, "big", "words", v.clone()))
            .collect();
        index.apply(&changes, batch[0].0).expect("apply");
    }
    assert!(
        index.wait_for_vector_builds(Duration::from_secs(120)),
        "build timed out"
    );
    let stats = index.vector_stats("big").expect("loaded");
    assert!(stats.hnsw, "{stats:?}");
    assert_eq!(stats.vectors, N as usize);

    let queries: Vec<Vec<f32>> = (0..100).map(|_| random_unit(&mut rng)).collect();
    let recall = |index: &SearchIndex, vectors: &[(u64, Vec<f32>)]| {
        let mut found = 0;
        for q in &queries {
            let query = Query {
                limit: 10,
                candidates: Some(10),
                ..vector_query("big", q.clone())
            };
            let got: HashSet<u64> = search_keys(index, &query).into_iter().collect();
            found += exact_top(vectors, q, 10)
                .iter()
                .filter(|k| got.contains(k))
                .count();
        }
        found as f64 / (queries.len() * 10) as f64
    };
    let r = recall(&index, &vectors);
    assert!(r >= 0.9, "recall@10 {r}");

    // Remove every third key: none may come back, and recall holds on what is left.
    let removed: HashSet<u64> = (1..=N).filter(|k| k % 3 == 0).collect();
    let changes: Vec<_> = removed.iter().map(|k| remove(*k, "big")).collect();
    index.apply(&changes, N + 1).expect("apply");
    vectors.retain(|(k, _)| !removed.contains(k));
    for q in &queries {
        let hits = search_keys(&index, &vector_query("big", q.clone()));
        assert!(hits.iter().all(|k| !removed.contains(k)), "{hits:?}");
    }
    // A third removed is past the tombstone limit: a rebuild may be running or done; either
    // way the answers stay right.
    let r = recall(&index, &vectors);
    assert!(r >= 0.9, "recall@10 after removes {r}");
    assert!(index.wait_for_vector_builds(Duration::from_secs(120)));
    let stats = index.vector_stats("big").expect("loaded");
    assert!(stats.hnsw && stats.tombstones == 0, "{stats:?}");
    let r = recall(&index, &vectors);
    assert!(r >= 0.9, "recall@10 after the rebuild {r}");
}

#[test]
fn the_graph_honours_allowed() {
    let index = SearchIndex::open_with(None, small_threshold()).expect("open");
    let mut rng = StdRng::seed_from_u64(11);
    let vectors: Vec<(u64, Vec<f32>)> = (1..=1_000).map(|k| (k, random_unit(&mut rng))).collect();
    index.load_vectors("big", vectors.clone());
    assert!(index.wait_for_vector_builds(Duration::from_secs(120)));
    assert!(index.vector_stats("big").is_some_and(|s| s.hnsw));
    // Half the keys: filtered inside the graph walk. 20 keys: looked up exactly.
    for allowed in [
        (1..=1_000).filter(|k| k % 2 == 0).collect::<HashSet<u64>>(),
        (1..=20).collect(),
    ] {
        let allowed = Arc::new(allowed);
        for _ in 0..20 {
            let query = Query {
                allowed: Some(Arc::clone(&allowed)),
                ..vector_query("big", random_unit(&mut rng))
            };
            let hits = search_keys(&index, &query);
            assert_eq!(hits.len(), 10);
            assert!(hits.iter().all(|k| allowed.contains(k)), "{hits:?}");
        }
    }
}

#[test]
fn writes_during_a_build_reach_the_new_graph() {
    let index = SearchIndex::open_with(None, small_threshold()).expect("open");
    let mut rng = StdRng::seed_from_u64(3);
    let vectors: Vec<(u64, Vec<f32>)> = (1..=1_500).map(|k| (k, random_unit(&mut rng))).collect();
    index.load_vectors("big", vectors.clone());
    // Straight after the load the build is (most likely) still running.
    let fresh = random_unit(&mut rng);
    index
        .apply(
            &[remove(1, "big"), doc(5_000, "big", "new", fresh.clone())],
            1,
        )
        .expect("apply");
    assert!(index.wait_for_vector_builds(Duration::from_secs(120)));
    assert!(index.vector_stats("big").is_some_and(|s| s.hnsw));
    assert_eq!(search_keys(&index, &vector_query("big", fresh))[0], 5_000);
    let hits = search_keys(&index, &vector_query("big", vectors[0].1.clone()));
    assert!(!hits.contains(&1), "{hits:?}");
}

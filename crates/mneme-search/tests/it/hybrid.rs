//! Both legs together: fusion, the rule that one leg alone answers, concurrency.

use std::sync::Arc;

use mneme_search::{Fusion, Query, Ranking, SearchIndex, SearchOptions};

use crate::{axis, doc, keys, search_keys, text_query, vector_query};

const DIMS: usize = 8;

#[test]
fn an_item_ranked_well_by_both_legs_beats_items_ranked_by_one() {
    // Reciprocal rank fusion, whose scores this test checks (the default is convex).
    let rrf = Ranking {
        fusion: Fusion::Rrf {
            k: 60.0,
            text_weight: 1.0,
            vector_weight: 1.0,
        },
        ..Ranking::default()
    };
    let options = SearchOptions {
        ranking: rrf,
        ..SearchOptions::default()
    };
    let index = SearchIndex::open_with(None, options).expect("open");
    index.load_vectors("a", Vec::new());
    index
        .apply(
            &[
                // The best text match, far from the query vector.
                doc(
                    1,
                    "a",
                    "quarterly budget review budget",
                    axis(DIMS, 5, 6, 0.0),
                ),
                // The nearest vector, no query word.
                doc(2, "a", "lunch menu", axis(DIMS, 0, 1, 0.0)),
                // Second in both legs.
                doc(3, "a", "budget notes", axis(DIMS, 0, 1, 0.6)),
                doc(4, "a", "nothing relevant", axis(DIMS, 4, 6, 0.0)),
            ],
            1,
        )
        .expect("apply");
    let query = Query {
        text: Some("budget review".into()),
        vector: Some(axis(DIMS, 0, 1, 0.1)),
        ..Query::new("a")
    };
    let hits = index.search(&query).expect("search");
    assert_eq!(hits[0].key, 3, "{hits:?}");
    assert_eq!((hits[0].text_rank, hits[0].vector_rank), (Some(2), Some(2)));
    assert!((hits[0].score - 2.0 / 62.0).abs() < 1e-6);
    // 1 is first by text and last by vector (the exact scan ranks every vector), 2 first by
    // vector only: 1/61 + 1/64 < 2/62, and 1/61 alone comes after both.
    assert_eq!(keys(&hits), vec![3, 1, 2, 4]);
}

#[test]
fn one_leg_alone_answers_when_the_other_has_no_input() {
    let index = SearchIndex::open(None).expect("open");
    index.load_vectors("a", Vec::new());
    index
        .apply(
            &[
                doc(1, "a", "alpha", axis(DIMS, 0, 1, 0.0)),
                doc(2, "a", "alpha alpha beta", axis(DIMS, 1, 0, 0.0)),
            ],
            1,
        )
        .expect("apply");
    assert_eq!(
        search_keys(&index, &text_query("a", "alpha beta")),
        vec![2, 1]
    );
    assert_eq!(
        search_keys(&index, &vector_query("a", axis(DIMS, 0, 1, 0.0))),
        vec![1, 2]
    );
    // Text without a word and a vector: the vector leg alone.
    let query = Query {
        text: Some("?!".into()),
        ..vector_query("a", axis(DIMS, 1, 0, 0.0))
    };
    let hits = index.search(&query).expect("search");
    assert_eq!(keys(&hits), vec![2, 1]);
    assert!(hits.iter().all(|h| h.text_rank.is_none()));
}

#[test]
fn limit_cuts_the_fused_list() {
    let index = SearchIndex::open(None).expect("open");
    let changes: Vec<_> = (1..=30)
        .map(|k| doc(k, "a", "common word", axis(DIMS, k as usize % DIMS, 0, 0.2)))
        .collect();
    index.load_vectors("a", Vec::new());
    index.apply(&changes, 1).expect("apply");
    let query = Query {
        text: Some("common".into()),
        vector: Some(axis(DIMS, 3, 0, 0.2)),
        limit: 7,
        candidates: Some(5),
        ..Query::new("a")
    };
    // Fewer candidates than the limit: each leg still brings `limit` of them.
    assert_eq!(search_keys(&index, &query).len(), 7);
}

#[test]
fn searches_run_while_changes_are_applied() {
    let index = Arc::new(SearchIndex::open(None).expect("open"));
    index.load_vectors("a", Vec::new());
    std::thread::scope(|scope| {
        let writer = Arc::clone(&index);
        scope.spawn(move || {
            for batch in 0..20u64 {
                let changes: Vec<_> = (0..50)
                    .map(|i| {
                        let key = batch * 50 + i + 1;
                        doc(
                            key,
                            "a",
                            "shared words here",
                            axis(DIMS, key as usize % DIMS, 0, 0.3),
                        )
                    })
                    .collect();
                writer.apply(&changes, batch + 1).expect("apply");
            }
        });
        for _ in 0..2 {
            let reader = Arc::clone(&index);
            scope.spawn(move || {
                for _ in 0..50 {
                    let query = Query {
                        text: Some("shared".into()),
                        vector: Some(axis(DIMS, 1, 0, 0.3)),
                        ..Query::new("a")
                    };
                    reader.search(&query).expect("search");
                }
            });
        }
    });
    assert_eq!((index.watermark(), index.applied_watermark()), (0, 20));
    assert_eq!(search_keys(&index, &text_query("a", "shared")).len(), 10);
    index.flush().expect("flush");
    assert_eq!(index.watermark(), 20);
    assert_eq!(search_keys(&index, &text_query("a", "shared")).len(), 10);
}

//! `Ranking`: query stop words, fusion choices and vector feedback, through `SearchIndex`.

use mneme_search::{Fusion, Query, Ranking, SearchIndex, SearchOptions};

use crate::{Tiers, doc, normalise, search_keys, text_doc, text_query};

fn open(ranking: Ranking) -> SearchIndex {
    SearchIndex::open_with(
        None,
        SearchOptions {
            ranking,
            ..SearchOptions::default()
        },
    )
    .expect("open")
}

fn with_stopwords(on: bool) -> Ranking {
    Ranking {
        query_stopwords: on,
        ..Ranking::default()
    }
}

/// Chatter full of the question's function words, and one turn with its content word.
fn chatter() -> Vec<mneme_search::Change> {
    vec![
        text_doc(
            1,
            "a",
            "what did you do when you were there, and where did you go?",
        ),
        text_doc(
            2,
            "a",
            "what did she say when we were there? where did it go?",
        ),
        text_doc(3, "a", "We finally moved to Lisbon in the autumn"),
    ]
}

#[test]
fn stop_words_leave_the_query_when_asked() {
    for tiers in Tiers::ALL {
        let index = open(with_stopwords(true));
        tiers.setup(&index, &chatter(), 1);
        let hits = search_keys(&index, &text_query("a", "Where did she move to, and when?"));
        // Only "move" is left: the chatter shares every other word and is no candidate.
        assert_eq!(hits, vec![3], "{tiers:?}");

        let index = open(with_stopwords(false));
        tiers.setup(&index, &chatter(), 1);
        let hits = search_keys(&index, &text_query("a", "Where did she move to, and when?"));
        assert_eq!(hits.len(), 3, "{tiers:?}: {hits:?}");
    }
}

#[test]
fn a_query_of_stop_words_alone_keeps_them() {
    let index = open(with_stopwords(true));
    Tiers::Memory.setup(&index, &chatter(), 1);
    let hits = search_keys(&index, &text_query("a", "what did she say"));
    assert_eq!(hits.first(), Some(&2), "{hits:?}");
}

/// Two legs that disagree: text prefers 1, vectors prefer 2.
fn disagreeing(ranking: Ranking) -> Vec<u64> {
    let index = open(ranking);
    index
        .apply(
            &[
                doc(1, "a", "zebra zebra zebra", vec![0.0, 1.0]),
                doc(
                    2,
                    "a",
                    "a zebra among many other words here",
                    vec![1.0, 0.0],
                ),
            ],
            1,
        )
        .expect("apply");
    index.load_vectors("a", vec![(1, vec![0.0, 1.0]), (2, vec![1.0, 0.0])]);
    let query = Query {
        vector: Some(vec![1.0, 0.0]),
        ..text_query("a", "zebra")
    };
    search_keys(&index, &query)
}

#[test]
fn fusion_weights_decide_between_legs_that_disagree() {
    let rrf = |text_weight, vector_weight| Ranking {
        fusion: Fusion::Rrf {
            k: 60.0,
            text_weight,
            vector_weight,
        },
        ..Ranking::default()
    };
    assert_eq!(disagreeing(rrf(1.0, 2.0)), vec![2, 1]);
    assert_eq!(disagreeing(rrf(2.0, 1.0)), vec![1, 2]);
    let convex = |alpha| Ranking {
        fusion: Fusion::Convex { alpha },
        ..Ranking::default()
    };
    assert_eq!(disagreeing(convex(0.9)), vec![2, 1]);
    assert_eq!(disagreeing(convex(0.1)), vec![1, 2]);
}

#[test]
fn vector_feedback_moves_the_query_towards_the_first_hits() {
    // The query vector is nearest to 1; 1's neighbourhood (2) is far from the query itself.
    let vectors = vec![
        (1, unit([1.0, 0.2, 0.0])),
        (2, unit([0.6, 1.0, 0.0])),
        (3, unit([0.75, 0.0, 1.0])),
    ];
    let search = |feedback: f32| {
        let index = open(Ranking {
            vector_feedback: feedback,
            feedback_docs: 1,
            ..Ranking::default()
        });
        let changes: Vec<_> = vectors
            .iter()
            .map(|(k, v)| doc(*k, "a", "x", v.clone()))
            .collect();
        index.apply(&changes, 1).expect("apply");
        index.load_vectors("a", vectors.clone());
        let query = Query {
            vector: Some(unit([1.0, 0.0, 0.0])),
            ..Query::new("a")
        };
        search_keys(&index, &query)
    };
    // Without feedback 3 (cosine 0.6) beats 2 (0.51); pulled towards 1, the query prefers 2.
    assert_eq!(search(0.0), vec![1, 3, 2]);
    assert_eq!(search(2.0), vec![1, 2, 3]);
}

fn unit<const N: usize>(v: [f32; N]) -> Vec<f32> {
    normalise(v.to_vec())
}

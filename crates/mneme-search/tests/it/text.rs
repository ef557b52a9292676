//! The BM25 leg: ranking, stemming, owner isolation, removes, filters and lenient parsing.
//!
//! Each behaviour is checked with the changes pending in the memory tier, flushed to tantivy,
//! and flushed with the later changes pending (`Tiers`).

use std::collections::HashSet;
use std::sync::Arc;

use mneme_search::{Query, SearchIndex};

use crate::{Tiers, remove, search_keys, text_doc, text_query};

fn corpus(tiers: Tiers) -> SearchIndex {
    let index = SearchIndex::open(None).expect("open");
    tiers.setup(
        &index,
        &[
            text_doc(
                1,
                "archive-a",
                "the weather today is nice and the sun is out",
            ),
            text_doc(2, "archive-a", "the cat sat on the mat and the dog sat too"),
            text_doc(3, "archive-a", "my zebra named quixote likes the sun"),
            text_doc(4, "archive-a", "the the the the sun sun"),
            text_doc(
                5,
                "archive-b",
                "another archive also has a zebra named quixote",
            ),
        ],
        1,
    );
    index
}

#[test]
fn the_passage_with_the_rare_words_ranks_first() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        let hits = search_keys(&index, &text_query("archive-a", "the zebra and the sun"));
        assert_eq!(hits.first(), Some(&3), "{tiers:?}: {hits:?}");
        // Every document of the owner containing a query word is a candidate.
        assert_eq!(
            hits.iter().copied().collect::<HashSet<_>>(),
            [1, 2, 3, 4].into(),
            "{tiers:?}"
        );
    }
}

#[test]
fn stemming_matches_other_forms_of_a_word() {
    for tiers in Tiers::ALL {
        let index = SearchIndex::open(None).expect("open");
        tiers.setup(
            &index,
            &[
                text_doc(1, "a", "I like running in the park"),
                text_doc(2, "a", "Cooking dinner"),
            ],
            1,
        );
        assert_eq!(search_keys(&index, &text_query("a", "RUNS")), vec![1]);
        assert_eq!(search_keys(&index, &text_query("a", "run")), vec![1]);
        assert_eq!(search_keys(&index, &text_query("a", "cooked")), vec![2]);
    }
}

#[test]
fn another_owners_documents_are_never_returned() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        let hits = search_keys(
            &index,
            &text_query("archive-b", "zebra sun the weather cat"),
        );
        assert_eq!(hits, vec![5], "{tiers:?}");
        assert!(search_keys(&index, &text_query("archive-c", "zebra")).is_empty());
        // Owner ids are matched whole, not as words.
        assert!(search_keys(&index, &text_query("archive", "zebra")).is_empty());
    }
}

#[test]
fn a_removed_document_is_gone_at_once() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        tiers.change(&index, &[remove(3, "archive-a")], 2);
        let hits = search_keys(&index, &text_query("archive-a", "zebra quixote"));
        assert!(hits.is_empty(), "{tiers:?}: {hits:?}");
    }
}

#[test]
fn an_upsert_replaces_the_text() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        tiers.change(&index, &[text_doc(3, "archive-a", "now about giraffes")], 2);
        assert!(
            search_keys(&index, &text_query("archive-a", "zebra")).is_empty(),
            "{tiers:?}"
        );
        assert_eq!(
            search_keys(&index, &text_query("archive-a", "giraffe")),
            vec![3]
        );
    }
}

#[test]
fn allowed_filters_inside_the_leg_not_after_it() {
    for tiers in Tiers::ALL {
        let index = SearchIndex::open(None).expect("open");
        // 100 documents about apples; only the weakest matches are allowed.
        let changes: Vec<_> = (1..=100)
            .map(|key| {
                let apples = "apple ".repeat(1 + (key as usize % 5));
                text_doc(key, "a", &format!("{apples} and filler words number {key}"))
            })
            .collect();
        // Mixed: half of them pending, so that both tiers hold allowed and disallowed keys.
        tiers.setup(&index, &changes[..50], 1);
        tiers.change(&index, &changes[50..], 2);
        let allowed: HashSet<u64> = (1..=100).filter(|k| k % 5 == 0).collect();
        let query = Query {
            limit: 10,
            candidates: Some(10),
            allowed: Some(Arc::new(allowed.clone())),
            ..text_query("a", "apple")
        };
        let hits = search_keys(&index, &query);
        // A post-filter of the top 10 would have found none of them.
        assert_eq!(hits.len(), 10, "{tiers:?}: {hits:?}");
        assert!(hits.iter().all(|k| allowed.contains(k)), "{tiers:?}");
    }
}

#[test]
fn odd_query_syntax_is_just_words() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        for text in [
            "\"zebra",
            "zebra:",
            "text:zebra",
            "zebra AND OR NOT",
            "(zebra",
            "zebra)) [sun} ^2 ~ * ? \\",
            "-zebra +sun",
            "key:3",
            "",
            "   ",
            "!!!",
            "über café zebra",
            "'; DROP TABLE passages; --",
        ] {
            let result = index.search(&text_query("archive-a", text));
            assert!(result.is_ok(), "{tiers:?} {text:?}: {result:?}");
        }
        assert_eq!(
            search_keys(&index, &text_query("archive-a", "text:zebra")),
            vec![3]
        );
        assert!(search_keys(&index, &text_query("archive-a", "!!!")).is_empty());
    }
}

#[test]
fn removing_an_owner_drops_its_documents_only() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        let durable = index.watermark();
        index.remove_owner("archive-a").expect("remove owner");
        assert!(search_keys(&index, &text_query("archive-a", "zebra sun cat")).is_empty());
        assert_eq!(
            search_keys(&index, &text_query("archive-b", "zebra")),
            vec![5]
        );
        assert_eq!(index.watermark(), durable, "{tiers:?}");
        assert_eq!(index.applied_watermark(), 1);
        // Flushing afterwards must not bring the owner's pending documents back.
        index.flush().expect("flush");
        assert!(search_keys(&index, &text_query("archive-a", "zebra sun cat")).is_empty());
        assert_eq!(index.watermark(), 1);
    }
}

#[test]
fn no_text_and_no_vector_finds_nothing() {
    for tiers in Tiers::ALL {
        let index = corpus(tiers);
        assert!(search_keys(&index, &Query::new("archive-a")).is_empty());
        let zero = Query {
            limit: 0,
            ..text_query("archive-a", "zebra")
        };
        assert!(search_keys(&index, &zero).is_empty());
    }
}

//! The memory tier: changes are searchable before any commit, ranks do not depend on which tier
//! holds a document, the tier bounds itself, and flushes never hide a document from a search.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mneme_search::{Change, Query, SearchIndex, SearchOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Tiers, search_keys, text_doc, text_query};

#[test]
fn a_change_is_searchable_before_it_is_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = SearchIndex::open(Some(dir.path())).expect("open");
    index
        .apply(&[text_doc(1, "a", "a note about tulips")], 3)
        .expect("apply");
    assert_eq!(search_keys(&index, &text_query("a", "tulip")), vec![1]);
    assert_eq!((index.watermark(), index.applied_watermark()), (0, 3));
    index.flush().expect("flush");
    assert_eq!((index.watermark(), index.applied_watermark()), (3, 3));
    assert_eq!(search_keys(&index, &text_query("a", "tulip")), vec![1]);
}

#[test]
fn a_key_moved_to_another_owner_leaves_the_old_owner() {
    let index = SearchIndex::open(None).expect("open");
    index
        .apply(
            &[
                text_doc(1, "a", "apple apple apple"),
                text_doc(2, "a", "apple and more words"),
            ],
            1,
        )
        .expect("apply");
    index.flush().expect("flush");
    index
        .apply(&[text_doc(1, "b", "apple apple apple")], 2)
        .expect("apply");
    // Owner a has nothing pending, yet its best committed hit is hidden: the one hit asked
    // for is the next one.
    let query = Query {
        limit: 1,
        candidates: Some(1),
        ..text_query("a", "apple")
    };
    assert_eq!(search_keys(&index, &query), vec![2]);
    assert_eq!(search_keys(&index, &text_query("b", "apple")), vec![1]);
}

#[test]
fn ranks_do_not_depend_on_which_tier_holds_a_document() {
    let mut rng = StdRng::seed_from_u64(7);
    let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
    let changes: Vec<Change> = (1..=300u64)
        .map(|key| {
            let len = rng.random_range(3..30);
            // Squaring skews the draw towards the first words: frequent and rare words.
            let text: Vec<&str> = (0..len)
                .map(|_| {
                    let x: f64 = rng.random();
                    words[(x * x * words.len() as f64) as usize].as_str()
                })
                .collect();
            text_doc(key, "a", &text.join(" "))
        })
        .collect();
    // One word each: a single term's BM25 is the same float operations in both tiers, so
    // even exact ties come out in the same (key) order. Sums over several words may differ
    // in the last bit with the order of addition; `text::search`'s unit tests compare those
    // scores with a tolerance.
    let queries: Vec<&str> = words.iter().step_by(3).map(String::as_str).collect();
    let ranking = |tiers: Tiers| {
        let index = SearchIndex::open(None).expect("open");
        tiers.setup(&index, &changes[..150], 1);
        tiers.change(&index, &changes[150..], 2);
        let ranks: Vec<Vec<u64>> = queries
            .iter()
            .map(|q| {
                let query = Query {
                    limit: 300,
                    ..text_query("a", q)
                };
                search_keys(&index, &query)
            })
            .collect();
        ranks
    };
    let flushed = ranking(Tiers::Flushed);
    assert!(flushed.iter().all(|r| r.len() > 3), "{flushed:?}");
    assert_eq!(ranking(Tiers::Memory), flushed);
    assert_eq!(ranking(Tiers::Mixed), flushed);
}

#[test]
fn the_tier_flushes_itself_past_its_bound() {
    let options = SearchOptions {
        tier_max_changes: 10,
        ..SearchOptions::default()
    };
    let index = SearchIndex::open_with(None, options).expect("open");
    let batch = |from: u64| -> Vec<Change> {
        (from..from + 4)
            .map(|k| text_doc(k, "a", "bounded words"))
            .collect()
    };
    index.apply(&batch(1), 1).expect("apply");
    index.apply(&batch(5), 2).expect("apply");
    assert_eq!(index.watermark(), 0);
    index.apply(&batch(9), 3).expect("apply");
    assert_eq!(index.watermark(), 3);
    let query = Query {
        limit: 20,
        ..text_query("a", "bounded")
    };
    assert_eq!(search_keys(&index, &query).len(), 12);
}

#[test]
fn searches_during_flushes_never_miss_a_document() {
    const STABLE: u64 = 40;
    let index = Arc::new(SearchIndex::open(None).expect("open"));
    let stable: Vec<Change> = (1..=STABLE)
        .map(|k| text_doc(k, "a", &format!("common stable words {k}")))
        .collect();
    index.apply(&stable, 1).expect("apply");
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for round in 0..20u64 {
                // The stable documents move back into the tier (same text, new version) and
                // out again with every flush; new documents come and stay.
                let mut changes = stable.clone();
                changes.push(text_doc(1000 + round, "a", "common new words"));
                index.apply(&changes, round + 2).expect("apply");
                index.flush().expect("flush");
            }
            done.store(true, Ordering::Release);
        });
        for _ in 0..2 {
            scope.spawn(|| {
                let query = Query {
                    limit: 200,
                    candidates: Some(200),
                    ..text_query("a", "common stable")
                };
                let mut searches = 0;
                while !done.load(Ordering::Acquire) || searches == 0 {
                    let found: HashSet<u64> = search_keys(&index, &query).into_iter().collect();
                    let missing: Vec<u64> = (1..=STABLE).filter(|k| !found.contains(k)).collect();
                    assert!(missing.is_empty(), "missing {missing:?}");
                    searches += 1;
                }
            });
        }
    });
    assert_eq!(index.watermark(), 21);
}

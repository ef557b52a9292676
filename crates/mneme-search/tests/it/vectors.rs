//! The vector leg on exact collections: loading, removes, filters, dimensions, isolation.

use std::collections::HashSet;
use std::sync::Arc;

use mneme_search::{Query, SearchError, SearchIndex};

use crate::{axis, doc, remove, search_keys, text_doc, vector_query};

const DIMS: usize = 8;

/// Owner "a": keys 1..=4 point along axes 0..=3; owner "b": key 10 along axis 0.
fn loaded() -> SearchIndex {
    let index = SearchIndex::open(None).expect("open");
    index.load_vectors("a", Vec::new());
    index.load_vectors("b", Vec::new());
    let mut changes: Vec<_> = (1..=4)
        .map(|k| doc(k, "a", "text", axis(DIMS, k as usize - 1, 7, 0.1)))
        .collect();
    changes.push(doc(10, "b", "text", axis(DIMS, 0, 7, 0.0)));
    index.apply(&changes, 1).expect("apply");
    index
}

#[test]
fn nearest_vectors_come_first() {
    let index = loaded();
    let hits = search_keys(&index, &vector_query("a", axis(DIMS, 2, 1, 0.5)));
    assert_eq!(hits[..2], [3, 2]);
    assert_eq!(hits.len(), 4);
}

#[test]
fn load_vectors_installs_a_collection_read_from_the_database() {
    let index = SearchIndex::open(None).expect("open");
    assert!(!index.has_vectors("a"));
    let err = index.search(&vector_query("a", axis(DIMS, 0, 1, 0.0)));
    assert!(
        matches!(err, Err(SearchError::VectorsNotLoaded(_))),
        "{err:?}"
    );
    index.load_vectors(
        "a",
        (1..=4)
            .map(|k| (k, axis(DIMS, k as usize, 0, 0.0)))
            .collect(),
    );
    assert!(index.has_vectors("a"));
    assert_eq!(index.vector_stats("a").map(|s| s.vectors), Some(4));
    assert_eq!(
        search_keys(&index, &vector_query("a", axis(DIMS, 3, 0, 0.0)))[0],
        3
    );
}

#[test]
fn another_owners_vectors_are_never_returned() {
    let index = loaded();
    let hits = search_keys(&index, &vector_query("b", axis(DIMS, 1, 0, 0.0)));
    assert_eq!(hits, vec![10]);
}

#[test]
fn removes_and_vectorless_upserts_take_effect_at_once() {
    let index = loaded();
    index.apply(&[remove(3, "a")], 2).expect("apply");
    let hits = search_keys(&index, &vector_query("a", axis(DIMS, 2, 0, 0.0)));
    assert!(!hits.contains(&3), "{hits:?}");
    // An upsert without a vector: the document lost its embedding.
    index.apply(&[text_doc(2, "a", "text")], 3).expect("apply");
    let hits = search_keys(&index, &vector_query("a", axis(DIMS, 1, 0, 0.0)));
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(!hits.contains(&2));
    assert_eq!(index.vector_stats("a").map(|s| s.vectors), Some(2));
}

#[test]
fn allowed_filters_the_vector_leg() {
    let index = loaded();
    let query = Query {
        limit: 1,
        candidates: Some(1),
        allowed: Some(Arc::new(HashSet::from([1, 4]))),
        ..vector_query("a", axis(DIMS, 2, 3, 0.5))
    };
    assert_eq!(search_keys(&index, &query), vec![4]);
}

#[test]
fn a_query_of_another_dimension_is_an_error() {
    let index = loaded();
    let err = index.search(&vector_query("a", vec![1.0, 0.0, 0.0]));
    assert!(
        matches!(
            err,
            Err(SearchError::Dimension {
                expected: DIMS,
                got: 3,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn an_insert_of_another_dimension_is_ignored() {
    let index = loaded();
    index
        .apply(&[doc(5, "a", "text", vec![1.0, 0.0, 0.0])], 2)
        .expect("a wrong vector does not fail the batch");
    assert_eq!(index.vector_stats("a").map(|s| s.vectors), Some(4));
    // A replacement of the wrong dimension drops the old vector too.
    index
        .apply(&[doc(1, "a", "text", vec![1.0; 3])], 3)
        .expect("apply");
    let hits = search_keys(&index, &vector_query("a", axis(DIMS, 0, 7, 0.1)));
    assert!(!hits.contains(&1), "{hits:?}");
}

#[test]
fn changes_for_collections_not_loaded_are_text_only() {
    let index = SearchIndex::open(None).expect("open");
    index
        .apply(&[doc(1, "a", "text", axis(DIMS, 0, 1, 0.0))], 1)
        .expect("apply");
    assert!(!index.has_vectors("a"));
}

#[test]
fn removing_an_owner_unloads_its_vectors() {
    let index = loaded();
    index.remove_owner("a").expect("remove owner");
    assert!(!index.has_vectors("a"));
    assert!(index.has_vectors("b"));
}

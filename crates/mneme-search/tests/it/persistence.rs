//! The on-disk index: the watermark of the last flush survives a reopen, changes not flushed
//! do not (the caller replays them), and replaying changes is harmless.

use mneme_search::SearchIndex;

use crate::{remove, search_keys, text_doc, text_query};

#[test]
fn a_new_index_starts_at_watermark_zero() {
    assert_eq!(SearchIndex::open(None).expect("open").watermark(), 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let index = SearchIndex::open(Some(&dir.path().join("search"))).expect("open");
    assert_eq!(index.watermark(), 0);
}

#[test]
fn the_watermark_and_documents_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("search");
    {
        let index = SearchIndex::open(Some(&path)).expect("open");
        index
            .apply(
                &[
                    text_doc(1, "a", "persistent words"),
                    text_doc(2, "a", "other"),
                ],
                41,
            )
            .expect("apply");
        index.apply(&[remove(2, "a")], 42).expect("apply");
        // A batch with an older watermark (a late synchronous apply) does not lower it.
        index
            .apply(&[text_doc(3, "a", "late words")], 40)
            .expect("apply");
        // Removing an owner commits too, and must keep the watermark.
        index.remove_owner("b").expect("remove owner");
        index.flush().expect("flush");
    }
    let index = SearchIndex::open(Some(&path)).expect("reopen");
    assert_eq!(index.watermark(), 42);
    assert_eq!(search_keys(&index, &text_query("a", "words")).len(), 2);
    assert!(search_keys(&index, &text_query("a", "other")).is_empty());
}

#[test]
fn replaying_changes_from_the_watermark_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("search");
    let outbox = [
        text_doc(1, "a", "apple pie"),
        text_doc(2, "a", "apple tart"),
        remove(1, "a"),
        text_doc(2, "a", "apple crumble"),
        text_doc(3, "a", "apple juice"),
    ];
    {
        let index = SearchIndex::open(Some(&path)).expect("open");
        index.apply(&outbox[..3], 3).expect("apply");
        index.flush().expect("flush");
        // Applied but never flushed: lost with the process.
        index.apply(&outbox[3..], 5).expect("apply");
    }
    // "Crash" before the next batch was acknowledged: replay it all, twice for good measure.
    let index = SearchIndex::open(Some(&path)).expect("reopen");
    assert_eq!(index.watermark(), 3);
    index.apply(&outbox, 5).expect("replay");
    index.flush().expect("flush");
    index.apply(&outbox, 5).expect("replay again");
    for flushed in [false, true] {
        let hits = search_keys(&index, &text_query("a", "apple"));
        assert_eq!(hits.len(), 2, "flushed {flushed}: {hits:?}");
        assert!(!hits.contains(&1));
        assert_eq!(search_keys(&index, &text_query("a", "crumble")), vec![2]);
        assert!(search_keys(&index, &text_query("a", "tart")).is_empty());
        index.flush().expect("flush");
    }
    assert_eq!(index.watermark(), 5);
}

#[test]
fn only_flushed_changes_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("search");
    {
        let index = SearchIndex::open(Some(&path)).expect("open");
        index
            .apply(&[text_doc(1, "a", "flushed words")], 7)
            .expect("apply");
        index.flush().expect("flush");
        index
            .apply(&[text_doc(2, "a", "pending words"), remove(1, "a")], 9)
            .expect("apply");
        assert_eq!((index.watermark(), index.applied_watermark()), (7, 9));
        // A flush with nothing new writes nothing and keeps the watermark.
        index.flush().expect("flush");
        index.flush().expect("flush");
        assert_eq!((index.watermark(), index.applied_watermark()), (9, 9));
        index
            .apply(&[text_doc(3, "a", "more pending words")], 12)
            .expect("apply");
    }
    let index = SearchIndex::open(Some(&path)).expect("reopen");
    assert_eq!((index.watermark(), index.applied_watermark()), (9, 9));
    assert_eq!(search_keys(&index, &text_query("a", "words")), vec![2]);
}

#[test]
fn a_path_that_is_a_file_is_an_open_error() {
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    let result = SearchIndex::open(Some(file.path()));
    assert!(matches!(
        result,
        Err(mneme_search::SearchError::Open { .. })
    ));
}

//! `SearchStore`: the outbox search indices are derived from (see `search_changes` for what
//! readers may rely on).

use std::sync::Arc;

use super::fixtures::*;
use super::search::{changes, last_seq, message_keys, passage_keys, said, set};
use crate::{Message, Role, SearchKind, Store};

pub async fn passage_changes_reach_the_outbox(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let ar = store.default_archive(a.id, archive("a")).await.unwrap();
    let owner = ar.id.to_string();
    let (p1, p2) = (
        passage(ar.id, "one", &[], None),
        passage(ar.id, "two", &[], None),
    );
    store
        .insert_passages(vec![p1.clone(), p2.clone()])
        .await
        .unwrap();
    let keys = passage_keys(&*store).await;
    let (k1, k2) = (keys[&p1.id], keys[&p2.id]);
    let upsert = |key| (SearchKind::Passage, key, owner.clone(), false);
    let remove = |key| (SearchKind::Passage, key, owner.clone(), true);
    assert_eq!(said(&*store, 0).await, [upsert(k1), upsert(k2)]);
    let mark = last_seq(&*store).await;
    let run = run_for(&*store, a.id).await;
    let p3 = passage(ar.id, "three", &[], None);
    let mut c = commit(&a, run, vec![]);
    c.passages = vec![p3.clone()];
    store.commit_step(c).await.unwrap();
    let k3 = passage_keys(&*store).await[&p3.id];
    assert_eq!(said(&*store, mark).await, [upsert(k3)]);
    let mark = last_seq(&*store).await;
    store.delete_passage(&[ar.id], p1.id).await.unwrap();
    assert_eq!(said(&*store, mark).await, [remove(k1)]);
    let mark = last_seq(&*store).await;
    store.delete_archive(ar.id).await.unwrap();
    assert_eq!(
        set(said(&*store, mark).await),
        set([remove(k2), remove(k3)])
    );
}

pub async fn message_changes_reach_the_outbox(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    assert!(
        changes(&*store, 0).await.is_empty(),
        "system messages are not searchable"
    );
    let (m1, m2) = (
        message(a.id, Role::User, "u"),
        message(a.id, Role::Assistant, "a"),
    );
    append(&*store, a.id, vec![m1.clone(), m2.clone()]).await;
    let keys = message_keys(&*store, a.id).await;
    let (k1, k2) = (keys[&m1.id], keys[&m2.id]);
    let owner = a.id.to_string();
    let upsert = |key| (SearchKind::Message, key, owner.clone(), false);
    let remove = |key| (SearchKind::Message, key, owner.clone(), true);
    assert_eq!(said(&*store, 0).await, [upsert(k1), upsert(k2)]);
    let mark = last_seq(&*store).await;
    store
        .set_message_text(a.message_ids[0], "recompiled".into())
        .await
        .unwrap();
    assert!(changes(&*store, mark).await.is_empty());
    store
        .set_message_text(m1.id, "edited".into())
        .await
        .unwrap();
    let retitle = Box::new(|m: &mut Message| {
        m.text = "changed".into();
        Ok(())
    });
    store.update_message(m2.id, retitle).await.unwrap();
    store
        .store_message_vectors(vec![(k1, a.id, vec![1.0])], ("c", k1))
        .await
        .unwrap();
    assert_eq!(
        said(&*store, mark).await,
        [upsert(k1), upsert(k2), upsert(k1)]
    );
    let mark = last_seq(&*store).await;
    let fresh = message(a.id, Role::User, "fresh");
    store
        .reset_messages(a.id, vec![fresh.clone()])
        .await
        .unwrap();
    let k3 = message_keys(&*store, a.id).await[&fresh.id];
    let after_reset = set(said(&*store, mark).await);
    assert_eq!(after_reset, set([remove(k1), remove(k2), upsert(k3)]));
    let mark = last_seq(&*store).await;
    store.delete_agent(a.id).await.unwrap();
    assert_eq!(said(&*store, mark).await, [remove(k3)]);
}

pub async fn outbox_seqs_increase_and_reads_are_bounded(store: Arc<dyn Store>) {
    let ar = store.create_archive(archive("a"), None).await.unwrap();
    for i in 0..5 {
        let p = passage(ar.id, &format!("p{i}"), &[], None);
        store.insert_passages(vec![p]).await.unwrap();
    }
    let all = changes(&*store, 0).await;
    let seqs: Vec<u64> = all.iter().map(|c| c.seq).collect();
    assert_eq!(seqs.len(), 5);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order, unique: {seqs:?}"
    );
    assert!(
        seqs[0] > 0,
        "0 is the watermark of an index that applied nothing"
    );
    assert_eq!(store.search_changes(0, 2).await.unwrap(), all[..2]);
    assert_eq!(store.search_changes(seqs[1], 2).await.unwrap(), all[2..4]);
    assert_eq!(store.search_changes(seqs[3], 10).await.unwrap(), all[4..]);
    assert!(store.search_changes(seqs[4], 10).await.unwrap().is_empty());
    assert_eq!(changes(&*store, 0).await, all, "reading moves nothing");
    // A change written after others committed comes after them.
    store
        .insert_passages(vec![passage(ar.id, "late", &[], None)])
        .await
        .unwrap();
    let late = changes(&*store, seqs[4]).await;
    assert_eq!(late.len(), 1);
    assert!(late[0].seq > seqs[4]);
}

pub async fn pruning_drops_only_applied_changes(store: Arc<dyn Store>) {
    let ar = store.create_archive(archive("a"), None).await.unwrap();
    for i in 0..4 {
        let p = passage(ar.id, &format!("p{i}"), &[], None);
        store.insert_passages(vec![p]).await.unwrap();
    }
    let all = changes(&*store, 0).await;
    store.prune_search_changes(0).await.unwrap();
    assert_eq!(changes(&*store, 0).await, all);
    store.prune_search_changes(all[1].seq).await.unwrap();
    assert_eq!(
        changes(&*store, 0).await,
        all[2..],
        "later rows keep their seqs"
    );
    store.prune_search_changes(all[3].seq).await.unwrap();
    assert!(changes(&*store, 0).await.is_empty());
    store
        .insert_passages(vec![passage(ar.id, "new", &[], None)])
        .await
        .unwrap();
    let new = changes(&*store, 0).await;
    assert!(
        new.len() == 1 && new[0].seq > all[3].seq,
        "seqs are never reused"
    );
}

pub async fn reindex_queues_every_searchable_row(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let ar = store.default_archive(a.id, archive("a")).await.unwrap();
    let ps = vec![
        passage(ar.id, "one", &[], None),
        passage(ar.id, "two", &[], None),
    ];
    store.insert_passages(ps.clone()).await.unwrap();
    let ms = vec![
        message(a.id, Role::User, "u"),
        message(a.id, Role::Tool, "t"),
    ];
    append(&*store, a.id, ms.clone()).await;
    let before = set(said(&*store, 0).await);
    store
        .prune_search_changes(last_seq(&*store).await)
        .await
        .unwrap();
    store.reindex_search().await.unwrap();
    assert_eq!(
        set(said(&*store, 0).await),
        before,
        "one upsert per searchable row"
    );
    let (pk, mk) = (
        passage_keys(&*store).await,
        message_keys(&*store, a.id).await,
    );
    let expected = set(ps
        .iter()
        .map(|p| (SearchKind::Passage, pk[&p.id], ar.id.to_string()))
        .chain(
            ms.iter()
                .map(|m| (SearchKind::Message, mk[&m.id], a.id.to_string())),
        ));
    let got = said(&*store, 0).await;
    assert!(got.iter().all(|c| !c.3));
    assert_eq!(set(got.into_iter().map(|c| (c.0, c.1, c.2))), expected);
}

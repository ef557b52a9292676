//! `ArchiveStore` and `PassageStore`: archives, their agents and their passages.

use std::collections::BTreeSet;
use std::sync::Arc;

use mneme_types::{AgentId, ArchiveId, PassageId};

use super::fixtures::*;
use crate::{ArchiveEdit, ArchiveFilter, Order, Page, Passage, PassageList, Store};

fn all_passages() -> PassageList {
    PassageList {
        limit: 100,
        ascending: true,
        ..PassageList::default()
    }
}

async fn passage_ids(store: &dyn Store, archives: &[ArchiveId], q: &PassageList) -> Vec<PassageId> {
    ids(&store.list_passages(archives, q).await.unwrap(), |p| p.id)
}

async fn archive_ids(store: &dyn Store, agent: AgentId) -> Vec<ArchiveId> {
    ids(&store.agent_archives(agent).await.unwrap(), |a| a.id)
}

pub async fn archives_round_trip_and_update(store: Arc<dyn Store>) {
    let mut full = archive("full");
    full.description = Some("d".into());
    full.metadata = Some(serde_json::from_value(serde_json::json!({"k": 1})).unwrap());
    full.embedding_config = Some(
        serde_json::from_value(serde_json::json!({
            "embedding_endpoint_type": "openai", "embedding_model": "e", "embedding_dim": 3
        }))
        .unwrap(),
    );
    assert_eq!(
        store.create_archive(full.clone(), None).await.unwrap(),
        full
    );
    assert_eq!(store.get_archive(full.id).await.unwrap(), full);
    assert_conflict(store.create_archive(full.clone(), None).await);
    let a = agent(&*store, "a").await;
    let owned = store
        .create_archive(archive("owned"), Some(a.id))
        .await
        .unwrap();
    assert_eq!(archive_ids(&*store, a.id).await, [owned.id]);
    let orphan = archive("orphan");
    assert_not_found(
        store
            .create_archive(orphan.clone(), Some(AgentId::new()))
            .await,
    );
    assert_not_found(store.get_archive(orphan.id).await);

    let other = ArchiveId::new();
    let rename: ArchiveEdit = Box::new(move |a| {
        a.name = "renamed".into();
        a.description = None;
        a.id = other;
        Ok(())
    });
    let updated = store.update_archive(full.id, rename).await.unwrap();
    assert_eq!((updated.id, updated.name.as_str()), (full.id, "renamed"));
    assert!(updated.updated_at >= full.updated_at);
    assert_eq!(store.get_archive(full.id).await.unwrap(), updated);
    assert_not_found(store.get_archive(other).await);
    let refused_edit: ArchiveEdit = Box::new(|a| {
        a.name = "refused".into();
        Err(refused())
    });
    assert_invalid(store.update_archive(full.id, refused_edit).await);
    assert_eq!(store.get_archive(full.id).await.unwrap().name, "renamed");
    let unknown = store
        .update_archive(ArchiveId::new(), Box::new(|_| Ok(())))
        .await;
    assert_not_found(unknown);
}

pub async fn archive_lists_filter_and_page(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let mut ar = Vec::new();
    for (i, name) in ["x", "y", "x", "z"].into_iter().enumerate() {
        let mut made = archive(name);
        made.created_at = at(i as i64);
        ar.push(store.create_archive(made, None).await.unwrap().id);
    }
    store.attach_archive(a.id, ar[1]).await.unwrap();
    store.attach_archive(a.id, ar[3]).await.unwrap();
    let list = |filter: ArchiveFilter, page: Page| {
        let store = store.clone();
        async move {
            ids(&store.list_archives(&filter, &page).await.unwrap(), |a| {
                a.id
            })
        }
    };
    let named = ArchiveFilter {
        name: Some("x".into()),
        ..Default::default()
    };
    let set = |v: Vec<ArchiveId>| v.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(
        set(list(named, page(10, Order::Asc)).await),
        set(vec![ar[0], ar[2]])
    );
    let of_agent = ArchiveFilter {
        agent: Some(a.id),
        ..Default::default()
    };
    assert_eq!(
        set(list(of_agent, page(10, Order::Asc)).await),
        set(vec![ar[1], ar[3]])
    );
    let all = ArchiveFilter::default;
    assert_eq!(list(all(), page(2, Order::Asc)).await, ar[..2]);
    assert_eq!(
        list(all(), cursor(page(10, Order::Asc), ar[1], true)).await,
        ar[2..]
    );
    assert_eq!(list(all(), page(2, Order::Desc)).await, [ar[3], ar[2]]);
    assert_eq!(
        list(all(), cursor(page(10, Order::Desc), ar[1], false)).await,
        [ar[3], ar[2]]
    );
    let unknown = cursor(page(10, Order::Asc), ArchiveId::new(), true);
    assert_not_found(store.list_archives(&all(), &unknown).await);
}

pub async fn an_agent_gets_one_default_archive_and_loses_it_with_itself(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let (first, second) = tokio::join!(
        store.default_archive(a.id, archive("one")),
        store.default_archive(a.id, archive("two")),
    );
    assert_eq!(first.unwrap().id, second.unwrap().id, "one default archive");
    let shared = store.create_archive(archive("shared"), None).await.unwrap();
    store.attach_archive(a.id, shared.id).await.unwrap();
    store.attach_archive(a.id, shared.id).await.unwrap();
    let archives = store.agent_archives(a.id).await.unwrap();
    assert_eq!(archives.len(), 2);
    assert_eq!(archives[1].id, shared.id);
    let again = store.default_archive(a.id, archive("three")).await.unwrap();
    assert_eq!(
        again.id, archives[0].id,
        "the first attached archive is the default"
    );

    store.delete_agent(a.id).await.unwrap();
    assert_not_found(store.get_archive(archives[0].id).await);
    // An archive the agent did not own stays.
    store.get_archive(shared.id).await.unwrap();

    let b = agent(&*store, "b").await;
    store.attach_archive(b.id, shared.id).await.unwrap();
    let default = store
        .default_archive(b.id, archive("unused"))
        .await
        .unwrap();
    assert_eq!(
        default.id, shared.id,
        "an attached archive serves as the default"
    );
    assert_not_found(store.default_archive(AgentId::new(), archive("x")).await);
}

pub async fn detaching_and_deleting_archives(store: Arc<dyn Store>) {
    let a = agent(&*store, "a").await;
    let own = store.default_archive(a.id, archive("own")).await.unwrap();
    let shared = store.create_archive(archive("shared"), None).await.unwrap();
    store.attach_archive(a.id, shared.id).await.unwrap();
    let p = passage(shared.id, "kept while detached", &[], None);
    store.insert_passages(vec![p.clone()]).await.unwrap();
    assert_eq!(
        store.count_passages().await.unwrap(),
        1,
        "the quota's count"
    );
    store.detach_archive(a.id, shared.id).await.unwrap();
    store.detach_archive(a.id, shared.id).await.unwrap();
    assert_eq!(archive_ids(&*store, a.id).await, [own.id]);
    let readers = store
        .agents_of_archive(shared.id, &page(10, Order::Asc))
        .await;
    assert!(readers.unwrap().is_empty());
    assert_eq!(
        passage_ids(&*store, &[shared.id], &all_passages()).await,
        [p.id]
    );

    store.delete_archive(shared.id).await.unwrap();
    assert_eq!(store.count_passages().await.unwrap(), 0);
    assert_not_found(store.get_archive(shared.id).await);
    assert!(
        passage_ids(&*store, &[shared.id], &all_passages())
            .await
            .is_empty()
    );
    assert_not_found(store.delete_archive(shared.id).await);
    assert_not_found(store.attach_archive(a.id, shared.id).await);
    assert_not_found(store.detach_archive(a.id, shared.id).await);
    let unknown = AgentId::new();
    assert_not_found(store.attach_archive(unknown, own.id).await);
    assert_not_found(store.detach_archive(unknown, own.id).await);
    assert_not_found(store.agent_archives(unknown).await);
    store.delete_archive(own.id).await.unwrap();
    assert!(archive_ids(&*store, a.id).await.is_empty());
}

pub async fn agents_of_archive_page_like_agent_lists(store: Arc<dyn Store>) {
    let shared = store.create_archive(archive("shared"), None).await.unwrap();
    let mut agents = Vec::new();
    for i in 0..3 {
        let mut new = new_agent(&format!("a{i}"), vec![]);
        new.agent.created_at = at(i);
        let a = store.create_agent(new).await.unwrap();
        store.attach_archive(a.id, shared.id).await.unwrap();
        agents.push(a.id);
    }
    agent(&*store, "not attached").await;
    let of = |page: Page| {
        let store = store.clone();
        async move {
            ids(
                &store.agents_of_archive(shared.id, &page).await.unwrap(),
                |a| a.id,
            )
        }
    };
    assert_eq!(of(page(2, Order::Asc)).await, agents[..2]);
    assert_eq!(
        of(cursor(page(10, Order::Asc), agents[0], true)).await,
        agents[1..]
    );
    assert_eq!(
        of(page(10, Order::Desc)).await,
        [agents[2], agents[1], agents[0]]
    );
    assert_not_found(
        store
            .agents_of_archive(ArchiveId::new(), &page(10, Order::Asc))
            .await,
    );
}

pub async fn passages_insert_all_or_nothing(store: Arc<dyn Store>) {
    let ar = store.create_archive(archive("a"), None).await.unwrap();
    let good = passage(ar.id, "good", &[], None);
    let lost = passage(ArchiveId::new(), "no archive", &[], None);
    assert_not_found(store.insert_passages(vec![good.clone(), lost]).await);
    assert!(
        passage_ids(&*store, &[ar.id], &all_passages())
            .await
            .is_empty()
    );
    store.insert_passages(vec![good.clone()]).await.unwrap();
    let twice = vec![passage(ar.id, "new", &[], None), good.clone()];
    assert_conflict(store.insert_passages(twice).await);
    assert_eq!(
        passage_ids(&*store, &[ar.id], &all_passages()).await,
        [good.id]
    );
    store.insert_passages(vec![]).await.unwrap();
}

/// Passages in two archives, stored in an order other than their creation time.
async fn four_passages(store: &dyn Store) -> (ArchiveId, ArchiveId, Vec<Passage>) {
    let a = store.create_archive(archive("a"), None).await.unwrap().id;
    let b = store.create_archive(archive("b"), None).await.unwrap().id;
    let specs = [
        (a, "Apple pie", 30),
        (a, "banana", 10),
        (b, "apple tart", 20),
        (a, "cherry", 40),
    ];
    let mut out = Vec::new();
    for (archive, text, seconds) in specs {
        let mut p = passage(archive, text, &["t"], Some(vec![0.6, 0.8]));
        p.created_at = at(seconds);
        p.metadata = Some(serde_json::from_value(serde_json::json!({"n": seconds})).unwrap());
        out.push(p);
    }
    store.insert_passages(out.clone()).await.unwrap();
    (a, b, out)
}

pub async fn passage_pages_follow_creation_time(store: Arc<dyn Store>) {
    let (a, b, p) = four_passages(&*store).await;
    let both = [a, b];
    let all = store.list_passages(&both, &all_passages()).await.unwrap();
    assert_eq!(
        all,
        [p[1].clone(), p[2].clone(), p[0].clone(), p[3].clone()]
    );
    let p = ids(&p, |p| p.id);
    let q = |f: fn(&mut PassageList)| {
        let mut q = all_passages();
        f(&mut q);
        q
    };
    let desc = q(|q| q.ascending = false);
    assert_eq!(
        passage_ids(&*store, &both, &desc).await,
        [p[3], p[0], p[2], p[1]]
    );
    let two = q(|q| q.limit = 2);
    assert_eq!(passage_ids(&*store, &both, &two).await, [p[1], p[2]]);
    let after = PassageList {
        after: Some(p[2]),
        ..all_passages()
    };
    assert_eq!(passage_ids(&*store, &both, &after).await, [p[0], p[3]]);
    let before = PassageList {
        before: Some(p[0]),
        ..all_passages()
    };
    assert_eq!(passage_ids(&*store, &both, &before).await, [p[1], p[2]]);
    let older = PassageList {
        after: Some(p[0]),
        ascending: false,
        ..all_passages()
    };
    assert_eq!(passage_ids(&*store, &both, &older).await, [p[2], p[1]]);
    let apple = PassageList {
        search: Some("APPLE".into()),
        ..all_passages()
    };
    assert_eq!(passage_ids(&*store, &both, &apple).await, [p[2], p[0]]);
    assert_eq!(
        passage_ids(&*store, &[a], &all_passages()).await,
        [p[1], p[0], p[3]]
    );
    assert!(passage_ids(&*store, &[], &all_passages()).await.is_empty());
    let unknown = PassageList {
        after: Some(PassageId::new()),
        ..all_passages()
    };
    assert_not_found(store.list_passages(&both, &unknown).await);
}

pub async fn passages_are_updated_only_in_the_given_archives(store: Arc<dyn Store>) {
    let (a, b, p) = four_passages(&*store).await;
    let change = || -> crate::PassageEdit {
        Box::new(|p| {
            p.text = "pear".into();
            p.tags = vec!["fruit".into()];
            p.embedding = Some(vec![0.8, 0.6]);
            p.archive_id = ArchiveId::new();
            Ok(())
        })
    };
    assert_not_found(store.update_passage(&[b], p[0].id, change()).await);
    assert_not_found(store.update_passage(&[], p[0].id, change()).await);
    let refused: crate::PassageEdit = Box::new(|p| {
        p.text = "lost".into();
        Err(crate::StoreError::Invalid("no".into()))
    });
    assert!(store.update_passage(&[a], p[0].id, refused).await.is_err());
    let mark = store.search_changes(0, 1000).await.unwrap().len();
    let updated = store
        .update_passage(&[b, a], p[0].id, change())
        .await
        .unwrap();
    assert!(store.search_changes(0, 1000).await.unwrap().len() > mark);
    assert_eq!((updated.text.as_str(), updated.archive_id), ("pear", a));
    assert_eq!(updated.created_at, p[0].created_at);
    assert!(updated.updated_at > p[0].updated_at);
    let all = store.list_passages(&[a, b], &all_passages()).await.unwrap();
    assert_eq!(all, [p[1].clone(), p[2].clone(), updated, p[3].clone()]);
    assert_not_found(store.update_passage(&[a], PassageId::new(), change()).await);
}

pub async fn passages_are_deleted_only_from_the_given_archives(store: Arc<dyn Store>) {
    let (a, b, p) = four_passages(&*store).await;
    assert_not_found(store.delete_passage(&[b], p[0].id).await);
    assert_not_found(store.delete_passage(&[], p[0].id).await);
    store.delete_passage(&[b, a], p[0].id).await.unwrap();
    assert_not_found(store.delete_passage(&[a], p[0].id).await);
    let left = passage_ids(&*store, &[a, b], &all_passages()).await;
    assert_eq!(left, [p[1].id, p[2].id, p[3].id]);
    assert_not_found(store.delete_passage(&[a], PassageId::new()).await);
}

//! `TenancyStore`: the control plane's organizations, users, API keys and audit log.

use std::sync::Arc;

use mneme_types::tenancy::{DEFAULT_ORG_NAME, DEFAULT_USER_NAME};
use mneme_types::{
    ApiKey, ApiKeyId, DEFAULT_ORG_ID, DEFAULT_USER_ID, KeyRole, OrgId, Organization,
    OrganizationUpdate, User, UserId, UserUpdate,
};

use super::fixtures::*;
use crate::{ApiKeyRecord, AuditFilter, NewAuditEntry, Order, Store};

/// An organization created `seconds` after the fixed instant (`at`).
pub fn org(name: &str, seconds: i64) -> Organization {
    Organization {
        id: OrgId::new(),
        name: name.into(),
        created_at: at(seconds),
        privileged_tools: false,
    }
}

/// A user of `org` created `seconds` after the fixed instant.
pub fn user(org: OrgId, name: &str, seconds: i64) -> User {
    User {
        id: UserId::new(),
        organization_id: org,
        name: name.into(),
        created_at: at(seconds),
        updated_at: at(seconds),
        is_deleted: false,
    }
}

/// A member key of `user`, its hash made up from `name`.
pub fn key(user: &User, name: &str, seconds: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        key: ApiKey {
            id: ApiKeyId::new(),
            name: name.into(),
            organization_id: user.organization_id,
            user_id: user.id,
            role: KeyRole::Member,
            prefix: format!("sk-{name}"),
            created_at: at(seconds),
            revoked_at: None,
        },
        hash: format!("hash-of-{name}"),
    }
}

/// An audit entry of `org` and `user` for `path`.
pub fn entry(org: OrgId, user: UserId, path: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: mneme_types::time::now(),
        organization_id: org,
        user_id: user,
        key_id: None,
        method: "POST".into(),
        route: "/v1/agents".into(),
        path: path.into(),
        status: 200,
        request_id: None,
    }
}

fn audit(limit: usize, order: Order) -> AuditFilter {
    AuditFilter {
        organization_id: None,
        user_id: None,
        after: None,
        before: None,
        limit,
        order,
    }
}

fn paths(list: &[mneme_types::AuditEntry]) -> Vec<&str> {
    list.iter().map(|e| e.path.as_str()).collect()
}

pub async fn the_default_organization_and_user_exist(store: Arc<dyn Store>) {
    let org = store.get_org(DEFAULT_ORG_ID).await.unwrap();
    assert_eq!(
        (org.name.as_str(), org.privileged_tools),
        (DEFAULT_ORG_NAME, false)
    );
    let user = store.get_user(DEFAULT_USER_ID).await.unwrap();
    assert_eq!(
        (user.name.as_str(), user.organization_id),
        (DEFAULT_USER_NAME, DEFAULT_ORG_ID)
    );
    assert_eq!(
        ids(&store.list_orgs(None, 10).await.unwrap(), |o| o.id),
        [DEFAULT_ORG_ID]
    );
    let users = store.list_users(None, None, 10).await.unwrap();
    assert_eq!(ids(&users, |u| u.id), [DEFAULT_USER_ID]);
    assert_eq!(store.count_active_keys().await.unwrap(), 0);
    assert!(store.list_keys(None).await.unwrap().is_empty());
}

pub async fn organizations_round_trip_and_update(store: Arc<dyn Store>) {
    let acme = org("acme", 1);
    store.create_org(&acme).await.unwrap();
    assert_eq!(store.get_org(acme.id).await.unwrap(), acme);
    assert_conflict(store.create_org(&acme).await);
    assert_not_found(store.get_org(OrgId::new()).await);

    let edit = OrganizationUpdate {
        privileged_tools: Some(true),
        ..OrganizationUpdate::default()
    };
    let edited = store.update_org(acme.id, edit).await.unwrap();
    assert_eq!(
        (edited.name.as_str(), edited.privileged_tools),
        ("acme", true)
    );
    let edit = OrganizationUpdate {
        name: Some("acme2".into()),
        ..OrganizationUpdate::default()
    };
    store.update_org(acme.id, edit).await.unwrap();
    let stored = store.get_org(acme.id).await.unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.privileged_tools),
        ("acme2", true)
    );
    assert_eq!(stored.created_at, acme.created_at);
    let unknown = store.update_org(OrgId::new(), OrganizationUpdate::default());
    assert_not_found(unknown.await);

    assert_eq!(store.delete_org(acme.id).await.unwrap(), stored);
    assert_not_found(store.get_org(acme.id).await);
    assert_not_found(store.delete_org(acme.id).await);
}

pub async fn organization_pages_follow_creation_time(store: Arc<dyn Store>) {
    // Created out of order; the default organization is newer than all of them.
    let (b, a, c) = (org("b", 2), org("a", 1), org("c", 3));
    for o in [&b, &a, &c] {
        store.create_org(o).await.unwrap();
    }
    let all = store.list_orgs(None, 10).await.unwrap();
    assert_eq!(ids(&all, |o| o.id), [a.id, b.id, c.id, DEFAULT_ORG_ID]);
    let first = store.list_orgs(None, 2).await.unwrap();
    assert_eq!(ids(&first, |o| o.id), [a.id, b.id]);
    let rest = store.list_orgs(Some(b.id), 10).await.unwrap();
    assert_eq!(ids(&rest, |o| o.id), [c.id, DEFAULT_ORG_ID]);
    assert_not_found(store.list_orgs(Some(OrgId::new()), 10).await);
}

pub async fn users_belong_to_an_existing_organization(store: Arc<dyn Store>) {
    let (acme, other) = (org("acme", 1), org("other", 2));
    store.create_org(&acme).await.unwrap();
    store.create_org(&other).await.unwrap();
    let ann = user(acme.id, "ann", 1);
    store.create_user(&ann).await.unwrap();
    assert_eq!(store.get_user(ann.id).await.unwrap(), ann);
    assert_conflict(store.create_user(&ann).await);
    assert_not_found(store.create_user(&user(OrgId::new(), "x", 1)).await);
    assert_not_found(store.get_user(UserId::new()).await);

    let bob = user(other.id, "bob", 2);
    store.create_user(&bob).await.unwrap();
    let cat = user(acme.id, "cat", 3);
    store.create_user(&cat).await.unwrap();
    let of_acme = store.list_users(Some(acme.id), None, 10).await.unwrap();
    assert_eq!(ids(&of_acme, |u| u.id), [ann.id, cat.id]);
    let all = store.list_users(None, None, 10).await.unwrap();
    assert_eq!(
        ids(&all, |u| u.id),
        [ann.id, bob.id, cat.id, DEFAULT_USER_ID]
    );
    let after = store.list_users(None, Some(ann.id), 2).await.unwrap();
    assert_eq!(ids(&after, |u| u.id), [bob.id, cat.id]);
    let after = store.list_users(Some(acme.id), Some(ann.id), 10).await;
    assert_eq!(ids(&after.unwrap(), |u| u.id), [cat.id]);
    assert_not_found(store.list_users(None, Some(UserId::new()), 10).await);

    let moved = store
        .update_user(UserUpdate {
            id: ann.id,
            name: Some("anne".into()),
            organization_id: Some(other.id),
        })
        .await
        .unwrap();
    assert_eq!(
        (moved.name.as_str(), moved.organization_id),
        ("anne", other.id)
    );
    assert_eq!(moved.created_at, ann.created_at);
    assert!(moved.updated_at > ann.updated_at);
    assert_eq!(store.get_user(ann.id).await.unwrap(), moved);
    let nowhere = UserUpdate {
        id: ann.id,
        name: None,
        organization_id: Some(OrgId::new()),
    };
    assert_not_found(store.update_user(nowhere).await);
    let nobody = UserUpdate {
        id: UserId::new(),
        name: Some("x".into()),
        organization_id: None,
    };
    assert_not_found(store.update_user(nobody).await);

    assert_eq!(store.delete_user(bob.id).await.unwrap(), bob);
    assert_not_found(store.get_user(bob.id).await);
    assert_not_found(store.delete_user(bob.id).await);
}

pub async fn keys_are_found_by_hash_until_revoked(store: Arc<dyn Store>) {
    let acme = org("acme", 1);
    store.create_org(&acme).await.unwrap();
    let ann = user(acme.id, "ann", 1);
    store.create_user(&ann).await.unwrap();
    let default_user = store.get_user(DEFAULT_USER_ID).await.unwrap();

    let first = key(&ann, "first", 2);
    store.create_key(&first).await.unwrap();
    let mut admin = key(&default_user, "admin", 1);
    admin.key.role = KeyRole::Admin;
    store.create_key(&admin).await.unwrap();
    assert_eq!(
        store.find_key("hash-of-first").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.find_key("hash-of-admin").await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.find_key("hash-of-nothing").await.unwrap(), None);

    let mut same_hash = key(&ann, "other", 3);
    same_hash.hash = first.hash.clone();
    assert_conflict(store.create_key(&same_hash).await);
    assert_not_found(store.create_key(&key(&user(acme.id, "x", 1), "x", 1)).await);
    let mut elsewhere = key(&ann, "elsewhere", 3);
    elsewhere.key.organization_id = DEFAULT_ORG_ID;
    assert_invalid(store.create_key(&elsewhere).await);
    let mut same_id = key(&ann, "same-id", 3);
    same_id.key.id = first.key.id;
    assert_conflict(store.create_key(&same_id).await);

    let listed = store.list_keys(None).await.unwrap();
    assert_eq!(listed, [admin.key.clone(), first.key.clone()]);
    let of_acme = store.list_keys(Some(acme.id)).await.unwrap();
    assert_eq!(of_acme, std::slice::from_ref(&first.key));
    assert_eq!(store.count_active_keys().await.unwrap(), 2);

    let revoked = store.revoke_key(first.key.id).await.unwrap();
    let when = revoked.revoked_at.expect("a revocation time");
    assert_eq!((revoked.id, revoked.name.as_str()), (first.key.id, "first"));
    assert_eq!(store.find_key("hash-of-first").await.unwrap(), None);
    assert_eq!(store.count_active_keys().await.unwrap(), 1);
    pause().await;
    let again = store.revoke_key(first.key.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(when));
    let listed = store.list_keys(Some(acme.id)).await.unwrap();
    assert_eq!(listed, [again]);
    assert_not_found(store.revoke_key(ApiKeyId::new()).await);
}

pub async fn deleting_an_organization_takes_its_users_and_keys(store: Arc<dyn Store>) {
    let (acme, other) = (org("acme", 1), org("other", 2));
    store.create_org(&acme).await.unwrap();
    store.create_org(&other).await.unwrap();
    let (ann, bob) = (user(acme.id, "ann", 1), user(acme.id, "bob", 2));
    store.create_user(&ann).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let (a, b) = (key(&ann, "a", 1), key(&bob, "b", 2));
    store.create_key(&a).await.unwrap();
    store.create_key(&b).await.unwrap();
    store
        .append_audit(&[entry(acme.id, ann.id, "/kept")])
        .await
        .unwrap();

    // A user who moves takes its keys along; deleting a user takes its keys.
    let to_other = UserUpdate {
        id: bob.id,
        name: None,
        organization_id: Some(other.id),
    };
    store.update_user(to_other).await.unwrap();
    let of_other = store.list_keys(Some(other.id)).await.unwrap();
    assert_eq!(ids(&of_other, |k| k.id), [b.key.id]);
    assert_eq!(of_other[0].organization_id, other.id);
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(store.find_key(&b.hash).await.unwrap(), None);
    assert!(store.list_keys(Some(other.id)).await.unwrap().is_empty());

    store.delete_org(acme.id).await.unwrap();
    assert_not_found(store.get_user(ann.id).await);
    assert_eq!(store.find_key(&a.hash).await.unwrap(), None);
    assert!(store.list_keys(None).await.unwrap().is_empty());
    let kept = store.list_audit(&audit(10, Order::Asc)).await.unwrap();
    assert_eq!(paths(&kept), ["/kept"]);
    assert_eq!(store.get_org(other.id).await.unwrap(), other);
}

pub async fn audit_entries_list_in_order_with_filters_and_bounds(store: Arc<dyn Store>) {
    let (acme, other) = (OrgId::new(), OrgId::new());
    let (ann, bob) = (UserId::new(), UserId::new());
    let mut first = entry(acme, ann, "/1");
    first.key_id = Some(ApiKeyId::new());
    first.request_id = Some("req-1".into());
    first.status = 409;
    store
        .append_audit(&[
            first.clone(),
            entry(other, bob, "/2"),
            entry(acme, bob, "/3"),
        ])
        .await
        .unwrap();
    store.append_audit(&[]).await.unwrap();
    store.append_audit(&[entry(acme, ann, "/4")]).await.unwrap();

    let all = store.list_audit(&audit(10, Order::Asc)).await.unwrap();
    assert_eq!(paths(&all), ["/1", "/2", "/3", "/4"]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "{all:?}");
    let stored = &all[0];
    assert_eq!(
        (
            stored.at,
            stored.organization_id,
            stored.user_id,
            stored.key_id
        ),
        (first.at, acme, ann, first.key_id)
    );
    assert_eq!(
        (stored.method.as_str(), stored.route.as_str(), stored.status),
        ("POST", "/v1/agents", 409)
    );
    assert_eq!(stored.request_id.as_deref(), Some("req-1"));

    let newest = store.list_audit(&audit(2, Order::Desc)).await.unwrap();
    assert_eq!(paths(&newest), ["/4", "/3"]);
    let mut f = audit(10, Order::Asc);
    f.organization_id = Some(acme);
    assert_eq!(
        paths(&store.list_audit(&f).await.unwrap()),
        ["/1", "/3", "/4"]
    );
    f.user_id = Some(bob);
    assert_eq!(paths(&store.list_audit(&f).await.unwrap()), ["/3"]);

    let mut f = audit(10, Order::Desc);
    f.after = Some(all[0].seq);
    f.before = Some(all[3].seq);
    assert_eq!(paths(&store.list_audit(&f).await.unwrap()), ["/3", "/2"]);
    f.order = Order::Asc;
    f.limit = 1;
    assert_eq!(paths(&store.list_audit(&f).await.unwrap()), ["/2"]);
}

//! Tenancy: who is calling (`auth.rs`), the organizations, users and keys of the control plane
//! (`admin.rs`), and which `Service` serves a caller's organization.
//!
//! Each organization's data lives in a store of its own, opened by the binary's
//! `TenantOpener` (a SQLite file, or a PostgreSQL schema, per organization), so every query of
//! every use case is scoped to one tenant by construction: another tenant's ids are simply not
//! there (404). The default organization is the main database, which also holds the control
//! plane (organizations, users, API keys, the audit log).

mod admin;
mod auth;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mneme_store::TenancyStore;
use mneme_types::{DEFAULT_ORG_ID, OrgId};
use tokio::sync::OnceCell;

pub use admin::{NewKey, issue_key};
pub use auth::{AuthMode, Caller, Credentials};

use crate::{Result, Service, ServiceError};

/// Why a tenant's store could not be opened or removed (the binary's own errors).
pub type OpenError = Box<dyn std::error::Error + Send + Sync>;

/// Opens and removes the services of organizations other than the default one; the binary
/// knows where their stores live.
#[async_trait]
pub trait TenantOpener: Send + Sync {
    /// A service over the organization's own store (created empty on first use), with every
    /// part a server runs with, initialised.
    async fn open(&self, org: OrgId) -> Result<Service, OpenError>;
    /// Deletes the organization's store and files, after its service was shut down.
    async fn remove(&self, org: OrgId) -> Result<(), OpenError>;
}

/// One organization's service, opened once (concurrent first requests wait for the same open).
type Slot = Arc<OnceCell<Service>>;

/// The control plane and the services of the organizations. Cheap to clone; must be made
/// inside a tokio runtime (the audit log's writer starts with it).
#[derive(Clone)]
pub struct Tenancy {
    inner: Arc<Inner>,
}

struct Inner {
    control: Arc<dyn TenancyStore>,
    root: Service,
    opener: Option<Arc<dyn TenantOpener>>,
    tenants: Mutex<HashMap<OrgId, Slot>>,
    auth: auth::Authenticator,
    audit: crate::AuditLog,
    /// Set at shutdown: the background reconciliation stops opening services.
    closed: AtomicBool,
}

/// How often the organizations open here are compared with those the control plane lists.
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Tenancy {
    /// `root` serves the default organization and `control` is its store's control plane;
    /// without an `opener` only the default organization can be served.
    pub fn new(
        control: Arc<dyn TenancyStore>,
        root: Service,
        opener: Option<Arc<dyn TenantOpener>>,
        mode: AuthMode,
    ) -> Tenancy {
        Tenancy {
            inner: Arc::new(Inner {
                auth: auth::Authenticator::new(control.clone(), mode),
                audit: crate::AuditLog::start(control.clone()),
                closed: AtomicBool::new(false),
                control,
                root,
                opener,
                tenants: Mutex::default(),
            }),
        }
    }

    /// Records a mutation in the audit log, without waiting for the write.
    pub fn record(&self, entry: mneme_store::NewAuditEntry) {
        self.inner.audit.record(entry);
    }

    /// The default organization's service.
    pub fn root(&self) -> &Service {
        &self.inner.root
    }

    pub fn mode(&self) -> &AuthMode {
        self.inner.auth.mode()
    }

    /// The service of `org`, opened on first use. An organization deleted meanwhile is the
    /// caller's 401: its keys went with it.
    pub async fn service(&self, org: OrgId) -> Result<Service> {
        if org == DEFAULT_ORG_ID {
            return Ok(self.inner.root.clone());
        }
        let slot = self.slot(org);
        let opened = slot
            .get_or_try_init(|| async {
                self.inner.control.get_org(org).await?;
                let opener = self.inner.opener.as_ref().ok_or_else(|| {
                    ServiceError::Internal(
                        "this server serves the default organization only".into(),
                    )
                })?;
                opener.open(org).await.map_err(|e| {
                    ServiceError::Internal(format!("cannot open organization {org}: {e}"))
                })
            })
            .await;
        match opened {
            Ok(service) => Ok(service.clone()),
            Err(e) => {
                // Not cached: the next request tries again.
                self.lock().remove(&org);
                Err(e)
            }
        }
    }

    /// Opens every organization's service in the background, so that what they left
    /// unfinished (runs, files, batches) is recovered without waiting for their first request;
    /// then, every minute, opens those another replica created and closes those another
    /// replica deleted (their stores are gone).
    pub fn open_all(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            while !this.inner.closed.load(Ordering::Relaxed) {
                if let Err(e) = this.reconcile().await {
                    tracing::warn!(error = %e, "cannot list the organizations");
                }
                tokio::time::sleep(RECONCILE_EVERY).await;
            }
        });
    }

    async fn reconcile(&self) -> Result<()> {
        let mut known = std::collections::HashSet::new();
        let mut after = None;
        loop {
            let page = self.inner.control.list_orgs(after, 100).await?;
            let Some(last) = page.last().map(|o| o.id) else {
                break;
            };
            known.extend(page.iter().map(|o| o.id));
            after = Some(last);
        }
        for &org in &known {
            if let Err(e) = self.service(org).await {
                tracing::warn!(%org, error = %e, "cannot open organization");
            }
        }
        let gone: Vec<OrgId> = self
            .lock()
            .keys()
            .filter(|org| !known.contains(org))
            .copied()
            .collect();
        for org in gone {
            tracing::info!(%org, "the organization was deleted elsewhere; closing it");
            self.close(org).await;
        }
        Ok(())
    }

    /// Shuts every opened organization's service down (the default one is the caller's), and
    /// writes what the audit log still holds.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Relaxed);
        self.inner.audit.flush().await;
        let slots: Vec<Slot> = self.lock().drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            if let Some(service) = slot.get() {
                service.shutdown().await;
            }
        }
    }

    fn slot(&self, org: OrgId) -> Slot {
        self.lock().entry(org).or_default().clone()
    }

    /// Forgets an organization's service, shutting it down: it is being deleted.
    async fn close(&self, org: OrgId) {
        let slot = self.lock().remove(&org);
        if let Some(service) = slot.as_ref().and_then(|s| s.get()) {
            service.shutdown().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, Slot>> {
        self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }
}

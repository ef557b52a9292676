//! Where each organization's data lives, how requests are authenticated, and `mneme keys`.
//!
//! The default organization is the data directory's database. Every other organization has a
//! directory of its own, `<data dir>/tenants/<org id>/`, holding its search index, uploads and
//! tool directory, and its database: a SQLite file there, or on PostgreSQL a schema of the
//! same database (`tenant_<uuid>`), so that replicas share it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::Subcommand;
use mneme_service::{AuthMode, NewKey, OpenError, Service, TenantOpener};
use mneme_store::TenancyStore;
use mneme_store_postgres::PgStore;
use mneme_types::{ApiKeyId, KeyRole, OrgId, UserId};

use crate::config::{Config, Redacted, ServeArgs, Storage};

/// Opens the services of organizations other than the default one.
pub(crate) struct Opener {
    root: Config,
    /// The server secret: one for every organization, from the main data directory.
    secret: String,
    shared: crate::Shared,
}

impl Opener {
    pub(crate) fn new(root: Config, secret: String, shared: crate::Shared) -> Opener {
        Opener {
            root,
            secret,
            shared,
        }
    }

    /// The configuration of `org`'s service: the root's, over the organization's own
    /// directory and database.
    fn config(&self, org: OrgId) -> Config {
        let dir = directory(&self.root.data_dir, org);
        let mut config = self.root.clone();
        config.storage = match &self.root.storage {
            Storage::Sqlite { durability, .. } => Storage::Sqlite {
                path: database(&self.root.data_dir, org),
                durability: *durability,
            },
            Storage::Postgres { url, pool_size, .. } => Storage::Postgres {
                url: url.clone(),
                // Each organization holds a pool of its own: a smaller one.
                pool_size: (*pool_size / 2).max(2),
                schema: Some(schema_of(org)),
            },
        };
        config.index_dir = dir.join("search");
        config.secret_key = Redacted(Some(self.secret.clone()));
        config.data_dir = dir;
        config
    }
}

#[async_trait]
impl TenantOpener for Opener {
    async fn open(&self, org: OrgId) -> Result<Service, OpenError> {
        let config = self.config(org);
        let store = crate::open_store(&config).await?;
        let service = crate::build_service(&config, store, &self.shared).await?;
        tracing::info!(%org, "opened the organization's store");
        Ok(service)
    }

    async fn remove(&self, org: OrgId) -> Result<(), OpenError> {
        if let Storage::Postgres { url, .. } = &self.root.storage {
            PgStore::drop_schema(url, &schema_of(org)).await?;
        }
        let dir = directory(&self.root.data_dir, org);
        match tokio::fs::remove_dir_all(&dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Where the organizations' directories are, in the data directory.
pub(crate) const TENANTS_DIR: &str = "tenants";
/// An organization's SQLite file in its directory.
const TENANT_DB: &str = "mneme.db";

/// `org`'s directory under the data directory `data_dir`.
pub(crate) fn directory(data_dir: &Path, org: OrgId) -> PathBuf {
    data_dir.join(TENANTS_DIR).join(org.to_string())
}

/// `org`'s SQLite file under the data directory `data_dir`.
pub(crate) fn database(data_dir: &Path, org: OrgId) -> PathBuf {
    directory(data_dir, org).join(TENANT_DB)
}

/// The organizations' SQLite files under the data directory `data_dir`, by organization
/// (directories not named by an org id, or without a database, are not organizations').
pub(crate) fn databases(data_dir: &Path) -> anyhow::Result<Vec<(OrgId, PathBuf)>> {
    let dir = data_dir.join(TENANTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(org) = entry.file_name().to_string_lossy().parse::<OrgId>() else {
            continue;
        };
        let db = database(data_dir, org);
        if db.is_file() {
            found.push((org, db));
        }
    }
    found.sort();
    Ok(found)
}

/// A schema name is an identifier: the uuid's hex, no dashes.
pub(crate) fn schema_of(org: OrgId) -> String {
    format!("tenant_{}", org.uuid().simple())
}

/// How this server authenticates, from its settings and the address it listens on. A server
/// reachable beyond loopback that would let anyone in refuses to start, unless `--insecure`.
pub(crate) async fn auth_mode(
    config: &Config,
    control: &dyn TenancyStore,
) -> anyhow::Result<AuthMode> {
    let auth = &config.auth;
    let password = if auth.secure {
        Some(auth.password.0.clone().unwrap_or_else(generated_password))
    } else {
        None
    };
    let exposed = !is_loopback(&config.host);
    let required = auth.secure || auth.require_auth || (exposed && !auth.insecure);
    tracing::info!(authentication = %describe_auth(config), "authentication");
    if !required {
        if exposed {
            tracing::warn!(host = %config.host, "serving beyond loopback without authentication (--insecure)");
        }
        return Ok(AuthMode::Open);
    }
    if password.is_none() && control.count_active_keys().await? == 0 {
        bail!(
            "{} needs an API key and none exists: create one with `mneme keys create --admin` \
             (or start with --insecure to serve without authentication)",
            if exposed {
                format!("listening on {}", config.host)
            } else {
                "--require-auth".to_owned()
            }
        );
    }
    Ok(AuthMode::Required { password })
}

/// What `auth_mode` will decide, in words, without opening the database (`mneme doctor`).
pub(crate) fn describe_auth(config: &Config) -> String {
    let auth = &config.auth;
    let exposed = !is_loopback(&config.host);
    if auth.secure {
        return "required: Letta's secure mode (the server password, or an API key)".to_owned();
    }
    if auth.require_auth || (exposed && !auth.insecure) {
        let why = if auth.require_auth {
            "--require-auth"
        } else {
            "a non-loopback address"
        };
        return format!("required ({why}): an API key on every request (`mneme keys create`)");
    }
    if exposed {
        return format!(
            "OFF on {} (--insecure): anyone who reaches it is the operator",
            config.host
        );
    }
    "open on loopback, as Letta's: API keys select their organization, no key is the default user"
        .to_owned()
}

/// Letta prints the password it generates for secure mode; so does mneme, on the terminal
/// rather than in the log.
fn generated_password() -> String {
    let password = crate::secret::random_hex::<16>();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("secure mode with the generated password: {password}");
    }
    password
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// `mneme keys`: API keys, on the data directory's database (with or without a running
/// server).
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print it (shown this once; only its hash is stored).
    Create {
        /// A name to tell the key apart.
        #[arg(long, default_value = "cli")]
        name: String,
        /// The user the key acts as (default: the default user); the key belongs to that
        /// user's organization.
        #[arg(long)]
        user: Option<UserId>,
        /// An operator key: the admin routes, and any user through the `user_id` header.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// List the keys (never the keys themselves).
    List {
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Revoke a key by its id; requests with it are refused from then on.
    Revoke {
        id: ApiKeyId,
        #[command(flatten)]
        server: ServeArgs,
    },
}

/// A `mneme keys` command without the server settings it runs on.
pub(crate) enum KeysAction {
    Create {
        name: String,
        user: Option<UserId>,
        admin: bool,
    },
    List,
    Revoke(ApiKeyId),
}

impl KeysCommand {
    /// The server settings, and what to do on them.
    pub(crate) fn split(self) -> (ServeArgs, KeysAction) {
        match self {
            KeysCommand::Create {
                name,
                user,
                admin,
                server,
            } => (server, KeysAction::Create { name, user, admin }),
            KeysCommand::List { server } => (server, KeysAction::List),
            KeysCommand::Revoke { id, server } => (server, KeysAction::Revoke(id)),
        }
    }
}

/// Runs a `mneme keys` command; its answer goes to standard output.
pub(crate) async fn keys(action: KeysAction, config: &Config) -> anyhow::Result<String> {
    let store = crate::open_store(config).await?;
    let control: Arc<dyn TenancyStore> = store;
    match action {
        KeysAction::Create { name, user, admin } => {
            let role = if admin {
                KeyRole::Admin
            } else {
                KeyRole::Member
            };
            let (key, secret) =
                mneme_service::issue_key(control.as_ref(), NewKey { name, user, role })
                    .await
                    .context("creating the key")?;
            tracing::info!(id = %key.id, org = %key.organization_id, user = %key.user_id, role = key.role.as_str(), "created an API key");
            Ok(format!("{secret}\n"))
        }
        KeysAction::List => {
            let mut out = String::new();
            for k in control.list_keys(None).await? {
                let state = k
                    .revoked_at
                    .map(|t| format!("revoked {}", mneme_types::time::resource(&t)))
                    .unwrap_or_else(|| "active".to_owned());
                out.push_str(&format!(
                    "{}  {}  {}  {}…  org {}  user {}  {}\n",
                    k.id,
                    k.role.as_str(),
                    k.name,
                    k.prefix,
                    k.organization_id,
                    k.user_id,
                    state
                ));
            }
            Ok(out)
        }
        KeysAction::Revoke(id) => {
            let key = control.revoke_key(id).await.context("revoking the key")?;
            Ok(format!("{} revoked\n", key.id))
        }
    }
}

//! Who is calling: a request's credentials (an API key, Letta's server password, the `user_id`
//! header) resolved to a `Caller`, the user and organization it acts as.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mneme_store::{ApiKeyRecord, StoreError, TenancyStore};
use mneme_types::{ApiKeyId, DEFAULT_ORG_ID, DEFAULT_USER_ID, KeyRole, OrgId, UserId};
use sha2::{Digest, Sha256};

use crate::{Result, ServiceError};

/// Whether requests must prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// A loopback server's default, as Letta's: a request without a known key acts as the
    /// default user (or the `user_id` header's), with every right; a known key still acts as
    /// its own user. Unknown tokens are ignored, since the TypeScript SDK always sends one.
    Open,
    /// Every request carries a known API key, or the server password when one is set
    /// (Letta's `SECURE` mode: `Authorization: Bearer <password>` or
    /// `X-BARE-PASSWORD: password <password>`); anything else is a 401.
    Required { password: Option<String> },
}

/// What a request presents.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The `Authorization: Bearer` token.
    pub bearer: Option<String>,
    /// The `X-BARE-PASSWORD` header's value (`password <password>`).
    pub bare_password: Option<String>,
    /// The `user_id` header: the user to act as.
    pub user_id: Option<String>,
}

/// The resolved caller: every request acts as one user of one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org: OrgId,
    pub user: UserId,
    /// The key the request carried, when it was a known one.
    pub key: Option<ApiKeyId>,
    /// Whether the caller may use the admin routes and act as any user.
    pub admin: bool,
}

impl Caller {
    /// A request to a public path (health, the UI's files): the default organization, no
    /// rights.
    pub fn anonymous() -> Caller {
        Caller {
            org: DEFAULT_ORG_ID,
            user: DEFAULT_USER_ID,
            key: None,
            admin: false,
        }
    }

    /// The default user with every right: an open server's anonymous caller, or the holder of
    /// the server password.
    fn operator() -> Caller {
        Caller {
            org: DEFAULT_ORG_ID,
            user: DEFAULT_USER_ID,
            key: None,
            admin: true,
        }
    }

    fn of_key(key: &ApiKeyRecord) -> Caller {
        Caller {
            org: key.key.organization_id,
            user: key.key.user_id,
            key: Some(key.key.id),
            admin: key.key.role == KeyRole::Admin,
        }
    }
}

/// How long a key lookup is trusted. A key revoked through this process is forgotten at once;
/// through another replica, within this time.
const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Lookups kept at most (tokens that are not keys count too: an open server sees any token).
const KEY_CACHE_MAX: usize = 4096;

pub(crate) struct Authenticator {
    control: Arc<dyn TenancyStore>,
    mode: AuthMode,
    keys: Mutex<HashMap<String, (Option<ApiKeyRecord>, Instant)>>,
}

impl Authenticator {
    pub(crate) fn new(control: Arc<dyn TenancyStore>, mode: AuthMode) -> Authenticator {
        Authenticator {
            control,
            mode,
            keys: Mutex::default(),
        }
    }

    pub(crate) fn mode(&self) -> &AuthMode {
        &self.mode
    }

    /// The caller these credentials make, or why there is none.
    pub(crate) async fn authenticate(&self, creds: &Credentials) -> Result<Caller> {
        let caller = self.identify(creds).await?;
        match creds.user_id.as_deref() {
            None => Ok(caller),
            Some(raw) => self.act_as(caller, raw).await,
        }
    }

    /// Drops every cached key lookup (a key was created or revoked).
    pub(crate) fn forget_keys(&self) {
        self.lock().clear();
    }

    async fn identify(&self, creds: &Credentials) -> Result<Caller> {
        let required = match &self.mode {
            AuthMode::Open => false,
            AuthMode::Required { password } => {
                if password
                    .as_deref()
                    .is_some_and(|p| presents_password(creds, p))
                {
                    return Ok(Caller::operator());
                }
                true
            }
        };
        if let Some(token) = creds.bearer.as_deref()
            && let Some(key) = self.find_key(token).await?
        {
            return Ok(Caller::of_key(&key));
        }
        if required {
            Err(ServiceError::Unauthorized)
        } else {
            Ok(Caller::operator())
        }
    }

    /// The caller acting as the `user_id` header's user: an admin as anyone, a member key as a
    /// user of its own organization. Letta's open server takes an unknown user for the
    /// default one; so does mneme's, for a caller without a key.
    async fn act_as(&self, caller: Caller, raw: &str) -> Result<Caller> {
        let id: UserId = raw.parse().map_err(|_| {
            ServiceError::BadRequest(format!(
                "Invalid user ID format: {raw}. Expected format: 'user-<uuid4>'"
            ))
        })?;
        let user = match self.control.get_user(id).await {
            Ok(user) => user,
            Err(StoreError::NotFound { .. }) if caller.key.is_none() => return Ok(caller),
            Err(StoreError::NotFound { .. }) => return Err(not_yours(id)),
            Err(e) => return Err(e.into()),
        };
        if !caller.admin && user.organization_id != caller.org {
            return Err(not_yours(id));
        }
        Ok(Caller {
            org: user.organization_id,
            user: user.id,
            ..caller
        })
    }

    async fn find_key(&self, token: &str) -> Result<Option<ApiKeyRecord>> {
        let hash = hash_key(token);
        if let Some((found, at)) = self.lock().get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(found.clone());
        }
        let found = self.control.find_key(&hash).await?;
        let mut cache = self.lock();
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (found.clone(), Instant::now()));
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<ApiKeyRecord>, Instant)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn presents_password(creds: &Credentials, password: &str) -> bool {
    let bearer = creds
        .bearer
        .as_deref()
        .is_some_and(|given| same_secret(given, password));
    let bare = creds
        .bare_password
        .as_deref()
        .and_then(|v| v.strip_prefix("password "))
        .is_some_and(|given| same_secret(given, password));
    bearer || bare
}

/// Compares the digests of two secrets in time independent of where they differ, so that
/// answer times do not reveal the password a byte at a time.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn not_yours(id: UserId) -> ServiceError {
    ServiceError::Forbidden(format!("this key cannot act as user {id}"))
}

/// How a key is stored and looked up: the lowercase hex SHA-256 of the whole key.
pub(crate) fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// A new key: a fixed prefix that secret scanners recognise, then 192 random bits.
pub(crate) fn generate_key() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("sk-mneme-{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_hash_to_hex() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with("sk-mneme-") && a.len() == 9 + 48, "{a}");
        let h = hash_key(&a);
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(h, hash_key(&b));
    }

    #[test]
    fn the_password_is_taken_as_bearer_or_bare_header() {
        let bearer = Credentials {
            bearer: Some("pw".into()),
            ..Credentials::default()
        };
        let bare = Credentials {
            bare_password: Some("password pw".into()),
            ..Credentials::default()
        };
        let wrong = Credentials {
            bare_password: Some("pw".into()),
            ..Credentials::default()
        };
        assert!(presents_password(&bearer, "pw"));
        assert!(presents_password(&bare, "pw"));
        assert!(!presents_password(&wrong, "pw"));
    }
}

//! Limits at the HTTP edge: the largest request body, and a token bucket per caller.
//!
//! Both wrap the finished router (`apply`), so that they stay out of the route table and of
//! whatever authentication adds; the route table's own body limits (Agent File imports,
//! folder uploads) are inner layers and still win on their routes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The largest request body by default: generous for messages carrying base64 images and
/// for tool sources, small enough that a handful of concurrent requests fit in memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What the edge enforces. `Default`: the default body limit, no rate limit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest body a request may send (JSON or otherwise), except on routes with their
    /// own limit.
    pub max_body_bytes: usize,
    /// Requests per caller; `None`: unlimited.
    pub rate: Option<RateLimit>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            rate: None,
        }
    }
}

/// A token bucket: `per_minute` tokens a minute, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// The body limit in force, for the extractor's 413 detail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaxBody(pub(crate) usize);

/// `app` with the body limit and, when set, the rate limit.
pub(crate) fn apply(app: Router, limits: &Limits) -> Router {
    let app = app
        .layer(axum::Extension(MaxBody(limits.max_body_bytes)))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes));
    match limits.rate {
        Some(rate) if rate.per_minute > 0 => {
            let buckets = Arc::new(Buckets::new(rate));
            app.layer(axum::middleware::from_fn_with_state(buckets, rate_limit))
        }
        _ => app,
    }
}

/// Refuses a caller's request when its bucket is empty, with how long to wait.
async fn rate_limit(State(buckets): State<Arc<Buckets>>, req: Request, next: Next) -> Response {
    if exempt(req.uri().path()) {
        return next.run(req).await;
    }
    match buckets.take(caller(&req), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            mneme_metrics::rate_limited();
            ApiError::RateLimited {
                retry_after: retry_after_secs(wait),
                per_minute: buckets.rate.per_minute,
            }
            .into_response()
        }
    }
}

/// Probes and scrapes must keep answering while a caller is throttled.
fn exempt(path: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    ["/v1/health", "/v1/ready", "/metrics"].contains(&path)
}

/// Whole seconds, rounded up, at least one: a client that waits that long finds a token.
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// Who is asking: the API key (hashed, so that no secret is kept), else Letta's password
/// header, else the client's address. Without the connection's address (a router served
/// without connect info) every anonymous caller shares one bucket.
fn caller(req: &Request) -> [u8; 32] {
    let headers = req.headers();
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = crate::gateway::bearer_token(headers);
    let mut hash = Sha256::new();
    if let Some(token) = bearer {
        hash.update(b"bearer:");
        hash.update(token.as_bytes());
    } else if let Some(password) = text("x-bare-password") {
        hash.update(b"password:");
        hash.update(password.as_bytes());
    } else if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        hash.update(b"ip:");
        hash.update(addr.ip().to_string().as_bytes());
    } else {
        hash.update(b"anonymous");
    }
    hash.finalize().into()
}

/// The buckets by caller. A bucket idle long enough to have refilled is the same as no
/// bucket, so it is dropped: memory holds only the callers of the last refill period.
struct Buckets {
    rate: RateLimit,
    /// Tokens gained per second.
    per_second: f64,
    /// Time an empty bucket takes to fill, and so the sweep interval.
    refill: Duration,
    state: Mutex<Table>,
}

struct Table {
    buckets: HashMap<[u8; 32], Bucket>,
    swept: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Buckets {
    fn new(rate: RateLimit) -> Buckets {
        let per_second = f64::from(rate.per_minute) / 60.0;
        let burst = rate.burst.max(1);
        Buckets {
            rate: RateLimit { burst, ..rate },
            per_second,
            refill: Duration::from_secs_f64(f64::from(burst) / per_second),
            state: Mutex::new(Table {
                buckets: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Takes a token from `key`'s bucket, or says how long until one is there.
    fn take(&self, key: [u8; 32], now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(state.swept) >= self.refill {
            let refill = self.refill;
            state
                .buckets
                .retain(|_, b| now.saturating_duration_since(b.at) < refill);
            state.swept = now;
        }
        let bucket = state.buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let gained = now.saturating_duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + gained).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (1.0 - bucket.tokens) / self.per_second,
        ))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_spends_its_burst_then_refills_at_the_rate() {
        let buckets = Buckets::new(RateLimit {
            per_minute: 60,
            burst: 2,
        });
        let t0 = Instant::now();
        assert!(buckets.take([1; 32], t0).is_ok());
        assert!(buckets.take([1; 32], t0).is_ok());
        let wait = buckets.take([1; 32], t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(buckets.take([2; 32], t0).is_ok(), "another caller");
        assert!(buckets.take([1; 32], t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn idle_buckets_are_dropped() {
        let buckets = Buckets::new(RateLimit {
            per_minute: 600,
            burst: 10,
        });
        let t0 = Instant::now();
        for i in 0..100u8 {
            buckets.take([i; 32], t0).unwrap();
        }
        assert_eq!(buckets.len(), 100);
        buckets
            .take([200; 32], t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(buckets.len(), 1);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}

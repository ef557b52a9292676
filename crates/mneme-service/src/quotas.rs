//! Per-store quotas: the most agents and passages one store (one tenant) may hold.
//!
//! Checked before the write, not inside its transaction: two concurrent creations may both
//! pass with one slot left and overshoot by one each. Quotas bound growth, they are not
//! exact accounting, and a check inside every backend's transaction would spread them into
//! each write path of both stores.

use mneme_store::Store;

use crate::{Result, Service, ServiceError};

/// The limits; `None` is unlimited (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    pub max_agents: Option<u64>,
    pub max_passages: Option<u64>,
}

impl Service {
    /// Refuses `adding` agents (sleep-time companions count) that would pass the quota.
    pub(crate) async fn check_agent_quota(&self, adding: usize) -> Result<()> {
        let Some(max) = self.config.quotas.max_agents else {
            return Ok(());
        };
        let held = self.store.count_agents(&Default::default()).await?;
        check("agents", "--max-agents", held, adding, max)
    }

    /// Refuses `adding` passages (archival or a file's chunks) that would pass the quota.
    pub(crate) async fn check_passage_quota(&self, adding: usize) -> Result<()> {
        passage_quota(self.store.as_ref(), self.config.quotas.max_passages, adding).await
    }
}

/// The passage check, for callers holding only the store (the agent's own inserts).
pub(crate) async fn passage_quota(
    store: &dyn Store,
    max: Option<u64>,
    adding: usize,
) -> Result<()> {
    let Some(max) = max else {
        return Ok(());
    };
    let held = store.count_passages().await?;
    check("passages", "--max-passages", held, adding, max)
}

fn check(what: &str, flag: &str, held: u64, adding: usize, max: u64) -> Result<()> {
    let adding = u64::try_from(adding).unwrap_or(u64::MAX);
    if held.saturating_add(adding) <= max {
        return Ok(());
    }
    Err(ServiceError::QuotaExceeded(format!(
        "Quota exceeded: this server holds at most {max} {what} ({flag}); {held} are stored \
         and this request adds {adding}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_admits_up_to_its_maximum() {
        assert!(check("agents", "--max-agents", 1, 1, 2).is_ok());
        let err = check("agents", "--max-agents", 2, 1, 2).unwrap_err();
        assert!(err.to_string().contains("at most 2 agents"), "{err}");
    }
}

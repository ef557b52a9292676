//! What a migration did, per kind of object: copied, already there (from an earlier run), and
//! left behind with the reason.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Counts of one kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Written by this run (or, in a dry run, that would be).
    pub copied: u64,
    /// Found in the target under the same id: written by an earlier run.
    pub present: u64,
    /// Not written: each has a line in `Report::skipped`.
    pub skipped: u64,
}

/// The whole run's account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub source: String,
    pub source_version: Option<String>,
    pub dry_run: bool,
    /// When this run began reading: the `--since` of the next run, which copies what changed
    /// from then on.
    pub started_at: Option<DateTime<Utc>>,
    /// The `--since` of this run, if any.
    pub since: Option<DateTime<Utc>>,
    pub kinds: BTreeMap<&'static str, Tally>,
    /// One line per object left behind, saying why.
    pub skipped: Vec<String>,
    /// What changed on the way that a user should know (ids that could not be kept, vectors
    /// computed anew).
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
}

impl Report {
    pub fn copied(&mut self, kind: &'static str, n: u64) {
        self.kinds.entry(kind).or_default().copied += n;
    }

    pub fn present(&mut self, kind: &'static str, n: u64) {
        self.kinds.entry(kind).or_default().present += n;
    }

    pub fn skip(&mut self, kind: &'static str, why: String) {
        self.kinds.entry(kind).or_default().skipped += 1;
        tracing::warn!(kind, "{why}");
        self.skipped.push(why);
    }

    pub fn note(&mut self, what: String) {
        tracing::info!("{what}");
        self.notes.push(what);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = self.source_version.as_deref().unwrap_or("unknown version");
        let verb = if self.dry_run { "would copy" } else { "copied" };
        writeln!(f, "from {} ({version})", self.source)?;
        if let Some(since) = self.since {
            let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
            writeln!(f, "since {since}: what changed, for agents already here")?;
        }
        writeln!(
            f,
            "{:<14} {:>10} {:>10} {:>8}",
            "kind", verb, "present", "skipped"
        )?;
        for (kind, t) in &self.kinds {
            writeln!(
                f,
                "{kind:<14} {:>10} {:>10} {:>8}",
                t.copied, t.present, t.skipped
            )?;
        }
        for line in &self.skipped {
            writeln!(f, "skipped: {line}")?;
        }
        for line in &self.notes {
            writeln!(f, "note: {line}")?;
        }
        write!(f, "in {:.1} s", self.elapsed_ms as f64 / 1000.0)?;
        if let Some(at) = self.started_at.filter(|_| !self.dry_run) {
            let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
            write!(
                f,
                "\nto copy what changes from now on, run again with --since {at}"
            )?;
        }
        Ok(())
    }
}

//! The result of a run: headline figures (the table) and detailed statistics (the JSON), the
//! machine it ran on, and the side-by-side rendering against another run's JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Figure {
    /// Stable name, used to match figures of two runs.
    pub(crate) key: String,
    pub(crate) label: String,
    pub(crate) unit: String,
    pub(crate) value: f64,
    pub(crate) lower_is_better: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) goal: Option<Goal>,
}

/// A benchmark goal for a figure (a goal, not a test: the run never fails on it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Goal {
    pub(crate) text: String,
    pub(crate) met: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Machine {
    pub(crate) cores: usize,
    pub(crate) cpu_model: String,
    pub(crate) kernel: String,
    pub(crate) mem_total_mib: u64,
    /// `/proc/loadavg` when the run started and ended: other work on the machine skews latency.
    pub(crate) loadavg_start: String,
    pub(crate) loadavg_end: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) tool: String,
    /// A short name for the measured server ("mneme", "letta").
    pub(crate) name: String,
    pub(crate) date: String,
    pub(crate) machine: Machine,
    pub(crate) target: Value,
    pub(crate) params: Value,
    pub(crate) figures: Vec<Figure>,
    pub(crate) details: BTreeMap<String, Value>,
}

impl Figure {
    pub(crate) fn new(key: &str, label: impl Into<String>, unit: &str, value: f64) -> Figure {
        Figure {
            key: key.to_owned(),
            label: label.into(),
            unit: unit.to_owned(),
            value,
            lower_is_better: true,
            goal: None,
        }
    }

    pub(crate) fn higher_is_better(mut self) -> Figure {
        self.lower_is_better = false;
        self
    }

    /// A goal of at most `max` (`text` says it in words).
    pub(crate) fn goal_max(mut self, max: f64, text: &str) -> Figure {
        let met = self.value <= max;
        self.goal = Some(Goal {
            text: text.to_owned(),
            met,
        });
        self
    }

    /// A goal of at least `min`.
    pub(crate) fn goal_min(mut self, min: f64, text: &str) -> Figure {
        let met = self.value >= min;
        self.goal = Some(Goal {
            text: text.to_owned(),
            met,
        });
        self
    }
}

impl Machine {
    pub(crate) fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_owned(), |m| m.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: u64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            mem_total_mib: mem_kib / 1024,
            loadavg_start: loadavg(),
            loadavg_end: String::new(),
        }
    }
}

/// The three load averages.
pub(crate) fn loadavg() -> String {
    let text = read_trimmed("/proc/loadavg");
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
}

impl Report {
    /// The value of the figure with this key, if measured.
    pub(crate) fn figure(&self, key: &str) -> Option<f64> {
        self.figures.iter().find(|f| f.key == key).map(|f| f.value)
    }

    pub(crate) fn load(path: &std::path::Path) -> Result<Report> {
        load_json(path)
    }

    /// The table as Markdown; with `other`, a column for its figures and the ratio.
    pub(crate) fn table(&self, other: Option<&Report>) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "{} — {} — {} cores ({}), load {} → {}\n",
            self.name, self.date, m.cores, m.cpu_model, m.loadavg_start, m.loadavg_end
        );
        match other {
            None => {
                out.push_str("| figure | value | goal |\n|---|---:|---|\n");
            }
            Some(o) => {
                let _ = writeln!(
                    out,
                    "| figure | {} | {} | ratio | goal |\n|---|---:|---:|---:|---|",
                    self.name, o.name
                );
            }
        }
        for f in &self.figures {
            let value = format!("{} {}", number(f.value), f.unit);
            let goal = f.goal.as_ref().map_or(String::new(), |g| {
                format!("{} {}", g.text, if g.met { "✓" } else { "✗" })
            });
            match other {
                None => {
                    let _ = writeln!(out, "| {} | {value} | {goal} |", f.label);
                }
                Some(o) => {
                    let theirs = o.figures.iter().find(|g| g.key == f.key);
                    let (their_value, ratio) = match theirs {
                        Some(t) => (format!("{} {}", number(t.value), t.unit), ratio(f, t)),
                        None => ("—".to_owned(), "—".to_owned()),
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {value} | {their_value} | {ratio} | {goal} |",
                        f.label
                    );
                }
            }
        }
        out
    }
}

/// How many times better `mine` is than `theirs` (above 1: mine is better).
fn ratio(mine: &Figure, theirs: &Figure) -> String {
    let r = if mine.lower_is_better {
        theirs.value / mine.value
    } else {
        mine.value / theirs.value
    };
    if r.is_finite() {
        format!("{}×", number(r))
    } else {
        "—".to_owned()
    }
}

/// Three significant digits or so, without noise.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A stored run (`--load`, `--compare`) read back.
pub(crate) fn load_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Writes a measured run to `--json` (not one that was `--load`ed), then its table to stdout.
pub(crate) fn emit<T: Serialize>(
    report: &T,
    json: Option<&std::path::Path>,
    loaded: bool,
    table: &str,
) -> Result<()> {
    if let (Some(path), false) = (json, loaded) {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        crate::phases::progress(&format!("wrote {}", path.display()));
    }
    std::io::Write::write_all(&mut std::io::stdout().lock(), table.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_point_at_the_better_side() {
        let fast = Figure::new("p50", "p50", "ms", 2.0);
        let slow = Figure::new("p50", "p50", "ms", 300.0);
        assert_eq!(ratio(&fast, &slow), "150×");
        let many = Figure::new("tp", "tp", "msg/s", 290.0).higher_is_better();
        let few = Figure::new("tp", "tp", "msg/s", 2.9).higher_is_better();
        assert_eq!(ratio(&many, &few), "100×");
        assert_eq!(number(0.1234), "0.123");
        assert!(
            Figure::new("a", "a", "ms", 1.0)
                .goal_max(2.0, "< 2")
                .goal
                .unwrap()
                .met
        );
    }
}

//! The retrieval run's report: scores per question type, latencies, every question's ranked
//! turns (the JSON), and the Markdown tables, beside another run's when comparing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::metrics::{OVERALL, Scores, Summary};
use crate::report::{Machine, number};
use crate::stats::Latency;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RetrievalReport {
    pub(crate) tool: String,
    pub(crate) name: String,
    pub(crate) date: String,
    pub(crate) machine: Machine,
    /// What was measured: server, passage format, endpoint, embedding, server arguments.
    pub(crate) target: Value,
    pub(crate) params: Value,
    /// Per question type, and `overall`.
    pub(crate) scores: BTreeMap<String, Summary>,
    pub(crate) latency: Latencies,
    /// How many results each leg found: `hybrid` (both), `vector`, `full_text` (alone).
    pub(crate) search_modes: BTreeMap<String, usize>,
    pub(crate) questions: Vec<QuestionResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Latencies {
    /// One search per question, client side, query embedding included.
    pub(crate) search: Latency,
    /// Single inserts (`POST /v1/agents/{id}/archival-memory`), embedding included.
    pub(crate) insert: Latency,
    /// Passages per second through the archive's batch endpoint (`None` when not used).
    pub(crate) batch_passages_per_s: Option<f64>,
    pub(crate) batch_passages: usize,
    pub(crate) batch_size: usize,
    /// Searches whose every result came from the full-text leg alone (with a model: most
    /// likely the query was not embedded).
    #[serde(default)]
    pub(crate) searches_text_only: usize,
    /// Why the batch endpoint was not used, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch_error: Option<String>,
}

/// One question: the turns returned, best first, and its scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QuestionResult {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) found: Vec<String>,
    pub(crate) scores: Scores,
}

/// Question types in the order the table lists them; others follow, then `overall`.
const TYPES: [&str; 4] = ["single_hop", "multi_hop", "temporal", "open_domain"];

impl RetrievalReport {
    pub(crate) fn load(path: &std::path::Path) -> Result<RetrievalReport> {
        crate::report::load_json(path)
    }

    /// The Markdown: a header line, the scores table, the latency table. With `other`, every
    /// cell also gives the difference to the other run (scores) or its value (latencies).
    pub(crate) fn table(&self, other: Option<&RetrievalReport>) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "{} — {} — {} cores ({}), load {} → {}",
            self.name, self.date, m.cores, m.cpu_model, m.loadavg_start, m.loadavg_end
        );
        let _ = writeln!(out, "{}\n", describe(&self.target));
        if let Some(o) = other {
            let _ = writeln!(
                out,
                "compared with: {} — {} ({}); cells: this run (difference)\n",
                o.name,
                o.date,
                describe(&o.target)
            );
        }
        out.push_str(
            "| questions | n | recall@1 | recall@5 | recall@10 | session@1 | session@5 | \
             session@10 | MRR@10 | all@10 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for kind in self.kinds() {
            let Some(mine) = self.scores.get(&kind) else {
                continue;
            };
            let theirs = other.and_then(|o| o.scores.get(&kind)).map(|s| &s.mean);
            let _ = writeln!(
                out,
                "| {kind} | {} | {} |",
                mine.questions,
                score_cells(&mine.mean, theirs).join(" | ")
            );
        }
        out.push('\n');
        self.latency_table(other, &mut out);
        out
    }

    /// The types present, in the table's order.
    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = TYPES.iter().map(|t| (*t).to_owned()).collect();
        let extra = (self.scores.keys()).filter(|k| !TYPES.contains(&k.as_str()) && *k != OVERALL);
        kinds.extend(extra.cloned());
        kinds.push(OVERALL.to_owned());
        kinds
    }

    fn latency_table(&self, other: Option<&RetrievalReport>, out: &mut String) {
        let rows = latency_rows(&self.latency);
        let theirs = other.map(|o| latency_rows(&o.latency));
        match &theirs {
            None => out.push_str("| latency | value |\n|---|---:|\n"),
            Some(_) => out.push_str("| latency | this run | compared |\n|---|---:|---:|\n"),
        }
        for (i, (label, value)) in rows.iter().enumerate() {
            match &theirs {
                None => {
                    let _ = writeln!(out, "| {label} | {value} |");
                }
                Some(t) => {
                    let their = t.get(i).map_or("—", |(_, v)| v.as_str());
                    let _ = writeln!(out, "| {label} | {value} | {their} |");
                }
            }
        }
    }
}

/// The cells of one row: recall@k, session@k, MRR, all@10, each with its difference.
fn score_cells(mine: &Scores, theirs: Option<&Scores>) -> Vec<String> {
    let pick = |s: &Scores| {
        let mut v: Vec<f64> = s.recall.to_vec();
        v.extend(s.session_hit);
        v.push(s.mrr);
        v.push(s.all_found);
        v
    };
    let values = pick(mine);
    let others = theirs.map(pick);
    (values.iter().enumerate())
        .map(|(i, v)| match others.as_ref().and_then(|o| o.get(i)) {
            Some(o) => format!("{v:.3} ({:+.3})", v - o),
            None => format!("{v:.3}"),
        })
        .collect()
}

fn latency_rows(l: &Latencies) -> Vec<(String, String)> {
    let ms = |v: f64| format!("{} ms", number(v));
    let batch = l
        .batch_passages_per_s
        .map_or_else(|| "—".to_owned(), |v| format!("{} passages/s", number(v)));
    vec![
        (
            format!("search p50 ({} searches)", l.search.count),
            ms(l.search.p50_ms),
        ),
        ("search p95".to_owned(), ms(l.search.p95_ms)),
        (
            format!("single insert p50 ({} inserts)", l.insert.count),
            ms(l.insert.p50_ms),
        ),
        ("single insert p95".to_owned(), ms(l.insert.p95_ms)),
        (
            format!(
                "batch insert ({} passages, {} per request)",
                l.batch_passages, l.batch_size
            ),
            batch,
        ),
    ]
}

/// The target in one line: format, endpoint, embedding, server arguments.
fn describe(target: &Value) -> String {
    let field = |k: &str| match &target[k] {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    format!(
        "passage format `{}`, endpoint `{}`, embedding `{}`, server args {}, env {}",
        field("passage_format"),
        field("endpoint"),
        field("embedding"),
        field("server_args"),
        field("server_env")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_the_difference() {
        let a = Scores {
            recall: [0.5, 0.75, 1.0],
            ..Scores::default()
        };
        let b = Scores {
            recall: [0.25, 0.75, 0.5],
            ..Scores::default()
        };
        let cells = score_cells(&a, Some(&b));
        assert_eq!(cells[0], "0.500 (+0.250)");
        assert_eq!(cells[1], "0.750 (+0.000)");
        assert_eq!(cells[2], "1.000 (+0.500)");
        assert_eq!(score_cells(&b, None)[2], "0.500");
        assert_eq!(cells.len(), 8);
    }
}

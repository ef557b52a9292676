//! The text exposition format 0.0.4: `# HELP` and `# TYPE` for each family, then one
//! `name{labels} value` line per series.

use std::fmt::Write;

use crate::Metrics;
use crate::process;
use crate::registry::{BUCKETS, Counter, Family, Histogram, HistogramSnapshot};

/// A value the caller reads at scrape time (the database pool's).
#[derive(Debug, Clone)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub value: f64,
}

pub(crate) fn render(m: &Metrics, extra: &[Gauge]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    histograms(
        &mut out,
        "mneme_http_request_duration_seconds",
        "HTTP requests by method, route template and status class.",
        &m.requests,
    );
    let in_flight = m.in_flight.load(std::sync::atomic::Ordering::Relaxed);
    gauge(
        &mut out,
        "mneme_http_requests_in_flight",
        "HTTP requests being answered.",
        in_flight as f64,
    );
    header(
        &mut out,
        "mneme_step_duration_seconds",
        "Committed agent steps, model call and tools included.",
        "histogram",
    );
    series(
        &mut out,
        "mneme_step_duration_seconds",
        &[],
        &[],
        &m.steps.snapshot(),
    );
    histograms(
        &mut out,
        "mneme_model_call_duration_seconds",
        "Model calls that answered, by model handle, until their last chunk.",
        &m.model_calls,
    );
    histograms(
        &mut out,
        "mneme_tool_duration_seconds",
        "Tool executions by tool type.",
        &m.tools,
    );
    counters(
        &mut out,
        "mneme_tokens_total",
        "Tokens by model handle and kind (prompt, completion), as the provider counted them.",
        &m.tokens,
    );
    counters(
        &mut out,
        "mneme_runs_finished_total",
        "Runs ended, by status and stop reason.",
        &m.runs,
    );
    header(
        &mut out,
        "mneme_http_rate_limited_total",
        "Requests refused by the per-caller rate limit (429).",
        "counter",
    );
    let _ = writeln!(
        out,
        "mneme_http_rate_limited_total {}",
        m.rate_limited.get()
    );
    for g in extra {
        gauge(&mut out, g.name, g.help, g.value);
    }
    process_figures(&mut out);
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

fn counters(out: &mut String, name: &str, help: &str, family: &Family<Counter>) {
    header(out, name, help, "counter");
    let names = family.label_names();
    for (values, counter) in family.members() {
        let _ = writeln!(
            out,
            "{name}{} {}",
            labels(names, &values, None),
            counter.get()
        );
    }
}

fn histograms(out: &mut String, name: &str, help: &str, family: &Family<Histogram>) {
    header(out, name, help, "histogram");
    let names = family.label_names();
    for (values, h) in family.members() {
        series(out, name, names, &values, &h.snapshot());
    }
}

/// One histogram's `_bucket` lines, `_sum` and `_count`.
fn series(out: &mut String, name: &str, names: &[&str], values: &[String], s: &HistogramSnapshot) {
    for (bound, count) in BUCKETS.iter().zip(&s.cumulative) {
        let le = bound.to_string();
        let l = labels(names, values, Some(&le));
        let _ = writeln!(out, "{name}_bucket{l} {count}");
    }
    let total = s.cumulative[BUCKETS.len()];
    let l = labels(names, values, Some("+Inf"));
    let _ = writeln!(out, "{name}_bucket{l} {total}");
    let l = labels(names, values, None);
    let _ = writeln!(out, "{name}_sum{l} {}", s.sum_seconds);
    let _ = writeln!(out, "{name}_count{l} {total}");
}

/// `{a="x",b="y"}` (with `le` last for a bucket), or nothing without labels.
fn labels(names: &[&str], values: &[String], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// A label value's escapes: backslash, double quote and line feed.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn process_figures(out: &mut String) {
    let p = process::read();
    let figures = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
            p.resident_bytes,
        ),
        (
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds.",
            "counter",
            p.cpu_seconds,
        ),
        (
            "process_open_fds",
            "Open file descriptors.",
            "gauge",
            p.open_fds,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            "gauge",
            p.start_time_seconds,
        ),
    ];
    for (name, help, kind, value) in figures {
        if let Some(value) = value {
            header(out, name, help, kind);
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn label_values_are_escaped() {
        let l = labels(&["a"], &["x\"y\\z\nw".to_string()], Some("+Inf"));
        assert_eq!(l, r#"{a="x\"y\\z\nw",le="+Inf"}"#);
    }

    #[test]
    fn a_histogram_family_renders_buckets_sum_and_count_per_series() {
        let family: Family<Histogram> = Family::new(&["tool_type"]);
        family.with(&["custom"]).observe(Duration::from_millis(20));
        let mut out = String::new();
        histograms(&mut out, "t_seconds", "Help.", &family);
        assert!(out.starts_with("# HELP t_seconds Help.\n# TYPE t_seconds histogram\n"));
        assert!(out.contains("t_seconds_bucket{tool_type=\"custom\",le=\"0.01\"} 0\n"));
        assert!(out.contains("t_seconds_bucket{tool_type=\"custom\",le=\"0.025\"} 1\n"));
        assert!(out.contains("t_seconds_bucket{tool_type=\"custom\",le=\"+Inf\"} 1\n"));
        assert!(out.contains("t_seconds_sum{tool_type=\"custom\"} 0.02\n"));
        assert!(out.contains("t_seconds_count{tool_type=\"custom\"} 1\n"));
    }
}

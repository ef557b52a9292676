//! Latency samples and their summary (count, errors, mean, p50/p95/p99, max).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Client-side wall times of one kind of request.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    times: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

/// The summary of a `Samples`, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Latency {
    pub(crate) count: usize,
    pub(crate) errors: usize,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_error: Option<String>,
}

impl Samples {
    pub(crate) fn push(&mut self, time: Duration) {
        self.times.push(time);
    }

    /// Counts a failed request; the first message is kept for the report.
    pub(crate) fn fail(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{error:#}"));
        }
    }

    /// Takes in another task's samples.
    pub(crate) fn merge(&mut self, other: Samples) {
        self.times.extend(other.times);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The summary of the samples in `range` (in the order they were pushed), e.g. the first
    /// and the last hundred of a series whose cost grows with the history.
    pub(crate) fn window(&self, range: std::ops::Range<usize>) -> Latency {
        let end = range.end.min(self.times.len());
        let start = range.start.min(end);
        let part = Samples {
            times: self.times[start..end].to_vec(),
            ..Samples::default()
        };
        part.summary()
    }

    pub(crate) fn len(&self) -> usize {
        self.times.len()
    }

    pub(crate) fn summary(&self) -> Latency {
        let mut sorted = self.times.clone();
        sorted.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let total: Duration = sorted.iter().sum();
        Latency {
            count: sorted.len(),
            errors: self.errors,
            mean_ms: if sorted.is_empty() {
                0.0
            } else {
                ms(total) / sorted.len() as f64
            },
            p50_ms: ms(percentile(&sorted, 50.0)),
            p95_ms: ms(percentile(&sorted, 95.0)),
            p99_ms: ms(percentile(&sorted, 99.0)),
            max_ms: ms(sorted.last().copied().unwrap_or_default()),
            first_error: self.first_error.clone(),
        }
    }
}

/// Nearest-rank percentile of sorted samples (zero when there are none).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of a few measurements (cold starts).
pub(crate) fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in 1..=100 {
            s.push(Duration::from_millis(ms));
        }
        let l = s.summary();
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 50.0).abs() < 1e-9);
        assert!((l.p95_ms - 95.0).abs() < 1e-9);
        assert!((l.p99_ms - 99.0).abs() < 1e-9);
        assert!((l.max_ms - 100.0).abs() < 1e-9);
        assert!((l.mean_ms - 50.5).abs() < 1e-9);
        assert_eq!(Samples::default().summary().p50_ms, 0.0);
        let three = [3, 1, 2].map(Duration::from_millis);
        assert_eq!(median(&three), Duration::from_millis(2));
    }
}

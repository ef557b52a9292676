//! The instruments: counters and fixed-bucket histograms of atomics, and labelled families of
//! them. Recording is a few relaxed atomic adds (plus, in a family, a read lock and one small
//! allocation for the key); a scrape copies the values and never holds a lock while formatting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of every latency histogram, in seconds: from a fast request (5 ms) to a long
/// model answer or sandboxed tool (2 min).
pub(crate) const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The bucket bounds in nanoseconds, so that recording compares integers.
const BUCKETS_NS: [u64; 14] = {
    let mut ns = [0u64; 14];
    let mut i = 0;
    while i < BUCKETS.len() {
        ns[i] = (BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    ns
};

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A latency histogram with the fixed `BUCKETS`; each bucket counts only its own range (the
/// cumulative counts Prometheus wants are summed on scrape, not on record).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; 15],
    sum_ns: AtomicU64,
}

/// What a histogram held at a scrape: cumulative counts per bound (the last is `+Inf`, the
/// total), and the sum in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    pub(crate) cumulative: [u64; 15],
    pub(crate) sum_seconds: f64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let slot = BUCKETS_NS.partition_point(|&bound| bound < ns);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = [0u64; 15];
        let mut total = 0;
        for (slot, bucket) in cumulative.iter_mut().zip(&self.buckets) {
            total += bucket.load(Ordering::Relaxed);
            *slot = total;
        }
        HistogramSnapshot {
            cumulative,
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// Instruments by label values. The label names are fixed per family; their values must come
/// from bounded sets (route templates, model handles, tool types, statuses), never from
/// request data.
#[derive(Debug)]
pub struct Family<T> {
    labels: &'static [&'static str],
    members: RwLock<HashMap<String, Member<T>>>,
}

type Member<T> = (Vec<String>, Arc<T>);

impl<T: Default> Family<T> {
    pub fn new(labels: &'static [&'static str]) -> Family<T> {
        Family {
            labels,
            members: RwLock::new(HashMap::new()),
        }
    }

    /// The instrument for these label values (as many as the family's names), made at first
    /// use. A poisoned lock is taken over: the map holds only counters, never half-written.
    pub fn with(&self, values: &[&str]) -> Arc<T> {
        let key = values.join("\u{1f}");
        {
            let members = self.members.read().unwrap_or_else(|e| e.into_inner());
            if let Some((_, member)) = members.get(&key) {
                return member.clone();
            }
        }
        let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
        let (_, member) = members.entry(key).or_insert_with(|| {
            let owned = values.iter().map(|v| v.to_string()).collect();
            (owned, Arc::new(T::default()))
        });
        member.clone()
    }

    pub(crate) fn label_names(&self) -> &'static [&'static str] {
        self.labels
    }

    /// Every member, sorted by its label values, so that a scrape's output is stable.
    pub(crate) fn members(&self) -> Vec<(Vec<String>, Arc<T>)> {
        let mut all: Vec<_> = {
            let members = self.members.read().unwrap_or_else(|e| e.into_inner());
            members.values().cloned().collect()
        };
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_observation_under_every_bound_at_or_above_it() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(10));
        h.observe(Duration::from_secs(500));
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 1, "3 ms is under 5 ms");
        assert_eq!(s.cumulative[1], 2, "10 ms is at the 10 ms bound");
        assert_eq!(s.cumulative[13], 2, "500 s is over every bound");
        assert_eq!(s.cumulative[14], 3, "+Inf counts all");
        assert!((s.sum_seconds - 500.013).abs() < 1e-9, "{}", s.sum_seconds);
    }

    #[test]
    fn a_family_gives_the_same_instrument_for_the_same_labels() {
        let f: Family<Counter> = Family::new(&["model"]);
        f.with(&["a"]).add(2);
        f.with(&["a"]).add(3);
        f.with(&["b"]).add(1);
        let members = f.members();
        let got: Vec<(String, u64)> = members
            .iter()
            .map(|(labels, c)| (labels[0].clone(), c.get()))
            .collect();
        assert_eq!(got, [("a".to_string(), 5), ("b".to_string(), 1)]);
    }
}

//! Scoring one question's ranked turns against its evidence, and averaging per question type:
//! turn recall@k, session hit@k, MRR@10.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// The cut-offs reported.
pub(crate) const KS: [usize; 3] = [1, 5, 10];

/// One question's scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Scores {
    /// Share of the evidence turns in the top 1 / 5 / 10.
    pub(crate) recall: [f64; 3],
    /// 1 when a result in the top 1 / 5 / 10 comes from a session holding evidence.
    pub(crate) session_hit: [f64; 3],
    /// 1 / rank of the first evidence turn in the top 10, else 0.
    pub(crate) mrr: f64,
    /// 1 when every evidence turn is in the top 10.
    pub(crate) all_found: f64,
}

/// The averages over a group of questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summary {
    pub(crate) questions: usize,
    pub(crate) mean: Scores,
}

/// Scores `ranked` (turn ids, best first) against `evidence`; `session_of` maps a turn to its
/// session. Duplicate results count once (a server returning a turn twice gains nothing).
pub(crate) fn score(
    ranked: &[String],
    evidence: &[String],
    session_of: &HashMap<&str, &str>,
) -> Scores {
    let wanted: HashSet<&str> = evidence.iter().map(String::as_str).collect();
    let sessions: HashSet<&str> = (wanted.iter())
        .filter_map(|t| session_of.get(t).copied())
        .collect();
    let mut s = Scores::default();
    if wanted.is_empty() {
        return s;
    }
    for (i, k) in KS.iter().enumerate() {
        let top = &ranked[..ranked.len().min(*k)];
        let found: HashSet<&str> = (top.iter())
            .map(String::as_str)
            .filter(|t| wanted.contains(t))
            .collect();
        s.recall[i] = found.len() as f64 / wanted.len() as f64;
        let hit = (top.iter()).any(|t| {
            session_of
                .get(t.as_str())
                .is_some_and(|s| sessions.contains(s))
        });
        s.session_hit[i] = f64::from(u8::from(hit));
    }
    let last = KS[KS.len() - 1];
    let first = (ranked.iter().take(last)).position(|t| wanted.contains(t.as_str()));
    s.mrr = first.map_or(0.0, |p| 1.0 / (p + 1) as f64);
    s.all_found = f64::from(u8::from(s.recall[KS.len() - 1] >= 1.0));
    s
}

/// The mean of each score per question type, and over all questions under `"overall"`.
pub(crate) fn summarise<'a>(
    scored: impl IntoIterator<Item = (&'a str, Scores)>,
) -> BTreeMap<String, Summary> {
    let mut sums: BTreeMap<String, (usize, Scores)> = BTreeMap::new();
    for (kind, s) in scored {
        for key in [kind, OVERALL] {
            let (n, sum) = sums.entry(key.to_owned()).or_default();
            *n += 1;
            add(sum, &s);
        }
    }
    (sums.into_iter())
        .map(|(kind, (n, sum))| {
            let mean = divide(&sum, n);
            (kind, Summary { questions: n, mean })
        })
        .collect()
}

/// The key of the all-questions summary.
pub(crate) const OVERALL: &str = "overall";

fn add(sum: &mut Scores, s: &Scores) {
    for i in 0..KS.len() {
        sum.recall[i] += s.recall[i];
        sum.session_hit[i] += s.session_hit[i];
    }
    sum.mrr += s.mrr;
    sum.all_found += s.all_found;
}

fn divide(sum: &Scores, n: usize) -> Scores {
    let n = n.max(1) as f64;
    Scores {
        recall: sum.recall.map(|v| v / n),
        session_hit: sum.session_hit.map(|v| v / n),
        mrr: sum.mrr / n,
        all_found: sum.all_found / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn sessions() -> HashMap<&'static str, &'static str> {
        // t1..t5 in s1, t6..t20 in s2.
        let mut m = HashMap::new();
        for (t, s) in [
            ("t1", "s1"),
            ("t2", "s1"),
            ("t3", "s1"),
            ("t4", "s1"),
            ("t5", "s1"),
        ] {
            m.insert(t, s);
        }
        for t in [
            "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13", "t14", "t15",
        ] {
            m.insert(t, "s2");
        }
        m
    }

    #[test]
    fn recall_session_hit_and_mrr_by_hand() {
        let ranked = ids(&[
            "t6", "t2", "t7", "t8", "t9", "t10", "t11", "t4", "t12", "t13",
        ]);
        let s = score(&ranked, &ids(&["t2", "t4"]), &sessions());
        // Top 1 holds neither; top 5 holds t2 (1 of 2); top 10 holds both.
        assert_eq!(s.recall, [0.0, 0.5, 1.0]);
        // t6 is in s2, the evidence is in s1: the first session hit is t2 at rank 2.
        assert_eq!(s.session_hit, [0.0, 1.0, 1.0]);
        assert!((s.mrr - 0.5).abs() < 1e-12);
        assert_eq!(s.all_found, 1.0);
    }

    #[test]
    fn a_miss_scores_zero_and_a_same_session_neighbour_is_a_session_hit() {
        let s = score(&ids(&["t3", "t9"]), &ids(&["t1"]), &sessions());
        assert_eq!(s.recall, [0.0, 0.0, 0.0]);
        assert_eq!(s.session_hit, [1.0, 1.0, 1.0]);
        assert_eq!(s.mrr, 0.0);
        assert_eq!(s.all_found, 0.0);
        let none = score(&[], &ids(&["t1"]), &sessions());
        assert_eq!(none, Scores::default());
    }

    #[test]
    fn duplicates_count_once_and_rank_eleven_is_out() {
        let s = score(&ids(&["t1", "t1"]), &ids(&["t1", "t2"]), &sessions());
        assert_eq!(s.recall, [0.5, 0.5, 0.5]);
        let mut ranked = ids(&["t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13", "t14"]);
        ranked.extend(ids(&["t15", "t1"]));
        let late = score(&ranked, &ids(&["t1"]), &sessions());
        assert_eq!(late.mrr, 0.0);
        assert_eq!(late.recall[2], 0.0);
    }

    #[test]
    fn summaries_average_per_type_and_overall() {
        let a = Scores {
            recall: [1.0, 1.0, 1.0],
            session_hit: [1.0, 1.0, 1.0],
            mrr: 1.0,
            all_found: 1.0,
        };
        let b = Scores::default();
        let sums = summarise([("single_hop", a), ("single_hop", b), ("temporal", b)]);
        assert_eq!(sums["single_hop"].questions, 2);
        assert_eq!(sums["single_hop"].mean.recall, [0.5, 0.5, 0.5]);
        assert_eq!(sums["temporal"].mean.mrr, 0.0);
        assert_eq!(sums[OVERALL].questions, 3);
        assert!((sums[OVERALL].mean.mrr - 1.0 / 3.0).abs() < 1e-12);
    }
}

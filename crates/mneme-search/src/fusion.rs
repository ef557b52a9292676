//! Reciprocal rank fusion of the two legs' ranked keys.
//!
//! RRF needs no score calibration between BM25 (unbounded) and cosine (bounded) and is what
//! Letta's hybrid search does too; k = 60 is the constant of the original paper.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::query::Hit;

/// The RRF constant: damps the head of each list so that one leg's first place does not
/// drown an item both legs rank well.
const K: f64 = 60.0;

/// Fuses two ranked key lists (best first) into at most `limit` hits, best first.
///
/// Ties are broken by key, descending: keys are database sequence numbers, so the newer
/// document wins, and the order is deterministic.
pub(crate) fn reciprocal_rank_fusion(text: &[u64], vector: &[u64], limit: usize) -> Vec<Hit> {
    let mut fused: HashMap<u64, (f64, Option<usize>, Option<usize>)> =
        HashMap::with_capacity(text.len() + vector.len());
    // A leg may in principle repeat a key; only its best rank counts.
    for (i, key) in text.iter().enumerate() {
        let entry = fused.entry(*key).or_insert((0.0, None, None));
        if entry.1.is_none() {
            entry.0 += 1.0 / (K + (i + 1) as f64);
            entry.1 = Some(i + 1);
        }
    }
    for (i, key) in vector.iter().enumerate() {
        let entry = fused.entry(*key).or_insert((0.0, None, None));
        if entry.2.is_none() {
            entry.0 += 1.0 / (K + (i + 1) as f64);
            entry.2 = Some(i + 1);
        }
    }
    let mut hits: Vec<(f64, Hit)> = fused
        .into_iter()
        .map(|(key, (score, text_rank, vector_rank))| {
            let hit = Hit {
                key,
                score: score as f32,
                text_rank,
                vector_rank,
            };
            (score, hit)
        })
        .collect();
    // Sorting on the f64 sums, not the f32 copies, so that near-ties are not made equal.
    hits.sort_by(|(a, ha), (b, hb)| match b.total_cmp(a) {
        Ordering::Equal => hb.key.cmp(&ha.key),
        other => other,
    });
    hits.truncate(limit);
    hits.into_iter().map(|(_, hit)| hit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(hits: &[Hit]) -> Vec<u64> {
        hits.iter().map(|h| h.key).collect()
    }

    #[test]
    fn an_item_ranked_in_both_legs_beats_items_in_one() {
        // 3 is second in both legs; 1 and 7 are first in one leg only.
        let hits = reciprocal_rank_fusion(&[1, 3, 4], &[7, 3, 8], 10);
        assert_eq!(hits[0].key, 3);
        assert_eq!(hits[0].text_rank, Some(2));
        assert_eq!(hits[0].vector_rank, Some(2));
        assert!((hits[0].score - 2.0 / 62.0).abs() < 1e-6);
    }

    #[test]
    fn ties_go_to_the_larger_key() {
        // 1 and 7 are both first in one leg: the same score, so the newer key (7) leads.
        let hits = reciprocal_rank_fusion(&[1], &[7], 10);
        assert_eq!(keys(&hits), vec![7, 1]);
    }

    #[test]
    fn one_leg_alone_keeps_its_order() {
        let hits = reciprocal_rank_fusion(&[5, 9, 2], &[], 10);
        assert_eq!(keys(&hits), vec![5, 9, 2]);
        assert!(hits.iter().all(|h| h.vector_rank.is_none()));
        let hits = reciprocal_rank_fusion(&[], &[2, 9, 5], 2);
        assert_eq!(keys(&hits), vec![2, 9]);
    }

    #[test]
    fn a_repeated_key_counts_once_per_leg() {
        let hits = reciprocal_rank_fusion(&[4, 4], &[], 10);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].text_rank, Some(1));
    }

    #[test]
    fn empty_legs_give_nothing() {
        assert!(reciprocal_rank_fusion(&[], &[], 10).is_empty());
    }
}

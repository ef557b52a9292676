//! Fusion of the two legs' ranked candidates into one list.
//!
//! Reciprocal rank fusion needs no score calibration between BM25 (unbounded)
//! and cosine (bounded) and is what Letta's hybrid search does too; k = 60 is the constant of
//! the original paper. A convex combination of min-max normalised scores is the alternative
//! (`Fusion::Convex`).

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::query::Hit;
use crate::ranking::Fusion;

/// A leg's candidate: its key and its score in that leg (BM25, or cosine similarity).
pub(crate) type Scored = (u64, f32);

/// One key's standing in the fusion: the fused score and its rank (from 1) in each leg.
#[derive(Default)]
struct Standing {
    score: f64,
    text_rank: Option<usize>,
    vector_rank: Option<usize>,
}

/// Fuses two ranked candidate lists (best first) into at most `limit` hits, best first.
///
/// Ties are broken by key, descending: keys are database sequence numbers, so the newer
/// document wins, and the order is deterministic.
pub(crate) fn fuse(text: &[Scored], vector: &[Scored], fusion: &Fusion, limit: usize) -> Vec<Hit> {
    let mut fused: HashMap<u64, Standing> = HashMap::with_capacity(text.len() + vector.len());
    let (text_part, vector_part) = contributions(text, vector, fusion);
    // A leg may in principle repeat a key; only its best rank counts.
    for (i, ((key, _), part)) in text.iter().zip(text_part).enumerate() {
        let entry = fused.entry(*key).or_default();
        if entry.text_rank.is_none() {
            entry.score += part;
            entry.text_rank = Some(i + 1);
        }
    }
    for (i, ((key, _), part)) in vector.iter().zip(vector_part).enumerate() {
        let entry = fused.entry(*key).or_default();
        if entry.vector_rank.is_none() {
            entry.score += part;
            entry.vector_rank = Some(i + 1);
        }
    }
    let mut hits: Vec<(f64, Hit)> = fused
        .into_iter()
        .map(|(key, s)| {
            let hit = Hit {
                key,
                score: s.score as f32,
                text_rank: s.text_rank,
                vector_rank: s.vector_rank,
            };
            (s.score, hit)
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

/// What each candidate of each leg adds to its key's fused score, in list order.
fn contributions(text: &[Scored], vector: &[Scored], fusion: &Fusion) -> (Vec<f64>, Vec<f64>) {
    match *fusion {
        Fusion::Rrf {
            k,
            text_weight,
            vector_weight,
        } => (
            reciprocal_ranks(text.len(), k, text_weight),
            reciprocal_ranks(vector.len(), k, vector_weight),
        ),
        Fusion::Convex { alpha } => (min_max(text, 1.0 - alpha), min_max(vector, alpha)),
    }
}

fn reciprocal_ranks(n: usize, k: f64, weight: f64) -> Vec<f64> {
    (0..n).map(|i| weight / (k + (i + 1) as f64)).collect()
}

/// Scores mapped onto [0, 1] over the leg's own candidates, times `weight`. A leg whose
/// candidates all score the same gives each the full weight: they are equally good.
fn min_max(leg: &[Scored], weight: f64) -> Vec<f64> {
    let (lo, hi) = leg
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, s)| {
            (lo.min(f64::from(*s)), hi.max(f64::from(*s)))
        });
    let span = hi - lo;
    leg.iter()
        .map(|(_, s)| match span > f64::EPSILON {
            true => weight * (f64::from(*s) - lo) / span,
            false => weight,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RRF: Fusion = Fusion::Rrf {
        k: 60.0,
        text_weight: 1.0,
        vector_weight: 1.0,
    };

    /// Rank-only legs (RRF ignores scores).
    fn rrf(text: &[u64], vector: &[u64], limit: usize) -> Vec<Hit> {
        let scored = |keys: &[u64]| keys.iter().map(|k| (*k, 0.0)).collect::<Vec<_>>();
        fuse(&scored(text), &scored(vector), &RRF, limit)
    }

    fn keys(hits: &[Hit]) -> Vec<u64> {
        hits.iter().map(|h| h.key).collect()
    }

    #[test]
    fn an_item_ranked_in_both_legs_beats_items_in_one() {
        // 3 is second in both legs; 1 and 7 are first in one leg only.
        let hits = rrf(&[1, 3, 4], &[7, 3, 8], 10);
        assert_eq!(hits[0].key, 3);
        assert_eq!(hits[0].text_rank, Some(2));
        assert_eq!(hits[0].vector_rank, Some(2));
        assert!((hits[0].score - 2.0 / 62.0).abs() < 1e-6);
    }

    #[test]
    fn ties_go_to_the_larger_key() {
        // 1 and 7 are both first in one leg: the same score, so the newer key (7) leads.
        let hits = rrf(&[1], &[7], 10);
        assert_eq!(keys(&hits), vec![7, 1]);
    }

    #[test]
    fn one_leg_alone_keeps_its_order() {
        let hits = rrf(&[5, 9, 2], &[], 10);
        assert_eq!(keys(&hits), vec![5, 9, 2]);
        assert!(hits.iter().all(|h| h.vector_rank.is_none()));
        let hits = rrf(&[], &[2, 9, 5], 2);
        assert_eq!(keys(&hits), vec![2, 9]);
    }

    #[test]
    fn a_repeated_key_counts_once_per_leg() {
        let hits = rrf(&[4, 4], &[], 10);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].text_rank, Some(1));
    }

    #[test]
    fn empty_legs_give_nothing() {
        assert!(rrf(&[], &[], 10).is_empty());
    }
    #[test]
    fn weights_tilt_rrf_towards_one_leg() {
        let text = [(1, 0.0)];
        let vector = [(7, 0.0)];
        let tilted = Fusion::Rrf {
            k: 60.0,
            text_weight: 1.0,
            vector_weight: 2.0,
        };
        assert_eq!(keys(&fuse(&text, &vector, &tilted, 10)), vec![7, 1]);
        let tilted = Fusion::Rrf {
            k: 60.0,
            text_weight: 2.0,
            vector_weight: 1.0,
        };
        assert_eq!(keys(&fuse(&text, &vector, &tilted, 10)), vec![1, 7]);
    }

    #[test]
    fn convex_fusion_keeps_score_gaps() {
        // Text: 1 is far ahead of 2 and 3. Vector: 3 barely ahead of 2, 1 last.
        let text = [(1, 9.0), (2, 1.1), (3, 1.0)];
        let vector = [(3, 0.52), (2, 0.51), (1, 0.50)];
        let hits = fuse(&text, &vector, &Fusion::Convex { alpha: 0.5 }, 10);
        // 1: 0.5 * 1 + 0.5 * 0 = 0.5; 3: 0 + 0.5 = 0.5 (tie: larger key); 2: ~0.006 + 0.25.
        assert_eq!(keys(&hits), vec![3, 1, 2]);
        let hits = fuse(&text, &vector, &Fusion::Convex { alpha: 0.3 }, 10);
        assert_eq!(hits[0].key, 1);
        assert_eq!(hits[0].text_rank, Some(1));
        assert_eq!(hits[0].vector_rank, Some(3));
    }

    #[test]
    fn a_leg_of_equal_scores_counts_fully() {
        let hits = fuse(
            &[(4, 2.0), (5, 2.0)],
            &[],
            &Fusion::Convex { alpha: 0.5 },
            10,
        );
        assert_eq!(keys(&hits), vec![5, 4]);
        assert!((hits[0].score - 0.5).abs() < 1e-6);
    }
}

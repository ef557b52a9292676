//! A flat f32 slab of one collection's vectors, and the exact top-N scan over it.
//!
//! The slab is the collection's own copy of every vector: exact queries scan it, an HNSW
//! build snapshots it, and an HNSW rebuild after heavy deletion starts from it.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};

/// The vectors of one collection, contiguous so that a scan streams through memory.
pub(crate) struct Slab {
    dimensions: usize,
    keys: Vec<u64>,
    data: Vec<f32>,
    position: HashMap<u64, usize>,
}

impl Slab {
    pub(crate) fn new(dimensions: usize) -> Slab {
        Slab {
            dimensions,
            keys: Vec::new(),
            data: Vec::new(),
            position: HashMap::new(),
        }
    }

    pub(crate) fn dimensions(&self) -> usize {
        self.dimensions
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn keys(&self) -> &[u64] {
        &self.keys
    }

    pub(crate) fn data(&self) -> &[f32] {
        &self.data
    }

    pub(crate) fn get(&self, key: u64) -> Option<&[f32]> {
        let i = *self.position.get(&key)?;
        Some(&self.data[i * self.dimensions..(i + 1) * self.dimensions])
    }

    /// Inserts or replaces `key`'s vector; the caller checked its length.
    pub(crate) fn upsert(&mut self, key: u64, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dimensions);
        match self.position.get(&key) {
            Some(&i) => {
                self.data[i * self.dimensions..(i + 1) * self.dimensions].copy_from_slice(vector)
            }
            None => {
                self.position.insert(key, self.keys.len());
                self.keys.push(key);
                self.data.extend_from_slice(vector);
            }
        }
    }

    /// Removes `key`; returns whether it was there. The last vector moves into the hole, so
    /// the slab stays dense and a removal costs one vector copy.
    pub(crate) fn remove(&mut self, key: u64) -> bool {
        let Some(i) = self.position.remove(&key) else {
            return false;
        };
        let last = self.keys.len() - 1;
        if i != last {
            let moved = self.keys[last];
            self.keys[i] = moved;
            self.data.copy_within(
                last * self.dimensions..(last + 1) * self.dimensions,
                i * self.dimensions,
            );
            self.position.insert(moved, i);
        }
        self.keys.truncate(last);
        self.data.truncate(last * self.dimensions);
        true
    }

    /// The exact top `n` keys by dot product (= cosine for unit vectors), best first, with
    /// their similarity; only keys in `allowed` when given.
    pub(crate) fn search(
        &self,
        query: &[f32],
        n: usize,
        allowed: Option<&HashSet<u64>>,
    ) -> Vec<(u64, f32)> {
        let mut top = TopN::new(n);
        match allowed {
            // A small allowed set is cheaper to look up than the slab is to scan.
            Some(allowed) if allowed.len() < self.len() => {
                for &key in allowed {
                    if let Some(vector) = self.get(key) {
                        top.push(key, dot(query, vector));
                    }
                }
            }
            _ => {
                let rows = self
                    .keys
                    .iter()
                    .zip(self.data.chunks_exact(self.dimensions));
                for (&key, vector) in rows {
                    if allowed.is_none_or(|a| a.contains(&key)) {
                        top.push(key, dot(query, vector));
                    }
                }
            }
        }
        top.into_sorted()
    }
}

/// Dot product with eight independent accumulators: the compiler vectorises this form,
/// whereas a single running sum is a serial dependency chain.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (a_rest, b_rest) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// A bounded min-heap keeping the `n` best (similarity, key) pairs.
struct TopN {
    n: usize,
    heap: BinaryHeap<Reverse<Scored>>,
}

#[derive(Clone, Copy, PartialEq)]
struct Scored(f32, u64);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    // Higher similarity is better; at equal similarity the larger (newer) key is better.
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl TopN {
    fn new(n: usize) -> TopN {
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n + 1),
        }
    }

    fn push(&mut self, key: u64, similarity: f32) {
        let item = Scored(similarity, key);
        if self.heap.len() < self.n {
            self.heap.push(Reverse(item));
        } else if self.heap.peek().is_some_and(|Reverse(worst)| item > *worst) {
            self.heap.pop();
            self.heap.push(Reverse(item));
        }
    }

    fn into_sorted(self) -> Vec<(u64, f32)> {
        // `into_sorted_vec` of `Reverse` items is ascending in `Reverse`, i.e. best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(Scored(similarity, key))| (key, similarity))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(x: f32, y: f32) -> Vec<f32> {
        let norm = (x * x + y * y).sqrt();
        vec![x / norm, y / norm]
    }

    #[test]
    fn scan_ranks_by_similarity_and_respects_allowed() {
        let mut slab = Slab::new(2);
        slab.upsert(1, &unit(1.0, 0.0));
        slab.upsert(2, &unit(1.0, 1.0));
        slab.upsert(3, &unit(0.0, 1.0));
        let keys = |hits: Vec<(u64, f32)>| hits.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(slab.search(&unit(1.0, 0.1), 3, None)), vec![1, 2, 3]);
        assert_eq!(keys(slab.search(&unit(1.0, 0.1), 2, None)), vec![1, 2]);
        let allowed: HashSet<u64> = [3, 2].into();
        assert_eq!(
            keys(slab.search(&unit(1.0, 0.1), 1, Some(&allowed))),
            vec![2]
        );
        let small: HashSet<u64> = [3, 99].into();
        assert_eq!(keys(slab.search(&unit(1.0, 0.1), 5, Some(&small))), vec![3]);
    }

    #[test]
    fn remove_moves_the_last_vector_into_the_hole() {
        let mut slab = Slab::new(2);
        for key in 1..=4 {
            slab.upsert(key, &[key as f32, 0.0]);
        }
        assert!(slab.remove(2));
        assert!(!slab.remove(2));
        assert_eq!(slab.len(), 3);
        assert_eq!(slab.get(4), Some(&[4.0, 0.0][..]));
        assert_eq!(slab.get(2), None);
        slab.upsert(4, &[5.0, 1.0]);
        assert_eq!(slab.get(4), Some(&[5.0, 1.0][..]));
        assert!(slab.remove(4));
        assert!(slab.remove(1));
        assert!(slab.remove(3));
        assert_eq!(slab.len(), 0);
    }

    #[test]
    fn dot_handles_lengths_that_are_not_multiples_of_eight() {
        let a: Vec<f32> = (0..11).map(|i| i as f32).collect();
        let expected: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot(&a, &a), expected);
    }

    #[test]
    fn equal_similarities_prefer_the_newer_key() {
        let mut slab = Slab::new(2);
        slab.upsert(5, &[1.0, 0.0]);
        slab.upsert(9, &[1.0, 0.0]);
        assert_eq!(slab.search(&[1.0, 0.0], 1, None)[0].0, 9);
    }
}

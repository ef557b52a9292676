//! Where a reader stands in a `seq`-ordered table when rows may commit out of `seq` order: the
//! index in the search outbox, the recall embedder in `messages`.
//!
//! With several writers (PostgreSQL), a transaction that took seq 10 can commit after one that
//! took seq 11: a reader that moved its watermark to 11 would never see 10. So the watermark
//! the reader persists only moves over a contiguous run of seqs. Rows past a gap are
//! taken at once (the index is fed the row's current state and a recall vector is replaced, so
//! taking a row twice or late is harmless), each gap is read again on every pass until its rows
//! appear, and a gap older than the grace period is given up (a rolled-back transaction, or a
//! deleted row, leaves its seqs unused forever). The outbox is never pruned past the index's
//! watermark. With SQLite's single writer the outbox has no gaps, except below the first row a
//! new index reads (pruned long ago): that one closes after the grace period; `messages` has
//! gaps only where rows were deleted before the embedder read them.

use std::time::{Duration, Instant};

/// How long a missing seq may still be a transaction in flight. Longer than any transaction a
/// writer holds open; a gap that survives it is a rollback.
pub(super) const GRACE: Duration = Duration::from_secs(60);

/// Seqs `from..=to`, missing since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    from: u64,
    to: u64,
    since: Instant,
}

/// A reader's position: the persisted watermark, how far rows were taken past it, and the gaps
/// in between.
#[derive(Debug, Clone)]
pub(super) struct SeqTracker {
    /// Every seq up to here is applied or given up on.
    watermark: u64,
    /// The highest seq applied; every seq in `(watermark, high]` is applied but the gaps.
    high: u64,
    /// Sorted, disjoint, inside `(watermark, high]`.
    gaps: Vec<Gap>,
}

impl SeqTracker {
    /// Starts at the watermark the index persisted.
    pub(super) fn new(watermark: u64) -> SeqTracker {
        SeqTracker {
            watermark,
            high: watermark,
            gaps: Vec::new(),
        }
    }

    /// The watermark last returned by `settle` (or given to `new`).
    pub(super) fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Where new rows start: they are read with `search_changes(read_after(), ..)`.
    pub(super) fn read_after(&self) -> u64 {
        self.high
    }

    /// The reads that look into the open gaps, as `(after, limit)` for `search_changes`: each
    /// covers the start of a gap, at most `max` rows.
    pub(super) fn gap_reads(&self, max: u32) -> Vec<(u64, u32)> {
        self.gaps
            .iter()
            .map(|g| {
                let len = u32::try_from(g.to - g.from + 1).unwrap_or(u32::MAX);
                (g.from - 1, len.min(max))
            })
            .collect()
    }

    /// Takes a row read from a gap: true when it fills one (to be applied), false when it was
    /// applied already or is a new row (for `take_new`).
    pub(super) fn take_filled(&mut self, seq: u64) -> bool {
        let Some(i) = self.gaps.iter().position(|g| g.from <= seq && seq <= g.to) else {
            return false;
        };
        let g = self.gaps[i];
        let mut rest = Vec::with_capacity(2);
        if g.from < seq {
            rest.push(Gap { to: seq - 1, ..g });
        }
        if seq < g.to {
            rest.push(Gap { from: seq + 1, ..g });
        }
        self.gaps.splice(i..=i, rest);
        true
    }

    /// Takes the rows of one `search_changes(read_after(), ..)` read, one by one in order:
    /// every seq the read skipped is a gap seen at `now`. True when the row is to be applied.
    pub(super) fn take_new(&mut self, seq: u64, now: Instant) -> bool {
        if seq <= self.high {
            return false;
        }
        if seq > self.high + 1 {
            self.gaps.push(Gap {
                from: self.high + 1,
                to: seq - 1,
                since: now,
            });
        }
        self.high = seq;
        true
    }

    /// Gives up the gaps open longer than `grace` and returns the watermark to persist: the
    /// last seq before the oldest open gap.
    pub(super) fn settle(&mut self, now: Instant, grace: Duration) -> u64 {
        self.gaps.retain(|g| now.duration_since(g.since) < grace);
        self.watermark = self.gaps.first().map_or(self.high, |g| g.from - 1);
        self.watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// The seqs of a read after `read_after()` that are to be applied.
    fn new(o: &mut SeqTracker, seqs: &[u64], now: Instant) -> Vec<u64> {
        seqs.iter()
            .copied()
            .filter(|s| o.take_new(*s, now))
            .collect()
    }

    /// The seqs of a gap read that are to be applied.
    fn filled(o: &mut SeqTracker, seqs: &[u64]) -> Vec<u64> {
        seqs.iter().copied().filter(|s| o.take_filled(*s)).collect()
    }

    #[test]
    fn contiguous_rows_move_the_watermark() {
        let mut o = SeqTracker::new(4);
        assert_eq!(o.read_after(), 4);
        let now = Instant::now();
        assert_eq!(new(&mut o, &[5, 6, 7], now), [5, 6, 7]);
        assert_eq!(o.settle(now, GRACE), 7);
        assert!(o.gap_reads(100).is_empty());
        assert_eq!(
            new(&mut o, &[7, 8], now),
            [8],
            "a row read twice is applied once"
        );
        assert_eq!(o.settle(now, GRACE), 8);
    }

    #[test]
    fn rows_past_a_gap_are_applied_and_the_watermark_waits() {
        let mut o = SeqTracker::new(9);
        let now = Instant::now();
        // Seq 10 is a transaction still in flight; 11 and 12 committed.
        assert_eq!(new(&mut o, &[11, 12], now), [11, 12]);
        assert_eq!(o.settle(now, GRACE), 9);
        assert_eq!(
            o.read_after(),
            12,
            "new rows are read after what was applied"
        );
        assert_eq!(o.gap_reads(100), [(9, 1)]);
        // It has not committed yet: the gap read finds only rows applied already.
        assert!(filled(&mut o, &[11]).is_empty());
        assert_eq!(o.settle(now + SECOND, GRACE), 9);
        // Now it has.
        assert_eq!(filled(&mut o, &[10, 11]), [10]);
        assert_eq!(o.settle(now + 2 * SECOND, GRACE), 12);
        assert!(o.gap_reads(100).is_empty());
    }

    #[test]
    fn gaps_fill_piecewise_and_split() {
        let mut o = SeqTracker::new(0);
        let now = Instant::now();
        assert_eq!(new(&mut o, &[3, 9], now), [3, 9]);
        assert_eq!(o.gap_reads(100), [(0, 2), (3, 5)]);
        assert_eq!(
            o.gap_reads(3),
            [(0, 2), (3, 3)],
            "a read is at most `max` rows"
        );
        assert_eq!(filled(&mut o, &[6, 2, 6]), [6, 2], "each seq fills once");
        assert_eq!(o.gap_reads(100), [(0, 1), (3, 2), (6, 2)]);
        assert_eq!(o.settle(now, GRACE), 0);
        assert_eq!(filled(&mut o, &[1, 4, 5, 7, 8]), [1, 4, 5, 7, 8]);
        assert_eq!(o.settle(now, GRACE), 9);
    }

    #[test]
    fn a_gap_older_than_the_grace_period_is_given_up() {
        let mut o = SeqTracker::new(0);
        let start = Instant::now();
        new(&mut o, &[2], start);
        let later = start + GRACE / 2;
        new(&mut o, &[4, 5], later);
        assert_eq!(o.settle(later, GRACE), 0);
        // Seq 1 was rolled back: past its grace the watermark moves to the next gap.
        assert_eq!(o.settle(start + GRACE, GRACE), 2);
        assert_eq!(o.gap_reads(100), [(2, 1)]);
        assert_eq!(o.settle(later + GRACE, GRACE), 5);
        // A row of a given-up gap that commits after all is not applied again by a read.
        assert!(filled(&mut o, &[1, 3]).is_empty());
        assert_eq!(new(&mut o, &[1, 3, 6], later + GRACE), [6]);
    }

    #[test]
    fn the_watermark_never_goes_down() {
        let mut o = SeqTracker::new(50);
        let now = Instant::now();
        assert_eq!(o.settle(now, GRACE), 50);
        new(&mut o, &[52], now);
        assert_eq!(o.settle(now, GRACE), 50);
        filled(&mut o, &[51]);
        assert_eq!(o.settle(now, GRACE), 52);
        new(&mut o, &[40, 52], now);
        assert_eq!(o.settle(now, GRACE), 52);
    }
}

//! The exact source → target offset mapping of replicated partitions, stored as runs.
//!
//! A run is a stretch of consecutive source offsets written to consecutive target offsets. While
//! replication copies record after record, one run grows; a new run starts only where that breaks:
//! a gap in the source (compaction, transaction markers), a jump in the target (records written
//! there by someone else, or the duplicates of a replay after a fail-over), or a replay that goes
//! back in the source. So a partition usually holds a handful of runs, whatever its size.
//!
//! A replay supersedes: a run starting at source offset `S` replaces every run starting after `S`
//! (those records are being written again, further along the target) and cuts the run before it at
//! `S`. Translation therefore always answers with the *latest* copy of a record, from which a
//! consumer reads the rest without repeating the replayed duplicates.

use std::collections::BTreeMap;
use std::ops::Bound;

/// Where replication of one source partition stands: every source offset below
/// `next_source_offset` has been acknowledged by the target (and every one before it), and the
/// last of them landed at `last_target_offset` on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The next source offset to read (Kafka's exclusive "committed offset" convention).
    pub next_source_offset: i64,
    /// The target offset of the record at `next_source_offset - 1` (or before it, when that offset
    /// was a gap), `-1` when nothing was written yet.
    pub last_target_offset: i64,
}

/// Consecutive source offsets `source_start..source_start + len`, written to the consecutive target
/// offsets `target_start..target_start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetRun {
    pub source_start: i64,
    pub target_start: i64,
    /// At least 1.
    pub len: i64,
}

impl OffsetRun {
    /// The source offset just after the run (exclusive).
    pub fn source_end(&self) -> i64 {
        self.source_start + self.len
    }

    /// The target offset just after the run (exclusive).
    pub fn target_end(&self) -> i64 {
        self.target_start + self.len
    }
}

/// Where a committed source offset (the next offset a consumer would read) lands on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// The record at the offset was replicated to this target offset.
    Exact(i64),
    /// No record at the offset was replicated (a gap: compacted, a transaction marker); the next
    /// one that was is at this target offset.
    NextRecord(i64),
    /// The offset is just past the last replicated record: a consumer there has read everything
    /// replicated so far, and resumes at this target offset (the end of what was written).
    CaughtUp(i64),
    /// The offset is beyond what was replicated so far: the best safe answer is the end of what
    /// was written (records between may be read twice, none is skipped).
    Ahead(i64),
    /// The offset is below every run (trimmed, or never replicated): the mapping cannot say.
    Uncovered,
}

impl Translation {
    /// The target offset to resume from, if the mapping gives one.
    pub fn target_offset(&self) -> Option<i64> {
        match *self {
            Self::Exact(t) | Self::NextRecord(t) | Self::CaughtUp(t) | Self::Ahead(t) => Some(t),
            Self::Uncovered => None,
        }
    }
}

/// The runs of one partition, in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetRuns {
    /// By `source_start`: (target_start, len).
    runs: BTreeMap<i64, (i64, i64)>,
}

impl OffsetRuns {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_runs(runs: impl IntoIterator<Item = OffsetRun>) -> Self {
        let mut map = Self::new();
        for run in runs {
            map.apply(run);
        }
        map
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs in source order (none overlaps the next: [`apply`](Self::apply) cuts them).
    pub fn iter(&self) -> impl Iterator<Item = OffsetRun> + '_ {
        self.runs
            .iter()
            .map(|(&source_start, &(target_start, len))| OffsetRun {
                source_start,
                target_start,
                len,
            })
    }

    pub fn last(&self) -> Option<OffsetRun> {
        self.runs
            .iter()
            .next_back()
            .map(|(&source_start, &(target_start, len))| OffsetRun {
                source_start,
                target_start,
                len,
            })
    }

    /// Records that the source record at `source` was written at `target`, after every record
    /// recorded so far. Extends the last run when both sides continue it; otherwise starts a run
    /// (superseding any run at or after `source`, see the module docs). Returns the run that now
    /// holds the record.
    pub fn record(&mut self, source: i64, target: i64) -> OffsetRun {
        if let Some(last) = self.last() {
            if last.source_end() == source && last.target_end() == target {
                let run = OffsetRun {
                    len: last.len + 1,
                    ..last
                };
                self.runs
                    .insert(run.source_start, (run.target_start, run.len));
                return run;
            }
        }
        let run = OffsetRun {
            source_start: source,
            target_start: target,
            len: 1,
        };
        self.apply(run);
        run
    }

    /// Stores `run` (a new run, or a longer version of the last one): runs starting after its
    /// start are dropped, one at the same start replaced, and the one before it cut at its start.
    pub fn apply(&mut self, run: OffsetRun) {
        debug_assert!(run.len >= 1, "empty run {run:?}");
        if let Some((&start, (_, len))) = self.runs.range_mut(..run.source_start).next_back() {
            *len = (*len).min(run.source_start - start);
        }
        let later: Vec<i64> = self
            .runs
            .range((Bound::Excluded(run.source_start), Bound::Unbounded))
            .map(|(k, _)| *k)
            .collect();
        for k in later {
            self.runs.remove(&k);
        }
        self.runs
            .insert(run.source_start, (run.target_start, run.len));
    }

    /// Where a consumer whose committed offset is `offset` resumes on the target.
    pub fn translate(&self, offset: i64) -> Translation {
        let Some((&start, &(target, len))) = self.runs.range(..=offset).next_back() else {
            return Translation::Uncovered;
        };
        let next = self
            .runs
            .range((Bound::Excluded(start), Bound::Unbounded))
            .next();
        let end = match next {
            Some((&next_start, _)) => (start + len).min(next_start),
            None => start + len,
        };
        if offset < end {
            return Translation::Exact(target + (offset - start));
        }
        match next {
            Some((_, &(next_target, _))) => Translation::NextRecord(next_target),
            None if offset == end => Translation::CaughtUp(target + len),
            None => Translation::Ahead(target + len),
        }
    }

    /// Drops the runs wholly below `below` (e.g. the source's log start offset after retention):
    /// the run holding `below`, or the last one before it, stays. Returns how many were dropped.
    pub fn trim(&mut self, below: i64) -> usize {
        let Some((&keep, _)) = self.runs.range(..=below).next_back() else {
            return 0;
        };
        let drop: Vec<i64> = self.runs.range(..keep).map(|(k, _)| *k).collect();
        for k in &drop {
            self.runs.remove(k);
        }
        drop.len()
    }

    /// Keeps at most `max` runs, dropping the oldest (a bound for partitions whose offsets break
    /// constantly, e.g. compacted ones: translation below the oldest kept run falls back to
    /// MM2's rule).
    pub fn cap(&mut self, max: usize) -> usize {
        let excess = self.runs.len().saturating_sub(max);
        for _ in 0..excess {
            self.runs.pop_first();
        }
        excess
    }
}

/// Collects the runs that changed since the last [`take`](Self::take), for batched persistence:
/// fed record by record on the acknowledgement path, it only compares and increments.
#[derive(Debug, Clone, Default)]
pub struct RunRecorder {
    /// The run records currently extend.
    current: Option<OffsetRun>,
    /// Finished runs not yet taken, in order.
    finished: Vec<OffsetRun>,
    /// Whether `current` changed since the last take.
    dirty: bool,
}

impl RunRecorder {
    /// A recorder that continues `last` (the last stored run) when the next record extends it.
    pub fn new(last: Option<OffsetRun>) -> Self {
        Self {
            current: last,
            finished: Vec::new(),
            dirty: false,
        }
    }

    pub fn record(&mut self, source: i64, target: i64) {
        if let Some(current) = &mut self.current {
            if current.source_end() == source && current.target_end() == target {
                current.len += 1;
                self.dirty = true;
                return;
            }
            if self.dirty {
                self.finished.push(*current);
            }
        }
        self.current = Some(OffsetRun {
            source_start: source,
            target_start: target,
            len: 1,
        });
        self.dirty = true;
    }

    /// The runs created or extended since the last call, in the order they must be applied.
    pub fn take(&mut self) -> Vec<OffsetRun> {
        let mut runs = std::mem::take(&mut self.finished);
        if std::mem::take(&mut self.dirty) {
            runs.extend(self.current);
        }
        runs
    }

    /// The run records currently extend.
    pub fn current(&self) -> Option<OffsetRun> {
        self.current
    }

    /// Takes `runs` (in source order, recorded elsewhere: e.g. by an earlier owner of the
    /// partition) as if they had been recorded here after everything so far: the next take
    /// returns them, and records extend the last of them.
    pub fn restore(&mut self, runs: &[OffsetRun]) {
        let Some((last, before)) = runs.split_last() else {
            return;
        };
        if self.dirty {
            self.finished.extend(self.current);
        }
        self.finished.extend_from_slice(before);
        self.current = Some(*last);
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source_start: i64, target_start: i64, len: i64) -> OffsetRun {
        OffsetRun {
            source_start,
            target_start,
            len,
        }
    }

    #[test]
    fn restored_runs_are_taken_in_order_and_extended() {
        let mut recorder = RunRecorder::new(Some(run(0, 0, 10)));
        recorder.restore(&[run(10, 11, 5), run(15, 17, 3)]);
        recorder.record(18, 20);
        recorder.record(19, 22);
        assert_eq!(
            recorder.take(),
            vec![run(10, 11, 5), run(15, 17, 4), run(19, 22, 1)]
        );
        recorder.restore(&[]);
        assert_eq!(recorder.take(), vec![]);
    }

    #[test]
    fn contiguous_records_make_one_run() {
        let mut runs = OffsetRuns::new();
        for s in 0..1_000 {
            runs.record(s, s + 7);
        }
        assert_eq!(runs.iter().collect::<Vec<_>>(), vec![run(0, 7, 1_000)]);
        assert_eq!(runs.translate(0), Translation::Exact(7));
        assert_eq!(runs.translate(999), Translation::Exact(1_006));
        assert_eq!(runs.translate(1_000), Translation::CaughtUp(1_007));
        assert_eq!(runs.translate(1_005), Translation::Ahead(1_007));
    }

    #[test]
    fn gaps_and_target_jumps_start_runs() {
        let mut runs = OffsetRuns::new();
        // source 0..5 → target 10..15; source gap 5..8 (compacted); target jump (foreign record)
        for s in 0..5 {
            runs.record(s, s + 10);
        }
        for s in 8..10 {
            runs.record(s, s + 7);
        }
        runs.record(10, 18);
        assert_eq!(
            runs.iter().collect::<Vec<_>>(),
            vec![run(0, 10, 5), run(8, 15, 2), run(10, 18, 1)]
        );
        assert_eq!(runs.translate(4), Translation::Exact(14));
        // 5, 6 and 7 do not exist on the source: the group reads 8 next, at target 15.
        assert_eq!(runs.translate(5), Translation::NextRecord(15));
        assert_eq!(runs.translate(7), Translation::NextRecord(15));
        assert_eq!(runs.translate(9), Translation::Exact(16));
        assert_eq!(runs.translate(10), Translation::Exact(18));
        assert_eq!(runs.translate(11), Translation::CaughtUp(19));
    }

    #[test]
    fn a_replay_supersedes_what_it_rewrites() {
        let mut runs = OffsetRuns::new();
        for s in 0..100 {
            runs.record(s, s);
        }
        // a new owner replays from 90: duplicates land at 100..
        for s in 90..95 {
            runs.record(s, s + 10);
        }
        assert_eq!(
            runs.iter().collect::<Vec<_>>(),
            vec![run(0, 0, 90), run(90, 100, 5)]
        );
        assert_eq!(runs.translate(50), Translation::Exact(50));
        // the latest copy: reading from 102 yields 92, 93, 94 and then the rest, no repeat.
        assert_eq!(runs.translate(92), Translation::Exact(102));
        assert_eq!(runs.translate(95), Translation::CaughtUp(105));
        assert_eq!(runs.translate(97), Translation::Ahead(105));
    }

    #[test]
    fn trim_keeps_the_run_holding_the_offset() {
        let mut runs = OffsetRuns::from_runs([run(0, 0, 10), run(20, 10, 10), run(40, 20, 10)]);
        assert_eq!(runs.trim(25), 1);
        assert_eq!(runs.translate(5), Translation::Uncovered);
        assert_eq!(runs.translate(25), Translation::Exact(15));
        assert_eq!(runs.trim(35), 0, "35 is in the gap after the run at 20");
        assert_eq!(runs.trim(45), 1);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs.cap(0), 1);
        assert!(runs.is_empty());
    }

    #[test]
    fn recorder_hands_over_changed_runs_only() {
        let mut rec = RunRecorder::new(Some(run(0, 0, 10)));
        assert!(rec.take().is_empty());
        rec.record(10, 10);
        rec.record(11, 11);
        assert_eq!(rec.take(), vec![run(0, 0, 12)]);
        rec.record(15, 12);
        rec.record(16, 13);
        rec.record(17, 20);
        assert_eq!(rec.take(), vec![run(15, 12, 2), run(17, 20, 1)]);
        assert!(rec.take().is_empty());
        assert_eq!(rec.current(), Some(run(17, 20, 1)));
    }
}

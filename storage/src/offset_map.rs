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

use crate::{PositionKey, StorageError};

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

    fn encode_value(&self) -> [u8; 16] {
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&self.target_start.to_be_bytes());
        value[8..].copy_from_slice(&self.len.to_be_bytes());
        value
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
}

/// The offset runs of this node's partitions in sled (tree `offset_runs`, key
/// `flow \0 topic \0 partition(be) source_start(be)`, value `target_start(be) len(be)`).
#[derive(Clone)]
pub struct OffsetMapStore {
    tree: sled::Tree,
}

impl OffsetMapStore {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Self { tree }
    }

    fn prefix(key: &PositionKey) -> Vec<u8> {
        key.encode()
    }

    fn run_key(prefix: &[u8], source_start: i64) -> Vec<u8> {
        let mut k = Vec::with_capacity(prefix.len() + 8);
        k.extend_from_slice(prefix);
        // Offsets are never negative, so big-endian bytes sort like the numbers.
        k.extend_from_slice(&source_start.to_be_bytes());
        k
    }

    fn decode(prefix_len: usize, k: &[u8], v: &[u8]) -> Result<OffsetRun, StorageError> {
        let corrupt = |len| StorageError::Corrupt {
            what: "offset run",
            len,
        };
        let start: [u8; 8] = k
            .get(prefix_len..)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt(k.len()))?;
        let v: &[u8; 16] = v.try_into().map_err(|_| corrupt(v.len()))?;
        let (target, len) = v.split_at(8);
        Ok(OffsetRun {
            source_start: i64::from_be_bytes(start),
            target_start: i64::from_be_bytes(target.try_into().expect("8 bytes")),
            len: i64::from_be_bytes(len.try_into().expect("8 bytes")),
        })
    }

    /// Stores runs of `key` in order with [`OffsetRuns::apply`]'s rule, in one atomic batch.
    pub fn apply(&self, key: &PositionKey, runs: &[OffsetRun]) -> Result<(), StorageError> {
        if runs.is_empty() {
            return Ok(());
        }
        let prefix = Self::prefix(key);
        let mut batch = sled::Batch::default();
        // Later runs of the same batch are kept: only stored runs after the first new start can be
        // superseded, and the new runs are applied after them.
        let first = runs.iter().map(|r| r.source_start).min().unwrap_or(0);
        for entry in self
            .tree
            .range(Self::run_key(&prefix, first.saturating_add(1))..)
        {
            let (k, _) = entry?;
            if !k.starts_with(&prefix) {
                break;
            }
            batch.remove(k);
        }
        let mut applied = OffsetRuns::new();
        // The stored run before the first new one is cut where the new ones start.
        if let Some(entry) = self
            .tree
            .range(prefix.clone()..Self::run_key(&prefix, first))
            .next_back()
        {
            let (k, v) = entry?;
            if k.starts_with(&prefix) {
                applied.apply(Self::decode(prefix.len(), &k, &v)?);
            }
        }
        for run in runs {
            applied.apply(*run);
        }
        for run in applied.runs.iter().map(|(&s, &(t, l))| OffsetRun {
            source_start: s,
            target_start: t,
            len: l,
        }) {
            batch.insert(
                Self::run_key(&prefix, run.source_start),
                &run.encode_value(),
            );
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Every stored run of `key`.
    pub fn runs(&self, key: &PositionKey) -> Result<OffsetRuns, StorageError> {
        let prefix = Self::prefix(key);
        let mut runs = OffsetRuns::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (k, v) = entry?;
            let run = Self::decode(prefix.len(), &k, &v)?;
            runs.runs
                .insert(run.source_start, (run.target_start, run.len));
        }
        Ok(runs)
    }

    /// The last stored run of `key`.
    pub fn last(&self, key: &PositionKey) -> Result<Option<OffsetRun>, StorageError> {
        let prefix = Self::prefix(key);
        match self.tree.scan_prefix(&prefix).next_back() {
            Some(entry) => {
                let (k, v) = entry?;
                Ok(Some(Self::decode(prefix.len(), &k, &v)?))
            }
            None => Ok(None),
        }
    }

    pub fn translate(&self, key: &PositionKey, offset: i64) -> Result<Translation, StorageError> {
        Ok(self.runs(key)?.translate(offset))
    }

    /// [`OffsetRuns::trim`] on the stored runs of `key`.
    pub fn trim(&self, key: &PositionKey, below: i64) -> Result<usize, StorageError> {
        let prefix = Self::prefix(key);
        let Some(keep) = self
            .tree
            .range(prefix.clone()..=Self::run_key(&prefix, below))
            .next_back()
        else {
            return Ok(0);
        };
        let (keep, _) = keep?;
        if !keep.starts_with(&prefix) {
            return Ok(0);
        }
        let mut batch = sled::Batch::default();
        let mut dropped = 0;
        for entry in self.tree.range(prefix.clone()..keep.to_vec()) {
            let (k, _) = entry?;
            batch.remove(k);
            dropped += 1;
        }
        self.tree.apply_batch(batch)?;
        Ok(dropped)
    }

    /// Forgets every run of `key`.
    pub fn remove(&self, key: &PositionKey) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for entry in self.tree.scan_prefix(Self::prefix(key)) {
            batch.remove(entry?.0);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Store;

    fn run(source_start: i64, target_start: i64, len: i64) -> OffsetRun {
        OffsetRun {
            source_start,
            target_start,
            len,
        }
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

    /// A tiny deterministic generator (xorshift64*), so the property tests need no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> i64 {
            (self.next() % n) as i64
        }
    }

    /// The obvious model: every write in order, a write at source `s` first forgetting every
    /// earlier write at `s` or after (they are being replayed). The next record a consumer at
    /// `offset` reads is the first remaining write at or after `offset`.
    #[derive(Default)]
    struct Model {
        writes: Vec<(i64, i64)>,
    }
    impl Model {
        fn record(&mut self, s: i64, t: i64) {
            self.writes.retain(|(ws, _)| *ws < s);
            self.writes.push((s, t));
        }
        fn translate(&self, offset: i64) -> Option<i64> {
            let first = self.writes.first()?;
            if offset < first.0 {
                return None;
            }
            match self.writes.iter().find(|(s, _)| *s >= offset) {
                Some((_, t)) => Some(*t),
                None => self.writes.last().map(|(_, t)| t + 1),
            }
        }
    }

    /// Random replication histories (source gaps, foreign target records, replays that go back
    /// and write duplicates further on): the runs translate every offset exactly like the model,
    /// stay few, and the recorder's batches rebuild the same runs in sled.
    #[test]
    fn property_runs_translate_like_the_record_by_record_model() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
        let map = store.offset_map().unwrap();
        let mut total_runs = 0;
        for seed in 1..=200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let key = PositionKey::new("A->B", "t", seed as i32);
            let mut runs = OffsetRuns::new();
            let mut model = Model::default();
            let mut rec = RunRecorder::new(None);
            let (mut s, mut t) = (rng.below(50), rng.below(50));
            for _ in 0..rng.below(400) + 1 {
                runs.record(s, t);
                model.record(s, t);
                rec.record(s, t);
                if rng.below(20) == 0 {
                    map.apply(&key, &rec.take()).unwrap();
                }
                // What comes next: mostly the next record, sometimes a gap, a foreign target
                // record, or a replay from earlier (at most back to 0).
                s = match rng.below(30) {
                    0 => s + 2 + rng.below(5),
                    1 => (s - rng.below(20)).max(0),
                    _ => s + 1,
                };
                t += 1 + if rng.below(30) == 0 { rng.below(3) } else { 0 };
            }
            map.apply(&key, &rec.take()).unwrap();
            let stored = map.runs(&key).unwrap();
            assert_eq!(stored, runs, "seed {seed}: sled holds the same runs");
            let max_source = model.writes.iter().map(|w| w.0).max().unwrap_or(0);
            for offset in 0..=max_source + 3 {
                assert_eq!(
                    runs.translate(offset).target_offset(),
                    model.translate(offset),
                    "seed {seed}, offset {offset}"
                );
            }
            assert!(runs.len() <= model.writes.len());
            total_runs += runs.len();
        }
        assert!(
            total_runs > 1_000,
            "the histories break runs often: {total_runs}"
        );
    }

    #[test]
    fn store_apply_trim_remove_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let key = PositionKey::new("A->B", "orders", 0);
        let other = PositionKey::new("A->B", "orders", 1);
        {
            let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
            let map = store.offset_map().unwrap();
            map.apply(&key, &[run(0, 0, 10), run(20, 10, 5)]).unwrap();
            map.apply(&other, &[run(0, 100, 3)]).unwrap();
            // the open run grows
            map.apply(&key, &[run(20, 10, 8)]).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
        let map = store.offset_map().unwrap();
        assert_eq!(map.last(&key).unwrap(), Some(run(20, 10, 8)));
        assert_eq!(map.translate(&key, 22).unwrap(), Translation::Exact(12));
        assert_eq!(map.translate(&other, 1).unwrap(), Translation::Exact(101));
        // a replay from 5 supersedes the run at 20
        map.apply(&key, &[run(5, 30, 2)]).unwrap();
        assert_eq!(
            map.runs(&key).unwrap().iter().collect::<Vec<_>>(),
            vec![run(0, 0, 5), run(5, 30, 2)]
        );
        assert_eq!(map.trim(&key, 6).unwrap(), 1);
        assert_eq!(map.trim(&key, 6).unwrap(), 0);
        assert_eq!(map.runs(&key).unwrap().len(), 1);
        map.remove(&key).unwrap();
        assert_eq!(map.last(&key).unwrap(), None);
        assert_eq!(
            map.runs(&other).unwrap().len(),
            1,
            "other partitions untouched"
        );
        assert_eq!(map.trim(&key, 100).unwrap(), 0);
    }
}

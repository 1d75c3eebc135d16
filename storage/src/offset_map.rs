//! The offset runs of replicated partitions in sled. The runs themselves (what they mean, how a
//! replay supersedes, how an offset translates) are domain types: `strait_domain::OffsetRuns`.

use strait_domain::{OffsetRun, OffsetRuns, PartitionKey, Translation};

use crate::positions::encode_key;
use crate::StorageError;

/// The offset runs of this node's partitions in sled (tree `offset_runs`, key
/// `flow \0 topic \0 partition(be) source_start(be)`, value `target_start(be) len(be)`).
#[derive(Clone)]
pub struct OffsetMapStore {
    tree: sled::Tree,
}

/// `target_start(be) len(be)`.
fn encode_value(run: &OffsetRun) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&run.target_start.to_be_bytes());
    value[8..].copy_from_slice(&run.len.to_be_bytes());
    value
}

impl OffsetMapStore {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Self { tree }
    }

    fn prefix(key: &PartitionKey) -> Vec<u8> {
        encode_key(key)
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
    pub fn apply(&self, key: &PartitionKey, runs: &[OffsetRun]) -> Result<(), StorageError> {
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
        for run in applied.iter() {
            batch.insert(
                Self::run_key(&prefix, run.source_start),
                &encode_value(&run),
            );
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Every stored run of `key`.
    pub fn runs(&self, key: &PartitionKey) -> Result<OffsetRuns, StorageError> {
        let prefix = Self::prefix(key);
        let mut runs = OffsetRuns::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (k, v) = entry?;
            // Stored runs never overlap and come in source order: applying them rebuilds them.
            runs.apply(Self::decode(prefix.len(), &k, &v)?);
        }
        Ok(runs)
    }

    /// The last stored run of `key`.
    pub fn last(&self, key: &PartitionKey) -> Result<Option<OffsetRun>, StorageError> {
        let prefix = Self::prefix(key);
        match self.tree.scan_prefix(&prefix).next_back() {
            Some(entry) => {
                let (k, v) = entry?;
                Ok(Some(Self::decode(prefix.len(), &k, &v)?))
            }
            None => Ok(None),
        }
    }

    pub fn translate(&self, key: &PartitionKey, offset: i64) -> Result<Translation, StorageError> {
        Ok(self.runs(key)?.translate(offset))
    }

    /// [`OffsetRuns::trim`] on the stored runs of `key`.
    pub fn trim(&self, key: &PartitionKey, below: i64) -> Result<usize, StorageError> {
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
    pub fn remove(&self, key: &PartitionKey) -> Result<(), StorageError> {
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

    use strait_domain::RunRecorder;

    use super::*;
    use crate::Store;

    fn key_of(flow: &str, topic: &str, partition: i32) -> PartitionKey {
        PartitionKey::new(flow.parse().unwrap(), topic, partition)
    }

    fn run(source_start: i64, target_start: i64, len: i64) -> OffsetRun {
        OffsetRun {
            source_start,
            target_start,
            len,
        }
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
            let key = key_of("A->B", "t", seed as i32);
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
        let key = key_of("A->B", "orders", 0);
        let other = key_of("A->B", "orders", 1);
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

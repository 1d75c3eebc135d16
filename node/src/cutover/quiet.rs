//! When is a flow's source quiet? Every partition replicated up to its end offset, and neither the
//! end offsets nor the replicated positions changed for a while: then nothing is in flight, and
//! the offset runs in the cluster state (which lag the data path by one position interval) cover
//! every record, so translated offsets are exact.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use strait_coordinator::TopicPartition;

/// One look at a flow's partitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Per source partition: (end offset on the source, next offset to replicate per the cluster
    /// state, or the log start offset when nothing was replicated yet).
    pub partitions: BTreeMap<TopicPartition, (i64, i64)>,
}

impl Snapshot {
    /// Source records not replicated yet, summed over the partitions.
    pub fn lag(&self) -> i64 {
        self.partitions
            .values()
            .map(|(end, next)| (end - next).max(0))
            .sum()
    }

    /// `partition`'s records not replicated yet.
    pub fn partition_lag(&self, tp: &TopicPartition) -> i64 {
        self.partitions
            .get(tp)
            .map_or(0, |(end, next)| (end - next).max(0))
    }

    /// The source end offset of `partition`.
    pub fn end(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).map(|(end, _)| *end)
    }
}

/// Tracks snapshots until one has lasted, replicated, for `needed`.
#[derive(Debug)]
pub struct Quiet {
    needed: Duration,
    since: Option<(Instant, Snapshot)>,
}

impl Quiet {
    pub fn new(needed: Duration) -> Self {
        Self {
            needed,
            since: None,
        }
    }

    /// Records `snapshot`, taken at `now`; true once the flow has had no lag and no change for
    /// `needed`.
    pub fn observe(&mut self, now: Instant, snapshot: Snapshot) -> bool {
        if snapshot.lag() > 0 {
            self.since = None;
            return false;
        }
        match &self.since {
            Some((since, seen)) if *seen == snapshot => now.duration_since(*since) >= self.needed,
            _ => {
                self.since = Some((now, snapshot));
                self.needed.is_zero()
            }
        }
    }

    /// Starts over (the source was written to after all).
    pub fn reset(&mut self) {
        self.since = None;
    }

    /// The snapshot that has been quiet, if any.
    pub fn quiet_snapshot(&self) -> Option<&Snapshot> {
        self.since.as_ref().map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(parts: &[(i32, i64, i64)]) -> Snapshot {
        Snapshot {
            partitions: parts
                .iter()
                .map(|&(p, end, next)| (TopicPartition::new("t", p), (end, next)))
                .collect(),
        }
    }

    #[test]
    fn lag_counts_unreplicated_records_only() {
        let s = snapshot(&[(0, 10, 7), (1, 5, 5), (2, 3, 9)]);
        assert_eq!(s.lag(), 3);
        assert_eq!(s.partition_lag(&TopicPartition::new("t", 0)), 3);
        assert_eq!(s.partition_lag(&TopicPartition::new("t", 2)), 0);
        assert_eq!(s.end(&TopicPartition::new("t", 1)), Some(5));
    }

    #[test]
    fn quiet_only_after_an_unchanged_replicated_stretch() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut quiet = Quiet::new(Duration::from_secs(5));
        assert!(!quiet.observe(at(0), snapshot(&[(0, 10, 8)])), "lag");
        assert!(!quiet.observe(at(1_000), snapshot(&[(0, 10, 10)])));
        assert!(!quiet.observe(at(5_999), snapshot(&[(0, 10, 10)])));
        // A new record (replicated at once) starts the stretch over.
        assert!(!quiet.observe(at(6_000), snapshot(&[(0, 11, 11)])));
        assert!(!quiet.observe(at(10_999), snapshot(&[(0, 11, 11)])));
        assert!(quiet.observe(at(11_000), snapshot(&[(0, 11, 11)])));
        assert_eq!(quiet.quiet_snapshot(), Some(&snapshot(&[(0, 11, 11)])));
        quiet.reset();
        assert!(!quiet.observe(at(12_000), snapshot(&[(0, 11, 11)])));
        assert!(!quiet.observe(at(13_000), snapshot(&[(0, 12, 11)])));
        assert_eq!(quiet.quiet_snapshot(), None);
    }

    #[test]
    fn zero_wait_is_quiet_at_once_when_replicated() {
        let mut quiet = Quiet::new(Duration::ZERO);
        assert!(quiet.observe(Instant::now(), snapshot(&[(0, 4, 4)])));
        assert!(!quiet.observe(Instant::now(), snapshot(&[(0, 5, 4)])));
    }
}

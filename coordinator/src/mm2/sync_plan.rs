//! Offset syncs planned from offset runs instead of record by record.
//!
//! MM2 decides per acknowledged record ([`OffsetSyncRule`](super::OffsetSyncRule)); Strait already
//! holds the same information as runs, so it plans the syncs of a whole stretch at once at each
//! periodic flush: a sync at every run start (the first record, an upstream jump, a downstream
//! jump or a replay), one every `offset.lag.max` records within a run, and the last record of the
//! newest run (MM2's delayed sync, emitted at the flush). For histories without target-side jumps and replays this
//! is exactly MM2's output (tested below); with them it emits a few more syncs, never fewer.

use crate::OffsetRun;

use super::SyncPoint;

/// The syncs to emit for `runs` (one partition's, in source order, as the cluster state holds
/// them), given the last sync emitted (`None`: none yet). Target offsets only grow (Strait is the
/// only writer of its remote partitions, and a replay writes further along), so what is new is
/// what lies beyond `last.downstream`.
pub fn plan_offset_syncs(
    last: Option<SyncPoint>,
    runs: impl IntoIterator<Item = OffsetRun>,
    lag_max: i64,
) -> Vec<SyncPoint> {
    let mut runs: Vec<OffsetRun> = runs.into_iter().collect();
    runs.sort_by_key(|r| r.target_start);
    let lag_max = lag_max.max(0);
    let mut syncs = Vec::new();
    let mut last = last;
    let count = runs.len();
    for (index, run) in runs.into_iter().enumerate() {
        let last_downstream = run.target_end() - 1;
        if last.is_some_and(|l| l.downstream >= last_downstream) {
            continue;
        }
        let at = |downstream: i64| SyncPoint {
            upstream: run.source_start + (downstream - run.target_start),
            downstream,
        };
        let mut current = match last {
            Some(l) if l.downstream >= run.target_start => l,
            _ => {
                let start = at(run.target_start);
                syncs.push(start);
                start
            }
        };
        loop {
            let next = current.downstream + 1 + lag_max;
            if next > last_downstream {
                break;
            }
            current = at(next);
            syncs.push(current);
        }
        // MM2's delayed sync, emitted at the flush: only the newest run's last record (an
        // earlier run's was superseded by the next run's start, as in MM2).
        if index + 1 == count && current.downstream != last_downstream {
            current = at(last_downstream);
            syncs.push(current);
        }
        last = Some(current);
    }
    syncs
}

#[cfg(test)]
mod tests {
    use crate::OffsetRuns;

    use super::*;
    use crate::mm2::{translate_by_syncs, OffsetSyncRule, SyncDecision};

    fn p(upstream: i64, downstream: i64) -> SyncPoint {
        SyncPoint {
            upstream,
            downstream,
        }
    }

    #[test]
    fn run_starts_lag_steps_and_the_tail() {
        let runs = [
            OffsetRun {
                source_start: 10,
                target_start: 0,
                len: 8,
            },
            OffsetRun {
                source_start: 20,
                target_start: 8,
                len: 2,
            },
        ];
        assert_eq!(
            plan_offset_syncs(None, runs, 3),
            vec![p(10, 0), p(14, 4), p(20, 8), p(21, 9)]
        );
        // nothing new
        assert!(plan_offset_syncs(Some(p(21, 9)), runs, 3).is_empty());
        // the open run grew by 5
        let grown = [OffsetRun {
            source_start: 20,
            target_start: 8,
            len: 7,
        }];
        assert_eq!(
            plan_offset_syncs(Some(p(21, 9)), grown, 3),
            vec![p(25, 13), p(26, 14)]
        );
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> i64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n) as i64
        }
    }

    /// Source gaps only (compaction, markers): the plan equals MM2's rule fed record by record
    /// with one flush at the end; with flushes in between, the plan at each flush equals the
    /// rule's emits since the previous one.
    #[test]
    fn property_equals_mm2_rule_without_target_jumps() {
        for seed in 1..=300u64 {
            let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
            let lag_max = rng.below(6);
            let mut rule = OffsetSyncRule::new(lag_max);
            let mut runs = OffsetRuns::new();
            let mut planned_last = None;
            let (mut s, mut t) = (rng.below(10), rng.below(10));
            for _ in 0..rng.below(10) + 1 {
                let mut expected = Vec::new();
                for _ in 0..rng.below(40) + 1 {
                    if let SyncDecision::Emit(point) = rule.on_record(s, t) {
                        expected.push(point);
                    }
                    runs.record(s, t);
                    s += if rng.below(8) == 0 {
                        2 + rng.below(4)
                    } else {
                        1
                    };
                    t += 1;
                }
                expected.extend(rule.flush());
                let planned = plan_offset_syncs(planned_last, runs.iter(), lag_max);
                assert_eq!(planned, expected, "seed {seed}, lag {lag_max}");
                planned_last = planned.last().copied().or(planned_last);
            }
        }
    }

    /// Any history (gaps, foreign target records, replays): translating through the planned
    /// syncs never lands after the exact answer (MM2's rule only ever errs towards re-reading).
    #[test]
    fn property_sync_translation_never_skips() {
        for seed in 1..=300u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut runs = OffsetRuns::new();
            let mut syncs = Vec::new();
            let (mut s, mut t) = (0i64, rng.below(10));
            for _ in 0..rng.below(6) + 1 {
                for _ in 0..rng.below(50) + 1 {
                    runs.record(s, t);
                    s = match rng.below(20) {
                        0 => s + 2 + rng.below(4),
                        1 => (s - rng.below(10)).max(0),
                        _ => s + 1,
                    };
                    t += 1 + if rng.below(15) == 0 { rng.below(3) } else { 0 };
                }
                let planned = plan_offset_syncs(syncs.last().copied(), runs.iter(), 3);
                syncs.extend(planned);
            }
            let max = runs.last().map_or(0, |r| r.source_end());
            for g in 0..=max {
                let exact = runs.translate(g).target_offset();
                if let (Some(by_syncs), Some(exact)) = (translate_by_syncs(&syncs, g), exact) {
                    assert!(
                        by_syncs <= exact,
                        "seed {seed}, g {g}: {by_syncs} > {exact}"
                    );
                }
            }
        }
    }
}

//! MirrorMaker 2's decision rules, as pure functions: when an offset sync is emitted, how a
//! committed offset is translated through offset syncs (Strait's fallback where its exact mapping
//! no longer covers an offset), and when a checkpoint is emitted.

/// MM2's default `offset.lag.max`.
pub const DEFAULT_OFFSET_LAG_MAX: i64 = 100;

/// One point of the source → target correspondence: the source record at `upstream` is the target
/// record at `downstream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyncPoint {
    pub upstream: i64,
    pub downstream: i64,
}

/// What [`OffsetSyncRule::on_record`] decided for one acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncDecision {
    /// Emit this sync now.
    Emit(SyncPoint),
    /// Kept as the delayed sync, emitted by the next [`OffsetSyncRule::flush`] unless superseded.
    Delay,
}

/// MM2's offset-sync emission rule for one partition (`MirrorSourceTask`/`OffsetSyncWriter`), fed
/// with every record the target acknowledged, in order. Emits immediately when it is the first
/// record, when `downstream - (last_sync.downstream + 1) >= offset.lag.max`, when the upstream
/// offset jumped (`upstream - previous upstream != 1`: compaction, transaction markers), or when
/// the downstream offset went backwards; otherwise the record becomes the delayed sync, emitted at
/// the next periodic flush.
///
/// Strait plans its syncs from offset runs instead of record by record (see
/// `plan_offset_syncs`); this type is the reference its tests compare against.
#[derive(Debug, Clone)]
pub struct OffsetSyncRule {
    lag_max: i64,
    last_sync: Option<SyncPoint>,
    previous: Option<SyncPoint>,
    delayed: Option<SyncPoint>,
}

impl OffsetSyncRule {
    pub fn new(lag_max: i64) -> Self {
        Self {
            lag_max,
            last_sync: None,
            previous: None,
            delayed: None,
        }
    }

    pub fn on_record(&mut self, upstream: i64, downstream: i64) -> SyncDecision {
        let point = SyncPoint {
            upstream,
            downstream,
        };
        let emit = match (self.last_sync, self.previous) {
            (Some(last), Some(previous)) => {
                downstream - (last.downstream + 1) >= self.lag_max
                    || upstream - previous.upstream != 1
                    || downstream < previous.downstream
            }
            _ => true,
        };
        self.previous = Some(point);
        if emit {
            self.last_sync = Some(point);
            self.delayed = None;
            SyncDecision::Emit(point)
        } else {
            self.delayed = Some(point);
            SyncDecision::Delay
        }
    }

    /// The periodic flush: the delayed sync, if any.
    pub fn flush(&mut self) -> Option<SyncPoint> {
        let delayed = self.delayed.take()?;
        self.last_sync = Some(delayed);
        Some(delayed)
    }
}

/// MM2's translation of a committed upstream offset `group_offset` through offset syncs
/// (`OffsetSyncStore.translateDownstream`): the newest sync with `upstream <= group_offset` gives
/// `downstream` when it is exactly the group's offset, else `downstream + 1`. It never
/// extrapolates further: records between syncs may not all exist downstream, and over-estimating
/// skips records on fail-over. `None` when no sync is at or below the offset.
///
/// `syncs` is ordered oldest first (the order they were emitted in).
pub fn translate_by_syncs(syncs: &[SyncPoint], group_offset: i64) -> Option<i64> {
    let sync = syncs.iter().rev().find(|s| s.upstream <= group_offset)?;
    Some(if sync.upstream == group_offset {
        sync.downstream
    } else {
        sync.downstream + 1
    })
}

/// A checkpoint as the emission rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointOffsets {
    pub upstream: i64,
    pub downstream: i64,
}

/// MM2's checkpoint emission rule for one group and partition: emit the first checkpoint; emit
/// when the group's upstream offset went backwards (the group was rewound on the source, and the
/// checkpoint follows it back); otherwise only when the downstream offset advances, so
/// checkpoints never move a consumer backwards on their own.
pub fn should_emit_checkpoint(
    previous: Option<CheckpointOffsets>,
    next: CheckpointOffsets,
) -> bool {
    match previous {
        None => true,
        Some(previous) => {
            next.upstream < previous.upstream || next.downstream > previous.downstream
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(upstream: i64, downstream: i64) -> SyncPoint {
        SyncPoint {
            upstream,
            downstream,
        }
    }

    #[test]
    fn sync_rule_first_jump_lag_and_backwards() {
        let mut rule = OffsetSyncRule::new(3);
        assert_eq!(rule.on_record(10, 0), SyncDecision::Emit(p(10, 0)), "first");
        assert_eq!(rule.on_record(11, 1), SyncDecision::Delay);
        assert_eq!(rule.on_record(12, 2), SyncDecision::Delay);
        // 3 - (0 + 1) = 2 < 3
        assert_eq!(rule.on_record(13, 3), SyncDecision::Delay);
        // 4 - 1 = 3 >= 3: lag
        assert_eq!(rule.on_record(14, 4), SyncDecision::Emit(p(14, 4)));
        assert_eq!(rule.flush(), None, "nothing delayed after an emit");
        // upstream jump (compaction)
        assert_eq!(rule.on_record(20, 5), SyncDecision::Emit(p(20, 5)));
        assert_eq!(rule.on_record(21, 6), SyncDecision::Delay);
        assert_eq!(rule.flush(), Some(p(21, 6)));
        assert_eq!(rule.flush(), None);
        // after the flush the lag counts from the flushed sync
        assert_eq!(rule.on_record(22, 7), SyncDecision::Delay);
        assert_eq!(rule.on_record(23, 8), SyncDecision::Delay);
        assert_eq!(rule.on_record(24, 9), SyncDecision::Delay);
        assert_eq!(rule.on_record(25, 10), SyncDecision::Emit(p(25, 10)));
        // replay after a fail-over: upstream goes back (a jump), downstream keeps growing
        assert_eq!(rule.on_record(22, 11), SyncDecision::Emit(p(22, 11)));
        // downstream backwards (target topic recreated)
        assert_eq!(rule.on_record(23, 0), SyncDecision::Emit(p(23, 0)));
    }

    #[test]
    fn translation_by_syncs_never_extrapolates() {
        let syncs = [p(0, 100), p(50, 150), p(60, 170)];
        assert_eq!(translate_by_syncs(&syncs, 0), Some(100));
        assert_eq!(translate_by_syncs(&syncs, 10), Some(101));
        assert_eq!(translate_by_syncs(&syncs, 50), Some(150));
        assert_eq!(translate_by_syncs(&syncs, 59), Some(151));
        assert_eq!(translate_by_syncs(&syncs, 60), Some(170));
        assert_eq!(translate_by_syncs(&syncs, 1_000), Some(171));
        assert_eq!(translate_by_syncs(&[p(5, 0)], 4), None);
        assert_eq!(translate_by_syncs(&[], 4), None);
        // the newest matching sync wins (a replay re-synced upstream 50 further downstream)
        let replay = [p(0, 0), p(60, 60), p(50, 80)];
        assert_eq!(translate_by_syncs(&replay, 55), Some(81));
    }

    #[test]
    fn checkpoints_move_forward_or_follow_a_rewind() {
        let c = |upstream, downstream| CheckpointOffsets {
            upstream,
            downstream,
        };
        assert!(should_emit_checkpoint(None, c(5, 5)));
        assert!(should_emit_checkpoint(Some(c(5, 5)), c(6, 6)), "advanced");
        assert!(!should_emit_checkpoint(Some(c(5, 5)), c(5, 5)), "unchanged");
        assert!(
            !should_emit_checkpoint(Some(c(5, 9)), c(6, 8)),
            "downstream backwards without a rewind"
        );
        assert!(should_emit_checkpoint(Some(c(5, 9)), c(3, 3)), "rewound");
    }
}

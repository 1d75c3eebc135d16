//! In-order acknowledgement tracking for one source partition.
//!
//! Records are pushed in source-offset order when they are handed to the producer; the producer's
//! delivery callback marks each one done (or failed) from librdkafka's thread. The committed position
//! only moves over a prefix of records that are all acknowledged: a source offset counts as replicated
//! when the target acknowledged it *and every offset before it*.
//!
//! Gaps in the source offsets of the records pushed are legitimate (compaction, transaction
//! markers), so the window cannot tell a missing record from a compacted one by its offset. It
//! checks instead that the partition read nothing between two batches it pushed: each push names
//! the source range its batch was read from, which must start where the last one pushed ended
//! (or where the partition started reading). A batch read and dropped breaks that chain, and
//! whatever the partition pushes after it is refused, so that the position never moves over
//! records that did not reach the target.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use strait_coordinator::{OffsetRun, Position, RunRecorder};

use crate::replication::error::PartitionError;

#[derive(Debug)]
enum SlotState {
    InFlight,
    Acked { target_offset: i64 },
    Failed,
}

#[derive(Debug)]
struct Slot {
    source_offset: i64,
    state: SlotState,
}

#[derive(Debug, Default)]
struct Inner {
    /// Records handed to the producer and not yet folded into `committed`, in source order.
    pending: VecDeque<Slot>,
    /// Records of `pending` still waiting for their delivery report.
    unresolved: usize,
    committed: Option<Position>,
    /// Whether `committed` moved since the last [`AckWindow::take_if_dirty`].
    dirty: bool,
    /// The first delivery failure (or refused push) since the last reset.
    failure: Option<PartitionError>,
    /// Where the source range of the next batch pushed must start: the end of the last one pushed,
    /// or where the partition started reading. `None`: anywhere (no position to start from).
    read_to: Option<i64>,
    /// A source offset the position jumps to once every record before it is acknowledged (the
    /// records between were skipped, see [`AckWindow::skip_to`]).
    skip_to: Option<i64>,
    acked_records: u64,
    acked_bytes: u64,
    /// Source → target runs of the committed records, for the local store ...
    runs: RunRecorder,
    /// ... and for the cluster state (taken at a different pace).
    cluster_runs: RunRecorder,
}

/// See the module docs.
#[derive(Debug)]
pub struct AckWindow {
    inner: Mutex<Inner>,
    /// Source timestamp of the last acknowledged record ([`NO_TIMESTAMP`]: none yet); kept out of
    /// the lock, it is only reported.
    last_timestamp_ms: AtomicI64,
}

const NO_TIMESTAMP: i64 = i64::MIN;

impl Default for AckWindow {
    fn default() -> Self {
        Self::new(None)
    }
}

impl AckWindow {
    /// A window that starts from a stored position (`None`: nothing replicated yet).
    pub fn new(start: Option<Position>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                committed: start,
                ..Inner::default()
            }),
            last_timestamp_ms: AtomicI64::new(NO_TIMESTAMP),
        }
    }

    /// Notes the source timestamp of a record the target just acknowledged.
    pub fn note_acked_timestamp(&self, timestamp_ms: i64) {
        self.last_timestamp_ms
            .store(timestamp_ms, Ordering::Relaxed);
    }

    /// Source timestamp of the last acknowledged record.
    pub fn last_acked_timestamp(&self) -> Option<i64> {
        let ts = self.last_timestamp_ms.load(Ordering::Relaxed);
        (ts != NO_TIMESTAMP).then_some(ts)
    }

    /// Continues the offset runs from `last` (the last stored run) when records extend it.
    pub fn continue_runs(&self, last: Option<OffsetRun>) {
        let mut inner = self.lock();
        inner.runs = RunRecorder::new(last);
        inner.cluster_runs = RunRecorder::new(last);
    }

    /// Moves the committed position to `position`, further than the one it started from (the
    /// target's committed position, exactly-once), before anything was read: nothing is in flight.
    pub fn start_from(&self, position: Position) {
        let mut inner = self.lock();
        debug_assert!(inner.pending.is_empty(), "records in flight");
        inner.committed = Some(position);
        inner.dirty = true;
    }

    /// Takes `runs` (an earlier owner's, recovered from the target) as committed here: stored
    /// and reported to the cluster before any run this window records.
    pub fn restore_runs(&self, runs: &[OffsetRun]) {
        let mut inner = self.lock();
        inner.runs.restore(runs);
        inner.cluster_runs.restore(runs);
    }

    /// The committed position if it moved, and the offset runs committed, since the last call:
    /// what the partition stores locally.
    pub fn take_dirty_with_runs(&self) -> (Option<Position>, Vec<OffsetRun>) {
        let mut inner = self.lock();
        let runs = inner.runs.take();
        let position = std::mem::take(&mut inner.dirty)
            .then_some(inner.committed)
            .flatten();
        (position, runs)
    }

    /// The offset runs committed since the last call, for the cluster state.
    pub fn take_cluster_runs(&self) -> Vec<OffsetRun> {
        self.lock().cluster_runs.take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind: keep going with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The partition (re)starts reading its source at `offset` (`None`: where `auto.offset.reset`
    /// says, no position yet): the first batch it pushes must have been read from there.
    pub fn read_from(&self, offset: Option<i64>) {
        self.lock().read_to = offset;
    }

    /// Records the source offsets of records about to be produced, in increasing order: a batch
    /// read from the source offsets `read` (from the end of the batch read before it to past its
    /// last record; records below `read.start` already taken are not in it).
    ///
    /// Refused when `read` does not start where the last batch pushed ended: the partition read
    /// a batch between the two and did not push it. Nothing is recorded, and the window fails
    /// with [`PartitionError::ReadGap`] (nothing pushed later is taken either, and the restart
    /// reads again from the committed position), so that the position does not move over the
    /// records of that batch.
    pub fn push(
        &self,
        read: Range<i64>,
        offsets: impl IntoIterator<Item = i64>,
    ) -> Result<(), PartitionError> {
        let mut inner = self.lock();
        if let Some(expected) = inner.read_to.filter(|&to| to != read.start) {
            let error = PartitionError::ReadGap {
                expected,
                read: read.start,
            };
            inner.failure.get_or_insert_with(|| error.clone());
            return Err(error);
        }
        inner.read_to = Some(read.end);
        for source_offset in offsets {
            debug_assert!(inner
                .pending
                .back()
                .is_none_or(|last| last.source_offset < source_offset));
            debug_assert!(read.contains(&source_offset));
            inner.pending.push_back(Slot {
                source_offset,
                state: SlotState::InFlight,
            });
            inner.unresolved += 1;
        }
        Ok(())
    }

    /// The target acknowledged `source_offset` at `target_offset`.
    pub fn ack(&self, source_offset: i64, target_offset: i64, bytes: usize) {
        let mut inner = self.lock();
        if inner.resolve(source_offset, SlotState::Acked { target_offset }) {
            inner.acked_records += 1;
            inner.acked_bytes += bytes as u64;
            inner.advance();
        }
    }

    /// Delivery of `source_offset` failed for good: the committed position stops before it.
    pub fn fail(&self, source_offset: i64, error: PartitionError) {
        let mut inner = self.lock();
        if inner.resolve(source_offset, SlotState::Failed) && inner.failure.is_none() {
            inner.failure = Some(error);
        }
    }

    /// The source records from the committed position up to `offset` will never be replicated
    /// (deleted from the source before they were read): once every record handed to the producer
    /// before them is acknowledged, the position moves to `offset`, so that a restart does not
    /// look for them again. Offset runs do not change (a skipped offset translates to the next
    /// replicated record).
    pub fn skip_to(&self, offset: i64) {
        let mut inner = self.lock();
        if inner.skip_to.is_none_or(|s| s < offset) {
            inner.skip_to = Some(offset);
        }
        inner.advance();
    }

    /// Records handed to the producer whose delivery report has not arrived yet.
    pub fn unresolved(&self) -> usize {
        self.lock().unresolved
    }

    /// The first failure since the last [`reset_failed`](Self::reset_failed), if any.
    pub fn failure(&self) -> Option<PartitionError> {
        self.lock().failure.clone()
    }

    /// After a failure, once every record is resolved: forget what was pending (it will be read and
    /// sent again from the committed position, see [`read_from`](Self::read_from)) and return
    /// that position.
    pub fn reset_failed(&self) -> Option<Position> {
        let mut inner = self.lock();
        debug_assert_eq!(inner.unresolved, 0, "reset while deliveries are pending");
        inner.pending.clear();
        inner.failure = None;
        inner.advance();
        inner.read_to = inner.committed.map(|c| c.next_source_offset);
        inner.committed
    }

    pub fn committed(&self) -> Option<Position> {
        self.lock().committed
    }

    /// The committed position, if it moved since the last call.
    pub fn take_if_dirty(&self) -> Option<Position> {
        let mut inner = self.lock();
        if !inner.dirty {
            return None;
        }
        inner.dirty = false;
        inner.committed
    }

    /// Records and bytes acknowledged since this window was created.
    pub fn acked_totals(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.acked_records, inner.acked_bytes)
    }
}

impl Inner {
    /// Marks a slot resolved; false if no in-flight slot has that offset (a late report after a reset).
    fn resolve(&mut self, source_offset: i64, state: SlotState) -> bool {
        // Reports come in order per partition with the idempotent producer, so the slot is almost
        // always at the front; the binary search keeps the rare other case cheap too.
        let Ok(index) = self
            .pending
            .binary_search_by_key(&source_offset, |slot| slot.source_offset)
        else {
            return false;
        };
        let slot = &mut self.pending[index];
        if !matches!(slot.state, SlotState::InFlight) {
            return false;
        }
        slot.state = state;
        self.unresolved -= 1;
        true
    }

    /// Folds the acknowledged prefix into the committed position.
    fn advance(&mut self) {
        while let Some(Slot {
            source_offset,
            state: SlotState::Acked { target_offset },
        }) = self.pending.front()
        {
            // Inclusive source offset → Kafka's exclusive "next offset to read".
            self.committed = Some(Position {
                next_source_offset: source_offset + 1,
                last_target_offset: *target_offset,
            });
            self.runs.record(*source_offset, *target_offset);
            self.cluster_runs.record(*source_offset, *target_offset);
            self.dirty = true;
            self.pending.pop_front();
        }
        let Some(skip) = self.skip_to else {
            return;
        };
        if self
            .pending
            .front()
            .is_some_and(|slot| slot.source_offset < skip)
        {
            return;
        }
        self.skip_to = None;
        if self.committed.is_none_or(|c| c.next_source_offset < skip) {
            self.committed = Some(Position {
                next_source_offset: skip,
                last_target_offset: self.committed.map_or(-1, |c| c.last_target_offset),
            });
            self.dirty = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `offsets` as one batch read from its first offset to past its last.
    fn push<const N: usize>(w: &AckWindow, offsets: [i64; N]) {
        w.push(offsets[0]..offsets[N - 1] + 1, offsets).unwrap();
    }

    fn pos(next: i64, target: i64) -> Option<Position> {
        Some(Position {
            next_source_offset: next,
            last_target_offset: target,
        })
    }

    #[test]
    fn advances_only_over_a_contiguous_acked_prefix() {
        let w = AckWindow::new(None);
        push(&w, [10, 11, 12]);
        w.ack(11, 101, 1);
        assert_eq!(w.committed(), None, "10 is not acknowledged yet");
        w.ack(10, 100, 1);
        assert_eq!(w.committed(), pos(12, 101));
        assert_eq!(w.take_if_dirty(), pos(12, 101));
        assert_eq!(w.take_if_dirty(), None);
        assert_eq!(w.unresolved(), 1);
        w.ack(12, 102, 1);
        assert_eq!(w.committed(), pos(13, 102));
        assert_eq!(w.acked_totals(), (3, 3));
    }

    #[test]
    fn committed_records_become_offset_runs() {
        let run = |source_start, target_start, len| OffsetRun {
            source_start,
            target_start,
            len,
        };
        let w = AckWindow::new(pos(10, 99));
        w.continue_runs(Some(run(0, 90, 10)));
        push(&w, [10, 11, 13, 14]);
        w.ack(11, 101, 1);
        assert_eq!(
            w.take_dirty_with_runs(),
            (None, vec![]),
            "10 not acknowledged"
        );
        w.ack(10, 100, 1);
        w.ack(13, 102, 1);
        w.ack(14, 103, 1);
        assert_eq!(
            w.take_dirty_with_runs(),
            (pos(15, 103), vec![run(0, 90, 12), run(13, 102, 2)])
        );
        assert_eq!(w.take_dirty_with_runs(), (None, vec![]));
        assert_eq!(
            w.take_cluster_runs(),
            vec![run(0, 90, 12), run(13, 102, 2)],
            "the cluster's share is taken separately"
        );
    }

    #[test]
    fn source_gaps_are_fine() {
        let w = AckWindow::new(pos(5, 4));
        push(&w, [7, 9]);
        w.ack(7, 5, 0);
        w.ack(9, 6, 0);
        assert_eq!(w.committed(), pos(10, 6));
    }

    #[test]
    fn a_failure_stops_the_position_before_it() {
        let w = AckWindow::new(None);
        push(&w, [0, 1, 2]);
        w.ack(0, 0, 0);
        let timeout = rdkafka::error::KafkaError::MessageProduction(
            rdkafka::error::RDKafkaErrorCode::MessageTimedOut,
        );
        w.fail(1, PartitionError::Delivery(timeout));
        w.ack(2, 1, 0);
        assert_eq!(w.committed(), pos(1, 0));
        assert!(matches!(w.failure(), Some(PartitionError::Delivery(_))));
        assert_eq!(w.unresolved(), 0);
        assert_eq!(w.reset_failed(), pos(1, 0));
        assert!(w.failure().is_none());
        // The replay goes through the window again from offset 1.
        push(&w, [1, 2]);
        w.ack(1, 2, 0);
        w.ack(2, 3, 0);
        assert_eq!(w.committed(), pos(3, 3));
    }

    #[test]
    fn a_skip_moves_the_position_once_the_records_before_it_are_acknowledged() {
        let w = AckWindow::new(pos(5, 4));
        push(&w, [5, 6]);
        w.skip_to(100);
        assert_eq!(w.committed(), pos(5, 4), "5 and 6 are in flight");
        w.ack(5, 5, 0);
        assert_eq!(w.committed(), pos(6, 5));
        w.ack(6, 6, 0);
        assert_eq!(w.committed(), pos(100, 6), "the skip applies after them");
        // Records after the skip continue from there (read from there: see `resume_out_of_range`).
        w.read_from(Some(100));
        push(&w, [100]);
        w.ack(100, 7, 0);
        assert_eq!(w.committed(), pos(101, 7));
        assert_eq!(
            w.take_dirty_with_runs().1,
            vec![
                OffsetRun {
                    source_start: 5,
                    target_start: 5,
                    len: 2
                },
                OffsetRun {
                    source_start: 100,
                    target_start: 7,
                    len: 1
                }
            ]
        );

        let fresh = AckWindow::new(None);
        fresh.skip_to(40);
        assert_eq!(fresh.committed(), pos(40, -1), "nothing was written yet");
        fresh.skip_to(30);
        assert_eq!(fresh.committed(), pos(40, -1), "never backwards");
    }

    #[test]
    fn late_or_unknown_reports_are_ignored() {
        let w = AckWindow::new(None);
        push(&w, [0]);
        w.ack(0, 0, 0);
        w.ack(0, 0, 0);
        w.ack(42, 0, 0);
        assert_eq!(w.acked_totals(), (1, 0));
        assert_eq!(w.committed(), pos(1, 0));
    }

    #[test]
    fn a_batch_read_and_not_pushed_stops_the_position_before_it() {
        let w = AckWindow::new(pos(50, 49));
        w.read_from(Some(50));
        // 50..100 was read and dropped; the batch read after it is refused, whatever its offsets
        // (a gap in them may be compaction: the window does not look at them).
        let refused = w.push(100..150, 100..150);
        assert!(
            matches!(
                refused,
                Err(PartitionError::ReadGap {
                    expected: 50,
                    read: 100
                })
            ),
            "{refused:?}"
        );
        assert_eq!(w.unresolved(), 0, "nothing of it was taken");
        assert_eq!(w.committed(), pos(50, 49));
        assert!(
            matches!(w.failure(), Some(PartitionError::ReadGap { .. })),
            "the partition fails, and reads again from its position"
        );
        assert_eq!(
            w.failure().unwrap().to_string(),
            "source offsets 50..100 were read but never handed to the producer: nothing after \
             them is sent (reading again from the acknowledged position)"
        );
        assert_eq!(w.reset_failed(), pos(50, 49));
        w.push(50..100, 50..100).unwrap();
        for offset in 50..100 {
            w.ack(offset, offset, 0);
        }
        assert_eq!(w.committed(), pos(100, 99));

        // Batches read back to back are taken, gaps in their offsets included.
        let fresh = AckWindow::new(None);
        fresh.read_from(None);
        fresh.push(0..10, [3, 9]).unwrap();
        fresh.push(10..20, [15]).unwrap();
        fresh.ack(3, 0, 0);
        fresh.ack(9, 1, 0);
        fresh.ack(15, 2, 0);
        assert_eq!(fresh.committed(), pos(16, 2));
    }
}

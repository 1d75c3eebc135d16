//! In-memory fakes of what a partition actor runs against ([`Fake`]): a source that holds
//! partitions' records and fails fetches on demand ([`FakeSource`]), a target that records what
//! it was sent, acknowledges it, holds the acknowledgements back, or fails deliveries
//! ([`FakeSink`]), and a fence that a test opens and closes ([`FakeFence`]). The partition
//! actor's unit tests run on them, without brokers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use futures::StreamExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::Offset;
use strait_coordinator::{FlowId, OffsetRun, Position, TopicPartition};
use tokio::sync::Notify;

use crate::replication::budget::InFlightBudget;
use crate::replication::error::PartitionError;
use crate::replication::partition::{Backend, Fencing};
use crate::replication::producer::{Delivery, DeliveryTarget, TargetPosition, TargetSink};
use crate::replication::source::{
    BatchStream, PartitionSource, SourceBatch, Watermarks, MAX_BATCH_RECORDS,
};

/// The partition actor on fakes.
pub struct Fake;

impl Backend for Fake {
    type Source = FakeSource;
    type Sink = FakeSink;
    type Fence = FakeFence;
}

/// One record, as a source holds it and as a target received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In order, duplicates and null values kept.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Record {
    /// A record with a key, a value, a header and a timestamp derived from `offset`; every
    /// seventh one has a null value, every fifth no key.
    pub fn numbered(offset: i64) -> Self {
        Self {
            offset,
            timestamp_ms: Some(1_700_000_000_000 + offset),
            key: (offset % 5 != 0).then(|| format!("k{offset}").into_bytes()),
            value: (offset % 7 != 0).then(|| format!("value {offset}").into_bytes()),
            headers: vec![
                ("h".to_owned(), Some(offset.to_string().into_bytes())),
                ("h".to_owned(), None),
            ],
        }
    }

    fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        self.key.as_ref().map_or(0, Vec::len) + self.value.as_ref().map_or(0, Vec::len) + headers
    }
}

/// What a partition actor asked of the source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceCall {
    Split,
    Assign(Offset),
    Unassign,
}

#[derive(Default)]
struct Log {
    /// In offset order, gaps allowed (compaction, transaction markers).
    records: Vec<Record>,
    /// Offsets below it were deleted (retention, DeleteRecords).
    log_start: i64,
    /// Where the assigned partition fetches next; `None`: not assigned, or stopped after an
    /// out-of-range fetch (librdkafka with `auto.offset.reset = error`).
    fetching: Option<i64>,
    /// Errors the next fetches return, one each.
    errors: VecDeque<KafkaError>,
    /// The current split queue: batches go to the stream of the last split only.
    split: u64,
}

impl Log {
    fn end(&self) -> i64 {
        self.records.last().map_or(self.log_start, |r| r.offset + 1)
    }
}

#[derive(Default)]
struct SourceState {
    logs: BTreeMap<TopicPartition, Log>,
    calls: Vec<(TopicPartition, SourceCall)>,
    /// Records handed out in batches, per partition: what was read (again, after a restart).
    read: BTreeMap<TopicPartition, u64>,
}

/// A source cluster's partitions in memory, read as a librdkafka consumer with `assign()` and a
/// split queue per partition reads them.
#[derive(Default)]
pub struct FakeSource {
    state: Mutex<SourceState>,
    changed: Notify,
}

impl FakeSource {
    fn lock(&self) -> MutexGuard<'_, SourceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `tp` (empty) if it does not exist yet.
    pub fn add_partition(&self, tp: &TopicPartition) {
        self.lock().logs.entry(tp.clone()).or_default();
    }

    /// Appends records to `tp` (created if needed); their offsets must grow.
    pub fn append(&self, tp: &TopicPartition, records: impl IntoIterator<Item = Record>) {
        {
            let mut state = self.lock();
            let log = state.logs.entry(tp.clone()).or_default();
            for record in records {
                assert!(record.offset >= log.end(), "offsets must grow");
                log.records.push(record);
            }
        }
        self.changed.notify_waiters();
    }

    /// Deletes `tp`'s records below `offset` (retention, DeleteRecords).
    pub fn delete_before(&self, tp: &TopicPartition, offset: i64) {
        {
            let mut state = self.lock();
            let log = state.logs.entry(tp.clone()).or_default();
            log.records.retain(|r| r.offset >= offset);
            log.log_start = log.log_start.max(offset);
        }
        self.changed.notify_waiters();
    }

    /// The next fetch of `tp` returns `error` (after the records before it in that batch).
    pub fn fail_next_fetch(&self, tp: &TopicPartition, error: KafkaError) {
        self.lock()
            .logs
            .entry(tp.clone())
            .or_default()
            .errors
            .push_back(error);
        self.changed.notify_waiters();
    }

    /// What the actors asked of `tp`, in order.
    pub fn calls(&self, tp: &TopicPartition) -> Vec<SourceCall> {
        self.lock()
            .calls
            .iter()
            .filter(|(t, _)| t == tp)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Records of `tp` handed out in batches so far (a record read again counts again).
    pub fn read(&self, tp: &TopicPartition) -> u64 {
        self.lock().read.get(tp).copied().unwrap_or(0)
    }

    /// The next batch of the stream of `split`, if there is one to give now.
    fn next_batch(
        &self,
        tp: &TopicPartition,
        split: u64,
        budget: &InFlightBudget,
    ) -> Option<SourceBatch> {
        let mut state = self.lock();
        let log = state.logs.get_mut(tp)?;
        if log.split != split {
            return None;
        }
        let at = log.fetching?;
        let mut batch = SourceBatch::default();
        if at < log.log_start || at > log.end() {
            log.fetching = None;
            batch.error = Some(KafkaError::MessageConsumption(
                RDKafkaErrorCode::AutoOffsetReset,
            ));
            return Some(batch);
        }
        let max = budget.max();
        let mut bytes = 0u64;
        let mut next = at;
        for record in log.records.iter().filter(|r| r.offset >= at) {
            let size = record.size();
            let charge = budget.charge(size);
            if batch.records.len() >= MAX_BATCH_RECORDS
                || batch.records.len() as u64 + 1 > u64::from(max.records)
                || bytes + u64::from(charge) > u64::from(max.bytes)
            {
                break;
            }
            let headers = (!record.headers.is_empty()).then(|| {
                record
                    .headers
                    .iter()
                    .fold(OwnedHeaders::new(), |headers, (key, value)| {
                        headers.insert(Header {
                            key,
                            value: value.as_deref(),
                        })
                    })
            });
            batch.push_parts(
                record.offset,
                record.timestamp_ms,
                record.key.as_deref(),
                record.value.as_deref(),
                headers,
                size,
                charge,
            );
            bytes += u64::from(charge);
            next = record.offset + 1;
        }
        log.fetching = Some(next);
        // An error comes after what was read before it; a full batch leaves it for the next.
        if batch.records.len() < MAX_BATCH_RECORDS {
            batch.error = log.errors.pop_front();
        }
        if batch.records.is_empty() && batch.error.is_none() {
            return None;
        }
        *state.read.entry(tp.clone()).or_default() += batch.records.len() as u64;
        Some(batch)
    }
}

impl PartitionSource for FakeSource {
    fn split(
        self: &Arc<Self>,
        tp: &TopicPartition,
        budget: Arc<InFlightBudget>,
    ) -> Option<BatchStream> {
        let split = {
            let mut state = self.lock();
            state.calls.push((tp.clone(), SourceCall::Split));
            let log = state.logs.get_mut(tp)?;
            log.split += 1;
            log.split
        };
        let (source, tp) = (self.clone(), tp.clone());
        let batches = futures::stream::unfold((), move |()| {
            let (source, tp, budget) = (source.clone(), tp.clone(), budget.clone());
            async move {
                loop {
                    // Registered before looking: a change after the look wakes it.
                    let changed = source.changed.notified();
                    if let Some(batch) = source.next_batch(&tp, split, &budget) {
                        return Some((batch, ()));
                    }
                    changed.await;
                }
            }
        });
        Some(batches.boxed_local())
    }

    fn assign(&self, tp: &TopicPartition, offset: Offset) -> Result<(), KafkaError> {
        {
            let mut state = self.lock();
            state.calls.push((tp.clone(), SourceCall::Assign(offset)));
            let log = state.logs.entry(tp.clone()).or_default();
            log.fetching = Some(match offset {
                Offset::Beginning => log.log_start,
                Offset::End => log.end(),
                Offset::Offset(offset) => offset,
                other => panic!("the fake source does not assign at {other:?}"),
            });
        }
        self.changed.notify_waiters();
        Ok(())
    }

    fn unassign(&self, tp: &TopicPartition) -> Result<(), KafkaError> {
        let mut state = self.lock();
        state.calls.push((tp.clone(), SourceCall::Unassign));
        if let Some(log) = state.logs.get_mut(tp) {
            log.fetching = None;
        }
        Ok(())
    }

    fn watermarks(&self, tp: &TopicPartition) -> Watermarks {
        let state = self.lock();
        let log = state.logs.get(tp).ok_or(KafkaError::MetadataFetch(
            RDKafkaErrorCode::UnknownPartition,
        ))?;
        Ok((log.log_start, log.end()))
    }
}

/// A record the target acknowledged, where it landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub topic: String,
    pub partition: i32,
    pub target_offset: i64,
    pub record: Record,
}

/// A record handed to the sink whose acknowledgement is held back.
struct Held {
    delivery: Delivery,
    topic: String,
    partition: i32,
    record: Record,
}

#[derive(Default)]
struct SinkState {
    /// The target's partitions: what landed, in target offset order.
    logs: BTreeMap<(String, i32), Vec<Landed>>,
    /// Records handed over and not acknowledged yet (while acknowledgements are held).
    held: VecDeque<Held>,
    holding: bool,
    /// Records that fail the next times they are handed over, by target partition and source
    /// offset: how many more times, and how.
    fail: BTreeMap<(i32, i64), (usize, KafkaError)>,
    /// Records handed over, delivered or not.
    handed: u64,
    /// What the target says of a partition's position (an exactly-once target keeps one): by
    /// target topic and partition, `Err` for a lookup that fails the next times it is asked.
    committed: BTreeMap<(String, i32), Result<TargetPosition, (usize, String)>>,
    /// Partitions the actors said they are done with ([`TargetSink::forget`]).
    forgotten: Vec<(String, i32)>,
}

/// A target cluster in memory, written as the flow's idempotent producer writes: in order per
/// partition, nothing after a failed record.
#[derive(Clone, Default)]
pub struct FakeSink {
    state: Arc<Mutex<SinkState>>,
}

impl FakeSink {
    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds acknowledgements back (a slow or unreachable target) until [`release`](Self::release).
    pub fn hold(&self) {
        self.lock().holding = true;
    }

    /// Acknowledges the `count` oldest records held back (all with `usize::MAX`); acknowledges as
    /// they come from then on if `resume`.
    pub fn release(&self, count: usize, resume: bool) {
        let mut state = self.lock();
        state.holding = !resume;
        let count = count.min(state.held.len());
        let released: Vec<Held> = state.held.drain(..count).collect();
        for held in released {
            Self::land(&mut state, held);
        }
    }

    /// The record of source offset `offset` for target partition `partition` fails the next
    /// `times` times it is handed over (0: never again), with `error` as its delivery report's
    /// error, and every later record of its batch with it (librdkafka's gapless guarantee).
    pub fn fail_at(&self, partition: i32, offset: i64, times: usize, error: KafkaError) {
        let mut state = self.lock();
        if times == 0 {
            state.fail.remove(&(partition, offset));
        } else {
            state.fail.insert((partition, offset), (times, error));
        }
    }

    /// The target keeps `position` for `topic`/`partition` (as an exactly-once target keeps the
    /// position committed with the records).
    pub fn commit_position(&self, topic: &str, partition: i32, position: Position) {
        self.commit_position_with_runs(topic, partition, position, Vec::new());
    }

    /// The same, with the offset runs of the last transactions.
    pub fn commit_position_with_runs(
        &self,
        topic: &str,
        partition: i32,
        position: Position,
        runs: Vec<OffsetRun>,
    ) {
        self.lock().committed.insert(
            (topic.to_owned(), partition),
            Ok(TargetPosition { position, runs }),
        );
    }

    /// The next `times` lookups of `topic`/`partition`'s position fail with `reason`.
    pub fn fail_position_lookup(&self, topic: &str, partition: i32, times: usize, reason: &str) {
        self.lock().committed.insert(
            (topic.to_owned(), partition),
            Err((times, reason.to_owned())),
        );
    }

    /// The partitions the actors said they are done with, in order.
    pub fn forgotten(&self) -> Vec<(String, i32)> {
        self.lock().forgotten.clone()
    }

    /// Records waiting for their acknowledgement.
    pub fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// Records handed over so far, delivered or not.
    pub fn handed(&self) -> u64 {
        self.lock().handed
    }

    /// What landed in `topic`'s `partition`, in order.
    pub fn landed(&self, topic: &str, partition: i32) -> Vec<Landed> {
        self.lock()
            .logs
            .get(&(topic.to_owned(), partition))
            .cloned()
            .unwrap_or_default()
    }

    fn land(state: &mut SinkState, held: Held) {
        let log = state
            .logs
            .entry((held.topic.clone(), held.partition))
            .or_default();
        let target_offset = log.len() as i64;
        log.push(Landed {
            topic: held.topic,
            partition: held.partition,
            target_offset,
            record: held.record,
        });
        held.delivery.acked(target_offset);
    }
}

impl TargetSink for FakeSink {
    fn target_position(
        &self,
        topic: &str,
        partition: i32,
    ) -> futures::future::BoxFuture<'static, Result<Option<TargetPosition>, PartitionError>> {
        let mut state = self.lock();
        let key = (topic.to_owned(), partition);
        let answer = match state.committed.remove(&key) {
            None => Ok(None),
            Some(Ok(position)) => {
                state.committed.insert(key, Ok(position.clone()));
                Ok(Some(position))
            }
            Some(Err((times, reason))) => {
                if times > 1 {
                    state
                        .committed
                        .insert(key, Err((times - 1, reason.clone())));
                }
                Err(PartitionError::Transaction(reason))
            }
        };
        Box::pin(futures::future::ready(answer))
    }

    fn forget(&self, topic: &str, partition: i32) {
        self.lock().forgotten.push((topic.to_owned(), partition));
    }

    fn produce(
        &self,
        topic: &str,
        partition: i32,
        batch: SourceBatch,
        read_at: SystemTime,
        target: &Arc<DeliveryTarget>,
    ) {
        let mut state = self.lock();
        let mut failing: Option<KafkaError> = None;
        for record in &batch.records {
            state.handed += 1;
            if let Some(error) = &failing {
                // Gapless: nothing after the failed record goes through.
                Delivery::new(target, record, read_at)
                    .failed(PartitionError::Delivery(error.clone()));
                continue;
            }
            let key = (partition, record.offset);
            if let Some((times, error)) = state.fail.remove(&key) {
                Delivery::new(target, record, read_at)
                    .failed(PartitionError::Delivery(error.clone()));
                if times > 1 {
                    state.fail.insert(key, (times - 1, error.clone()));
                }
                failing = Some(error);
                continue;
            }
            let held = Held {
                delivery: Delivery::new(target, record, read_at),
                topic: topic.to_owned(),
                partition,
                record: Record {
                    offset: record.offset,
                    timestamp_ms: record.timestamp_ms,
                    key: record.key(&batch.data).map(<[u8]>::to_vec),
                    value: record.value(&batch.data).map(<[u8]>::to_vec),
                    headers: record.headers.as_ref().map_or_else(Vec::new, |headers| {
                        headers
                            .iter()
                            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    }),
                },
            };
            if state.holding {
                state.held.push_back(held);
            } else {
                Self::land(&mut state, held);
            }
        }
    }
}

/// The cluster's fence, opened and closed by the test (open at first).
#[derive(Clone)]
pub struct FakeFence {
    open: Arc<AtomicBool>,
    /// Checks still to deny before the fence answers as `open` says again.
    denials: Arc<AtomicU64>,
}

impl Default for FakeFence {
    fn default() -> Self {
        Self {
            open: Arc::new(AtomicBool::new(true)),
            denials: Arc::default(),
        }
    }
}

impl FakeFence {
    /// Whether this node may write (its lease and ownership as the cluster sees them).
    pub fn set(&self, allows: bool) {
        self.open.store(allows, Ordering::Relaxed);
    }

    /// Denies the next `checks` checks, then answers as before: a lease that lapses and comes
    /// back between two checks of the same actor (a node resumed after a pause, whose actor
    /// thread was descheduled while its Raft thread got in touch with the cluster again).
    pub fn deny_next(&self, checks: u64) {
        self.denials.store(checks, Ordering::Relaxed);
    }

    /// Checks denied so far by [`deny_next`](Self::deny_next) still to come.
    pub fn denials_left(&self) -> u64 {
        self.denials.load(Ordering::Relaxed)
    }
}

impl Fencing for FakeFence {
    fn allows(&self, _flow: &FlowId, _tp: &TopicPartition, _epoch: u64) -> bool {
        let denied = self
            .denials
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        !denied && self.open.load(Ordering::Relaxed)
    }
}

//! The partition actor: replicates one source partition to the same partition of its remote topic.
//!
//! It reads its own queue in batches, split off the flow's shared consumer (one librdkafka client per
//! flow, not per partition), waits for room in the flow's in-flight budget, hands each batch to the
//! flow's producer, and every `position_flush_interval` stores the position acknowledged so far. It runs under an actix
//! `Supervisor`: on a failure it stops, and the supervisor restarts the same instance, which waits out
//! an exponential backoff (1 s doubling to 60 s), lets every in-flight record resolve, and resumes
//! from the last acknowledged position: no gap, and only the unacknowledged tail is sent again.
//!
//! What it reads from, writes to and asks before writing is its [`Backend`]: the flow's librdkafka
//! consumer and producer and the cluster's fence ([`Live`]), or in-memory fakes in its unit tests
//! (`replication::testing`).

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Offset;
use strait_coordinator::{FlowId, TopicPartition};
use strait_coordinator::{OffsetRun, PartitionKey, Position};
use strait_storage::PositionStore;

use crate::kafka::{ErrorClass, OffsetReset};
use crate::metrics::{authorization_error, fetch_error};
use crate::replication::ack::AckWindow;
use crate::replication::budget::{InFlightBudget, Lease};
use crate::replication::error::{is_topic_authorization, PartitionError, PartitionFault};
use crate::replication::producer::{DeliveryTarget, TargetPosition, TargetProducer, TargetSink};
pub use crate::replication::source::SourceConsumer;
use crate::replication::source::{PartitionSource, SourceBatch, Watermarks};
use crate::replication::status::{NodeStatus, PartitionState, PartitionStatus};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A partition that ran this long without failing gets its backoff reset.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// How often a retiring partition looks whether its last in-flight record is resolved: its next
/// owner waits for that (the release), so not only at the next position flush.
const RETIRE_CHECK: Duration = Duration::from_millis(10);

/// What a partition actor reads from, writes to, and asks before it writes.
pub trait Backend: 'static {
    type Source: PartitionSource;
    // An actor is `Unpin`: so is what it holds.
    type Sink: TargetSink + Unpin;
    type Fence: Fencing + Unpin;
}

/// The flow's source consumer and producer, and the cluster's fence.
pub struct Live;

impl Backend for Live {
    type Source = SourceConsumer;
    type Sink = TargetProducer;
    type Fence = Fence;
}

/// Everything a partition actor needs; the flow actor builds it.
pub struct PartitionSpec<B: Backend = Live> {
    pub flow: FlowId,
    pub tp: TopicPartition,
    pub remote_topic: Arc<str>,
    pub consumer: Arc<B::Source>,
    pub producer: B::Sink,
    pub budget: Arc<InFlightBudget>,
    pub positions: PositionStore,
    pub status: NodeStatus,
    pub flush_interval: Duration,
    /// The ownership epoch this actor runs under (from the cluster's assignment).
    pub epoch: u64,
    /// Which actor of the partition this is (handed out by the flow's ownership core), carried
    /// back in [`Retired`] so that a message of an earlier actor is never taken for this one's.
    pub generation: u64,
    /// The position the cluster state holds for this partition (replicated by its previous owner,
    /// or by this node before a restart).
    pub replicated: Option<Position>,
    /// Told when this actor has retired (after [`Retire`]).
    pub retired: Recipient<Retired>,
    /// Whether this node may still write the partition under `epoch`.
    pub fence: B::Fence,
    /// Where to resume when the position is no longer in the source's log (`auto.offset.reset`).
    pub offset_reset: OffsetReset,
    /// The principal the source consumer authenticates as (`User:<sasl.username>`), for messages;
    /// `None` without SASL user name.
    pub source_principal: Option<Arc<str>>,
}

/// The check a partition actor makes before every batch it hands to the producer. The flow actor
/// retires partitions that fail it within 100 ms; this check closes that window (e.g. a process
/// resumed after a long pause).
pub trait Fencing: 'static {
    /// Whether this node may still write `tp` of `flow` under `epoch`.
    fn allows(&self, flow: &FlowId, tp: &TopicPartition, epoch: u64) -> bool;
}

/// The cluster's fence: this node's state was confirmed current by the cluster within the
/// liveness timeout, and the partition is still this node's under the same epoch.
#[derive(Clone)]
pub struct Fence {
    pub raft: strait_coordinator::raft::RaftHandle,
    pub node: strait_coordinator::NodeId,
    pub lease: Duration,
}

impl Fencing for Fence {
    fn allows(&self, flow: &FlowId, tp: &TopicPartition, epoch: u64) -> bool {
        if !self.raft.status().has_quorum_contact(self.lease) {
            return false;
        }
        let key = strait_coordinator::state::PartitionKey {
            flow: flow.clone(),
            tp: tp.clone(),
        };
        let state = self.raft.state();
        state.partition(&key).is_some_and(|info| {
            info.releasing.is_none()
                && info.owner
                    == Some(strait_coordinator::Owner {
                        node: self.node,
                        epoch,
                    })
        })
    }
}

/// Stop reading, let every in-flight record resolve, store the position, and stop for good: the
/// partition moved to another node (or this node lost contact with the cluster).
pub struct Retire;
impl actix::Message for Retire {
    type Result = ();
}

/// Sent to the flow actor once a retired partition actor is gone.
pub struct Retired {
    pub tp: TopicPartition,
    pub epoch: u64,
    /// The retired actor's [`PartitionSpec::generation`].
    pub generation: u64,
    /// The position acknowledged when it stopped.
    pub position: Option<Position>,
    /// The offset runs acknowledged since the flow last took them for the cluster.
    pub runs: Vec<strait_coordinator::OffsetRun>,
}
impl actix::Message for Retired {
    type Result = ();
}

pub struct PartitionActor<B: Backend = Live> {
    spec: PartitionSpec<B>,
    key: PartitionKey,
    ack: Arc<AckWindow>,
    /// What this partition's delivery reports update (its window, the budget, the counters).
    delivery: Arc<DeliveryTarget>,
    /// Records below this offset were already read: anything older still in the queue after a
    /// restart is dropped rather than sent twice. Where the source range of the next batch read
    /// starts (see [`AckWindow::push`]): it moves over every batch read, handed over or not.
    next_expected: i64,
    /// The batch stream of the current read. `None` once it is stopped: whatever a stopped stream
    /// still yields (actix polls a cancelled stream until it has nothing ready) is dropped, and
    /// so is everything after it until the next [`begin`](Self::begin) reads again from the
    /// acknowledged position.
    stream: Option<SpawnHandle>,
    assigned: bool,
    state: PartitionState,
    last_error: Option<PartitionFault>,
    restarts: u32,
    backoff: Duration,
    /// The first backoff after a retriable error, and the longest one (at once after a fatal
    /// error): [`FIRST_BACKOFF`] and [`MAX_BACKOFF`] (shorter in unit tests).
    backoff_limits: (Duration, Duration),
    running_since: Instant,
    retiring: bool,
    /// It retired and said so ([`Retired`]). Its supervisor restarts a stopped actor while an
    /// address of it is still held (the flow drops its own when it handles `Retired`): such a
    /// restart stays idle until then, and says nothing twice (a second `Retired` could be taken
    /// for the retirement of a new actor of the same partition), touching no assignment,
    /// position or status (a message it handled would report the partition again, after its
    /// retirement removed it).
    retired: bool,
    /// The last range of source offsets passed over because the source no longer held them (or
    /// `auto.offset.reset = latest` passed over them); counted in the node's status.
    last_skip: Option<(i64, i64)>,
    /// `partition{flow, topic, partition, epoch}`: entered by every handler, so whatever is
    /// logged while handling (storage, fencing, errors) carries the partition.
    span: tracing::Span,
}

/// Stop reading (for a clean shutdown); in-flight records still complete.
pub struct StopReading;
impl actix::Message for StopReading {
    type Result = ();
}

/// Store the acknowledged position now.
pub struct PersistNow;
impl actix::Message for PersistNow {
    type Result = ();
}

impl<B: Backend> PartitionActor<B> {
    /// Starts from the furthest of the locally stored and the cluster's replicated position: both
    /// are positions the target acknowledged, so the furthest replays the least. Fails only if the
    /// store does.
    pub fn new(spec: PartitionSpec<B>) -> Result<Self, strait_storage::StorageError> {
        let key = PartitionKey {
            flow: spec.flow.clone(),
            tp: spec.tp.clone(),
        };
        let local = spec.positions.get(&key)?;
        let start = [local, spec.replicated]
            .into_iter()
            .flatten()
            .max_by_key(|p| p.next_source_offset);
        let ack = Arc::new(AckWindow::new(start));
        ack.continue_runs(spec.positions.offset_map().last(&key)?);
        let delivery = Arc::new(DeliveryTarget::new(
            &spec.flow.to_string(),
            &spec.remote_topic,
            ack.clone(),
            spec.budget.clone(),
        ));
        Ok(Self {
            key,
            ack,
            delivery,
            next_expected: 0,
            stream: None,
            assigned: false,
            state: PartitionState::Running,
            last_error: None,
            restarts: 0,
            backoff: Duration::ZERO,
            backoff_limits: (FIRST_BACKOFF, MAX_BACKOFF),
            running_since: Instant::now(),
            retiring: false,
            retired: false,
            last_skip: None,
            span: tracing::info_span!("partition", flow = %spec.flow, topic = %spec.tp.topic,
                partition = spec.tp.partition, epoch = spec.epoch),
            spec,
        })
    }

    /// Starts reading from the acknowledged position once every in-flight record of a previous
    /// read is resolved and the fence allows writing.
    fn begin(&mut self, ctx: &mut Context<Self>) {
        if matches!(self.state, PartitionState::Draining) || self.retiring || self.stream.is_some()
        {
            return;
        }
        if self.ack.unresolved() > 0 {
            ctx.run_later(Duration::from_millis(20), Self::begin);
            return;
        }
        if !self.allowed() {
            // Read nothing while fenced: the flow retires this actor, or the lease comes back.
            ctx.run_later(self.backoff_limits.0, Self::begin);
            return;
        }
        let position = if self.ack.failure().is_some() {
            self.ack.reset_failed()
        } else {
            self.ack.committed()
        };
        self.ack.read_from(position.map(|p| p.next_source_offset));
        // Nothing replicated yet: where `auto.offset.reset` says (MirrorMaker 2 does the same for a
        // partition without a committed offset).
        let fresh = match self.spec.offset_reset {
            OffsetReset::Latest => Offset::End,
            OffsetReset::Earliest | OffsetReset::Error => Offset::Beginning,
        };
        let offset = position.map_or(fresh, |p| Offset::Offset(p.next_source_offset));
        self.next_expected = position.map_or(0, |p| p.next_source_offset);
        // Split the queue *before* assigning: librdkafka then never forwards this partition's
        // records to the shared main queue (an app-set forward survives the fetch start), so no
        // record can slip past this actor between the two calls.
        let Some(batches) = self
            .spec
            .consumer
            .split(&self.spec.tp, self.spec.budget.clone())
        else {
            self.fail(ctx, PartitionError::NoQueue);
            return;
        };
        if let Err(error) = self.assign(offset) {
            self.fail(ctx, error);
            return;
        }
        self.stream = Some(ctx.add_stream(batches));
        self.state = PartitionState::Running;
        self.running_since = Instant::now();
        tracing::info!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
            partition = self.spec.tp.partition, ?offset, epoch = self.spec.epoch,
            replicated = ?self.spec.replicated, "partition started");
        self.spec
            .status
            .watch_acks(&self.spec.flow, &self.spec.tp, &self.ack);
        self.publish();
    }

    /// Asks the producer where the target says the partition stands (exactly-once: the position
    /// committed with the last transaction that carried it), adopts it if it is further than the
    /// stored ones, then begins. A lookup that fails fails the partition (retried after the
    /// backoff).
    fn resume(&mut self, ctx: &mut Context<Self>) {
        let lookup = self
            .spec
            .producer
            .target_position(&self.spec.remote_topic, self.spec.tp.partition);
        ctx.spawn(lookup.into_actor(self).map(|found, actor, ctx| {
            let _span = actor.span.clone().entered();
            match found {
                Ok(found) => {
                    actor.adopt(found);
                    actor.begin(ctx);
                }
                Err(error) => actor.fail(ctx, error),
            }
        }));
    }

    /// Starts from `found` (the target's committed position) if it is further than the
    /// acknowledged one, taking the offset runs that came with it (the cluster state may lack
    /// them: the previous owner crashed before it proposed them). Only before anything was read.
    fn adopt(&mut self, found: Option<TargetPosition>) {
        let Some(TargetPosition {
            position: found,
            runs,
        }) = found
        else {
            return;
        };
        // The runs the cluster state may lack: those past the position it holds. They go to the
        // cluster (and the local store) before any this actor records, whichever position it
        // resumes from (a node restarted at once resumes from its own stored position, which its
        // crash kept from the cluster too).
        let replicated_end = self
            .spec
            .replicated
            .map_or(i64::MIN, |p| p.next_source_offset);
        let missing: Vec<OffsetRun> = runs
            .into_iter()
            .filter(|run| run.source_end() > replicated_end)
            .collect();
        let current = self.ack.committed();
        if current.is_some_and(|c| c.next_source_offset >= found.next_source_offset) {
            self.ack.restore_runs(&missing);
            return;
        }
        tracing::info!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
            partition = self.spec.tp.partition, next_source_offset = found.next_source_offset,
            stored = ?current.map(|c| c.next_source_offset), recovered_runs = missing.len(),
            "resuming from the position committed on the target with the last transaction");
        // The same window (the flow reads positions and runs from it): moved, not replaced.
        self.ack.start_from(found);
        self.ack.restore_runs(&missing);
    }

    /// Whether this node may still write the partition under its epoch.
    fn allowed(&self) -> bool {
        self.spec
            .fence
            .allows(&self.spec.flow, &self.spec.tp, self.spec.epoch)
    }

    /// Stops the current read, if any: nothing read after this point is handed over.
    fn stop_reading(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.stream.take() {
            ctx.cancel_future(handle);
        }
    }

    /// The fence refused a batch (the partition moved, or this node has no lease): it is dropped,
    /// and the read stops there, since nothing read after it may reach the target before it.
    /// The flow retires this actor; if the lease comes back first (a pause shorter than the
    /// flow noticed), the partition reads again from its acknowledged position.
    fn fenced(&mut self, ctx: &mut Context<Self>) {
        self.stop_reading(ctx);
        tracing::info!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
            partition = self.spec.tp.partition, epoch = self.spec.epoch,
            "fenced: stopped writing");
        ctx.run_later(self.backoff_limits.0, Self::begin);
    }

    /// Hands a batch that got its room in the budget to the producer: unless a record of the
    /// partition failed or the fence closed while it waited (then it is dropped, and nothing after
    /// it goes either), or its acknowledgement window refuses it (a batch read before it was
    /// dropped: the partition fails and reads again from its position). Whether it was handed over.
    fn hand_over(
        &mut self,
        batch: SourceBatch,
        read: Range<i64>,
        lease: Lease,
        read_at: SystemTime,
        ctx: &mut Context<Self>,
    ) -> bool {
        // A delivery may have failed while this batch waited for room (the restart after the
        // backoff reads the batch again, and meets an out-of-range position again).
        if self.ack.failure().is_some() {
            self.spec.budget.release(lease.records, lease.bytes);
            return false;
        }
        if !self.allowed() {
            self.spec.budget.release(lease.records, lease.bytes);
            self.fenced(ctx);
            return false;
        }
        if let Err(error) = self.ack.push(read, batch.records.iter().map(|r| r.offset)) {
            self.spec.budget.release(lease.records, lease.bytes);
            tracing::error!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                partition = self.spec.tp.partition, %error,
                "refusing to hand over records read after records that were dropped (a bug, \
                 caught before any record was lost)");
            self.stop_reading(ctx);
            self.fail(ctx, error);
            return false;
        }
        self.spec.producer.produce(
            &self.spec.remote_topic,
            self.spec.tp.partition,
            batch,
            read_at,
            &self.delivery,
        );
        true
    }

    fn assign(&mut self, offset: Offset) -> Result<(), PartitionError> {
        self.unassign();
        self.spec
            .consumer
            .assign(&self.spec.tp, offset)
            .map_err(PartitionError::Assign)?;
        self.assigned = true;
        Ok(())
    }

    fn unassign(&mut self) {
        if !std::mem::take(&mut self.assigned) {
            return;
        }
        if let Err(error) = self.spec.consumer.unassign(&self.spec.tp) {
            tracing::warn!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                partition = self.spec.tp.partition, %error, "cannot unassign the source partition");
        }
    }

    /// Records the failure and stops; the supervisor restarts this actor after the backoff:
    /// exponential for retriable errors, the longest one at once for fatal ones (retrying sooner
    /// cannot help until someone fixes something).
    fn fail(&mut self, ctx: &mut Context<Self>, error: PartitionError) {
        self.restarts += 1;
        let (first, max) = self.backoff_limits;
        self.backoff = match error.class() {
            ErrorClass::Fatal => max,
            ErrorClass::Retriable if self.backoff.is_zero() => first,
            ErrorClass::Retriable => (self.backoff * 2).min(max),
        };
        tracing::warn!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
            partition = self.spec.tp.partition, %error, class = ?error.class(),
            restarts = self.restarts, backoff_ms = self.backoff.as_millis() as u64,
            "partition failed, backing off");
        self.last_error = Some(PartitionFault::Failed(error));
        self.state = PartitionState::BackingOff {
            until: SystemTime::now() + self.backoff,
        };
        self.publish();
        ctx.stop();
    }

    /// The source's log start and end offsets (ListOffsets), read on a blocking thread.
    fn watermarks(&self) -> impl std::future::Future<Output = Watermarks> {
        let consumer = self.spec.consumer.clone();
        let tp = self.spec.tp.clone();
        async move {
            tokio::task::spawn_blocking(move || consumer.watermarks(&tp))
                .await
                .unwrap_or(Err(KafkaError::Canceled))
        }
    }

    /// Resumes after an out-of-range fetch at `position`, the source's log now being
    /// `low..high`. Only a position below the log start loses records (compaction and
    /// transaction markers leave gaps inside the log, which are never out of range).
    fn resume_out_of_range(&mut self, ctx: &mut Context<Self>, position: i64, low: i64, high: i64) {
        if matches!(self.state, PartitionState::Draining) || self.retiring {
            return;
        }
        if position > high {
            self.fail(ctx, PartitionError::PastEnd { position, high });
            return;
        }
        if position >= low {
            tracing::info!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                partition = self.spec.tp.partition, position, log_start = low, log_end = high,
                "source fetch was out of range, but the position is in the log: resuming there");
            self.begin(ctx);
            return;
        }
        let to = match self.spec.offset_reset {
            OffsetReset::Earliest => low,
            OffsetReset::Latest => high,
            OffsetReset::Error => {
                self.fail(
                    ctx,
                    PartitionError::OutOfRange {
                        position,
                        low,
                        high,
                    },
                );
                return;
            }
        };
        self.report_skip(position, to, low, high);
        self.ack.skip_to(to);
        self.begin(ctx);
    }

    /// Counts and reports source offsets `from..to` that will never be replicated: a WARN line,
    /// `strait_replication_records_skipped_total`, and the partition's status.
    fn report_skip(&mut self, from: i64, to: i64, low: i64, high: i64) {
        // A range reported before (e.g. read again after a failed delivery) counts once.
        let from = self.last_skip.map_or(from, |(_, end)| from.max(end));
        let Ok(count @ 1..) = u64::try_from(to - from) else {
            return;
        };
        self.last_skip = Some((from, to));
        self.spec
            .status
            .add_skipped(&self.spec.flow, &self.spec.tp, from, to);
        metrics::counter!("strait_replication_records_skipped_total",
            "flow" => self.spec.flow.to_string(), "topic" => self.spec.tp.topic.clone(),
            "partition" => self.spec.tp.partition.to_string())
        .increment(count);
        tracing::warn!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
            partition = self.spec.tp.partition, from, to, skipped = count, log_start = low,
            log_end = high, auto_offset_reset = %self.spec.offset_reset,
            "source records skipped, never replicated: the source deleted them (retention or \
             DeleteRecords) before they were copied; resuming at {to}");
        self.publish();
    }

    fn persist(&mut self) {
        let (position, runs) = self.ack.take_dirty_with_runs();
        if position.is_some() || !runs.is_empty() {
            if let Err(error) = self
                .spec
                .positions
                .put_with_runs(&self.key, position, &runs)
            {
                tracing::error!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                    partition = self.spec.tp.partition, %error, "cannot store the position");
                self.last_error = Some(PartitionFault::Store(Arc::new(error)));
            }
        }
    }

    /// The position acknowledged so far, shared with the flow actor (which proposes it to the cluster).
    pub fn ack_window(&self) -> Arc<AckWindow> {
        self.ack.clone()
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.persist();
        if self.retiring {
            if self.ack.unresolved() == 0 {
                ctx.stop();
            }
            return;
        }
        let running = matches!(self.state, PartitionState::Running);
        if running && !self.backoff.is_zero() && self.running_since.elapsed() >= HEALTHY_AFTER {
            self.backoff = Duration::ZERO;
        }
        self.publish();
        if running && self.stream.is_some() {
            if let Some(error) = self.ack.failure() {
                self.fail(ctx, error);
            }
        }
    }

    fn publish(&self) {
        let (records, bytes) = self.ack.acked_totals();
        self.spec.status.update_partition(
            &self.spec.flow,
            &self.spec.tp,
            PartitionStatus {
                remote_topic: self.spec.remote_topic.to_string(),
                state: self.state.clone(),
                next_source_offset: self.ack.committed().map(|p| p.next_source_offset),
                last_error: self.last_error.clone(),
                restarts: self.restarts,
                records,
                bytes,
                // Joined from the flow's consumer statistics by the status registry.
                source_end_offset: None,
                source_start_offset: None,
                last_record_timestamp_ms: self.ack.last_acked_timestamp(),
                // Joined from the node's skip counts by the status registry.
                records_skipped: 0,
                last_skip: None,
                // Joined from the node's stall watch by the status registry.
                stalled: None,
            },
        );
    }
}

impl<B: Backend> Actor for PartitionActor<B> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.retired {
            // Idle until the flow drops its address (then actix stops it for good).
            return;
        }
        let _span = self.span.clone().entered();
        ctx.set_mailbox_capacity(16);
        ctx.run_interval(self.spec.flush_interval, Self::tick);
        if self.restarts == 0 {
            self.resume(ctx);
        } else {
            ctx.run_later(self.backoff, Self::begin);
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        let _span = self.span.clone().entered();
        self.stream = None;
        self.unassign();
        self.persist();
        if self.retiring {
            tracing::info!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                partition = self.spec.tp.partition, epoch = self.spec.epoch, "partition retired");
            self.spec
                .producer
                .forget(&self.spec.remote_topic, self.spec.tp.partition);
            self.spec
                .status
                .remove_partition(&self.spec.flow, &self.spec.tp);
            self.spec.retired.do_send(Retired {
                tp: self.spec.tp.clone(),
                epoch: self.spec.epoch,
                generation: self.spec.generation,
                position: self.ack.committed(),
                runs: self.ack.take_cluster_runs(),
            });
            self.retired = true;
        }
    }
}

impl<B: Backend> Supervised for PartitionActor<B> {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        tracing::info!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
            partition = self.spec.tp.partition, backoff_ms = self.backoff.as_millis() as u64,
            "restarting partition");
    }
}

impl<B: Backend> StreamHandler<SourceBatch> for PartitionActor<B> {
    fn handle(&mut self, mut batch: SourceBatch, ctx: &mut Self::Context) {
        let _span = self.span.clone().entered();
        let read_at = SystemTime::now();
        // Records below `next_expected` were taken before a restart: drop them rather than send
        // them twice. What is left was read from `next_expected` on.
        let read_from = self.next_expected;
        let mut next_expected = self.next_expected;
        batch.retain(|record| {
            if record.offset < next_expected {
                return false;
            }
            // Inclusive offset just read → the next one we expect.
            next_expected = record.offset + 1;
            true
        });
        self.next_expected = next_expected;
        let read = read_from..next_expected;
        if self.stream.is_none() {
            // A stopped stream's leftovers: dropped, like everything after them until the next
            // read from the acknowledged position.
            return;
        }
        if !self.allowed() {
            // No longer ours (or no lease): stop reading; the flow actor retires this actor.
            self.fenced(ctx);
            return;
        }
        // The error was read after the batch's records.
        let error = batch.error.take();
        // The source answered a fetch at the position with "offset out of range": librdkafka's
        // `auto.offset.reset` is `error`, so it stopped fetching this partition and told us
        // (after every record before the position). Stop reading, send this batch, read the log
        // start and end offsets, and resume as `auto.offset.reset` says.
        let out_of_range = error
            .as_ref()
            .is_some_and(|e| e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset));
        let reset = if out_of_range {
            self.stop_reading(ctx);
            let position = self.next_expected;
            let watermarks = self.watermarks();
            Some(async move { (position, watermarks.await) })
        } else {
            None
        };
        if let Some(error) = error.filter(|_| !out_of_range) {
            match fetch_error(&self.spec.flow, &error) {
                ErrorClass::Retriable => {
                    tracing::warn!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                        partition = self.spec.tp.partition, %error,
                        "source fetch error (librdkafka retries)");
                    self.last_error = Some(PartitionFault::FetchRetried(error));
                }
                ErrorClass::Fatal if is_topic_authorization(&error) => {
                    let principal = self
                        .spec
                        .source_principal
                        .as_deref()
                        .unwrap_or("Strait's principal")
                        .to_owned();
                    authorization_error(&self.spec.flow, &self.spec.tp.topic);
                    tracing::error!(flow = %self.spec.flow, topic = %self.spec.tp.topic,
                        partition = self.spec.tp.partition, %principal, %error,
                        "source cluster denies READ on the topic: grant READ (and DESCRIBE) on \
                         it to the principal, or exclude the topic; the other topics go on");
                    let topic = self.spec.tp.topic.to_string();
                    self.fail(ctx, PartitionError::ReadDenied { topic, principal });
                    return;
                }
                ErrorClass::Fatal => {
                    self.fail(ctx, PartitionError::Fetch(error));
                    return;
                }
            }
        }
        let after = |reset: Option<(i64, Watermarks)>,
                     actor: &mut Self,
                     ctx: &mut Context<Self>| match reset {
            None => {}
            Some((position, Ok((low, high)))) => {
                actor.resume_out_of_range(ctx, position, low, high)
            }
            Some((position, Err(error))) => {
                tracing::debug!(
                    position,
                    "no log start and end offsets after an out-of-range fetch"
                );
                actor.fail(ctx, PartitionError::Watermarks(error))
            }
        };
        if batch.records.is_empty() {
            if let Some(reset) = reset {
                ctx.wait(
                    reset
                        .into_actor(self)
                        .map(move |r, actor, ctx| after(Some(r), actor, ctx)),
                );
            }
            return;
        }
        // A record of this partition failed: nothing after it may reach the target before it.
        // The batch is dropped (the restart after the backoff reads it again from the position):
        // the next tick fails the actor, or now if it stopped reading (out of range).
        if let Some(failure) = self.ack.failure() {
            if self.stream.is_none() {
                self.fail(ctx, failure);
            }
            return;
        }
        // The reader cut the batch to one lease of the budget.
        let lease = batch.lease();
        let budget = self.spec.budget.clone();
        let acquire = async move { budget.acquire(lease).await };
        // `wait` holds back every other event of this actor, the stream included, until the batch
        // is in the producer: this is where a full budget stops reading.
        ctx.wait(acquire.into_actor(self).map(move |(), actor, ctx| {
            let handed = actor.hand_over(batch, read, lease, read_at, ctx);
            match (reset, actor.ack.failure()) {
                // Only once the batch is in the window: a skip applies after its records.
                (Some(reset), _) if handed => ctx.wait(
                    reset
                        .into_actor(actor)
                        .map(move |r, actor, ctx| after(Some(r), actor, ctx)),
                ),
                // It stopped reading (out of range), and will not resume from there: the
                // restart reads again from the position.
                (Some(_), Some(failure)) if actor.state == PartitionState::Running => {
                    actor.fail(ctx, failure)
                }
                _ => {}
            }
        }));
    }

    fn finished(&mut self, _ctx: &mut Self::Context) {
        // Kafka streams do not end; a cancelled one (drain) must not stop the actor.
    }
}

impl<B: Backend> Handler<StopReading> for PartitionActor<B> {
    type Result = ();

    fn handle(&mut self, _: StopReading, ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        let _span = self.span.clone().entered();
        self.stop_reading(ctx);
        self.state = PartitionState::Draining;
        self.publish();
    }
}

impl<B: Backend> Handler<Retire> for PartitionActor<B> {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        let _span = self.span.clone().entered();
        self.stop_reading(ctx);
        self.retiring = true;
        self.state = PartitionState::Draining;
        self.publish();
        ctx.run_interval(RETIRE_CHECK, |actor, ctx| {
            if actor.ack.unresolved() == 0 {
                ctx.stop();
            }
        });
    }
}

impl<B: Backend> Handler<PersistNow> for PartitionActor<B> {
    type Result = ();

    fn handle(&mut self, _: PersistNow, _ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        let _span = self.span.clone().entered();
        self.persist();
        self.publish();
    }
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;

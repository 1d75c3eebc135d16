//! The producer of a flow: the partition actors hand their batches to the flow's idempotent
//! librdkafka producer ([`TargetProducer`], the [`TargetSink`] of production), and each delivery
//! report goes back to the partition that sent the record ([`DeliveryTarget`]). The producer
//! actor purges and flushes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientConfig;

use crate::kafka::{classify, reporting_producer_context, ErrorClass, ReportingContext};
use crate::replication::ack::AckWindow;
use crate::replication::budget::InFlightBudget;
use crate::replication::error::PartitionError;
use crate::replication::source::{SourceBatch, SourceRecord};
use crate::replication::transaction::Transactions;
use strait_coordinator::{OffsetRun, Position};

/// Where a partition actor writes: the flow's producer (or an in-memory fake in tests).
pub trait TargetSink: Clone + 'static {
    /// Hands one source partition's batch, in offset order, to the producer for one target
    /// partition. The records' offsets must be in `target`'s acknowledgement window and their
    /// charges taken from its budget: each record is resolved exactly once, by a [`Delivery`]
    /// report ([`Delivery::acked`] or [`Delivery::failed`]) or as
    /// [`not sent`](DeliveryTarget::not_sent), which gives its charge back. Nothing after a
    /// failed record may reach the target before it.
    fn produce(
        &self,
        topic: &str,
        partition: i32,
        batch: SourceBatch,
        read_at: SystemTime,
        target: &Arc<DeliveryTarget>,
    );

    /// Where the target itself says `topic`/`partition` stands, for a sink that commits source
    /// positions with the records (exactly-once): the position a new actor of the partition
    /// resumes from. `None` when the target keeps none (at-least-once, or nothing committed yet).
    fn target_position(
        &self,
        _topic: &str,
        _partition: i32,
    ) -> futures::future::BoxFuture<'static, Result<Option<TargetPosition>, PartitionError>> {
        Box::pin(futures::future::ready(Ok(None)))
    }

    /// The partition's actor retired: every record it handed over is resolved, and this node
    /// writes nothing more of it until it hands over again.
    fn forget(&self, _topic: &str, _partition: i32) {}
}

/// A position the target keeps (exactly-once), with the offset runs of the last transactions that
/// reached it: the cluster state may not have them yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPosition {
    pub position: Position,
    pub runs: Vec<OffsetRun>,
}

/// Travels with each record through librdkafka and comes back in its delivery report.
pub struct Delivery {
    partition: Arc<DeliveryTarget>,
    source_offset: i64,
    /// What the record was charged in the budget.
    charged_bytes: u32,
    bytes: usize,
    /// The source record's timestamp (ms since the epoch), when it has one.
    timestamp_ms: Option<i64>,
    /// When the partition actor took the record from its queue (wall clock: one clock read per
    /// report serves both latencies).
    read_at: SystemTime,
}

/// What the delivery reports of one source partition update: one per partition actor, shared by
/// all its records in flight (one reference count per record rather than one per handle).
pub struct DeliveryTarget {
    ack: Arc<AckWindow>,
    budget: Arc<InFlightBudget>,
    counters: AckedCounters,
}

impl DeliveryTarget {
    pub fn new(
        flow: &str,
        remote_topic: &str,
        ack: Arc<AckWindow>,
        budget: Arc<InFlightBudget>,
    ) -> Self {
        Self {
            ack,
            budget,
            counters: AckedCounters::new(flow, remote_topic),
        }
    }

    pub fn ack(&self) -> &AckWindow {
        &self.ack
    }

    /// `record` was not handed to the producer, because an earlier record of its batch failed.
    pub fn not_sent(&self, record: &SourceRecord) {
        self.unsent(record, PartitionError::NotSent);
    }

    /// `record` was not handed to the producer, for `error`.
    pub fn unsent(&self, record: &SourceRecord, error: PartitionError) {
        self.ack.fail(record.offset, error);
        self.budget.release(1, record.charge);
    }
}

impl Delivery {
    /// The source offset of the record.
    pub(crate) fn source_offset(&self) -> i64 {
        self.source_offset
    }

    /// What its report updates.
    pub(crate) fn target(&self) -> &Arc<DeliveryTarget> {
        &self.partition
    }

    /// What travels with `record` (read from the source at `read_at`) to its delivery report.
    pub fn new(target: &Arc<DeliveryTarget>, record: &SourceRecord, read_at: SystemTime) -> Self {
        Self {
            partition: target.clone(),
            source_offset: record.offset,
            charged_bytes: record.charge,
            bytes: record.bytes,
            timestamp_ms: record.timestamp_ms,
            read_at,
        }
    }

    /// The target acknowledged the record at `target_offset`: its window, counters and budget.
    pub fn acked(&self, target_offset: i64) {
        let target = &self.partition;
        target
            .ack
            .ack(self.source_offset, target_offset, self.bytes);
        if let Some(timestamp_ms) = self.timestamp_ms {
            target.ack.note_acked_timestamp(timestamp_ms);
        }
        target.counters.acked(self);
        target.budget.release(1, self.charged_bytes);
    }

    /// The record was not delivered: its partition's position stops before it.
    pub fn failed(&self, error: PartitionError) {
        let target = &self.partition;
        target.ack.fail(self.source_offset, error);
        target.budget.release(1, self.charged_bytes);
    }
}

/// `strait_replication_{records,bytes}_total` of one flow and remote topic, and the flow's
/// latency histograms.
struct AckedCounters {
    records: metrics::Counter,
    bytes: metrics::Counter,
    /// Acknowledgement time minus the source record's timestamp.
    end_to_end: metrics::Histogram,
    /// Acknowledgement time minus the time the record was read from the source.
    read_to_ack: metrics::Histogram,
}

impl AckedCounters {
    fn new(flow: &str, topic: &str) -> Self {
        let labels = [("flow", flow.to_owned()), ("topic", topic.to_owned())];
        let flow_label = [("flow", flow.to_owned())];
        Self {
            records: metrics::counter!("strait_replication_records_total", &labels),
            bytes: metrics::counter!("strait_replication_bytes_total", &labels),
            end_to_end: metrics::histogram!(
                "strait_replication_end_to_end_latency_seconds",
                &flow_label
            ),
            read_to_ack: metrics::histogram!(
                "strait_replication_read_to_ack_latency_seconds",
                &flow_label
            ),
        }
    }

    fn acked(&self, delivery: &Delivery) {
        self.records.increment(1);
        self.bytes.increment(delivery.bytes as u64);
        let now = SystemTime::now();
        // A clock stepped back between the read and now gives 0.
        let read_to_ack = now.duration_since(delivery.read_at).unwrap_or_default();
        self.read_to_ack.record(read_to_ack.as_secs_f64());
        if let Some(timestamp_ms) = delivery.timestamp_ms {
            let now_ms = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            // A producer clock ahead of ours would give a negative age: count it as 0.
            self.end_to_end
                .record((now_ms - timestamp_ms).max(0) as f64 / 1000.0);
        }
    }
}

/// `strait_producer_errors_total`, labelled with the error's class (the same classification that
/// decides a partition's backoff).
pub(crate) fn count_error(error: &KafkaError) {
    let class = match classify(error) {
        ErrorClass::Retriable => "retriable",
        ErrorClass::Fatal => "fatal",
    };
    metrics::counter!("strait_producer_errors_total", "class" => class).increment(1);
}

/// Delivery reports arrive on the producer's polling thread.
pub struct DeliveryContext {
    reporting: ReportingContext,
    /// Set when a delivery failed because the broker no longer accepts this producer's id and
    /// epoch; the producer actor then replaces the producer.
    fenced: Arc<AtomicBool>,
}

/// librdkafka's answer to a record for a partition its metadata does not know (yet): the remote
/// topic grew after the producer last refreshed it (every `topic.metadata.refresh.interval.ms`,
/// five minutes by default).
fn unknown_partition(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownPartition)
}

/// Asks the target for `topic`'s metadata on a thread of its own (a blocking request): the answer
/// updates librdkafka's cache, so the partitions added since are known when the failed
/// partition's retry comes, a second later.
fn refresh_metadata<C: ProducerContext + 'static>(
    producer: &Arc<ThreadedProducer<C>>,
    topic: &str,
) {
    let (producer, topic) = (producer.clone(), topic.to_owned());
    let spawned = std::thread::Builder::new()
        .name("metadata-refresh".into())
        .spawn(move || {
            match producer
                .client()
                .fetch_metadata(Some(&topic), METADATA_REFRESH_TIMEOUT)
            {
                Ok(metadata) => {
                    let partitions = metadata
                        .topics()
                        .first()
                        .map_or(0, |t| t.partitions().len());
                    tracing::info!(topic, partitions, "target topic metadata refreshed");
                }
                Err(error) => {
                    tracing::warn!(topic, %error, "refreshing target topic metadata failed")
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no thread to refresh target topic metadata");
    }
}

/// Deadline of one metadata refresh of a target topic.
const METADATA_REFRESH_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivery errors after which this producer can deliver nothing more: the broker fenced its
/// producer id or epoch (seen on Tansu after a purge bumped the epoch). librdkafka does not always
/// raise them as the client's fatal error, so each is looked for in the delivery reports too.
fn fences_the_producer(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
    )
}

reporting_producer_context!(DeliveryContext);

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        match result {
            Ok(message) => delivery.acked(message.offset()),
            Err((error, _)) => {
                count_error(error);
                if fences_the_producer(error) {
                    self.fenced.store(true, Ordering::Relaxed);
                }
                delivery.failed(PartitionError::Delivery(error.clone()));
            }
        }
    }
}

/// Drops every record still queued in the producer (not yet sent to the target): this node lost its
/// lease, and records it sends now could land after the next owner's. Each fails back to its
/// partition's acknowledgement window.
pub struct PurgeQueued;

impl actix::Message for PurgeQueued {
    type Result = ();
}

impl Handler<PurgeQueued> for ProducerActor {
    type Result = ();

    fn handle(&mut self, _: PurgeQueued, _ctx: &mut Self::Context) {
        use rdkafka::producer::PurgeConfig;
        self.slot
            .current()
            .purge(PurgeConfig::default().queue().non_blocking());
    }
}

/// Waits until everything handed to the producer is delivered (or `timeout` passes).
pub struct Flush(pub Duration);

impl actix::Message for Flush {
    type Result = Result<(), String>;
}

/// How often the producer is checked for a fatal error.
const FATAL_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The flow's current producer, shared by the partition actors and replaced after a fatal error.
#[derive(Clone)]
struct ProducerSlot(Arc<RwLock<Arc<ThreadedProducer<DeliveryContext>>>>);

impl ProducerSlot {
    fn current(&self) -> Arc<ThreadedProducer<DeliveryContext>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, producer: ThreadedProducer<DeliveryContext>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(producer);
    }
}

pub struct ProducerActor {
    slot: ProducerSlot,
    /// Shared with the current producer's delivery context: see [`DeliveryContext::fenced`].
    fenced: Arc<AtomicBool>,
    /// What the producer was built from, to build a new one after a fatal error.
    config: ClientConfig,
    reporting: ReportingContext,
    /// The flow, for logs and metrics.
    flow: Arc<str>,
}

impl ProducerActor {
    pub fn new(
        config: &ClientConfig,
        reporting: ReportingContext,
        flow: &str,
    ) -> Result<Self, KafkaError> {
        let fenced = Arc::new(AtomicBool::new(false));
        let producer = config.create_with_context(DeliveryContext {
            reporting: reporting.clone(),
            fenced: fenced.clone(),
        })?;
        Ok(Self {
            slot: ProducerSlot(Arc::new(RwLock::new(Arc::new(producer)))),
            fenced,
            config: config.clone(),
            reporting,
            flow: flow.into(),
        })
    }

    /// The handle partition actors produce through, directly from their own thread.
    pub fn target(&self) -> TargetProducer {
        TargetProducer(Sink::Idempotent(self.slot.clone()))
    }

    /// An idempotent producer that hit a fatal error (e.g. fenced after an epoch bump: a broker
    /// answering PRODUCER_FENCED once the producer purged its queue when this node lost its lease)
    /// fails every later record. Replace it: its records fail back to their partitions, which
    /// replay them from their acknowledged positions through the new one.
    fn replace_if_fatal(&mut self) {
        if let Some((code, reason)) = self.slot.current().client().fatal_error() {
            tracing::warn!(flow = %self.flow, ?code, %reason,
                "the target producer hit a fatal error: replacing it");
        } else if self.fenced.load(Ordering::Relaxed) {
            tracing::warn!(flow = %self.flow,
                "the target fenced the producer's id or epoch: replacing the producer");
        } else {
            return;
        }
        // The old producer's late reports must not mark the new one.
        let fenced = Arc::new(AtomicBool::new(false));
        match self.config.create_with_context(DeliveryContext {
            reporting: self.reporting.clone(),
            fenced: fenced.clone(),
        }) {
            Ok(producer) => {
                self.slot.replace(producer);
                self.fenced = fenced;
                metrics::counter!("strait_producer_replaced_total", "flow" => self.flow.to_string())
                    .increment(1);
            }
            Err(error) => {
                tracing::error!(flow = %self.flow, %error, "cannot build a new target producer")
            }
        }
    }
}

impl Actor for ProducerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(FATAL_CHECK_INTERVAL, |actor, _| actor.replace_if_fatal());
    }
}

/// The flow's producer as the partition actors use it: librdkafka's producer is thread-safe, so
/// each partition hands its batches over itself, with no message to another actor per batch.
#[derive(Clone)]
pub struct TargetProducer(Sink);

#[derive(Clone)]
enum Sink {
    Idempotent(ProducerSlot),
    /// Exactly-once: the node's transactional producer of the flow.
    Transactional(Arc<Transactions>),
}

impl TargetProducer {
    /// The flow's transactional producer, as the partition actors use it.
    pub fn transactional(transactions: Arc<Transactions>) -> Self {
        Self(Sink::Transactional(transactions))
    }
}

impl TargetSink for TargetProducer {
    fn produce(
        &self,
        topic: &str,
        partition: i32,
        batch: SourceBatch,
        read_at: SystemTime,
        target: &Arc<DeliveryTarget>,
    ) {
        match &self.0 {
            Sink::Idempotent(slot) => {
                let mut batch = batch;
                let SourceBatch { data, records, .. } = &mut batch;
                send_batch(
                    &slot.current(),
                    topic,
                    partition,
                    data,
                    records,
                    read_at,
                    target,
                )
            }
            Sink::Transactional(transactions) => {
                transactions.produce(topic, partition, batch, read_at, target)
            }
        }
    }

    fn target_position(
        &self,
        topic: &str,
        partition: i32,
    ) -> futures::future::BoxFuture<'static, Result<Option<TargetPosition>, PartitionError>> {
        match &self.0 {
            Sink::Idempotent(_) => Box::pin(futures::future::ready(Ok(None))),
            Sink::Transactional(transactions) => {
                let (transactions, topic) = (transactions.clone(), topic.to_owned());
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || {
                        transactions.committed_position(&topic, partition)
                    })
                    .await
                    .unwrap_or(Err(PartitionError::Transaction(
                        "the position lookup was cancelled".into(),
                    )))
                })
            }
        }
    }

    fn forget(&self, topic: &str, partition: i32) {
        if let Sink::Transactional(transactions) = &self.0 {
            transactions.forget(topic, partition);
        }
    }
}

/// Hands `batch` to `producer`, record by record, each with its [`Delivery`]; stops at the first
/// record librdkafka refuses (which fails back to its partition) and resolves the rest as not sent.
pub(crate) fn send_batch<C>(
    producer: &Arc<ThreadedProducer<C>>,
    topic: &str,
    partition: i32,
    data: &[u8],
    records: &mut Vec<SourceRecord>,
    read_at: SystemTime,
    target: &Arc<DeliveryTarget>,
) where
    C: ProducerContext<DeliveryOpaque = Box<Delivery>> + 'static,
{
    let mut records = records.drain(..);
    for record in records.by_ref() {
        let delivery = Box::new(Delivery::new(target, &record, read_at));
        let mut produced = BaseRecord::with_opaque_to(topic, delivery).partition(partition);
        if let Some(timestamp) = record.timestamp_ms {
            produced = produced.timestamp(timestamp);
        }
        if let Some(key) = record.key(data) {
            produced = produced.key(key);
        }
        if let Some(value) = record.value(data) {
            produced = produced.payload(value);
        }
        if let Some(headers) = record.headers {
            // Moved into the produced record: no copy.
            produced = produced.headers(headers);
        }
        if let Err((error, produced)) = producer.send(produced) {
            // Refused before it left (larger than the producer's `message.max.bytes`, the
            // partition is newer than the producer's metadata, or the producer hit a fatal
            // error; the local queue is sized above the flow's in-flight bound, so it is never
            // full): fail the record, and the rest of the batch unsent, so nothing after it
            // reaches the target before it; its partition backs off and replays from there.
            count_error(&error);
            if unknown_partition(&error) {
                refresh_metadata(producer, topic);
            }
            produced
                .delivery_opaque
                .failed(PartitionError::Delivery(error));
            break;
        }
    }
    for unsent in records {
        target.not_sent(&unsent);
    }
}

impl Handler<Flush> for ProducerActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, Flush(timeout): Flush, _ctx: &mut Self::Context) -> Self::Result {
        let producer = self.slot.current();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || producer.flush(timeout))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_producer_id_or_epoch_calls_for_a_new_producer() {
        let produced = |code| KafkaError::MessageProduction(code);
        assert!(fences_the_producer(&produced(
            RDKafkaErrorCode::ProducerFenced
        )));
        assert!(fences_the_producer(&produced(
            RDKafkaErrorCode::InvalidProducerEpoch
        )));
        // Errors the same producer recovers from are left to the partitions' retries.
        assert!(!fences_the_producer(&produced(
            RDKafkaErrorCode::MessageTimedOut
        )));
        assert!(!fences_the_producer(&produced(
            RDKafkaErrorCode::NotEnoughReplicas
        )));
    }
}

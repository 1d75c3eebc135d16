//! The producer actor of a flow: hands records to the flow's idempotent librdkafka producer and routes
//! each delivery report back to the partition that sent the record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientConfig;

use crate::kafka::{classify, ErrorClass, ReportingContext};
use crate::replication::ack::AckWindow;
use crate::replication::budget::InFlightBudget;
use crate::replication::error::PartitionError;

/// Travels with each record through librdkafka and comes back in its delivery report.
pub struct Delivery {
    ack: Arc<AckWindow>,
    budget: Arc<InFlightBudget>,
    source_offset: i64,
    /// What the record was charged in the budget.
    charged_bytes: u32,
    bytes: usize,
    /// The source record's timestamp (ms since the epoch), when it has one.
    timestamp_ms: Option<i64>,
    /// When the partition actor took the record from its queue.
    read_at: Instant,
    acked: Arc<AckedCounters>,
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
    fn acked(&self, delivery: &Delivery) {
        self.records.increment(1);
        self.bytes.increment(delivery.bytes as u64);
        self.read_to_ack
            .record(delivery.read_at.elapsed().as_secs_f64());
        if let Some(timestamp_ms) = delivery.timestamp_ms {
            let now_ms = SystemTime::now()
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
fn count_error(error: &KafkaError) {
    let class = match classify(error) {
        ErrorClass::Retriable => "retriable",
        ErrorClass::Fatal => "fatal",
    };
    metrics::counter!("strait_producer_errors_total", "class" => class).increment(1);
}

/// Delivery reports arrive on the producer's polling thread.
pub struct DeliveryContext {
    reporting: ReportingContext,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.reporting.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.reporting.error(error, reason);
    }

    /// A `statistics.interval.ms` set for every client of a cluster reaches the producer too:
    /// its statistics are not used (rather than logged, rdkafka's default).
    fn stats_raw(&self, _statistics: &[u8]) {}
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        match result {
            Ok(message) => {
                delivery
                    .ack
                    .ack(delivery.source_offset, message.offset(), delivery.bytes);
                if let Some(timestamp_ms) = delivery.timestamp_ms {
                    delivery.ack.note_acked_timestamp(timestamp_ms);
                }
                delivery.acked.acked(&delivery);
            }
            Err((error, _)) => {
                count_error(error);
                delivery.ack.fail(
                    delivery.source_offset,
                    PartitionError::Delivery(error.clone()),
                );
            }
        }
        delivery.budget.release(1, delivery.charged_bytes);
    }
}

/// Size of a record as the in-flight bound counts it.
pub fn record_bytes(message: &OwnedMessage) -> usize {
    use rdkafka::message::Headers;
    let headers = message.headers().map_or(0, |h| {
        h.iter()
            .map(|header| header.key.len() + header.value.map_or(0, <[u8]>::len))
            .sum()
    });
    message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len) + headers
}

/// A batch of one source partition's records, in offset order, for one target partition.
pub struct ProduceBatch {
    pub topic: Arc<str>,
    pub partition: i32,
    pub records: Vec<(OwnedMessage, u32)>,
    pub ack: Arc<AckWindow>,
    pub budget: Arc<InFlightBudget>,
    /// When the records were read from the source.
    pub read_at: Instant,
}

impl actix::Message for ProduceBatch {
    type Result = ();
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
        self.producer
            .purge(PurgeConfig::default().queue().non_blocking());
    }
}

/// Waits until everything handed to the producer is delivered (or `timeout` passes).
pub struct Flush(pub Duration);

impl actix::Message for Flush {
    type Result = Result<(), String>;
}

/// How often the producer is checked for a fatal error while idle.
const FATAL_CHECK_INTERVAL: Duration = Duration::from_secs(1);

pub struct ProducerActor {
    producer: Arc<ThreadedProducer<DeliveryContext>>,
    /// What the producer was built from, to build a new one after a fatal error.
    config: ClientConfig,
    reporting: ReportingContext,
    /// The flow label of the metrics.
    flow: Arc<str>,
    /// Acknowledgement counters by remote topic.
    acked: HashMap<Arc<str>, Arc<AckedCounters>>,
}

impl ProducerActor {
    pub fn new(
        config: &ClientConfig,
        reporting: ReportingContext,
        flow: &str,
    ) -> Result<Self, KafkaError> {
        let producer = config.create_with_context(DeliveryContext {
            reporting: reporting.clone(),
        })?;
        Ok(Self {
            producer: Arc::new(producer),
            config: config.clone(),
            reporting,
            flow: flow.into(),
            acked: HashMap::new(),
        })
    }

    /// An idempotent producer that hit a fatal error (e.g. fenced after an epoch bump: a broker
    /// answering PRODUCER_FENCED once the producer purged its queue when this node lost its lease)
    /// fails every later record. Replace it: its records fail back to their partitions, which
    /// replay them from their acknowledged positions through the new one.
    fn replace_if_fatal(&mut self) {
        let Some((code, reason)) = self.producer.client().fatal_error() else {
            return;
        };
        tracing::warn!(flow = %self.flow, ?code, %reason,
            "the target producer hit a fatal error: replacing it");
        match self.config.create_with_context(DeliveryContext {
            reporting: self.reporting.clone(),
        }) {
            Ok(producer) => {
                self.producer = Arc::new(producer);
                metrics::counter!("strait_producer_replaced_total", "flow" => self.flow.to_string())
                    .increment(1);
            }
            Err(error) => {
                tracing::error!(flow = %self.flow, %error, "cannot build a new target producer")
            }
        }
    }

    fn acked_counters(&mut self, topic: &Arc<str>) -> Arc<AckedCounters> {
        let flow = &self.flow;
        self.acked
            .entry(topic.clone())
            .or_insert_with(|| {
                let labels = [("flow", flow.to_string()), ("topic", topic.to_string())];
                let flow_label = [("flow", flow.to_string())];
                Arc::new(AckedCounters {
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
                })
            })
            .clone()
    }
}

impl Actor for ProducerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Partition actors wait on `send().await`: a full mailbox slows them down.
        ctx.set_mailbox_capacity(64);
        // Also while nothing is sent (every partition backing off after the failure).
        ctx.run_interval(FATAL_CHECK_INTERVAL, |actor, _| actor.replace_if_fatal());
    }
}

impl Handler<ProduceBatch> for ProducerActor {
    type Result = ();

    fn handle(&mut self, batch: ProduceBatch, _ctx: &mut Self::Context) {
        self.replace_if_fatal();
        let acked = self.acked_counters(&batch.topic);
        for (mut message, charged_bytes) in batch.records {
            let bytes = record_bytes(&message);
            // librdkafka's header list (order, duplicates, null values kept) moves into the
            // record: no copy.
            let headers = message.detach_headers();
            let delivery = Box::new(Delivery {
                ack: batch.ack.clone(),
                budget: batch.budget.clone(),
                source_offset: message.offset(),
                charged_bytes,
                bytes,
                timestamp_ms: message.timestamp().to_millis(),
                read_at: batch.read_at,
                acked: acked.clone(),
            });
            let mut record =
                BaseRecord::with_opaque_to(&batch.topic, delivery).partition(batch.partition);
            if let Some(timestamp) = message.timestamp().to_millis() {
                record = record.timestamp(timestamp);
            }
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(payload) = message.payload() {
                record = record.payload(payload);
            }
            if let Some(headers) = headers {
                record = record.headers(headers);
            }
            if let Err((error, record)) = self.producer.send(record) {
                // The local queue is sized above the flow's in-flight bound, so this means
                // something is badly wrong (or the producer hit a fatal error): fail the record and
                // let its partition back off and replay.
                count_error(&error);
                let delivery = record.delivery_opaque;
                delivery
                    .ack
                    .fail(delivery.source_offset, PartitionError::Delivery(error));
                delivery.budget.release(1, delivery.charged_bytes);
            }
        }
    }
}

impl Handler<Flush> for ProducerActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, Flush(timeout): Flush, _ctx: &mut Self::Context) -> Self::Result {
        let producer = self.producer.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || producer.flush(timeout))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        })
    }
}

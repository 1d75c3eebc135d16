//! Reading a partition's queue in batches.
//!
//! Every wake-up drains what the queue holds (up to one lease of the flow's budget) into one
//! [`SourceBatch`]: keys and values are copied into one buffer per batch rather than into owned
//! messages (no per-record topic string, key or value allocation), and each record's size is
//! counted once, here. A batch's buffers go back to its reader when it is dropped, so a partition
//! that keeps flowing reuses the same two allocations.
//!
//! [`PartitionSource`] is what a partition actor reads through: the flow's librdkafka consumer
//! here, an in-memory fake in the actor's unit tests (`replication::testing`).

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use std::time::Duration;

use futures::stream::LocalBoxStream;
use futures::{FutureExt, Stream, StreamExt};
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};
use strait_coordinator::TopicPartition;

use crate::kafka::ReportingContext;
use crate::replication::budget::{InFlightBudget, Lease};

/// Most records taken from the partition queue in one go.
pub const MAX_BATCH_RECORDS: usize = 2_000;

pub type SourceQueue = StreamPartitionQueue<ReportingContext, rdkafka::util::TokioRuntime>;

/// A flow's source consumer: one per flow, `assign()` only, a split queue per partition.
pub type SourceConsumer = StreamConsumer<ReportingContext>;

/// One partition's batches, forever (Kafka streams do not end). Boxed once per (re)start of the
/// partition, not per batch.
pub type BatchStream = LocalBoxStream<'static, SourceBatch>;

/// The source's log start and end offsets, as ListOffsets answered.
pub type Watermarks = Result<(i64, i64), KafkaError>;

/// How long reading the source's log start and end offsets may take.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a partition actor reads its source partition: the flow's consumer, shared by all of the
/// flow's partitions. The actor calls [`split`](Self::split) and then [`assign`](Self::assign)
/// to start, [`unassign`](Self::unassign) to stop; errors met while reading arrive in the
/// batches ([`SourceBatch::error`]) and are classified by the actor
/// ([`crate::kafka::classify`]).
pub trait PartitionSource: Send + Sync + 'static {
    /// `tp`'s records in batches cut to one lease of `budget`, on a queue of their own. Called
    /// *before* [`assign`](Self::assign), so that none of `tp`'s records go anywhere else.
    /// `None`: the source has no queue for `tp`.
    fn split(
        self: &Arc<Self>,
        tp: &TopicPartition,
        budget: Arc<InFlightBudget>,
    ) -> Option<BatchStream>;

    /// Starts fetching `tp` at `offset` (in addition to the partitions already assigned).
    fn assign(&self, tp: &TopicPartition, offset: Offset) -> Result<(), KafkaError>;

    /// Stops fetching `tp`.
    fn unassign(&self, tp: &TopicPartition) -> Result<(), KafkaError>;

    /// `tp`'s log start and end offsets. Blocks (a request to the source): the actor calls it
    /// on a blocking thread.
    fn watermarks(&self, tp: &TopicPartition) -> Watermarks;
}

impl PartitionSource for SourceConsumer {
    fn split(
        self: &Arc<Self>,
        tp: &TopicPartition,
        budget: Arc<InFlightBudget>,
    ) -> Option<BatchStream> {
        // The split queue's forward to the consumer's main queue is removed now, before the
        // assignment: librdkafka keeps an app-set forward when the fetch starts.
        let queue = self.split_partition_queue(&tp.topic, tp.partition)?;
        Some(batches(queue, budget).boxed_local())
    }

    fn assign(&self, tp: &TopicPartition, offset: Offset) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&tp.topic, tp.partition, offset)?;
        self.incremental_assign(&tpl)
    }

    fn unassign(&self, tp: &TopicPartition) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&tp.topic, tp.partition);
        self.incremental_unassign(&tpl)
    }

    fn watermarks(&self, tp: &TopicPartition) -> Watermarks {
        self.fetch_watermarks(&tp.topic, tp.partition, WATERMARK_TIMEOUT)
    }
}

/// One source record: its offset, timestamp and headers, and where its key and value are in its
/// batch's buffer.
#[derive(Debug)]
pub struct SourceRecord {
    pub offset: i64,
    /// Milliseconds since the epoch, when the record has a timestamp.
    pub timestamp_ms: Option<i64>,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    /// librdkafka's header list (order, duplicates, null values kept), handed over to the produced
    /// record.
    pub headers: Option<OwnedHeaders>,
    /// Key + value + header bytes, as `strait_replication_bytes_total` counts them.
    pub bytes: usize,
    /// What the record is charged in the flow's in-flight budget.
    pub charge: u32,
}

impl SourceRecord {
    /// The key, in `data` (its batch's [`SourceBatch::data`]).
    pub fn key<'a>(&self, data: &'a [u8]) -> Option<&'a [u8]> {
        self.key.clone().map(|range| &data[range])
    }

    /// The value, in `data` (its batch's [`SourceBatch::data`]).
    pub fn value<'a>(&self, data: &'a [u8]) -> Option<&'a [u8]> {
        self.value.clone().map(|range| &data[range])
    }
}

/// The buffers of a dropped batch, for the next one of the same reader.
type Spare = Rc<RefCell<Option<(Vec<u8>, Vec<SourceRecord>)>>>;

/// Records read from one partition in one go, in offset order, within one lease of the budget.
#[derive(Debug, Default)]
pub struct SourceBatch {
    /// Keys and values of every record, back to back.
    pub data: Vec<u8>,
    pub records: Vec<SourceRecord>,
    /// A fetch error read after the records (none are read past it).
    pub error: Option<KafkaError>,
    /// Where the buffers go when the batch is dropped.
    spare: Option<Spare>,
}

impl Drop for SourceBatch {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            let mut data = std::mem::take(&mut self.data);
            let mut records = std::mem::take(&mut self.records);
            data.clear();
            records.clear();
            spare.replace(Some((data, records)));
        }
    }
}

impl SourceBatch {
    /// An empty batch, on the buffers of the last one dropped if there is one.
    fn reusing(spare: &Spare) -> Self {
        let (data, records) = spare.take().unwrap_or_default();
        Self {
            data,
            records,
            error: None,
            spare: Some(spare.clone()),
        }
    }

    /// What the records take from the budget.
    pub fn lease(&self) -> Lease {
        Lease {
            records: self.records.len() as u32,
            bytes: self.records.iter().map(|r| r.charge).sum(),
        }
    }

    /// Keeps the records `keep` returns true for (their bytes stay in the buffer until it goes).
    pub fn retain(&mut self, keep: impl FnMut(&SourceRecord) -> bool) {
        self.records.retain(keep);
    }

    fn copy(&mut self, bytes: Option<&[u8]>) -> Option<Range<usize>> {
        let bytes = bytes?;
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        Some(start..self.data.len())
    }

    fn push(&mut self, message: &BorrowedMessage<'_>, bytes: usize, charge: u32) {
        self.push_parts(
            message.offset(),
            message.timestamp().to_millis(),
            message.key(),
            message.payload(),
            message.headers().map(|h| h.detach()),
            bytes,
            charge,
        );
    }

    /// Appends one record: its key and value are copied into the batch's buffer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_parts(
        &mut self,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
        bytes: usize,
        charge: u32,
    ) {
        let key = self.copy(key);
        let value = self.copy(value);
        self.records.push(SourceRecord {
            offset,
            timestamp_ms,
            key,
            value,
            headers,
            bytes,
            charge,
        });
    }
}

/// Size of a record as the metrics and the in-flight bound count it.
fn record_bytes(message: &BorrowedMessage<'_>) -> usize {
    let headers = message.headers().map_or(0, |h| {
        h.iter()
            .map(|header| header.key.len() + header.value.map_or(0, <[u8]>::len))
            .sum()
    });
    message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len) + headers
}

struct Reader {
    queue: SourceQueue,
    budget: Arc<InFlightBudget>,
    /// A record read that did not fit in the previous batch: the start of the next one.
    carry: Option<SourceBatch>,
    spare: Spare,
}

impl Reader {
    /// Waits for a record (unless one is carried over), then takes every record ready without
    /// waiting, until the queue is empty, an error is read, or the next record would not fit in
    /// one lease.
    async fn next_batch(&mut self) -> SourceBatch {
        let Reader {
            queue,
            budget,
            carry,
            spare,
        } = self;
        let max = budget.max();
        let mut batch = carry.take().unwrap_or_else(|| SourceBatch::reusing(spare));
        let mut bytes: u64 = batch.records.iter().map(|r| u64::from(r.charge)).sum();
        // One stream (one waker registration) per batch, not per record.
        let mut stream = queue.stream();
        let mut next = if batch.records.is_empty() {
            stream.next().await
        } else {
            stream.next().now_or_never().flatten()
        };
        while let Some(item) = next {
            let message = match item {
                Ok(message) => message,
                Err(error) => {
                    batch.error = Some(error);
                    break;
                }
            };
            let size = record_bytes(&message);
            let charge = budget.charge(size);
            let full = batch.records.len() >= MAX_BATCH_RECORDS
                || batch.records.len() as u64 + 1 > u64::from(max.records)
                || bytes + u64::from(charge) > u64::from(max.bytes);
            if full && !batch.records.is_empty() {
                // Usually new buffers (this batch's are still in use); they go to `spare` in turn.
                let mut next_batch = SourceBatch::reusing(spare);
                next_batch.push(&message, size, charge);
                *carry = Some(next_batch);
                break;
            }
            batch.push(&message, size, charge);
            bytes += u64::from(charge);
            next = stream.next().now_or_never().flatten();
        }
        batch
    }
}

/// The batches of a partition queue, forever (Kafka streams do not end).
pub fn batches(queue: SourceQueue, budget: Arc<InFlightBudget>) -> impl Stream<Item = SourceBatch> {
    let reader = Reader {
        queue,
        budget,
        carry: None,
        spare: Spare::default(),
    };
    futures::stream::unfold(reader, |mut reader| async move {
        let batch = reader.next_batch().await;
        Some((batch, reader))
    })
}

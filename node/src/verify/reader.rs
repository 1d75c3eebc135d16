//! Reading one partition's records, in offset order, as digests.

use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::compare::{Digest, RecordStream};
use super::{Side, VerifyError};

/// How long a reader waits for the next record before it gives up (the broker is unreachable, or
/// the records announced are not delivered).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// ListOffsets and metadata requests.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The readers' client context: the end of a partition is how a reader stops, not an error to
/// log (librdkafka reports it as one).
pub struct Quiet {
    side: Side,
}

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            tracing::warn!(side = %self.side, %error, reason, "verification reader error");
        }
    }
}

impl ConsumerContext for Quiet {}

pub type Reader = BaseConsumer<Quiet>;

/// A consumer for one side, with the settings verification needs over the flow's own.
pub fn consumer(side: Side, mut config: ClientConfig) -> Result<Reader, VerifyError> {
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "error")
        .set("isolation.level", "read_committed")
        .set("statistics.interval.ms", "0")
        // Larger prefetch than the data path's (one partition per consumer here).
        .set("queued.max.messages.kbytes", "32768")
        .set("fetch.wait.max.ms", "100");
    if config.get("group.id").is_none() {
        config.set("group.id", "strait.verify");
    }
    config
        .create_with_context(Quiet { side })
        .map_err(|source| VerifyError::Client { side, source })
}

/// The records of one partition from `start` up to (not including) `end`, or its end.
pub struct PartitionReader {
    consumer: Reader,
    side: Side,
    end: i64,
    /// The offset after the last record returned.
    at: i64,
    ended: bool,
}

impl PartitionReader {
    pub fn open(
        side: Side,
        consumer: Reader,
        topic: &str,
        partition: i32,
        start: i64,
        end: i64,
    ) -> Result<Self, VerifyError> {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(|source| VerifyError::Fetch {
                side,
                offset: start,
                source,
            })?;
        if start < end {
            consumer
                .assign(&assignment)
                .map_err(|source| VerifyError::Fetch {
                    side,
                    offset: start,
                    source,
                })?;
        }
        Ok(Self {
            consumer,
            side,
            end,
            at: start,
            ended: start >= end,
        })
    }
}

impl RecordStream for PartitionReader {
    fn next_record(&mut self) -> Result<Option<Digest>, VerifyError> {
        if self.ended {
            return Ok(None);
        }
        let since = Instant::now();
        loop {
            match self.consumer.poll(Duration::from_millis(500)) {
                None => {
                    if since.elapsed() > STALL_TIMEOUT {
                        return Err(VerifyError::Stalled {
                            side: self.side,
                            offset: self.at,
                            waited: STALL_TIMEOUT,
                        });
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    self.ended = true;
                    return Ok(None);
                }
                Some(Err(source)) => {
                    return Err(VerifyError::Fetch {
                        side: self.side,
                        offset: self.at,
                        source,
                    })
                }
                Some(Ok(message)) => {
                    let offset = message.offset();
                    if offset >= self.end {
                        self.ended = true;
                        return Ok(None);
                    }
                    self.at = offset + 1;
                    let headers = message.headers();
                    let digest = Digest::new(
                        offset,
                        message.key(),
                        message.payload(),
                        headers
                            .into_iter()
                            .flat_map(|h| h.iter())
                            .map(|h| (h.key, h.value)),
                        message.timestamp().to_millis(),
                    );
                    return Ok(Some(digest));
                }
            }
        }
    }
}

//! A client context that turns librdkafka's error and log callbacks into tracing events and a health
//! record that status and the progress line report, and its statistics (`statistics.interval.ms`)
//! into the source partitions' end offsets, for lag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;

/// The offsets librdkafka last saw for one partition in a fetch response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// The log start offset (low watermark), when librdkafka knows it.
    pub low: Option<i64>,
    /// The high watermark: the offset the next record written will get.
    pub high: i64,
}

/// Per-partition watermarks of a source consumer, from librdkafka's statistics: no request of
/// their own, nothing blocking on the data path.
#[derive(Debug, Default)]
pub struct SourceOffsets {
    partitions: Mutex<HashMap<(String, i32), PartitionOffsets>>,
    /// End offsets listed (ListOffsets) for partitions the consumer does not fetch: their
    /// statistics stop where the fetches stopped.
    listed: Mutex<HashMap<(String, i32), i64>>,
}

impl SourceOffsets {
    pub fn get(&self, topic: &str, partition: i32) -> Option<PartitionOffsets> {
        self.lock().get(&(topic.to_owned(), partition)).copied()
    }

    /// The listed end offset of a partition not fetched, if one was listed in the last round.
    pub fn listed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.listed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(topic.to_owned(), partition))
            .copied()
    }

    /// Replaces the listed end offsets with one round's (partitions no longer listed drop out).
    pub fn set_listed(&self, listed: HashMap<(String, i32), i64>) {
        *self.listed.lock().unwrap_or_else(|e| e.into_inner()) = listed;
    }

    /// Takes what one statistics event says; partitions without a known high watermark (not
    /// fetched yet, librdkafka's -1001) keep their last value.
    pub fn update(&self, statistics: &Statistics) {
        let mut partitions = self.lock();
        for (name, topic) in &statistics.topics {
            for (id, partition) in &topic.partitions {
                // -1 is librdkafka's internal "unassigned" partition.
                if *id < 0 || partition.hi_offset < 0 {
                    continue;
                }
                let offsets = PartitionOffsets {
                    low: (partition.lo_offset >= 0).then_some(partition.lo_offset),
                    high: partition.hi_offset,
                };
                partitions.insert((name.clone(), *id), offsets);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i32), PartitionOffsets>> {
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The latest client-level error (e.g. "all brokers down"), shared with status.
#[derive(Debug, Default)]
pub struct ClientHealth {
    last_error: Mutex<Option<(SystemTime, String)>>,
}

impl ClientHealth {
    pub fn record(&self, error: String) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((SystemTime::now(), error));
    }

    pub fn last_error(&self) -> Option<(SystemTime, String)> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Context of Strait's consumers and admin clients; the producer wraps it (see the producer actor).
#[derive(Clone)]
pub struct ReportingContext {
    /// `A->B source consumer`, for log fields.
    pub label: Arc<str>,
    pub health: Arc<ClientHealth>,
    /// Filled from the statistics events of a client with `statistics.interval.ms` set (the
    /// source consumer).
    pub offsets: Arc<SourceOffsets>,
}

impl ReportingContext {
    pub fn new(label: impl Into<Arc<str>>) -> Self {
        Self {
            label: label.into(),
            health: Arc::default(),
            offsets: Arc::default(),
        }
    }
}

impl ClientContext for ReportingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(client = %self.label, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(client = %self.label, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(client = %self.label, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(client = %self.label, facility = fac, "{log_message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka retries everything but a fatal error (a fenced producer, say).
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::Fatal) {
            tracing::error!(client = %self.label, %error, reason, "kafka client fatal error");
        } else {
            tracing::warn!(client = %self.label, %error, reason, "kafka client error (retrying)");
        }
        self.health.record(format!("{error}: {reason}"));
    }

    fn stats(&self, statistics: Statistics) {
        self.offsets.update(&statistics);
    }
}

impl ConsumerContext for ReportingContext {}

/// Implements `ClientContext` for a producer context that holds a [`ReportingContext`] in its
/// `reporting` field: logs and errors reported as the other clients' are; statistics unused
/// (a `statistics.interval.ms` set for every client of a cluster reaches the producers too).
macro_rules! reporting_producer_context {
    ($context:ty) => {
        impl rdkafka::client::ClientContext for $context {
            fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
                rdkafka::client::ClientContext::log(&self.reporting, level, fac, log_message);
            }

            fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
                rdkafka::client::ClientContext::error(&self.reporting, error, reason);
            }

            fn stats_raw(&self, _statistics: &[u8]) {}
        }
    };
}
pub(crate) use reporting_producer_context;

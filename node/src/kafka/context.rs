//! A client context that turns librdkafka's error and log callbacks into tracing events and a health
//! record that status and the progress line report.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

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
}

impl ReportingContext {
    pub fn new(label: impl Into<Arc<str>>) -> Self {
        Self {
            label: label.into(),
            health: Arc::default(),
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
        tracing::warn!(client = %self.label, %error, reason, "kafka client error (retrying)");
        self.health.record(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for ReportingContext {}

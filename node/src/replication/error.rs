//! Why a partition stopped replicating, classified so the supervisor knows how long to wait.

use rdkafka::error::KafkaError;
use thiserror::Error;

use crate::kafka::{classify, ErrorClass};

#[derive(Debug, Clone, Error)]
pub enum PartitionError {
    #[error("source fetch failed: {0}")]
    Fetch(KafkaError),
    #[error("delivery to the target failed: {0}")]
    Delivery(KafkaError),
    #[error("cannot assign the source partition: {0}")]
    Assign(KafkaError),
    #[error("the source consumer has no queue for this partition")]
    NoQueue,
    /// Not handed to the producer: an earlier record of the partition failed, and records after
    /// it must not reach the target before it.
    #[error("not sent: an earlier record of the partition failed")]
    NotSent,
}

impl PartitionError {
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Fetch(e) | Self::Delivery(e) | Self::Assign(e) => classify(e),
            Self::NoQueue | Self::NotSent => ErrorClass::Retriable,
        }
    }
}

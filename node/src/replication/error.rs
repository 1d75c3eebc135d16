//! Why a partition stopped replicating, classified so the supervisor knows how long to wait.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
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
    /// The source cluster's ACLs do not let Strait's principal read the topic (a fetch answered
    /// TOPIC_AUTHORIZATION_FAILED). Fatal: only a change of the ACLs helps.
    #[error(
        "source topic authorization failed: {principal} may not read topic {topic} (the source \
         cluster needs to grant READ and DESCRIBE on it; or exclude the topic from the flow)"
    )]
    ReadDenied {
        topic: String,
        /// `User:<sasl.username>`, or "Strait's principal" when the name is not known.
        principal: String,
    },
}

/// Whether `error` is the source refusing to let this principal read a topic.
pub fn is_topic_authorization(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAuthorizationFailed)
}

impl PartitionError {
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Fetch(e) | Self::Delivery(e) | Self::Assign(e) => classify(e),
            Self::NoQueue => ErrorClass::Retriable,
            Self::ReadDenied { .. } => ErrorClass::Fatal,
        }
    }
}

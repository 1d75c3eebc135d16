//! Why a partition stopped replicating, classified so the supervisor knows how long to wait.

use std::sync::Arc;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use strait_storage::StorageError;
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
    /// The position is no longer in the source's log and `auto.offset.reset` is `none`.
    #[error(
        "source position {position} is outside the source's log (log start {low}, end {high}) \
         and auto.offset.reset is none: not resuming (offsets {position}..{low} were deleted \
         before they were replicated)"
    )]
    OutOfRange { position: i64, low: i64, high: i64 },
    /// The source's log ends before the position: the partition was truncated or its topic
    /// deleted and created again. Resuming anywhere could copy records twice or skip some.
    #[error(
        "source position {position} is past the end of the source's log ({high}): the source \
         partition was truncated or recreated; not resuming"
    )]
    PastEnd { position: i64, high: i64 },
    /// The log start and end offsets could not be read after an out-of-range fetch.
    #[error("cannot read the source's log start and end offsets: {0}")]
    Watermarks(KafkaError),
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
    /// The partition read source records from `expected` on and did not hand them to the
    /// producer, then was about to hand over records read after them (from `read`): refused by
    /// its acknowledgement window, which would otherwise move the position over them. A bug
    /// (a partition must stop at a batch it drops), caught: the restart reads them again.
    #[error(
        "source offsets {expected}..{read} were read but never handed to the producer: nothing \
         after them is sent (reading again from the acknowledged position)"
    )]
    ReadGap { expected: i64, read: i64 },
    /// Exactly-once: the target transaction that carried the records was aborted or could not
    /// be used; they are invisible to `read_committed` consumers, and the partition replays them
    /// from the position committed with the last transaction.
    #[error("target transaction: {0}")]
    Transaction(String),
    /// Exactly-once: the target refuses transactions to this principal (no transaction support,
    /// or no ACL for the transactional id). Retriable: the producer asks again every second, and
    /// the partitions (backing off up to a minute) resume soon after an operator fixed the ACLs.
    #[error("the target refuses transactions: {0}")]
    TransactionsRefused(String),
}

/// Whether `error` is the source refusing to let this principal read a topic.
pub fn is_topic_authorization(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAuthorizationFailed)
}

impl PartitionError {
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Fetch(e) | Self::Delivery(e) | Self::Assign(e) => classify(e),
            Self::NoQueue
            | Self::NotSent
            | Self::Watermarks(_)
            | Self::ReadGap { .. }
            | Self::Transaction(_)
            | Self::TransactionsRefused(_) => ErrorClass::Retriable,
            Self::OutOfRange { .. } | Self::PastEnd { .. } | Self::ReadDenied { .. } => {
                ErrorClass::Fatal
            }
        }
    }
}

/// The last problem a partition ran into, as its status shows it (`last_error` in `strait
/// status`, `GetNodeStatus` and the progress line). Kept after the partition recovers.
#[derive(Debug, Clone, Error)]
pub enum PartitionFault {
    /// It failed, backed off, and (after the backoff) started again.
    #[error(transparent)]
    Failed(PartitionError),
    /// A source fetch error librdkafka retries on its own: the partition kept running.
    #[error("source fetch: {0}")]
    FetchRetried(KafkaError),
    /// Its position could not be stored locally (the next flush tries again).
    #[error(transparent)]
    Store(Arc<StorageError>),
}

use std::path::PathBuf;

use thiserror::Error;

/// Storage failures. All of them are fatal for the node: a node that cannot persist positions must
/// not replicate, or a restart would replay or skip data.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("cannot open the data dir {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("storage i/o failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt {what} record in the store ({len} bytes)")]
    Corrupt { what: &'static str, len: usize },
    #[error("cannot decode the stored {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: protobuf::ProtobufError,
    },
    #[error("cannot encode the {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: protobuf::ProtobufError,
    },
    /// Raft entries must be contiguous: appended after the last one, stored without holes.
    #[error("raft log gap: expected index {expected}, got {got}")]
    Gap { expected: u64, got: u64 },
    #[error("raft entry {index} is missing from the store")]
    MissingEntry { index: u64 },
    #[error("cannot overwrite compacted raft entries: the log starts at {first_index}, got entries from {got}")]
    OverwriteCompacted { first_index: u64, got: u64 },
    #[error("cannot compact the raft log to index {index}: it ends at {last_index}")]
    CompactBeyondLog { index: u64, last_index: u64 },
    #[error(
        "the snapshot at index {index} is older than the raft log (first index {first_index})"
    )]
    SnapshotOutOfDate { index: u64, first_index: u64 },
    #[error("the raft log is already initialized: refusing to bootstrap over it")]
    AlreadyInitialized,
    #[error("cannot bootstrap a raft cluster without voters")]
    NoVoters,
}

/// How `raft::Storage` reports our failures to raft-rs: as `Store(Other(..))`, which makes the Raft
/// node inoperable (raft-rs's contract: the application must stop and recover).
impl From<StorageError> for raft::Error {
    fn from(e: StorageError) -> Self {
        raft::Error::Store(raft::StorageError::Other(Box::new(e)))
    }
}

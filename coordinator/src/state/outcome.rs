use std::fmt;

use crate::Position;

use super::PartitionKey;
use crate::{NodeId, Owner};

/// What applying one committed entry did. Every node computes the same outcome for the same entry;
/// the proposing node hands it back to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The command took effect in full (or was an idempotent repeat, or raft's empty entry).
    Applied,
    /// A command about many partitions (`Assign`, `UpdatePositions`) took effect for `applied` of
    /// them; `skipped` says which were left alone and why. `applied` may be 0.
    Partial {
        applied: usize,
        skipped: Vec<Skipped>,
    },
    /// Nothing changed: the command was decided on an outdated view (an older configuration
    /// version, a node that is gone, an entry applied before).
    Stale(String),
    /// Nothing changed: the command is invalid (an unknown flow name, node id 0, a negative
    /// partition count). A bug in the proposer, never retried as is.
    Rejected(String),
}

impl ApplyOutcome {
    pub(super) fn from_skipped(applied: usize, skipped: Vec<Skipped>) -> Self {
        if skipped.is_empty() {
            Self::Applied
        } else {
            Self::Partial { applied, skipped }
        }
    }
}

/// One partition a command left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub key: PartitionKey,
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Why a move or a position update was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The partition is not in the state (never discovered, or dropped by `SetTopics`).
    UnknownPartition,
    /// The move was decided for another epoch: someone moved the partition in between.
    EpochMismatch { expected: u64, current: u64 },
    /// The move's target is not registered.
    UnknownNode { node: NodeId },
    /// The move's target is registered but declared dead, or draining.
    DeadNode { node: NodeId },
    /// The update came from a node that does not own the partition under that epoch: a fenced
    /// old owner, or an owner that has not seen its own move yet.
    NotOwner {
        node: NodeId,
        epoch: u64,
        current: Option<Owner>,
    },
    /// The update would move the position backwards.
    Backwards { current: Position },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPartition => f.write_str("unknown partition"),
            Self::EpochMismatch { expected, current } => {
                write!(f, "expected epoch {expected}, current epoch is {current}")
            }
            Self::UnknownNode { node } => write!(f, "node {node} is not registered"),
            Self::DeadNode { node } => write!(f, "node {node} is not alive or is draining"),
            Self::NotOwner {
                node,
                epoch,
                current: Some(owner),
            } => write!(
                f,
                "node {node} at epoch {epoch} is not the owner (node {} at epoch {})",
                owner.node, owner.epoch
            ),
            Self::NotOwner {
                node,
                epoch,
                current: None,
            } => write!(f, "node {node} at epoch {epoch} is not the owner (unowned)"),
            Self::Backwards { current } => write!(
                f,
                "position would move backwards from next source offset {} / last target offset {}",
                current.next_source_offset, current.last_target_offset
            ),
        }
    }
}

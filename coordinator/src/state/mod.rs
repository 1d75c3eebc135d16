//! The replicated state machine of a Strait cluster, and the leader's assignment algorithm.
//!
//! Every change is a [`Command`] in a committed Raft entry, applied in log order by
//! [`ClusterState::apply_bytes`] on every node; apply does no I/O and reads no clock or randomness,
//! so all nodes hold equal states. Only the leader decides: it watches heartbeats and proposes
//! `SetLiveness`, runs topic discovery and proposes `SetTopics`, and proposes the moves of
//! [`plan_assignment`] as `Assign`. Owners propose their own `UpdatePositions`.
//!
//! Fencing: every move bumps the partition's epoch, and a position update counts only if it comes
//! from the current owner under the current epoch, so an old owner that has not noticed its loss
//! cannot overwrite the new owner's progress. Positions never move backwards.

mod assign;
mod command;
mod error;
mod machine;
mod model;
mod outcome;
mod snapshot;
#[cfg(test)]
mod testing;

pub use crate::PartitionKey;
pub use assign::plan_assignment;
pub use command::{Command, PartitionMove, PositionUpdate, TopicInfo};
pub use error::StateError;
pub use machine::{AppliedEntry, ClusterState, MAX_PARTITIONS_PER_TOPIC, MAX_RUNS_PER_PARTITION};
pub use model::{FlowConfig, NodeInfo, PartitionInfo, Throttle};
pub use outcome::{ApplyOutcome, SkipReason, Skipped};

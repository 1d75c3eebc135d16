//! Strait's domain types, shared by every crate: cluster aliases, flows (a source → target pair),
//! topic-partitions and the partition key of a flow, owners with their epochs, and where
//! replication of a partition stands (its [`Position`] and the exact source → target
//! [`OffsetRuns`]). Pure values: no I/O, no encoding. `strait-storage` encodes them in sled,
//! `strait-coordinator` replicates them through Raft; proto and config types are converted to
//! them at the edge.

mod assignment;
mod cluster;
mod error;
mod flow;
mod offsets;
mod topic;

pub use assignment::{NodeId, Owner};
pub use cluster::ClusterAlias;
pub use error::DomainError;
pub use flow::FlowId;
pub use offsets::{OffsetRun, OffsetRuns, Position, RunRecorder, Translation};
pub use topic::{PartitionKey, TopicPartition};

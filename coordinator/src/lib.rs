//! Strait's domain model.
//!
//! These types are what the rest of Strait talks in: cluster aliases, flows (a source → target pair),
//! topic-partitions, the replication policy that names remote topics and prevents cycles, the topic
//! filter. Proto and config types are converted to these at the edge.
//!
//! `state` is the replicated state machine of a Strait cluster (nodes, liveness, flows' topics, the
//! partition → node assignment with epochs, replicated positions) and the leader's balanced, sticky
//! assignment planner; `raft` drives the Raft group (raft-rs) that agrees on it.

mod filter;
pub mod mm2;
mod policy;
pub mod raft;

pub mod state;

pub use filter::{is_internal_topic, TopicFilter, DEFAULT_TOPICS, DEFAULT_TOPICS_EXCLUDE};
pub use policy::ReplicationPolicy;
// The domain types live in their own crate so that storage can encode them without depending on
// the coordinator; they are re-exported here, where the rest of Strait has always found them.
pub use strait_domain::{
    ClusterAlias, DomainError, FlowId, NodeId, OffsetRun, OffsetRuns, Owner, PartitionKey,
    Position, RunRecorder, TopicPartition, Translation,
};

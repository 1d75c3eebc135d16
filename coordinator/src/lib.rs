//! Strait's domain model.
//!
//! These types are what the rest of Strait talks in: cluster aliases, flows (a source → target pair),
//! topic-partitions, the replication policy that names remote topics and prevents cycles, the topic
//! filter. Proto and config types are converted to these at the edge.
//!
//! `state` is the replicated state machine of a Strait cluster (nodes, liveness, flows' topics, the
//! partition → node assignment with epochs, replicated positions) and the leader's balanced, sticky
//! assignment planner; `raft` drives the Raft group (raft-rs) that agrees on it.

mod assignment;
mod cluster;
mod error;
mod filter;
mod flow;
pub mod mm2;
mod policy;
pub mod raft;
mod topic;

pub mod state;

pub use assignment::{NodeId, Owner};
pub use cluster::ClusterAlias;
pub use error::DomainError;
pub use filter::{is_internal_topic, TopicFilter, DEFAULT_TOPICS, DEFAULT_TOPICS_EXCLUDE};
pub use flow::FlowId;
pub use policy::ReplicationPolicy;
pub use topic::TopicPartition;

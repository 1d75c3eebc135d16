//! Strait's domain model.
//!
//! These types are what the rest of Strait talks in: cluster aliases, flows (a source → target pair),
//! topic-partitions, the replication policy that names remote topics and prevents cycles, the topic
//! filter, and the partition → node assignment. Proto and config types are converted to these at the
//! edge. The Raft group that decides the assignment across nodes will live here too; on a single node
//! the assignment is "this node owns everything".

mod assignment;
mod cluster;
mod error;
mod filter;
mod flow;
mod policy;
mod topic;

pub use assignment::{Assignment, NodeId, Owner};
pub use cluster::ClusterAlias;
pub use error::DomainError;
pub use filter::{is_internal_topic, TopicFilter, DEFAULT_TOPICS, DEFAULT_TOPICS_EXCLUDE};
pub use flow::FlowId;
pub use policy::ReplicationPolicy;
pub use topic::TopicPartition;

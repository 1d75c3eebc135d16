//! The Raft group: one task per node owns the raft-rs `RawNode` and drives its Ready loop; everyone
//! else talks to it through a [`RaftHandle`].
//!
//! The log, hard state, conf state and snapshots live in sled (`strait_storage::RaftLog`); the
//! state machine is [`crate::state::ClusterState`]; messages to other nodes go through a
//! [`Transport`] (gRPC in the node, channels in tests), which reports failed deliveries and the fate
//! of every snapshot back through [`DeliveryReports`].

mod driver;
mod handle;
mod leader;
mod logger;
mod transport;

pub use driver::{spawn, FatalError, RaftOptions};
pub use handle::{ProposeError, RaftHandle, RaftRole, RaftStatus};
pub use logger::raft_logger;
pub use transport::{is_snapshot, DeliveryReports, Transport};
#[cfg(test)]
mod tests;

//! The node's side of the Raft cluster: the gRPC transport between nodes (client and server),
//! joining or bootstrapping the group, and starting the Raft task on its own runtime.

mod find;
mod leave;
pub(crate) mod members;
mod membership;
mod outage;
mod removal;
mod server;
pub mod tls;
mod transport;

pub use leave::{request_leave, LeaveError};
pub use members::Removed;
pub(crate) use membership::error_chain;
pub use membership::{start, ClusterError, RunningCluster, StartOptions};
pub use removal::Removal;

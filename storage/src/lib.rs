//! Strait's sled-backed stores.
//!
//! One sled database per node (in the node's data dir) holds one tree per concern. Today that is the
//! replicated positions and the Raft log (entries, hard state, conf state, snapshot, node identity);
//! the offset mappings join it as their feature lands.

mod error;
mod positions;
mod raft_log;
mod store;

pub use error::StorageError;
pub use positions::{Position, PositionKey, PositionStore};
pub use raft_log::RaftLog;
pub use store::Store;

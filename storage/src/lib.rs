//! Strait's sled-backed stores.
//!
//! One sled database per node (in the node's data dir) holds one tree per concern. Today that is the
//! replicated positions, the exact source → target offset mappings (`offset_runs`) and the Raft
//! log (entries, hard state, conf state, snapshot, node identity). The values stored are domain
//! types (`strait-domain`); this crate only encodes them.

mod error;
mod offset_map;
mod positions;
mod raft_log;
mod store;

pub use error::StorageError;
pub use offset_map::OffsetMapStore;
pub use positions::PositionStore;
pub use raft_log::RaftLog;
pub use store::Store;

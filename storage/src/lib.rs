//! Strait's sled-backed stores.
//!
//! One sled database per node (in the node's data dir) holds one tree per concern. Today that is the
//! replicated positions; the Raft log, hard state and snapshots, and the offset mappings join it as
//! their features land.

mod error;
mod positions;
mod store;

pub use error::StorageError;
pub use positions::{Position, PositionKey, PositionStore};
pub use store::Store;

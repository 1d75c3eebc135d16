//! The `strait` node: configuration in, replication out.
//!
//! `node` runs the actor system (flow actors, partition actors, producer actors) over the settings
//! of `strait-config`, keeping positions in `strait-storage`. `check` validates a configuration and
//! shows what it resolves to.

pub mod check;
pub mod cli;
pub mod cluster;
pub mod control;
pub mod cutover;
mod error;
pub mod handover;
pub mod kafka;
pub mod metrics;
pub mod node;
pub mod offsets;
mod progress;
pub mod replication;
pub mod shared_config;
pub mod telemetry;
pub mod verify;

pub use error::NodeError;

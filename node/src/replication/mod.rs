//! The data path: flow actors discover topics and run partition actors, which read from the source
//! in batches and hand them to the flow's producer, within a bounded in-flight budget.

pub mod ack;
pub mod actors;
pub mod budget;
pub mod clients;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod ownership;
pub mod partition;
pub mod producer;
pub mod source;
pub mod stall;
pub mod status;
#[cfg(test)]
pub mod testing;
pub mod throttle;
pub mod topic_configs;
pub mod topics;
pub mod transaction;
pub mod unreported;

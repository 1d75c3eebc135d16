//! The data path: flow actors discover topics and run partition actors, which read from the source
//! and feed the flow's producer actor, within a bounded in-flight budget.

pub mod ack;
pub mod budget;
pub mod error;
pub mod flow;
pub mod partition;
pub mod producer;
pub mod status;
pub mod topics;

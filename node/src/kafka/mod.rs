//! The thin adapter over rdkafka: client configuration, contexts that report errors, admin calls
//! and error classification. Everything here talks librdkafka; the replication logic does not.

mod admin;
mod alter_configs;
mod classify;
mod client;
mod context;

pub use admin::{SourceTopic, TopicAdmin, TopicConfigEntry};
pub use classify::{classify, ErrorClass};
pub use client::{
    admin_config, check_client_properties, consumer_config, producer_config, ClientRole,
    FlowClientConfigs, OffsetReset,
};
pub(crate) use context::reporting_producer_context;
pub use context::{ClientHealth, PartitionOffsets, ReportingContext, SourceOffsets};

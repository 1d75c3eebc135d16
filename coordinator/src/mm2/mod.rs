//! MirrorMaker 2 compatibility, with no Kafka dependency: the byte layout of MM2's internal records
//! (heartbeats, checkpoints, offset syncs), its internal topic names, and its decision rules (when
//! an offset sync or a checkpoint is emitted, how offsets are translated through offset syncs).

mod codec;
mod rules;
mod sync_plan;

pub use codec::{Checkpoint, CodecError, Heartbeat, OffsetSync, VALUE_VERSION};
pub use rules::{
    should_emit_checkpoint, translate_by_syncs, CheckpointOffsets, OffsetSyncRule, SyncDecision,
    SyncPoint, DEFAULT_OFFSET_LAG_MAX,
};
pub use sync_plan::plan_offset_syncs;

/// The heartbeats topic, on the target of every pair (MM2 never renames its base name).
pub const HEARTBEATS_TOPIC: &str = "heartbeats";

/// `<source>.checkpoints.internal`, on the target.
pub fn checkpoints_topic(source_alias: &str) -> String {
    format!("{source_alias}.checkpoints.internal")
}

/// `mm2-offset-syncs.<cluster>.internal`: with `offset-syncs.topic.location = source` (the
/// default) it lives on the source and `cluster` is the target's alias; with `target`, on the
/// target, named after the source's alias.
pub fn offset_syncs_topic(other_alias: &str) -> String {
    format!("mm2-offset-syncs.{other_alias}.internal")
}

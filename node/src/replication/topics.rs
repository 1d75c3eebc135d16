//! Which source topics a flow replicates, and under which remote names.

use strait_config::FlowSettings;
use strait_coordinator::is_internal_topic;

use crate::kafka::SourceTopic;

/// A source topic the flow replicates, with its name on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedTopic {
    pub source: SourceTopic,
    pub remote: String,
}

/// Applies the flow's filter, leaves out internal topics, and never sends a topic back to the
/// cluster it came from (MirrorMaker 2's cycle rule). Heartbeats topics are replicated whatever
/// the filter, as MirrorMaker 2 does (while the flow emits heartbeats).
pub fn select_topics(flow: &FlowSettings, topics: &[SourceTopic]) -> Vec<SelectedTopic> {
    let heartbeats = |name: &str| {
        flow.mm2.emit_heartbeats_enabled && flow.replication_policy.is_heartbeats_topic(name)
    };
    let mut selected: Vec<SelectedTopic> = topics
        .iter()
        .filter(|t| {
            heartbeats(&t.name) || (!is_internal_topic(&t.name) && flow.topics.matches(&t.name))
        })
        .filter(|t| {
            !flow
                .replication_policy
                .would_cycle(&t.name, &flow.id.target)
        })
        .map(|t| SelectedTopic {
            source: t.clone(),
            remote: flow
                .replication_policy
                .remote_topic(&flow.id.source, &t.name),
        })
        .collect();
    selected.sort_by(|a, b| a.source.name.cmp(&b.source.name));
    selected
}

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
/// cluster it came from (MirrorMaker 2's cycle rule).
pub fn select_topics(flow: &FlowSettings, topics: &[SourceTopic]) -> Vec<SelectedTopic> {
    let mut selected: Vec<SelectedTopic> = topics
        .iter()
        .filter(|t| !is_internal_topic(&t.name))
        .filter(|t| flow.topics.matches(&t.name))
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

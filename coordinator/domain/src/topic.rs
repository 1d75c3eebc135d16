use std::fmt;

use crate::FlowId;

/// A partition of a topic on one cluster. Which cluster is always clear from context (a flow's
/// source or target); Strait never keys state by broker id, which differs in meaning across clusters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One source partition of one flow: the unit that is assigned to a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionKey {
    pub flow: FlowId,
    pub tp: TopicPartition,
}

impl PartitionKey {
    pub fn new(flow: FlowId, topic: impl Into<String>, partition: i32) -> Self {
        Self {
            flow,
            tp: TopicPartition::new(topic, partition),
        }
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.flow, self.tp)
    }
}

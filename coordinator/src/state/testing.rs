//! Helpers for the state machine's tests: a small deterministic PRNG and shorthands for commands.

use super::{ApplyOutcome, ClusterState, Command, PartitionKey, TopicInfo};
use crate::{FlowId, NodeId};

/// SplitMix64: tiny, deterministic, good enough to generate scenarios from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

pub fn flow(s: &str) -> FlowId {
    s.parse().expect("valid flow")
}

pub fn key(flow_name: &str, topic: &str, partition: i32) -> PartitionKey {
    PartitionKey::new(flow(flow_name), topic, partition)
}

pub fn register(node: NodeId) -> Command {
    Command::RegisterNode {
        node,
        address: format!("10.0.0.{node}:7070"),
        running: true,
    }
}

pub fn topics(flow_name: &str, topics: &[(&str, i32)]) -> Command {
    let flow = flow(flow_name);
    Command::SetTopics {
        topics: topics
            .iter()
            .map(|(topic, partitions)| TopicInfo {
                topic: (*topic).to_owned(),
                partitions: *partitions,
                remote_topic: format!("{}.{topic}", flow.source),
            })
            .collect(),
        flow,
    }
}

/// Applies commands at consecutive indexes, like a Raft log.
pub struct Log {
    pub state: ClusterState,
}

impl Log {
    pub fn new() -> Self {
        Self {
            state: ClusterState::new(),
        }
    }

    pub fn apply(&mut self, command: Command) -> ApplyOutcome {
        let index = self.state.applied_index() + 1;
        self.state.apply(index, &command)
    }

    /// Applies a command that must take full effect.
    pub fn ok(&mut self, command: Command) {
        let outcome = self.apply(command.clone());
        assert_eq!(outcome, ApplyOutcome::Applied, "{command:?}");
    }
}

use crate::{NodeId, OffsetRuns, Owner, Position};

/// What the cluster knows about one registered node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Where its gRPC services listen, `host:port`.
    pub address: String,
    /// The leader's last verdict: `false` once no heartbeat arrived within the timeout. Only alive
    /// nodes are given partitions.
    pub alive: bool,
    /// Set by an operator's drain: the node is given no partitions (the ones it holds move away)
    /// until the drain is undone.
    pub draining: bool,
    /// The node announced itself while running, since it was registered: it has Raft state (or
    /// lost it). `false` for a node a join or an operator registered that has not run yet.
    pub has_run: bool,
    /// Set by the node itself when it stops (SIGTERM): like `draining`, it is given no partitions
    /// and the ones it holds move away while it still runs, so that they are handed over (each
    /// released at its final position) instead of waiting for the node to be declared dead.
    /// Unlike `draining`, it does not outlive the process: the node's next `RegisterNode` as
    /// running clears it.
    pub stopping: bool,
}

impl NodeInfo {
    /// Partitions may be given to it: alive, and neither draining nor stopping.
    pub fn assignable(&self) -> bool {
        self.alive && !self.draining && !self.stopping
    }
}

/// The cluster's one configuration, as the last accepted `SetFlowConfig` carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// Grows with every accepted change; starts at 1.
    pub version: u64,
    /// The serialized settings; the state machine never looks inside.
    pub settings: Vec<u8>,
    /// The node that submitted this version.
    pub origin_node: NodeId,
}

/// What the cluster knows about one source partition.
///
/// Invariant: when `owner` is set, `owner.epoch == epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The topic's name on the target.
    pub remote_topic: String,
    /// How many times the partition was assigned. Kept when the owner is removed, so that the next
    /// owner's epoch is greater than any earlier owner's.
    pub epoch: u64,
    /// The node that replicates it now, `None` while unowned (new, or its owner was removed).
    pub owner: Option<Owner>,
    /// The last position an owner replicated, `None` until the first update. Survives moves: the
    /// next owner resumes from it.
    pub position: Option<Position>,
    /// After a move away from a live node: that node, until it reports (`Release`) that it stopped
    /// writing the partition. The new owner starts only once this is `None`, so two nodes never
    /// write one partition during a planned move. Cleared as well when that node is declared dead
    /// or removed.
    pub releasing: Option<NodeId>,
    /// The source → target offset runs its owners reported (at most
    /// [`MAX_RUNS_PER_PARTITION`](super::MAX_RUNS_PER_PARTITION), the oldest dropped first):
    /// any node can translate offsets of any partition, and they survive the owner's loss.
    pub runs: OffsetRuns,
}

impl PartitionInfo {
    pub(super) fn unowned(remote_topic: String) -> Self {
        Self {
            remote_topic,
            epoch: 0,
            owner: None,
            position: None,
            releasing: None,
            runs: OffsetRuns::new(),
        }
    }
}

/// A rate limit on a flow for the whole cluster (each owner applies its share); 0 is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttle {
    pub records_per_second: u64,
    pub bytes_per_second: u64,
}

impl Throttle {
    /// Neither records nor bytes are limited.
    pub fn is_unlimited(&self) -> bool {
        self.records_per_second == 0 && self.bytes_per_second == 0
    }
}

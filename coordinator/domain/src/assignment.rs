/// A node's stable identity in a Strait cluster (never 0).
pub type NodeId = u64;

/// Who replicates a source partition, and since when. The epoch grows with every move, so a node
/// that still holds an older epoch knows it has been fenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub node: NodeId,
    pub epoch: u64,
}

//! Adding and removing members: the same steps whether a node joins (or leaves) by itself through
//! the Raft transport or an operator asks through the control API.

use strait_coordinator::raft::{ProposeError, RaftHandle};
use strait_coordinator::state::Command;
use strait_coordinator::NodeId;

/// Registers `node` at `address`, then makes it a voter. The address comes first so the leader
/// can reach the new voter as soon as it is added. Idempotent.
pub async fn add_member(
    raft: &RaftHandle,
    node: NodeId,
    address: &str,
) -> Result<(), ProposeError> {
    raft.propose(Command::RegisterNode {
        node,
        address: address.to_owned(),
    })
    .await?;
    if !raft.status().voters.contains(&node) {
        raft.add_voter(node).await?;
    }
    Ok(())
}

/// Removes `node`: its partitions go to the others first, then it stops being a voter.
/// Idempotent.
pub async fn remove_member(raft: &RaftHandle, node: NodeId) -> Result<(), ProposeError> {
    if raft.state().node(node).is_some() {
        raft.propose(Command::RemoveNode { node }).await?;
    }
    if raft.status().voters.contains(&node) {
        raft.remove_voter(node).await?;
    }
    Ok(())
}

/// Whether `node` is registered or a voter.
pub fn is_member(raft: &RaftHandle, node: NodeId) -> bool {
    raft.state().node(node).is_some() || raft.status().voters.contains(&node)
}

//! Adding and removing members: the same steps whether a node joins (or leaves) by itself through
//! the Raft transport or an operator asks through the control API.

use strait_coordinator::raft::{ProposeError, RaftHandle};
use strait_coordinator::state::{ClusterState, Command};
use strait_coordinator::NodeId;
use thiserror::Error;
use tonic::Status;

/// Why `node` at `address` cannot be added.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MemberConflict {
    /// Another node runs under this id: adding it again would move the member's traffic here.
    #[error("node_id: node {node} is already a member, at {address}")]
    IdTaken { node: NodeId, address: String },
    #[error("address: {address} is node {other}'s address")]
    AddressTaken { address: String, other: NodeId },
    /// Removing the only voter would leave a cluster nobody can run: raft-rs rejects that conf
    /// change, but only after the node was unregistered (and had drained and exited).
    #[error(
        "node_id: node {node} is the cluster's only voter: removing it would leave no cluster \
         (stop the node instead)"
    )]
    LastVoter { node: NodeId },
}

impl From<MemberConflict> for Status {
    fn from(conflict: MemberConflict) -> Self {
        match conflict {
            MemberConflict::IdTaken { .. } => Status::already_exists(conflict.to_string()),
            MemberConflict::AddressTaken { .. } => Status::invalid_argument(conflict.to_string()),
            MemberConflict::LastVoter { .. } => Status::failed_precondition(conflict.to_string()),
        }
    }
}

/// Checks that `node` at `address` can be added: neither its id nor its address belongs to another
/// member. The same node at the same address passes (a retried join or add).
pub fn check_new_member(
    state: &ClusterState,
    node: NodeId,
    address: &str,
) -> Result<(), MemberConflict> {
    if let Some(info) = state.node(node) {
        if info.address != address {
            return Err(MemberConflict::IdTaken {
                node,
                address: info.address.clone(),
            });
        }
    }
    if let Some((other, _)) = state
        .nodes()
        .find(|(id, info)| **id != node && info.address == address)
    {
        return Err(MemberConflict::AddressTaken {
            address: address.to_owned(),
            other: *other,
        });
    }
    Ok(())
}

/// Registers `node` at `address` (on its behalf: it has not run yet), then makes it a voter. The
/// address comes first so the leader can reach the new voter as soon as it is added. Idempotent.
/// Callers check [`check_new_member`] first.
pub async fn add_member(
    raft: &RaftHandle,
    node: NodeId,
    address: &str,
) -> Result<(), ProposeError> {
    raft.propose(Command::RegisterNode {
        node,
        address: address.to_owned(),
        running: false,
    })
    .await?;
    if !raft.status().voters.contains(&node) {
        raft.add_voter(node).await?;
    }
    Ok(())
}

/// Checks that `node` can be removed: some other voter stays. Checked before anything changes, so
/// a refused removal changes nothing.
pub fn check_removal(raft: &RaftHandle, node: NodeId) -> Result<(), MemberConflict> {
    only_voter_check(&raft.status().voters, node)
}

fn only_voter_check(voters: &[NodeId], node: NodeId) -> Result<(), MemberConflict> {
    if voters.iter().all(|v| *v == node) && voters.contains(&node) {
        return Err(MemberConflict::LastVoter { node });
    }
    Ok(())
}

/// What a removal did, for the operator who asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Partitions the node held (owned or releasing): they move to the others.
    pub partitions_moved: usize,
    /// Whether it was a voter until now.
    pub was_voter: bool,
    /// The voters after the removal.
    pub voters: Vec<NodeId>,
    /// Where its partitions can go: the nodes alive and not draining.
    pub moved_to: Vec<NodeId>,
}

impl Removed {
    /// What the operator reads after `strait leave` / `remove-node`.
    pub fn describe(&self, node: NodeId) -> String {
        let ids = |ids: &[NodeId]| {
            ids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!("node {node} removed from the cluster: ");
        match (self.partitions_moved, self.moved_to.as_slice()) {
            (0, _) => text.push_str("it held no partition"),
            (n, []) => text.push_str(&format!(
                "its {n} partition(s) wait for a live node (none is alive and not draining)"
            )),
            (n, to) => text.push_str(&format!("its {n} partition(s) move to node(s) {}", ids(to))),
        }
        if self.was_voter {
            text.push_str(&format!("; voters now {}", ids(&self.voters)));
        }
        text.push_str(&format!(
            ".\nA running node {node} drains and exits by itself; started again on its data dir it \
             refuses to run. To add it back: `strait node --config FILE --rejoin` on that node."
        ));
        text
    }
}

/// Removes `node`: its partitions go to the others first (and the state remembers the removal,
/// which tells the node to stop), then it stops being a voter. Idempotent. Callers check
/// [`check_removal`] first.
pub async fn remove_member(raft: &RaftHandle, node: NodeId) -> Result<Removed, ProposeError> {
    let state = raft.state();
    let partitions_moved = state.held_by(node);
    if state.node(node).is_some() || !state.was_removed(node) {
        raft.propose(Command::RemoveNode { node }).await?;
    }
    let was_voter = raft.status().voters.contains(&node);
    if was_voter {
        raft.remove_voter(node).await?;
    }
    Ok(Removed {
        partitions_moved,
        was_voter,
        // The status may not show the applied conf change yet.
        voters: raft
            .status()
            .voters
            .into_iter()
            .filter(|v| *v != node)
            .collect(),
        moved_to: raft.state().assignable_nodes().collect(),
    })
}

/// Whether `node` is registered or a voter.
pub fn is_member(raft: &RaftHandle, node: NodeId) -> bool {
    raft.state().node(node).is_some() || raft.status().voters.contains(&node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster_of(nodes: &[(NodeId, &str)]) -> ClusterState {
        let mut state = ClusterState::new();
        for (index, (node, address)) in nodes.iter().enumerate() {
            let command = Command::RegisterNode {
                node: *node,
                address: (*address).to_owned(),
                running: true,
            };
            state.apply(index as u64 + 1, &command);
        }
        state
    }

    #[test]
    fn a_member_id_or_address_cannot_be_reused_but_a_retry_passes() {
        let state = cluster_of(&[(1, "a:7000"), (2, "b:7000")]);
        assert_eq!(check_new_member(&state, 3, "c:7000"), Ok(()));
        assert_eq!(
            check_new_member(&state, 1, "a:7000"),
            Ok(()),
            "same id, same address"
        );
        let taken = check_new_member(&state, 1, "c:7000").unwrap_err();
        assert_eq!(
            taken.to_string(),
            "node_id: node 1 is already a member, at a:7000"
        );
        assert_eq!(Status::from(taken).code(), tonic::Code::AlreadyExists);
        let address = check_new_member(&state, 3, "b:7000").unwrap_err();
        assert_eq!(address.to_string(), "address: b:7000 is node 2's address");
        assert_eq!(Status::from(address).code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn a_removal_says_what_it_did() {
        let removed = Removed {
            partitions_moved: 4,
            was_voter: true,
            voters: vec![1, 2],
            moved_to: vec![1, 2],
        };
        assert_eq!(
            removed.describe(3),
            "node 3 removed from the cluster: its 4 partition(s) move to node(s) 1, 2; voters now \
             1, 2.\nA running node 3 drains and exits by itself; started again on its data dir it \
             refuses to run. To add it back: `strait node --config FILE --rejoin` on that node."
        );
        let idle = Removed {
            partitions_moved: 0,
            was_voter: false,
            voters: vec![1],
            moved_to: vec![1],
        };
        assert!(idle
            .describe(2)
            .starts_with("node 2 removed from the cluster: it held no partition.\n"));
    }

    #[test]
    fn the_only_voter_cannot_be_removed() {
        let last = only_voter_check(&[1], 1).unwrap_err();
        assert_eq!(
            Status::from(last.clone()).code(),
            tonic::Code::FailedPrecondition
        );
        assert!(
            last.to_string()
                .contains("node 1 is the cluster's only voter"),
            "{last}"
        );
        assert_eq!(only_voter_check(&[1, 2], 1), Ok(()));
        assert_eq!(only_voter_check(&[1], 2), Ok(()), "a registered non-voter");
    }
}

//! How the rest of the node talks to the Raft task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::eraftpb::{ConfChangeType, Message};
use raft::SnapshotStatus;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

use crate::state::{ApplyOutcome, ClusterState, Command};
use crate::NodeId;

/// What a node is in the Raft group right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RaftRole {
    Leader,
    Candidate,
    #[default]
    Follower,
}

/// The Raft task's view of itself, published after every Ready.
#[derive(Debug, Clone, Default)]
pub struct RaftStatus {
    pub id: NodeId,
    pub role: RaftRole,
    /// 0 when no leader is known.
    pub leader: NodeId,
    pub term: u64,
    pub commit: u64,
    pub applied: u64,
    /// When this node last asked a read-index round that the leader confirmed (with a quorum) and
    /// whose commit index this node has applied: its state was current as of then. `None`: not
    /// since it started.
    pub synced_at: Option<Instant>,
    /// The voters of the current configuration.
    pub voters: Vec<NodeId>,
}

impl RaftStatus {
    /// Whether this node's state was confirmed current by a leader and a quorum within `timeout`
    /// (see [`synced_at`](Self::synced_at)). A short election does not break it; a restarted node
    /// still replaying its old log, or one cut off from the quorum, does not have it.
    pub fn has_quorum_contact(&self, timeout: Duration) -> bool {
        self.synced_at.is_some_and(|t| t.elapsed() < timeout)
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProposeError {
    /// There is no leader to take the proposal (an election is running, or no quorum): retry.
    #[error("no Raft leader is known right now")]
    NoLeader,
    /// The proposal was not committed in time (lost leadership, dropped message): retry.
    #[error("the proposal was not committed within {0:?}")]
    Timeout(Duration),
    /// The Raft task has stopped.
    #[error("the Raft task has stopped")]
    Stopped,
    #[error("raft rejected the proposal: {0}")]
    Rejected(String),
}

pub(crate) enum Input {
    /// A message from another node.
    Step(Message),
    Propose {
        command: Command,
        reply: oneshot::Sender<Result<ApplyOutcome, ProposeError>>,
    },
    ConfChange {
        change: ConfChangeType,
        node: NodeId,
        reply: oneshot::Sender<Result<(), ProposeError>>,
    },
    /// This node stops: mark it `stopping` in the cluster (and keep it so), see
    /// [`RaftHandle::begin_stop`].
    Stop {
        reply: oneshot::Sender<Result<ApplyOutcome, ProposeError>>,
    },
    /// Hand the leadership to `to` (if this node leads and `to` is a voter).
    TransferLeader { to: NodeId },
    /// The transport could not deliver messages to `to` (see `DeliveryReports`).
    Unreachable { to: NodeId },
    /// What became of a snapshot sent to `to`.
    SnapshotStatus { to: NodeId, status: SnapshotStatus },
}

/// A cheap-to-clone handle on the Raft task.
#[derive(Clone)]
pub struct RaftHandle {
    pub(crate) inbox: mpsc::Sender<Input>,
    pub(crate) state: watch::Receiver<Arc<ClusterState>>,
    pub(crate) status: watch::Receiver<RaftStatus>,
}

/// How long a proposal may take to commit before the caller is told to retry.
pub const PROPOSE_TIMEOUT: Duration = Duration::from_secs(5);

impl RaftHandle {
    /// Hands a message from a peer to the Raft task. Drops it when the task is saturated: Raft
    /// recovers lost messages by retrying.
    pub fn step(&self, message: Message) {
        let _ = self.inbox.try_send(Input::Step(message));
    }

    /// Proposes `command` (forwarded to the leader by Raft if this node is a follower) and waits
    /// until it is committed and applied here.
    pub async fn propose(&self, command: Command) -> Result<ApplyOutcome, ProposeError> {
        self.ask(|reply| Input::Propose { command, reply }).await
    }

    /// This node stops for a restart (SIGTERM): proposes `SetStopping` for it, so that the leader
    /// hands its partitions to the others while it still runs, and keeps the mark (it no longer
    /// registers itself to clear it). Its next process clears it by registering. Answered once
    /// applied, like [`propose`](Self::propose).
    pub async fn begin_stop(&self) -> Result<ApplyOutcome, ProposeError> {
        self.ask(|reply| Input::Stop { reply }).await
    }

    /// Asks the Raft task to hand the leadership to `to` (raft-rs `transfer_leader`: the leader
    /// waits until `to` has its log, then tells it to campaign at once). Without effect unless this
    /// node leads; watch [`status`](Self::status) for the outcome.
    pub fn transfer_leader(&self, to: NodeId) {
        let _ = self.inbox.try_send(Input::TransferLeader { to });
    }

    /// Adds `node` as a voter (the leader must be reachable).
    pub async fn add_voter(&self, node: NodeId) -> Result<(), ProposeError> {
        self.conf_change(ConfChangeType::AddNode, node).await
    }

    pub async fn remove_voter(&self, node: NodeId) -> Result<(), ProposeError> {
        self.conf_change(ConfChangeType::RemoveNode, node).await
    }

    async fn conf_change(&self, change: ConfChangeType, node: NodeId) -> Result<(), ProposeError> {
        self.ask(|reply| Input::ConfChange {
            change,
            node,
            reply,
        })
        .await
    }

    /// Sends the Raft task a request carrying a reply channel and waits for the answer, at most
    /// [`PROPOSE_TIMEOUT`].
    async fn ask<T>(
        &self,
        input: impl FnOnce(oneshot::Sender<Result<T, ProposeError>>) -> Input,
    ) -> Result<T, ProposeError> {
        let (reply, outcome) = oneshot::channel();
        self.inbox
            .send(input(reply))
            .await
            .map_err(|_| ProposeError::Stopped)?;
        match tokio::time::timeout(PROPOSE_TIMEOUT, outcome).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ProposeError::Stopped),
            Err(_) => Err(ProposeError::Timeout(PROPOSE_TIMEOUT)),
        }
    }

    /// The state machine as of the last applied entry.
    pub fn state(&self) -> Arc<ClusterState> {
        self.state.borrow().clone()
    }

    /// Waits for state changes.
    pub fn watch_state(&self) -> watch::Receiver<Arc<ClusterState>> {
        self.state.clone()
    }

    pub fn status(&self) -> RaftStatus {
        self.status.borrow().clone()
    }

    pub fn watch_status(&self) -> watch::Receiver<RaftStatus> {
        self.status.clone()
    }
}

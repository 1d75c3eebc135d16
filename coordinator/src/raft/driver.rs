//! The Raft task. One loop owns the `RawNode`: it ticks the clock, steps messages from peers, takes
//! proposals, and handles each `Ready` in the order raft-rs prescribes. Nothing else touches Raft.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, Entry, EntryType, Message};
use raft::{RawNode, StateRole};
use strait_storage::RaftLog;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::handle::{Input, ProposeError, RaftHandle, RaftRole, RaftStatus};
use super::leader::LeaderDuties;
use super::logger::raft_logger;
use super::transport::{DeliveryReports, Transport};
use crate::state::{ApplyOutcome, ClusterState, Command};
use crate::NodeId;

/// Settings of the Raft task.
#[derive(Debug, Clone)]
pub struct RaftOptions {
    /// This node's id (never 0).
    pub id: NodeId,
    /// This node's gRPC address, registered in the cluster state.
    pub address: String,
    /// One Raft clock tick. Default 100 ms.
    pub tick: Duration,
    /// Ticks without a leader before a follower campaigns. Default 10 (1 s).
    pub election_ticks: usize,
    /// Ticks between leader heartbeats. Default 2 (200 ms).
    pub heartbeat_ticks: usize,
    /// A node not heard from for this long is declared dead by the leader, and a node that has not
    /// heard from a leader for this long stops writing. Default 3 s.
    pub liveness_timeout: Duration,
    /// Applied entries between state machine snapshots (log compaction). Default 1000.
    pub snapshot_every: u64,
}

impl RaftOptions {
    pub fn new(id: NodeId, address: impl Into<String>) -> Self {
        Self {
            id,
            address: address.into(),
            tick: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            liveness_timeout: Duration::from_secs(3),
            snapshot_every: 1000,
        }
    }
}

/// Starts the Raft task over `log` (bootstrapped or joined by the caller beforehand). The task
/// ends with `Ok` once every [`RaftHandle`] is dropped, or with the [`FatalError`] that stopped it.
pub fn spawn(
    options: RaftOptions,
    log: RaftLog,
    transport: Arc<dyn Transport>,
) -> Result<(RaftHandle, JoinHandle<Result<(), FatalError>>), raft::Error> {
    let (state, applied) = match log
        .latest_snapshot()
        .map_err(|e| raft::Error::Store(raft::StorageError::Other(Box::new(e))))?
    {
        Some(snapshot) if !snapshot.get_data().is_empty() => (
            ClusterState::from_snapshot_bytes(snapshot.get_data())
                .map_err(|e| raft::Error::Store(raft::StorageError::Other(Box::new(e))))?,
            snapshot.get_metadata().get_index(),
        ),
        _ => (ClusterState::default(), 0),
    };
    let config = raft::Config {
        id: options.id,
        election_tick: options.election_ticks,
        heartbeat_tick: options.heartbeat_ticks,
        applied,
        // A leader that cannot reach a quorum steps down within an election timeout.
        check_quorum: true,
        // A partitioned node rejoining does not disrupt the cluster with a higher term.
        pre_vote: true,
        max_size_per_msg: 1024 * 1024,
        max_inflight_msgs: 256,
        ..Default::default()
    };
    config.validate()?;
    let raw = RawNode::new(&config, log.clone(), &raft_logger())?;
    let (inbox_tx, inbox) = mpsc::channel(4096);
    transport.attach(DeliveryReports {
        inbox: inbox_tx.downgrade(),
    });
    let state = Arc::new(state);
    let (state_tx, state_rx) = watch::channel(state.clone());
    let (status_tx, status_rx) = watch::channel(RaftStatus {
        id: options.id,
        ..Default::default()
    });
    let driver = Driver {
        duties: LeaderDuties::new(options.id, options.liveness_timeout),
        raw,
        log,
        state: (*state).clone(),
        transport,
        inbox,
        state_tx,
        status_tx,
        pending: HashMap::new(),
        pending_conf: HashMap::new(),
        next_proposal: 0,
        last_snapshot_index: applied,
        compact_for_new_node: false,
        pending_read: None,
        confirmed_read: None,
        next_read: 0,
        options,
    };
    let handle = RaftHandle {
        inbox: inbox_tx,
        state: state_rx,
        status: status_rx,
    };
    Ok((handle, tokio::spawn(driver.run())))
}

type Reply<T> = oneshot::Sender<Result<T, ProposeError>>;

/// How often a node confirms with the leader that its state is current.
const READ_INDEX_EVERY: Duration = Duration::from_millis(300);
/// A read-index round unanswered this long is asked again (the message may have been lost).
const READ_INDEX_RETRY: Duration = Duration::from_secs(1);

/// Why the Raft task had to stop: a node that cannot persist, or cannot read what the others
/// applied, must not vote, lead or act on a diverging state.
#[derive(Debug, thiserror::Error)]
pub enum FatalError {
    #[error(transparent)]
    Storage(#[from] strait_storage::StorageError),
    #[error("committed entry {index} cannot be applied: {reason}")]
    Unreadable { index: u64, reason: String },
    #[error("the leader's snapshot at index {index} cannot be read: {reason}")]
    UnreadableSnapshot { index: u64, reason: String },
}

struct Driver {
    options: RaftOptions,
    raw: RawNode<RaftLog>,
    log: RaftLog,
    /// The state machine, as of the last applied entry.
    state: ClusterState,
    transport: Arc<dyn Transport>,
    inbox: mpsc::Receiver<Input>,
    state_tx: watch::Sender<Arc<ClusterState>>,
    status_tx: watch::Sender<RaftStatus>,
    /// Proposals made on this node, by proposal id, waiting to be applied.
    pending: HashMap<u64, Reply<ApplyOutcome>>,
    pending_conf: HashMap<u64, Reply<()>>,
    next_proposal: u64,
    last_snapshot_index: u64,
    /// A node was added: compact at the end of this Ready (see `apply_conf_change`).
    compact_for_new_node: bool,
    duties: LeaderDuties,
    /// The read-index round in flight: its context and when it was asked.
    pending_read: Option<(u64, Instant)>,
    /// The last confirmed round: the leader's commit index then, and when the round was asked.
    confirmed_read: Option<(u64, Instant)>,
    next_read: u64,
}

impl Driver {
    async fn run(mut self) -> Result<(), FatalError> {
        let mut ticker = tokio::time::interval(self.options.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.on_tick(),
                input = self.inbox.recv() => match input {
                    Some(input) => self.on_input(input),
                    // Every handle is gone: the node is shutting down.
                    None => return Ok(()),
                },
            }
            if let Err(error) = self.on_ready() {
                tracing::error!(%error, "stopping the raft task");
                return Err(error);
            }
            self.publish_status();
        }
    }

    fn on_tick(&mut self) {
        self.raw.tick();
        let leading = self.raw.raft.state == StateRole::Leader;
        self.ask_read_index();
        // Callers that gave up (timed out) no longer need an answer.
        self.pending.retain(|_, reply| !reply.is_closed());
        self.pending_conf.retain(|_, reply| !reply.is_closed());

        let leader = self.raw.raft.leader_id;
        let commands = self
            .duties
            .on_tick(leading, leader, &self.state, &self.options.address);
        for command in commands {
            if let Err(error) = self.propose(command, None) {
                tracing::debug!(%error, "leader duty proposal not taken");
            }
        }
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Step(message) => {
                let from = message.from;
                self.duties.heard_from(from);
                if let Err(error) = self.raw.step(message) {
                    // Messages from unknown peers or stale terms: Raft ignores them by design.
                    tracing::debug!(%error, from, "raft step rejected a message");
                }
            }
            Input::Propose { command, reply } => {
                if let Err(error) = self.propose(command, Some(reply)) {
                    tracing::debug!(%error, "proposal not taken");
                }
            }
            Input::ConfChange {
                change,
                node,
                reply,
            } => self.propose_conf_change(change, node, reply),
            Input::Stop { reply } => {
                self.duties.stop();
                let command = Command::SetStopping {
                    node: self.options.id,
                    stopping: true,
                };
                if let Err(error) = self.propose(command, Some(reply)) {
                    tracing::debug!(%error, "stopping mark not proposed");
                }
            }
            Input::TransferLeader { to } => {
                if self.raw.raft.state == StateRole::Leader && to != self.options.id {
                    tracing::info!(to, "handing the Raft leadership over");
                    self.raw.transfer_leader(to);
                }
            }
            Input::Unreachable { to } => self.raw.report_unreachable(to),
            Input::SnapshotStatus { to, status } => {
                // After a failure the leader probes the follower again and sends a new snapshot.
                tracing::debug!(to, ?status, "snapshot delivery reported");
                self.raw.report_snapshot(to, status);
            }
        }
    }

    /// Starts a read-index round about every few ticks: the leader confirms with a quorum that it
    /// still leads and answers with its commit index. Once this node has applied that index, its
    /// state is at least as new as the cluster's was when the round was asked. That, not merely
    /// hearing from a leader, is what lets a node act on its state (a restarted node replaying an
    /// old log, or a healed one, must not run partitions that moved meanwhile).
    fn ask_read_index(&mut self) {
        let now = Instant::now();
        if let Some((_, asked)) = self.pending_read {
            if now - asked < READ_INDEX_RETRY {
                return;
            }
        }
        if self
            .confirmed_read
            .is_some_and(|(_, asked)| now - asked < READ_INDEX_EVERY)
            && self.pending_read.is_none()
        {
            return;
        }
        if self.raw.raft.leader_id == 0 {
            return;
        }
        self.next_read += 1;
        self.pending_read = Some((self.next_read, now));
        self.raw.read_index(self.next_read.to_be_bytes().to_vec());
    }

    fn on_read_states(&mut self, states: Vec<raft::ReadState>) {
        for state in states {
            let Ok(bytes) = <[u8; 8]>::try_from(state.request_ctx.as_slice()) else {
                continue;
            };
            if let Some((id, asked)) = self.pending_read {
                if id == u64::from_be_bytes(bytes) {
                    self.confirmed_read = Some((state.index, asked));
                    self.pending_read = None;
                }
            }
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_proposal += 1;
        // Unique across nodes: a follower's proposal is applied everywhere, and only the proposer
        // finds it in its `pending`.
        (self.options.id << 40) | (self.next_proposal & ((1 << 40) - 1))
    }

    fn propose(
        &mut self,
        command: Command,
        reply: Option<Reply<ApplyOutcome>>,
    ) -> Result<(), ProposeError> {
        let result = if self.raw.raft.leader_id == 0 {
            Err(ProposeError::NoLeader)
        } else {
            let id = self.next_id();
            match self.raw.propose(Vec::new(), command.encode(id)) {
                Ok(()) => {
                    if let Some(reply) = reply {
                        self.pending.insert(id, reply);
                    }
                    return Ok(());
                }
                Err(raft::Error::ProposalDropped) => Err(ProposeError::NoLeader),
                Err(error) => Err(ProposeError::Rejected(error.to_string())),
            }
        };
        if let (Err(error), Some(reply)) = (&result, reply) {
            let _ = reply.send(Err(error.clone()));
        }
        result
    }

    fn propose_conf_change(&mut self, change: ConfChangeType, node: NodeId, reply: Reply<()>) {
        if self.raw.raft.leader_id == 0 {
            let _ = reply.send(Err(ProposeError::NoLeader));
            return;
        }
        let id = self.next_id();
        let mut cc = ConfChange::default();
        cc.set_change_type(change);
        cc.node_id = node;
        match self.raw.propose_conf_change(id.to_be_bytes().to_vec(), cc) {
            Ok(()) => {
                self.pending_conf.insert(id, reply);
            }
            Err(raft::Error::ProposalDropped) => {
                let _ = reply.send(Err(ProposeError::NoLeader));
            }
            Err(error) => {
                let _ = reply.send(Err(ProposeError::Rejected(error.to_string())));
            }
        }
    }

    /// One Ready, handled in raft-rs's order: (1) send messages the leader may send before
    /// persisting, (2) install a snapshot, (3) apply committed entries, (4) append new entries,
    /// (5) persist the hard state, (6) sync and then send the messages that needed persistence,
    /// (7) advance, and apply what the LightReady still carries, (8) advance_apply.
    fn on_ready(&mut self) -> Result<(), FatalError> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();

        // (1)
        self.send(ready.take_messages());
        let read_states = ready.take_read_states();
        self.on_read_states(read_states);

        // (2)
        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot().clone();
            let index = snapshot.get_metadata().get_index();
            // Decoded before it is stored: a snapshot this node cannot read must not advance its
            // log past state it does not have (like an unreadable entry, see `apply_normal`).
            let state =
                ClusterState::from_snapshot_bytes(snapshot.get_data()).map_err(|error| {
                    FatalError::UnreadableSnapshot {
                        index,
                        reason: error.to_string(),
                    }
                })?;
            self.log.apply_snapshot(&snapshot)?;
            self.state = state;
            self.last_snapshot_index = index;
            self.state_tx.send_replace(Arc::new(self.state.clone()));
            tracing::info!(index, "installed the leader's snapshot");
        }

        // (3)
        let committed = ready.take_committed_entries();
        self.apply(committed)?;

        // (4)
        if !ready.entries().is_empty() {
            self.log.append(ready.entries())?;
        }

        // (5)
        if let Some(hard_state) = ready.hs() {
            self.log.set_hard_state(hard_state)?;
        }

        // (6)
        self.log.sync()?;
        self.send(ready.take_persisted_messages());

        // (7)
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.log.set_commit(commit)?;
        }
        self.send(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed)?;

        // (8)
        self.raw.advance_apply();
        self.maybe_compact()?;
        Ok(())
    }

    fn send(&self, messages: Vec<Message>) {
        if !messages.is_empty() {
            self.transport.send(messages);
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), FatalError> {
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            match entry.get_entry_type() {
                EntryType::EntryNormal => self.apply_normal(&entry)?,
                EntryType::EntryConfChange => self.apply_conf_change(&entry)?,
                EntryType::EntryConfChangeV2 => {
                    self.state.mark_applied(entry.index);
                    tracing::warn!(
                        index = entry.index,
                        "ignoring a ConfChangeV2 entry (not used)"
                    );
                }
            }
        }
        self.state_tx.send_replace(Arc::new(self.state.clone()));
        Ok(())
    }

    fn apply_normal(&mut self, entry: &Entry) -> Result<(), FatalError> {
        // Empty entries (a new leader's) advance the applied index too.
        let applied = self
            .state
            .apply_bytes(entry.index, &entry.data)
            .map_err(|error| {
                // Every node applies the same entries: one this node cannot read (e.g. written by a
                // newer version) means it must stop rather than diverge.
                FatalError::Unreadable {
                    index: entry.index,
                    reason: error.to_string(),
                }
            })?;
        if let Some(id) = applied.proposal_id {
            self.duties.applied(id);
            if let Some(reply) = self.pending.remove(&id) {
                let _ = reply.send(Ok(applied.outcome.clone()));
            }
        }
        if let ApplyOutcome::Rejected(reason) = &applied.outcome {
            tracing::warn!(index = entry.index, %reason, "raft entry rejected by the state machine");
        }
        Ok(())
    }

    fn apply_conf_change(&mut self, entry: &Entry) -> Result<(), FatalError> {
        // Like a normal entry: skipping a membership change others applied would make this node
        // disagree on who votes, so one it cannot read stops it.
        let cc =
            ConfChange::parse_from_bytes(&entry.data).map_err(|error| FatalError::Unreadable {
                index: entry.index,
                reason: format!("conf change: {error}"),
            })?;
        let result = match self.raw.apply_conf_change(&cc) {
            Ok(conf_state) => {
                self.log.set_conf_state(&conf_state)?;
                tracing::info!(node = cc.node_id, change = ?cc.get_change_type(),
                    voters = ?conf_state.voters, "membership changed");
                // A new node starts with an empty log, and compacting now makes the leader send
                // it a snapshot of the state as of its addition, never older entries. Those would
                // mislead it twice: the founders' voters are in no entry (a bootstrap stores them
                // as the conf state at index 0), so replaying a never-compacted log from index 1
                // it would count only the voters added since, itself among them, a quorum of its
                // own; and a node that rejoins under its old id would first see itself registered,
                // then removed, and leave.
                if cc.get_change_type() != ConfChangeType::RemoveNode {
                    self.compact_for_new_node = true;
                }
                Ok(())
            }
            Err(error) => Err(ProposeError::Rejected(error.to_string())),
        };
        self.state.mark_applied(entry.index);
        if let Ok(bytes) = <[u8; 8]>::try_from(entry.get_context()) {
            if let Some(reply) = self.pending_conf.remove(&u64::from_be_bytes(bytes)) {
                let _ = reply.send(result);
            }
        }
        Ok(())
    }

    /// Log compaction: snapshot the state machine every `snapshot_every` applied entries, and
    /// when a node was added.
    fn maybe_compact(&mut self) -> Result<(), FatalError> {
        let applied = self.raw.raft.raft_log.applied;
        let for_new_node = std::mem::take(&mut self.compact_for_new_node);
        if applied < self.last_snapshot_index + self.options.snapshot_every && !for_new_node {
            return Ok(());
        }
        self.log.compact(applied, self.state.to_snapshot_bytes())?;
        self.last_snapshot_index = applied;
        tracing::debug!(applied, "raft log compacted");
        Ok(())
    }

    fn publish_status(&self) {
        let raft = &self.raw.raft;
        let role = match raft.state {
            StateRole::Leader => RaftRole::Leader,
            StateRole::Candidate | StateRole::PreCandidate => RaftRole::Candidate,
            StateRole::Follower => RaftRole::Follower,
        };
        let mut voters: Vec<NodeId> = raft.prs().conf().voters().ids().iter().collect();
        voters.sort_unstable();
        let applied = raft.raft_log.applied;
        let synced_at = self
            .confirmed_read
            .filter(|(index, _)| applied >= *index)
            .map(|(_, asked)| asked);
        let status = RaftStatus {
            id: self.options.id,
            role,
            leader: raft.leader_id,
            term: raft.term,
            commit: raft.raft_log.committed,
            applied,
            synced_at,
            voters,
        };
        self.status_tx.send_replace(status);
    }
}

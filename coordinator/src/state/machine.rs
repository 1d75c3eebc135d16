use std::collections::{BTreeMap, BTreeSet};

use crate::{OffsetRun, Position};

use super::{
    ApplyOutcome, Command, FlowConfig, NodeInfo, PartitionInfo, PartitionKey, PartitionMove,
    PositionUpdate, SkipReason, Skipped, StateError, Throttle, TopicInfo,
};
use crate::{FlowId, NodeId, Owner, TopicPartition};

/// More partitions than this in one topic is taken for a broken discovery, not a topic: every node
/// would otherwise allocate them all.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 100_000;

/// Offset runs kept per partition in the cluster state; the oldest go first. A partition whose
/// offsets break this often (heavily compacted, or transactional) is translated exactly over
/// its latest runs and by MM2's rule below them.
pub const MAX_RUNS_PER_PARTITION: usize = 1_000;

/// The replicated state of a Strait cluster: nodes, the configuration, every source partition with
/// its owner and replicated position.
///
/// It changes only through [`ClusterState::apply`] of committed entries, which does no I/O and reads
/// no clock or randomness, so every node that applies the same entries holds an equal state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub(super) applied_index: u64,
    pub(super) nodes: BTreeMap<NodeId, NodeInfo>,
    pub(super) flow_config: Option<FlowConfig>,
    pub(super) partitions: BTreeMap<PartitionKey, PartitionInfo>,
    pub(super) paused: BTreeSet<FlowId>,
    /// Operators' rate limits by flow (over the configured ones).
    pub(super) throttles: BTreeMap<FlowId, Throttle>,
    /// Nodes removed (`strait leave`, `remove-node`) and not admitted again since: a removed node
    /// learns it from here, whenever it applies the removal (also from a snapshot or a replay
    /// after a restart), and its own running registration cannot bring it back.
    pub(super) removed: BTreeSet<NodeId>,
}

/// The result of applying one entry's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedEntry {
    /// The proposer's id, `None` for raft's empty entry.
    pub proposal_id: Option<u64>,
    pub outcome: ApplyOutcome,
}

impl ClusterState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the command of the committed entry at `index`. Entries at or below
    /// [`applied_index`](Self::applied_index) were applied already (a replay after a restart or a
    /// snapshot) and change nothing.
    pub fn apply(&mut self, index: u64, command: &Command) -> ApplyOutcome {
        if let Err(stale) = self.advance(index) {
            return stale;
        }
        match command {
            Command::RegisterNode {
                node,
                address,
                running,
            } => {
                if *running && self.removed.contains(node) {
                    // Decided on a view from before the removal, or by the removed node itself.
                    return ApplyOutcome::Stale(format!(
                        "node {node} was removed from the cluster: only a join or an operator's \
                         AddNode registers it again"
                    ));
                }
                let outcome = self.register_node(*node, address, *running);
                if outcome == ApplyOutcome::Applied {
                    // An admission (a join, an operator's AddNode): a new member under this id.
                    self.removed.remove(node);
                }
                outcome
            }
            Command::RemoveNode { node } => self.remove_node(*node),
            Command::SetLiveness { node, alive } => self.set_liveness(*node, *alive),
            Command::SetFlowConfig(config) => self.set_flow_config(config),
            Command::SetTopics { flow, topics } => self.set_topics(flow, topics),
            Command::Assign { moves } => self.assign(moves),
            Command::UpdatePositions { node, positions } => self.update_positions(*node, positions),
            Command::Release {
                node,
                key,
                position,
                runs,
            } => self.release(*node, key, *position, runs),
            Command::SetDraining { node, draining } => self.set_draining(*node, *draining),
            Command::SetStopping { node, stopping } => self.set_stopping(*node, *stopping),
            Command::SetFlowPaused { flow, paused } => {
                if *paused {
                    self.paused.insert(flow.clone());
                } else {
                    self.paused.remove(flow);
                }
                ApplyOutcome::Applied
            }
            Command::SetFlowThrottle { flow, throttle } => {
                match throttle {
                    Some(throttle) => self.throttles.insert(flow.clone(), *throttle),
                    None => self.throttles.remove(flow),
                };
                ApplyOutcome::Applied
            }
        }
    }

    /// Applies the data of the committed entry at `index`: empty data (raft's entry on a new
    /// leader's election) only advances the applied index; a command with invalid content is
    /// [`ApplyOutcome::Rejected`] on every node alike.
    ///
    /// An error means this node cannot read the entry (corruption, or a command kind from a newer
    /// version). The applied index still advances, but the node has missed a change the others
    /// applied: treat it as fatal.
    pub fn apply_bytes(&mut self, index: u64, data: &[u8]) -> Result<AppliedEntry, StateError> {
        if data.is_empty() {
            let outcome = self.advance(index).err().unwrap_or(ApplyOutcome::Applied);
            return Ok(AppliedEntry {
                proposal_id: None,
                outcome,
            });
        }
        match Command::decode(data) {
            Ok((proposal_id, command)) => Ok(AppliedEntry {
                proposal_id: Some(proposal_id),
                outcome: self.apply(index, &command),
            }),
            Err(StateError::InvalidCommand {
                proposal_id,
                source,
            }) => {
                let outcome = match self.advance(index) {
                    Ok(()) => ApplyOutcome::Rejected(source.to_string()),
                    Err(stale) => stale,
                };
                Ok(AppliedEntry {
                    proposal_id: Some(proposal_id),
                    outcome,
                })
            }
            Err(e) => {
                self.mark_applied(index);
                Err(e)
            }
        }
    }

    /// Records the entry at `index` as applied without a command: for entries the state machine
    /// does not interpret (conf changes), so that [`applied_index`](Self::applied_index) follows
    /// Raft's. Never moves the index back.
    pub fn mark_applied(&mut self, index: u64) {
        self.applied_index = self.applied_index.max(index);
    }

    /// The index of the last entry applied: the version of this state.
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// Whether `node` was removed from the cluster and not admitted again since.
    pub fn was_removed(&self, node: NodeId) -> bool {
        self.removed.contains(&node)
    }

    /// Registered nodes, by id.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeId, &NodeInfo)> {
        self.nodes.iter()
    }

    pub fn node(&self, node: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(&node)
    }

    /// Registered and alive: the nodes partitions are given to.
    pub fn is_live(&self, node: NodeId) -> bool {
        self.nodes.get(&node).is_some_and(|info| info.alive)
    }

    /// Ids of the live nodes, ascending.
    pub fn live_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes
            .iter()
            .filter(|(_, info)| info.alive)
            .map(|(node, _)| *node)
    }

    /// Ids of the nodes partitions may be given to: alive, neither draining nor stopping,
    /// ascending.
    pub fn assignable_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes
            .iter()
            .filter(|(_, info)| info.assignable())
            .map(|(node, _)| *node)
    }

    /// Whether an operator paused `flow`.
    pub fn is_paused(&self, flow: &FlowId) -> bool {
        self.paused.contains(flow)
    }

    /// The operator's rate limit on `flow`, when one was set (it overrides the configured one).
    pub fn throttle(&self, flow: &FlowId) -> Option<Throttle> {
        self.throttles.get(flow).copied()
    }

    /// The paused flows.
    pub fn paused_flows(&self) -> impl Iterator<Item = &FlowId> {
        self.paused.iter()
    }

    /// Partitions `node` still owns or has not released: 0 once a drain of it is complete.
    pub fn held_by(&self, node: NodeId) -> usize {
        self.partitions
            .values()
            .filter(|info| {
                info.owner.is_some_and(|o| o.node == node) || info.releasing == Some(node)
            })
            .count()
    }

    pub fn flow_config(&self) -> Option<&FlowConfig> {
        self.flow_config.as_ref()
    }

    /// Every source partition of every flow, by flow, topic and partition.
    pub fn partitions(&self) -> impl Iterator<Item = (&PartitionKey, &PartitionInfo)> {
        self.partitions.iter()
    }

    pub fn partition(&self, key: &PartitionKey) -> Option<&PartitionInfo> {
        self.partitions.get(key)
    }

    /// The flows that have at least one partition.
    pub fn flows(&self) -> BTreeSet<&FlowId> {
        self.partitions.keys().map(|key| &key.flow).collect()
    }

    /// What `node` must replicate: each partition it owns, the epoch it owns it under (to fence
    /// itself with) and the position to resume from, sorted by key.
    pub fn owned_by(&self, node: NodeId) -> Vec<(PartitionKey, Owner, Option<Position>)> {
        self.partitions
            .iter()
            .filter_map(|(key, info)| {
                let owner = info.owner.filter(|owner| owner.node == node)?;
                Some((key.clone(), owner, info.position))
            })
            .collect()
    }

    /// Records `index` as applied, or says it was applied before.
    fn advance(&mut self, index: u64) -> Result<(), ApplyOutcome> {
        if index <= self.applied_index {
            return Err(ApplyOutcome::Stale(format!(
                "entry {index} is at or below the applied index {}",
                self.applied_index
            )));
        }
        self.applied_index = index;
        Ok(())
    }

    fn register_node(&mut self, node: NodeId, address: &str, running: bool) -> ApplyOutcome {
        if node == 0 {
            return ApplyOutcome::Rejected("node id 0 is reserved".to_owned());
        }
        if address.is_empty() {
            return ApplyOutcome::Rejected(format!("node {node} has an empty address"));
        }
        self.nodes
            .entry(node)
            .and_modify(|info| {
                address.clone_into(&mut info.address);
                info.has_run |= running;
                // Running again after a planned stop: it takes its share again. (An operator's
                // drain stays.)
                info.stopping &= !running;
            })
            .or_insert_with(|| NodeInfo {
                address: address.to_owned(),
                alive: true,
                draining: false,
                has_run: running,
                stopping: false,
            });
        ApplyOutcome::Applied
    }

    fn remove_node(&mut self, node: NodeId) -> ApplyOutcome {
        // Also when it is not registered (a join cut short): the removal is what counts.
        if node != 0 {
            self.removed.insert(node);
        }
        if self.nodes.remove(&node).is_none() {
            return ApplyOutcome::Stale(format!("node {node} is not registered"));
        }
        for info in self.partitions.values_mut() {
            if info.owner.is_some_and(|owner| owner.node == node) {
                // The epoch stays, so the next owner's is greater than the removed node's.
                info.owner = None;
            }
            if info.releasing == Some(node) {
                info.releasing = None;
            }
        }
        ApplyOutcome::Applied
    }

    fn set_liveness(&mut self, node: NodeId, alive: bool) -> ApplyOutcome {
        match self.nodes.get_mut(&node) {
            Some(info) => {
                info.alive = alive;
                if !alive {
                    // A dead node writes nothing more (it fenced itself by then): nobody waits for
                    // its release.
                    for partition in self.partitions.values_mut() {
                        if partition.releasing == Some(node) {
                            partition.releasing = None;
                        }
                    }
                }
                ApplyOutcome::Applied
            }
            None => ApplyOutcome::Stale(format!("node {node} is not registered")),
        }
    }

    fn set_draining(&mut self, node: NodeId, draining: bool) -> ApplyOutcome {
        match self.nodes.get_mut(&node) {
            Some(info) => {
                info.draining = draining;
                ApplyOutcome::Applied
            }
            None => ApplyOutcome::Stale(format!("node {node} is not registered")),
        }
    }

    fn set_stopping(&mut self, node: NodeId, stopping: bool) -> ApplyOutcome {
        match self.nodes.get_mut(&node) {
            Some(info) => {
                info.stopping = stopping;
                ApplyOutcome::Applied
            }
            None => ApplyOutcome::Stale(format!("node {node} is not registered")),
        }
    }

    fn set_flow_config(&mut self, config: &FlowConfig) -> ApplyOutcome {
        if config.version == 0 {
            return ApplyOutcome::Rejected("configuration version 0 is reserved".to_owned());
        }
        if let Some(current) = &self.flow_config {
            if config.version <= current.version {
                return ApplyOutcome::Stale(format!(
                    "configuration version {} is not newer than {}",
                    config.version, current.version
                ));
            }
        }
        self.flow_config = Some(config.clone());
        ApplyOutcome::Applied
    }

    fn set_topics(&mut self, flow: &FlowId, topics: &[TopicInfo]) -> ApplyOutcome {
        let mut wanted: BTreeMap<&str, &TopicInfo> = BTreeMap::new();
        for topic in topics {
            if topic.topic.is_empty() || topic.remote_topic.is_empty() {
                return ApplyOutcome::Rejected(format!("flow {flow}: a topic name is empty"));
            }
            if !(0..=MAX_PARTITIONS_PER_TOPIC).contains(&topic.partitions) {
                return ApplyOutcome::Rejected(format!(
                    "flow {flow}: topic {:?} has {} partitions, expected 0..={MAX_PARTITIONS_PER_TOPIC}",
                    topic.topic, topic.partitions
                ));
            }
            if wanted.insert(&topic.topic, topic).is_some() {
                return ApplyOutcome::Rejected(format!(
                    "flow {flow}: topic {:?} is listed twice",
                    topic.topic
                ));
            }
        }
        self.partitions.retain(|key, _| {
            key.flow != *flow
                || wanted
                    .get(key.tp.topic.as_str())
                    .is_some_and(|topic| key.tp.partition < topic.partitions)
        });
        for topic in wanted.values() {
            for partition in 0..topic.partitions {
                let key = PartitionKey {
                    flow: flow.clone(),
                    tp: TopicPartition::new(topic.topic.clone(), partition),
                };
                self.partitions
                    .entry(key)
                    .and_modify(|info| topic.remote_topic.clone_into(&mut info.remote_topic))
                    .or_insert_with(|| PartitionInfo::unowned(topic.remote_topic.clone()));
            }
        }
        ApplyOutcome::Applied
    }

    fn assign(&mut self, moves: &[PartitionMove]) -> ApplyOutcome {
        let mut applied = 0;
        let mut skipped = Vec::new();
        for mv in moves {
            let skip = |reason| Skipped {
                key: mv.key.clone(),
                reason,
            };
            let alive = self.nodes.get(&mv.node).map(NodeInfo::assignable);
            let Some(info) = self.partitions.get_mut(&mv.key) else {
                skipped.push(skip(SkipReason::UnknownPartition));
                continue;
            };
            if info.epoch != mv.expected_epoch {
                skipped.push(skip(SkipReason::EpochMismatch {
                    expected: mv.expected_epoch,
                    current: info.epoch,
                }));
                continue;
            }
            match alive {
                None => skipped.push(skip(SkipReason::UnknownNode { node: mv.node })),
                Some(false) => skipped.push(skip(SkipReason::DeadNode { node: mv.node })),
                Some(true) => {
                    // Moving away from a live owner: it must release before the new one writes.
                    // A release still pending stays the one to wait for: the owner in between
                    // never started (it waited for that release), and the node that may still
                    // write is the one releasing. Moved back to it, it orders its own restart.
                    let live = |node: &NodeId| self.nodes.get(node).is_some_and(|n| n.alive);
                    info.releasing = match info.releasing.filter(|r| live(r)) {
                        Some(pending) => (pending != mv.node).then_some(pending),
                        None => info
                            .owner
                            .map(|o| o.node)
                            .filter(|previous| *previous != mv.node && live(previous)),
                    };
                    info.epoch += 1;
                    info.owner = Some(Owner {
                        node: mv.node,
                        epoch: info.epoch,
                    });
                    applied += 1;
                }
            }
        }
        ApplyOutcome::from_skipped(applied, skipped)
    }

    fn release(
        &mut self,
        node: NodeId,
        key: &PartitionKey,
        position: Option<Position>,
        runs: &[OffsetRun],
    ) -> ApplyOutcome {
        match self.partitions.get_mut(key) {
            Some(info) if info.releasing == Some(node) => {
                info.releasing = None;
                apply_runs(info, runs);
                // The previous owner's final position, if it is further than what is known.
                if let Some(position) = position {
                    let further = info
                        .position
                        .is_none_or(|current| position_order(position) > position_order(current));
                    if further && position.next_source_offset >= 0 {
                        info.position = Some(position);
                    }
                }
                ApplyOutcome::Applied
            }
            Some(_) => ApplyOutcome::Stale(format!("{key}: node {node} holds nothing to release")),
            None => ApplyOutcome::Stale(format!("{key}: unknown partition")),
        }
    }

    fn update_positions(&mut self, node: NodeId, updates: &[PositionUpdate]) -> ApplyOutcome {
        if let Some(bad) = updates
            .iter()
            .find(|u| u.position.next_source_offset < 0 || u.position.last_target_offset < -1)
        {
            return ApplyOutcome::Rejected(format!(
                "{}: invalid position (next source offset {}, last target offset {})",
                bad.key, bad.position.next_source_offset, bad.position.last_target_offset
            ));
        }
        if let Some(bad) = updates.iter().find(|u| u.runs.iter().any(invalid_run)) {
            return ApplyOutcome::Rejected(format!("{}: invalid offset run", bad.key));
        }
        let mut applied = 0;
        let mut skipped = Vec::new();
        for update in updates {
            let skip = |reason| Skipped {
                key: update.key.clone(),
                reason,
            };
            let Some(info) = self.partitions.get_mut(&update.key) else {
                skipped.push(skip(SkipReason::UnknownPartition));
                continue;
            };
            let reporter = Owner {
                node,
                epoch: update.epoch,
            };
            if info.owner != Some(reporter) {
                skipped.push(skip(SkipReason::NotOwner {
                    node,
                    epoch: update.epoch,
                    current: info.owner,
                }));
                continue;
            }
            if let Some(current) = info.position {
                if position_order(update.position) < position_order(current) {
                    skipped.push(skip(SkipReason::Backwards { current }));
                    continue;
                }
            }
            info.position = Some(update.position);
            apply_runs(info, &update.runs);
            applied += 1;
        }
        ApplyOutcome::from_skipped(applied, skipped)
    }
}

/// Adds an owner's new runs to the partition's, keeping at most [`MAX_RUNS_PER_PARTITION`].
fn apply_runs(info: &mut PartitionInfo, runs: &[OffsetRun]) {
    for run in runs.iter().filter(|r| !invalid_run(r)) {
        info.runs.apply(*run);
    }
    info.runs.cap(MAX_RUNS_PER_PARTITION);
}

fn invalid_run(run: &OffsetRun) -> bool {
    run.source_start < 0 || run.target_start < 0 || run.len < 1
}

/// Positions move forward in source offset first; at the same source offset the target offset
/// cannot go back either.
fn position_order(position: Position) -> (i64, i64) {
    (position.next_source_offset, position.last_target_offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{flow, key, register, topics, Log, Rng};

    fn mv(key: PartitionKey, node: NodeId, expected_epoch: u64) -> PartitionMove {
        PartitionMove {
            key,
            node,
            expected_epoch,
        }
    }

    fn assign(moves: Vec<PartitionMove>) -> Command {
        Command::Assign { moves }
    }

    fn update(node: NodeId, key: PartitionKey, epoch: u64, next: i64, last: i64) -> Command {
        Command::UpdatePositions {
            node,
            positions: vec![PositionUpdate {
                key,
                epoch,
                position: Position {
                    next_source_offset: next,
                    last_target_offset: last,
                },
                runs: vec![],
            }],
        }
    }

    fn config(version: u64) -> Command {
        Command::SetFlowConfig(FlowConfig {
            version,
            settings: format!("v{version}").into_bytes(),
            origin_node: 1,
        })
    }

    fn skip_reasons(outcome: ApplyOutcome) -> Vec<SkipReason> {
        match outcome {
            ApplyOutcome::Partial { skipped, .. } => {
                skipped.into_iter().map(|s| s.reason).collect()
            }
            other => panic!("expected a partial outcome, got {other:?}"),
        }
    }

    /// Two nodes, flow A->B with `orders` (3 partitions), all unowned.
    fn two_nodes_three_partitions() -> Log {
        let mut log = Log::new();
        log.ok(register(1));
        log.ok(register(2));
        log.ok(topics("A->B", &[("orders", 3)]));
        log
    }

    /// A planned stop lasts until the node runs again; an operator's drain outlives restarts.
    #[test]
    fn a_restart_clears_stopping_but_not_an_operators_drain() {
        let mut log = two_nodes_three_partitions();
        log.ok(Command::SetStopping {
            node: 1,
            stopping: true,
        });
        log.ok(Command::SetDraining {
            node: 2,
            draining: true,
        });
        assert!(log.state.node(1).unwrap().stopping);
        assert!(!log.state.node(1).unwrap().assignable());
        assert_eq!(log.state.assignable_nodes().count(), 0);

        // A registration on its behalf (a join, AddNode) is no restart: the mark stays.
        log.ok(Command::RegisterNode {
            node: 1,
            address: "10.0.0.1:7070".to_owned(),
            running: false,
        });
        assert!(log.state.node(1).unwrap().stopping);
        // Both processes restart and announce themselves as running.
        log.ok(register(1));
        log.ok(register(2));
        let (one, two) = (log.state.node(1).unwrap(), log.state.node(2).unwrap());
        assert!(!one.stopping && one.assignable(), "{one:?}");
        assert!(two.draining && !two.assignable(), "{two:?}");
        assert_eq!(log.state.assignable_nodes().collect::<Vec<_>>(), [1]);

        // Undone explicitly too; an unknown node is stale.
        log.ok(Command::SetStopping {
            node: 1,
            stopping: true,
        });
        log.ok(Command::SetStopping {
            node: 1,
            stopping: false,
        });
        assert!(!log.state.node(1).unwrap().stopping);
        assert!(matches!(
            log.apply(Command::SetStopping {
                node: 9,
                stopping: true
            }),
            ApplyOutcome::Stale(_)
        ));
    }

    /// A partition moved away from a stopping node (alive) waits for its release; a manual move to
    /// a stopping node is skipped like one to a draining node.
    #[test]
    fn a_stopping_owner_must_release_and_gets_no_moves() {
        let mut log = two_nodes_three_partitions();
        let orders0 = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(orders0.clone(), 1, 0)]));
        log.ok(Command::SetStopping {
            node: 1,
            stopping: true,
        });
        log.ok(assign(vec![mv(orders0.clone(), 2, 1)]));
        assert_eq!(log.state.partition(&orders0).unwrap().releasing, Some(1));
        assert_eq!(log.state.held_by(1), 1);
        log.ok(Command::Release {
            node: 1,
            key: orders0.clone(),
            position: Some(Position {
                next_source_offset: 42,
                last_target_offset: 41,
            }),
            runs: vec![],
        });
        let info = log.state.partition(&orders0).unwrap();
        assert_eq!(info.releasing, None);
        assert_eq!(info.position.unwrap().next_source_offset, 42);
        assert_eq!(log.state.held_by(1), 0);
        let outcome = log.apply(assign(vec![mv(orders0.clone(), 1, 2)]));
        assert_eq!(skip_reasons(outcome), [SkipReason::DeadNode { node: 1 }]);
    }

    #[test]
    fn register_is_idempotent_and_keeps_liveness() {
        let mut log = Log::new();
        log.ok(register(1));
        assert_eq!(
            log.state.node(1),
            Some(&NodeInfo {
                address: "10.0.0.1:7070".to_owned(),
                alive: true,
                draining: false,
                has_run: true,
                stopping: false,
            })
        );
        log.ok(Command::SetLiveness {
            node: 1,
            alive: false,
        });
        log.ok(Command::RegisterNode {
            node: 1,
            address: "10.0.0.9:7070".to_owned(),
            running: false,
        });
        let info = log.state.node(1).unwrap();
        assert_eq!(info.address, "10.0.0.9:7070");
        assert!(!info.alive, "only the leader's SetLiveness revives a node");
        assert!(
            info.has_run,
            "a registration on its behalf does not undo it"
        );
        assert_eq!(log.state.nodes().count(), 1);

        // Registered on its behalf (a join, AddNode): it has not run until it announces itself.
        log.ok(Command::RegisterNode {
            node: 3,
            address: "10.0.0.3:7070".to_owned(),
            running: false,
        });
        assert!(!log.state.node(3).unwrap().has_run);
        log.ok(register(3));
        assert!(log.state.node(3).unwrap().has_run);
        log.ok(Command::RemoveNode { node: 3 });
        log.ok(Command::RegisterNode {
            node: 3,
            address: "10.0.0.3:7070".to_owned(),
            running: false,
        });
        assert!(
            !log.state.node(3).unwrap().has_run,
            "removed and added back: not run since"
        );
        log.ok(Command::RemoveNode { node: 3 });

        assert!(matches!(log.apply(register(0)), ApplyOutcome::Rejected(_)));
        let empty = Command::RegisterNode {
            node: 2,
            address: String::new(),
            running: true,
        };
        assert!(matches!(log.apply(empty), ApplyOutcome::Rejected(_)));
        assert_eq!(log.state.nodes().count(), 1);
    }

    /// A removal is remembered: the removed node's own registration (proposed from a view before
    /// the removal, or by the removed node restarted on its old membership) cannot bring it
    /// back; an admission (a join, an operator's AddNode) can, under the same id.
    #[test]
    fn a_removed_node_registers_again_only_when_admitted() {
        let mut log = Log::new();
        log.ok(register(1));
        log.ok(register(2));
        assert!(!log.state.was_removed(2));
        log.ok(Command::RemoveNode { node: 2 });
        assert!(log.state.was_removed(2));
        assert!(!log.state.was_removed(1));

        let own = log.apply(register(2));
        assert!(
            matches!(&own, ApplyOutcome::Stale(reason) if reason.contains("node 2 was removed")),
            "{own:?}"
        );
        assert!(log.state.node(2).is_none());
        assert!(log.state.was_removed(2));

        // An invalid admission changes nothing, the removal included.
        let empty = log.apply(Command::RegisterNode {
            node: 2,
            address: String::new(),
            running: false,
        });
        assert!(matches!(empty, ApplyOutcome::Rejected(_)), "{empty:?}");
        assert!(log.state.was_removed(2));

        log.ok(Command::RegisterNode {
            node: 2,
            address: "10.0.0.22:7070".to_owned(),
            running: false,
        });
        assert!(!log.state.was_removed(2));
        assert_eq!(log.state.node(2).unwrap().address, "10.0.0.22:7070");
        log.ok(register(2));
        assert!(log.state.node(2).unwrap().has_run);

        // A removal of a node that never registered (a join cut short) is remembered too.
        let never = log.apply(Command::RemoveNode { node: 7 });
        assert!(matches!(never, ApplyOutcome::Stale(_)));
        assert!(log.state.was_removed(7));
    }

    /// A -> B while A's release is pending, then B -> C: C waits for A (the node that may still
    /// write), not for B (which never started); B's release changes nothing. Moved back to A while
    /// its release is pending, nobody waits (A orders its own restart).
    #[test]
    fn a_second_move_keeps_the_pending_release() {
        let mut log = Log::new();
        for node in 1..=3 {
            log.ok(register(node));
        }
        log.ok(topics("A->B", &[("orders", 1)]));
        let k = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(k.clone(), 1, 0)]));
        log.ok(assign(vec![mv(k.clone(), 2, 1)]));
        assert_eq!(log.state.partition(&k).unwrap().releasing, Some(1));
        log.ok(assign(vec![mv(k.clone(), 3, 2)]));
        assert_eq!(
            log.state.partition(&k).unwrap().releasing,
            Some(1),
            "still waiting for node 1"
        );
        let empty = Command::Release {
            node: 2,
            key: k.clone(),
            position: None,
            runs: vec![],
        };
        assert!(matches!(log.apply(empty), ApplyOutcome::Stale(_)));
        assert_eq!(log.state.partition(&k).unwrap().releasing, Some(1));
        let last = Position {
            next_source_offset: 7,
            last_target_offset: 6,
        };
        log.ok(Command::Release {
            node: 1,
            key: k.clone(),
            position: Some(last),
            runs: vec![],
        });
        assert_eq!(log.state.partition(&k).unwrap().releasing, None);
        assert_eq!(log.state.partition(&k).unwrap().position, Some(last));

        // Back to the releasing node itself: nobody to wait for.
        log.ok(assign(vec![mv(k.clone(), 1, 3)]));
        assert_eq!(log.state.partition(&k).unwrap().releasing, Some(3));
        log.ok(assign(vec![mv(k.clone(), 3, 4)]));
        assert_eq!(log.state.partition(&k).unwrap().releasing, None);
    }

    #[test]
    fn a_move_away_from_a_live_owner_waits_for_its_release() {
        let mut log = Log::new();
        log.ok(register(1));
        log.ok(register(2));
        log.ok(topics("A->B", &[("orders", 1)]));
        let k = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(k.clone(), 1, 0)]));
        assert_eq!(
            log.state.partition(&k).unwrap().releasing,
            None,
            "no previous owner"
        );

        log.ok(assign(vec![mv(k.clone(), 2, 1)]));
        assert_eq!(log.state.partition(&k).unwrap().releasing, Some(1));
        // Only the previous owner can release; its final position is kept for the new owner.
        assert!(matches!(
            log.apply(Command::Release {
                node: 2,
                key: k.clone(),
                position: None,
                runs: vec![],
            }),
            ApplyOutcome::Stale(_)
        ));
        let last = Position {
            next_source_offset: 42,
            last_target_offset: 41,
        };
        log.ok(Command::Release {
            node: 1,
            key: k.clone(),
            position: Some(last),
            runs: vec![],
        });
        assert_eq!(log.state.partition(&k).unwrap().releasing, None);
        assert_eq!(log.state.partition(&k).unwrap().position, Some(last));

        // A previous owner declared dead releases implicitly.
        log.ok(assign(vec![mv(k.clone(), 1, 2)]));
        assert_eq!(log.state.partition(&k).unwrap().releasing, Some(2));
        log.ok(Command::SetLiveness {
            node: 2,
            alive: false,
        });
        assert_eq!(log.state.partition(&k).unwrap().releasing, None);

        // A move away from a dead owner does not wait at all.
        log.ok(Command::SetLiveness {
            node: 2,
            alive: true,
        });
        log.ok(Command::SetLiveness {
            node: 1,
            alive: false,
        });
        log.ok(assign(vec![mv(k.clone(), 2, 3)]));
        assert_eq!(log.state.partition(&k).unwrap().releasing, None);
    }

    #[test]
    fn liveness_of_an_unknown_node_is_stale() {
        let mut log = Log::new();
        let outcome = log.apply(Command::SetLiveness {
            node: 7,
            alive: true,
        });
        assert!(matches!(outcome, ApplyOutcome::Stale(_)));
        assert_eq!(log.state.nodes().count(), 0);
    }

    #[test]
    fn removing_a_node_orphans_its_partitions_and_keeps_epochs() {
        let mut log = two_nodes_three_partitions();
        log.ok(assign(vec![
            mv(key("A->B", "orders", 0), 1, 0),
            mv(key("A->B", "orders", 1), 2, 0),
            mv(key("A->B", "orders", 2), 1, 0),
        ]));
        log.ok(update(1, key("A->B", "orders", 0), 1, 10, 4));
        log.ok(Command::RemoveNode { node: 1 });

        assert!(log.state.node(1).is_none());
        assert!(log.state.owned_by(1).is_empty());
        let orphan = log.state.partition(&key("A->B", "orders", 0)).unwrap();
        assert_eq!(orphan.owner, None);
        assert_eq!(orphan.epoch, 1);
        assert_eq!(
            orphan.position,
            Some(Position {
                next_source_offset: 10,
                last_target_offset: 4
            }),
            "the next owner resumes from it"
        );
        assert_eq!(log.state.owned_by(2).len(), 1);

        // The next owner's epoch is above the removed one's.
        log.ok(assign(vec![mv(key("A->B", "orders", 0), 2, 1)]));
        assert_eq!(
            log.state
                .partition(&key("A->B", "orders", 0))
                .unwrap()
                .owner,
            Some(Owner { node: 2, epoch: 2 })
        );

        let again = log.apply(Command::RemoveNode { node: 1 });
        assert!(matches!(again, ApplyOutcome::Stale(_)));
    }

    #[test]
    fn flow_config_only_moves_to_newer_versions() {
        let mut log = Log::new();
        assert!(matches!(log.apply(config(0)), ApplyOutcome::Rejected(_)));
        assert_eq!(log.state.flow_config(), None);
        log.ok(config(1));
        assert!(matches!(log.apply(config(1)), ApplyOutcome::Stale(_)));
        log.ok(config(3));
        assert!(matches!(log.apply(config(2)), ApplyOutcome::Stale(_)));
        let current = log.state.flow_config().unwrap();
        assert_eq!(current.version, 3);
        assert_eq!(current.settings, b"v3");
        assert_eq!(current.origin_node, 1);
    }

    #[test]
    fn set_topics_adds_and_drops_partitions_of_its_flow_only() {
        let mut log = Log::new();
        log.ok(register(1));
        log.ok(topics("A->B", &[("orders", 3), ("payments", 2)]));
        log.ok(topics("B->A", &[("orders", 1)]));
        assert_eq!(log.state.partitions().count(), 6);
        log.ok(assign(vec![
            mv(key("A->B", "orders", 1), 1, 0),
            mv(key("A->B", "orders", 2), 1, 0),
        ]));
        log.ok(update(1, key("A->B", "orders", 1), 1, 50, 20));

        // payments disappears, orders loses partition 2 (recreated smaller), refunds appears.
        log.ok(Command::SetTopics {
            flow: flow("A->B"),
            topics: vec![
                TopicInfo {
                    topic: "orders".to_owned(),
                    partitions: 2,
                    remote_topic: "A.orders".to_owned(),
                },
                TopicInfo {
                    topic: "refunds".to_owned(),
                    partitions: 1,
                    remote_topic: "A.refunds".to_owned(),
                },
            ],
        });
        let keys: Vec<String> = log
            .state
            .partitions()
            .map(|(key, _)| key.to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "A->B:orders-0",
                "A->B:orders-1",
                "A->B:refunds-0",
                "B->A:orders-0"
            ]
        );
        let kept = log.state.partition(&key("A->B", "orders", 1)).unwrap();
        assert_eq!(kept.owner, Some(Owner { node: 1, epoch: 1 }));
        assert_eq!(kept.position.unwrap().next_source_offset, 50);
        let new = log.state.partition(&key("A->B", "refunds", 0)).unwrap();
        assert_eq!((new.owner, new.epoch, new.position), (None, 0, None));
        assert_eq!(new.remote_topic, "A.refunds");
        assert_eq!(log.state.owned_by(1).len(), 1);

        log.ok(topics("A->B", &[]));
        assert_eq!(log.state.partitions().count(), 1, "B->A is untouched");
    }

    #[test]
    fn set_topics_rejects_invalid_lists_without_changing_anything() {
        let mut log = Log::new();
        log.ok(topics("A->B", &[("orders", 2)]));
        let before = log.state.clone();
        for bad in [
            topics("A->B", &[("orders", -1)]),
            topics("A->B", &[("orders", MAX_PARTITIONS_PER_TOPIC + 1)]),
            topics("A->B", &[("orders", 1), ("orders", 3)]),
            topics("A->B", &[("", 1)]),
        ] {
            assert!(matches!(log.apply(bad), ApplyOutcome::Rejected(_)));
        }
        assert_eq!(log.state.partitions, before.partitions);
    }

    #[test]
    fn assign_bumps_the_epoch_and_skips_stale_moves() {
        let mut log = two_nodes_three_partitions();
        let orders0 = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(orders0.clone(), 1, 0)]));
        assert_eq!(
            log.state.partition(&orders0).unwrap().owner,
            Some(Owner { node: 1, epoch: 1 })
        );

        // A decision taken before that move is stale.
        let outcome = log.apply(assign(vec![mv(orders0.clone(), 2, 0)]));
        assert_eq!(
            skip_reasons(outcome),
            [SkipReason::EpochMismatch {
                expected: 0,
                current: 1
            }]
        );
        log.ok(assign(vec![mv(orders0.clone(), 2, 1)]));
        assert_eq!(
            log.state.partition(&orders0).unwrap().owner,
            Some(Owner { node: 2, epoch: 2 })
        );

        log.ok(Command::SetLiveness {
            node: 1,
            alive: false,
        });
        let outcome = log.apply(assign(vec![
            mv(key("A->B", "orders", 1), 1, 0),
            mv(key("A->B", "orders", 1), 9, 0),
            mv(key("A->B", "missing", 0), 2, 0),
            mv(key("A->B", "orders", 2), 2, 0),
        ]));
        assert_eq!(
            outcome,
            ApplyOutcome::Partial {
                applied: 1,
                skipped: vec![
                    Skipped {
                        key: key("A->B", "orders", 1),
                        reason: SkipReason::DeadNode { node: 1 }
                    },
                    Skipped {
                        key: key("A->B", "orders", 1),
                        reason: SkipReason::UnknownNode { node: 9 }
                    },
                    Skipped {
                        key: key("A->B", "missing", 0),
                        reason: SkipReason::UnknownPartition
                    },
                ]
            }
        );
        assert_eq!(
            log.state
                .partition(&key("A->B", "orders", 1))
                .unwrap()
                .epoch,
            0
        );
        assert_eq!(
            log.state
                .partition(&key("A->B", "orders", 2))
                .unwrap()
                .epoch,
            1
        );
    }

    #[test]
    fn a_fenced_owner_cannot_update_positions() {
        let mut log = two_nodes_three_partitions();
        let orders0 = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(orders0.clone(), 1, 0)]));
        log.ok(update(1, orders0.clone(), 1, 100, 40));
        log.ok(assign(vec![mv(orders0.clone(), 2, 1)]));

        // Node 1 has not noticed yet and reports further progress under its old epoch.
        let outcome = log.apply(update(1, orders0.clone(), 1, 150, 90));
        assert_eq!(
            skip_reasons(outcome),
            [SkipReason::NotOwner {
                node: 1,
                epoch: 1,
                current: Some(Owner { node: 2, epoch: 2 })
            }]
        );
        // The new owner with a wrong epoch, and a node claiming the current epoch, fail too.
        let outcome = log.apply(update(2, orders0.clone(), 1, 150, 90));
        assert!(matches!(
            skip_reasons(outcome)[0],
            SkipReason::NotOwner { .. }
        ));
        let outcome = log.apply(update(1, orders0.clone(), 2, 150, 90));
        assert!(matches!(
            skip_reasons(outcome)[0],
            SkipReason::NotOwner { .. }
        ));
        assert_eq!(
            log.state.partition(&orders0).unwrap().position,
            Some(Position {
                next_source_offset: 100,
                last_target_offset: 40
            })
        );

        log.ok(update(2, orders0.clone(), 2, 120, 60));
        assert_eq!(
            log.state.owned_by(2),
            [(
                orders0,
                Owner { node: 2, epoch: 2 },
                Some(Position {
                    next_source_offset: 120,
                    last_target_offset: 60
                })
            )]
        );

        let outcome = log.apply(update(2, key("A->B", "orders", 1), 0, 1, 0));
        assert!(matches!(
            skip_reasons(outcome)[0],
            SkipReason::NotOwner { current: None, .. }
        ));
    }

    #[test]
    fn positions_never_move_backwards() {
        let mut log = two_nodes_three_partitions();
        let orders0 = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(orders0.clone(), 1, 0)]));
        log.ok(update(1, orders0.clone(), 1, 100, 40));
        let outcome = log.apply(update(1, orders0.clone(), 1, 99, 50));
        assert!(matches!(
            skip_reasons(outcome)[0],
            SkipReason::Backwards { .. }
        ));
        let outcome = log.apply(update(1, orders0.clone(), 1, 100, 39));
        assert!(matches!(
            skip_reasons(outcome)[0],
            SkipReason::Backwards { .. }
        ));
        log.ok(update(1, orders0.clone(), 1, 100, 40)); // a repeat is harmless
        log.ok(update(1, orders0.clone(), 1, 101, 41));
        // After a move, the new owner cannot go back either.
        log.ok(assign(vec![mv(orders0.clone(), 2, 1)]));
        let outcome = log.apply(update(2, orders0.clone(), 2, 0, -1));
        assert!(matches!(
            skip_reasons(outcome)[0],
            SkipReason::Backwards { .. }
        ));
        let position = log.state.partition(&orders0).unwrap().position.unwrap();
        assert_eq!(position.next_source_offset, 101);

        for (next, last) in [(-1, 0), (5, -2)] {
            let outcome = log.apply(update(2, orders0.clone(), 2, next, last));
            assert!(
                matches!(outcome, ApplyOutcome::Rejected(_)),
                "{next} {last}"
            );
        }
    }

    #[test]
    fn entries_at_or_below_the_applied_index_change_nothing() {
        let mut state = ClusterState::new();
        assert_eq!(state.apply(5, &register(1)), ApplyOutcome::Applied);
        assert_eq!(state.applied_index(), 5);
        for index in [0, 3, 5] {
            assert!(matches!(
                state.apply(index, &register(2)),
                ApplyOutcome::Stale(_)
            ));
        }
        assert_eq!(state.nodes().count(), 1);
        assert_eq!(state.applied_index(), 5);
        state.mark_applied(4);
        assert_eq!(state.applied_index(), 5);
        state.mark_applied(6);
        assert!(matches!(
            state.apply(6, &register(2)),
            ApplyOutcome::Stale(_)
        ));
        assert_eq!(state.apply(7, &register(2)), ApplyOutcome::Applied);
    }

    #[test]
    fn apply_bytes_handles_empty_invalid_and_unreadable_entries() {
        let mut state = ClusterState::new();
        let entry = state.apply_bytes(1, &[]).unwrap();
        assert_eq!(
            entry,
            AppliedEntry {
                proposal_id: None,
                outcome: ApplyOutcome::Applied
            }
        );
        assert_eq!(state.applied_index(), 1);

        let entry = state.apply_bytes(2, &register(4).encode(77)).unwrap();
        assert_eq!(entry.proposal_id, Some(77));
        assert_eq!(entry.outcome, ApplyOutcome::Applied);
        assert!(state.is_live(4));

        let bad_flow = {
            use prost::Message;
            use strait_proto::raft::v1 as proto;
            proto::Command {
                proposal_id: 78,
                kind: Some(proto::command::Kind::SetTopics(proto::SetTopics {
                    flow: "nonsense".to_owned(),
                    topics: vec![],
                })),
            }
            .encode_to_vec()
        };
        let entry = state.apply_bytes(3, &bad_flow).unwrap();
        assert_eq!(entry.proposal_id, Some(78));
        assert!(matches!(entry.outcome, ApplyOutcome::Rejected(_)));
        assert_eq!(state.applied_index(), 3);

        assert!(state.apply_bytes(4, &[0xff, 0xff]).is_err());
        assert_eq!(state.applied_index(), 4);
    }

    /// A random command, valid or not, about a small universe of nodes, flows and partitions, so
    /// that commands often hit the same partitions.
    fn random_command(rng: &mut Rng, state: &ClusterState) -> Command {
        let flows = ["A->B", "B->A", "A->C"];
        let topic_names = ["t0", "t1", "t2"];
        let random_key = |rng: &mut Rng| {
            key(
                rng.pick(&flows),
                rng.pick(&topic_names),
                rng.range(0, 4) as i32,
            )
        };
        let node = rng.range(0, 5);
        match rng.below(8) {
            0 if rng.chance(20) => Command::SetStopping {
                node,
                stopping: rng.chance(70),
            },
            0 => register(node),
            1 => Command::RemoveNode { node },
            2 => Command::SetLiveness {
                node,
                alive: rng.chance(60),
            },
            3 => config(rng.range(0, 6)),
            4 => {
                let count = rng.range(0, 3) as usize;
                let chosen: Vec<(&str, i32)> = topic_names[..count]
                    .iter()
                    .map(|t| (*t, rng.range(0, 4) as i32))
                    .collect();
                topics(rng.pick(&flows), &chosen)
            }
            5 => {
                let moves = (0..rng.range(0, 6))
                    .map(|_| {
                        let key = random_key(rng);
                        let epoch = match state.partition(&key) {
                            Some(info) if rng.chance(80) => info.epoch,
                            _ => rng.range(0, 3),
                        };
                        mv(key, rng.range(1, 5), epoch)
                    })
                    .collect();
                assign(moves)
            }
            6 => assign(super::super::plan_assignment(state)),
            _ => {
                let positions = (0..rng.range(0, 4))
                    .map(|_| {
                        let key = random_key(rng);
                        let epoch = match state.partition(&key) {
                            Some(info) if rng.chance(80) => info.epoch,
                            _ => rng.range(0, 3),
                        };
                        PositionUpdate {
                            key,
                            epoch,
                            position: Position {
                                next_source_offset: rng.range(0, 1000) as i64,
                                last_target_offset: rng.range(0, 1000) as i64 - 1,
                            },
                            runs: (0..rng.below(3))
                                .map(|_| OffsetRun {
                                    source_start: rng.range(0, 1000) as i64,
                                    target_start: rng.range(0, 1000) as i64,
                                    len: rng.range(1, 50) as i64,
                                })
                                .collect(),
                        }
                    })
                    .collect();
                Command::UpdatePositions { node, positions }
            }
        }
    }

    #[test]
    fn apply_is_deterministic_and_snapshots_round_trip() {
        // How often each kind of outcome came up: the generator must reach them all.
        let mut seen = [0usize; 4];
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let mut a = ClusterState::new();
            let mut b = ClusterState::new();
            for index in 1..=60 {
                let command = random_command(&mut rng, &a);
                let proposal_id = rng.next_u64();
                let outcome_a = a.apply(index, &command);
                let entry_b = b.apply_bytes(index, &command.encode(proposal_id)).unwrap();
                assert_eq!(entry_b.proposal_id, Some(proposal_id));
                assert_eq!(outcome_a, entry_b.outcome, "seed {seed}, entry {index}");
                seen[match outcome_a {
                    ApplyOutcome::Applied => 0,
                    ApplyOutcome::Partial { .. } => 1,
                    ApplyOutcome::Stale(_) => 2,
                    ApplyOutcome::Rejected(_) => 3,
                }] += 1;
                assert_eq!(a, b, "seed {seed}, entry {index}");

                let bytes = a.to_snapshot_bytes();
                let restored = ClusterState::from_snapshot_bytes(&bytes).unwrap();
                assert_eq!(restored, a, "seed {seed}, entry {index}");
                assert_eq!(restored.to_snapshot_bytes(), bytes);
            }
        }
        assert!(seen.iter().all(|n| *n > 100), "{seen:?}");
    }

    /// Offset runs travel with the owner's position updates and its release, are refused from a
    /// node that is not the owner, and stay in the state when the owner dies, so every node can
    /// translate with them and the next owner's replay supersedes what it rewrites.
    #[test]
    fn offset_runs_follow_the_partition() {
        use crate::Translation;
        let run = |source_start, target_start, len| OffsetRun {
            source_start,
            target_start,
            len,
        };
        let with_runs = |node, key: PartitionKey, epoch, next, runs| Command::UpdatePositions {
            node,
            positions: vec![PositionUpdate {
                key,
                epoch,
                position: Position {
                    next_source_offset: next,
                    last_target_offset: next - 1,
                },
                runs,
            }],
        };
        let mut log = two_nodes_three_partitions();
        let k = key("A->B", "orders", 0);
        log.ok(assign(vec![mv(k.clone(), 1, 0)]));
        log.ok(with_runs(1, k.clone(), 1, 50, vec![run(0, 0, 50)]));
        log.ok(with_runs(1, k.clone(), 1, 100, vec![run(0, 0, 100)]));
        // node 2 does not own it: neither its position nor its runs count
        let outcome = log.apply(with_runs(2, k.clone(), 1, 200, vec![run(0, 500, 200)]));
        assert!(
            matches!(outcome, ApplyOutcome::Partial { .. }),
            "{outcome:?}"
        );
        let runs = &log.state.partition(&k).unwrap().runs;
        assert_eq!(runs.translate(70), Translation::Exact(70));

        // the owner dies; node 2 takes over from the replicated position 100, replays 90..100
        // (what node 1 had acknowledged but not reported) and goes on
        log.ok(Command::SetLiveness {
            node: 1,
            alive: false,
        });
        log.ok(assign(vec![mv(k.clone(), 2, 1)]));
        let runs = &log.state.partition(&k).unwrap().runs;
        assert_eq!(
            runs.translate(70),
            Translation::Exact(70),
            "survives its owner"
        );
        log.ok(with_runs(2, k.clone(), 2, 120, vec![run(90, 110, 30)]));
        let runs = &log.state.partition(&k).unwrap().runs;
        assert_eq!(runs.translate(89), Translation::Exact(89));
        assert_eq!(
            runs.translate(95),
            Translation::Exact(115),
            "the latest copy"
        );
        assert_eq!(runs.translate(120), Translation::CaughtUp(140));

        // a planned move: the release carries the old owner's last runs
        log.ok(Command::SetLiveness {
            node: 1,
            alive: true,
        });
        log.ok(assign(vec![mv(k.clone(), 1, 2)]));
        log.ok(Command::Release {
            node: 2,
            key: k.clone(),
            position: Some(Position {
                next_source_offset: 125,
                last_target_offset: 144,
            }),
            runs: vec![run(90, 110, 35)],
        });
        let info = log.state.partition(&k).unwrap();
        assert_eq!(info.runs.translate(124), Translation::Exact(144));
        assert_eq!(
            ClusterState::from_snapshot_bytes(&log.state.to_snapshot_bytes()).unwrap(),
            log.state
        );

        // bounded: the oldest runs go first
        let many: Vec<OffsetRun> = (0..MAX_RUNS_PER_PARTITION as i64 + 10)
            .map(|i| run(200 + 2 * i, 300 + i, 1))
            .collect();
        log.ok(with_runs(1, k.clone(), 3, 5_000, many));
        let runs = &log.state.partition(&k).unwrap().runs;
        assert_eq!(runs.len(), MAX_RUNS_PER_PARTITION);
        assert_eq!(runs.translate(50), Translation::Uncovered);
    }
}

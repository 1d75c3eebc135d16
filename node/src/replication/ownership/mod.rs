//! Which partitions of one flow this node runs, and how it hands them over: a pure core (no actix,
//! no rdkafka, no clock of its own) that the flow actor feeds with the cluster state, its lease and
//! the time, and whose [`Effect`]s it carries out.
//!
//! Every partition this node has anything to do with is in one [`Slot`]: running under an epoch,
//! retiring (its actor stops reading and waits for its in-flight records), or stopped (its actor is
//! gone; its final position and offset runs wait, while the partition is this node's or the cluster
//! waits for its release, for that release or for the next actor to report them). The rules
//! (docs/cluster.md, "Handover without loss", "Fencing"):
//! - run exactly the partitions the cluster gives this node whose previous owner released them,
//!   under their current epoch; none while cut off from the leader (fenced) or paused;
//! - a partition whose epoch changed, or that moved away, retires first; it is not started again
//!   until its actor is gone, so no partition ever runs twice on this node;
//! - a partition moved away from this node is released (`Release`, with the final position and the
//!   runs the cluster does not have yet) only once its actor is gone, retried every
//!   [`RELEASE_RETRY`] until the cluster applied it; never while fenced;
//! - a partition that stops because its flow is paused stays this node's: its final position is
//!   proposed at once (`UpdatePositions`), with its runs;
//! - every actor started gets a new [`Generation`], which its messages carry back: a message from
//!   an actor that is not the partition's current one (a duplicate `Retired`, one from an earlier
//!   actor restarted by its supervisor, a late failure) changes nothing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use strait_coordinator::state::{
    ClusterState, Command, PartitionInfo, PartitionKey, PositionUpdate,
};
use strait_coordinator::{FlowId, NodeId, Owner, TopicPartition};
use strait_coordinator::{OffsetRun, Position};

use crate::replication::status::{Held, PartitionState};
use crate::replication::unreported::Unreported;

#[cfg(test)]
mod tests;

/// The runs a stopped actor of this node left unreported (ending at its final `position`, if
/// known), for the partition's next actor here, given the cluster's position now: kept while no
/// other owner wrote the partition since. Once the cluster's position is past them, another
/// owner's runs are newer (a node frozen until its partitions moved, then given one back):
/// applied after those, they would cut them off (a run replaces every run after its start), and
/// translation would skip what that owner wrote.
fn stale_runs_still_newest(
    runs: Vec<OffsetRun>,
    position: Option<Position>,
    cluster: Option<Position>,
) -> Vec<OffsetRun> {
    let ours = position
        .map(|p| p.next_source_offset)
        .or_else(|| runs.last().map(|run| run.source_end()));
    match (cluster, ours) {
        (Some(cluster), Some(ours)) if cluster.next_source_offset > ours => Vec::new(),
        _ => runs,
    }
}

/// A release not committed within this time is proposed again.
pub const RELEASE_RETRY: Duration = Duration::from_secs(1);

/// One incarnation of a partition actor, handed out by the core with its [`Effect::Start`] and
/// carried back by that actor's messages. Unique per [`Ownership`] (not only per partition).
pub type Generation = u64;

/// One flow's part of the cluster state, as the core reads it.
pub struct FlowView<'a> {
    pub paused: bool,
    pub partitions: BTreeMap<&'a TopicPartition, &'a PartitionInfo>,
}

impl<'a> FlowView<'a> {
    pub fn of(state: &'a ClusterState, flow: &FlowId) -> Self {
        Self {
            paused: state.is_paused(flow),
            partitions: state
                .partitions()
                .filter(|(key, _)| key.flow == *flow)
                .map(|(key, info)| (&key.tp, info))
                .collect(),
        }
    }
}

/// Whether this node may act on its state: it holds a read-index lease (a quorum confirmed its
/// state within one liveness timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub fenced: bool,
    /// The leader this node knows of (0: none), for the log.
    pub leader: NodeId,
}

/// What the flow actor does for the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Contact with the cluster was just lost: what the producer still queues could reach the
    /// target after the next owner's records.
    PurgeQueued,
    /// Start a partition actor.
    Start(StartPartition),
    /// Tell the partition's actor to retire (it answers with `Retired` once gone).
    Retire { tp: TopicPartition },
    /// Propose a `Release` (failures are retried by the core).
    Release(Command),
    /// Propose the final position of a partition stopped by a pause (`UpdatePositions`).
    PausedPosition(Command),
    /// The partitions this node runs match its assignment again, after this long.
    Rebalanced(Duration),
}

/// A partition actor to start.
#[derive(Debug, Clone, PartialEq)]
pub struct StartPartition {
    pub tp: TopicPartition,
    pub epoch: u64,
    /// The actor's incarnation, for its `Retired` and failures.
    pub generation: Generation,
    pub remote_topic: String,
    /// The position the cluster holds for it.
    pub replicated: Option<Position>,
}

/// One partition this node has something to do with.
#[derive(Debug)]
enum Slot {
    /// A partition actor (incarnation `generation`) runs it under `epoch`.
    Running {
        epoch: u64,
        generation: Generation,
        unreported: Unreported,
    },
    /// Its actor (incarnation `generation`) was told to retire and is not gone yet. `runs`: what
    /// the cluster does not have.
    Retiring {
        generation: Generation,
        runs: Vec<OffsetRun>,
    },
    /// Its actor is gone. What it acknowledged last waits here for a release the cluster asks of
    /// this node; `asked`: when the release was last proposed.
    Stopped {
        position: Option<Position>,
        runs: Vec<OffsetRun>,
        asked: Option<Instant>,
    },
}

impl Slot {
    /// The incarnation of the partition's live actor, if any.
    fn generation(&self) -> Option<Generation> {
        match self {
            Slot::Running { generation, .. } | Slot::Retiring { generation, .. } => {
                Some(*generation)
            }
            Slot::Stopped { .. } => None,
        }
    }
}

/// A partition actor retired: what it acknowledged last.
#[derive(Debug, Clone)]
pub struct RetiredPartition {
    pub tp: TopicPartition,
    pub epoch: u64,
    /// Which actor of the partition retired.
    pub generation: Generation,
    pub position: Option<Position>,
    pub runs: Vec<OffsetRun>,
}

/// The positions proposed in one `UpdatePositions`, to mark applied once the cluster applied it.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionsSent(Vec<(TopicPartition, u64, Position, Vec<OffsetRun>)>);

/// The ownership state of one flow on one node.
#[derive(Debug)]
pub struct Ownership {
    flow: FlowId,
    node: NodeId,
    slots: BTreeMap<TopicPartition, Slot>,
    /// Whether this node had lost contact with the cluster at the last reconcile.
    fenced: bool,
    /// Whether the flow was paused at the last reconcile.
    paused: bool,
    /// Stopping for good: nothing starts any more.
    draining: bool,
    /// Since when the partitions this node runs differ from its assignment (a rebalance under
    /// way), for `strait_cluster_rebalance_duration_seconds`.
    rebalancing_since: Option<Instant>,
    /// The last [`Generation`] handed out.
    generation: Generation,
}

impl Ownership {
    pub fn new(flow: FlowId, node: NodeId) -> Self {
        Self {
            flow,
            node,
            slots: BTreeMap::new(),
            fenced: false,
            paused: false,
            draining: false,
            rebalancing_since: None,
            generation: 0,
        }
    }

    pub fn draining(&self) -> bool {
        self.draining
    }

    /// The partitions running here (not retiring).
    pub fn running(&self) -> impl Iterator<Item = &TopicPartition> {
        self.slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Running { .. }))
            .map(|(tp, _)| tp)
    }

    /// The incarnation of the partition's actor, while one is alive (running or retiring).
    pub fn actor(&self, tp: &TopicPartition) -> Option<Generation> {
        self.slots.get(tp).and_then(Slot::generation)
    }

    /// Whether an actor of the partition is alive (running or retiring).
    pub fn has_actor(&self, tp: &TopicPartition) -> bool {
        self.actor(tp).is_some()
    }

    /// Compares what runs with what the cluster gives this node and says what to do. `alive` tells whether a retiring partition's
    /// actor still exists: one that ended without retiring is gone all the same, and its partition
    /// restarts from the stored position.
    pub fn reconcile(
        &mut self,
        view: &FlowView<'_>,
        lease: Lease,
        now: Instant,
        alive: impl Fn(&TopicPartition) -> bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.draining {
            return effects;
        }
        let flow = &self.flow;
        let Lease { fenced, leader } = lease;
        if fenced != self.fenced {
            if fenced {
                tracing::warn!(%flow, leader,
                    "no contact with a cluster leader: stopping every partition");
                effects.push(Effect::PurgeQueued);
            } else {
                tracing::info!(%flow, leader, "in contact with the cluster leader");
            }
            self.fenced = fenced;
        }
        if view.paused != self.paused {
            let paused = view.paused;
            tracing::info!(%flow, paused, "flow {}", if paused { "paused" } else { "resumed" });
            self.paused = paused;
        }
        // Paused: stop reading and keep the partitions; the positions stay where they are.
        let desired: BTreeMap<&TopicPartition, &PartitionInfo> = if fenced || view.paused {
            BTreeMap::new()
        } else {
            view.partitions
                .iter()
                .filter(|(_, info)| {
                    info.owner.is_some_and(|o| o.node == self.node)
                        // The previous owner has not released it yet.
                        && info.releasing.is_none()
                })
                .map(|(tp, info)| (*tp, *info))
                .collect()
        };
        for (tp, slot) in self.slots.iter_mut() {
            let Slot::Running {
                epoch,
                generation,
                unreported,
            } = slot
            else {
                continue;
            };
            if desired.get(tp).map(|info| info.epoch) == Some(*epoch) {
                continue;
            }
            tracing::info!(%flow, partition = %tp, epoch = *epoch, generation = *generation,
                "partition leaves this node");
            let runs = std::mem::take(unreported).into_runs();
            *slot = Slot::Retiring {
                generation: *generation,
                runs,
            };
            effects.push(Effect::Retire { tp: tp.clone() });
        }
        for (tp, slot) in self.slots.iter_mut() {
            if let Slot::Retiring { runs, .. } = slot {
                if !alive(tp) {
                    tracing::warn!(%flow, partition = %tp,
                        "partition actor ended without retiring; it restarts from its stored position");
                    *slot = Slot::Stopped {
                        position: None,
                        runs: std::mem::take(runs),
                        asked: None,
                    };
                }
            }
        }
        let mut waiting = self
            .slots
            .values()
            .any(|slot| matches!(slot, Slot::Retiring { .. }));
        for (tp, info) in desired {
            // The runs a stopped actor acknowledged and the cluster lacks go with the new one's
            // first position.
            let runs = match self.slots.get_mut(tp) {
                Some(Slot::Running { .. }) => continue,
                Some(Slot::Retiring { .. }) => {
                    waiting = true;
                    continue;
                }
                Some(Slot::Stopped { runs, position, .. }) => {
                    stale_runs_still_newest(std::mem::take(runs), *position, info.position)
                }
                None => Vec::new(),
            };
            self.rebalancing_since.get_or_insert(now);
            self.generation += 1;
            self.slots.insert(
                tp.clone(),
                Slot::Running {
                    epoch: info.epoch,
                    generation: self.generation,
                    unreported: Unreported::with_runs(runs),
                },
            );
            effects.push(Effect::Start(StartPartition {
                tp: tp.clone(),
                epoch: info.epoch,
                generation: self.generation,
                remote_topic: info.remote_topic.clone(),
                replicated: info.position,
            }));
        }
        if waiting {
            self.rebalancing_since.get_or_insert(now);
        } else if let Some(since) = self.rebalancing_since.take() {
            effects.push(Effect::Rebalanced(now.saturating_duration_since(since)));
        }
        if !fenced {
            self.release_stopped(view, now, &mut effects);
        }
        effects
    }

    /// Releases every partition that moved away from this node and that no actor here writes any
    /// more, so its new owner may start; again every [`RELEASE_RETRY`] until the cluster applied
    /// it. What waits for no release is forgotten.
    fn release_stopped(&mut self, view: &FlowView<'_>, now: Instant, effects: &mut Vec<Effect>) {
        let releasing_here = |tp: &TopicPartition| {
            view.partitions
                .get(tp)
                .is_some_and(|info| info.releasing == Some(self.node))
        };
        // Released by this node although it has nothing of them (e.g. after a restart).
        for (tp, info) in &view.partitions {
            if info.releasing == Some(self.node) && !self.slots.contains_key(*tp) {
                self.slots.insert(
                    (*tp).clone(),
                    Slot::Stopped {
                        position: None,
                        runs: Vec::new(),
                        asked: None,
                    },
                );
            }
        }
        for (tp, slot) in self.slots.iter_mut() {
            let Slot::Stopped {
                position,
                runs,
                asked,
            } = slot
            else {
                continue;
            };
            if !releasing_here(tp)
                || asked.is_some_and(|at| now.saturating_duration_since(at) <= RELEASE_RETRY)
            {
                continue;
            }
            *asked = Some(now);
            effects.push(Effect::Release(Command::Release {
                node: self.node,
                key: PartitionKey {
                    flow: self.flow.clone(),
                    tp: tp.clone(),
                },
                position: *position,
                runs: runs.clone(),
            }));
        }
        // Kept while the partition is still this node's too (stopped by a lost lease or a new
        // epoch, and not restarted because the flow is paused meanwhile): a later move away
        // releases it with its final position and runs, and a restart reports the runs.
        let owned_here = |tp: &TopicPartition| {
            view.partitions
                .get(tp)
                .and_then(|info| info.owner)
                .is_some_and(|owner| owner.node == self.node)
        };
        self.slots.retain(|tp, slot| match slot {
            Slot::Stopped { asked, .. } => {
                (asked.is_some() && releasing_here(tp)) || owned_here(tp)
            }
            Slot::Running { .. } | Slot::Retiring { .. } => true,
        });
    }

    /// The partition's actor `generation` could not be started (its stored position cannot be
    /// read): the next reconcile tries again. A failure of an actor that is not the partition's
    /// running one changes nothing.
    pub fn start_failed(&mut self, tp: &TopicPartition, generation: Generation) {
        match self.slots.get(tp) {
            Some(Slot::Running { generation: g, .. }) if *g == generation => {
                self.slots.remove(tp);
            }
            current => tracing::debug!(flow = %self.flow, partition = %tp, generation,
                current = ?current.and_then(Slot::generation), "stale start failure ignored"),
        }
    }

    /// A partition actor retired. The caller reconciles next (the partition may belong here again,
    /// e.g. contact restored).
    pub fn retired(&mut self, view: &FlowView<'_>, retired: RetiredPartition) -> Vec<Effect> {
        let RetiredPartition {
            tp,
            epoch,
            generation,
            position,
            runs: retired_runs,
        } = retired;
        let mut runs = match self.slots.remove(&tp) {
            Some(Slot::Retiring {
                generation: current,
                runs,
            }) if current == generation => runs,
            // Retired without being told to (not expected): gone all the same.
            Some(Slot::Running {
                generation: current,
                unreported,
                ..
            }) if current == generation => unreported.into_runs(),
            slot => {
                // Not the partition's current actor: a duplicate, or an earlier actor that its
                // supervisor restarted after it retired. Another actor may run it already.
                let current = slot.as_ref().and_then(Slot::generation);
                tracing::debug!(flow = %self.flow, partition = %tp, generation, ?current,
                    "stale Retired ignored");
                if let Some(slot) = slot {
                    self.slots.insert(tp, slot);
                }
                return Vec::new();
            }
        };
        runs.extend(retired_runs);
        let mut effects = Vec::new();
        let still_mine = view.partitions.get(&tp).and_then(|info| info.owner)
            == Some(Owner {
                node: self.node,
                epoch,
            });
        if let Some(position) = position.filter(|_| still_mine && view.paused) {
            // Stopped by the pause and still this node's: no release follows, so the offset runs go
            // with this update instead.
            effects.push(Effect::PausedPosition(Command::UpdatePositions {
                node: self.node,
                positions: vec![PositionUpdate {
                    key: PartitionKey {
                        flow: self.flow.clone(),
                        tp: tp.clone(),
                    },
                    epoch,
                    position,
                    runs: std::mem::take(&mut runs),
                }],
            }));
        }
        self.slots.insert(
            tp,
            Slot::Stopped {
                position,
                runs,
                asked: None,
            },
        );
        effects
    }

    /// The positions that moved since they were last applied, as one `UpdatePositions`.
    /// `acknowledged` gives a running partition's acknowledged position and the offset runs taken
    /// since the last call (called only for running partitions; `None`: nothing acknowledged yet).
    pub fn positions_due(
        &mut self,
        mut acknowledged: impl FnMut(&TopicPartition) -> Option<(Position, Vec<OffsetRun>)>,
    ) -> Option<(Command, PositionsSent)> {
        let mut positions = Vec::new();
        for (tp, slot) in self.slots.iter_mut() {
            let Slot::Running {
                epoch, unreported, ..
            } = slot
            else {
                continue;
            };
            let Some((position, taken)) = acknowledged(tp) else {
                continue;
            };
            let Some(runs) = unreported.due(position, taken) else {
                continue;
            };
            positions.push(PositionUpdate {
                key: PartitionKey {
                    flow: self.flow.clone(),
                    tp: tp.clone(),
                },
                epoch: *epoch,
                position,
                runs,
            });
        }
        if positions.is_empty() {
            return None;
        }
        let sent = positions
            .iter()
            .map(|u| (u.key.tp.clone(), u.epoch, u.position, u.runs.clone()))
            .collect();
        let command = Command::UpdatePositions {
            node: self.node,
            positions,
        };
        Some((command, PositionsSent(sent)))
    }

    /// The cluster applied (or refused for good, e.g. no longer the owner) these positions. Only
    /// then: after a failure an idle partition's unchanged position must be proposed again.
    pub fn positions_applied(&mut self, sent: PositionsSent) {
        for (tp, sent_epoch, position, runs) in sent.0 {
            // A partition restarted under a new epoch reports afresh.
            if let Some(Slot::Running {
                epoch, unreported, ..
            }) = self.slots.get_mut(&tp)
            {
                if *epoch == sent_epoch {
                    unreported.applied(position, &runs);
                }
            }
        }
    }

    /// Stops for good: every running partition retires (their actors are told so), nothing starts
    /// or is released any more.
    pub fn shutdown(&mut self) -> Vec<Effect> {
        self.draining = true;
        let running: Vec<TopicPartition> = self.running().cloned().collect();
        running
            .into_iter()
            .map(|tp| {
                self.slots.remove(&tp);
                Effect::Retire { tp }
            })
            .collect()
    }

    /// Stops starting and releasing partitions (a clean shutdown drains what runs).
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// The partitions this node owns and does not read (the flow paused, or fenced: as of the last
    /// state this node has), with their positions, so that their lag is reported instead of
    /// vanishing with their actors. Empty while it reads them.
    pub fn held(&self, view: &FlowView<'_>, fenced: bool) -> BTreeMap<TopicPartition, Held> {
        if !view.paused && !fenced {
            return BTreeMap::new();
        }
        let state = if fenced {
            PartitionState::NoQuorum
        } else {
            PartitionState::Paused
        };
        view.partitions
            .iter()
            .filter(|(_, info)| info.owner.is_some_and(|o| o.node == self.node))
            .map(|(tp, info)| {
                (
                    (*tp).clone(),
                    Held {
                        state: state.clone(),
                        remote_topic: info.remote_topic.clone(),
                        next_source_offset: info.position.map(|p| p.next_source_offset),
                    },
                )
            })
            .collect()
    }
}

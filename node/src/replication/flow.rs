//! The flow actor: one per enabled flow (`A->B`) on every node, a thin shell around the flow's
//! [ownership core](crate::replication::ownership). It owns the flow's clients and the partition
//! actors; it runs the timers, feeds the core the cluster state, the lease and the time, and
//! carries out what the core decides (start, retire, purge, propose). On the Raft leader it also
//! runs topic discovery ([`discovery`](crate::replication::discovery)) and publishes the result
//! through the Raft log.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use strait_config::FlowSettings;
use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::state::{ApplyOutcome, Command};
use strait_coordinator::{NodeId, TopicPartition};
use strait_storage::{Position, PositionStore};

use crate::replication::ack::AckWindow;
use crate::replication::clients::{list_end_offsets, serve_main_queue, FlowClients};
use crate::replication::discovery::RefreshJob;
use crate::replication::ownership::{
    Effect, FlowView, Generation, Lease, Ownership, RetiredPartition,
};
use crate::replication::partition::{
    Fence, PartitionActor, PartitionSpec, PersistNow, Retire, Retired, StopReading,
};
use crate::replication::producer::{Flush, PurgeQueued};
use crate::replication::status::NodeStatus;
use crate::NodeError;

/// How long a clean shutdown waits for the target to acknowledge what is in flight.
const DRAIN_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the flow compares what it runs with what the cluster assigns it.
const RECONCILE_INTERVAL: Duration = Duration::from_millis(100);
/// How often the end offsets of owned partitions the consumer does not fetch (paused, no quorum,
/// backing off) are listed, so that their lag keeps up with the source.
const LIST_ENDS_INTERVAL: Duration = Duration::from_secs(2);

/// The cluster as a flow actor sees it.
#[derive(Clone)]
pub struct ClusterView {
    pub raft: RaftHandle,
    pub node_id: NodeId,
    /// Cut off from the leader this long, the node stops writing (another node may own its
    /// partitions by then).
    pub liveness_timeout: Duration,
    /// How often replicated positions are proposed to the cluster.
    pub position_interval: Duration,
    /// How often the local offset runs are trimmed below the sources' log start offsets
    /// (`[node] offset_trim_interval_secs`).
    pub offset_trim_interval: Duration,
}

/// A partition actor this node runs or retires.
struct PartitionHandle {
    /// Kept while it retires too, so that an actor that failed with `Retire` still in its mailbox
    /// is restarted by its supervisor (which restarts only an actor someone can still reach) and
    /// then retires.
    addr: Addr<PartitionActor>,
    /// Its incarnation, as the core handed it out.
    generation: Generation,
    ack: Arc<AckWindow>,
}

pub struct FlowActor {
    settings: Arc<FlowSettings>,
    cluster: ClusterView,
    clients: FlowClients,
    positions: PositionStore,
    status: NodeStatus,
    /// Partition actors are spread over these threads.
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    ownership: Ownership,
    /// The actors of the partitions the core runs or retires.
    actors: BTreeMap<TopicPartition, PartitionHandle>,
    refreshing: bool,
    refreshed_once: bool,
    /// A listing of end offsets is under way (one at a time); the last one listed any.
    listing_ends: bool,
    listed_any: bool,
}

impl FlowActor {
    /// Builds the flow's clients. Fails on a client configuration librdkafka rejects (the message
    /// names the property).
    pub fn new(
        settings: FlowSettings,
        cluster: ClusterView,
        positions: PositionStore,
        status: NodeStatus,
        arbiters: Vec<ArbiterHandle>,
        producer_arbiter: &ArbiterHandle,
    ) -> Result<Self, NodeError> {
        let clients = FlowClients::new(&settings, &status, producer_arbiter)?;
        Ok(Self {
            ownership: Ownership::new(settings.id.clone(), cluster.node_id),
            settings: Arc::new(settings),
            cluster,
            clients,
            positions,
            status,
            arbiters,
            next_arbiter: 0,
            actors: BTreeMap::new(),
            refreshing: false,
            refreshed_once: false,
            listing_ends: false,
            listed_any: false,
        })
    }

    /// Topic discovery runs on the leader only; its result goes through the Raft log.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing
            || self.ownership.draining()
            || self.cluster.raft.status().role != RaftRole::Leader
        {
            return;
        }
        self.refreshing = true;
        let job = RefreshJob::new(
            self.settings.clone(),
            self.clients.source_admin.clone(),
            self.clients.target_admin.clone(),
            &self.cluster.raft.state(),
        );
        ctx.spawn(job.run().into_actor(self).map(|outcome, actor, ctx| {
            actor.refreshing = false;
            let flow = actor.settings.id.clone();
            if !outcome.report(&actor.status, &flow) {
                return;
            }
            if let Some(command) = outcome.publication(&actor.cluster.raft.state(), &flow) {
                actor.propose(ctx, command, move |error| {
                    tracing::warn!(%flow, %error, "cannot publish discovered topics, retrying");
                });
            }
        }));
    }

    /// Runs exactly the partitions the cluster gives this node, under their current epoch; none
    /// while cut off from the leader (the decisions are the ownership core's).
    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        if self.ownership.draining() {
            return;
        }
        let status = self.cluster.raft.status();
        let lease = Lease {
            fenced: !status.has_quorum_contact(self.cluster.liveness_timeout),
            leader: status.leader,
        };
        let state = self.cluster.raft.state();
        let view = FlowView::of(&state, &self.settings.id);
        self.status
            .set_held(&self.settings.id, self.ownership.held(&view, lease.fenced));
        let actors = &self.actors;
        let effects = self
            .ownership
            .reconcile(&view, lease, Instant::now(), |tp| {
                actors.get(tp).is_some_and(|a| a.addr.connected())
            });
        self.apply(ctx, effects);
    }

    /// Carries out the core's effects, then lets go of the actors it no longer tracks.
    fn apply(&mut self, ctx: &mut Context<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::PurgeQueued => self.clients.producer.do_send(PurgeQueued),
                Effect::Start {
                    tp,
                    epoch,
                    generation,
                    remote_topic,
                    replicated,
                } => self.start_partition(ctx, tp, epoch, generation, remote_topic, replicated),
                Effect::Retire { tp } => {
                    if let Some(handle) = self.actors.get(&tp) {
                        handle.addr.do_send(Retire);
                    }
                }
                Effect::Release(command) => self.propose(ctx, command, |error| {
                    tracing::debug!(%error, "release not proposed (retrying)");
                }),
                Effect::PausedPosition(command) => self.propose(ctx, command, |error| {
                    tracing::warn!(%error,
                        "paused position not proposed: kept locally, the cluster's copy is older");
                }),
                Effect::Rebalanced(took) => crate::metrics::rebalance(&self.settings.id, took),
            }
        }
        let ownership = &self.ownership;
        self.actors
            .retain(|tp, handle| ownership.actor(tp) == Some(handle.generation));
    }

    /// Proposes `command` off the actor; `failed` logs a proposal that did not commit.
    fn propose(
        &self,
        ctx: &mut Context<Self>,
        command: Command,
        failed: impl FnOnce(strait_coordinator::raft::ProposeError) + 'static,
    ) {
        let raft = self.cluster.raft.clone();
        ctx.spawn(
            async move {
                if let Err(error) = raft.propose(command).await {
                    failed(error);
                }
            }
            .into_actor(self),
        );
    }

    /// Lists the end offsets of the partitions this node owns and the consumer does not fetch.
    fn list_unfetched_ends(&mut self, ctx: &mut Context<Self>) {
        if self.listing_ends {
            return;
        }
        let partitions = self.status.not_fetched(&self.settings.id);
        if partitions.is_empty() {
            if self.listed_any {
                self.clients.source_offsets.set_listed(HashMap::new());
                self.listed_any = false;
            }
            return;
        }
        self.listing_ends = true;
        let consumer = self.clients.consumer.clone();
        let flow = self.settings.id.clone();
        ctx.spawn(
            async move { list_end_offsets(&flow, consumer, &partitions).await }
                .into_actor(self)
                .map(|listed, actor, _| {
                    actor.listing_ends = false;
                    if let Some(ends) = listed {
                        actor.listed_any = !ends.is_empty();
                        actor.clients.source_offsets.set_listed(ends);
                    }
                }),
        );
    }

    fn start_partition(
        &mut self,
        ctx: &mut Context<Self>,
        tp: TopicPartition,
        epoch: u64,
        generation: Generation,
        remote: String,
        replicated: Option<Position>,
    ) {
        let flow = self.settings.id.clone();
        let spec = PartitionSpec {
            flow: flow.clone(),
            tp: tp.clone(),
            remote_topic: Arc::from(remote.as_str()),
            consumer: self.clients.consumer.clone(),
            producer: self.clients.target_producer.clone(),
            budget: self.clients.budget.clone(),
            positions: self.positions.clone(),
            status: self.status.clone(),
            flush_interval: self.settings.position_flush_interval,
            epoch,
            generation,
            replicated,
            retired: ctx.address().recipient(),
            fence: Fence {
                raft: self.cluster.raft.clone(),
                node: self.cluster.node_id,
                lease: self.cluster.liveness_timeout,
            },
            offset_reset: self.clients.offset_reset,
            source_principal: self
                .settings
                .consumer
                .get("sasl.username")
                .map(|user| Arc::from(format!("User:{user}"))),
        };
        let actor = match PartitionActor::new(spec) {
            Ok(actor) => actor,
            Err(error) => {
                tracing::error!(%flow, partition = %tp, %error, "cannot load the stored position");
                self.ownership.start_failed(&tp, generation);
                return;
            }
        };
        let ack = actor.ack_window();
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter += 1;
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| actor);
        self.actors.insert(
            tp,
            PartitionHandle {
                addr,
                generation,
                ack,
            },
        );
    }

    /// Proposes the positions that moved since the last proposal, so that a partition's next owner
    /// resumes close to where this one got.
    fn propose_positions(&mut self, ctx: &mut Context<Self>) {
        let actors = &self.actors;
        // Runs and position are read apart, so the runs may run a little ahead of the position:
        // harmless, they describe records the target acknowledged.
        let due = self.ownership.positions_due(|tp| {
            let ack = &actors.get(tp)?.ack;
            Some((ack.committed()?, ack.take_cluster_runs()))
        });
        let Some((command, sent)) = due else {
            return;
        };
        let flow = self.settings.id.clone();
        let raft = self.cluster.raft.clone();
        ctx.spawn(
            async move {
                match raft.propose(command).await {
                    Ok(ApplyOutcome::Applied) => true,
                    Ok(outcome) => {
                        tracing::debug!(%flow, ?outcome, "positions partly applied");
                        true
                    }
                    Err(error) => {
                        tracing::debug!(%flow, %error, "positions not proposed (next interval retries)");
                        false
                    }
                }
            }
            .into_actor(self)
            // Applied (or refused for good, e.g. no longer the owner).
            .map(move |committed, actor, _ctx| {
                if committed {
                    actor.ownership.positions_applied(sent);
                }
            }),
        );
    }
}

impl Actor for FlowActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::info!(flow = %self.settings.id, "flow started");
        ctx.spawn(
            serve_main_queue(self.settings.id.clone(), self.clients.consumer.clone())
                .into_actor(self),
        );
        ctx.run_interval(RECONCILE_INTERVAL, Self::reconcile);
        ctx.run_interval(LIST_ENDS_INTERVAL, Self::list_unfetched_ends);
        // And at once when the cluster state changes: a handover waits for the old owner to
        // notice the move and for the new one to notice the release.
        let changes = self.cluster.raft.watch_state();
        ctx.add_stream(futures::stream::unfold(changes, |mut changes| async move {
            changes.changed().await.ok()?;
            Some((StateChanged, changes))
        }));
        // Heartbeats, offset syncs, checkpoints, group offset sync (acts while this node leads).
        ctx.spawn(
            crate::offsets::emitter::run(self.settings.clone(), self.cluster.raft.clone())
                .into_actor(self),
        );
        ctx.run_interval(self.cluster.position_interval, Self::propose_positions);
        ctx.run_interval(self.cluster.offset_trim_interval, |actor, ctx| {
            let job = crate::offsets::trim::trim_local_runs(
                actor.settings.id.clone(),
                actor.clients.consumer.clone(),
                actor.positions.clone(),
                actor.ownership.running().cloned().collect(),
            );
            ctx.spawn(job.into_actor(actor));
        });
        // The first refresh as soon as this node leads, then at the configured interval.
        ctx.run_interval(RECONCILE_INTERVAL, |actor, ctx| {
            if !actor.refreshed_once && actor.cluster.raft.status().role == RaftRole::Leader {
                actor.refreshed_once = true;
                actor.refresh(ctx);
            }
        });
        if self.settings.refresh_topics_enabled {
            ctx.run_interval(self.settings.refresh_topics_interval, Self::refresh);
        }
    }
}

impl Handler<Retired> for FlowActor {
    type Result = ();

    fn handle(&mut self, retired: Retired, ctx: &mut Self::Context) {
        let state = self.cluster.raft.state();
        let view = FlowView::of(&state, &self.settings.id);
        let effects = self.ownership.retired(
            &view,
            RetiredPartition {
                tp: retired.tp,
                epoch: retired.epoch,
                generation: retired.generation,
                position: retired.position,
                runs: retired.runs,
            },
        );
        self.apply(ctx, effects);
        // It may belong here again (e.g. contact restored): start it at once.
        self.reconcile(ctx);
    }
}

/// The cluster state changed (applied entries).
struct StateChanged;

impl StreamHandler<StateChanged> for FlowActor {
    fn handle(&mut self, _: StateChanged, ctx: &mut Self::Context) {
        self.reconcile(ctx);
    }

    fn finished(&mut self, _ctx: &mut Self::Context) {
        // The Raft task is gone (the node stops): the interval reconciles until then.
    }
}

/// Stops the flow for good (after a [`Drain`]): its partition actors retire and it stops.
pub struct Shutdown;

impl actix::Message for Shutdown {
    type Result = ();
}

impl Handler<Shutdown> for FlowActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        // A flow that stops (its configuration changed) reports nothing as held.
        self.status.set_held(&self.settings.id, BTreeMap::new());
        let effects = self.ownership.shutdown();
        self.apply(ctx, effects);
        ctx.stop();
    }
}

/// Stops reading, waits for the target to acknowledge everything in flight, and stores the final
/// positions (locally and, best effort, in the cluster).
pub struct Drain;

impl actix::Message for Drain {
    type Result = ();
}

impl Handler<Drain> for FlowActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Drain, _ctx: &mut Self::Context) -> Self::Result {
        self.ownership.drain();
        let partitions: Vec<Addr<PartitionActor>> = self
            .ownership
            .running()
            .filter_map(|tp| self.actors.get(tp))
            .map(|handle| handle.addr.clone())
            .collect();
        let producer = self.clients.producer.clone();
        let flow = self.settings.id.clone();
        Box::pin(
            async move {
                for partition in &partitions {
                    let _ = partition.send(StopReading).await;
                }
                match producer.send(Flush(DRAIN_FLUSH_TIMEOUT)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(%flow, %error, "flush before exit incomplete"),
                    Err(error) => tracing::warn!(%flow, %error, "producer gone before flush"),
                }
                for partition in &partitions {
                    let _ = partition.send(PersistNow).await;
                }
                tracing::info!(%flow, partitions = partitions.len(), "flow drained");
            }
            .into_actor(self)
            .map(|(), actor, ctx| {
                actor.propose_positions(ctx);
            }),
        )
    }
}

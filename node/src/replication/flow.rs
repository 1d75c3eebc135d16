//! The flow actor: one per enabled flow (`A->B`) on every node, a thin shell around the flow's
//! [ownership core](crate::replication::ownership). It owns the flow's clients and the partition
//! actors; it runs the timers, feeds the core the cluster state, the lease and the time, and
//! carries out what the core decides (start, retire, purge, propose). On the Raft leader it also
//! runs topic discovery ([`discovery`](crate::replication::discovery)) and publishes the result
//! through the Raft log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use strait_config::FlowSettings;
use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::state::{ApplyOutcome, Command};
use strait_coordinator::NodeId;
use strait_storage::PositionStore;

use crate::replication::actors::{PartitionActors, PartitionTemplate};
use crate::replication::clients::{serve_main_queue, FlowClients};
use crate::replication::discovery::RefreshJob;
use crate::replication::ownership::{Effect, FlowView, Lease, Ownership, RetiredPartition};
use crate::replication::partition::{Fence, Retired};
use crate::replication::status::NodeStatus;
use crate::replication::throttle;
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

pub struct FlowActor {
    settings: Arc<FlowSettings>,
    cluster: ClusterView,
    clients: FlowClients,
    positions: PositionStore,
    status: NodeStatus,
    ownership: Ownership,
    /// The actors of the partitions the core runs or retires.
    actors: PartitionActors,
    refreshing: bool,
    refreshed_once: bool,
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
        let clients = FlowClients::new(&settings, &status, producer_arbiter, &cluster)?;
        let fence = Fence {
            raft: cluster.raft.clone(),
            node: cluster.node_id,
            lease: cluster.liveness_timeout,
        };
        let template = PartitionTemplate::new(
            &settings,
            &clients,
            positions.clone(),
            status.clone(),
            fence,
        );
        Ok(Self {
            ownership: Ownership::new(settings.id.clone(), cluster.node_id),
            settings: Arc::new(settings),
            cluster,
            clients,
            positions,
            status,
            actors: PartitionActors::new(template, arbiters),
            refreshing: false,
            refreshed_once: false,
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
        self.apply_rate_limit(&state);
        let view = FlowView::of(&state, &self.settings.id);
        self.status
            .set_held(&self.settings.id, self.ownership.held(&view, lease.fenced));
        let actors = &self.actors;
        let effects = self
            .ownership
            .reconcile(&view, lease, Instant::now(), |tp| actors.alive(tp));
        self.apply(ctx, effects);
    }

    /// This node's share of the flow's rate limit, applied when it changed.
    fn apply_rate_limit(&self, state: &strait_coordinator::state::ClusterState) {
        let cluster = throttle::cluster_limit(state, &self.settings);
        let share = throttle::share(state, &self.settings, self.cluster.node_id, cluster);
        if self.clients.budget.rate().set(share) {
            tracing::info!(flow = %self.settings.id,
                cluster_records_per_second = cluster.records_per_second,
                cluster_bytes_per_second = cluster.bytes_per_second,
                records_per_second = share.records_per_second,
                bytes_per_second = share.bytes_per_second,
                "rate limit on this node (0: unlimited)");
        }
    }

    /// Carries out the core's effects, then lets go of the actors it no longer tracks.
    fn apply(&mut self, ctx: &mut Context<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::PurgeQueued => self.clients.producer.purge_queued(),
                Effect::Start(start) => {
                    let (tp, generation) = (start.tp.clone(), start.generation);
                    if let Err(error) = self.actors.start(start, ctx.address().recipient()) {
                        tracing::error!(flow = %self.settings.id, partition = %tp, %error,
                            "cannot load the stored position");
                        self.ownership.start_failed(&tp, generation);
                    }
                }
                Effect::Retire { tp } => self.actors.retire(&tp),
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
        self.actors.keep_current(&self.ownership);
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
        if let Some(job) = self
            .clients
            .list_unfetched_ends(&self.settings.id, &self.status)
        {
            ctx.spawn(job.into_actor(self).map(|listed, actor, _| {
                actor.clients.listed_ends(listed);
            }));
        }
    }

    /// Proposes the positions that moved since the last proposal, so that a partition's next owner
    /// resumes close to where this one got.
    fn propose_positions(&mut self, ctx: &mut Context<Self>) {
        let actors = &self.actors;
        let due = self.ownership.positions_due(|tp| actors.acknowledged(tp));
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
        let effects = self
            .ownership
            .retired(&view, RetiredPartition::from(retired));
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
        let drained = self.actors.drain(
            self.ownership.running().cloned().collect(),
            self.clients.producer.clone(),
            DRAIN_FLUSH_TIMEOUT,
        );
        Box::pin(drained.into_actor(self).map(|(), actor, ctx| {
            actor.propose_positions(ctx);
        }))
    }
}

//! The flow actor: one per enabled flow (`A->B`) on every node. It owns the flow's shared source
//! consumer and its producer actor. On the Raft leader it discovers source topics every refresh
//! interval, creates and configures remote topics, and publishes the result through the Raft log.
//! On every node it runs a supervised partition actor for each partition the cluster assigns to
//! this node (under the assignment's epoch), retires the ones that moved away, stops everything
//! while cut off from the leader, and proposes its replicated positions about once a second.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use rdkafka::message::Message;
use strait_config::FlowSettings;
use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::state::{
    ApplyOutcome, ClusterState, Command, PartitionKey, PositionUpdate, TopicInfo,
};
use strait_coordinator::{NodeId, TopicPartition};
use strait_coordinator::{OffsetRun, Position};
use strait_storage::PositionStore;

use crate::kafka::{
    ClientRole, FlowClientConfigs, OffsetReset, ReportingContext, TopicAdmin, TopicConfigEntry,
};
use crate::replication::ack::AckWindow;
use crate::replication::budget::InFlightBudget;
use crate::replication::partition::{
    Fence, PartitionActor, PartitionSpec, PersistNow, Retire, Retired, SourceConsumer, StopReading,
};
use crate::replication::producer::{Flush, ProducerActor, PurgeQueued, TargetProducer};
use crate::replication::status::{FlowHandles, NodeStatus};
use crate::replication::topic_configs;
use crate::replication::topics::{select_topics, SelectedTopic};
use crate::replication::unreported::Unreported;
use crate::NodeError;

/// How long admin requests may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean shutdown waits for the target to acknowledge what is in flight.
const DRAIN_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the flow compares what it runs with what the cluster assigns it.
const RECONCILE_INTERVAL: Duration = Duration::from_millis(100);
/// A release not committed within this time is proposed again.
const RELEASE_RETRY: Duration = Duration::from_secs(1);
/// How often the end offsets of owned partitions the consumer does not fetch (paused, no quorum,
/// backing off) are listed, so that their lag keeps up with the source.
const LIST_ENDS_INTERVAL: Duration = Duration::from_secs(2);
/// How long one such listing may take.
const LIST_ENDS_TIMEOUT: Duration = Duration::from_secs(5);

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

/// A partition actor this node runs, under the epoch the cluster gave it.
struct Running {
    addr: Addr<PartitionActor>,
    epoch: u64,
    ack: Arc<AckWindow>,
    /// What the cluster has not applied yet of its progress.
    unreported: Unreported,
}

pub struct FlowActor {
    settings: Arc<FlowSettings>,
    cluster: ClusterView,
    consumer: Arc<SourceConsumer>,
    /// Purges and flushes the flow's producer.
    producer: Addr<ProducerActor>,
    /// What the partition actors produce through.
    target_producer: TargetProducer,
    source_admin: TopicAdmin,
    target_admin: TopicAdmin,
    budget: Arc<InFlightBudget>,
    positions: PositionStore,
    status: NodeStatus,
    /// `auto.offset.reset` of the source consumer, applied by the partition actors.
    offset_reset: OffsetReset,
    /// Partition actors are spread over these threads.
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    running: BTreeMap<TopicPartition, Running>,
    /// Partitions whose actor is retiring: not started again until it is gone. The address is
    /// kept so that an actor that failed with `Retire` still in its mailbox is restarted by its
    /// supervisor (which restarts only an actor someone can still reach) and then retires.
    retiring: BTreeMap<TopicPartition, Addr<PartitionActor>>,
    refreshing: bool,
    draining: bool,
    /// Whether this node had lost contact with the cluster at the last reconcile.
    fenced: bool,
    /// Whether the flow was paused at the last reconcile.
    paused: bool,
    /// Releases proposed and not yet seen committed, with when they were proposed.
    release_asked: HashMap<TopicPartition, Instant>,
    /// The final positions of retired partitions, for their release.
    final_positions: HashMap<TopicPartition, Position>,
    /// The offset runs of retired partitions the cluster does not have yet, for their release.
    final_runs: HashMap<TopicPartition, Vec<OffsetRun>>,
    refreshed_once: bool,
    /// Since when the partitions this node runs differ from its assignment (a rebalance under
    /// way), for `strait_cluster_rebalance_duration_seconds`.
    rebalancing_since: Option<Instant>,
    /// The consumer's view of the source offsets, and the end offsets listed for the partitions
    /// it does not fetch.
    source_offsets: Arc<crate::kafka::SourceOffsets>,
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
        let flow = settings.id.to_string();
        let client_error = |role: ClientRole| {
            let flow = flow.clone();
            move |source| NodeError::Client { flow, role, source }
        };
        let source_context = ReportingContext::new(format!("{flow} source"));
        let target_context = ReportingContext::new(format!("{flow} target"));
        // The same configurations `check_client_properties` checked at load.
        let configs = FlowClientConfigs::new(&settings);
        let consumer: SourceConsumer = configs
            .consumer
            .create_with_context(source_context.clone())
            .map_err(client_error(ClientRole::SourceConsumer))?;
        let producer = ProducerActor::new(&configs.producer, target_context.clone(), &flow)
            .map_err(client_error(ClientRole::TargetProducer))?;
        let source_admin =
            TopicAdmin::new(&configs.source_admin, source_context.clone(), ADMIN_TIMEOUT)
                .map_err(client_error(ClientRole::SourceAdmin))?;
        let target_admin =
            TopicAdmin::new(&configs.target_admin, target_context.clone(), ADMIN_TIMEOUT)
                .map_err(client_error(ClientRole::TargetAdmin))?;
        let budget = Arc::new(InFlightBudget::new(
            settings.max_in_flight_records,
            settings.max_in_flight_bytes,
        ));
        status.register_flow(
            &settings.id,
            FlowHandles {
                budget: budget.clone(),
                source_health: source_context.health.clone(),
                target_health: target_context.health.clone(),
                source_offsets: source_context.offsets.clone(),
            },
        );
        let source_offsets = source_context.offsets.clone();
        let offset_reset = OffsetReset::from_props(&settings.consumer).unwrap_or_default();
        let target_producer = producer.target();
        let producer = ProducerActor::start_in_arbiter(producer_arbiter, move |_| producer);
        Ok(Self {
            settings: Arc::new(settings),
            cluster,
            consumer: Arc::new(consumer),
            producer,
            target_producer,
            source_admin,
            target_admin,
            budget,
            positions,
            status,
            offset_reset,
            arbiters,
            next_arbiter: 0,
            running: BTreeMap::new(),
            retiring: BTreeMap::new(),
            refreshing: false,
            draining: false,
            fenced: false,
            paused: false,
            release_asked: HashMap::new(),
            final_positions: HashMap::new(),
            final_runs: HashMap::new(),
            refreshed_once: false,
            rebalancing_since: None,
            source_offsets,
            listing_ends: false,
            listed_any: false,
        })
    }

    /// Topic discovery runs on the leader only; its result goes through the Raft log.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing || self.draining || self.cluster.raft.status().role != RaftRole::Leader {
            return;
        }
        self.refreshing = true;
        let flow = self.settings.id.clone();
        let replicated = self
            .cluster
            .raft
            .state()
            .partitions()
            .filter(|(key, info)| key.flow == flow && info.position.is_some())
            .map(|(_, info)| info.remote_topic.clone())
            .collect();
        let job = RefreshJob {
            settings: self.settings.clone(),
            source_admin: self.source_admin.clone(),
            target_admin: self.target_admin.clone(),
            replicated,
        };
        ctx.spawn(job.run().into_actor(self).map(|outcome, actor, ctx| {
            actor.refreshing = false;
            actor.publish_topics(outcome, ctx);
        }));
    }

    /// Proposes the discovered topics if they differ from what the cluster has.
    fn publish_topics(&mut self, outcome: RefreshOutcome, ctx: &mut Context<Self>) {
        let flow = self.settings.id.clone();
        if let Some(error) = outcome.listing_error {
            tracing::warn!(%flow, %error, "topic refresh failed, retrying at the next interval");
            self.status.set_topic_error(&flow, "*", Some(error));
            return;
        }
        self.status.set_topic_error(&flow, "*", None);
        for (topic, error) in &outcome.topic_errors {
            self.status.set_topic_error(&flow, topic, error.clone());
        }
        let state = self.cluster.raft.state();
        let mut current: BTreeMap<String, TopicInfo> = BTreeMap::new();
        for (key, info) in state.partitions().filter(|(k, _)| k.flow == flow) {
            let entry = current.entry(key.tp.topic.clone()).or_insert(TopicInfo {
                topic: key.tp.topic.clone(),
                partitions: 0,
                remote_topic: info.remote_topic.clone(),
            });
            entry.partitions = entry.partitions.max(key.tp.partition + 1);
        }
        let mut topics: BTreeMap<String, TopicInfo> = outcome
            .ready
            .into_iter()
            .map(|t| (t.topic.clone(), t))
            .collect();
        // A topic whose remote could not be prepared this time keeps what the cluster has: a
        // transient admin error must not stop its replication.
        for (topic, error) in &outcome.topic_errors {
            if let (Some(_), Some(known)) = (error, current.get(topic)) {
                topics.entry(topic.clone()).or_insert_with(|| known.clone());
            }
        }
        if topics == current {
            return;
        }
        let command = Command::SetTopics {
            flow: flow.clone(),
            topics: topics.into_values().collect(),
        };
        let raft = self.cluster.raft.clone();
        ctx.spawn(
            async move {
                if let Err(error) = raft.propose(command).await {
                    tracing::warn!(%flow, %error, "cannot publish discovered topics, retrying");
                }
            }
            .into_actor(self),
        );
    }

    /// Runs exactly the partitions the cluster gives this node, under their current epoch; none
    /// while cut off from the leader.
    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            return;
        }
        let flow = self.settings.id.clone();
        let status = self.cluster.raft.status();
        let fenced = !status.has_quorum_contact(self.cluster.liveness_timeout);
        if fenced != self.fenced {
            if fenced {
                tracing::warn!(%flow, leader = status.leader,
                    "no contact with a cluster leader: stopping every partition");
                // What is still queued could reach the target after the next owner's records.
                self.producer.do_send(PurgeQueued);
            } else {
                tracing::info!(%flow, leader = status.leader, "in contact with the cluster leader");
            }
            self.fenced = fenced;
        }
        let state = self.cluster.raft.state();
        let paused = state.is_paused(&flow);
        if paused != self.paused {
            tracing::info!(%flow, paused, "flow {}", if paused { "paused" } else { "resumed" });
            self.paused = paused;
        }
        self.report_held(&state, paused, fenced);
        // Paused: stop reading and keep the partitions; the positions stay where they are.
        let desired: BTreeMap<TopicPartition, (u64, String, Option<Position>)> = if fenced || paused
        {
            BTreeMap::new()
        } else {
            state
                .partitions()
                .filter(|(key, info)| {
                    key.flow == flow
                        && info.owner.is_some_and(|o| o.node == self.cluster.node_id)
                        // The previous owner has not released it yet.
                        && info.releasing.is_none()
                })
                .map(|(key, info)| {
                    (
                        key.tp.clone(),
                        (info.epoch, info.remote_topic.clone(), info.position),
                    )
                })
                .collect()
        };
        let stale: Vec<TopicPartition> = self
            .running
            .iter()
            .filter(|(tp, run)| desired.get(*tp).map(|d| d.0) != Some(run.epoch))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in stale {
            if let Some(run) = self.running.remove(&tp) {
                tracing::info!(%flow, partition = %tp, epoch = run.epoch, "partition leaves this node");
                self.final_runs
                    .insert(tp.clone(), run.unreported.into_runs());
                run.addr.do_send(Retire);
                self.retiring.insert(tp, run.addr);
            }
        }
        // An actor that ended without retiring (it cannot say so any more) is gone all the same:
        // its partition restarts from the stored position.
        self.retiring.retain(|tp, addr| {
            let alive = addr.connected();
            if !alive {
                tracing::warn!(%flow, partition = %tp,
                    "partition actor ended without retiring; it restarts from its stored position");
            }
            alive
        });
        let mut waiting = !self.retiring.is_empty();
        for (tp, (epoch, remote, replicated)) in desired {
            if self.running.contains_key(&tp) {
                continue;
            }
            if self.retiring.contains_key(&tp) {
                waiting = true;
                continue;
            }
            self.rebalancing_since.get_or_insert_with(Instant::now);
            self.start_partition(ctx, tp, epoch, remote, replicated);
        }
        if waiting {
            self.rebalancing_since.get_or_insert_with(Instant::now);
        } else if let Some(since) = self.rebalancing_since.take() {
            crate::metrics::rebalance(&flow, since.elapsed());
        }
        if !fenced {
            self.release_stopped(ctx, &state);
        }
    }

    /// Reports the partitions this node owns and does not read (the flow paused, or the quorum
    /// lost: as of the last state this node has), with their positions, so that their lag is
    /// reported instead of vanishing with their actors.
    fn report_held(&self, state: &ClusterState, paused: bool, fenced: bool) {
        use crate::replication::status::{Held, PartitionState};
        let flow = &self.settings.id;
        if !paused && !fenced {
            self.status.set_held(flow, BTreeMap::new());
            return;
        }
        let held_state = if fenced {
            PartitionState::NoQuorum
        } else {
            PartitionState::Paused
        };
        let held = state
            .partitions()
            .filter(|(key, info)| {
                key.flow == *flow && info.owner.is_some_and(|o| o.node == self.cluster.node_id)
            })
            .map(|(key, info)| {
                (
                    key.tp.clone(),
                    Held {
                        state: held_state.clone(),
                        remote_topic: info.remote_topic.clone(),
                        next_source_offset: info.position.map(|p| p.next_source_offset),
                    },
                )
            })
            .collect();
        self.status.set_held(flow, held);
    }

    /// Lists the end offsets of the partitions this node owns and the consumer does not fetch
    /// (ListOffsets for the latest offset, one request per leader), on a blocking thread.
    fn list_unfetched_ends(&mut self, ctx: &mut Context<Self>) {
        if self.listing_ends {
            return;
        }
        let partitions = self.status.not_fetched(&self.settings.id);
        if partitions.is_empty() {
            if self.listed_any {
                self.source_offsets.set_listed(HashMap::new());
                self.listed_any = false;
            }
            return;
        }
        let mut list = rdkafka::TopicPartitionList::new();
        for tp in &partitions {
            // Offset::End as the timestamp asks for the latest offset.
            if let Err(error) =
                list.add_partition_offset(&tp.topic, tp.partition, rdkafka::Offset::End)
            {
                tracing::debug!(partition = %tp, %error, "end offset not listed");
            }
        }
        self.listing_ends = true;
        let consumer = self.consumer.clone();
        let flow = self.settings.id.clone();
        ctx.spawn(
            async move {
                tokio::task::spawn_blocking(move || {
                    use rdkafka::consumer::Consumer;
                    consumer.offsets_for_times(list, LIST_ENDS_TIMEOUT)
                })
                .await
            }
            .into_actor(self)
            .map(move |listed, actor, _| {
                actor.listing_ends = false;
                let listed = match listed {
                    Ok(Ok(listed)) => listed,
                    Ok(Err(error)) => {
                        tracing::debug!(%flow, %error, "end offsets of unfetched partitions not listed");
                        return;
                    }
                    Err(_) => return,
                };
                let ends: HashMap<(String, i32), i64> = listed
                    .elements()
                    .iter()
                    .filter(|e| e.error().is_ok())
                    .filter_map(|e| match e.offset() {
                        rdkafka::Offset::Offset(end) if end >= 0 => {
                            Some(((e.topic().to_owned(), e.partition()), end))
                        }
                        _ => None,
                    })
                    .collect();
                actor.listed_any = !ends.is_empty();
                actor.source_offsets.set_listed(ends);
            }),
        );
    }

    /// Tells the cluster about every partition that moved away from this node and that this node no
    /// longer writes, so its new owner may start. Retried until the release is committed.
    fn release_stopped(&mut self, ctx: &mut Context<Self>, state: &ClusterState) {
        let flow = self.settings.id.clone();
        let now = Instant::now();
        let to_release: Vec<TopicPartition> = state
            .partitions()
            .filter(|(key, info)| {
                key.flow == flow
                    && info.releasing == Some(self.cluster.node_id)
                    && !self.running.contains_key(&key.tp)
                    && !self.retiring.contains_key(&key.tp)
                    && self
                        .release_asked
                        .get(&key.tp)
                        .is_none_or(|asked| now - *asked > RELEASE_RETRY)
            })
            .map(|(key, _)| key.tp.clone())
            .collect();
        for tp in to_release {
            self.release_asked.insert(tp.clone(), now);
            let command = Command::Release {
                node: self.cluster.node_id,
                position: self.final_positions.get(&tp).copied(),
                runs: self.final_runs.get(&tp).cloned().unwrap_or_default(),
                key: PartitionKey {
                    flow: flow.clone(),
                    tp,
                },
            };
            let raft = self.cluster.raft.clone();
            ctx.spawn(
                async move {
                    if let Err(error) = raft.propose(command).await {
                        tracing::debug!(%error, "release not proposed (retrying)");
                    }
                }
                .into_actor(self),
            );
        }
        self.final_positions
            .retain(|tp, _| self.release_asked.contains_key(tp) || self.retiring.contains_key(tp));
        self.final_runs
            .retain(|tp, _| self.release_asked.contains_key(tp) || self.retiring.contains_key(tp));
        self.release_asked.retain(|tp, _| {
            state
                .partition(&PartitionKey {
                    flow: flow.clone(),
                    tp: tp.clone(),
                })
                .is_some_and(|info| info.releasing == Some(self.cluster.node_id))
        });
    }

    fn start_partition(
        &mut self,
        ctx: &mut Context<Self>,
        tp: TopicPartition,
        epoch: u64,
        remote: String,
        replicated: Option<Position>,
    ) {
        let flow = self.settings.id.clone();
        let spec = PartitionSpec {
            flow: flow.clone(),
            tp: tp.clone(),
            remote_topic: Arc::from(remote.as_str()),
            consumer: self.consumer.clone(),
            producer: self.target_producer.clone(),
            budget: self.budget.clone(),
            positions: self.positions.clone(),
            status: self.status.clone(),
            flush_interval: self.settings.position_flush_interval,
            epoch,
            replicated,
            retired: ctx.address().recipient(),
            fence: Fence {
                raft: self.cluster.raft.clone(),
                node: self.cluster.node_id,
                lease: self.cluster.liveness_timeout,
            },
            offset_reset: self.offset_reset,
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
                return;
            }
        };
        let ack = actor.ack_window();
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter += 1;
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| actor);
        self.running.insert(
            tp,
            Running {
                addr,
                epoch,
                ack,
                unreported: Unreported::default(),
            },
        );
    }

    /// A partition stopped because its flow is paused stays this node's: its final position goes
    /// to the cluster at once, so that the paused flow shows (and a later owner resumes from)
    /// exactly where it stopped.
    fn propose_paused_position(
        &mut self,
        ctx: &mut Context<Self>,
        retired: &Retired,
        position: Position,
    ) {
        let key = PartitionKey {
            flow: self.settings.id.clone(),
            tp: retired.tp.clone(),
        };
        let state = self.cluster.raft.state();
        let still_mine = state.partition(&key).and_then(|info| info.owner)
            == Some(strait_coordinator::Owner {
                node: self.cluster.node_id,
                epoch: retired.epoch,
            });
        if !still_mine || !state.is_paused(&key.flow) {
            return;
        }
        // No release follows: the offset runs go with this update instead.
        let runs = self.final_runs.remove(&retired.tp).unwrap_or_default();
        let command = Command::UpdatePositions {
            node: self.cluster.node_id,
            positions: vec![PositionUpdate {
                key,
                epoch: retired.epoch,
                position,
                runs,
            }],
        };
        let raft = self.cluster.raft.clone();
        ctx.spawn(
            async move {
                if let Err(error) = raft.propose(command).await {
                    tracing::warn!(%error,
                        "paused position not proposed: kept locally, the cluster's copy is older");
                }
            }
            .into_actor(self),
        );
    }

    /// Proposes the positions that moved since the last proposal, so that a partition's next owner
    /// resumes close to where this one got.
    fn propose_positions(&mut self, ctx: &mut Context<Self>) {
        let flow = self.settings.id.clone();
        let mut positions = Vec::new();
        for (tp, run) in self.running.iter_mut() {
            let Some(position) = run.ack.committed() else {
                continue;
            };
            // Runs and position are read apart, so the runs may run a little ahead of the
            // position: harmless, they describe records the target acknowledged.
            let Some(runs) = run.unreported.due(position, run.ack.take_cluster_runs()) else {
                continue;
            };
            positions.push(PositionUpdate {
                key: PartitionKey {
                    flow: flow.clone(),
                    tp: tp.clone(),
                },
                epoch: run.epoch,
                position,
                runs,
            });
        }
        if positions.is_empty() {
            return;
        }
        let sent: Vec<(TopicPartition, u64, Position, Vec<OffsetRun>)> = positions
            .iter()
            .map(|u| (u.key.tp.clone(), u.epoch, u.position, u.runs.clone()))
            .collect();
        let command = Command::UpdatePositions {
            node: self.cluster.node_id,
            positions,
        };
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
            .map(move |committed, actor, _ctx| {
                if !committed {
                    return;
                }
                // Applied (or refused for good, e.g. no longer the owner). Only now: after a
                // failure an idle partition's unchanged position must be proposed again.
                for (tp, epoch, position, runs) in sent {
                    // A partition restarted under a new epoch reports afresh.
                    if let Some(run) = actor.running.get_mut(&tp).filter(|r| r.epoch == epoch) {
                        run.unreported.applied(position, &runs);
                    }
                }
            }),
        );
    }
}

impl Actor for FlowActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::info!(flow = %self.settings.id, "flow started");
        // Every partition is read from its own split queue; the main queue only carries events
        // and errors, but it must be served.
        let consumer = self.consumer.clone();
        let flow = self.settings.id.clone();
        ctx.spawn(
            async move {
                loop {
                    match consumer.recv().await {
                        Ok(message) => tracing::error!(%flow, topic = message.topic(),
                            partition = message.partition(), offset = message.offset(),
                            "record arrived on the shared queue instead of its partition's"),
                        Err(error) => {
                            crate::metrics::fetch_error(&flow, &error);
                            tracing::warn!(%flow, %error, "source consumer error");
                        }
                    }
                }
            }
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
                actor.consumer.clone(),
                actor.positions.clone(),
                actor.running.keys().cloned().collect(),
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
        self.retiring.remove(&retired.tp);
        self.final_runs
            .entry(retired.tp.clone())
            .or_default()
            .extend(retired.runs.iter().cloned());
        if let Some(position) = retired.position {
            self.final_positions.insert(retired.tp.clone(), position);
            self.propose_paused_position(ctx, &retired, position);
        }
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
        self.draining = true;
        // A flow that stops (its configuration changed) reports nothing as held.
        self.status.set_held(&self.settings.id, BTreeMap::new());
        for (_, run) in std::mem::take(&mut self.running) {
            run.addr.do_send(Retire);
        }
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
        self.draining = true;
        let partitions: Vec<Addr<PartitionActor>> =
            self.running.values().map(|r| r.addr.clone()).collect();
        let producer = self.producer.clone();
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

/// One topic discovery pass, run off the actor with clones of what it needs.
struct RefreshJob {
    settings: Arc<FlowSettings>,
    source_admin: TopicAdmin,
    target_admin: TopicAdmin,
    /// Remote topics the cluster has replicated into (a position is stored for a partition).
    replicated: std::collections::HashSet<String>,
}

struct RefreshOutcome {
    /// Source topics whose remote topic is ready, with the partition count both sides have.
    ready: Vec<TopicInfo>,
    /// Per topic: an error to show, or `None` to clear an earlier one.
    topic_errors: Vec<(String, Option<String>)>,
    listing_error: Option<String>,
}

impl RefreshJob {
    async fn run(self) -> RefreshOutcome {
        let mut outcome = RefreshOutcome {
            ready: Vec::new(),
            topic_errors: Vec::new(),
            listing_error: None,
        };
        let source_topics = match self.source_admin.list_topics().await {
            Ok(topics) => topics,
            Err(error) => {
                outcome.listing_error = Some(format!("cannot list source topics: {error}"));
                return outcome;
            }
        };
        let target_topics: HashMap<String, i32> = match self.target_admin.list_topics().await {
            Ok(topics) => topics.into_iter().map(|t| (t.name, t.partitions)).collect(),
            Err(error) => {
                outcome.listing_error = Some(format!("cannot list target topics: {error}"));
                return outcome;
            }
        };
        for selected in select_topics(&self.settings, &source_topics) {
            let existing = target_topics.get(&selected.remote).copied();
            match self.prepare_remote(&selected, existing).await {
                Ok((target_partitions, warning)) => {
                    outcome
                        .topic_errors
                        .push((selected.source.name.clone(), warning));
                    outcome.ready.push(TopicInfo {
                        topic: selected.source.name.clone(),
                        partitions: selected.source.partitions.min(target_partitions),
                        remote_topic: selected.remote.clone(),
                    });
                }
                Err(error) => {
                    tracing::warn!(flow = %self.settings.id, topic = %selected.source.name,
                        remote = %selected.remote, %error, "remote topic not ready");
                    outcome
                        .topic_errors
                        .push((selected.source.name.clone(), Some(error)));
                }
            }
        }
        outcome
    }

    /// Makes sure the remote topic exists with enough partitions and the source's configs; returns
    /// its partition count and a problem to show in status that does not stop replication.
    async fn prepare_remote(
        &self,
        selected: &SelectedTopic,
        existing: Option<i32>,
    ) -> Result<(i32, Option<String>), String> {
        let flow = &self.settings.id;
        let exclude = &self.settings.config_properties_exclude;
        let configs = if self.settings.sync_topic_configs {
            Some(
                self.source_admin
                    .topic_overrides(&selected.source.name)
                    .await
                    .map(|source| topic_configs::copyable(source, exclude))
                    .map_err(|e| format!("cannot read the source topic's configs: {e}")),
            )
        } else {
            None
        };
        let partitions = selected.source.partitions;
        let mut warnings = Vec::new();
        let target_partitions = match existing {
            None => {
                // Never created without the source's configs: created `delete` instead of
                // `compact`, say, the remote topic would drop records the source keeps.
                let configs = configs.transpose()?.unwrap_or_default();
                self.target_admin
                    .create_topic(
                        &selected.remote,
                        partitions,
                        self.settings.replication_factor,
                        &configs,
                    )
                    .await
                    .map_err(|e| format!("cannot create remote topic {}: {e}", selected.remote))?;
                if self.replicated.contains(&selected.remote) {
                    tracing::warn!(%flow, topic = %selected.source.name,
                        remote = %selected.remote, partitions,
                        "remote topic was deleted on the target: created it again; replication \
                         continues from the stored positions, records replicated before the \
                         deletion are not copied again");
                } else {
                    tracing::info!(%flow, topic = %selected.source.name,
                        remote = %selected.remote, partitions, configs = configs.len(),
                        "created remote topic");
                }
                return Ok((partitions, None));
            }
            Some(existing) if existing < partitions => {
                match self
                    .target_admin
                    .create_partitions(&selected.remote, partitions)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(%flow, remote = %selected.remote, from = existing,
                            to = partitions, "grew remote topic");
                        partitions
                    }
                    Err(error) => {
                        // Replicate what fits; the rest waits (and shows in status).
                        tracing::warn!(%flow, remote = %selected.remote, %error, existing,
                            source_partitions = partitions, "cannot grow remote topic");
                        warnings.push(format!(
                            "remote topic has {existing} partitions, source {partitions}: {error}"
                        ));
                        existing
                    }
                }
            }
            Some(existing) => existing,
        };
        // Configs that cannot be synced now are retried at the next refresh; replication goes on.
        if let Some(wanted) = configs {
            let synced = match wanted {
                Ok(wanted) => self.sync_configs(&selected.remote, &wanted).await,
                Err(error) => Err(error),
            };
            if let Err(error) = synced {
                tracing::warn!(%flow, remote = %selected.remote, %error, "topic configs not synced");
                warnings.push(error);
            }
        }
        let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
        Ok((target_partitions, warning))
    }

    /// Makes the existing remote topic's overrides follow the source's (see
    /// [`topic_configs`]); writes only when they differ.
    async fn sync_configs(&self, remote: &str, wanted: &[TopicConfigEntry]) -> Result<(), String> {
        let target = self
            .target_admin
            .topic_overrides(remote)
            .await
            .map_err(|e| format!("cannot read the configs of {remote}: {e}"))?;
        let changes =
            topic_configs::changes(wanted, &target, &self.settings.config_properties_exclude);
        if changes.is_empty() {
            return Ok(());
        }
        self.target_admin
            .alter_topic_configs(remote, &changes.set, &changes.delete)
            .await
            .map_err(|e| format!("cannot sync configs of {remote}: {e}"))?;
        let set: Vec<&str> = changes.set.iter().map(|e| e.name.as_str()).collect();
        tracing::info!(flow = %self.settings.id, %remote, ?set, deleted = ?changes.delete,
            "synced topic configs");
        Ok(())
    }
}

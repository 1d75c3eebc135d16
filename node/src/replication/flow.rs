//! The flow actor: one per enabled flow (`A->B`). It owns the flow's shared source consumer and its
//! producer actor, discovers source topics every refresh interval, creates and configures remote
//! topics, and starts a supervised partition actor for every source partition that has a place to go.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use rdkafka::message::Message;
use strait_config::FlowSettings;
use strait_coordinator::TopicPartition;
use strait_storage::PositionStore;

use crate::kafka::{
    admin_config, consumer_config, producer_config, ClientRole, ReportingContext, TopicAdmin,
    TopicConfigEntry,
};
use crate::replication::budget::InFlightBudget;
use crate::replication::partition::{
    PartitionActor, PartitionSpec, PersistNow, SourceConsumer, StopReading,
};
use crate::replication::producer::{Flush, ProducerActor};
use crate::replication::status::{FlowHandles, NodeStatus};
use crate::replication::topics::{select_topics, SelectedTopic};
use crate::NodeError;

/// How long admin requests may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean shutdown waits for the target to acknowledge what is in flight.
const DRAIN_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

pub struct FlowActor {
    settings: Arc<FlowSettings>,
    consumer: Arc<SourceConsumer>,
    producer: Addr<ProducerActor>,
    source_admin: TopicAdmin,
    target_admin: TopicAdmin,
    budget: Arc<InFlightBudget>,
    positions: PositionStore,
    status: NodeStatus,
    /// Partition actors are spread over these threads.
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    partitions: BTreeMap<TopicPartition, Addr<PartitionActor>>,
    /// Configs last written to each remote topic, so unchanged ones are not written again.
    applied_configs: Arc<HashMap<String, Vec<TopicConfigEntry>>>,
    refreshing: bool,
    draining: bool,
}

impl FlowActor {
    /// Builds the flow's clients. Fails on a client configuration librdkafka rejects (the message
    /// names the property).
    pub fn new(
        settings: FlowSettings,
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
        let consumer: SourceConsumer = consumer_config(&settings.consumer, &flow)
            .create_with_context(source_context.clone())
            .map_err(client_error(ClientRole::SourceConsumer))?;
        let producer = ProducerActor::new(
            &producer_config(
                &settings.producer,
                settings.max_in_flight_records,
                settings.max_in_flight_bytes,
            ),
            target_context.clone(),
        )
        .map_err(client_error(ClientRole::TargetProducer))?;
        let source_admin = TopicAdmin::new(
            &admin_config(&settings.source_admin, ClientRole::SourceAdmin),
            source_context.clone(),
            ADMIN_TIMEOUT,
        )
        .map_err(client_error(ClientRole::SourceAdmin))?;
        let target_admin = TopicAdmin::new(
            &admin_config(&settings.target_admin, ClientRole::TargetAdmin),
            target_context.clone(),
            ADMIN_TIMEOUT,
        )
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
            },
        );
        let producer = ProducerActor::start_in_arbiter(producer_arbiter, move |_| producer);
        Ok(Self {
            settings: Arc::new(settings),
            consumer: Arc::new(consumer),
            producer,
            source_admin,
            target_admin,
            budget,
            positions,
            status,
            arbiters,
            next_arbiter: 0,
            partitions: BTreeMap::new(),
            applied_configs: Arc::default(),
            refreshing: false,
            draining: false,
        })
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing || self.draining {
            return;
        }
        self.refreshing = true;
        let job = RefreshJob {
            settings: self.settings.clone(),
            source_admin: self.source_admin.clone(),
            target_admin: self.target_admin.clone(),
            applied_configs: self.applied_configs.clone(),
        };
        ctx.spawn(job.run().into_actor(self).map(|outcome, actor, _ctx| {
            actor.refreshing = false;
            actor.apply(outcome);
        }));
    }

    fn apply(&mut self, outcome: RefreshOutcome) {
        let flow = &self.settings.id;
        if let Some(error) = outcome.listing_error {
            tracing::warn!(%flow, %error, "topic refresh failed, retrying at the next interval");
            self.status.set_topic_error(flow, "*", Some(error));
            return;
        }
        self.status.set_topic_error(flow, "*", None);
        self.applied_configs = Arc::new(outcome.applied_configs);
        for (topic, error) in outcome.topic_errors {
            self.status.set_topic_error(flow, &topic, error);
        }
        if self.draining {
            return;
        }
        for (tp, remote) in outcome.ready {
            if self.partitions.contains_key(&tp) {
                continue;
            }
            let spec = PartitionSpec {
                flow: flow.clone(),
                tp: tp.clone(),
                remote_topic: remote,
                consumer: self.consumer.clone(),
                producer: self.producer.clone(),
                budget: self.budget.clone(),
                positions: self.positions.clone(),
                status: self.status.clone(),
                flush_interval: self.settings.position_flush_interval,
            };
            let actor = match PartitionActor::new(spec) {
                Ok(actor) => actor,
                Err(error) => {
                    tracing::error!(%flow, partition = %tp, %error, "cannot load the stored position");
                    continue;
                }
            };
            let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
            self.next_arbiter += 1;
            let addr = Supervisor::start_in_arbiter(arbiter, move |_| actor);
            self.partitions.insert(tp, addr);
        }
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
                        Err(error) => tracing::warn!(%flow, %error, "source consumer error"),
                    }
                }
            }
            .into_actor(self),
        );
        self.refresh(ctx);
        if self.settings.refresh_topics_enabled {
            ctx.run_interval(self.settings.refresh_topics_interval, Self::refresh);
        }
    }
}

/// Stops reading, waits for the target to acknowledge everything in flight, and stores the final
/// positions.
pub struct Drain;

impl actix::Message for Drain {
    type Result = ();
}

impl Handler<Drain> for FlowActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Drain, _ctx: &mut Self::Context) -> Self::Result {
        self.draining = true;
        let partitions: Vec<Addr<PartitionActor>> = self.partitions.values().cloned().collect();
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
            .into_actor(self),
        )
    }
}

/// One topic discovery pass, run off the actor with clones of what it needs.
struct RefreshJob {
    settings: Arc<FlowSettings>,
    source_admin: TopicAdmin,
    target_admin: TopicAdmin,
    applied_configs: Arc<HashMap<String, Vec<TopicConfigEntry>>>,
}

struct RefreshOutcome {
    /// Source partitions whose remote partition exists, with the remote topic name.
    ready: Vec<(TopicPartition, Arc<str>)>,
    /// Per topic: an error to show, or `None` to clear an earlier one.
    topic_errors: Vec<(String, Option<String>)>,
    listing_error: Option<String>,
    applied_configs: HashMap<String, Vec<TopicConfigEntry>>,
}

impl RefreshJob {
    async fn run(self) -> RefreshOutcome {
        let mut outcome = RefreshOutcome {
            ready: Vec::new(),
            topic_errors: Vec::new(),
            listing_error: None,
            applied_configs: (*self.applied_configs).clone(),
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
            match self.prepare_remote(&selected, existing, &mut outcome).await {
                Ok((target_partitions, warning)) => {
                    outcome
                        .topic_errors
                        .push((selected.source.name.clone(), warning));
                    let remote: Arc<str> = Arc::from(selected.remote.as_str());
                    let usable = selected.source.partitions.min(target_partitions);
                    for partition in 0..usable {
                        outcome.ready.push((
                            TopicPartition::new(selected.source.name.clone(), partition),
                            remote.clone(),
                        ));
                    }
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
        outcome: &mut RefreshOutcome,
    ) -> Result<(i32, Option<String>), String> {
        let flow = &self.settings.id;
        let configs = if self.settings.sync_topic_configs {
            self.source_admin
                .topic_overrides(&selected.source.name)
                .await
                .map_err(|e| format!("cannot read the source topic's configs: {e}"))?
                .into_iter()
                .filter(|e| !self.settings.config_properties_exclude.is_match(&e.name))
                .collect()
        } else {
            Vec::new()
        };
        let partitions = selected.source.partitions;
        let mut warning = None;
        let target_partitions = match existing {
            None => {
                self.target_admin
                    .create_topic(
                        &selected.remote,
                        partitions,
                        self.settings.replication_factor,
                        &configs,
                    )
                    .await
                    .map_err(|e| format!("cannot create remote topic {}: {e}", selected.remote))?;
                tracing::info!(%flow, topic = %selected.source.name, remote = %selected.remote,
                    partitions, configs = configs.len(), "created remote topic");
                outcome
                    .applied_configs
                    .insert(selected.remote.clone(), configs);
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
                        warning = Some(format!(
                            "remote topic has {existing} partitions, source {partitions}: {error}"
                        ));
                        existing
                    }
                }
            }
            Some(existing) => existing,
        };
        if self.settings.sync_topic_configs
            && outcome.applied_configs.get(&selected.remote) != Some(&configs)
        {
            self.target_admin
                .set_topic_configs(&selected.remote, &configs)
                .await
                .map_err(|e| format!("cannot sync configs of {}: {e}", selected.remote))?;
            if !configs.is_empty() {
                tracing::info!(%flow, remote = %selected.remote, configs = configs.len(),
                    "synced topic configs");
            }
            outcome
                .applied_configs
                .insert(selected.remote.clone(), configs);
        }
        Ok((target_partitions, warning))
    }
}

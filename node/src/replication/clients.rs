//! A flow's Kafka clients: its shared source consumer, its producer actor, the admin clients of
//! both clusters and the in-flight budget, built from the flow's settings; and the listing of end
//! offsets for the partitions the consumer does not fetch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use strait_config::FlowSettings;
use strait_coordinator::{FlowId, TopicPartition};

use crate::kafka::{
    ClientRole, FlowClientConfigs, OffsetReset, ReportingContext, SourceOffsets, TopicAdmin,
};
use crate::replication::budget::InFlightBudget;
use crate::replication::flow::ClusterView;
use crate::replication::partition::SourceConsumer;
use crate::replication::producer::{Flush, ProducerActor, PurgeQueued, TargetProducer};
use crate::replication::status::{FlowHandles, NodeStatus};
use crate::replication::transaction::{TransactionSettings, Transactions};
use crate::NodeError;

/// How long admin requests may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one listing of end offsets may take.
const LIST_ENDS_TIMEOUT: Duration = Duration::from_secs(5);

/// Purges and flushes the flow's producer.
#[derive(Clone)]
pub enum ProducerHandle {
    /// The idempotent producer of at-least-once flows.
    Idempotent(Addr<ProducerActor>),
    /// The transactional producer of exactly-once flows.
    Transactional(Arc<Transactions>),
}

impl ProducerHandle {
    /// Drops what is queued and not sent yet (this node lost its lease). Exactly-once needs no
    /// purge: the next owner fences this node's transactional id before it reads the committed
    /// position, so what this node still commits is what the next owner resumes after.
    pub fn purge_queued(&self) {
        if let Self::Idempotent(producer) = self {
            producer.do_send(PurgeQueued);
        }
    }

    /// Waits up to `timeout` until what was handed over is acknowledged (or committed).
    pub async fn flush(&self, timeout: Duration) -> Result<(), String> {
        match self {
            Self::Idempotent(producer) => producer
                .send(Flush(timeout))
                .await
                .map_err(|e| format!("producer gone before flush: {e}"))?,
            Self::Transactional(transactions) => {
                let transactions = transactions.clone();
                tokio::task::spawn_blocking(move || transactions.settle(timeout))
                    .await
                    .map_err(|e| e.to_string())?
            }
        }
    }
}

pub struct FlowClients {
    pub consumer: Arc<SourceConsumer>,
    pub producer: ProducerHandle,
    /// What the partition actors produce through.
    pub target_producer: TargetProducer,
    pub source_admin: TopicAdmin,
    pub target_admin: TopicAdmin,
    pub budget: Arc<InFlightBudget>,
    /// The consumer's view of the source offsets, and the end offsets listed for the partitions
    /// it does not fetch.
    pub source_offsets: Arc<SourceOffsets>,
    /// `auto.offset.reset` of the source consumer, applied by the partition actors.
    pub offset_reset: OffsetReset,
    /// A listing of end offsets is under way (one at a time); the last one listed any.
    listing_ends: bool,
    listed_any: bool,
}

impl FlowClients {
    /// Builds the flow's clients and registers their health with `status`. Fails on a client
    /// configuration librdkafka rejects (the message names the property).
    pub fn new(
        settings: &FlowSettings,
        status: &NodeStatus,
        producer_arbiter: &ArbiterHandle,
        cluster: &ClusterView,
    ) -> Result<Self, NodeError> {
        let flow = settings.id.to_string();
        let client_error = |role: ClientRole| {
            let flow = flow.clone();
            move |source| NodeError::Client { flow, role, source }
        };
        let source_context = ReportingContext::new(format!("{flow} source"));
        let target_context = ReportingContext::new(format!("{flow} target"));
        // The same configurations `check_client_properties` checked at load.
        let configs = FlowClientConfigs::new(settings);
        let consumer: SourceConsumer = configs
            .consumer
            .create_with_context(source_context.clone())
            .map_err(client_error(ClientRole::SourceConsumer))?;
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
        let (producer, target_producer) = if settings.exactly_once {
            let transactions = Transactions::start(
                transaction_settings(settings, &configs, cluster, budget.clone()),
                target_context.clone(),
            )
            .map_err(client_error(ClientRole::TargetProducer))?;
            (
                ProducerHandle::Transactional(transactions.clone()),
                TargetProducer::transactional(transactions),
            )
        } else {
            let producer = ProducerActor::new(&configs.producer, target_context.clone(), &flow)
                .map_err(client_error(ClientRole::TargetProducer))?;
            let target_producer = producer.target();
            let producer = ProducerActor::start_in_arbiter(producer_arbiter, move |_| producer);
            (ProducerHandle::Idempotent(producer), target_producer)
        };
        Ok(Self {
            consumer: Arc::new(consumer),
            producer,
            target_producer,
            source_admin,
            target_admin,
            budget,
            source_offsets: source_context.offsets.clone(),
            offset_reset: OffsetReset::from_props(&settings.consumer).unwrap_or_default(),
            listing_ends: false,
            listed_any: false,
        })
    }

    /// A listing of the end offsets of the partitions this node owns and the consumer does not
    /// fetch (from `status`), unless one is under way; give its result to
    /// [`listed_ends`](Self::listed_ends). With no such partitions, clears what was listed.
    pub fn list_unfetched_ends(
        &mut self,
        flow: &FlowId,
        status: &NodeStatus,
    ) -> Option<impl std::future::Future<Output = Option<HashMap<(String, i32), i64>>>> {
        if self.listing_ends {
            return None;
        }
        let partitions = status.not_fetched(flow);
        if partitions.is_empty() {
            if self.listed_any {
                self.source_offsets.set_listed(HashMap::new());
                self.listed_any = false;
            }
            return None;
        }
        self.listing_ends = true;
        Some(list_end_offsets(
            flow.clone(),
            self.consumer.clone(),
            partitions,
        ))
    }

    /// The result of a listing of end offsets (`None`: it failed).
    pub fn listed_ends(&mut self, listed: Option<HashMap<(String, i32), i64>>) {
        self.listing_ends = false;
        if let Some(ends) = listed {
            self.listed_any = !ends.is_empty();
            self.source_offsets.set_listed(ends);
        }
    }
}

/// The exactly-once producer of `settings` on this node: transactional id
/// `<prefix>-<source>-<target>-<node>`, positions in the target group `<prefix>-eos.<source>-<target>`.
fn transaction_settings(
    settings: &FlowSettings,
    configs: &FlowClientConfigs,
    cluster: &ClusterView,
    budget: Arc<InFlightBudget>,
) -> TransactionSettings {
    let prefix = &settings.transactional_id_prefix;
    let (source, target) = (&settings.id.source, &settings.id.target);
    let raft = cluster.raft.clone();
    TransactionSettings {
        flow: settings.id.to_string(),
        producer: configs.producer.clone(),
        target: configs.target_admin.clone(),
        id_prefix: format!("{prefix}-{source}-{target}-"),
        node: cluster.node_id,
        group: format!("{prefix}-eos.{source}-{target}"),
        interval: settings.transaction_interval,
        timeout: settings.transaction_timeout,
        dead_nodes: Box::new(move || {
            raft.state()
                .nodes()
                .filter(|(_, info)| !info.alive)
                .map(|(node, _)| *node)
                .collect()
        }),
        budget,
    }
}

/// Lists the end offsets of `partitions` (ListOffsets for the latest offset, one request per
/// leader) on a blocking thread; `None` when the listing failed.
async fn list_end_offsets(
    flow: FlowId,
    consumer: Arc<SourceConsumer>,
    partitions: Vec<TopicPartition>,
) -> Option<HashMap<(String, i32), i64>> {
    let mut list = rdkafka::TopicPartitionList::new();
    for tp in &partitions {
        // Offset::End as the timestamp asks for the latest offset.
        if let Err(error) = list.add_partition_offset(&tp.topic, tp.partition, rdkafka::Offset::End)
        {
            tracing::debug!(partition = %tp, %error, "end offset not listed");
        }
    }
    let listed = tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::Consumer;
        consumer.offsets_for_times(list, LIST_ENDS_TIMEOUT)
    })
    .await;
    let listed = match listed {
        Ok(Ok(listed)) => listed,
        Ok(Err(error)) => {
            tracing::debug!(%flow, %error, "end offsets of unfetched partitions not listed");
            return None;
        }
        Err(_) => return None,
    };
    Some(
        listed
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                rdkafka::Offset::Offset(end) if end >= 0 => {
                    Some(((e.topic().to_owned(), e.partition()), end))
                }
                _ => None,
            })
            .collect(),
    )
}

/// Serves the consumer's main queue for good. Every partition is read from its own split queue;
/// the main queue only carries events and errors, but it must be served.
pub async fn serve_main_queue(flow: FlowId, consumer: Arc<SourceConsumer>) {
    use rdkafka::message::Message;
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

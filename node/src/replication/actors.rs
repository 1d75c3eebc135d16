//! The partition actors of one flow, as its flow actor holds them: what every one starts from,
//! which arbiter thread each runs on, and their addresses and acknowledgement windows, each under
//! the [`Generation`] the ownership core handed out for it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use strait_config::FlowSettings;
use strait_coordinator::{FlowId, TopicPartition};
use strait_coordinator::{OffsetRun, Position};
use strait_storage::{PositionStore, StorageError};

use crate::kafka::OffsetReset;
use crate::replication::ack::AckWindow;
use crate::replication::budget::InFlightBudget;
use crate::replication::clients::FlowClients;
use crate::replication::clients::ProducerHandle;
use crate::replication::ownership::{Generation, Ownership, RetiredPartition, StartPartition};
use crate::replication::partition::{
    Fence, PartitionActor, PartitionSpec, PersistNow, Retire, Retired, SourceConsumer, StopReading,
};
use crate::replication::producer::TargetProducer;
use crate::replication::status::NodeStatus;

/// What the partition actors of a flow share.
pub struct PartitionTemplate {
    pub flow: FlowId,
    pub consumer: Arc<SourceConsumer>,
    pub producer: TargetProducer,
    pub budget: Arc<InFlightBudget>,
    pub positions: PositionStore,
    pub status: NodeStatus,
    pub flush_interval: Duration,
    pub fence: Fence,
    pub offset_reset: OffsetReset,
    pub source_principal: Option<Arc<str>>,
}

impl PartitionTemplate {
    pub fn new(
        settings: &FlowSettings,
        clients: &FlowClients,
        positions: PositionStore,
        status: NodeStatus,
        fence: Fence,
    ) -> Self {
        Self {
            flow: settings.id.clone(),
            consumer: clients.consumer.clone(),
            producer: clients.target_producer.clone(),
            budget: clients.budget.clone(),
            positions,
            status,
            flush_interval: settings.position_flush_interval,
            fence,
            offset_reset: clients.offset_reset,
            source_principal: settings
                .consumer
                .get("sasl.username")
                .map(|user| Arc::from(format!("User:{user}"))),
        }
    }

    fn spec(&self, start: StartPartition, retired: Recipient<Retired>) -> PartitionSpec {
        PartitionSpec {
            flow: self.flow.clone(),
            tp: start.tp,
            remote_topic: Arc::from(start.remote_topic.as_str()),
            consumer: self.consumer.clone(),
            producer: self.producer.clone(),
            budget: self.budget.clone(),
            positions: self.positions.clone(),
            status: self.status.clone(),
            flush_interval: self.flush_interval,
            epoch: start.epoch,
            generation: start.generation,
            replicated: start.replicated,
            retired,
            fence: self.fence.clone(),
            offset_reset: self.offset_reset,
            source_principal: self.source_principal.clone(),
        }
    }
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

/// The partition actors of one flow.
pub struct PartitionActors {
    template: PartitionTemplate,
    /// Partition actors are spread over these threads.
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    handles: BTreeMap<TopicPartition, PartitionHandle>,
}

impl PartitionActors {
    pub fn new(template: PartitionTemplate, arbiters: Vec<ArbiterHandle>) -> Self {
        Self {
            template,
            arbiters,
            next_arbiter: 0,
            handles: BTreeMap::new(),
        }
    }

    /// Starts the partition's actor under a supervisor, on the next arbiter. Fails when its stored
    /// position cannot be read.
    pub fn start(
        &mut self,
        start: StartPartition,
        retired: Recipient<Retired>,
    ) -> Result<(), StorageError> {
        let tp = start.tp.clone();
        let generation = start.generation;
        let actor = PartitionActor::new(self.template.spec(start, retired))?;
        let ack = actor.ack_window();
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter += 1;
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| actor);
        let handle = PartitionHandle {
            addr,
            generation,
            ack,
        };
        self.handles.insert(tp, handle);
        Ok(())
    }

    /// Tells the partition's actor to retire.
    pub fn retire(&self, tp: &TopicPartition) {
        if let Some(handle) = self.handles.get(tp) {
            handle.addr.do_send(Retire);
        }
    }

    /// Whether the partition's actor still exists (one that ended without retiring does not).
    pub fn alive(&self, tp: &TopicPartition) -> bool {
        self.handles.get(tp).is_some_and(|h| h.addr.connected())
    }

    /// The partition's acknowledged position and the offset runs taken for the cluster since the
    /// last call; `None` before anything was acknowledged.
    pub fn acknowledged(&self, tp: &TopicPartition) -> Option<(Position, Vec<OffsetRun>)> {
        let ack = &self.handles.get(tp)?.ack;
        // Runs and position are read apart, so the runs may run a little ahead of the position:
        // harmless, they describe records the target acknowledged.
        Some((ack.committed()?, ack.take_cluster_runs()))
    }

    /// Drains the partitions' actors for a clean shutdown: they stop reading, the producer waits
    /// up to `flush_timeout` for the target to acknowledge what is in flight, and they store
    /// their final positions.
    pub fn drain(
        &self,
        tps: Vec<TopicPartition>,
        producer: ProducerHandle,
        flush_timeout: Duration,
    ) -> impl std::future::Future<Output = ()> {
        let partitions: Vec<Addr<PartitionActor>> = tps
            .iter()
            .filter_map(|tp| self.handles.get(tp))
            .map(|handle| handle.addr.clone())
            .collect();
        let flow = self.template.flow.clone();
        async move {
            for partition in &partitions {
                let _ = partition.send(StopReading).await;
            }
            if let Err(error) = producer.flush(flush_timeout).await {
                tracing::warn!(%flow, %error, "flush before exit incomplete");
            }
            for partition in &partitions {
                let _ = partition.send(PersistNow).await;
            }
            tracing::info!(%flow, partitions = partitions.len(), "flow drained");
        }
    }

    /// Lets go of every actor that is not its partition's current one in `ownership` (retired,
    /// or never started): its supervisor then stops it for good.
    pub fn keep_current(&mut self, ownership: &Ownership) {
        self.handles
            .retain(|tp, handle| ownership.actor(tp) == Some(handle.generation));
    }
}

impl From<Retired> for RetiredPartition {
    fn from(retired: Retired) -> Self {
        Self {
            tp: retired.tp,
            epoch: retired.epoch,
            generation: retired.generation,
            position: retired.position,
            runs: retired.runs,
        }
    }
}

//! What the node is doing, shared between the actors that do it and whoever reports it (the
//! progress line now, the control API later). Actors write their own entries; readers take
//! snapshots.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use strait_coordinator::{FlowId, TopicPartition};

use crate::kafka::ClientHealth;
use crate::replication::budget::InFlightBudget;

/// Life-cycle state of a partition actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionState {
    /// Reading from the source and writing to the target.
    Running,
    /// Failed; waits before trying again.
    BackingOff { until: SystemTime },
    /// Stopped reading for a clean shutdown.
    Draining,
}

impl std::fmt::Display for PartitionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::BackingOff { .. } => "backing_off",
            Self::Draining => "draining",
        })
    }
}

/// One partition's entry.
#[derive(Debug, Clone)]
pub struct PartitionStatus {
    pub remote_topic: String,
    pub state: PartitionState,
    /// Next source offset to replicate (`None`: from the beginning, nothing acknowledged yet).
    pub next_source_offset: Option<i64>,
    pub last_error: Option<String>,
    pub restarts: u32,
    /// Records and bytes acknowledged by the target since this node started.
    pub records: u64,
    pub bytes: u64,
}

/// Per-flow shared handles status reads live.
#[derive(Clone)]
pub struct FlowHandles {
    pub budget: Arc<InFlightBudget>,
    pub source_health: Arc<ClientHealth>,
    pub target_health: Arc<ClientHealth>,
}

#[derive(Default)]
struct Inner {
    partitions: BTreeMap<(FlowId, TopicPartition), PartitionStatus>,
    flows: BTreeMap<FlowId, FlowHandles>,
    /// Topic-level problems (e.g. a remote topic that cannot be created), by flow and topic.
    topic_errors: BTreeMap<(FlowId, String), String>,
    /// The cluster configuration version this node runs, and why its file disagrees, if it does.
    config: (u64, Option<String>),
}

/// The node's status registry.
#[derive(Clone, Default)]
pub struct NodeStatus {
    inner: Arc<Mutex<Inner>>,
}

/// A point-in-time copy of one flow's status.
#[derive(Debug, Clone, Default)]
pub struct FlowSnapshot {
    pub partitions: usize,
    pub running: usize,
    pub backing_off: usize,
    pub records: u64,
    pub bytes: u64,
    pub in_flight_records: u64,
    pub in_flight_bytes: u64,
    pub backpressure_waits: u64,
    pub errors: Vec<String>,
}

impl NodeStatus {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register_flow(&self, flow: &FlowId, handles: FlowHandles) {
        self.lock().flows.insert(flow.clone(), handles);
    }

    pub fn update_partition(&self, flow: &FlowId, tp: &TopicPartition, status: PartitionStatus) {
        self.lock()
            .partitions
            .insert((flow.clone(), tp.clone()), status);
    }

    pub fn set_config(&self, version: u64, disagreement: Option<String>) {
        self.lock().config = (version, disagreement);
    }

    pub fn config(&self) -> (u64, Option<String>) {
        self.lock().config.clone()
    }

    pub fn remove_partition(&self, flow: &FlowId, tp: &TopicPartition) {
        self.lock().partitions.remove(&(flow.clone(), tp.clone()));
    }

    pub fn set_topic_error(&self, flow: &FlowId, topic: &str, error: Option<String>) {
        let mut inner = self.lock();
        let key = (flow.clone(), topic.to_owned());
        match error {
            Some(error) => inner.topic_errors.insert(key, error),
            None => inner.topic_errors.remove(&key),
        };
    }

    pub fn partitions(&self) -> Vec<((FlowId, TopicPartition), PartitionStatus)> {
        self.lock()
            .partitions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn flow_ids(&self) -> Vec<FlowId> {
        self.lock().flows.keys().cloned().collect()
    }

    pub fn flow(&self, flow: &FlowId) -> FlowSnapshot {
        let inner = self.lock();
        let mut snapshot = FlowSnapshot::default();
        for ((f, tp), p) in &inner.partitions {
            if f != flow {
                continue;
            }
            snapshot.partitions += 1;
            match p.state {
                PartitionState::Running => snapshot.running += 1,
                PartitionState::BackingOff { .. } => snapshot.backing_off += 1,
                PartitionState::Draining => {}
            }
            snapshot.records += p.records;
            snapshot.bytes += p.bytes;
            if let Some(error) = &p.last_error {
                if !matches!(p.state, PartitionState::Running) {
                    snapshot.errors.push(format!("{tp}: {error}"));
                }
            }
        }
        for ((f, topic), error) in &inner.topic_errors {
            if f == flow {
                snapshot.errors.push(format!("{topic}: {error}"));
            }
        }
        if let Some(handles) = inner.flows.get(flow) {
            let (records, bytes) = handles.budget.in_flight();
            snapshot.in_flight_records = records;
            snapshot.in_flight_bytes = bytes;
            snapshot.backpressure_waits = handles.budget.waits();
            for (side, health) in [
                ("source", &handles.source_health),
                ("target", &handles.target_health),
            ] {
                if let Some((at, error)) = health.last_error() {
                    if at.elapsed().unwrap_or_default().as_secs() < 30 {
                        snapshot.errors.push(format!("{side}: {error}"));
                    }
                }
            }
        }
        snapshot
    }
}

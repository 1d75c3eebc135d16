//! What the node is doing, shared between the actors that do it and whoever reports it (the
//! progress line now, the control API later). Actors write their own entries; readers take
//! snapshots.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use strait_coordinator::{FlowId, TopicPartition};

use crate::kafka::{ClientHealth, SourceOffsets};
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
    /// The source partition's high watermark as the flow's consumer last saw it (librdkafka's
    /// statistics, about every second); `None` until the first fetch response. Filled in by
    /// [`NodeStatus::partitions`]. On Tansu it lags behind when the last batch holds several
    /// records (its high watermark is the last batch's base offset + 1).
    pub source_end_offset: Option<i64>,
    /// The source's log start offset, when known (for the lag of a partition never replicated).
    pub source_start_offset: Option<i64>,
    /// Source timestamp (ms since the epoch) of the last record the target acknowledged.
    pub last_record_timestamp_ms: Option<i64>,
    /// Source offsets passed over since this node started running the partition, never
    /// replicated: deleted from the source before they were read (or passed over by
    /// `auto.offset.reset = latest`).
    pub records_skipped: u64,
    /// The last such range of source offsets (`from..to`).
    pub last_skip: Option<(i64, i64)>,
}

impl PartitionStatus {
    /// Records in the source partition not replicated yet: its end offset minus the next offset
    /// to replicate (from the log start when nothing was replicated yet). `None` while the end
    /// offset is unknown; never negative (an end offset seen before the last acknowledgement).
    pub fn offset_lag(&self) -> Option<u64> {
        let end = self.source_end_offset?;
        let next = self
            .next_source_offset
            .unwrap_or(self.source_start_offset.unwrap_or(0));
        Some(u64::try_from(end - next).unwrap_or(0))
    }

    /// How far behind in time the replicated copy is: 0 when caught up, else the age (at `now`,
    /// ms since the epoch) of the last replicated record; `None` when there is a lag but no
    /// record was replicated yet.
    pub fn time_lag_ms(&self, now_ms: i64) -> Option<u64> {
        match self.offset_lag()? {
            0 => Some(0),
            _ => self
                .last_record_timestamp_ms
                .map(|ts| u64::try_from(now_ms - ts).unwrap_or(0)),
        }
    }
}

/// Per-flow shared handles status reads live.
#[derive(Clone)]
pub struct FlowHandles {
    pub budget: Arc<InFlightBudget>,
    pub source_health: Arc<ClientHealth>,
    pub target_health: Arc<ClientHealth>,
    /// The source consumer's view of the partitions' watermarks.
    pub source_offsets: Arc<SourceOffsets>,
}

#[derive(Default)]
struct Inner {
    partitions: BTreeMap<(FlowId, TopicPartition), PartitionStatus>,
    flows: BTreeMap<FlowId, FlowHandles>,
    /// Topic-level problems (e.g. a remote topic that cannot be created), by flow and topic.
    topic_errors: BTreeMap<(FlowId, String), String>,
    /// The cluster configuration version this node runs, and why its file disagrees, if it does.
    config: (u64, Option<String>),
    /// Raft peers this node cannot deliver to, by node id.
    unreachable_peers: BTreeMap<u64, UnreachablePeer>,
    /// Source offsets skipped (never replicated) per partition since this node started, and the
    /// last skipped range: kept when the partition's actor stops (pause, move), so the count
    /// covers every run of the partition on this node.
    skipped: BTreeMap<(FlowId, TopicPartition), (u64, (i64, i64))>,
}

/// A Raft peer every delivery to has failed since `since_unix_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachablePeer {
    pub address: String,
    pub since_unix_ms: i64,
    pub failures: u64,
    pub last_error: String,
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
    /// Source offsets skipped (never replicated) by the partitions this node runs.
    pub records_skipped: u64,
    /// Records not replicated yet, over the partitions whose end offset is known.
    pub remaining: u64,
    /// Partitions whose end offset is not known yet (not in `remaining`).
    pub lag_unknown: usize,
    pub errors: Vec<String>,
}

impl Inner {
    fn with_offsets(
        &self,
        flow: &FlowId,
        tp: &TopicPartition,
        p: &PartitionStatus,
    ) -> PartitionStatus {
        let mut p = p.clone();
        if let Some(offsets) = self
            .flows
            .get(flow)
            .and_then(|h| h.source_offsets.get(&tp.topic, tp.partition))
        {
            p.source_end_offset = Some(offsets.high);
            p.source_start_offset = offsets.low;
        }
        if let Some((count, range)) = self.skipped.get(&(flow.clone(), tp.clone())) {
            p.records_skipped = *count;
            p.last_skip = Some(*range);
        }
        p
    }
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

    /// Counts `from..to` as skipped for the partition (see [`PartitionStatus::records_skipped`]).
    pub fn add_skipped(&self, flow: &FlowId, tp: &TopicPartition, from: i64, to: i64) {
        let count = u64::try_from(to - from).unwrap_or(0);
        let mut inner = self.lock();
        let entry = inner
            .skipped
            .entry((flow.clone(), tp.clone()))
            .or_insert((0, (from, to)));
        entry.0 += count;
        entry.1 = (from, to);
    }

    pub fn set_config(&self, version: u64, disagreement: Option<String>) {
        self.lock().config = (version, disagreement);
    }

    pub fn config(&self) -> (u64, Option<String>) {
        self.lock().config.clone()
    }

    /// Records that `node` cannot be reached (`None`: it answers again).
    pub fn set_peer_unreachable(&self, node: u64, outage: Option<UnreachablePeer>) {
        let mut inner = self.lock();
        match outage {
            Some(outage) => inner.unreachable_peers.insert(node, outage),
            None => inner.unreachable_peers.remove(&node),
        };
    }

    pub fn unreachable_peers(&self) -> BTreeMap<u64, UnreachablePeer> {
        self.lock().unreachable_peers.clone()
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

    /// Every partition's status, with the source offsets its flow's consumer saw.
    pub fn partitions(&self) -> Vec<((FlowId, TopicPartition), PartitionStatus)> {
        let inner = self.lock();
        inner
            .partitions
            .iter()
            .map(|(k, v)| (k.clone(), inner.with_offsets(&k.0, &k.1, v)))
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
            if let Some((count, _)) = inner.skipped.get(&(f.clone(), tp.clone())) {
                snapshot.records_skipped += count;
            }
            match inner.with_offsets(f, tp, p).offset_lag() {
                Some(lag) => snapshot.remaining += lag,
                None => snapshot.lag_unknown += 1,
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(next: Option<i64>, end: Option<i64>, ts: Option<i64>) -> PartitionStatus {
        PartitionStatus {
            remote_topic: "A.t".to_owned(),
            state: PartitionState::Running,
            next_source_offset: next,
            last_error: None,
            restarts: 0,
            records: 0,
            bytes: 0,
            source_end_offset: end,
            source_start_offset: None,
            last_record_timestamp_ms: ts,
            records_skipped: 0,
            last_skip: None,
        }
    }

    #[test]
    fn lag_is_end_minus_next_and_never_negative() {
        assert_eq!(partition(Some(10), Some(25), None).offset_lag(), Some(15));
        assert_eq!(partition(None, Some(25), None).offset_lag(), Some(25));
        // An end offset read before the last acknowledgement (or Tansu's batch quirk).
        assert_eq!(partition(Some(30), Some(25), None).offset_lag(), Some(0));
        assert_eq!(partition(Some(30), None, None).offset_lag(), None);
    }

    #[test]
    fn time_lag_is_zero_when_caught_up_else_the_last_record_age() {
        assert_eq!(
            partition(Some(25), Some(25), Some(1_000)).time_lag_ms(9_000),
            Some(0)
        );
        assert_eq!(
            partition(Some(20), Some(25), Some(1_000)).time_lag_ms(9_000),
            Some(8_000)
        );
        assert_eq!(partition(None, Some(25), None).time_lag_ms(9_000), None);
    }
}

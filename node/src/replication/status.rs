//! What the node is doing, shared between the actors that do it and whoever reports it (the
//! progress line now, the control API later). Actors write their own entries; readers take
//! snapshots.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use strait_coordinator::{FlowId, TopicPartition};

use crate::kafka::{ClientHealth, SourceOffsets};
use crate::replication::ack::AckWindow;
use crate::replication::budget::InFlightBudget;
use crate::replication::error::PartitionFault;
use crate::replication::stall::{Change, Stall, StallWatch};

/// Life-cycle state of a partition actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionState {
    /// Reading from the source and writing to the target.
    Running,
    /// Failed; waits before trying again.
    BackingOff { until: SystemTime },
    /// Stopped reading for a clean shutdown.
    Draining,
    /// Owned, not read: its flow is paused (no actor runs it; see [`Held`]).
    Paused,
    /// Owned as far as this node knows, not read: it lost contact with a leader and a quorum.
    NoQuorum,
}

impl std::fmt::Display for PartitionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::BackingOff { .. } => "backing_off",
            Self::Draining => "draining",
            Self::Paused => "paused",
            Self::NoQuorum => "no_quorum",
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
    pub last_error: Option<PartitionFault>,
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
    /// Records in flight and no acknowledgement from the target for a while (see
    /// [`stall`](crate::replication::stall)). Filled in by the status registry.
    pub stalled: Option<Stall>,
}

impl PartitionStatus {
    /// The error its status shows: the stall while it lasts, else the last error.
    pub fn error(&self) -> Option<String> {
        match (&self.stalled, &self.last_error) {
            (Some(stall), _) => Some(stall.to_string()),
            (None, Some(error)) => Some(error.to_string()),
            (None, None) => None,
        }
    }

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

/// A partition this node owns and does not read (its flow is paused, or the node lost the
/// quorum): reported with its position and the source's end offset (listed, see
/// [`SourceOffsets::set_listed`](crate::kafka::SourceOffsets::set_listed)), so its lag keeps
/// growing with the source instead of reading 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub state: PartitionState,
    pub remote_topic: String,
    pub next_source_offset: Option<i64>,
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
    /// Owned and not read, by flow (see [`Held`]); an actor's own entry takes precedence.
    held: BTreeMap<FlowId, BTreeMap<TopicPartition, Held>>,
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
    /// The running partitions' acknowledgement windows, watched for stalls.
    stalls: BTreeMap<(FlowId, TopicPartition), StallWatch>,
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
    /// Partitions owned and not read (see [`Held`]), because the flow is paused or because this
    /// node lost the quorum; their lag counts in `remaining`.
    pub paused: usize,
    pub no_quorum: usize,
    pub records: u64,
    pub bytes: u64,
    pub in_flight_records: u64,
    pub in_flight_bytes: u64,
    pub backpressure_waits: u64,
    /// This node's share of the flow's rate limit (0: unlimited).
    pub throttle_records_per_second: u64,
    pub throttle_bytes_per_second: u64,
    /// How long batches waited for the rate limit, in total.
    pub throttle_waited: std::time::Duration,
    /// Source offsets skipped (never replicated) by the partitions this node runs.
    pub records_skipped: u64,
    /// Partitions with records in flight and no acknowledgement from the target for a while.
    pub stalled: usize,
    /// Records not replicated yet, over the partitions whose end offset is known.
    pub remaining: u64,
    /// Partitions whose end offset is not known yet (not in `remaining`).
    pub lag_unknown: usize,
    pub errors: Vec<String>,
}

impl Inner {
    /// Every partition's entry: the actors' own, then the held ones no actor reports.
    fn entries(&self) -> BTreeMap<(FlowId, TopicPartition), PartitionStatus> {
        let mut out = self.partitions.clone();
        for (flow, held) in &self.held {
            for (tp, h) in held {
                out.entry((flow.clone(), tp.clone()))
                    .or_insert_with(|| PartitionStatus {
                        remote_topic: h.remote_topic.clone(),
                        state: h.state.clone(),
                        next_source_offset: h.next_source_offset,
                        last_error: None,
                        restarts: 0,
                        records: 0,
                        bytes: 0,
                        source_end_offset: None,
                        source_start_offset: None,
                        last_record_timestamp_ms: None,
                        records_skipped: 0,
                        last_skip: None,
                        stalled: None,
                    });
            }
        }
        out
    }

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
        // A partition not being fetched: the statistics' high watermark stopped with the fetches;
        // the flow lists its end offset instead.
        if !matches!(p.state, PartitionState::Running | PartitionState::Draining) {
            if let Some(high) = self
                .flows
                .get(flow)
                .and_then(|h| h.source_offsets.listed(&tp.topic, tp.partition))
            {
                p.source_end_offset = Some(high);
            }
        }
        if let Some((count, range)) = self.skipped.get(&(flow.clone(), tp.clone())) {
            p.records_skipped = *count;
            p.last_skip = Some(*range);
        }
        p.stalled = self
            .stalls
            .get(&(flow.clone(), tp.clone()))
            .and_then(StallWatch::stalled);
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

    /// The partitions of `flow` this node owns and does not read now (replaces the last set).
    pub fn set_held(&self, flow: &FlowId, held: BTreeMap<TopicPartition, Held>) {
        let mut inner = self.lock();
        if held.is_empty() {
            inner.held.remove(flow);
        } else {
            inner.held.insert(flow.clone(), held);
        }
    }

    /// The partitions of `flow` whose source end offset the statistics do not keep current:
    /// held ones and ones backing off (not fetched while they wait).
    pub fn not_fetched(&self, flow: &FlowId) -> Vec<TopicPartition> {
        let inner = self.lock();
        let mut out: Vec<TopicPartition> = inner
            .held
            .get(flow)
            .map(|held| held.keys().cloned().collect())
            .unwrap_or_default();
        out.extend(
            inner
                .partitions
                .iter()
                .filter(|((f, _), p)| {
                    f == flow && matches!(p.state, PartitionState::BackingOff { .. })
                })
                .map(|((_, tp), _)| tp.clone()),
        );
        out.sort();
        out.dedup();
        out
    }

    pub fn remove_partition(&self, flow: &FlowId, tp: &TopicPartition) {
        let mut inner = self.lock();
        let key = (flow.clone(), tp.clone());
        inner.partitions.remove(&key);
        inner.stalls.remove(&key);
    }

    /// Watches the partition's acknowledgement window for stalls (from now on, unless it already
    /// watches this window).
    pub fn watch_acks(&self, flow: &FlowId, tp: &TopicPartition, ack: &Arc<AckWindow>) {
        let mut inner = self.lock();
        let key = (flow.clone(), tp.clone());
        if !inner.stalls.get(&key).is_some_and(|w| w.watches(ack)) {
            inner
                .stalls
                .insert(key, StallWatch::new(ack.clone(), Instant::now()));
        }
    }

    /// Looks at every watched partition at `now` (see [`stall`](crate::replication::stall)),
    /// and logs a WARN line when a stall starts, an INFO line when it clears.
    pub fn check_stalls(&self, now: Instant) {
        let changes: Vec<_> = self
            .lock()
            .stalls
            .iter_mut()
            .filter_map(|(key, watch)| watch.check(now).map(|change| (key.clone(), change)))
            .collect();
        for ((flow, tp), change) in changes {
            match change {
                Change::Started(stall) => tracing::warn!(%flow, topic = %tp.topic,
                    partition = tp.partition, waited_s = stall.waited.as_secs(),
                    in_flight = stall.in_flight,
                    "target not acknowledging: records in flight and no acknowledgement \
                     (an unreachable or stuck target; librdkafka retries until its timeouts)"),
                Change::Cleared { lasted, acked } => tracing::info!(%flow, topic = %tp.topic,
                    partition = tp.partition, stalled_s = lasted.as_secs(), acked,
                    "target acknowledging again (or the records in flight were resolved)"),
            }
        }
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
            .entries()
            .into_iter()
            .map(|(k, v)| {
                let p = inner.with_offsets(&k.0, &k.1, &v);
                (k, p)
            })
            .collect()
    }

    pub fn flow_ids(&self) -> Vec<FlowId> {
        self.lock().flows.keys().cloned().collect()
    }

    pub fn flow(&self, flow: &FlowId) -> FlowSnapshot {
        let inner = self.lock();
        let mut snapshot = FlowSnapshot::default();
        for ((f, tp), p) in &inner.entries() {
            if f != flow {
                continue;
            }
            match p.state {
                PartitionState::Running => snapshot.running += 1,
                PartitionState::BackingOff { .. } => snapshot.backing_off += 1,
                PartitionState::Draining => {}
                PartitionState::Paused => snapshot.paused += 1,
                PartitionState::NoQuorum => snapshot.no_quorum += 1,
            }
            if !matches!(p.state, PartitionState::Paused | PartitionState::NoQuorum) {
                snapshot.partitions += 1;
            }
            snapshot.records += p.records;
            snapshot.bytes += p.bytes;
            if let Some((count, _)) = inner.skipped.get(&(f.clone(), tp.clone())) {
                snapshot.records_skipped += count;
            }
            let p = inner.with_offsets(f, tp, p);
            match p.offset_lag() {
                Some(lag) => snapshot.remaining += lag,
                None => snapshot.lag_unknown += 1,
            }
            if let Some(stall) = &p.stalled {
                snapshot.stalled += 1;
                snapshot.errors.push(format!("{tp}: {stall}"));
            } else if let Some(error) = &p.last_error {
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
            let limit = handles.budget.rate().limit();
            snapshot.throttle_records_per_second = limit.records_per_second;
            snapshot.throttle_bytes_per_second = limit.bytes_per_second;
            snapshot.throttle_waited = handles.budget.rate().waited();
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
    use crate::kafka::SourceOffsets;

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
            stalled: None,
        }
    }

    #[test]
    fn held_partitions_report_the_listed_end_not_zero() {
        let status = NodeStatus::default();
        let flow: FlowId = "A->B".parse().unwrap();
        let offsets = Arc::new(SourceOffsets::default());
        status.register_flow(
            &flow,
            FlowHandles {
                budget: Arc::new(InFlightBudget::new(10, 10)),
                source_health: Arc::default(),
                target_health: Arc::default(),
                source_offsets: offsets.clone(),
            },
        );
        let tp = |p| TopicPartition::new("t".to_owned(), p);
        // Partition 0 was caught up at 100 when the flow paused; the source grew to 160 since.
        status.set_held(
            &flow,
            [0, 1]
                .into_iter()
                .map(|p| {
                    (
                        tp(p),
                        Held {
                            state: PartitionState::Paused,
                            remote_topic: "A.t".to_owned(),
                            next_source_offset: Some(100),
                        },
                    )
                })
                .collect(),
        );
        offsets.set_listed([(("t".to_owned(), 0), 160)].into_iter().collect());
        let partitions = status.partitions();
        assert_eq!(partitions.len(), 2);
        assert_eq!(partitions[0].1.state, PartitionState::Paused);
        assert_eq!(partitions[0].1.offset_lag(), Some(60));
        // Not listed (yet): unknown, never 0.
        assert_eq!(partitions[1].1.offset_lag(), None);
        let snapshot = status.flow(&flow);
        assert_eq!(
            (
                snapshot.partitions,
                snapshot.paused,
                snapshot.remaining,
                snapshot.lag_unknown
            ),
            (0, 2, 60, 1)
        );
        assert_eq!(status.not_fetched(&flow), vec![tp(0), tp(1)]);
        // An actor running the partition again reports itself; the held entry goes.
        status.update_partition(&flow, &tp(0), partition(Some(160), None, None));
        status.set_held(&flow, BTreeMap::new());
        assert_eq!(status.partitions().len(), 1);
        assert_eq!(status.partitions()[0].1.state, PartitionState::Running);
        assert!(status.not_fetched(&flow).is_empty());
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

//! The Prometheus endpoint (`[node] metrics_listen`, `strait.metrics.listen`): `GET /metrics`.
//!
//! Names are `strait_<subsystem>_<name>_<unit>`; counters end in `_total`. The data path counts
//! acknowledged records, latencies and producer errors where they happen
//! (`replication/producer.rs`), fetch errors in the partition actors and rebalances in the flow
//! actors; the gauges and the counters kept elsewhere (the flows' budgets, the partition actors'
//! restarts and lag, the Raft status) are sampled here every [`SAMPLE_INTERVAL`].
//!
//! Every counter has a series from the first sample after its flow starts (zero until its first
//! event; [`declare_flow`]), so an alert on an error counter sees 0, not "no data".
//!
//! Cardinality: every series is per node and per flow; records and bytes are also per remote
//! topic; only the two lag gauges are per partition (what an operator needs to find the one stuck
//! partition, and one series per partition a node owns). Histograms are per flow. Error labels are
//! the class (`retriable`, `fatal`).
//!
//! The exporter serves from its own thread and runtime, so it answers while the actor system is
//! busy or the target cluster is stalled.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics_exporter_prometheus::Matcher;
use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::{FlowId, TopicPartition};

use crate::kafka::ErrorClass;
use crate::replication::status::NodeStatus;

/// How often the sampled metrics are refreshed.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Buckets of the replication latency histograms, in seconds: loopback milliseconds up to the
/// minutes of a catch-up.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// How often the exporter folds the histogram samples recorded since into their buckets. It keeps
/// every sample until then (16 bytes each, two per record copied): the exporter's default of 5 s
/// held some 80 MB at 500,000 records/s.
const HISTOGRAM_UPKEEP: Duration = Duration::from_secs(1);
/// Buckets of the rebalance duration histogram, in seconds.
const REBALANCE_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Starts the HTTP endpoint at `addr` and installs the global recorder. Call it outside any tokio
/// runtime: the exporter then gets a thread and runtime of its own.
pub fn install(addr: SocketAddr) -> Result<(), String> {
    let error =
        |e: metrics_exporter_prometheus::BuildError| format!("cannot serve metrics on {addr}: {e}");
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .upkeep_timeout(HISTOGRAM_UPKEEP)
        .set_buckets_for_metric(
            Matcher::Suffix("_latency_seconds".to_owned()),
            LATENCY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("strait_cluster_rebalance_duration_seconds".to_owned()),
                REBALANCE_BUCKETS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("strait_checkpoint_round_duration_seconds".to_owned()),
                REBALANCE_BUCKETS,
            )
        })
        .map_err(error)?
        .install()
        .map_err(error)?;
    describe();
    Ok(())
}

fn class_label(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Retriable => "retriable",
        ErrorClass::Fatal => "fatal",
    }
}

/// Counts an error read from the source (`strait_consumer_fetch_errors_total`) and returns its
/// class.
pub fn fetch_error(flow: &FlowId, error: &rdkafka::error::KafkaError) -> ErrorClass {
    let class = crate::kafka::classify(error);
    metrics::counter!("strait_consumer_fetch_errors_total",
        "flow" => flow.to_string(), "class" => class_label(class))
    .increment(1);
    class
}

/// The source denied reading `topic` (`strait_consumer_authorization_errors_total`, per source
/// topic: the label an operator needs to fix the ACL, and only topics with such errors get one).
pub fn authorization_error(flow: &FlowId, topic: &str) {
    metrics::counter!("strait_consumer_authorization_errors_total",
        "flow" => flow.to_string(), "topic" => topic.to_owned())
    .increment(1);
}

/// Zero-valued series of the counters an event creates, for a flow this node now runs, so that a
/// dashboard or an alert (`increase(...[5m]) > 0`) sees 0 rather than no data until the first
/// error. The per-topic and per-partition counters get a series with those labels empty (which
/// Prometheus reads as absent: `sum by (flow)` counts it).
fn declare_flow(flow: &FlowId) {
    let flow = flow.to_string();
    for class in [ErrorClass::Retriable, ErrorClass::Fatal] {
        metrics::counter!("strait_consumer_fetch_errors_total",
            "flow" => flow.clone(), "class" => class_label(class))
        .increment(0);
    }
    metrics::counter!("strait_consumer_authorization_errors_total",
        "flow" => flow.clone(), "topic" => "")
    .increment(0);
    metrics::counter!("strait_replication_records_skipped_total",
        "flow" => flow.clone(), "topic" => "", "partition" => "")
    .increment(0);
    for name in [
        "strait_producer_replaced_total",
        "strait_replication_partition_restarts_total",
        "strait_checkpoint_records_total",
        "strait_cluster_rebalances_total",
    ] {
        metrics::counter!(name, "flow" => flow.clone()).increment(0);
    }
}

/// A change of the partitions this node runs for `flow` took `took` to settle (every partition
/// that left stopped, every one that arrived started).
pub fn rebalance(flow: &FlowId, took: Duration) {
    let label = [("flow", flow.to_string())];
    metrics::counter!("strait_cluster_rebalances_total", &label).increment(1);
    metrics::histogram!("strait_cluster_rebalance_duration_seconds", &label)
        .record(took.as_secs_f64());
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "strait_replication_records_total",
        Unit::Count,
        "Records the target acknowledged, by flow and remote topic"
    );
    describe_counter!(
        "strait_replication_bytes_total",
        Unit::Bytes,
        "Bytes (key, value, headers) of the records the target acknowledged"
    );
    describe_gauge!(
        "strait_replication_in_flight_records",
        Unit::Count,
        "Records handed to the producer and not yet acknowledged, by flow"
    );
    describe_gauge!(
        "strait_replication_in_flight_bytes",
        Unit::Bytes,
        "Bytes handed to the producer and not yet acknowledged, by flow"
    );
    describe_counter!(
        "strait_replication_backpressure_waits_total",
        Unit::Count,
        "Times a partition waited for room in its flow's in-flight budget"
    );
    describe_gauge!(
        "strait_replication_throttle_records_per_second",
        Unit::Count,
        "This node's share of the flow's rate limit in records per second (0: unlimited), by flow"
    );
    describe_gauge!(
        "strait_replication_throttle_bytes_per_second",
        Unit::Bytes,
        "This node's share of the flow's rate limit in bytes per second (0: unlimited), by flow"
    );
    describe_gauge!(
        "strait_replication_throttle_wait_seconds",
        Unit::Seconds,
        "Time batches waited for the flow's rate limit on this node since it started, by flow"
    );
    describe_counter!(
        "strait_replication_records_skipped_total",
        Unit::Count,
        "Source offsets passed over without being replicated because the source no longer held them (retention, DeleteRecords) or auto.offset.reset = latest passed over them, by flow, source topic and partition"
    );
    describe_gauge!(
        "strait_replication_partitions_owned",
        Unit::Count,
        "Source partitions this node replicates, by flow"
    );
    describe_gauge!(
        "strait_replication_partitions_failing",
        Unit::Count,
        "Source partitions of this node waiting out a backoff after a failure (their last error is in GetNodeStatus and `strait status`), by flow"
    );
    describe_gauge!(
        "strait_replication_stalled_partitions",
        Unit::Count,
        "Source partitions of this node with records in flight and no acknowledgement from the target for 10 s or more (their status error says for how long), by flow"
    );
    describe_counter!(
        "strait_replication_partition_restarts_total",
        Unit::Count,
        "Restarts of partition actors after a failure, by flow"
    );
    describe_counter!(
        "strait_producer_errors_total",
        Unit::Count,
        "Failed deliveries to the target, by class (retriable or fatal)"
    );
    // Both classes from the start, so a dashboard sees 0 rather than no series.
    for class in ["retriable", "fatal"] {
        metrics::counter!("strait_producer_errors_total", "class" => class).increment(0);
    }
    describe_histogram!(
        "strait_checkpoint_round_duration_seconds",
        Unit::Seconds,
        "One checkpoint round of a flow (read the source groups, translate, write checkpoints and group offsets), by flow and outcome"
    );
    describe_counter!(
        "strait_checkpoint_records_total",
        Unit::Count,
        "Checkpoint records written to the target, by flow"
    );
    describe_counter!(
        "strait_producer_replaced_total",
        Unit::Count,
        "Target producers replaced after a fatal error (e.g. fenced), by flow"
    );
    describe_counter!(
        "strait_consumer_fetch_errors_total",
        Unit::Count,
        "Errors reading the source, by flow and class (retriable: librdkafka retries; fatal: the partition backs off)"
    );
    describe_counter!(
        "strait_consumer_authorization_errors_total",
        Unit::Count,
        "Reads of a source topic the source cluster refused (TOPIC_AUTHORIZATION_FAILED), by flow and source topic"
    );
    describe_gauge!(
        "strait_replication_offset_lag_records",
        Unit::Count,
        "Records of a source partition not replicated yet (high watermark minus next offset), by flow, source topic and partition"
    );
    describe_gauge!(
        "strait_replication_time_lag_seconds",
        Unit::Seconds,
        "0 when a partition is caught up, else the age of its last replicated record, by flow, source topic and partition"
    );
    describe_histogram!(
        "strait_replication_end_to_end_latency_seconds",
        Unit::Seconds,
        "Target acknowledgement time minus the source record's timestamp, by flow"
    );
    describe_histogram!(
        "strait_replication_read_to_ack_latency_seconds",
        Unit::Seconds,
        "Target acknowledgement time minus the time the record was read from the source, by flow"
    );
    describe_counter!(
        "strait_cluster_rebalances_total",
        Unit::Count,
        "Changes of the partitions this node runs (assignment from the cluster), by flow"
    );
    describe_histogram!(
        "strait_cluster_rebalance_duration_seconds",
        Unit::Seconds,
        "From a change of this node's assignment until every leaving partition stopped and every arriving one started, by flow"
    );
    describe_gauge!(
        "strait_raft_apply_lag_entries",
        Unit::Count,
        "Committed Raft entries not applied yet on this node"
    );
    describe_gauge!("strait_raft_term", "This node's Raft term");
    describe_gauge!("strait_raft_commit_index", "This node's Raft commit index");
    describe_gauge!(
        "strait_raft_applied_index",
        "This node's applied Raft index"
    );
    describe_gauge!(
        "strait_raft_is_leader",
        "1 while this node leads the Raft group"
    );
}

/// Refreshes the sampled metrics every [`SAMPLE_INTERVAL`], on a thread of its own, for the life
/// of the process.
pub fn spawn_sampler(status: NodeStatus, raft: RaftHandle) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("strait-metrics".to_owned())
        .spawn(move || {
            let mut sampler = Sampler::default();
            loop {
                sampler.sample(&status, &raft);
                std::thread::sleep(SAMPLE_INTERVAL);
            }
        })
        .map(drop)
}

/// What the previous sample saw, to turn the sources' own totals (which restart with their
/// actor or flow) into counters that never go back.
#[derive(Default)]
struct Sampler {
    flows: BTreeSet<FlowId>,
    waits: HashMap<FlowId, u64>,
    restarts: HashMap<(FlowId, TopicPartition), u32>,
    /// Partitions whose lag gauges were set: a partition that left gets them set to 0.
    lagging: BTreeSet<(FlowId, TopicPartition)>,
}

/// How much a source total grew since `last`; a total below `last` restarted from zero.
fn growth(last: u64, now: u64) -> u64 {
    if now >= last {
        now - last
    } else {
        now
    }
}

impl Sampler {
    fn sample(&mut self, status: &NodeStatus, raft: &RaftHandle) {
        let raft = raft.status();
        metrics::gauge!("strait_raft_term").set(raft.term as f64);
        metrics::gauge!("strait_raft_commit_index").set(raft.commit as f64);
        metrics::gauge!("strait_raft_applied_index").set(raft.applied as f64);
        metrics::gauge!("strait_raft_apply_lag_entries")
            .set(raft.commit.saturating_sub(raft.applied) as f64);
        let leader = matches!(raft.role, RaftRole::Leader);
        metrics::gauge!("strait_raft_is_leader").set(if leader { 1.0 } else { 0.0 });

        let flows: BTreeSet<FlowId> = status.flow_ids().into_iter().collect();
        for new in flows.difference(&self.flows) {
            declare_flow(new);
        }
        for gone in self.flows.difference(&flows) {
            let label = [("flow", gone.to_string())];
            metrics::gauge!("strait_replication_in_flight_records", &label).set(0.0);
            metrics::gauge!("strait_replication_in_flight_bytes", &label).set(0.0);
            metrics::gauge!("strait_replication_partitions_owned", &label).set(0.0);
            metrics::gauge!("strait_replication_partitions_failing", &label).set(0.0);
            metrics::gauge!("strait_replication_stalled_partitions", &label).set(0.0);
            metrics::gauge!("strait_replication_throttle_records_per_second", &label).set(0.0);
            metrics::gauge!("strait_replication_throttle_bytes_per_second", &label).set(0.0);
        }
        for flow in &flows {
            let snapshot = status.flow(flow);
            let label = [("flow", flow.to_string())];
            metrics::gauge!("strait_replication_in_flight_records", &label)
                .set(snapshot.in_flight_records as f64);
            metrics::gauge!("strait_replication_in_flight_bytes", &label)
                .set(snapshot.in_flight_bytes as f64);
            metrics::gauge!("strait_replication_partitions_owned", &label)
                .set(snapshot.partitions as f64);
            metrics::gauge!("strait_replication_partitions_failing", &label)
                .set(snapshot.backing_off as f64);
            metrics::gauge!("strait_replication_stalled_partitions", &label)
                .set(snapshot.stalled as f64);
            metrics::gauge!("strait_replication_throttle_records_per_second", &label)
                .set(snapshot.throttle_records_per_second as f64);
            metrics::gauge!("strait_replication_throttle_bytes_per_second", &label)
                .set(snapshot.throttle_bytes_per_second as f64);
            metrics::gauge!("strait_replication_throttle_wait_seconds", &label)
                .set(snapshot.throttle_waited.as_secs_f64());
            let last = self.waits.insert(flow.clone(), snapshot.backpressure_waits);
            metrics::counter!("strait_replication_backpressure_waits_total", &label)
                .increment(growth(last.unwrap_or(0), snapshot.backpressure_waits));
        }
        self.flows = flows;

        let mut restarts: BTreeMap<FlowId, u64> = BTreeMap::new();
        let mut seen = HashMap::new();
        let mut lagging = BTreeSet::new();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for (key, partition) in status.partitions() {
            if let Some(lag) = partition.offset_lag() {
                let labels = lag_labels(&key);
                metrics::gauge!("strait_replication_offset_lag_records", &labels).set(lag as f64);
                if let Some(ms) = partition.time_lag_ms(now_ms) {
                    metrics::gauge!("strait_replication_time_lag_seconds", &labels)
                        .set(ms as f64 / 1000.0);
                }
                lagging.insert(key.clone());
            }
            let last = self.restarts.get(&key).copied().unwrap_or(0);
            *restarts.entry(key.0.clone()).or_default() +=
                growth(u64::from(last), u64::from(partition.restarts));
            seen.insert(key, partition.restarts);
        }
        for (flow, grew) in restarts {
            metrics::counter!("strait_replication_partition_restarts_total", "flow" => flow.to_string())
                .increment(grew);
        }
        self.restarts = seen;
        for gone in self.lagging.difference(&lagging) {
            // Moved to another node (which reports it now) or no longer replicated.
            let labels = lag_labels(gone);
            metrics::gauge!("strait_replication_offset_lag_records", &labels).set(0.0);
            metrics::gauge!("strait_replication_time_lag_seconds", &labels).set(0.0);
        }
        self.lagging = lagging;
    }
}

fn lag_labels((flow, tp): &(FlowId, TopicPartition)) -> [(&'static str, String); 3] {
    [
        ("flow", flow.to_string()),
        ("topic", tp.topic.clone()),
        ("partition", tp.partition.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::growth;

    /// Every metric the Grafana dashboard queries is one this node describes.
    #[test]
    fn the_dashboard_uses_only_exported_names() {
        let dashboard = include_str!("../../deploy/grafana/strait-dashboard.json");
        let exported = include_str!("metrics.rs");
        let names = regex::Regex::new(r"strait_[a-z_]+").expect("a regex");
        let mut checked = 0;
        for found in names.find_iter(dashboard) {
            let name = found.as_str();
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            assert!(
                exported.contains(&format!("\"{base}\"")),
                "the dashboard queries {name}, which metrics.rs does not describe"
            );
            checked += 1;
        }
        assert!(checked > 20, "only {checked} metric names found");
    }

    #[test]
    fn growth_never_goes_back() {
        assert_eq!(growth(0, 5), 5);
        assert_eq!(growth(5, 7), 2);
        assert_eq!(growth(7, 3), 3);
    }
}

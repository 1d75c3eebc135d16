//! The Prometheus endpoint (`[node] metrics_listen`, `strait.metrics.listen`): `GET /metrics`.
//!
//! Names are `strait_<subsystem>_<name>_<unit>`; counters end in `_total`. The data path counts
//! acknowledged records and producer errors where they happen (`replication/producer.rs`); the
//! gauges and the counters kept elsewhere (the flows' budgets, the partition actors' restarts, the
//! Raft status) are sampled here every [`SAMPLE_INTERVAL`].
//!
//! The exporter serves from its own thread and runtime, so it answers while the actor system is
//! busy or the target cluster is stalled.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::{FlowId, TopicPartition};

use crate::replication::status::NodeStatus;

/// How often the sampled metrics are refreshed.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the HTTP endpoint at `addr` and installs the global recorder. Call it outside any tokio
/// runtime: the exporter then gets a thread and runtime of its own.
pub fn install(addr: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    describe();
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
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
        "strait_replication_partitions_owned",
        Unit::Count,
        "Source partitions this node replicates, by flow"
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
        let leader = matches!(raft.role, RaftRole::Leader);
        metrics::gauge!("strait_raft_is_leader").set(if leader { 1.0 } else { 0.0 });

        let flows: BTreeSet<FlowId> = status.flow_ids().into_iter().collect();
        for gone in self.flows.difference(&flows) {
            let label = [("flow", gone.to_string())];
            metrics::gauge!("strait_replication_in_flight_records", &label).set(0.0);
            metrics::gauge!("strait_replication_in_flight_bytes", &label).set(0.0);
            metrics::gauge!("strait_replication_partitions_owned", &label).set(0.0);
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
            let last = self.waits.insert(flow.clone(), snapshot.backpressure_waits);
            metrics::counter!("strait_replication_backpressure_waits_total", &label)
                .increment(growth(last.unwrap_or(0), snapshot.backpressure_waits));
        }
        self.flows = flows;

        let mut restarts: BTreeMap<FlowId, u64> = BTreeMap::new();
        let mut seen = HashMap::new();
        for (key, partition) in status.partitions() {
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
    }
}

#[cfg(test)]
mod tests {
    use super::growth;

    #[test]
    fn growth_never_goes_back() {
        assert_eq!(growth(0, 5), 5);
        assert_eq!(growth(5, 7), 2);
        assert_eq!(growth(7, 3), 3);
    }
}

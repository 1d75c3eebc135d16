//! The progress line: every `progress_interval`, one log line per flow with what was replicated,
//! the rate, what is in flight, and any error.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use strait_coordinator::FlowId;

use crate::replication::status::NodeStatus;

pub async fn report(node: u64, status: NodeStatus, interval: Duration) {
    let mut last: HashMap<FlowId, (u64, Instant)> = HashMap::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        for flow in status.flow_ids() {
            let s = status.flow(&flow);
            let now = Instant::now();
            let (before, then) = last.get(&flow).copied().unwrap_or((0, now - interval));
            let rate = (s.records.saturating_sub(before)) as f64 / (now - then).as_secs_f64();
            last.insert(flow.clone(), (s.records, now));
            tracing::info!(
                node,
                %flow,
                partitions = s.partitions,
                running = s.running,
                backing_off = s.backing_off,
                replicated = s.records,
                replicated_mb = format!("{:.1}", s.bytes as f64 / 1e6),
                rate_per_s = rate.round() as u64,
                in_flight = s.in_flight_records,
                backpressure_waits = s.backpressure_waits,
                errors = %s.errors.join("; "),
                "progress"
            );
        }
    }
}

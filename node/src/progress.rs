//! The progress line: every `progress_interval`, one log line per flow with what was replicated,
//! the rate, what is in flight, the records remaining (source end offsets minus positions) with an
//! estimated time to catch up, and any error. Partitions this node owns and does not read (flow
//! paused, quorum lost) count as `paused` / `no_quorum`, their records remaining included (end
//! offsets listed from the source), and the estimate says why nothing catches up.

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
            // Partitions owned and not read do not catch up, whatever the rate.
            let eta = if s.paused > 0 {
                "paused".to_owned()
            } else if s.no_quorum > 0 {
                "no quorum".to_owned()
            } else {
                eta_secs(s.remaining, rate, s.lag_unknown)
            };
            tracing::info!(
                node,
                %flow,
                partitions = s.partitions,
                running = s.running,
                backing_off = s.backing_off,
                paused = s.paused,
                no_quorum = s.no_quorum,
                replicated = s.records,
                replicated_mb = format!("{:.1}", s.bytes as f64 / 1e6),
                rate_per_s = rate.round() as u64,
                in_flight = s.in_flight_records,
                remaining = s.remaining,
                eta = %eta,
                backpressure_waits = s.backpressure_waits,
                rate_limit = %rate_limit(s.throttle_records_per_second, s.throttle_bytes_per_second),
                errors = %s.errors.join("; "),
                "progress"
            );
        }
    }
}

/// This node's share of the flow's rate limit, as the progress line shows it: `unlimited`, or
/// `2000/s` (records), `1048576B/s` (bytes), or both joined by `,`.
fn rate_limit(records_per_second: u64, bytes_per_second: u64) -> String {
    let mut parts = Vec::new();
    if records_per_second > 0 {
        parts.push(format!("{records_per_second}/s"));
    }
    if bytes_per_second > 0 {
        parts.push(format!("{bytes_per_second}B/s"));
    }
    if parts.is_empty() {
        "unlimited".to_owned()
    } else {
        parts.join(",")
    }
}

/// The estimated time to catch up, as the progress line shows it: `0s` when nothing remains,
/// `unknown` while some end offsets are not known yet or nothing moves.
pub(crate) fn eta_secs(remaining: u64, rate_per_s: f64, lag_unknown: usize) -> String {
    if lag_unknown > 0 {
        return "unknown".to_owned();
    }
    if remaining == 0 {
        return "0s".to_owned();
    }
    if rate_per_s < 1.0 {
        return "unknown".to_owned();
    }
    let secs = (remaining as f64 / rate_per_s).ceil() as u64;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::eta_secs;

    #[test]
    fn eta_from_remaining_and_rate() {
        assert_eq!(eta_secs(0, 0.0, 0), "0s");
        assert_eq!(eta_secs(1_000, 100.0, 0), "10s");
        assert_eq!(eta_secs(1_000_000, 1_000.0, 0), "16m40s");
        assert_eq!(eta_secs(10, 0.0, 0), "unknown");
        assert_eq!(eta_secs(0, 5.0, 1), "unknown");
    }
}

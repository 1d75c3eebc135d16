//! A Raft peer this node cannot deliver to, from the first failed RPC to the next one that
//! succeeds: logged when it starts, again every [`REMIND_EVERY`] while it lasts (so that a peer
//! that never came up, e.g. a configured bootstrap peer not started, stays visible), and when it
//! ends.
//!
//! The status API has no place for it yet (`strait.v1.GetNodeStatusResponse` would need a field
//! such as `repeated PeerReachability peers`), so the log is where it shows.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strait_coordinator::NodeId;

/// How often a lasting outage is logged again.
const REMIND_EVERY: Duration = Duration::from_secs(30);

pub struct Outage {
    since: Instant,
    /// When it started, in milliseconds since the Unix epoch (the status API's convention).
    since_unix_ms: u128,
    failures: u64,
    reminded: Instant,
}

impl Outage {
    /// The first failed delivery to `to` at `address`.
    pub fn start(to: NodeId, address: &str, error: &str) -> Self {
        let now = Instant::now();
        let since_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        tracing::warn!(to, %address, %error, since_unix_ms,
            "raft peer unreachable, retrying with backoff");
        Self {
            since: now,
            since_unix_ms,
            failures: 1,
            reminded: now,
        }
    }

    /// Another failed delivery.
    pub fn failed(&mut self, to: NodeId, address: &str, error: &str) {
        self.failures += 1;
        if self.reminded.elapsed() < REMIND_EVERY {
            return;
        }
        self.reminded = Instant::now();
        tracing::warn!(to, %address, last_error = %error, since_unix_ms = self.since_unix_ms,
            unreachable_for_s = self.since.elapsed().as_secs(), failures = self.failures,
            "raft peer still unreachable");
    }

    /// A delivery succeeded again.
    pub fn end(self, to: NodeId, address: &str) {
        tracing::info!(to, %address, unreachable_for_s = self.since.elapsed().as_secs(),
            failures = self.failures, "raft peer reachable again");
    }
}

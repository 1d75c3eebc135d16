//! A Raft peer this node cannot deliver to, from the first failed RPC to the next one that
//! succeeds: logged when it starts, again every [`REMIND_EVERY`] while it lasts (so that a peer
//! that never came up, e.g. a configured bootstrap peer not started, stays visible), and when it
//! ends; published all along in the node's status (`GetNodeStatus.unreachable_peers`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strait_coordinator::NodeId;

use crate::replication::status::{NodeStatus, UnreachablePeer};

/// How often a lasting outage is logged again.
const REMIND_EVERY: Duration = Duration::from_secs(30);

pub struct Outage {
    since: Instant,
    peer: UnreachablePeer,
    reminded: Instant,
}

impl Outage {
    /// The first failed delivery to `to` at `address`.
    pub fn start(status: &NodeStatus, to: NodeId, address: &str, error: &str) -> Self {
        let now = Instant::now();
        let since_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        tracing::warn!(to, %address, %error, since_unix_ms,
            "raft peer unreachable, retrying with backoff");
        let outage = Self {
            since: now,
            peer: UnreachablePeer {
                address: address.to_owned(),
                since_unix_ms,
                failures: 1,
                last_error: error.to_owned(),
            },
            reminded: now,
        };
        status.set_peer_unreachable(to, Some(outage.peer.clone()));
        outage
    }

    /// Another failed delivery.
    pub fn failed(&mut self, status: &NodeStatus, to: NodeId, error: &str) {
        self.peer.failures += 1;
        error.clone_into(&mut self.peer.last_error);
        status.set_peer_unreachable(to, Some(self.peer.clone()));
        if self.reminded.elapsed() < REMIND_EVERY {
            return;
        }
        self.reminded = Instant::now();
        tracing::warn!(to, address = %self.peer.address, last_error = %error,
            since_unix_ms = self.peer.since_unix_ms,
            unreachable_for_s = self.since.elapsed().as_secs(), failures = self.peer.failures,
            "raft peer still unreachable");
    }

    /// A delivery succeeded again.
    pub fn end(self, status: &NodeStatus, to: NodeId) {
        status.set_peer_unreachable(to, None);
        tracing::info!(to, address = %self.peer.address,
            unreachable_for_s = self.since.elapsed().as_secs(),
            failures = self.peer.failures, "raft peer reachable again");
    }
}

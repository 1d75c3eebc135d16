//! What the leader decides, every tick: which nodes are alive, and who owns which partition.
//! Decisions are proposals like any other; they take effect when committed. Followers keep the
//! bookkeeping too (who they heard from), so a new leader starts with a grace period, not with a
//! blank slate that would declare everyone dead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::state::{plan_assignment, ClusterState, Command};
use crate::NodeId;

/// How often the leader re-evaluates liveness and the assignment.
const DUTY_INTERVAL: Duration = Duration::from_millis(200);
/// A duty proposal not applied within this time is considered lost and may be proposed again.
const DUTY_RETRY: Duration = Duration::from_secs(2);

pub(crate) struct LeaderDuties {
    id: NodeId,
    liveness_timeout: Duration,
    last_heard: HashMap<NodeId, Instant>,
    leading_since: Option<Instant>,
    last_run: Option<Instant>,
    /// The duty proposal in flight (at most one), and when it was made.
    in_flight: Option<Instant>,
    /// The self-registration in flight.
    registering: Option<Instant>,
    /// Whether this node has seen itself registered: once it has, its absence means it was
    /// removed, and it must not register again.
    seen_registered: bool,
    /// This process is stopping (see [`Self::stop`]): the cluster's `stopping` mark on this node
    /// is its own. Otherwise a mark found in the state is a previous process's, and this one
    /// registers again to clear it.
    stopping: bool,
}

impl LeaderDuties {
    pub(crate) fn new(id: NodeId, liveness_timeout: Duration) -> Self {
        Self {
            id,
            liveness_timeout,
            last_heard: HashMap::new(),
            leading_since: None,
            last_run: None,
            in_flight: None,
            registering: None,
            seen_registered: false,
            stopping: false,
        }
    }

    /// This process stops: from now on the `stopping` mark on this node in the state is wanted.
    pub(crate) fn stop(&mut self) {
        self.stopping = true;
    }

    pub(crate) fn heard_from(&mut self, node: NodeId) {
        if node != 0 {
            self.last_heard.insert(node, Instant::now());
        }
    }

    /// A committed proposal: whatever duty was in flight has landed (or was superseded).
    pub(crate) fn applied(&mut self, _proposal: u64) {
        self.in_flight = None;
        self.registering = None;
    }

    /// The commands to propose now.
    pub(crate) fn on_tick(
        &mut self,
        leading: bool,
        leader: NodeId,
        state: &ClusterState,
        address: &str,
    ) -> Vec<Command> {
        let now = Instant::now();
        let mut commands = Vec::new();

        // Every node makes sure it is registered with its current address, as having run (unless
        // it was removed). A join or an operator's AddNode registered it without that. A
        // `stopping` mark left by this node's previous process (a restart after SIGTERM) is
        // cleared the same way: registering as running clears it.
        let known = state.node(self.id);
        self.seen_registered |= known.is_some();
        let registered = known.is_some_and(|info| {
            info.address == address && info.has_run && (self.stopping || !info.stopping)
        });
        let removed = (self.seen_registered && known.is_none()) || state.was_removed(self.id);
        let retry_due = |since: Option<Instant>| since.is_none_or(|t| now - t >= DUTY_RETRY);
        if leader != 0 && !registered && !removed && retry_due(self.registering) {
            self.registering = Some(now);
            commands.push(Command::RegisterNode {
                node: self.id,
                address: address.to_owned(),
                running: true,
            });
        }

        if !leading {
            self.leading_since = None;
            return commands;
        }
        let leading_since = *self.leading_since.get_or_insert(now);
        if self.last_run.is_some_and(|t| now - t < DUTY_INTERVAL) || !retry_due(self.in_flight) {
            return commands;
        }
        self.last_run = Some(now);

        // Liveness first: the assignment depends on it. A node this one has heard from (as leader,
        // or as a follower of the node that led before) is judged by that; one it never heard from
        // gets a grace period of one timeout after this node became leader.
        let in_grace = now - leading_since < self.liveness_timeout;
        for (node, info) in state.nodes() {
            let heard = self.last_heard.get(node);
            let alive = *node == self.id || heard.is_some_and(|t| now - *t < self.liveness_timeout);
            let judged = alive || heard.is_some() || !in_grace;
            if alive != info.alive && judged {
                tracing::info!(node, alive, "leader changes liveness");
                self.in_flight = Some(now);
                commands.push(Command::SetLiveness { node: *node, alive });
                return commands;
            }
        }

        let moves = plan_assignment(state);
        if !moves.is_empty() {
            tracing::info!(moves = moves.len(), "leader reassigns partitions");
            self.in_flight = Some(now);
            commands.push(Command::Assign { moves });
        }
        commands
    }
}

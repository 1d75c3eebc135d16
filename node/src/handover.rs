//! A planned stop (SIGTERM/SIGINT) hands the node's partitions over before it drains.
//!
//! The node marks itself `stopping` in the cluster (`SetStopping`, forwarded to the leader). The
//! leader then plans it like a drained node: every partition it owns moves to another node through
//! the two-phase handover (the flow actors here retire each one, wait for its in-flight records and
//! propose `Release` with its final position; the new owner starts exactly there). Once the node
//! holds nothing, a leader hands the leadership to another voter. Then `node::run` drains as it
//! always did (nothing is left to drain unless the handover was cut short) and the process exits.
//! The mark is not an operator's drain: the node's next process clears it by registering.
//!
//! Bounded: `[node] shutdown_handover_timeout_secs`; skipped at once when there is nobody to hand
//! to (a cluster of one, every other node dead, draining or stopping too), after at most a second
//! without a quorum contact (none to commit the proposals), and given up as soon as either becomes true on the way.

use std::time::{Duration, Instant};

use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::state::ClusterState;
use strait_coordinator::NodeId;

/// How long a stopping leader waits for another voter to take the leadership over (at most; the
/// handover's own deadline bounds it too). An election would take 1–2 s instead.
const LEADERSHIP_TRANSFER_WAIT: Duration = Duration::from_secs(2);
/// How often the conditions are looked at again when the state does not change.
const POLL: Duration = Duration::from_millis(50);
/// How long a node without a recent quorum contact at the signal waits for one before it skips
/// the handover: a stall of a second (a loaded machine, a slow disk) is not a lost quorum.
const QUORUM_WAIT: Duration = Duration::from_secs(1);

/// How the handover ended; logged by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverOutcome {
    /// Every partition this node held was released to another node.
    HandedOver { partitions: usize },
    /// Not attempted, or given up, for the reason given; `held` partitions are left to the drain
    /// (and to the leader once this node is declared dead).
    Skipped { reason: &'static str, held: usize },
    /// The deadline passed first.
    TimedOut { held: usize },
}

/// Nodes other than `node` that could take its partitions.
fn takers(state: &ClusterState, node: NodeId) -> usize {
    state.assignable_nodes().filter(|n| *n != node).count()
}

/// Partitions moved away from `node` that it has not released yet.
fn releasing(state: &ClusterState, node: NodeId) -> usize {
    state
        .partitions()
        .filter(|(_, info)| info.releasing == Some(node))
        .count()
}

/// Marks `node` stopping and waits, at most `timeout`, until it holds no partition. `lease` is the
/// liveness timeout: without a quorum contact that recent, nothing this node proposes commits.
pub async fn hand_over(
    raft: &RaftHandle,
    node: NodeId,
    lease: Duration,
    timeout: Duration,
) -> HandoverOutcome {
    let deadline = tokio::time::Instant::now() + timeout;
    let state = raft.state();
    let held = state.held_by(node);
    let skip = |reason, held| HandoverOutcome::Skipped { reason, held };
    if timeout.is_zero() {
        return skip("shutdown_handover_timeout_secs is 0", held);
    }
    if takers(&state, node) == 0 {
        return skip("no other live node takes partitions", held);
    }
    let quorum_wait = tokio::time::Instant::now() + QUORUM_WAIT.min(timeout);
    while !raft.status().has_quorum_contact(lease) {
        if tokio::time::Instant::now() >= quorum_wait {
            return skip("no contact with a quorum of the cluster", held);
        }
        tokio::time::sleep(POLL).await;
    }
    let started = Instant::now();
    // Until the mark commits, the quorum may go (the others just died): no waiting for the
    // proposal's own timeout then.
    let mut mark = std::pin::pin!(raft.begin_stop());
    loop {
        tokio::select! {
            result = &mut mark => match result {
                Ok(outcome) => {
                    tracing::info!(node, held, ?outcome, "marked stopping: handing partitions over");
                    break;
                }
                Err(error) => {
                    tracing::warn!(node, %error, "cannot mark this node stopping");
                    return skip("the stopping mark was not committed", held);
                }
            },
            _ = tokio::time::sleep(POLL) => {
                if !raft.status().has_quorum_contact(lease) {
                    return skip("no contact with a quorum of the cluster", held);
                }
            }
            _ = tokio::time::sleep_until(deadline) => return HandoverOutcome::TimedOut { held },
        }
    }

    let mut changes = raft.watch_state();
    let outcome = loop {
        let state = changes.borrow_and_update().clone();
        let now_held = state.held_by(node);
        if now_held == 0 {
            break HandoverOutcome::HandedOver { partitions: held };
        }
        // What is still owned here has nowhere to go (the others stopped or died meanwhile), and
        // nothing waits for a release from this node.
        if takers(&state, node) == 0 && releasing(&state, node) == 0 {
            break skip("no other live node takes partitions", now_held);
        }
        if !raft.status().has_quorum_contact(lease) {
            break skip("no contact with a quorum of the cluster", now_held);
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(deadline) => {
                break HandoverOutcome::TimedOut { held: now_held };
            }
        }
    };
    tracing::info!(
        node,
        elapsed_ms = started.elapsed().as_millis() as u64,
        ?outcome,
        "partition handover ended"
    );
    if raft.status().role == RaftRole::Leader {
        transfer_leadership(raft, node, deadline).await;
    }
    outcome
}

/// Hands the Raft leadership to a voter that takes partitions, and waits (briefly) until it has:
/// the cluster then has a leader while this node exits, instead of electing one after it is gone.
async fn transfer_leadership(raft: &RaftHandle, node: NodeId, deadline: tokio::time::Instant) {
    let state = raft.state();
    let status = raft.status();
    let Some(to) = status
        .voters
        .iter()
        .copied()
        .find(|voter| *voter != node && state.node(*voter).is_some_and(|n| n.assignable()))
    else {
        return;
    };
    let started = Instant::now();
    raft.transfer_leader(to);
    let until = deadline.min(tokio::time::Instant::now() + LEADERSHIP_TRANSFER_WAIT);
    let mut status = raft.watch_status();
    loop {
        let now = status.borrow_and_update().clone();
        if now.role != RaftRole::Leader {
            tracing::info!(
                to,
                leader = now.leader,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "handed the Raft leadership over"
            );
            return;
        }
        tokio::select! {
            _ = status.changed() => {}
            _ = tokio::time::sleep_until(until) => {
                tracing::info!(to, "the leadership was not taken over in time: exiting as leader");
                return;
            }
        }
    }
}

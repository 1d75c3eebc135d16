//! `WatchStatus`: the changes between consecutive states this node applies, as events.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strait_coordinator::state::ClusterState;
use strait_proto::v1::status_event::Event;
use strait_proto::v1::{
    AssignmentChanged, ConfigChanged, FlowChanged, LeaderChanged, NodeChanged, PartitionError,
    StatusEvent,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Control;

/// Events a slow watcher may fall behind by before the oldest wait (the watcher's stream applies
/// backpressure to this node's watch task only).
const BUFFER: usize = 256;
/// How often the local partitions' errors are compared.
const ERROR_SCAN: Duration = Duration::from_secs(1);

/// The event stream of one `WatchStatus` call: a snapshot, then changes until the caller leaves.
pub fn events(control: Control) -> ReceiverStream<Result<StatusEvent, tonic::Status>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let mut states = control.raft.watch_state();
        let mut statuses = control.raft.watch_status();
        let mut state = states.borrow_and_update().clone();
        let mut leader = {
            let s = statuses.borrow_and_update();
            (s.leader, s.term)
        };
        let mut errors = partition_errors(&control);
        let snapshot = Event::Snapshot(super::status_api::node_status(&control));
        if tx
            .send(Ok(event(state.applied_index(), snapshot)))
            .await
            .is_err()
        {
            return;
        }
        let mut scan = tokio::time::interval(ERROR_SCAN);
        loop {
            let mut out = Vec::new();
            tokio::select! {
                _ = tx.closed() => return,
                changed = states.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let next = states.borrow_and_update().clone();
                    out.extend(diff(&state, &next));
                    state = next;
                }
                changed = statuses.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let s = statuses.borrow_and_update().clone();
                    if s.leader != leader.0 {
                        out.push(Event::LeaderChanged(LeaderChanged {
                            leader_id: s.leader,
                            term: s.term,
                        }));
                    }
                    leader = (s.leader, s.term);
                }
                _ = scan.tick() => {
                    let now = partition_errors(&control);
                    for (key, error) in &now {
                        if !errors.get(key).is_some_and(|before| before.same(error)) {
                            out.push(error_event(&control, key, error.text.clone()));
                        }
                    }
                    for key in errors.keys().filter(|k| !now.contains_key(*k)) {
                        out.push(error_event(&control, key, String::new()));
                    }
                    errors = now;
                }
            }
            for e in out {
                if tx.send(Ok(event(state.applied_index(), e))).await.is_err() {
                    return;
                }
            }
        }
    });
    ReceiverStream::new(rx)
}

fn event(applied_index: u64, event: Event) -> StatusEvent {
    let at_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    StatusEvent {
        at_unix_ms,
        applied_index,
        event: Some(event),
    }
}

type ErrorKey = (String, String, i32);

/// A partition's error as last sent.
struct ErrorSeen {
    text: String,
    /// A stall: its text says for how long, and changes every second.
    stalled: bool,
}

impl ErrorSeen {
    /// Whether `now` says nothing new: the same error, or the same stall going on.
    fn same(&self, now: &ErrorSeen) -> bool {
        (self.stalled && now.stalled) || self.text == now.text
    }
}

/// The last error of every partition this node runs that has one (its stall while it lasts).
fn partition_errors(control: &Control) -> BTreeMap<ErrorKey, ErrorSeen> {
    control
        .status
        .partitions()
        .into_iter()
        .filter_map(|((flow, tp), p)| {
            let error = ErrorSeen {
                text: p.error()?,
                stalled: p.stalled.is_some(),
            };
            Some(((flow.to_string(), tp.topic, tp.partition), error))
        })
        .collect()
}

fn error_event(control: &Control, key: &ErrorKey, error: String) -> Event {
    Event::PartitionError(PartitionError {
        node_id: control.node_id,
        flow: key.0.clone(),
        topic: key.1.clone(),
        partition: key.2,
        error,
    })
}

/// What changed from `old` to `new`: nodes, flows paused or resumed, owners, configuration.
pub fn diff(old: &ClusterState, new: &ClusterState) -> Vec<Event> {
    let mut events = Vec::new();
    let node = |id: u64, change: &str, address: &str| {
        Event::NodeChanged(NodeChanged {
            node_id: id,
            change: change.to_owned(),
            address: address.to_owned(),
        })
    };
    for (id, info) in new.nodes() {
        match old.node(*id) {
            None => events.push(node(*id, "joined", &info.address)),
            Some(before) => {
                if before.alive != info.alive {
                    let change = if info.alive { "alive" } else { "dead" };
                    events.push(node(*id, change, &info.address));
                }
                if before.draining != info.draining {
                    let change = if info.draining {
                        "draining"
                    } else {
                        "undrained"
                    };
                    events.push(node(*id, change, &info.address));
                }
                if before.stopping != info.stopping {
                    // A planned stop (SIGTERM) hands its partitions over; its restart ends it.
                    let change = if info.stopping { "stopping" } else { "running" };
                    events.push(node(*id, change, &info.address));
                }
            }
        }
    }
    for (id, info) in old.nodes() {
        if new.node(*id).is_none() {
            events.push(node(*id, "removed", &info.address));
        }
    }
    for flow in new.paused_flows() {
        if !old.is_paused(flow) {
            events.push(Event::FlowChanged(FlowChanged {
                flow: flow.to_string(),
                change: "paused".to_owned(),
            }));
        }
    }
    for flow in old.paused_flows() {
        if !new.is_paused(flow) {
            events.push(Event::FlowChanged(FlowChanged {
                flow: flow.to_string(),
                change: "resumed".to_owned(),
            }));
        }
    }
    for (key, info) in new.partitions() {
        let before = old.partition(key);
        let (from, old_epoch) = before.map_or((0, 0), |b| (b.owner.map_or(0, |o| o.node), b.epoch));
        let to = info.owner.map_or(0, |o| o.node);
        if from != to || (before.is_some() && old_epoch != info.epoch) {
            events.push(Event::AssignmentChanged(AssignmentChanged {
                flow: key.flow.to_string(),
                topic: key.tp.topic.clone(),
                partition: key.tp.partition,
                from_node: from,
                to_node: to,
                epoch: info.epoch,
            }));
        }
    }
    if let Some(config) = new.flow_config() {
        if old.flow_config().map(|c| c.version) != Some(config.version) {
            events.push(Event::ConfigChanged(ConfigChanged {
                version: config.version,
                origin_node: config.origin_node,
            }));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_coordinator::state::{plan_assignment, Command, TopicInfo};

    fn apply(state: &mut ClusterState, command: Command) {
        let index = state.applied_index() + 1;
        state.apply(index, &command);
    }

    #[test]
    fn diff_reports_nodes_flows_and_moves() {
        let mut old = ClusterState::new();
        for node in 1..=2 {
            apply(
                &mut old,
                Command::RegisterNode {
                    node,
                    address: format!("n{node}:7070"),
                    running: true,
                },
            );
        }
        apply(
            &mut old,
            Command::SetTopics {
                flow: "A->B".parse().unwrap(),
                topics: vec![TopicInfo {
                    topic: "t".to_owned(),
                    partitions: 2,
                    remote_topic: "A.t".to_owned(),
                }],
            },
        );
        let moves = plan_assignment(&old);
        apply(&mut old, Command::Assign { moves });
        let mut new = old.clone();
        assert!(diff(&old, &new).is_empty());
        apply(
            &mut new,
            Command::SetDraining {
                node: 2,
                draining: true,
            },
        );
        apply(
            &mut new,
            Command::SetFlowPaused {
                flow: "A->B".parse().unwrap(),
                paused: true,
            },
        );
        let moves = plan_assignment(&new);
        assert_eq!(moves.len(), 1);
        apply(&mut new, Command::Assign { moves });
        let events = diff(&old, &new);
        assert!(events.iter().any(|e| matches!(e,
            Event::NodeChanged(n) if n.node_id == 2 && n.change == "draining")));
        assert!(events.iter().any(|e| matches!(e,
            Event::FlowChanged(f) if f.change == "paused")));
        assert!(events.iter().any(|e| matches!(e,
            Event::AssignmentChanged(a) if a.from_node == 2 && a.to_node == 1)));
        assert_eq!(events.len(), 3, "{events:?}");
    }
}

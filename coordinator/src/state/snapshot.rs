use std::collections::btree_map::Entry;

use crate::{OffsetRun, OffsetRuns, Position};
use prost::Message;
use strait_proto::raft::v1::{state_snapshot as proto, StateSnapshot};

use super::{
    ClusterState, FlowConfig, NodeInfo, PartitionInfo, PartitionKey, StateError, Throttle,
};
use crate::Owner;

impl ClusterState {
    /// The whole state as a `strait.raft.v1.StateSnapshot`, the data of a Raft snapshot taken at
    /// [`applied_index`](Self::applied_index). Equal states give equal bytes.
    pub fn to_snapshot_bytes(&self) -> Vec<u8> {
        StateSnapshot {
            applied_index: self.applied_index,
            nodes: self
                .nodes
                .iter()
                .map(|(node, info)| proto::Node {
                    node_id: *node,
                    address: info.address.clone(),
                    alive: info.alive,
                    draining: info.draining,
                    has_run: info.has_run,
                    stopping: info.stopping,
                })
                .collect(),
            flow_config: self.flow_config.as_ref().map(|config| proto::FlowConfig {
                version: config.version,
                settings: config.settings.clone(),
                origin_node: config.origin_node,
            }),
            partitions: self
                .partitions
                .iter()
                .map(|(key, info)| proto::Partition {
                    flow: key.flow.to_string(),
                    topic: key.tp.topic.clone(),
                    partition: key.tp.partition,
                    remote_topic: info.remote_topic.clone(),
                    epoch: info.epoch,
                    owner: info.owner.map(|owner| owner.node),
                    position: info.position.map(|p| proto::Position {
                        next_source_offset: p.next_source_offset,
                        last_target_offset: p.last_target_offset,
                    }),
                    releasing: info.releasing,
                    runs: info
                        .runs
                        .iter()
                        .map(|r| strait_proto::raft::v1::OffsetRun {
                            source_start: r.source_start,
                            target_start: r.target_start,
                            len: r.len,
                        })
                        .collect(),
                })
                .collect(),
            paused_flows: self.paused.iter().map(ToString::to_string).collect(),
            removed_nodes: self.removed.iter().copied().collect(),
            throttles: self
                .throttles
                .iter()
                .map(|(flow, t)| proto::Throttle {
                    flow: flow.to_string(),
                    records_per_second: t.records_per_second,
                    bytes_per_second: t.bytes_per_second,
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// The state a snapshot holds. Fails on bytes that are not a snapshot, and on a snapshot no
    /// state could have produced (an invalid flow, a node or partition listed twice).
    pub fn from_snapshot_bytes(data: &[u8]) -> Result<Self, StateError> {
        let snapshot = StateSnapshot::decode(data).map_err(|source| StateError::Decode {
            what: "state snapshot",
            source,
        })?;
        let invalid = |reason: String| StateError::InvalidSnapshot { reason };
        let mut state = ClusterState {
            applied_index: snapshot.applied_index,
            flow_config: snapshot.flow_config.map(|config| FlowConfig {
                version: config.version,
                settings: config.settings,
                origin_node: config.origin_node,
            }),
            ..ClusterState::default()
        };
        for node in snapshot.nodes {
            let info = NodeInfo {
                address: node.address,
                alive: node.alive,
                draining: node.draining,
                has_run: node.has_run,
                stopping: node.stopping,
            };
            if state.nodes.insert(node.node_id, info).is_some() {
                return Err(invalid(format!("node {} is listed twice", node.node_id)));
            }
        }
        for partition in snapshot.partitions {
            let flow = partition
                .flow
                .parse()
                .map_err(|e| invalid(format!("{e}")))?;
            let key = PartitionKey::new(flow, partition.topic, partition.partition);
            let info = PartitionInfo {
                remote_topic: partition.remote_topic,
                epoch: partition.epoch,
                owner: partition.owner.map(|node| Owner {
                    node,
                    epoch: partition.epoch,
                }),
                position: partition.position.map(|p| Position {
                    next_source_offset: p.next_source_offset,
                    last_target_offset: p.last_target_offset,
                }),
                releasing: partition.releasing,
                runs: OffsetRuns::from_runs(partition.runs.into_iter().map(|r| OffsetRun {
                    source_start: r.source_start,
                    target_start: r.target_start,
                    len: r.len,
                })),
            };
            match state.partitions.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(info);
                }
                Entry::Occupied(entry) => {
                    return Err(invalid(format!(
                        "partition {} is listed twice",
                        entry.key()
                    )));
                }
            }
        }
        for flow in snapshot.paused_flows {
            let flow = flow.parse().map_err(|e| invalid(format!("{e}")))?;
            state.paused.insert(flow);
        }
        for t in snapshot.throttles {
            let flow = t.flow.parse().map_err(|e| invalid(format!("{e}")))?;
            state.throttles.insert(
                flow,
                Throttle {
                    records_per_second: t.records_per_second,
                    bytes_per_second: t.bytes_per_second,
                },
            );
        }
        // Absent in snapshots written before removals were remembered: none.
        state.removed = snapshot.removed_nodes.into_iter().collect();
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{key, register, topics, Log};
    use crate::state::{plan_assignment, Command, PositionUpdate};

    fn key0_flow() -> crate::FlowId {
        key("A->B", "orders", 0).flow
    }

    #[test]
    fn a_busy_state_round_trips() {
        let mut log = Log::new();
        log.ok(register(1));
        log.ok(register(2));
        log.ok(Command::SetFlowConfig(FlowConfig {
            version: 2,
            settings: vec![0, 1, 2, 255],
            origin_node: 2,
        }));
        log.ok(topics("A->B", &[("orders", 3)]));
        log.ok(Command::Assign {
            moves: plan_assignment(&log.state),
        });
        let (key0, owner, _) = log.state.owned_by(1).remove(0);
        log.ok(Command::UpdatePositions {
            node: 1,
            positions: vec![PositionUpdate {
                key: key0,
                epoch: owner.epoch,
                position: Position {
                    next_source_offset: 7,
                    last_target_offset: -1,
                },
                runs: vec![
                    OffsetRun {
                        source_start: 0,
                        target_start: 0,
                        len: 3,
                    },
                    OffsetRun {
                        source_start: 4,
                        target_start: 3,
                        len: 3,
                    },
                ],
            }],
        });
        log.ok(Command::SetLiveness {
            node: 2,
            alive: false,
        });
        log.ok(Command::RemoveNode { node: 1 });
        assert!(log.state.was_removed(1));
        log.ok(register(3));
        log.ok(Command::SetDraining {
            node: 3,
            draining: true,
        });
        log.ok(Command::SetFlowPaused {
            flow: key0_flow(),
            paused: true,
        });
        log.ok(Command::SetFlowThrottle {
            flow: key0_flow(),
            throttle: Some(Throttle {
                records_per_second: 2_000,
                bytes_per_second: 1 << 20,
            }),
        });
        assert!(log.state.throttle(&key0_flow()).is_some());

        let bytes = log.state.to_snapshot_bytes();
        let restored = ClusterState::from_snapshot_bytes(&bytes).unwrap();
        assert_eq!(restored, log.state);
        assert_eq!(restored.applied_index(), log.state.applied_index());
        assert_eq!(
            ClusterState::from_snapshot_bytes(&ClusterState::new().to_snapshot_bytes()).unwrap(),
            ClusterState::new()
        );
    }

    #[test]
    fn impossible_snapshots_are_refused() {
        let mut log = Log::new();
        log.ok(topics("A->B", &[("orders", 1)]));
        let mut snapshot = StateSnapshot::decode(log.state.to_snapshot_bytes().as_slice()).unwrap();
        snapshot.partitions.push(snapshot.partitions[0].clone());
        let err = ClusterState::from_snapshot_bytes(&snapshot.encode_to_vec()).unwrap_err();
        assert!(matches!(err, StateError::InvalidSnapshot { .. }), "{err}");

        snapshot.partitions.truncate(1);
        snapshot.partitions[0].flow = "A".to_owned();
        let err = ClusterState::from_snapshot_bytes(&snapshot.encode_to_vec()).unwrap_err();
        assert!(matches!(err, StateError::InvalidSnapshot { .. }), "{err}");

        let err = ClusterState::from_snapshot_bytes(&[0xff, 0xff]).unwrap_err();
        assert!(matches!(err, StateError::Decode { .. }), "{err}");
        assert!(log.state.partition(&key("A->B", "orders", 0)).is_some());
    }
}

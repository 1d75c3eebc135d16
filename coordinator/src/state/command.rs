use crate::{OffsetRun, Position};
use prost::Message;
use strait_proto::raft::v1 as proto;

use super::{FlowConfig, PartitionKey, StateError, Throttle};
use crate::{DomainError, FlowId, NodeId};

/// A change to the cluster state: the data of one normal Raft entry, in domain types.
///
/// Only the leader proposes `RemoveNode`, `SetLiveness`, `SetTopics` and `Assign`; any node proposes
/// its own `RegisterNode` and `UpdatePositions`, and `SetFlowConfig` for a configuration it was given.
/// The wire form is `strait.raft.v1.Command` (see [`Command::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A node announces itself; a known node gets its address updated, a new one starts alive.
    /// `running`: the node itself announces it, its Raft running as a member (not a join or an
    /// operator on its behalf).
    RegisterNode {
        node: NodeId,
        address: String,
        running: bool,
    },
    /// The node leaves; its partitions become unowned.
    RemoveNode { node: NodeId },
    /// The leader declares a node dead (no heartbeat within the timeout) or alive again.
    SetLiveness { node: NodeId, alive: bool },
    /// A new configuration; applied only if its version is greater than the current one.
    SetFlowConfig(FlowConfig),
    /// The full set of `flow`'s selected source topics.
    SetTopics {
        flow: FlowId,
        topics: Vec<TopicInfo>,
    },
    /// The leader's assignment decision.
    Assign { moves: Vec<PartitionMove> },
    /// An owner's replicated positions.
    UpdatePositions {
        node: NodeId,
        positions: Vec<PositionUpdate>,
    },
    /// `node`, the previous owner of `key`, has stopped writing it, at `position`.
    Release {
        node: NodeId,
        key: PartitionKey,
        position: Option<Position>,
        /// The offset runs it acknowledged since its last position update.
        runs: Vec<OffsetRun>,
    },
    /// An operator drains `node` (it gets no partitions) or undoes the drain.
    SetDraining { node: NodeId, draining: bool },
    /// `node` stops (a planned stop, proposed by the node itself): it is given no partitions until
    /// it registers as running again (its restart), or `stopping` is false.
    SetStopping { node: NodeId, stopping: bool },
    /// An operator pauses `flow` (its owners stop reading, keeping partitions and positions) or
    /// resumes it.
    SetFlowPaused { flow: FlowId, paused: bool },
    /// An operator limits `flow`'s rate for the whole cluster, or (`None`) gives it back to the
    /// flow's configured limit.
    SetFlowThrottle {
        flow: FlowId,
        throttle: Option<Throttle>,
    },
}

/// One source topic of a flow, as discovery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub topic: String,
    /// The source's partition count: partitions `0..partitions` exist.
    pub partitions: i32,
    /// The topic's name on the target.
    pub remote_topic: String,
}

/// Gives `key` to `node`, if the partition is still at `expected_epoch`; its epoch becomes
/// `expected_epoch + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMove {
    pub key: PartitionKey,
    pub node: NodeId,
    pub expected_epoch: u64,
}

/// An owner's position of `key`, reported under the epoch it owns the partition with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionUpdate {
    pub key: PartitionKey,
    pub epoch: u64,
    pub position: Position,
    /// The offset runs acknowledged since the previous update, in order.
    pub runs: Vec<OffsetRun>,
}

fn runs_to_proto(runs: &[OffsetRun]) -> Vec<proto::OffsetRun> {
    runs.iter()
        .map(|r| proto::OffsetRun {
            source_start: r.source_start,
            target_start: r.target_start,
            len: r.len,
        })
        .collect()
}

pub(super) fn runs_from_proto(runs: Vec<proto::OffsetRun>) -> Vec<OffsetRun> {
    runs.into_iter()
        .map(|r| OffsetRun {
            source_start: r.source_start,
            target_start: r.target_start,
            len: r.len,
        })
        .collect()
}

impl Command {
    /// The entry data to propose: `strait.raft.v1.Command` with `proposal_id`, which the proposer
    /// uses to find its waiting caller when the entry is applied.
    pub fn encode(&self, proposal_id: u64) -> Vec<u8> {
        proto::Command {
            proposal_id,
            kind: Some(self.to_proto()),
        }
        .encode_to_vec()
    }

    /// The proposal id and the command of an entry's data (which must not be empty: raft's empty
    /// entries carry no command).
    pub fn decode(data: &[u8]) -> Result<(u64, Command), StateError> {
        let message = proto::Command::decode(data).map_err(|source| StateError::Decode {
            what: "command",
            source,
        })?;
        let proposal_id = message.proposal_id;
        let kind = message
            .kind
            .ok_or(StateError::UnknownCommand { proposal_id })?;
        let command = Self::from_proto(kind).map_err(|source| StateError::InvalidCommand {
            proposal_id,
            source,
        })?;
        Ok((proposal_id, command))
    }

    fn to_proto(&self) -> proto::command::Kind {
        use proto::command::Kind;
        match self {
            Self::RegisterNode {
                node,
                address,
                running,
            } => Kind::RegisterNode(proto::RegisterNode {
                node_id: *node,
                address: address.clone(),
                running: *running,
            }),
            Self::RemoveNode { node } => Kind::RemoveNode(proto::RemoveNode { node_id: *node }),
            Self::SetLiveness { node, alive } => Kind::SetLiveness(proto::SetLiveness {
                node_id: *node,
                alive: *alive,
            }),
            Self::SetFlowConfig(config) => Kind::SetFlowConfig(proto::SetFlowConfig {
                version: config.version,
                settings: config.settings.clone(),
                origin_node: config.origin_node,
            }),
            Self::SetTopics { flow, topics } => Kind::SetTopics(proto::SetTopics {
                flow: flow.to_string(),
                topics: topics
                    .iter()
                    .map(|t| proto::TopicInfo {
                        topic: t.topic.clone(),
                        partitions: t.partitions,
                        remote_topic: t.remote_topic.clone(),
                    })
                    .collect(),
            }),
            Self::Assign { moves } => Kind::Assign(proto::Assign {
                moves: moves
                    .iter()
                    .map(|m| proto::PartitionMove {
                        flow: m.key.flow.to_string(),
                        topic: m.key.tp.topic.clone(),
                        partition: m.key.tp.partition,
                        node_id: m.node,
                        expected_epoch: m.expected_epoch,
                    })
                    .collect(),
            }),
            Self::UpdatePositions { node, positions } => {
                Kind::UpdatePositions(proto::UpdatePositions {
                    node_id: *node,
                    positions: positions
                        .iter()
                        .map(|u| proto::PositionUpdate {
                            flow: u.key.flow.to_string(),
                            topic: u.key.tp.topic.clone(),
                            partition: u.key.tp.partition,
                            epoch: u.epoch,
                            next_source_offset: u.position.next_source_offset,
                            last_target_offset: u.position.last_target_offset,
                            runs: runs_to_proto(&u.runs),
                        })
                        .collect(),
                })
            }
            Self::Release {
                node,
                key,
                position,
                runs,
            } => Kind::Release(proto::Release {
                node_id: *node,
                flow: key.flow.to_string(),
                topic: key.tp.topic.clone(),
                partition: key.tp.partition,
                next_source_offset: position.map(|p| p.next_source_offset),
                last_target_offset: position.map(|p| p.last_target_offset),
                runs: runs_to_proto(runs),
            }),
            Self::SetDraining { node, draining } => Kind::SetDraining(proto::SetDraining {
                node_id: *node,
                draining: *draining,
            }),
            Self::SetFlowPaused { flow, paused } => Kind::SetFlowPaused(proto::SetFlowPaused {
                flow: flow.to_string(),
                paused: *paused,
            }),
            Self::SetStopping { node, stopping } => Kind::SetStopping(proto::SetStopping {
                node_id: *node,
                stopping: *stopping,
            }),
            Self::SetFlowThrottle { flow, throttle } => {
                Kind::SetFlowThrottle(proto::SetFlowThrottle {
                    flow: flow.to_string(),
                    records_per_second: throttle.map_or(0, |t| t.records_per_second),
                    bytes_per_second: throttle.map_or(0, |t| t.bytes_per_second),
                    clear: throttle.is_none(),
                })
            }
        }
    }

    /// Only converts; whether the values make sense is for `apply` to judge, so that a command
    /// built in Rust and one decoded from the log are checked alike.
    fn from_proto(kind: proto::command::Kind) -> Result<Self, DomainError> {
        use proto::command::Kind;
        Ok(match kind {
            Kind::RegisterNode(m) => Self::RegisterNode {
                node: m.node_id,
                address: m.address,
                running: m.running,
            },
            Kind::RemoveNode(m) => Self::RemoveNode { node: m.node_id },
            Kind::SetLiveness(m) => Self::SetLiveness {
                node: m.node_id,
                alive: m.alive,
            },
            Kind::SetFlowConfig(m) => Self::SetFlowConfig(FlowConfig {
                version: m.version,
                settings: m.settings,
                origin_node: m.origin_node,
            }),
            Kind::SetTopics(m) => Self::SetTopics {
                flow: m.flow.parse()?,
                topics: m
                    .topics
                    .into_iter()
                    .map(|t| TopicInfo {
                        topic: t.topic,
                        partitions: t.partitions,
                        remote_topic: t.remote_topic,
                    })
                    .collect(),
            },
            Kind::Assign(m) => Self::Assign {
                moves: m
                    .moves
                    .into_iter()
                    .map(|m| {
                        Ok(PartitionMove {
                            key: PartitionKey::new(m.flow.parse()?, m.topic, m.partition),
                            node: m.node_id,
                            expected_epoch: m.expected_epoch,
                        })
                    })
                    .collect::<Result<_, DomainError>>()?,
            },
            Kind::UpdatePositions(m) => Self::UpdatePositions {
                node: m.node_id,
                positions: m
                    .positions
                    .into_iter()
                    .map(|u| {
                        Ok(PositionUpdate {
                            key: PartitionKey::new(u.flow.parse()?, u.topic, u.partition),
                            epoch: u.epoch,
                            position: Position {
                                next_source_offset: u.next_source_offset,
                                last_target_offset: u.last_target_offset,
                            },
                            runs: runs_from_proto(u.runs),
                        })
                    })
                    .collect::<Result<_, DomainError>>()?,
            },
            Kind::Release(m) => Self::Release {
                node: m.node_id,
                key: PartitionKey::new(m.flow.parse()?, m.topic, m.partition),
                position: m
                    .next_source_offset
                    .zip(m.last_target_offset)
                    .map(|(next, last)| Position {
                        next_source_offset: next,
                        last_target_offset: last,
                    }),
                runs: runs_from_proto(m.runs),
            },
            Kind::SetDraining(m) => Self::SetDraining {
                node: m.node_id,
                draining: m.draining,
            },
            Kind::SetFlowPaused(m) => Self::SetFlowPaused {
                flow: m.flow.parse()?,
                paused: m.paused,
            },
            Kind::SetStopping(m) => Self::SetStopping {
                node: m.node_id,
                stopping: m.stopping,
            },
            Kind::SetFlowThrottle(m) => Self::SetFlowThrottle {
                flow: m.flow.parse()?,
                throttle: (!m.clear).then_some(Throttle {
                    records_per_second: m.records_per_second,
                    bytes_per_second: m.bytes_per_second,
                }),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> FlowId {
        "A->B".parse().unwrap()
    }

    fn every_kind() -> Vec<Command> {
        vec![
            Command::RegisterNode {
                node: 1,
                address: "10.0.0.1:7070".to_owned(),
                running: true,
            },
            Command::RemoveNode { node: 2 },
            Command::SetLiveness {
                node: 3,
                alive: false,
            },
            Command::SetFlowConfig(FlowConfig {
                version: 4,
                settings: b"flows = []".to_vec(),
                origin_node: 1,
            }),
            Command::SetTopics {
                flow: flow(),
                topics: vec![TopicInfo {
                    topic: "orders".to_owned(),
                    partitions: 3,
                    remote_topic: "A.orders".to_owned(),
                }],
            },
            Command::Assign {
                moves: vec![PartitionMove {
                    key: PartitionKey::new(flow(), "orders", 2),
                    node: 1,
                    expected_epoch: 7,
                }],
            },
            Command::UpdatePositions {
                node: 1,
                positions: vec![PositionUpdate {
                    key: PartitionKey::new(flow(), "orders", 2),
                    epoch: 8,
                    position: Position {
                        next_source_offset: 100,
                        last_target_offset: 41,
                    },
                    runs: vec![OffsetRun {
                        source_start: 0,
                        target_start: 3,
                        len: 100,
                    }],
                }],
            },
            Command::Release {
                node: 2,
                key: PartitionKey::new(flow(), "orders", 1),
                position: None,
                runs: vec![OffsetRun {
                    source_start: 5,
                    target_start: 0,
                    len: 1,
                }],
            },
            Command::SetDraining {
                node: 2,
                draining: true,
            },
            Command::SetFlowPaused {
                flow: flow(),
                paused: true,
            },
            Command::SetStopping {
                node: 3,
                stopping: true,
            },
            Command::SetFlowThrottle {
                flow: flow(),
                throttle: Some(Throttle {
                    records_per_second: 2_000,
                    bytes_per_second: 0,
                }),
            },
            Command::SetFlowThrottle {
                flow: flow(),
                throttle: None,
            },
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for (proposal_id, command) in every_kind().into_iter().enumerate() {
            let proposal_id = proposal_id as u64 + 10;
            let data = command.encode(proposal_id);
            assert_eq!(
                Command::decode(&data).unwrap(),
                (proposal_id, command.clone())
            );
        }
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let err = Command::decode(&[0xff, 0xff, 0xff]).unwrap_err();
        assert!(matches!(err, StateError::Decode { .. }), "{err:?}");
    }

    #[test]
    fn missing_kind_is_an_unknown_command() {
        let data = proto::Command {
            proposal_id: 5,
            kind: None,
        }
        .encode_to_vec();
        let err = Command::decode(&data).unwrap_err();
        assert!(
            matches!(err, StateError::UnknownCommand { proposal_id: 5 }),
            "{err:?}"
        );
    }

    #[test]
    fn bad_flow_is_an_invalid_command() {
        let data = proto::Command {
            proposal_id: 6,
            kind: Some(proto::command::Kind::SetTopics(proto::SetTopics {
                flow: "A->A".to_owned(),
                topics: vec![],
            })),
        }
        .encode_to_vec();
        let err = Command::decode(&data).unwrap_err();
        assert!(
            matches!(err, StateError::InvalidCommand { proposal_id: 6, .. }),
            "{err:?}"
        );
    }
}

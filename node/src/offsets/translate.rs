//! Offset translation for the control API (`TranslateOffsets`, `strait translate --group G`) and
//! the checkpoint emitter: source offsets of a flow's partitions → offsets on the remote topic.
//!
//! Answers come from the offset runs in the cluster state, which every node holds: any node can
//! answer for any partition, and the answer survives the loss of the partition's owner. The runs
//! in the state lag the data path by at most one position interval (1 s by default); an offset
//! beyond them is answered conservatively ([`TranslationMethod::Ahead`]: nothing skipped).

use strait_coordinator::state::{ClusterState, PartitionKey};
use strait_coordinator::Translation;
use strait_coordinator::{FlowId, TopicPartition};

/// How a translated offset was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslationMethod {
    /// The record at the source offset was replicated to the target offset.
    Exact,
    /// No record at the source offset was replicated (a compacted gap, a transaction marker);
    /// the target offset is that of the next record that was.
    NextRecord,
    /// The source offset is just past everything replicated: the target offset is the end of
    /// what was written.
    CaughtUp,
    /// The source offset is beyond what the cluster state knows was replicated: the end of what
    /// was written (a consumer there may read some records again; it skips none).
    Ahead,
    /// Below every offset run the cluster keeps (trimmed, or never replicated): no answer.
    Uncovered,
    /// The flow does not replicate this partition.
    UnknownPartition,
}

/// One translated offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatedOffset {
    /// The source partition.
    pub source: TopicPartition,
    /// The committed (next-to-read) source offset that was translated.
    pub source_offset: i64,
    /// The remote topic (same partition number), `None` for an unknown partition.
    pub remote_topic: Option<String>,
    /// Where a consumer resumes on the target, `None` when there is no answer.
    pub target_offset: Option<i64>,
    pub method: TranslationMethod,
}

/// Translates committed source offsets of `flow`'s partitions (Kafka's next-offset-to-read
/// convention, as a consumer group commits them) to the offsets a consumer of the remote topic
/// resumes from: consuming from the returned offset yields exactly the next record the source
/// consumer would have read, none skipped and none repeated (up to [`TranslationMethod::Ahead`]).
///
/// Pure: reads only `state` (e.g. `raft.state()` on any node). Results are in `offsets` order.
pub fn translate_offsets(
    state: &ClusterState,
    flow: &FlowId,
    offsets: &[(TopicPartition, i64)],
) -> Vec<TranslatedOffset> {
    offsets
        .iter()
        .map(|(tp, offset)| {
            let key = PartitionKey {
                flow: flow.clone(),
                tp: tp.clone(),
            };
            let Some(info) = state.partition(&key) else {
                return TranslatedOffset {
                    source: tp.clone(),
                    source_offset: *offset,
                    remote_topic: None,
                    target_offset: None,
                    method: TranslationMethod::UnknownPartition,
                };
            };
            let translation = info.runs.translate(*offset);
            TranslatedOffset {
                source: tp.clone(),
                source_offset: *offset,
                remote_topic: Some(info.remote_topic.clone()),
                target_offset: translation.target_offset(),
                method: match translation {
                    Translation::Exact(_) => TranslationMethod::Exact,
                    Translation::NextRecord(_) => TranslationMethod::NextRecord,
                    Translation::CaughtUp(_) => TranslationMethod::CaughtUp,
                    Translation::Ahead(_) => TranslationMethod::Ahead,
                    Translation::Uncovered => TranslationMethod::Uncovered,
                },
            }
        })
        .collect()
}

/// The partitions `flow` replicates, per the cluster state, sorted: what a group's committed
/// offsets are fetched for.
pub fn flow_partitions(state: &ClusterState, flow: &FlowId) -> Vec<TopicPartition> {
    state
        .partitions()
        .filter(|(key, _)| key.flow == *flow)
        .map(|(key, _)| key.tp.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use strait_coordinator::state::{Command, PartitionMove, PositionUpdate, TopicInfo};
    use strait_coordinator::{OffsetRun, Position};

    use super::*;

    fn state_with_runs() -> (ClusterState, FlowId) {
        let flow: FlowId = "A->B".parse().unwrap();
        let mut state = ClusterState::new();
        let key = PartitionKey::new(flow.clone(), "orders", 0);
        let commands = [
            Command::RegisterNode {
                node: 1,
                address: "n1:7070".into(),
                running: true,
            },
            Command::SetTopics {
                flow: flow.clone(),
                topics: vec![TopicInfo {
                    topic: "orders".into(),
                    partitions: 1,
                    remote_topic: "A.orders".into(),
                }],
            },
            Command::Assign {
                moves: vec![PartitionMove {
                    key: key.clone(),
                    node: 1,
                    expected_epoch: 0,
                }],
            },
            Command::UpdatePositions {
                node: 1,
                positions: vec![PositionUpdate {
                    key,
                    epoch: 1,
                    position: Position {
                        next_source_offset: 30,
                        last_target_offset: 24,
                    },
                    // 5 records were on the remote topic before: 0..10 → 5..15, 20..30 → 15..25
                    runs: vec![
                        OffsetRun {
                            source_start: 0,
                            target_start: 5,
                            len: 10,
                        },
                        OffsetRun {
                            source_start: 20,
                            target_start: 15,
                            len: 10,
                        },
                    ],
                }],
            },
        ];
        for (i, command) in commands.iter().enumerate() {
            state.apply(i as u64 + 1, command);
        }
        (state, flow)
    }

    #[test]
    fn translates_from_the_replicated_runs() {
        let (state, flow) = state_with_runs();
        let tp = |p| TopicPartition::new("orders", p);
        let answers = translate_offsets(
            &state,
            &flow,
            &[
                (tp(0), 3),
                (tp(0), 12),
                (tp(0), 30),
                (tp(0), 40),
                (tp(1), 0),
            ],
        );
        let got: Vec<(Option<i64>, TranslationMethod)> = answers
            .iter()
            .map(|a| (a.target_offset, a.method))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(8), TranslationMethod::Exact),
                (Some(15), TranslationMethod::NextRecord),
                (Some(25), TranslationMethod::CaughtUp),
                (Some(25), TranslationMethod::Ahead),
                (None, TranslationMethod::UnknownPartition),
            ]
        );
        assert_eq!(answers[0].remote_topic.as_deref(), Some("A.orders"));
        assert_eq!(flow_partitions(&state, &flow), vec![tp(0)]);
    }
}

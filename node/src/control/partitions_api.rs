//! `strait.v1.Partitions`: the assignment, manual moves, and lag.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use strait_coordinator::state::{Command, PartitionKey, PartitionMove};
use strait_coordinator::{FlowId, NodeId, TopicPartition};
use strait_proto::v1::partitions_server::Partitions;
use strait_proto::v1::{
    GetLagRequest, GetLagResponse, ListAssignmentsRequest, ListAssignmentsResponse,
    MovePartitionRequest, MovePartitionResponse, PartitionLag, PartitionStatus,
};
use tonic::{Request, Response, Status};

use super::request::{self, applied, invalid, unavailable};
use super::status_api::assignment;
use super::Control;

const PAGE_SIZE_DEFAULT: usize = 100;
const PAGE_SIZE_MAX: usize = 1000;

pub struct PartitionsApi {
    pub control: Control,
}

/// A page token: the last key of the previous page, `FLOW/PARTITION/TOPIC` (neither a flow nor a
/// topic name can hold `/`).
fn page_token(key: &PartitionKey) -> String {
    format!("{}/{}/{}", key.flow, key.tp.partition, key.tp.topic)
}

fn parse_page_token(token: &str) -> Result<PartitionKey, Status> {
    let bad = || {
        invalid(
            "page_token",
            "not a token from a previous ListAssignments response",
        )
    };
    let mut parts = token.splitn(3, '/');
    let (Some(flow), Some(partition), Some(topic)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let flow: FlowId = flow.parse().map_err(|_| bad())?;
    let partition: i32 = partition.parse().map_err(|_| bad())?;
    Ok(PartitionKey::new(flow, topic, partition))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A partition's lag from its owner's report.
fn lag(base: PartitionLag, reported: &PartitionStatus, now_ms: i64) -> PartitionLag {
    let end = reported.source_end_offset;
    let next = reported.next_source_offset;
    let offset_lag = reported.offset_lag;
    let time_lag_ms = if offset_lag == 0 {
        0
    } else if reported.last_record_timestamp_ms >= 0 && offset_lag > 0 {
        (now_ms - reported.last_record_timestamp_ms).max(0)
    } else {
        -1
    };
    PartitionLag {
        source_end_offset: end,
        next_source_offset: next,
        offset_lag,
        time_lag_ms,
        state: if reported.stalled_ms > 0 {
            "stalled".to_owned()
        } else {
            reported.state.clone()
        },
        records_skipped: reported.records_skipped,
        skipped_from: reported.skipped_from,
        skipped_to: reported.skipped_to,
        ..base
    }
}

#[tonic::async_trait]
impl Partitions for PartitionsApi {
    async fn list_assignments(
        &self,
        request: Request<ListAssignmentsRequest>,
    ) -> Result<Response<ListAssignmentsResponse>, Status> {
        let r = request.into_inner();
        let flow = request::flow_filter("flow", &r.flow)?;
        let topic = if r.topic.is_empty() {
            None
        } else {
            Some(request::topic("topic", &r.topic)?)
        };
        let page_size = match r.page_size as usize {
            0 => PAGE_SIZE_DEFAULT,
            n if n > PAGE_SIZE_MAX => {
                return Err(invalid(
                    "page_size",
                    format!("{n} is more than {PAGE_SIZE_MAX}"),
                ))
            }
            n => n,
        };
        let after = if r.page_token.is_empty() {
            None
        } else {
            Some(parse_page_token(&r.page_token)?)
        };
        // Unset matches every node; a set 0 names no node (ids start at 1), never "every node".
        let node = match r.node_id {
            None => None,
            Some(node) => {
                let node = request::node_id("node_id", node)?;
                self.control.known_node("node_id", node)?;
                Some(node)
            }
        };
        let state = self.control.raft.state();
        let mut matching = state
            .partitions()
            .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after))
            .filter(|(key, _)| flow.as_ref().is_none_or(|f| key.flow == *f))
            .filter(|(key, _)| topic.as_ref().is_none_or(|t| key.tp.topic == *t))
            .filter(|(_, info)| node.is_none_or(|n| info.owner.is_some_and(|o| o.node == n)));
        let page: Vec<_> = matching.by_ref().take(page_size).collect();
        let next_page_token = match (page.last(), matching.next()) {
            (Some((last, _)), Some(_)) => page_token(last),
            _ => String::new(),
        };
        Ok(Response::new(ListAssignmentsResponse {
            assignments: page.iter().map(|(k, i)| assignment(k, i)).collect(),
            next_page_token,
        }))
    }

    async fn move_partition(
        &self,
        request: Request<MovePartitionRequest>,
    ) -> Result<Response<MovePartitionResponse>, Status> {
        let r = request.into_inner();
        let flow = request::flow("flow", &r.flow)?;
        let topic = request::topic("topic", &r.topic)?;
        let partition = request::partition("partition", r.partition)?;
        let node = request::node_id("node_id", r.node_id)?;
        let state = self.control.known_node("node_id", node)?;
        self.control.flow("flow", &flow)?;
        let key = PartitionKey::new(flow, topic, partition);
        let Some(info) = state.partition(&key) else {
            return Err(Status::not_found(format!(
                "topic/partition: the cluster knows no partition {} of flow {}",
                key.tp, key.flow
            )));
        };
        let target = state.node(node).expect("checked above");
        if !target.assignable() {
            return Err(Status::failed_precondition(format!(
                "node_id: node {node} is {}",
                if !target.alive {
                    "not alive"
                } else if target.draining {
                    "draining"
                } else {
                    "stopping"
                }
            )));
        }
        if info.owner.is_none_or(|o| o.node != node) {
            let outcome = self
                .control
                .raft
                .propose(Command::Assign {
                    moves: vec![PartitionMove {
                        key: key.clone(),
                        node,
                        expected_epoch: info.epoch,
                    }],
                })
                .await
                .map_err(unavailable)?;
            applied(outcome)?;
        }
        let state = self.control.raft.state();
        let info = state
            .partition(&key)
            .ok_or_else(|| Status::aborted("the partition disappeared meanwhile"))?;
        Ok(Response::new(MovePartitionResponse {
            assignment: Some(assignment(&key, info)),
        }))
    }

    async fn get_lag(
        &self,
        request: Request<GetLagRequest>,
    ) -> Result<Response<GetLagResponse>, Status> {
        let r = request.into_inner();
        let flow = request::flow_filter("flow", &r.flow)?;
        if let Some(flow) = &flow {
            self.control.flow("flow", flow)?;
        }
        let topic = if r.topic.is_empty() {
            None
        } else {
            Some(request::topic("topic", &r.topic)?)
        };
        let state = self.control.raft.state();
        let selected: Vec<_> = state
            .partitions()
            .filter(|(key, _)| flow.as_ref().is_none_or(|f| key.flow == *f))
            .filter(|(key, _)| topic.as_ref().is_none_or(|t| key.tp.topic == *t))
            .collect();
        if let (Some(topic), true) = (&topic, selected.is_empty()) {
            return Err(Status::not_found(format!(
                "topic: no replicated source topic {topic:?}"
            )));
        }
        // Ask each owner once, all at the same time.
        let owners: BTreeSet<NodeId> = selected
            .iter()
            .filter_map(|(_, info)| info.owner.map(|o| o.node))
            .collect();
        let asks = owners.iter().filter_map(|node| {
            let address = state.node(*node)?.address.clone();
            let control = self.control.clone();
            let node = *node;
            Some(async move { (node, control.node_status(node, &address).await) })
        });
        let mut reports: BTreeMap<(NodeId, FlowId, TopicPartition), PartitionStatus> =
            BTreeMap::new();
        for (node, answer) in futures::future::join_all(asks).await {
            match answer {
                Ok(status) => {
                    for p in status.partitions {
                        let Ok(flow) = p.flow.parse::<FlowId>() else {
                            continue;
                        };
                        let tp = TopicPartition::new(p.topic.clone(), p.partition);
                        reports.insert((node, flow, tp), p);
                    }
                }
                Err(error) => {
                    tracing::debug!(node, %error, "no status for lag");
                }
            }
        }
        let now = now_ms();
        let paused: BTreeSet<&FlowId> = state.paused_flows().collect();
        let mut partitions = Vec::with_capacity(selected.len());
        let mut total = 0;
        let mut unreported = 0;
        for (key, info) in selected {
            let owner = info.owner.map_or(0, |o| o.node);
            let base = PartitionLag {
                flow: key.flow.to_string(),
                topic: key.tp.topic.clone(),
                partition: key.tp.partition,
                remote_topic: info.remote_topic.clone(),
                owner,
                source_end_offset: -1,
                next_source_offset: info.position.map_or(-1, |p| p.next_source_offset),
                offset_lag: -1,
                time_lag_ms: -1,
                state: String::new(),
                records_skipped: 0,
                skipped_from: -1,
                skipped_to: -1,
            };
            let report = reports.get(&(owner, key.flow.clone(), key.tp.clone()));
            let entry = match report {
                Some(report) => lag(base, report, now),
                None => {
                    unreported += 1;
                    let state = if owner == 0 {
                        "unowned"
                    } else if paused.contains(&key.flow) {
                        "paused"
                    } else {
                        "unreported"
                    };
                    PartitionLag {
                        state: state.to_owned(),
                        ..base
                    }
                }
            };
            if entry.offset_lag > 0 {
                total += entry.offset_lag;
            }
            partitions.push(entry);
        }
        Ok(Response::new(GetLagResponse {
            partitions,
            total_offset_lag: total,
            unreported,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let key = PartitionKey::new("A->B".parse().unwrap(), "orders.v2", 17);
        assert_eq!(parse_page_token(&page_token(&key)).unwrap(), key);
        for bad in ["", "x", "A->B/x/t", "A/1/t"] {
            let e = parse_page_token(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
            assert!(e.message().starts_with("page_token:"));
        }
    }

    #[test]
    fn lag_from_a_report() {
        let report = PartitionStatus {
            source_end_offset: 150,
            offset_lag: 50,
            next_source_offset: 100,
            last_record_timestamp_ms: 1_000,
            state: "running".to_owned(),
            ..Default::default()
        };
        let l = lag(PartitionLag::default(), &report, 4_000);
        assert_eq!((l.offset_lag, l.time_lag_ms), (50, 3_000));
        let caught_up = PartitionStatus {
            next_source_offset: 150,
            offset_lag: 0,
            ..report.clone()
        };
        let l = lag(PartitionLag::default(), &caught_up, 4_000);
        assert_eq!((l.offset_lag, l.time_lag_ms), (0, 0));
        let unknown = PartitionStatus {
            source_end_offset: -1,
            offset_lag: -1,
            ..report
        };
        assert_eq!(lag(PartitionLag::default(), &unknown, 4_000).offset_lag, -1);
    }
}

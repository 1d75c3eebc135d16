//! `strait.v1.Status`: this node's view of itself and of the cluster, and a stream of changes.

use std::pin::Pin;

use strait_coordinator::raft::RaftRole;
use strait_proto::v1::status_server::Status;
use strait_proto::v1::{
    Assignment, GetNodeStatusRequest, GetNodeStatusResponse, NodeInfo, PartitionStatus,
    StatusEvent, UnreachablePeer, WatchStatusRequest,
};
use tokio_stream::Stream;
use tonic::{Request, Response};

use super::Control;

pub struct StatusApi {
    pub control: Control,
}

pub fn role_name(role: RaftRole) -> &'static str {
    match role {
        RaftRole::Leader => "leader",
        RaftRole::Candidate => "candidate",
        RaftRole::Follower => "follower",
    }
}

/// The `Assignment` of one partition of the replicated state.
pub fn assignment(
    key: &strait_coordinator::state::PartitionKey,
    info: &strait_coordinator::state::PartitionInfo,
) -> Assignment {
    Assignment {
        flow: key.flow.to_string(),
        topic: key.tp.topic.clone(),
        partition: key.tp.partition,
        remote_topic: info.remote_topic.clone(),
        owner: info.owner.map_or(0, |o| o.node),
        epoch: info.epoch,
        next_source_offset: info.position.map_or(-1, |p| p.next_source_offset),
        releasing: info.releasing.unwrap_or(0),
    }
}

/// This node's status as the proto carries it.
pub fn node_status(control: &Control) -> GetNodeStatusResponse {
    let raft = control.raft.status();
    let state = control.raft.state();
    let nodes = state
        .nodes()
        .map(|(id, info)| NodeInfo {
            node_id: *id,
            address: info.address.clone(),
            alive: info.alive,
            draining: info.draining,
            heard: info.has_run,
        })
        .collect();
    let assignments = state
        .partitions()
        .map(|(key, info)| assignment(key, info))
        .collect();
    let (config_version, config_note) = control.status.config();
    let partitions = control
        .status
        .partitions()
        .into_iter()
        .map(|((flow, tp), p)| PartitionStatus {
            offset_lag: p.offset_lag().map_or(-1, |l| l as i64),
            source_end_offset: p.source_end_offset.unwrap_or(-1),
            last_record_timestamp_ms: p.last_record_timestamp_ms.unwrap_or(-1),
            flow: flow.to_string(),
            topic: tp.topic,
            partition: tp.partition,
            remote_topic: p.remote_topic.clone(),
            next_source_offset: p.next_source_offset.unwrap_or(-1),
            state: p.state.to_string(),
            last_error: p.error().unwrap_or_default(),
            stalled_ms: p.stalled.map_or(0, |s| s.waited.as_millis() as u64),
            records_replicated: p.records,
            restarts: p.restarts,
            records_skipped: p.records_skipped,
            skipped_from: p.last_skip.map_or(-1, |(from, _)| from),
            skipped_to: p.last_skip.map_or(-1, |(_, to)| to),
        })
        .collect();
    GetNodeStatusResponse {
        node_id: raft.id,
        raft_role: role_name(raft.role).to_owned(),
        leader_id: raft.leader,
        term: raft.term,
        commit_index: raft.commit,
        applied_index: raft.applied,
        nodes,
        assignments,
        partitions,
        config_version,
        config_note: config_note.unwrap_or_default(),
        unreachable_peers: control
            .status
            .unreachable_peers()
            .into_iter()
            .map(|(node_id, peer)| UnreachablePeer {
                node_id,
                address: peer.address,
                since_unix_ms: peer.since_unix_ms,
                failures: peer.failures,
                last_error: peer.last_error,
            })
            .collect(),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<StatusEvent, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Status for StatusApi {
    async fn get_node_status(
        &self,
        _request: Request<GetNodeStatusRequest>,
    ) -> Result<Response<GetNodeStatusResponse>, tonic::Status> {
        Ok(Response::new(node_status(&self.control)))
    }

    type WatchStatusStream = EventStream;

    async fn watch_status(
        &self,
        _request: Request<WatchStatusRequest>,
    ) -> Result<Response<Self::WatchStatusStream>, tonic::Status> {
        Ok(Response::new(Box::pin(super::watch::events(
            self.control.clone(),
        ))))
    }
}

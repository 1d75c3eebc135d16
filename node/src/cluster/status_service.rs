//! `strait.v1.Status`: the node's and the cluster's status over gRPC (proto types stay here, at the
//! edge).

use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_proto::v1::status_server::Status;
use strait_proto::v1::{
    Assignment, GetNodeStatusRequest, GetNodeStatusResponse, NodeInfo, PartitionStatus,
};
use tonic::{Request, Response};

use crate::replication::status::NodeStatus;

pub struct StatusService {
    pub raft: RaftHandle,
    pub status: NodeStatus,
}

#[tonic::async_trait]
impl Status for StatusService {
    async fn get_node_status(
        &self,
        _request: Request<GetNodeStatusRequest>,
    ) -> Result<Response<GetNodeStatusResponse>, tonic::Status> {
        let raft = self.raft.status();
        let state = self.raft.state();
        let nodes = state
            .nodes()
            .map(|(id, info)| NodeInfo {
                node_id: *id,
                address: info.address.clone(),
                alive: info.alive,
            })
            .collect();
        let assignments = state
            .partitions()
            .map(|(key, info)| Assignment {
                flow: key.flow.to_string(),
                topic: key.tp.topic.clone(),
                partition: key.tp.partition,
                remote_topic: info.remote_topic.clone(),
                owner: info.owner.map_or(0, |o| o.node),
                epoch: info.epoch,
                next_source_offset: info.position.map_or(-1, |p| p.next_source_offset),
            })
            .collect();
        let (config_version, config_note) = self.status.config();
        let partitions = self
            .status
            .partitions()
            .into_iter()
            .map(|((flow, tp), p)| PartitionStatus {
                flow: flow.to_string(),
                topic: tp.topic,
                partition: tp.partition,
                remote_topic: p.remote_topic,
                next_source_offset: p.next_source_offset.unwrap_or(-1),
                state: p.state.to_string(),
                last_error: p.last_error.unwrap_or_default(),
                records_replicated: p.records,
                restarts: p.restarts,
            })
            .collect();
        Ok(Response::new(GetNodeStatusResponse {
            node_id: raft.id,
            raft_role: match raft.role {
                RaftRole::Leader => "leader",
                RaftRole::Candidate => "candidate",
                RaftRole::Follower => "follower",
            }
            .to_owned(),
            leader_id: raft.leader,
            term: raft.term,
            commit_index: raft.commit,
            applied_index: raft.applied,
            nodes,
            assignments,
            partitions,
            config_version,
            config_note: config_note.unwrap_or_default(),
        }))
    }
}

//! `strait.v1.Cluster`: members, their liveness and drains.

use std::time::Duration;

use strait_coordinator::state::{ClusterState, Command};
use strait_coordinator::NodeId;
use strait_proto::v1::cluster_server::Cluster;
use strait_proto::v1::{
    AddNodeRequest, AddNodeResponse, ClusterNode, DrainNodeRequest, DrainNodeResponse,
    GetClusterRequest, GetClusterResponse, RemoveNodeRequest, RemoveNodeResponse,
    UndrainNodeRequest, UndrainNodeResponse,
};
use tonic::{Request, Response, Status};

use super::request::{self, applied, invalid, unavailable};
use super::Control;
use crate::cluster::members;

/// How long `DrainNode` waits by default, and at most.
const DRAIN_WAIT_DEFAULT: Duration = Duration::from_secs(60);
const DRAIN_WAIT_MAX: Duration = Duration::from_secs(600);

pub struct ClusterApi {
    pub control: Control,
}

impl ClusterApi {
    fn nodes(&self, state: &ClusterState) -> Vec<ClusterNode> {
        let raft = self.control.raft.status();
        state
            .nodes()
            .map(|(id, info)| ClusterNode {
                node_id: *id,
                address: info.address.clone(),
                alive: info.alive,
                draining: info.draining,
                heard: info.has_run,
                role: if *id == raft.leader {
                    "leader"
                } else if raft.voters.contains(id) {
                    "voter"
                } else {
                    "registered"
                }
                .to_owned(),
                partitions: state
                    .partitions()
                    .filter(|(_, p)| p.owner.is_some_and(|o| o.node == *id))
                    .count() as u32,
            })
            .collect()
    }

    /// Waits until `node` holds no partition, or `wait` passed. Returns what it still holds.
    async fn wait_drained(&self, node: NodeId, wait: Duration) -> usize {
        let mut states = self.control.raft.watch_state();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let held = states.borrow_and_update().held_by(node);
            if held == 0 {
                return 0;
            }
            match tokio::time::timeout_at(deadline, states.changed()).await {
                Ok(Ok(())) => {}
                _ => return held,
            }
        }
    }
}

#[tonic::async_trait]
impl Cluster for ClusterApi {
    async fn get_cluster(
        &self,
        _request: Request<GetClusterRequest>,
    ) -> Result<Response<GetClusterResponse>, Status> {
        let raft = self.control.raft.status();
        let state = self.control.raft.state();
        let liveness_timeout = self.control.own.cluster.liveness_timeout;
        Ok(Response::new(GetClusterResponse {
            quorum: raft.has_quorum_contact(liveness_timeout),
            confirmed_ms_ago: raft
                .synced_at
                .map_or(-1, |t| t.elapsed().as_millis() as i64),
            cluster_id: self.control.cluster_id.clone(),
            answered_by: self.control.node_id,
            leader_id: raft.leader,
            term: raft.term,
            commit_index: raft.commit,
            applied_index: raft.applied,
            nodes: self.nodes(&state),
            config_version: state.flow_config().map_or(0, |c| c.version),
        }))
    }

    async fn add_node(
        &self,
        request: Request<AddNodeRequest>,
    ) -> Result<Response<AddNodeResponse>, Status> {
        let r = request.into_inner();
        let node = request::node_id("node_id", r.node_id)?;
        let address = request::address("address", &r.address)?;
        members::check_new_member(&self.control.raft.state(), node, &address)?;
        members::add_member(&self.control.raft, node, &address)
            .await
            .map_err(unavailable)?;
        // The conf change is applied; the status this node publishes follows right after.
        let mut statuses = self.control.raft.watch_status();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            statuses.wait_for(|s| s.voters.contains(&node)),
        )
        .await;
        let state = self.control.raft.state();
        Ok(Response::new(AddNodeResponse {
            nodes: self.nodes(&state),
        }))
    }

    async fn remove_node(
        &self,
        request: Request<RemoveNodeRequest>,
    ) -> Result<Response<RemoveNodeResponse>, Status> {
        let node = request::node_id("node_id", request.into_inner().node_id)?;
        if !members::is_member(&self.control.raft, node) {
            self.control.known_node("node_id", node)?;
        }
        members::check_removal(&self.control.raft, node)?;
        let removed = members::remove_member(&self.control.raft, node)
            .await
            .map_err(unavailable)?;
        Ok(Response::new(RemoveNodeResponse {
            partitions_moved: u32::try_from(removed.partitions_moved).unwrap_or(u32::MAX),
            was_voter: removed.was_voter,
            voters: removed.voters,
            moved_to: removed.moved_to,
        }))
    }

    async fn drain_node(
        &self,
        request: Request<DrainNodeRequest>,
    ) -> Result<Response<DrainNodeResponse>, Status> {
        let r = request.into_inner();
        let node = request::node_id("node_id", r.node_id)?;
        let wait = match r.timeout_seconds {
            0 => DRAIN_WAIT_DEFAULT,
            s if Duration::from_secs(s.into()) > DRAIN_WAIT_MAX => {
                return Err(invalid(
                    "timeout_seconds",
                    format!("{s} is more than {}", DRAIN_WAIT_MAX.as_secs()),
                ))
            }
            s => Duration::from_secs(s.into()),
        };
        let state = self.control.known_node("node_id", node)?;
        let others = state.assignable_nodes().filter(|n| *n != node).count();
        if others == 0 && state.partitions().next().is_some() {
            return Err(Status::failed_precondition(format!(
                "node {node} is the last live node that is not draining: its partitions would \
                 have nowhere to go"
            )));
        }
        let held_at_start = state.held_by(node);
        if !state.node(node).is_some_and(|n| n.draining) {
            let outcome = self
                .control
                .raft
                .propose(Command::SetDraining {
                    node,
                    draining: true,
                })
                .await
                .map_err(unavailable)?;
            applied(outcome)?;
        }
        let remaining = self.wait_drained(node, wait).await;
        Ok(Response::new(DrainNodeResponse {
            drained: remaining == 0,
            remaining_partitions: remaining as u32,
            held_at_start: held_at_start as u32,
        }))
    }

    async fn undrain_node(
        &self,
        request: Request<UndrainNodeRequest>,
    ) -> Result<Response<UndrainNodeResponse>, Status> {
        let node = request::node_id("node_id", request.into_inner().node_id)?;
        self.control.known_node("node_id", node)?;
        let outcome = self
            .control
            .raft
            .propose(Command::SetDraining {
                node,
                draining: false,
            })
            .await
            .map_err(unavailable)?;
        applied(outcome)?;
        Ok(Response::new(UndrainNodeResponse {}))
    }
}

//! The gRPC side other nodes call: Raft messages in, join and leave requests, and the questions
//! of a node starting without Raft state (`FindCluster`, `ForgetMember`). Raft messages and
//! `FindCluster` need no token (TLS guards them when configured); a join, a leave or a
//! `ForgetMember` changes the membership and needs the cluster's control token when one is
//! configured, like the control API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::Message;
use strait_coordinator::raft::RaftHandle;
use strait_coordinator::NodeId;
use strait_proto::raft::v1::raft_transport_server::RaftTransport;
use strait_proto::raft::v1::{
    FindClusterRequest, FindClusterResponse, ForgetMemberRequest, ForgetMemberResponse,
    JoinRequest, JoinResponse, LeaveRequest, LeaveResponse, Member, RaftAck, RaftBatch,
};
use tonic::{Request, Response, Status};

use crate::control::BearerAuth;

pub struct RaftService {
    pub cluster_id: String,
    pub raft: RaftHandle,
    /// `[cluster] control_token`, required on `Join` and `Leave` when set.
    pub auth: BearerAuth,
    /// With TLS: every call must come with a client certificate (the server checked it against
    /// the CA), even when the port lets clients without one reach the control API.
    pub require_peer_cert: bool,
    /// A node heard from within this long is alive: it cannot be forgotten.
    pub liveness_timeout: Duration,
    pub heard: HeardFrom,
}

/// When this node last received Raft messages from each sender, since it started: a sender's
/// Raft ran, and may have voted or acknowledged entries, so a node of that id coming back
/// without Raft state lost it (see `FindCluster`).
#[derive(Clone, Default)]
pub struct HeardFrom(Arc<Mutex<HashMap<NodeId, Instant>>>);

impl HeardFrom {
    fn record(&self, node: NodeId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node, Instant::now());
    }

    fn since(&self, node: NodeId) -> Option<Duration> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(Instant::elapsed)
    }
}

impl RaftService {
    /// Only a holder of a certificate signed by the cluster's CA is a peer.
    fn check_peer<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if !self.require_peer_cert || request.peer_certs().is_some_and(|c| !c.is_empty()) {
            return Ok(());
        }
        Err(Status::unauthenticated(
            "the raft transport needs a client certificate signed by the cluster's CA",
        ))
    }

    /// A join or leave (`what`) needs the cluster's control token when it has one; a refusal is
    /// logged with the caller's address.
    fn check_token<T>(&self, request: &Request<T>, what: &str) -> Result<(), Status> {
        self.auth
            .verify_membership(request, what)
            .inspect_err(|status| {
                tracing::warn!(change = what, remote = ?request.remote_addr(),
                reason = status.message(), "membership change refused");
            })
    }

    fn check_cluster(&self, cluster_id: &str) -> Result<(), Status> {
        if cluster_id == self.cluster_id {
            return Ok(());
        }
        Err(Status::failed_precondition(format!(
            "this node belongs to cluster {:?}, not {cluster_id:?}",
            self.cluster_id
        )))
    }
}

#[tonic::async_trait]
impl RaftTransport for RaftService {
    async fn send(&self, request: Request<RaftBatch>) -> Result<Response<RaftAck>, Status> {
        self.check_peer(&request)?;
        let batch = request.into_inner();
        self.check_cluster(&batch.cluster_id)?;
        if !batch.messages.is_empty() {
            self.heard.record(batch.from);
        }
        for bytes in batch.messages {
            let message = Message::parse_from_bytes(&bytes)
                .map_err(|e| Status::invalid_argument(format!("undecodable raft message: {e}")))?;
            self.raft.step(message);
        }
        Ok(Response::new(RaftAck {}))
    }

    async fn leave(
        &self,
        request: Request<LeaveRequest>,
    ) -> Result<Response<LeaveResponse>, Status> {
        self.check_peer(&request)?;
        let what = format!("leave of node {}", request.get_ref().node_id);
        self.check_token(&request, &what)?;
        let leave = request.into_inner();
        self.check_cluster(&leave.cluster_id)?;
        if !super::members::is_member(&self.raft, leave.node_id) {
            return Err(Status::not_found(format!(
                "node_id: node {} is not a member of this cluster",
                leave.node_id
            )));
        }
        super::members::check_removal(&self.raft, leave.node_id)?;
        let removed = super::members::remove_member(&self.raft, leave.node_id)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(LeaveResponse {
            partitions_moved: u32::try_from(removed.partitions_moved).unwrap_or(u32::MAX),
            was_voter: removed.was_voter,
            voters: removed.voters,
            moved_to: removed.moved_to,
        }))
    }

    async fn join(&self, request: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        self.check_peer(&request)?;
        let what = format!("join of node {}", request.get_ref().node_id);
        self.check_token(&request, &what)?;
        let join = request.into_inner();
        self.check_cluster(&join.cluster_id)?;
        if join.node_id == 0 {
            return Err(Status::invalid_argument("node_id: must not be 0"));
        }
        if join.address.is_empty() {
            return Err(Status::invalid_argument("address: must not be empty"));
        }
        // A joiner reusing a member's id must not take over its address (and its traffic).
        super::members::check_new_member(&self.raft.state(), join.node_id, &join.address)?;
        super::members::add_member(&self.raft, join.node_id, &join.address)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let state = self.raft.state();
        let members = state
            .nodes()
            .map(|(id, info)| Member {
                node_id: *id,
                address: info.address.clone(),
            })
            .collect();
        Ok(Response::new(JoinResponse { members }))
    }

    async fn find_cluster(
        &self,
        request: Request<FindClusterRequest>,
    ) -> Result<Response<FindClusterResponse>, Status> {
        self.check_peer(&request)?;
        let find = request.into_inner();
        self.check_cluster(&find.cluster_id)?;
        let status = self.raft.status();
        let state = self.raft.state();
        let registered = state.node(find.node_id);
        Ok(Response::new(FindClusterResponse {
            node_id: status.id,
            term: status.term,
            commit: status.commit,
            voters: status.voters,
            registered_address: registered
                .map(|info| info.address.clone())
                .unwrap_or_default(),
            has_run: registered.is_some_and(|info| info.has_run),
            heard_ms_ago: self
                .heard
                .since(find.node_id)
                .map(|ago| u64::try_from(ago.as_millis()).unwrap_or(u64::MAX)),
            removed: state.was_removed(find.node_id),
        }))
    }

    async fn forget_member(
        &self,
        request: Request<ForgetMemberRequest>,
    ) -> Result<Response<ForgetMemberResponse>, Status> {
        self.check_peer(&request)?;
        let what = format!("forgetting node {}", request.get_ref().node_id);
        self.check_token(&request, &what)?;
        let forget = request.into_inner();
        self.check_cluster(&forget.cluster_id)?;
        let node = forget.node_id;
        if node == 0 {
            return Err(Status::invalid_argument("node_id: must not be 0"));
        }
        // A running process of that id would go on as a voter nobody counts on, or take its
        // traffic back: only a dead node is forgotten.
        if let Some(ago) = self
            .heard
            .since(node)
            .filter(|ago| *ago < self.liveness_timeout)
        {
            return Err(Status::unavailable(format!(
                "node {node} is alive: node {} received Raft messages from it {:.1} s ago (stop \
                 the process running as node {node} first)",
                self.raft.status().id,
                ago.as_secs_f64()
            )));
        }
        if self.raft.state().node(node).is_some_and(|info| info.alive) {
            return Err(Status::unavailable(format!(
                "node {node} is still alive in the cluster's state (the leader declares a node \
                 dead {:.1} s after its last message)",
                self.liveness_timeout.as_secs_f64()
            )));
        }
        let removed = super::members::is_member(&self.raft, node);
        super::members::remove_member(&self.raft, node)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if removed {
            tracing::info!(
                node,
                "forgot a member that lost its raft state: it joins again"
            );
        }
        Ok(Response::new(ForgetMemberResponse { removed }))
    }
}

//! The gRPC side other nodes call: Raft messages in, and join and leave requests. Raft messages
//! need no token (TLS guards them when configured); a join or leave changes the membership and
//! needs the cluster's control token when one is configured, like the control API.

use protobuf::Message as _;
use raft::eraftpb::Message;
use strait_coordinator::raft::RaftHandle;
use strait_proto::raft::v1::raft_transport_server::RaftTransport;
use strait_proto::raft::v1::{
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
        super::members::remove_member(&self.raft, leave.node_id)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(LeaveResponse {}))
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
}

//! What every control service needs: the Raft handle, this node's identity and settings, and its
//! live status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use strait_config::{FlowSettings, Settings};
use strait_coordinator::raft::RaftHandle;
use strait_coordinator::state::ClusterState;
use strait_coordinator::{FlowId, NodeId};
use strait_proto::v1::status_client::StatusClient;
use strait_proto::v1::{GetNodeStatusRequest, GetNodeStatusResponse};
use tonic::transport::{Channel, ClientTlsConfig};
use tonic::Status;

use crate::replication::status::NodeStatus;

/// How long a node waits for another node's status (lag fan-out).
const PEER_TIMEOUT: Duration = Duration::from_secs(3);

/// Shared by the control services of one node.
#[derive(Clone)]
pub struct Control {
    pub raft: RaftHandle,
    pub node_id: NodeId,
    pub cluster_id: String,
    /// This node's own settings; the flows come from the cluster's committed configuration.
    pub own: Arc<Settings>,
    pub status: NodeStatus,
    /// Sent along when this node asks another for its status.
    pub token: Option<String>,
    /// Channels to other nodes by address, kept across calls (they reconnect by themselves).
    pub peers: Arc<Mutex<HashMap<String, Channel>>>,
    /// TLS to other nodes, when the cluster port is TLS.
    pub peer_tls: Option<ClientTlsConfig>,
}

impl Control {
    /// The flows of the cluster's committed configuration, with `state` taken at the same time.
    pub fn flows(&self) -> Result<(Arc<ClusterState>, Vec<FlowSettings>), Status> {
        let state = self.raft.state();
        let Some(config) = state.flow_config() else {
            return Err(Status::unavailable(
                "the cluster has no configuration yet (no leader has committed one); retry",
            ));
        };
        let text = std::str::from_utf8(&config.settings).map_err(|e| {
            Status::internal(format!("configuration version {}: {e}", config.version))
        })?;
        let settings = self.own.with_shared_config(text).map_err(|e| {
            Status::internal(format!(
                "configuration version {} cannot be read: {e}",
                config.version
            ))
        })?;
        Ok((state, settings.flows))
    }

    /// One flow of the committed configuration, or `NotFound` listing the flows there are.
    pub fn flow(
        &self,
        field: &str,
        flow: &FlowId,
    ) -> Result<(Arc<ClusterState>, FlowSettings), Status> {
        let (state, flows) = self.flows()?;
        let names: Vec<String> = flows.iter().map(|f| f.id.to_string()).collect();
        match flows.into_iter().find(|f| &f.id == flow) {
            Some(settings) => Ok((state, settings)),
            None => Err(Status::not_found(format!(
                "{field}: no flow {flow} in the cluster's configuration (flows: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))),
        }
    }

    /// A node that must be registered, or `NotFound`.
    pub fn known_node(&self, field: &str, node: NodeId) -> Result<Arc<ClusterState>, Status> {
        let state = self.raft.state();
        if state.node(node).is_none() {
            let known: Vec<String> = state.nodes().map(|(id, _)| id.to_string()).collect();
            return Err(Status::not_found(format!(
                "{field}: node {node} is not a member of this cluster (members: {})",
                known.join(", ")
            )));
        }
        Ok(state)
    }

    /// `node`'s status: this node's own, or asked over gRPC at `address`.
    pub async fn node_status(
        &self,
        node: NodeId,
        address: &str,
    ) -> Result<GetNodeStatusResponse, Status> {
        if node == self.node_id {
            return Ok(super::status_api::node_status(self));
        }
        let channel = self.peer_channel(node, address)?;
        let mut request = tonic::Request::new(GetNodeStatusRequest {});
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| Status::internal("the control token is not a header value"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(StatusClient::new(channel)
            .get_node_status(request)
            .await
            .map_err(|e| Status::unavailable(format!("node {node} at {address}: {e}")))?
            .into_inner())
    }

    /// A lazily connected channel to the node at `address`, shared by later calls.
    pub(super) fn peer_channel(&self, node: NodeId, address: &str) -> Result<Channel, Status> {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(channel) = peers.get(address) {
            return Ok(channel.clone());
        }
        let channel = crate::cluster::tls::endpoint(address, self.peer_tls.as_ref())
            .map_err(|e| Status::internal(format!("node {node} address {address:?}: {e}")))?
            .connect_timeout(PEER_TIMEOUT)
            .timeout(PEER_TIMEOUT)
            .connect_lazy();
        peers.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }
}

//! `strait leave`: asks any member to remove a node from the cluster.

use strait_proto::raft::v1::raft_transport_client::RaftTransportClient;
use strait_proto::raft::v1::LeaveRequest;
use tonic::transport::ClientTlsConfig;

/// Asks the member at `contact` to remove `node` from cluster `cluster_id` (over TLS when `tls`).
pub async fn request_leave(
    contact: &str,
    cluster_id: &str,
    node: u64,
    tls: Option<&ClientTlsConfig>,
) -> Result<(), String> {
    let channel = super::tls::endpoint(contact, tls)
        .map_err(|e| format!("--contact {contact:?}: {}", super::error_chain(&e)))?
        .connect()
        .await
        .map_err(|e| format!("cannot reach {contact}: {}", super::error_chain(&e)))?;
    let mut client = RaftTransportClient::new(channel);
    client
        .leave(LeaveRequest {
            cluster_id: cluster_id.to_owned(),
            node_id: node,
        })
        .await
        .map_err(|status| format!("{contact} refused: {}", status.message()))?;
    Ok(())
}

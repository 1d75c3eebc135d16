//! `strait leave`: asks any member to remove a node from the cluster.

use strait_proto::raft::v1::raft_transport_client::RaftTransportClient;
use strait_proto::raft::v1::LeaveRequest;
use thiserror::Error;
use tonic::transport::ClientTlsConfig;

/// Why a node was not removed. In every case the membership is unchanged: the member checks the
/// token, the node and that another voter stays before it changes anything.
#[derive(Debug, Error)]
pub enum LeaveError {
    #[error("--contact {contact:?}: {reason}")]
    Contact { contact: String, reason: String },
    #[error("cannot reach {contact}: {reason}")]
    Unreachable { contact: String, reason: String },
    #[error("--token: not a valid header value (visible ASCII characters, no spaces)")]
    Token,
    /// The member answered with an error (`Unauthenticated` for a missing or wrong token).
    #[error("{contact} refused: {code:?}: {message}")]
    Refused {
        contact: String,
        code: tonic::Code,
        message: String,
    },
}

/// Asks the member at `contact` to remove `node` from cluster `cluster_id` (over TLS when `tls`),
/// with the cluster's control token when given (required when the cluster has one).
pub async fn request_leave(
    contact: &str,
    cluster_id: &str,
    node: u64,
    token: Option<&str>,
    tls: Option<&ClientTlsConfig>,
) -> Result<super::Removed, LeaveError> {
    let token = token
        .map(|t| crate::control::bearer(t).ok_or(LeaveError::Token))
        .transpose()?;
    let channel = super::tls::endpoint(contact, tls)
        .map_err(|e| LeaveError::Contact {
            contact: contact.to_owned(),
            reason: super::error_chain(&e),
        })?
        .connect()
        .await
        .map_err(|e| LeaveError::Unreachable {
            contact: contact.to_owned(),
            reason: super::error_chain(&e),
        })?;
    let mut client = RaftTransportClient::new(channel);
    let mut request = tonic::Request::new(LeaveRequest {
        cluster_id: cluster_id.to_owned(),
        node_id: node,
    });
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", token);
    }
    let response = client
        .leave(request)
        .await
        .map_err(|status| LeaveError::Refused {
            contact: contact.to_owned(),
            code: status.code(),
            message: status.message().to_owned(),
        })?
        .into_inner();
    Ok(super::Removed {
        partitions_moved: usize::try_from(response.partitions_moved).unwrap_or(usize::MAX),
        was_voter: response.was_voter,
        voters: response.voters,
        moved_to: response.moved_to,
    })
}

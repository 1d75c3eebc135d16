use thiserror::Error;

use crate::DomainError;

/// Why bytes could not become a command or a state.
///
/// `Decode` and `UnknownCommand` on a committed entry mean this node cannot read what the cluster
/// agreed on (corruption, or a newer node's command kind): carrying on would make its state diverge,
/// so the driver should stop the node. `InvalidCommand` is a well-formed entry with invalid content;
/// [`ClusterState::apply_bytes`](super::ClusterState::apply_bytes) turns it into
/// [`ApplyOutcome::Rejected`](super::ApplyOutcome::Rejected) and every node ignores it alike.
#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot decode {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    #[error(
        "command of proposal {proposal_id} has no kind this node knows (sent by a newer version?)"
    )]
    UnknownCommand { proposal_id: u64 },
    #[error("invalid command of proposal {proposal_id}: {source}")]
    InvalidCommand {
        proposal_id: u64,
        #[source]
        source: DomainError,
    },
    #[error("invalid snapshot: {reason}")]
    InvalidSnapshot { reason: String },
}

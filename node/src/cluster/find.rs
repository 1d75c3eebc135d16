//! Before a node without Raft state takes part: does a cluster with its id already run, and does
//! it count this node as a member?
//!
//! A data dir without Raft state (a new disk, a wiped volume, a relative path read from another
//! working directory) makes a node forget its term, its vote and its log. Coming back as the
//! member it was, it could vote a second time in a term it already voted in (two leaders in one
//! term) and complete a quorum that lacks entries the cluster committed. So before it bootstraps
//! from `peers` or joins, it asks the other nodes (`RaftTransport/FindCluster`), and refuses to
//! start when one of them knows it as a member; `strait node --rejoin` then removes its old
//! membership (`RaftTransport/ForgetMember`) and joins it again as a new member.

use std::fmt;
use std::time::Duration;

use strait_config::ClusterMembership;
use strait_coordinator::NodeId;
use strait_proto::raft::v1::raft_transport_client::RaftTransportClient;
use strait_proto::raft::v1::{FindClusterRequest, FindClusterResponse, ForgetMemberRequest};
use tonic::transport::ClientTlsConfig;

use super::error_chain;

/// How long one node gets to answer, connection included.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// What one node answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// It runs the cluster, and this is what it knows.
    Seen(Seen),
    /// It belongs to another cluster (its message says which).
    OtherCluster(String),
    /// No answer (not running, unreachable, or too old to know `FindCluster`): why.
    Silent(String),
}

/// A running node's view, as `FindClusterResponse` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Where it was asked.
    pub address: String,
    pub node: NodeId,
    pub term: u64,
    pub commit: u64,
    pub voters: Vec<NodeId>,
    /// The asking node's registered address, when it is registered.
    pub registered_at: Option<String>,
    /// Whether the asking node announced itself while running since it was registered (not
    /// merely registered by a join or an operator's AddNode).
    pub has_run: bool,
    /// Since when the answering node has not received Raft messages from the asking node's id.
    pub heard_ago: Option<Duration>,
    /// The asking node was removed from the cluster and not admitted again since.
    pub removed: bool,
}

impl Seen {
    fn from_response(address: &str, response: FindClusterResponse) -> Seen {
        Seen {
            address: address.to_owned(),
            node: response.node_id,
            term: response.term,
            commit: response.commit,
            voters: response.voters,
            registered_at: Some(response.registered_address).filter(|a| !a.is_empty()),
            has_run: response.has_run,
            heard_ago: response.heard_ms_ago.map(Duration::from_millis),
            removed: response.removed,
        }
    }

    /// Why this answer shows that the asking node took part in the cluster: it announced itself
    /// as running (it ran as a member), or its Raft sent messages here (it may have voted or
    /// acknowledged entries). Being among the voters, or registered on its behalf by a join or
    /// an operator, is not: the founders of a new cluster all are voters, also one that never
    /// started yet, and a node added with AddNode starts with `join` and an empty data dir.
    fn evidence(&self, me: NodeId) -> Option<String> {
        let mut reasons = Vec::new();
        if let Some(address) = self.registered_at.as_ref().filter(|_| self.has_run) {
            reasons.push(format!(
                "node {me} ran as a member, registered at {address}"
            ));
        }
        if let Some(ago) = self.heard_ago {
            reasons.push(format!(
                "node {} received Raft messages from node {me} {:.1} s ago",
                self.node,
                ago.as_secs_f64()
            ));
        }
        (!reasons.is_empty()).then(|| reasons.join(", and "))
    }
}

/// What the answers say about this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Nobody answered, or the cluster that did has not started yet or has never seen this
    /// node: a node of a new cluster (or a new member).
    Unknown,
    /// A running cluster counts this node as a member: it lost its Raft state.
    Member { seen: Seen, evidence: String },
    /// A running cluster committed entries, and this node is not among its voters.
    Outsider { seen: Seen },
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} at {} (term {}, commit {}, voters {:?})",
            self.node, self.address, self.term, self.commit, self.voters
        )
    }
}

/// Judges the answers for node `me`: a member as soon as one answer shows it took part, an
/// outsider when a running cluster goes on without it, else unknown.
pub(crate) fn judge(me: NodeId, answers: &[Answer]) -> Finding {
    let seen = || {
        answers.iter().filter_map(|answer| match answer {
            Answer::Seen(seen) => Some(seen),
            Answer::OtherCluster(_) | Answer::Silent(_) => None,
        })
    };
    if let Some((seen, evidence)) = seen().find_map(|s| s.evidence(me).map(|e| (s, e))) {
        return Finding::Member {
            seen: seen.clone(),
            evidence,
        };
    }
    if let Some(seen) = seen().find(|s| s.commit > 0 && !s.voters.contains(&me)) {
        return Finding::Outsider { seen: seen.clone() };
    }
    Finding::Unknown
}

/// Asks the node at `address` what it knows of cluster `config.cluster_id` and of this node.
pub(crate) async fn ask(
    address: &str,
    config: &ClusterMembership,
    tls: Option<&ClientTlsConfig>,
) -> Answer {
    let call = async {
        let channel = super::tls::endpoint(address, tls)
            .map_err(|e| Answer::Silent(error_chain(&e)))?
            .connect_timeout(ASK_TIMEOUT)
            .connect()
            .await
            .map_err(|e| Answer::Silent(error_chain(&e)))?;
        RaftTransportClient::new(channel)
            .find_cluster(FindClusterRequest {
                cluster_id: config.cluster_id.clone(),
                node_id: config.node_id,
            })
            .await
            .map_err(|status| match status.code() {
                tonic::Code::FailedPrecondition => {
                    Answer::OtherCluster(status.message().to_owned())
                }
                _ => Answer::Silent(status_reason(&status)),
            })
    };
    match tokio::time::timeout(ASK_TIMEOUT, call).await {
        Ok(Ok(response)) => Answer::Seen(Seen::from_response(address, response.into_inner())),
        Ok(Err(answer)) => answer,
        Err(_) => Answer::Silent(format!("no answer within {ASK_TIMEOUT:?}")),
    }
}

/// A failed call's code and message, with the transport error under it (e.g. why a TLS
/// handshake failed), which the message alone does not tell.
fn status_reason(status: &tonic::Status) -> String {
    let mut reason = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        reason.push_str(": ");
        reason.push_str(&error_chain(source));
    }
    reason
}

/// Asks every address at once; the answers in the same order.
pub(crate) async fn ask_all(
    addresses: &[String],
    config: &ClusterMembership,
    tls: Option<&ClientTlsConfig>,
) -> Vec<Answer> {
    futures::future::join_all(addresses.iter().map(|a| ask(a, config, tls))).await
}

/// Why a `ForgetMember` call failed.
pub(crate) enum ForgetFailed {
    /// Asking again cannot help (another cluster, a bad request): the message.
    Fatal(String),
    /// The node is still alive in the cluster's eyes, there is no leader, or no answer: why.
    Retry(String),
}

/// Asks the member at `address` to remove this node's old membership. `Ok(true)` when it was a
/// member, `Ok(false)` when there was nothing to remove.
pub(crate) async fn forget(
    address: &str,
    config: &ClusterMembership,
    tls: Option<&ClientTlsConfig>,
) -> Result<bool, ForgetFailed> {
    let channel = super::tls::endpoint(address, tls)
        .map_err(|e| ForgetFailed::Fatal(error_chain(&e)))?
        .connect_timeout(ASK_TIMEOUT)
        .connect()
        .await
        .map_err(|e| ForgetFailed::Retry(error_chain(&e)))?;
    // Forgetting a member changes the membership: the cluster's control token, as for a join.
    let mut request = tonic::Request::new(ForgetMemberRequest {
        cluster_id: config.cluster_id.clone(),
        node_id: config.node_id,
    });
    if let Some(token) = config
        .control_token
        .as_deref()
        .and_then(crate::control::bearer)
    {
        request.metadata_mut().insert("authorization", token);
    }
    let response = RaftTransportClient::new(channel)
        .forget_member(request)
        .await
        .map_err(|status| match status.code() {
            tonic::Code::FailedPrecondition
            | tonic::Code::InvalidArgument
            | tonic::Code::Unauthenticated => ForgetFailed::Fatal(status.message().to_owned()),
            tonic::Code::Unavailable => ForgetFailed::Retry(status.message().to_owned()),
            _ => ForgetFailed::Retry(status_reason(&status)),
        })?;
    Ok(response.into_inner().removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(node: NodeId, commit: u64, voters: &[NodeId]) -> Seen {
        Seen {
            address: format!("10.0.0.{node}:7070"),
            node,
            term: 2,
            commit,
            voters: voters.to_vec(),
            registered_at: None,
            has_run: false,
            heard_ago: None,
            removed: false,
        }
    }

    #[test]
    fn a_new_cluster_starting_is_unknown() {
        // Nobody up yet, or founders that have bootstrapped and not yet elected anyone.
        assert_eq!(judge(3, &[]), Finding::Unknown);
        let answers = [
            Answer::Silent("connection refused".into()),
            Answer::Seen(seen(1, 0, &[1, 2, 3])),
        ];
        assert_eq!(judge(3, &answers), Finding::Unknown);
        // Founders already running while this one starts late: it is a voter they never heard
        // from and it never registered.
        let answers = [Answer::Seen(seen(1, 40, &[1, 2, 3]))];
        assert_eq!(judge(3, &answers), Finding::Unknown);
    }

    #[test]
    fn a_node_that_ran_or_was_heard_is_a_member() {
        let mut registered = seen(1, 40, &[1, 2, 3]);
        registered.registered_at = Some("10.0.0.3:7070".into());
        // Registered on its behalf (an operator's AddNode, a join) and never run: it may start.
        assert_eq!(
            judge(3, &[Answer::Seen(registered.clone())]),
            Finding::Unknown
        );
        registered.has_run = true;
        let answers = [
            Answer::Silent("connection refused".into()),
            Answer::Seen(registered.clone()),
        ];
        assert_eq!(
            judge(3, &answers),
            Finding::Member {
                seen: registered,
                evidence: "node 3 ran as a member, registered at 10.0.0.3:7070".into()
            }
        );

        let mut heard = seen(2, 40, &[1, 2, 3]);
        heard.heard_ago = Some(Duration::from_millis(1500));
        let Finding::Member { evidence, .. } = judge(3, &[Answer::Seen(heard)]) else {
            panic!("heard from: a member")
        };
        assert_eq!(
            evidence,
            "node 2 received Raft messages from node 3 1.5 s ago"
        );
    }

    #[test]
    fn a_running_cluster_without_this_node_makes_it_an_outsider() {
        let running = seen(1, 40, &[1, 2]);
        assert_eq!(
            judge(3, &[Answer::Seen(running.clone())]),
            Finding::Outsider { seen: running }
        );
        // Another cluster's node says nothing about this one.
        assert_eq!(
            judge(3, &[Answer::OtherCluster("cluster \"x\"".into())]),
            Finding::Unknown
        );
    }
}

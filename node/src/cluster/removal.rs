//! Whether this node is still a member: a removed node (`strait leave`, `remove-node`) stops.
//!
//! A node learns its removal from the applied state (`ClusterState::was_removed`): while it runs,
//! when it applies the removal; after a restart, when it replays its log or receives a snapshot.
//! A node removed while it was down never hears of it that way: it is no longer a voter, so no
//! leader sends it anything, and it would run on alone, leaderless, with no word why. So while it
//! has no leader it asks the nodes it knows (`RaftTransport/FindCluster`) every few seconds, and a
//! running member that answers "removed" tells it.

use std::fmt;
use std::time::Duration;

use strait_config::ClusterMembership;
use strait_coordinator::raft::RaftHandle;
use strait_coordinator::NodeId;
use tonic::transport::ClientTlsConfig;

use super::find::{self, Answer};

/// How long a node waits without a leader before it asks the others whether it was removed, and
/// then how often it asks again.
const ASK_AFTER: Duration = Duration::from_secs(5);

/// How a node learned that it is no longer a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Its own applied state says so. `took_part`: a leader and a quorum confirmed this node's
    /// state since it started (it ran as a member, and was removed while running: an operator's
    /// `leave`); without, it replayed a removal from before this start.
    Applied { took_part: bool },
    /// A running member answered that it was removed (while this node was down, or cut off).
    ToldBy { address: String, node: NodeId },
}

impl Removal {
    /// Whether this start should not have happened: the node was removed before it (it replayed
    /// the removal, or a member told it). An operator's `leave` of a running node is not.
    pub fn before_this_start(&self) -> bool {
        !matches!(self, Self::Applied { took_part: true })
    }

    /// What the operator does next: the removal stands until a join admits the node again.
    pub fn rejoin_hint(&self, node: NodeId, config_file: &std::path::Path) -> String {
        format!(
            "node {node} was removed from the cluster ({self}). Its data dir still holds the old \
             membership: to take part again, start it once with `strait node --config {} \
             --rejoin` (it joins as a new member; positions are kept), or remove it from the \
             deployment",
            config_file.display()
        )
    }
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Applied { .. } => write!(f, "its own copy of the cluster state says so"),
            Self::ToldBy { address, node } => {
                write!(f, "node {node} at {address} says so")
            }
        }
    }
}

/// Resolves once this node is known to be removed. Never resolves while it is a member, or if
/// the Raft task is gone (that is reported on its own).
pub async fn watch(
    raft: RaftHandle,
    config: ClusterMembership,
    tls: Option<ClientTlsConfig>,
) -> Removal {
    let me = config.node_id;
    let mut states = raft.watch_state();
    let applied = async {
        if states
            .wait_for(|state| state.was_removed(me))
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    };
    let asked = async {
        let mut leaderless_since = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if raft.status().leader != 0 {
                leaderless_since = tokio::time::Instant::now();
                continue;
            }
            if leaderless_since.elapsed() < ASK_AFTER {
                continue;
            }
            leaderless_since = tokio::time::Instant::now();
            let addresses = others(&raft, &config);
            let answers = find::ask_all(&addresses, &config, tls.as_ref()).await;
            if let Some(removal) = told(&answers) {
                return removal;
            }
            tracing::debug!(
                asked = addresses.len(),
                "no leader; no member says this node was removed"
            );
        }
    };
    tokio::select! {
        () = applied => Removal::Applied {
            took_part: raft.status().synced_at.is_some(),
        },
        removal = asked => removal,
    }
}

/// The first answer from a running member that says the asking node was removed.
fn told(answers: &[Answer]) -> Option<Removal> {
    answers.iter().find_map(|answer| match answer {
        Answer::Seen(seen) if seen.removed => Some(Removal::ToldBy {
            address: seen.address.clone(),
            node: seen.node,
        }),
        _ => None,
    })
}

/// The other nodes' addresses this node knows: its configuration's peers and join contact, and
/// the addresses registered in its (possibly old) copy of the state.
fn others(raft: &RaftHandle, config: &ClusterMembership) -> Vec<String> {
    let state = raft.state();
    let mut addresses: Vec<String> = config
        .peers
        .iter()
        .filter(|peer| peer.id != config.node_id)
        .map(|peer| peer.address.clone())
        .chain(config.join.clone())
        .chain(
            state
                .nodes()
                .filter(|(id, _)| **id != config.node_id)
                .map(|(_, info)| info.address.clone()),
        )
        .filter(|address| *address != config.advertise)
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

#[cfg(test)]
mod tests {
    use super::*;
    use find::Seen;

    fn seen(node: NodeId, removed: bool) -> Answer {
        Answer::Seen(Seen {
            address: format!("10.0.0.{node}:7070"),
            node,
            term: 3,
            commit: 40,
            voters: vec![1, 2],
            registered_at: None,
            has_run: false,
            heard_ago: None,
            removed,
        })
    }

    #[test]
    fn only_a_member_that_says_removed_counts() {
        assert_eq!(told(&[]), None);
        let answers = [
            Answer::Silent("connection refused".into()),
            Answer::OtherCluster("cluster \"x\"".into()),
            seen(1, false),
        ];
        assert_eq!(told(&answers), None, "not a voter is not removed");
        let answers = [
            Answer::Silent("refused".into()),
            seen(1, false),
            seen(2, true),
        ];
        let removal = told(&answers).unwrap();
        assert_eq!(
            removal,
            Removal::ToldBy {
                address: "10.0.0.2:7070".into(),
                node: 2
            }
        );
        let hint = removal.rejoin_hint(3, std::path::Path::new("/etc/strait/node3.toml"));
        assert!(
            hint.starts_with(
                "node 3 was removed from the cluster (node 2 at 10.0.0.2:7070 says so)"
            ),
            "{hint}"
        );
        assert!(
            hint.contains("strait node --config /etc/strait/node3.toml --rejoin"),
            "{hint}"
        );
    }
}

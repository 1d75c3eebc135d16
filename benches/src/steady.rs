//! What the cluster benchmarks wait for: the remote topic on the target, and a cluster that is
//! complete, agreed and balanced (every node's `strait.v1.Status` polled).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use strait_proto::v1::GetNodeStatusResponse;
use strait_tests::admin;

use crate::cluster::Cluster;

/// The flow every benchmark node runs: clusters `A` (source) and `B` (target) of the fixtures'
/// config.
pub const FLOW: &str = "A->B";
/// `GetNodeStatus` of every node polled, by node id.
pub type Statuses = BTreeMap<u64, Result<GetNodeStatusResponse, String>>;
/// Status polling interval while waiting.
pub const POLL: Duration = Duration::from_millis(100);

/// Waits until the remote topic exists on the target with all its partitions.
pub fn wait_for_topic(
    bootstrap: &str,
    topic: &str,
    partitions: usize,
    cluster: &mut Cluster,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = admin::try_topics(bootstrap, Duration::from_secs(5))
            .map_err(|e| e.to_string())
            .map(|topics| topics.get(topic).copied());
        if let Ok(Some(n)) = count {
            if n == partitions {
                return Ok(());
            }
        }
        if let Some((id, log)) = cluster.crashed().first() {
            return Err(format!("node {id} exited: {log}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "topic {topic} not on the target with {partitions} partitions within 60 s: {count:?}"
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// The cluster as every node reports it, when it is complete, agreed and balanced.
pub struct Settled {
    pub leader: u64,
    /// Partition → owner.
    pub owners: BTreeMap<i32, u64>,
}

/// Partition → (owner, epoch) of `topic` in a node's copy of the assignment.
pub fn assignment(status: &GetNodeStatusResponse, topic: &str) -> BTreeMap<i32, (u64, u64)> {
    status
        .assignments
        .iter()
        .filter(|a| a.flow == FLOW && a.topic == topic)
        .map(|a| (a.partition, (a.owner, a.epoch)))
        .collect()
}

/// `Ok` when every node answers, all follow the same leader, the leader has every node alive,
/// every partition has an owner, owners hold equal shares (±1), every node applied that
/// assignment and runs exactly its partitions.
pub fn settled(polled: &Statuses, topic: &str, partitions: usize) -> Result<Settled, String> {
    let ids: Vec<u64> = polled.keys().copied().collect();
    let mut statuses = BTreeMap::new();
    for (id, status) in polled {
        statuses.insert(*id, status.as_ref().map_err(|e| format!("node {id}: {e}"))?);
    }
    let leaders: Vec<u64> = statuses
        .values()
        .filter(|s| s.raft_role == "leader")
        .map(|s| s.node_id)
        .collect();
    let &[leader] = leaders.as_slice() else {
        return Err(format!("leaders: {leaders:?}"));
    };
    if let Some(s) = statuses.values().find(|s| s.leader_id != leader) {
        return Err(format!(
            "node {} follows {} (leader {leader})",
            s.node_id, s.leader_id
        ));
    }
    let of_leader = &statuses[&leader];
    let not_alive: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !of_leader.nodes.iter().any(|n| n.node_id == *id && n.alive))
        .collect();
    if !not_alive.is_empty() {
        return Err(format!("nodes not alive for the leader: {not_alive:?}"));
    }
    let wanted = assignment(of_leader, topic);
    if wanted.len() != partitions {
        return Err(format!("{} partitions known of {partitions}", wanted.len()));
    }
    let mut counts: BTreeMap<u64, usize> = ids.iter().map(|id| (*id, 0)).collect();
    for (partition, (owner, _)) in &wanted {
        match counts.get_mut(owner) {
            Some(count) => *count += 1,
            None => return Err(format!("partition {partition} owned by {owner}")),
        }
    }
    let (min, max) = (
        counts.values().min().copied().unwrap_or(0),
        counts.values().max().copied().unwrap_or(0),
    );
    if max - min > 1 {
        return Err(format!("unbalanced: {counts:?}"));
    }
    for (id, status) in &statuses {
        if assignment(status, topic) != wanted {
            return Err(format!("node {id} has not applied the leader's assignment"));
        }
        let mine: Vec<i32> = wanted
            .iter()
            .filter(|(_, (owner, _))| owner == id)
            .map(|(p, _)| *p)
            .collect();
        let mut running: Vec<i32> = status
            .partitions
            .iter()
            .filter(|p| p.flow == FLOW && p.topic == topic && p.state == "running")
            .map(|p| p.partition)
            .collect();
        running.sort_unstable();
        if running != mine {
            return Err(format!("node {id} runs {running:?}, owns {mine:?}"));
        }
    }
    Ok(Settled {
        leader,
        owners: wanted.into_iter().map(|(p, (o, _))| (p, o)).collect(),
    })
}

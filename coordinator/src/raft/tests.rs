//! Three to four Raft tasks in one process, wired by channels with links that can be cut: leader
//! election, forwarding, membership, liveness, reassignment, restarts and catching up through
//! snapshots (also when one is lost), with real sled storage.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use raft::eraftpb::Message;
use strait_storage::Store;
use tokio::task::JoinHandle;

use super::*;
use crate::state::{ApplyOutcome, ClusterState, Command, TopicInfo};
use crate::NodeId;

/// Routes messages between in-process nodes; a cut link drops them, like a network, and reports the
/// loss like the gRPC transport does.
#[derive(Clone, Default)]
struct Network {
    nodes: Arc<Mutex<HashMap<NodeId, RaftHandle>>>,
    cut: Arc<Mutex<HashSet<NodeId>>>,
    snapshots: Arc<Mutex<Snapshots>>,
}

/// Snapshot messages by receiving node.
#[derive(Default)]
struct Snapshots {
    /// How many of the next ones to lose.
    to_drop: HashMap<NodeId, usize>,
    /// Nodes that get snapshots whose data is garbage.
    garbled: HashSet<NodeId>,
    dropped: HashMap<NodeId, usize>,
    delivered: HashMap<NodeId, usize>,
}

impl Network {
    fn isolate(&self, node: NodeId) {
        self.cut.lock().unwrap().insert(node);
    }

    fn heal(&self, node: NodeId) {
        self.cut.lock().unwrap().remove(&node);
    }

    /// Loses the next `n` snapshot messages to `node`.
    fn drop_snapshots(&self, node: NodeId, n: usize) {
        self.snapshots.lock().unwrap().to_drop.insert(node, n);
    }

    /// Replaces the data of every snapshot to `node` with bytes that do not decode.
    fn garble_snapshots(&self, node: NodeId) {
        self.snapshots.lock().unwrap().garbled.insert(node);
    }

    /// `(dropped, delivered)` snapshot messages to `node` so far.
    fn snapshots_to(&self, node: NodeId) -> (usize, usize) {
        let snapshots = self.snapshots.lock().unwrap();
        let count = |m: &HashMap<NodeId, usize>| m.get(&node).copied().unwrap_or(0);
        (count(&snapshots.dropped), count(&snapshots.delivered))
    }

    /// Whether a snapshot to `node` is lost, counting it either way.
    fn lose_snapshot(&self, node: NodeId) -> bool {
        let mut snapshots = self.snapshots.lock().unwrap();
        let to_drop = snapshots.to_drop.entry(node).or_default();
        let lose = *to_drop > 0;
        *to_drop = to_drop.saturating_sub(1);
        let counter = if lose {
            &mut snapshots.dropped
        } else {
            &mut snapshots.delivered
        };
        *counter.entry(node).or_default() += 1;
        lose
    }
}

struct Link {
    from: NodeId,
    network: Network,
    reports: OnceLock<DeliveryReports>,
}

impl Transport for Link {
    fn attach(&self, reports: DeliveryReports) {
        let _ = self.reports.set(reports);
    }

    fn send(&self, messages: Vec<Message>) {
        let cut = self.network.cut.lock().unwrap().clone();
        // By receiver: whether a snapshot was among the messages lost / delivered.
        let mut lost: HashMap<NodeId, bool> = HashMap::new();
        let mut delivered: HashMap<NodeId, bool> = HashMap::new();
        {
            let nodes = self.network.nodes.lock().unwrap();
            for message in messages {
                let (to, snapshot) = (message.to, is_snapshot(&message));
                let node = nodes
                    .get(&to)
                    .filter(|_| !cut.contains(&self.from) && !cut.contains(&to));
                let lose = node.is_some() && snapshot && self.network.lose_snapshot(to);
                let outcome = match node {
                    Some(node) if !lose => {
                        let mut message = message;
                        if snapshot && self.network.snapshots.lock().unwrap().garbled.contains(&to)
                        {
                            message.mut_snapshot().set_data(vec![0xff; 3].into());
                        }
                        node.step(message);
                        &mut delivered
                    }
                    _ => &mut lost,
                };
                *outcome.entry(to).or_default() |= snapshot;
            }
        }
        let Some(reports) = self.reports.get().cloned() else {
            return;
        };
        if lost.is_empty() && !delivered.values().any(|snapshot| *snapshot) {
            return;
        }
        tokio::spawn(async move {
            for (to, snapshot) in lost {
                reports.failed(to, snapshot).await;
            }
            for (to, snapshot) in delivered {
                reports.delivered(to, snapshot).await;
            }
        });
    }
}

struct TestNode {
    handle: RaftHandle,
    task: JoinHandle<Result<(), FatalError>>,
    _store: Store,
}

struct Cluster {
    network: Network,
    dirs: HashMap<NodeId, tempfile::TempDir>,
    nodes: HashMap<NodeId, TestNode>,
}

fn options(id: NodeId) -> RaftOptions {
    let mut options = RaftOptions::new(id, format!("node-{id}:7000"));
    options.tick = Duration::from_millis(20);
    options.liveness_timeout = Duration::from_millis(600);
    options.snapshot_every = 50;
    options
}

impl Cluster {
    fn new(voters: &[NodeId]) -> Self {
        let mut cluster = Self {
            network: Network::default(),
            dirs: HashMap::new(),
            nodes: HashMap::new(),
        };
        for id in voters {
            cluster.dirs.insert(*id, tempfile::tempdir().unwrap());
            cluster.start(*id, Some(voters));
        }
        cluster
    }

    /// Starts (or restarts) `id` on its data dir; `bootstrap` with the initial voters for a new
    /// cluster, `None` for a restart or a joining node.
    fn start(&mut self, id: NodeId, bootstrap: Option<&[NodeId]>) {
        let dir = self
            .dirs
            .entry(id)
            .or_insert_with(|| tempfile::tempdir().unwrap());
        let store = Store::open(dir.path(), Duration::from_millis(10)).unwrap();
        let log = store.raft().unwrap();
        if let Some(voters) = bootstrap {
            if !log.is_initialized() {
                log.bootstrap(voters).unwrap();
            }
        }
        let link = Link {
            from: id,
            network: self.network.clone(),
            reports: OnceLock::new(),
        };
        let (handle, task) = spawn(options(id), log, Arc::new(link)).unwrap();
        self.network
            .nodes
            .lock()
            .unwrap()
            .insert(id, handle.clone());
        self.nodes.insert(
            id,
            TestNode {
                handle,
                task,
                _store: store,
            },
        );
    }

    /// Stops `id` as if killed: its task ends and nothing reaches it any more.
    async fn kill(&mut self, id: NodeId) {
        self.network.nodes.lock().unwrap().remove(&id);
        if let Some(node) = self.nodes.remove(&id) {
            node.task.abort();
            let _ = node.task.await;
        }
    }

    fn handle(&self, id: NodeId) -> &RaftHandle {
        &self.nodes[&id].handle
    }

    async fn wait_for<F: Fn(&Cluster) -> bool>(&self, what: &str, condition: F) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !condition(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .map(|n| n.handle.status())
            .find(|s| s.role == RaftRole::Leader)
            .map(|s| s.id)
    }

    /// The state every running node agrees on, once they all applied the same index.
    fn agreed_state(&self) -> Option<Arc<ClusterState>> {
        let states: Vec<Arc<ClusterState>> =
            self.nodes.values().map(|n| n.handle.state()).collect();
        let first = states.first()?.clone();
        states.iter().all(|s| **s == *first).then_some(first)
    }
}

fn topics(n: i32) -> Command {
    Command::SetTopics {
        flow: "A->B".parse().unwrap(),
        topics: (0..3)
            .map(|t| TopicInfo {
                topic: format!("t{t}"),
                partitions: n,
                remote_topic: format!("A.t{t}"),
            })
            .collect(),
    }
}

/// Every partition has exactly one live owner, and counts per live node differ by at most one.
fn assert_balanced(state: &ClusterState, live: &[NodeId]) {
    let mut counts: HashMap<NodeId, usize> = live.iter().map(|n| (*n, 0)).collect();
    for (key, info) in state.partitions() {
        let owner = info.owner.unwrap_or_else(|| panic!("{key:?} has no owner"));
        *counts
            .get_mut(&owner.node)
            .unwrap_or_else(|| panic!("{key:?} owned by non-live node {}", owner.node)) += 1;
    }
    let (min, max) = (
        counts.values().min().unwrap(),
        counts.values().max().unwrap(),
    );
    assert!(max - min <= 1, "unbalanced: {counts:?}");
}

fn balanced(state: &ClusterState, live: &[NodeId]) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_balanced(state, live)
    }))
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_register_and_assign_every_partition_once() {
    let cluster = Cluster::new(&[1, 2, 3]);
    cluster.wait_for("a leader", |c| c.leader().is_some()).await;
    cluster
        .wait_for("all registered and alive", |c| {
            c.agreed_state()
                .is_some_and(|s| s.nodes().filter(|(_, i)| i.alive).count() == 3)
        })
        .await;
    // A follower's proposal is forwarded to the leader by Raft and answered once applied here.
    let leader = cluster.leader().unwrap();
    let follower = [1, 2, 3].into_iter().find(|n| *n != leader).unwrap();
    cluster.handle(follower).propose(topics(4)).await.unwrap();
    cluster
        .wait_for("a balanced assignment everyone agrees on", |c| {
            c.agreed_state()
                .is_some_and(|s| s.partitions().count() == 12 && balanced(&s, &[1, 2, 3]))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_declared_dead_and_its_partitions_move() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.wait_for("a leader", |c| c.leader().is_some()).await;
    let leader = cluster.leader().unwrap();
    cluster.handle(leader).propose(topics(4)).await.unwrap();
    cluster
        .wait_for("the first assignment", |c| {
            c.agreed_state().is_some_and(|s| balanced(&s, &[1, 2, 3]))
        })
        .await;

    // Kill the leader itself: the survivors elect a new one, which declares the old one dead.
    cluster.kill(leader).await;
    let survivors: Vec<NodeId> = [1, 2, 3].into_iter().filter(|n| *n != leader).collect();
    cluster
        .wait_for("the survivors to own everything", |c| {
            c.agreed_state().is_some_and(|s| balanced(&s, &survivors))
        })
        .await;

    // It comes back with its data dir and rejoins: partitions rebalance over three again.
    cluster.start(leader, None);
    cluster
        .wait_for("the restarted node to take its share", |c| {
            c.agreed_state().is_some_and(|s| balanced(&s, &[1, 2, 3]))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_node_joins_and_a_node_is_removed() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.wait_for("a leader", |c| c.leader().is_some()).await;
    let leader = cluster.leader().unwrap();
    cluster.handle(leader).propose(topics(4)).await.unwrap();

    cluster.start(4, None);
    cluster.handle(leader).add_voter(4).await.unwrap();
    cluster
        .wait_for("node 4 to take a fair share", |c| {
            c.agreed_state()
                .is_some_and(|s| balanced(&s, &[1, 2, 3, 4]))
        })
        .await;

    let removed = [1, 2, 3, 4].into_iter().find(|n| *n != leader).unwrap();
    cluster.handle(leader).remove_voter(removed).await.unwrap();
    cluster
        .handle(leader)
        .propose(Command::RemoveNode { node: removed })
        .await
        .unwrap();
    cluster.kill(removed).await;
    let rest: Vec<NodeId> = [1, 2, 3, 4].into_iter().filter(|n| *n != removed).collect();
    cluster
        .wait_for("the rest to own everything", |c| {
            c.agreed_state().is_some_and(|s| balanced(&s, &rest))
        })
        .await;
}

/// A node added to a young cluster (its log never compacted) knows every voter. The founders'
/// voters are in no log entry, only in their bootstrap conf state: a new node replaying the log
/// from index 1 used to count itself as the only voter, a quorum of its own once the leader
/// went silent.
/// Waits for a leader and proposes enough entries through it to force a log compaction
/// (`snapshot_every` = 50), ending with `topics(4)`. Returns the leader.
async fn propose_past_a_compaction(cluster: &Cluster) -> NodeId {
    cluster.wait_for("a leader", |c| c.leader().is_some()).await;
    let leader = cluster.leader().unwrap();
    for round in 0..60 {
        cluster
            .handle(leader)
            .propose(topics(1 + round % 3))
            .await
            .unwrap();
    }
    cluster.handle(leader).propose(topics(4)).await.unwrap();
    leader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_a_young_cluster_knows_every_voter() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.wait_for("a leader", |c| c.leader().is_some()).await;
    let leader = cluster.leader().unwrap();
    cluster.handle(leader).propose(topics(4)).await.unwrap();

    cluster.start(4, None);
    cluster.handle(leader).add_voter(4).await.unwrap();
    cluster
        .wait_for("node 4 to catch up", |c| {
            c.handle(4).status().applied >= c.handle(leader).status().commit
        })
        .await;
    assert_eq!(cluster.handle(4).status().voters, [1, 2, 3, 4]);
}

/// What `strait node --rejoin` does at the Raft level: a node that lost its log is removed, then
/// added back under its id with an empty log. It learns the whole configuration, never sees
/// itself removed (the node would leave), takes its share, and counts in the quorum that elects
/// the next leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_log_is_removed_and_added_back() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    // Past one compaction: the last snapshot has the node registered.
    let leader = propose_past_a_compaction(&cluster).await;
    cluster
        .wait_for("a balanced assignment", |c| {
            c.agreed_state()
                .is_some_and(|s| s.partitions().count() == 12 && balanced(&s, &[1, 2, 3]))
        })
        .await;

    let lost = [1, 2, 3].into_iter().find(|n| *n != leader).unwrap();
    cluster.kill(lost).await;
    let leader_handle = cluster.handle(leader).clone();
    leader_handle
        .propose(Command::RemoveNode { node: lost })
        .await
        .unwrap();
    leader_handle.remove_voter(lost).await.unwrap();

    cluster.dirs.insert(lost, tempfile::tempdir().unwrap());
    cluster.start(lost, None);
    // Every state the rebuilt node publishes: whether it is registered in it.
    let registered = Arc::new(Mutex::new(Vec::new()));
    let mut states = cluster.handle(lost).watch_state();
    let record = registered.clone();
    tokio::spawn(async move {
        loop {
            let state = states.borrow_and_update().clone();
            record.lock().unwrap().push(state.node(lost).is_some());
            if states.changed().await.is_err() {
                return;
            }
        }
    });
    leader_handle
        .propose(Command::RegisterNode {
            node: lost,
            address: options(lost).address,
            running: false,
        })
        .await
        .unwrap();
    leader_handle.add_voter(lost).await.unwrap();
    cluster
        .wait_for(
            "the rebuilt node to know every voter and take its share",
            |c| {
                c.handle(lost).status().voters == [1, 2, 3]
                    && c.agreed_state()
                        .is_some_and(|s| s.partitions().count() == 12 && balanced(&s, &[1, 2, 3]))
            },
        )
        .await;
    let registered = registered.lock().unwrap().clone();
    let first = registered.iter().position(|r| *r).expect("registered");
    assert!(
        registered[first..].iter().all(|r| *r),
        "the rebuilt node saw itself removed after it was registered: {registered:?}"
    );

    // Without the leader, the two others (the rebuilt one among them) elect a new one.
    cluster.kill(leader).await;
    let rest: Vec<NodeId> = [1, 2, 3].into_iter().filter(|n| *n != leader).collect();
    cluster
        .wait_for("a new leader and the partitions on the two others", |c| {
            c.leader().is_some_and(|l| l != leader)
                && c.agreed_state()
                    .is_some_and(|s| s.partitions().count() == 12 && balanced(&s, &rest))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_node_loses_leader_contact_and_state_survives_a_full_restart() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    let leader = propose_past_a_compaction(&cluster).await;

    let isolated = [1, 2, 3].into_iter().find(|n| *n != leader).unwrap();
    cluster.network.isolate(isolated);
    let timeout = options(isolated).liveness_timeout;
    cluster
        .wait_for("the isolated node to lose leader contact", |c| {
            !c.handle(isolated).status().has_quorum_contact(timeout)
        })
        .await;
    cluster.network.heal(isolated);

    cluster
        .wait_for("agreement after healing", |c| {
            c.agreed_state()
                .is_some_and(|s| balanced(&s, &[1, 2, 3]) && s.partitions().count() == 12)
        })
        .await;
    let before = cluster.agreed_state().unwrap();

    for id in [1, 2, 3] {
        cluster.kill(id).await;
    }
    for id in [1, 2, 3] {
        cluster.start(id, Some(&[1, 2, 3]));
    }
    cluster
        .wait_for("the same partitions after a whole-cluster restart", |c| {
            c.agreed_state().is_some_and(|s| {
                s.partitions().count() == before.partitions().count() && balanced(&s, &[1, 2, 3])
            })
        })
        .await;
}

/// Isolates a follower and commits enough entries for the leader to compact its log past the
/// follower's last entry, so that the follower can only catch up through a snapshot. Returns the
/// follower.
async fn leave_a_follower_behind_compaction(cluster: &Cluster) -> NodeId {
    cluster
        .wait_for("all registered and alive", |c| {
            c.agreed_state()
                .is_some_and(|s| s.nodes().filter(|(_, i)| i.alive).count() == 3)
        })
        .await;
    let leader = cluster.leader().unwrap();
    let follower = [1, 2, 3].into_iter().find(|n| *n != leader).unwrap();
    cluster.network.isolate(follower);
    // Compaction runs every `snapshot_every` applied entries: twice that many beyond the follower
    // puts the leader's last snapshot (its first log entry) past everything the follower has.
    // (Read on every round: the follower may still apply what reached it before the cut.)
    let every = options(leader).snapshot_every;
    let behind = |c: &Cluster| c.handle(follower).status().applied + 2 * every;
    let mut round = 0;
    while cluster.handle(leader).status().applied < behind(cluster) {
        cluster
            .handle(leader)
            .propose(topics(1 + round % 3))
            .await
            .unwrap();
        round += 1;
    }
    cluster.handle(leader).propose(topics(4)).await.unwrap();
    follower
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_compacted_log_catches_up_through_a_snapshot() {
    let cluster = Cluster::new(&[1, 2, 3]);
    let follower = leave_a_follower_behind_compaction(&cluster).await;
    assert_eq!(cluster.network.snapshots_to(follower), (0, 0));

    cluster.network.heal(follower);
    cluster
        .wait_for("the follower to install a snapshot and agree", |c| {
            c.network.snapshots_to(follower).1 >= 1
                && c.agreed_state()
                    .is_some_and(|s| s.partitions().count() == 12 && balanced(&s, &[1, 2, 3]))
        })
        .await;
}

/// A snapshot lost on the way is reported to raft-rs, which sends a new one: without the report
/// the leader would wait for it forever and the follower would never catch up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_snapshot_is_sent_again() {
    let cluster = Cluster::new(&[1, 2, 3]);
    let follower = leave_a_follower_behind_compaction(&cluster).await;
    cluster.network.drop_snapshots(follower, 1);

    cluster.network.heal(follower);
    cluster
        .wait_for("a second snapshot after the lost one, and agreement", |c| {
            let (dropped, delivered) = c.network.snapshots_to(follower);
            dropped == 1
                && delivered >= 1
                && c.agreed_state()
                    .is_some_and(|s| s.partitions().count() == 12 && balanced(&s, &[1, 2, 3]))
        })
        .await;
}

/// A snapshot the follower cannot read stops its Raft task with a fatal error, as an unreadable
/// entry does, instead of leaving it with an old state under a log that moved past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_snapshot_stops_the_raft_task() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    let follower = leave_a_follower_behind_compaction(&cluster).await;
    let handle = cluster.handle(follower).clone();
    let before = handle.status().applied;
    cluster.network.garble_snapshots(follower);

    cluster.network.heal(follower);
    cluster
        .wait_for("the follower's raft task to stop", |c| {
            c.nodes[&follower].task.is_finished()
        })
        .await;
    let stopped = cluster.nodes.remove(&follower).unwrap().task.await.unwrap();
    assert!(
        matches!(stopped, Err(FatalError::UnreadableSnapshot { .. })),
        "{stopped:?}"
    );
    assert_eq!(
        handle.status().applied,
        before,
        "nothing applied past the unreadable snapshot"
    );
}

/// A planned stop of the leader: `begin_stop` marks it stopping, the leader's own plan moves its
/// partitions to the others (each waiting for its release) while it still runs, and it keeps the
/// mark; it hands the leadership over; restarted, it clears the mark by registering and takes its
/// share again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_leader_hands_over_and_takes_its_share_back_after_a_restart() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.wait_for("a leader", |c| c.leader().is_some()).await;
    let leader = cluster.leader().unwrap();
    cluster.handle(leader).propose(topics(4)).await.unwrap();
    // Every node registered (the leader may register itself last: a balance over the other two
    // can look balanced over three while it owns nothing yet) and the partitions spread.
    cluster
        .wait_for("the first assignment", |c| {
            c.agreed_state().is_some_and(|s| {
                s.nodes().count() == 3 && balanced(&s, &[1, 2, 3]) && s.owned_by(leader).len() == 4
            })
        })
        .await;

    // Partitions moved to the leader wait for their previous owner's release (nobody releases
    // here: no flows run); the leader never ran those, and moved on they keep waiting for that
    // owner, not for the leader.
    let before = cluster.handle(leader).state();
    let waiting_for_others = before
        .partitions()
        .filter(|(_, info)| {
            info.owner.is_some_and(|o| o.node == leader)
                && info.releasing.is_some_and(|r| r != leader)
        })
        .count();
    let outcome = cluster.handle(leader).begin_stop().await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Applied);
    let others: Vec<NodeId> = [1, 2, 3].into_iter().filter(|n| *n != leader).collect();
    cluster
        .wait_for("its partitions to move to the others", |c| {
            c.agreed_state().is_some_and(|s| balanced(&s, &others))
        })
        .await;
    let state = cluster.handle(leader).state();
    let info = state.node(leader).unwrap();
    assert!(info.alive && info.stopping, "{info:?}");
    // Nobody released anything here (no flows run): the moved partitions wait for it.
    assert_eq!(state.held_by(leader), 4 - waiting_for_others);
    assert_eq!(state.owned_by(leader), []);
    // Its own registration duty must not clear the mark while this process runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        cluster
            .handle(leader)
            .state()
            .node(leader)
            .unwrap()
            .stopping
    );

    cluster.handle(leader).transfer_leader(others[0]);
    cluster
        .wait_for("the leadership handed over", |c| {
            c.leader() == Some(others[0])
        })
        .await;

    cluster.kill(leader).await;
    cluster.start(leader, None);
    cluster
        .wait_for(
            "the restarted node to clear its mark and take its share",
            |c| {
                c.agreed_state().is_some_and(|s| {
                    s.node(leader).is_some_and(|i| !i.stopping) && balanced(&s, &[1, 2, 3])
                })
            },
        )
        .await;
}

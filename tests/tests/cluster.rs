//! Several `strait` nodes as one cluster (one Raft group): they elect a leader, register, and
//! agree on one balanced assignment of the source partitions; the survivors take over the
//! partitions of a killed node (follower or leader) with no gap and a bounded replay; a restarted
//! node and a joining node get their fair share; the Raft state survives a whole-cluster restart;
//! a configured peer that is not started is logged unreachable (and joins when it starts); bad
//! cluster settings (a join under a member's id among them) are refused; a node cut off from the others stops writing until
//! contact returns; and a member finds its relative data dir from another working directory,
//! refuses to start on an empty one, and rejoins with `--rejoin` (`cluster/lost_state.rs`); a
//! SIGTERMed node hands its partitions over before it exits (`cluster/handover.rs`). One test (ignored: a known bug) shows a node resumed after a long pause
//! writing to the partitions it lost.
//!
//! Each heavy test runs two Tansu brokers, 3 or 4 nodes and a producer at 1500 records/s over 9
//! partitions; the refusal tests need no broker.
//!
//! Real processes and real brokers throughout; the cluster is observed through every node's
//! `strait.v1.Status` service. Figures (failover times, duplicates) are printed: run with
//! `--nocapture` to see them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use strait_tests::cluster::{
    secs, status_at, status_with_token, PartitionId, Settled, StraitCluster, LIVENESS_TIMEOUT,
    POSITION_INTERVAL,
};
use strait_tests::config::{ClusterSettings, Config};
use strait_tests::data::{self, ContinuousProducer};
use strait_tests::strait::{run_cli, run_node_to_exit, temp_dir, CheckOutput};
use strait_tests::verify::{self, TopicReader};
use strait_tests::{admin, broker, names, serial, wait, Broker, Strait};

/// The flow every test runs, as the Status service names it.
const FLOW: &str = "A->B";
/// The source topics of a test: `(name suffix, partitions, records per second in total)`. 9
/// partitions: 3 per node over 3 nodes, 5/4 over 2, 3/2/2/2 over 4.
const TOPICS: [(&str, i32, u64); 2] = [("stream", 6, 1200), ("side", 3, 300)];
const PARTITIONS: usize = 9;
/// Replay allowed per handover of a partition, in seconds of that partition's production.
///
/// A new owner resumes from the position the old owner last got committed to the Raft log; the
/// old owner proposes its acknowledged position every [`POSITION_INTERVAL`] (1 s), and the
/// proposal commits within a Raft round trip (milliseconds). So what the old owner wrote beyond
/// the committed position is at most 1 s of acknowledged records, plus what it had in flight
/// (sent, not yet acknowledged: produce latency, well under a second at these rates), plus
/// scheduling delays on a busy 2-core machine running 3 nodes and 2 brokers. 3 s leaves 1 s of
/// margin over twice the interval; a replay from further back (e.g. from the local store only, or
/// from the partition's start) would exceed it.
const REPLAY_PER_HANDOVER: Duration = Duration::from_secs(3);
/// How long the cluster may take to settle after a change (election, liveness verdict,
/// reassignment, partitions started).
const SETTLE_DEADLINE: Duration = Duration::from_secs(60);
/// The bound on failover (kill to every partition running on a survivor) the tests assert: the
/// liveness timeout, plus an election (about 1-2 s) when the leader died, plus reassignment and
/// start-up. Measured figures are printed.
const FAILOVER_BOUND: Duration = Duration::from_secs(9);

struct Topic {
    name: String,
    remote: String,
    partitions: i32,
    rate: u64,
}

struct Setup {
    source: Broker,
    target: Broker,
    topics: Vec<Topic>,
    /// Clusters and flow shared by every node (the cluster fixture fills in the rest).
    base: Config,
}

fn setup(prefix: &str) -> Setup {
    let (source, target) = Broker::pair();
    let p = names::unique(prefix);
    let topics: Vec<Topic> = TOPICS
        .iter()
        .map(|(suffix, partitions, rate)| {
            let name = format!("{p}-{suffix}");
            admin::create_topic(source.bootstrap(), &name, *partitions as usize);
            Topic {
                remote: format!("A.{name}"),
                name,
                partitions: *partitions,
                rate: *rate,
            }
        })
        .collect();
    let pattern = format!("{p}-.*");
    let base = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        Path::new("unused: each node gets its own"),
        &[&pattern],
    );
    Setup {
        source,
        target,
        topics,
        base,
    }
}

/// Every source partition of the test, as the Status service names them.
fn all_partitions(s: &Setup) -> BTreeSet<PartitionId> {
    s.topics
        .iter()
        .flat_map(|t| (0..t.partitions).map(|p| (FLOW.to_owned(), t.name.clone(), p)))
        .collect()
}

/// One continuous producer per topic, at the topic's rate.
fn start_load(s: &Setup) -> Vec<ContinuousProducer> {
    let base_ts = data::base_timestamp();
    s.topics
        .iter()
        .map(|t| {
            ContinuousProducer::start(
                s.source.bootstrap(),
                &t.name,
                t.partitions,
                t.rate,
                0,
                base_ts,
                0,
            )
        })
        .collect()
}

/// Readers of the remote topics, to watch replication progress.
struct TargetWatch {
    readers: Vec<TopicReader>,
}

impl TargetWatch {
    fn new(s: &Setup) -> TargetWatch {
        let readers = s
            .topics
            .iter()
            .map(|t| {
                verify::wait_for_topic(
                    s.target.bootstrap(),
                    &t.remote,
                    t.partitions as usize,
                    None,
                );
                TopicReader::new(s.target.bootstrap(), &t.remote, t.partitions as usize)
            })
            .collect();
        TargetWatch { readers }
    }

    /// Records read so far from each partition (reading for at most `max` more).
    fn counts(&mut self, max: Duration) -> BTreeMap<(usize, i32), usize> {
        let mut counts = BTreeMap::new();
        for (t, reader) in self.readers.iter_mut().enumerate() {
            reader.catch_up(max);
            for (p, count) in reader.counts().into_iter().enumerate() {
                counts.insert((t, p as i32), count);
            }
        }
        counts
    }

    /// Waits until every partition got at least `by` more records on the target than now: every
    /// partition is being replicated by someone.
    fn wait_growth(&mut self, cluster: &StraitCluster, by: usize, what: &str) {
        // Read what is there first (the readers may lag: they read only while the test asks).
        let baseline = self.counts(Duration::from_millis(500));
        let started = Instant::now();
        wait::until(
            &format!("every partition to get {by} more records on the target ({what})"),
            Duration::from_secs(60),
            Duration::ZERO,
            || {
                cluster.assert_running();
                let now = self.counts(Duration::from_millis(100));
                let behind: Vec<String> = now
                    .iter()
                    .filter(|(k, n)| **n < baseline[k] + by)
                    .map(|((t, p), n)| format!("topic {t} p{p}: +{}", n - baseline[&(*t, *p)]))
                    .collect();
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind.join(", "))
                }
            },
            || cluster.describe(),
        );
        println!(
            "{what}: every partition +{by} records in {:.1} s",
            secs(started)
        );
    }
}

/// What the final check found, over all partitions.
#[derive(Debug, Default)]
struct Outcome {
    records: usize,
    duplicates: usize,
    windows: usize,
    largest_window: usize,
    interleavings: usize,
}

/// Stops the producers and checks every partition of the target against what was sent: nothing
/// missing, first copies in order, duplicates only as re-sent runs (see
/// [`verify::replay_windows`]), at most one replay per handover of the partition (its final
/// epoch counts its assignments) plus one per interleaving (at most one per handover), each at
/// most [`REPLAY_PER_HANDOVER`] of the partition's production. Prints every partition's runs.
fn stop_and_verify(
    s: &Setup,
    producers: Vec<ContinuousProducer>,
    cluster: &StraitCluster,
    live: &[u64],
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut failures = Vec::new();
    let mut sent_by_topic = Vec::new();
    for producer in producers {
        sent_by_topic.push(producer.stop());
    }
    let mut read_by_topic = Vec::new();
    for (topic, sent) in s.topics.iter().zip(&sent_by_topic) {
        cluster.assert_running();
        let reader = verify::wait_for_tail(s.target.bootstrap(), &topic.remote, sent, None);
        read_by_topic.push(reader.into_records());
    }
    // The epochs once everything is written (no handover after this).
    let settled = cluster.wait_settled(live, PARTITIONS, SETTLE_DEADLINE);
    for ((topic, sent), read) in s.topics.iter().zip(&sent_by_topic).zip(&read_by_topic) {
        let per_partition_rate = topic.rate / topic.partitions as u64;
        let bound = (per_partition_rate as f64 * REPLAY_PER_HANDOVER.as_secs_f64()) as usize;
        for (p, (sent, read)) in sent.iter().zip(read).enumerate() {
            let key = (FLOW.to_owned(), topic.name.clone(), p as i32);
            let owned = settled.assignment[&key];
            let handovers = owned.epoch.saturating_sub(1) as usize;
            let replays = verify::replay_windows(sent, read)
                .unwrap_or_else(|e| panic!("{}/{p}: {e}", topic.remote));
            println!(
                "{}/{p}: {} records sent, {} read, owner {} epoch {} ({handovers} handovers), \
                 runs {:?}, replays (read index, records) {:?}, {} duplicates, {} interleavings",
                topic.remote,
                sent.len(),
                read.len(),
                owned.owner,
                owned.epoch,
                replays.runs,
                replays.windows,
                replays.duplicates,
                replays.interleavings
            );
            // A live handover may interleave: the old owner learns of the move only when the
            // commit reaches it and its next reconcile runs (100 ms), while the new owner starts
            // at once; its last in-flight records can land amid the new owner's replay (a second
            // replay window for that handover). A dead owner cannot do that.
            if replays.interleavings > handovers {
                failures.push(format!(
                    "{}/{p}: {} interleavings of two writers but only {handovers} handovers: \
                     runs {:?}",
                    topic.remote, replays.interleavings, replays.runs
                ));
            }
            if replays.windows.len() > handovers + replays.interleavings {
                failures.push(format!(
                    "{}/{p}: {} replays but only {handovers} handovers and {} interleavings: \
                     runs {:?}",
                    topic.remote,
                    replays.windows.len(),
                    replays.interleavings,
                    replays.runs
                ));
            }
            if replays.largest() > bound {
                failures.push(format!(
                    "{}/{p}: a replay of {} records, more than {bound} ({per_partition_rate} \
                     records/s for {REPLAY_PER_HANDOVER:?}): runs {:?}",
                    topic.remote,
                    replays.largest(),
                    replays.runs
                ));
            }
            if replays.interleavings > 0 {
                println!(
                    "NOTE {}/{p}: an old and a new owner interleaved on the target (runs {:?})",
                    topic.remote, replays.runs
                );
            }
            outcome.records += sent.len();
            outcome.duplicates += replays.duplicates;
            outcome.windows += replays.windows.len();
            outcome.largest_window = outcome.largest_window.max(replays.largest());
            outcome.interleavings += replays.interleavings;
        }
    }
    println!("outcome: {outcome:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    outcome
}

/// Partitions whose owner or epoch differ between two views.
/// Waits for `node` to exit by itself within `deadline`: its exit status, its `error: ` line and
/// its whole log (panics when it printed no error line).
fn exit_error(
    cluster: &mut StraitCluster,
    node: u64,
    deadline: Duration,
) -> (std::process::ExitStatus, String, String) {
    let (status, log) = cluster.wait_exit_log(node, deadline);
    let error = log
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("node {node}: no error line ({status}):\n{log}"))
        .to_owned();
    (status, error, log)
}

/// `strait leave --node NODE --contact` the node `contact`'s address: what it printed (panics
/// unless it succeeded).
fn strait_leave(cluster: &StraitCluster, node: u64, contact: u64) -> String {
    let output = std::process::Command::new(strait_tests::strait::strait_bin())
        .args(["leave", "--node", &node.to_string(), "--contact"])
        .arg(cluster.address(contact))
        .output()
        .expect("running strait leave");
    assert!(
        output.status.success(),
        "strait leave failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn moved(before: &Settled, after: &Settled) -> Vec<PartitionId> {
    before
        .assignment
        .iter()
        .filter(|(p, o)| {
            after
                .assignment
                .get(*p)
                .is_none_or(|a| (a.owner, a.epoch) != (o.owner, o.epoch))
        })
        .map(|(p, _)| p.clone())
        .collect()
}

/// Kills node `victim` (-9) and waits until `live` settled without it; returns the new view and
/// the failover time. Checks that exactly the victim's partitions moved (sticky), each to a
/// survivor with a higher epoch.
fn kill_and_take_over(
    cluster: &mut StraitCluster,
    before: &Settled,
    victim: u64,
    live: &[u64],
    what: &str,
) -> Settled {
    let started = Instant::now();
    cluster.kill9(victim);
    let after = cluster.wait_settled(live, PARTITIONS, SETTLE_DEADLINE);
    let failover = started.elapsed();
    println!(
        "{what}: node {victim} killed; survivors {live:?} run every partition after {:.2} s \
         (leader {} -> {}, counts {:?})",
        failover.as_secs_f64(),
        before.leader,
        after.leader,
        after.counts(live)
    );
    let victims: Vec<PartitionId> = before.owned_by(victim);
    assert_eq!(
        moved(before, &after),
        victims,
        "{what}: exactly the killed node's partitions move"
    );
    for p in &victims {
        assert!(
            after.assignment[p].epoch > before.assignment[p].epoch,
            "{p:?}"
        );
    }
    assert!(
        failover <= FAILOVER_BOUND,
        "{what}: failover took {failover:?}, more than {FAILOVER_BOUND:?}"
    );
    after
}

/// Restarts node `node` on its data dir and waits until the partitions are balanced over `live`
/// again; returns the new view. Checks that it got its share back and that only partitions that
/// balance needs moved.
fn restart_and_rebalance(
    cluster: &mut StraitCluster,
    before: &Settled,
    node: u64,
    live: &[u64],
    what: &str,
) -> Settled {
    let started = Instant::now();
    cluster.restart(node);
    let after = cluster.wait_settled(live, PARTITIONS, SETTLE_DEADLINE);
    let counts = after.counts(live);
    println!(
        "{what}: node {node} restarted; balanced over {live:?} after {:.2} s, counts {counts:?}",
        secs(started)
    );
    let share = PARTITIONS / live.len();
    assert!(counts[&node] >= share, "{what}: node {node} got {counts:?}");
    let moved = moved(before, &after);
    assert_eq!(
        moved.len(),
        counts[&node],
        "{what}: only the partitions the restarted node takes move: {moved:?}"
    );
    after
}

/// Three nodes elect one leader everyone agrees on, register (all three alive with their
/// addresses), agree on one assignment covering each source partition (2 topics, 9 partitions)
/// exactly once, balanced (3/3/3), each node running exactly its own; and replicating some
/// records gives an exact copy (no partition replicated twice, none left out).
#[test]
fn three_nodes_elect_register_and_assign() {
    let _heavy = serial::heavy();
    let s = setup("cl-assign");
    let started = Instant::now();
    let cluster = StraitCluster::start(3, &s.base);
    let leader = cluster.wait_leader(Duration::from_secs(30));
    println!("leader: node {leader} after {:.2} s", secs(started));
    let settled = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    println!(
        "settled after {:.2} s: leader {}, term {}, counts {:?}",
        secs(started),
        settled.leader,
        settled.term,
        settled.counts(&[1, 2, 3])
    );
    let nodes: Vec<(u64, String, bool)> =
        (1..=3).map(|id| (id, cluster.address(id), true)).collect();
    assert_eq!(settled.nodes, nodes, "registered nodes");
    let assigned: BTreeSet<PartitionId> = settled.assignment.keys().cloned().collect();
    assert_eq!(assigned, all_partitions(&s), "the assignment's partitions");
    assert_eq!(
        settled.counts(&[1, 2, 3]).into_values().collect::<Vec<_>>(),
        vec![3, 3, 3]
    );
    // Usually 1 (assigned once); 2 when a node registered after the first assignment.
    let epochs: BTreeSet<u64> = settled.assignment.values().map(|o| o.epoch).collect();
    println!("assignment epochs: {epochs:?}");
    // Each node sees the same leader and term.
    for id in 1..=3 {
        let status = cluster.status(id).expect("status");
        assert_eq!(
            (status.leader_id, status.term),
            (settled.leader, settled.term)
        );
        assert_eq!(status.node_id, id);
    }

    let base_ts = data::base_timestamp();
    for topic in &s.topics {
        let sent = data::produce_generated(
            s.source.bootstrap(),
            &topic.name,
            topic.partitions,
            200,
            base_ts,
        );
        let reader = verify::wait_for_tail(s.target.bootstrap(), &topic.remote, &sent, None);
        verify::assert_same_partitions(&topic.remote, &sent, reader.all());
    }
    cluster.assert_running();
}

/// Under continuous load: kill -9 a follower (the two survivors take over its partitions), restart
/// it (it rejoins with its data dir and gets its share back), kill -9 the leader (the survivors
/// elect a new one and take over), restart it too. A 3-node cluster has no quorum with two nodes
/// down, hence the restart in between. The target ends record-for-record equal to the source, with
/// at most one bounded replay per handover.
#[test]
fn kill9_follower_then_leader_under_load() {
    let _heavy = serial::heavy();
    let s = setup("cl-failover");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let first = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 300, "before the first kill");

    let follower = (1..=3).find(|id| *id != first.leader).expect("a follower");
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != follower).collect();
    let after_follower = kill_and_take_over(
        &mut cluster,
        &first,
        follower,
        &survivors,
        "follower killed",
    );
    assert_eq!(after_follower.leader, first.leader, "the leader stays");
    target.wait_growth(&cluster, 200, "after the follower's partitions moved");

    let rejoined = restart_and_rebalance(
        &mut cluster,
        &after_follower,
        follower,
        &[1, 2, 3],
        "follower rejoined",
    );
    target.wait_growth(&cluster, 200, "after the rejoin");

    let leader = rejoined.leader;
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let after_leader =
        kill_and_take_over(&mut cluster, &rejoined, leader, &survivors, "leader killed");
    assert_ne!(after_leader.leader, leader);
    assert!(after_leader.term > rejoined.term, "a new term");
    target.wait_growth(&cluster, 200, "after the leader's partitions moved");

    restart_and_rebalance(
        &mut cluster,
        &after_leader,
        leader,
        &[1, 2, 3],
        "old leader rejoined",
    );
    target.wait_growth(&cluster, 100, "after the second rejoin");

    stop_and_verify(&s, producers, &cluster, &[1, 2, 3]);
}

/// A fourth node joins the running cluster through node 1 (`join`) under load: it takes a fair
/// share (3/2/2/2, only the two partitions balance needs move), and the moved partitions lose
/// nothing and replay at most a bounded window.
#[test]
fn fourth_node_joins_and_takes_a_fair_share() {
    let _heavy = serial::heavy();
    let s = setup("cl-join");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 300, "before the join");

    let started = Instant::now();
    let new = cluster.add_node(1);
    let after = cluster.wait_settled(&[1, 2, 3, new], PARTITIONS, SETTLE_DEADLINE);
    let counts = after.counts(&[1, 2, 3, new]);
    println!(
        "node {new} joined; balanced over 4 after {:.2} s, counts {counts:?}",
        secs(started)
    );
    assert_eq!(counts[&new], 2, "the new node's share: {counts:?}");
    let mut sorted: Vec<usize> = counts.values().copied().collect();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![2, 2, 2, 3]);
    let moved = moved(&before, &after);
    assert_eq!(
        moved,
        after.owned_by(new),
        "only the new node's partitions moved"
    );
    assert!(after
        .nodes
        .iter()
        .any(|(id, address, alive)| *id == new && *address == cluster.address(new) && *alive));
    target.wait_growth(&cluster, 200, "after the join");

    stop_and_verify(&s, producers, &cluster, &[1, 2, 3, new]);
}

/// `strait leave` through another member removes a node: its partitions move to the others (and
/// only its), it drains and exits 0 by itself, and the target stays complete.
#[test]
fn a_removed_node_leaves_cleanly() {
    let _heavy = serial::heavy();
    let s = setup("cl-leave");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 300, "before the removal");

    let leaving = (1..=3).find(|id| *id != before.leader).expect("a follower");
    let contact = (1..=3).find(|id| *id != leaving).expect("another member");
    let started = Instant::now();
    // It says what happened: its partitions, the voters left, what the node does next.
    let said = strait_leave(&cluster, leaving, contact);
    let rest: Vec<u64> = (1..=3).filter(|id| *id != leaving).collect();
    let held = before.owned_by(leaving).len();
    let voters = format!("{}, {}", rest[0], rest[1]);
    for needle in [
        format!("node {leaving} removed from the cluster: its {held} partition(s) move to node(s) {voters}"),
        format!("voters now {voters}"),
        "drains and exits by itself".to_owned(),
        "--rejoin".to_owned(),
    ] {
        assert!(said.contains(&needle), "strait leave says {needle:?}: {said}");
    }
    let status = cluster.wait_exit(leaving, Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "the removed node's exit status");
    let after = cluster.wait_settled(&rest, PARTITIONS, SETTLE_DEADLINE);
    println!(
        "node {leaving} removed and exited; {:?} own everything after {:.2} s",
        after.counts(&rest),
        secs(started)
    );
    assert!(after.nodes.iter().all(|(id, _, _)| *id != leaving));
    let moved = moved(&before, &after);
    assert_eq!(moved, before.owned_by(leaving), "only its partitions moved");
    target.wait_growth(&cluster, 200, "after the removal");

    // Started again on its old membership, it refuses (its replayed log says it was removed),
    // with the command to rejoin, and the others are not disturbed.
    cluster.restart(leaving);
    let (status, error, log) = exit_error(&mut cluster, leaving, Duration::from_secs(60));
    println!("node {leaving} restarted after its removal: {status}: {error}");
    assert_eq!(status.code(), Some(2), "a refusal is exit 2:\n{log}");
    for needle in [
        format!("node {leaving} was removed from the cluster"),
        "--rejoin".to_owned(),
    ] {
        assert!(
            error.contains(&needle),
            "the error names {needle:?}: {error}"
        );
    }
    let still = cluster.wait_settled(&rest, PARTITIONS, SETTLE_DEADLINE);
    assert!(still.nodes.iter().all(|(id, _, _)| *id != leaving));

    stop_and_verify(&s, producers, &cluster, &rest);
}

/// All three nodes stopped (SIGTERM, each drains and exits 0) while the source keeps growing, then
/// started again on their data dirs: the Raft state survived (the same nodes, every partition
/// with the same owner or a higher epoch), and replication resumes with no gap; partitions that
/// kept their owner replay nothing (a drained node stored its exact position).
#[test]
fn whole_cluster_restart_keeps_the_raft_state() {
    let _heavy = serial::heavy();
    let s = setup("cl-restart");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 300, "before the stop");

    let stopped = Instant::now();
    let statuses = cluster.terminate_all();
    println!("all nodes stopped in {:.2} s: {statuses:?}", secs(stopped));
    for (id, status) in &statuses {
        assert_eq!(
            status.code(),
            Some(0),
            "node {id} exit status after SIGTERM"
        );
    }
    // The source moves on while the cluster is down (about 1 s of load).
    let goal = producers[0].sent() + TOPICS[0].2;
    wait::until_ok(
        "the source to grow while the cluster is down",
        || {
            if producers[0].sent() >= goal {
                Ok(())
            } else {
                Err(format!("{} sent", producers[0].sent()))
            }
        },
        String::new,
    );

    let restarted = Instant::now();
    for id in 1..=3 {
        cluster.restart(id);
    }
    let after = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let moved = moved(&before, &after);
    println!(
        "restarted: settled after {:.2} s, term {} -> {}, leader {} -> {}, {} partitions moved",
        secs(restarted),
        before.term,
        after.term,
        before.leader,
        after.leader,
        moved.len()
    );
    assert_eq!(after.nodes, before.nodes, "the registered nodes survive");
    assert_eq!(
        after.assignment.keys().collect::<Vec<_>>(),
        before.assignment.keys().collect::<Vec<_>>(),
        "the known partitions survive"
    );
    for (p, owned) in &after.assignment {
        assert!(owned.epoch >= before.assignment[p].epoch, "{p:?}: epoch");
        assert!(
            owned.next_source_offset >= before.assignment[p].next_source_offset,
            "{p:?}: the replicated position survives"
        );
    }
    assert!(after.term >= before.term);
    target.wait_growth(&cluster, 200, "after the restart");

    let unmoved: BTreeSet<(String, i32)> = after
        .assignment
        .keys()
        .filter(|p| !moved.contains(p))
        .map(|(_, topic, partition)| (topic.clone(), *partition))
        .collect();
    // The per-partition check: no replay at all where the owner stayed.
    let mut sent_by_topic = Vec::new();
    for producer in producers {
        sent_by_topic.push(producer.stop());
    }
    for (topic, sent) in s.topics.iter().zip(&sent_by_topic) {
        let reader = verify::wait_for_tail(s.target.bootstrap(), &topic.remote, sent, None);
        for (p, (sent, read)) in sent.iter().zip(reader.all()).enumerate() {
            let replays = verify::replay_windows(sent, read)
                .unwrap_or_else(|e| panic!("{}/{p}: {e}", topic.remote));
            println!(
                "{}/{p}: {} records, replays {:?}",
                topic.remote,
                sent.len(),
                replays.windows
            );
            if unmoved.contains(&(topic.name.clone(), p as i32)) {
                assert_eq!(
                    replays.duplicates, 0,
                    "{}/{p}: kept its owner over a clean stop, yet replayed {:?}",
                    topic.remote, replays.windows
                );
            } else {
                let rate = topic.rate / topic.partitions as u64;
                assert!(
                    replays.largest() as f64 <= rate as f64 * REPLAY_PER_HANDOVER.as_secs_f64()
                );
            }
        }
    }
    cluster.assert_running();
}

/// A node whose two peers are frozen (SIGSTOP, longer than the liveness timeout) loses contact
/// with any leader and must stop writing: its Status shows no partition any more and the target
/// gets nothing more from it while the source keeps growing. Once the peers resume, it writes
/// again and the cluster settles. Done for a follower, then for the leader.
#[test]
fn cut_off_node_stops_writing_until_contact_returns() {
    let _heavy = serial::heavy();
    let s = setup("cl-fence");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let mut view = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 300, "before the first isolation");

    for round in ["a follower", "the leader"] {
        let isolated = if round == "the leader" {
            view.leader
        } else {
            (1..=3).find(|id| *id != view.leader).expect("a follower")
        };
        let peers: Vec<u64> = (1..=3).filter(|id| *id != isolated).collect();
        let frozen_at = Instant::now();
        for peer in &peers {
            cluster.pause(*peer);
        }
        // Partitions it holds without a quorum stay listed (with their lag) as `no_quorum`,
        // reading nothing.
        let fenced_after = cluster.wait_no_quorum(
            isolated,
            frozen_at,
            LIVENESS_TIMEOUT + Duration::from_secs(10),
            || format!("round {round}: {}", cluster.describe()),
        );
        println!(
            "isolated {round} (node {isolated}): stopped writing {:.2} s after its peers froze \
             (liveness timeout {LIVENESS_TIMEOUT:?})",
            fenced_after.as_secs_f64()
        );
        // Not absurdly early (the lease runs from the last quorum-confirmed read index, which on a
        // loaded machine can be a second or more old when the peers freeze: stopping early is
        // safe), and, what matters, not much after the lease ran out (a leader first needs an
        // election timeout to step down).
        assert!(
            fenced_after >= LIVENESS_TIMEOUT / 4,
            "fenced after only {fenced_after:?}"
        );
        assert!(
            fenced_after <= LIVENESS_TIMEOUT + Duration::from_secs(4),
            "fenced only after {fenced_after:?}"
        );
        // Nothing more reaches the target (the peers are frozen, the isolated node fenced) while
        // the source keeps growing: observe for two position intervals.
        let fenced = target.counts(Duration::from_secs(5));
        let sent_at_fence: u64 = producers.iter().map(ContinuousProducer::sent).sum();
        let watch_started = Instant::now();
        while watch_started.elapsed() < POSITION_INTERVAL * 2 {
            let now = target.counts(Duration::from_millis(200));
            assert_eq!(
                now, fenced,
                "records reached the target after node {isolated} was fenced"
            );
        }
        let sent_since =
            producers.iter().map(ContinuousProducer::sent).sum::<u64>() - sent_at_fence;
        assert!(sent_since > 0, "the source kept growing");
        println!(
            "nothing written for {:.1} s while {sent_since} records were produced",
            secs(watch_started)
        );
        let owner_status = cluster.status(isolated).expect("the isolated node answers");
        assert_ne!(
            owner_status.raft_role, "leader",
            "a leader without quorum steps down"
        );

        let resumed_at = Instant::now();
        for peer in &peers {
            cluster.resume(*peer);
        }
        let next = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
        println!(
            "peers resumed: settled after {:.2} s, leader {} -> {}, {} partitions moved",
            secs(resumed_at),
            view.leader,
            next.leader,
            moved(&view, &next).len()
        );
        view = next;
        target.wait_growth(&cluster, 200, &format!("after isolating {round}"));
    }
    stop_and_verify(&s, producers, &cluster, &[1, 2, 3]);
}

/// A node frozen (SIGSTOP) for longer than the liveness timeout is declared dead and its
/// partitions go to the others; when it resumes, its lease has long run out: it must not write
/// to the partitions it lost (a zombie after a long GC pause or VM stall). The usual check of the
/// target applies (replays bounded, one per handover or interleaving).
///
/// This used to fail: within ~100 ms of SIGCONT, before its reconcile tick retired them, the
/// resumed node sent its whole backlog of the lost partitions. Partition actors now check the
/// lease (a read-index round confirmed by a quorum, applied here) before every batch, and a
/// fenced flow purges its producer's queue. What remains: the few records already handed to
/// librdkafka's broker connection at the pause are sent on resume (seen: 0-3 records), an
/// interleaving the check allows once per handover; only broker-side fencing (transactional ids per
/// partition epoch) would remove it.
#[test]
fn frozen_node_resumed_after_losing_its_partitions_writes_nothing() {
    let _heavy = serial::heavy();
    let s = setup("cl-zombie");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 300, "before the freeze");

    let frozen = (1..=3).find(|id| *id != before.leader).expect("a follower");
    let others: Vec<u64> = (1..=3).filter(|id| *id != frozen).collect();
    let started = Instant::now();
    cluster.pause(frozen);
    let taken = cluster.wait_settled(&others, PARTITIONS, SETTLE_DEADLINE);
    println!(
        "node {frozen} frozen: its partitions run on {others:?} after {:.2} s",
        secs(started)
    );
    target.wait_growth(&cluster, 200, "while the node is frozen");
    let resumed = Instant::now();
    cluster.resume(frozen);
    let after = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    println!(
        "node {frozen} resumed: balanced again after {:.2} s, {} partitions moved back",
        secs(resumed),
        moved(&taken, &after).len()
    );
    target.wait_growth(&cluster, 200, "after the resume");
    stop_and_verify(&s, producers, &cluster, &[1, 2, 3]);
}

/// Three peers configured, two started: the two elect a leader and take every partition, and the
/// leader logs peer 3 as unreachable, naming its address and since when, and reports it in its
/// status (`unreachable_peers`; a follower only writes to peer 3 if it campaigns, so only the
/// leader is sure to). Started late, peer 3 takes its share, the leader logs it reachable again
/// and its status no longer lists it.
#[test]
fn a_configured_peer_not_started_is_logged_unreachable() {
    let _heavy = serial::heavy();
    let s = setup("cl-absent");
    let started = Instant::now();
    let mut cluster = StraitCluster::start_only(3, &s.base, &[1, 2]);
    let settled = cluster.wait_settled(&[1, 2], PARTITIONS, SETTLE_DEADLINE);
    println!(
        "two of three peers settled after {:.2} s: leader {}, counts {:?}",
        secs(started),
        settled.leader,
        settled.counts(&[1, 2])
    );
    let (leader, address) = (settled.leader, cluster.address(3));
    let line = wait_for_peer_log(&cluster, leader, "raft peer unreachable", 3, &address);
    println!("leader {leader}: {line}");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("since_unix_ms="), "{line}");
    let status = cluster.status(leader).expect("the leader's status");
    let peers: Vec<(u64, &str)> = status
        .unreachable_peers
        .iter()
        .map(|p| (p.node_id, p.address.as_str()))
        .collect();
    assert_eq!(
        peers,
        [(3, address.as_str())],
        "{:?}",
        status.unreachable_peers
    );
    let peer = &status.unreachable_peers[0];
    assert!(
        peer.failures >= 1 && peer.since_unix_ms > 0 && !peer.last_error.is_empty(),
        "{peer:?}"
    );

    cluster.restart(3);
    cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let line = wait_for_peer_log(&cluster, leader, "raft peer reachable again", 3, &address);
    println!("leader {leader}: {line}");
    let status = cluster.status(leader).expect("the leader's status");
    assert_eq!(status.unreachable_peers, [], "peer 3 answers again");
    cluster.assert_running();
}

/// Waits for node `node` to log `message` about peer `peer` at `address`; returns the line.
fn wait_for_peer_log(
    cluster: &StraitCluster,
    node: u64,
    message: &str,
    peer: u64,
    address: &str,
) -> String {
    let process = cluster.process(node);
    let to = format!("to={peer}");
    wait::until(
        &format!("node {node} to log {message:?} naming peer {peer} at {address}"),
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            process
                .log()
                .lines()
                .find(|l| l.contains(message) && l.contains(&to) && l.contains(address))
                .map(str::to_owned)
                .ok_or_else(|| "no such line yet".to_owned())
        },
        || process.log_tail(30),
    )
}

// ---- Refused cluster settings: no broker needed (the flows point at a port nobody listens on).

/// How long a node may take to refuse its cluster settings.
const REFUSE_DEADLINE: Duration = Duration::from_secs(30);

/// A config whose clusters point at a port nobody listens on, with `cluster` settings, its data
/// in `data_dir`.
fn offline_config(data_dir: &Path, cluster: ClusterSettings) -> Config {
    let nowhere = format!("127.0.0.1:{}", broker::free_port());
    let mut config = Config::a_to_b(&nowhere, &nowhere, data_dir, &["orders"]);
    config.cluster = cluster;
    config
}

fn write_config(dir: &Path, name: &str, config: &Config) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, config.toml()).expect("writing a config");
    path
}

#[track_caller]
fn assert_refused(what: &str, out: &CheckOutput, must_name: &[&str]) {
    assert!(
        matches!(out.code, Some(code) if code != 0),
        "{what}: expected a non-zero exit, got {:?}\nstderr:\n{}",
        out.code,
        out.stderr
    );
    for needle in must_name {
        assert!(
            out.stderr.contains(needle),
            "{what}: stderr should name {needle:?}; stderr:\n{}\nstdout:\n{}",
            out.stderr,
            out.stdout
        );
    }
    let error = out
        .stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error"))
        .unwrap_or("");
    println!("{what}: exit {:?}: {error}", out.code);
}

/// Waits until the single node at `address` answers Status as the leader of its cluster of one.
fn wait_single_node_up(node: &Strait, address: &str) {
    wait::until(
        &format!("the node at {address} to lead its cluster"),
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            verify::assert_alive(Some(node));
            let status = status_at(address)?;
            if status.raft_role == "leader" && status.nodes.len() == 1 {
                Ok(())
            } else {
                Err(format!(
                    "role {}, {} nodes",
                    status.raft_role,
                    status.nodes.len()
                ))
            }
        },
        || node.log_tail(30),
    );
}

/// Duplicate node ids, a peer list without this node, a data dir of another cluster, and a join
/// through a member of another cluster are each refused with a clear message and a non-zero
/// exit.
#[test]
fn refuses_bad_cluster_settings() {
    let _heavy = serial::heavy();
    let dir = temp_dir("strait-cluster-bad-");
    let (p1, p2, p3) = (
        broker::free_port(),
        broker::free_port(),
        broker::free_port(),
    );

    // Duplicate node ids in the peer list.
    let config = offline_config(
        &dir.path().join("dup"),
        ClusterSettings {
            node_id: Some(1),
            peers: vec![
                format!("1@127.0.0.1:{p1}"),
                format!("1@127.0.0.1:{p2}"),
                format!("3@127.0.0.1:{p3}"),
            ],
            ..ClusterSettings::default()
        },
    );
    let path = write_config(dir.path(), "dup.toml", &config);
    let out = run_node_to_exit(&path, REFUSE_DEADLINE);
    assert_refused(
        "duplicate node ids",
        &out,
        &["node id 1 is listed twice", "peers", "dup.toml"],
    );

    // A peer list that does not include this node.
    let config = offline_config(
        &dir.path().join("absent"),
        ClusterSettings {
            node_id: Some(4),
            peers: vec![
                format!("1@127.0.0.1:{p1}"),
                format!("2@127.0.0.1:{p2}"),
                format!("3@127.0.0.1:{p3}"),
            ],
            ..ClusterSettings::default()
        },
    );
    let path = write_config(dir.path(), "absent.toml", &config);
    let out = run_node_to_exit(&path, REFUSE_DEADLINE);
    assert_refused(
        "peer list without this node",
        &out,
        &["does not include this node", "id 4", "absent.toml"],
    );

    // The data dir of another cluster: node 1 of cluster "x" ran on it, node 1 of "y" must not.
    let data_dir = dir.path().join("foreign");
    let mut config = offline_config(
        &data_dir,
        ClusterSettings {
            cluster_id: Some("x".to_owned()),
            ..ClusterSettings::default()
        },
    );
    let address = format!("127.0.0.1:{}", config.cluster_port);
    let mut node = Strait::start(&config.toml(), "toml");
    wait_single_node_up(&node, &address);
    let status = node.terminate();
    assert_eq!(status.code(), Some(0), "cluster x node exit status");
    config.cluster.cluster_id = Some("y".to_owned());
    let path = write_config(dir.path(), "foreign.toml", &config);
    let out = run_node_to_exit(&path, REFUSE_DEADLINE);
    assert_refused(
        "data dir of another cluster",
        &out,
        &["data dir", "\"x\"", "\"y\""],
    );
    assert_eq!(
        out.code,
        Some(2),
        "a refused data dir is bad input (exit 2)"
    );

    // Joining through a member of another cluster: the member answers FailedPrecondition and the
    // joining node gives up at once.
    let member_config = offline_config(&dir.path().join("member"), ClusterSettings::default());
    let member_address = format!("127.0.0.1:{}", member_config.cluster_port);
    let member = Strait::start(&member_config.toml(), "toml");
    wait_single_node_up(&member, &member_address);
    let port = broker::free_port();
    let joiner = offline_config(
        &dir.path().join("joiner"),
        ClusterSettings {
            node_id: Some(2),
            join: Some(member_address.clone()),
            advertise: Some(format!("127.0.0.1:{port}")),
            cluster_id: Some("other".to_owned()),
            ..ClusterSettings::default()
        },
    );
    let mut joiner = joiner;
    joiner.cluster_port = port;
    let path = write_config(dir.path(), "joiner.toml", &joiner);
    let started = Instant::now();
    let out = run_node_to_exit(&path, REFUSE_DEADLINE);
    assert_refused(
        "join through another cluster",
        &out,
        &[&member_address, "\"strait\"", "\"other\""],
    );
    println!("refused the join in {:.2} s", secs(started));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a join into another cluster is not retried"
    );
    let member_status = status_at(&member_address).expect("the member still answers");
    assert_eq!(member_status.nodes.len(), 1, "the member registered nobody");
    verify::assert_alive(Some(&member));
}

/// A node joining under the id of a running member, from another address, is refused at once: it
/// exits naming the id and the member's address, and the member keeps its address (and so its
/// traffic), its leadership and its term.
#[test]
fn refuses_a_join_under_a_members_id() {
    let dir = temp_dir("strait-cluster-dup-id-");
    let member_config = offline_config(
        &dir.path().join("member"),
        ClusterSettings {
            node_id: Some(1),
            ..ClusterSettings::default()
        },
    );
    let member_address = format!("127.0.0.1:{}", member_config.cluster_port);
    let member = Strait::start(&member_config.toml(), "toml");
    wait_single_node_up(&member, &member_address);
    let before = status_at(&member_address).expect("the member answers");

    let port = broker::free_port();
    let mut joiner = offline_config(
        &dir.path().join("joiner"),
        ClusterSettings {
            node_id: Some(1),
            join: Some(member_address.clone()),
            advertise: Some(format!("127.0.0.1:{port}")),
            ..ClusterSettings::default()
        },
    );
    joiner.cluster_port = port;
    let path = write_config(dir.path(), "dup-id.toml", &joiner);
    let started = Instant::now();
    let out = run_node_to_exit(&path, REFUSE_DEADLINE);
    assert_refused(
        "join under a member's id",
        &out,
        &["node 1 is already a member", &member_address],
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a join under a taken id is not retried"
    );

    verify::assert_alive(Some(&member));
    let after = status_at(&member_address).expect("the member still answers");
    let nodes: Vec<(u64, &str, bool)> = after
        .nodes
        .iter()
        .map(|n| (n.node_id, n.address.as_str(), n.alive))
        .collect();
    assert_eq!(
        nodes,
        [(1, member_address.as_str(), true)],
        "the member keeps its address"
    );
    assert_eq!(
        (after.raft_role.as_str(), after.term),
        ("leader", before.term),
        "the member still leads, in the same term"
    );
}

/// Membership changes through the Raft transport need the cluster's control token when it has
/// one, like the control API: a node joining without it or with another one is refused at once
/// (`Unauthenticated`, saying which) and never becomes a member; `strait leave` without the token,
/// or of the cluster's only voter, is refused with a non-zero exit and leaves the membership and
/// the node as they were (before, leaving the only voter printed "refused" while the node removed
/// itself and exited); with the token, a node joins, and leaves again. No broker is needed.
#[test]
fn join_and_leave_need_the_control_token() {
    let dir = temp_dir("strait-cluster-token-");
    let token = "cluster-token-0123456789";
    let member_config = offline_config(
        &dir.path().join("member"),
        ClusterSettings {
            node_id: Some(1),
            control_token: Some(token.to_owned()),
            ..ClusterSettings::default()
        },
    );
    let member_address = format!("127.0.0.1:{}", member_config.cluster_port);
    let mut member = Strait::start(&member_config.toml(), "toml");
    let members = || -> Vec<(u64, String)> {
        status_with_token(&member_address, Some(token))
            .expect("the member answers with the token")
            .nodes
            .iter()
            .map(|n| (n.node_id, n.address.clone()))
            .collect()
    };
    wait::until(
        &format!("the node at {member_address} to lead its cluster"),
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            verify::assert_alive(Some(&member));
            let status = status_with_token(&member_address, Some(token))?;
            if status.raft_role == "leader" && status.nodes.len() == 1 {
                Ok(())
            } else {
                Err(format!(
                    "role {}, {} nodes",
                    status.raft_role,
                    status.nodes.len()
                ))
            }
        },
        || member.log_tail(30),
    );
    let alone = vec![(1, member_address.clone())];
    assert_eq!(members(), alone);
    assert!(
        status_at(&member_address)
            .unwrap_err()
            .starts_with("Unauthenticated"),
        "the member's Status needs the token too"
    );

    // Node 2 joins without a token, node 3 with another cluster's: each refused at once.
    for (node_id, joiner_token, refusal) in [
        (
            2,
            None,
            "missing control token: join of node 2 refused, nothing changed",
        ),
        (
            3,
            Some("another-clusters-token-0123"),
            "wrong control token: join of node 3 refused, nothing changed",
        ),
    ] {
        let port = broker::free_port();
        let mut joiner = offline_config(
            &dir.path().join(format!("joiner{node_id}")),
            ClusterSettings {
                node_id: Some(node_id),
                join: Some(member_address.clone()),
                advertise: Some(format!("127.0.0.1:{port}")),
                control_token: joiner_token.map(str::to_owned),
                ..ClusterSettings::default()
            },
        );
        joiner.cluster_port = port;
        let path = write_config(dir.path(), &format!("joiner{node_id}.toml"), &joiner);
        let started = Instant::now();
        let out = run_node_to_exit(&path, REFUSE_DEADLINE);
        assert_refused(
            &format!("join of node {node_id}"),
            &out,
            &["cannot join the cluster", &member_address, refusal],
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a refused token is not retried: {:?}",
            started.elapsed()
        );
        assert_eq!(members(), alone, "node {node_id} never became a member");
    }

    // `strait leave` without the token, or with another one: refused, nothing changed.
    let contact = ["--contact", member_address.as_str()];
    for (extra, refusal) in [
        (
            &[][..],
            "Unauthenticated: missing control token: leave of node 1 refused",
        ),
        (
            &["--token", "not-this-clusters-token"][..],
            "Unauthenticated: wrong control token: leave of node 1 refused",
        ),
    ] {
        let mut args = vec!["leave", "--node", "1"];
        args.extend(contact);
        args.extend(extra);
        let out = run_cli(&args);
        assert_refused(&format!("strait {args:?}"), &out, &[refusal]);
        assert_eq!(out.code, Some(1));
        assert_eq!(members(), alone, "the membership is unchanged");
        member.assert_running();
    }
    // With the token, the only voter cannot leave: that would leave no cluster.
    let out = run_cli(&[
        "leave",
        "--node",
        "1",
        "--token",
        token,
        "--contact",
        &member_address,
    ]);
    assert_refused(
        "leave of the only voter",
        &out,
        &["FailedPrecondition", "node 1 is the cluster's only voter"],
    );
    assert_eq!(members(), alone, "the only voter is still a member");
    member.assert_running();

    // With the cluster's token, node 2 joins, and `strait leave` with the token removes it.
    let port = broker::free_port();
    let mut joiner = offline_config(
        &dir.path().join("joiner-ok"),
        ClusterSettings {
            node_id: Some(2),
            join: Some(member_address.clone()),
            advertise: Some(format!("127.0.0.1:{port}")),
            control_token: Some(token.to_owned()),
            ..ClusterSettings::default()
        },
    );
    joiner.cluster_port = port;
    let joiner_address = format!("127.0.0.1:{port}");
    let mut joined = Strait::start(&joiner.toml(), "toml");
    let both = vec![(1, member_address.clone()), (2, joiner_address.clone())];
    wait::until(
        "node 2 to join with the token",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            verify::assert_alive(Some(&joined));
            let status = status_with_token(&joiner_address, Some(token))?;
            let nodes = members();
            if nodes == both && status.leader_id == 1 {
                Ok(())
            } else {
                Err(format!(
                    "members {nodes:?}, node 2 sees leader {}",
                    status.leader_id
                ))
            }
        },
        || joined.log_tail(30),
    );
    let out = run_cli(&[
        "leave",
        "--node",
        "2",
        "--token",
        token,
        "--contact",
        &member_address,
    ]);
    assert_eq!(
        out.code,
        Some(0),
        "strait leave with the token: stderr:\n{}",
        out.stderr
    );
    assert_eq!(members(), alone, "node 2 was removed");
    member.assert_running();
    // Whether node 2 notices its removal and exits by itself is not asserted here: a node removed
    // within a second of joining may not (known bugs: the node's removal check samples the applied
    // state every 500 ms and misses a removal applied before its first sample; and a joiner builds
    // its Raft configuration from the log, which lacks the voters a cluster bootstrapped with, so
    // once removed it can elect itself). a_removed_node_leaves_cleanly covers a settled member.
    joined.kill9();
}

/// A join contact nobody answers at: the node retries, then gives up with a non-zero exit naming
/// the contact (after the node's join deadline of 60 s). Not heavy: no broker, one idle process;
/// it overlaps with the heavy tests instead of adding a minute to the file.
#[test]
fn refuses_an_unreachable_join_contact() {
    let dir = temp_dir("strait-cluster-unreachable-");
    let port = broker::free_port();
    let contact = format!("127.0.0.1:{}", broker::free_port());
    let mut config = offline_config(
        &dir.path().join("data"),
        ClusterSettings {
            node_id: Some(2),
            join: Some(contact.clone()),
            advertise: Some(format!("127.0.0.1:{port}")),
            ..ClusterSettings::default()
        },
    );
    config.cluster_port = port;
    let path = write_config(dir.path(), "unreachable.toml", &config);
    let started = Instant::now();
    let out = run_node_to_exit(&path, Duration::from_secs(90));
    let elapsed = started.elapsed();
    assert_refused(
        "unreachable join contact",
        &out,
        &["cannot join the cluster", &contact],
    );
    println!("gave up on {contact} after {:.1} s", elapsed.as_secs_f64());
    assert!(
        elapsed <= Duration::from_secs(75),
        "gave up only after {elapsed:?}"
    );
}

#[path = "cluster/control.rs"]
mod control;
#[path = "cluster/handover.rs"]
mod handover;
#[path = "cluster/lost_state.rs"]
mod lost_state;

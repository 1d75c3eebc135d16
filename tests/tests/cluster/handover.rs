//! Planned stops hand over (issue 15): on SIGTERM a node marks itself stopping, the leader moves
//! its partitions to the others through the two-phase release while it still runs, and only then
//! does it drain and exit; restarted, it gets its share back. A rolling restart under load loses
//! and duplicates nothing. A node with nobody to hand to (a cluster of one, or the last one alive
//! without a quorum) does not wait for the handover timeout.

use strait_tests::cluster::assignment_of;

use super::*;

/// `[node] shutdown_handover_timeout_secs` of the nodes that must not wait for it: far above what
/// their stop may take.
const LONG_HANDOVER: u64 = 30;
/// How long a stop may take when there is nobody to hand to: the drain only (stop reading, flush,
/// store positions), far below [`LONG_HANDOVER`].
const QUICK_STOP: Duration = Duration::from_secs(10);

/// SIGTERM node `node`, wait for its clean exit; returns how long it took and its log.
fn sigterm(cluster: &mut StraitCluster, node: u64, deadline: Duration) -> (Duration, String) {
    let started = Instant::now();
    cluster.process(node).send_signal(libc::SIGTERM);
    let (status, log) = cluster.wait_exit_log(node, deadline);
    let took = started.elapsed();
    assert!(
        status.success(),
        "node {node} exited with {status} after SIGTERM\n{log}"
    );
    (took, log)
}

/// The log lines of a node's stop (from the signal on), for messages.
fn stop_lines(log: &str) -> String {
    let from = log.find("SIGTERM").unwrap_or(0);
    log[from..].lines().take(40).collect::<Vec<_>>().join("\n")
}

/// A 3-node cluster under continuous load (9 partitions, 1,500 records/s) restarted node after
/// node (SIGTERM, wait for the exit, start again, wait until it owns its share), the two followers
/// first and the leader last. Each stopped node handed every partition over before it exited:
/// its log says so, a surviving node's state shows none of its partitions owned by it, and the
/// stop took well under the handover timeout. Every record arrives exactly once, in order, with
/// its exact content (no replay at all: every move was a planned, released one), and each
/// restarted node got its three partitions back.
#[test]
fn rolling_restart_under_load_hands_over_and_loses_and_duplicates_nothing() {
    let _heavy = serial::heavy();
    let s = setup("cl-roll");
    let producers = start_load(&s);
    let mut cluster = StraitCluster::start(3, &s.base);
    let mut settled = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut watch = TargetWatch::new(&s);
    watch.wait_growth(&cluster, 50, "before the rolling restart");

    let first_leader = settled.leader;
    let mut order: Vec<u64> = [1, 2, 3]
        .into_iter()
        .filter(|n| *n != first_leader)
        .collect();
    order.push(first_leader);
    for node in order {
        let was_leader = settled.leader == node;
        let owned = settled.owned_by(node);
        assert_eq!(owned.len(), 3, "node {node} owns its share: {owned:?}");
        let others: Vec<u64> = [1, 2, 3].into_iter().filter(|n| *n != node).collect();
        let (took, log) = sigterm(&mut cluster, node, Duration::from_secs(60));
        println!(
            "node {node} ({}) stopped in {:.2} s",
            if was_leader { "leader" } else { "follower" },
            took.as_secs_f64()
        );
        assert!(
            log.contains("partitions handed over") && log.contains("partitions=3"),
            "node {node} did not hand its 3 partitions over before exiting:\n{}",
            stop_lines(&log)
        );
        assert!(!log.contains("handover timed out"), "{}", stop_lines(&log));
        if was_leader {
            assert!(
                log.contains("handed the Raft leadership over"),
                "the stopping leader hands the leadership over:\n{}",
                stop_lines(&log)
            );
        }
        // The release of each partition was committed before the node exited: a survivor's
        // state shows them on the others (allowing it a moment to apply the last entries).
        wait::until(
            &format!("a survivor to show none of node {node}'s partitions on it"),
            Duration::from_secs(5),
            Duration::from_millis(50),
            || {
                let status = cluster
                    .status(others[0])
                    .map_err(|e| format!("node {}: {e}", others[0]))?;
                let on_it: Vec<PartitionId> = assignment_of(&status)
                    .into_iter()
                    .filter(|(_, o)| o.owner == node || o.owner == 0)
                    .map(|(p, _)| p)
                    .collect();
                if on_it.is_empty() {
                    Ok(())
                } else {
                    Err(format!("still on node {node} or unowned: {on_it:?}"))
                }
            },
            || cluster.describe(),
        );
        assert!(
            took < Duration::from_secs(10),
            "node {node}: the stop took {took:?}, the handover timeout's worth"
        );
        watch.wait_growth(&cluster, 20, &format!("node {node} stopped"));

        cluster.restart(node);
        let after = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
        let counts = after.counts(&[1, 2, 3]);
        println!(
            "node {node} restarted: counts {counts:?}, leader {}",
            after.leader
        );
        assert_eq!(
            counts[&node], 3,
            "node {node} got its share back: {counts:?}"
        );
        settled = after;
        watch.wait_growth(&cluster, 20, &format!("node {node} back"));
    }

    let outcome = stop_and_verify(&s, producers, &cluster, &[1, 2, 3]);
    assert_eq!(
        (outcome.duplicates, outcome.windows, outcome.interleavings),
        (0, 0, 0),
        "planned handovers replay nothing: {outcome:?}"
    );
    let statuses = cluster.terminate_all();
    assert!(statuses.values().all(|s| s.success()), "{statuses:?}");
}

/// With nobody to hand to, SIGTERM does not wait for the handover timeout: a cluster of one
/// drains and exits at once, and so does the last node alive of three (no quorum left to commit
/// its stopping mark). Both run with a 30 s handover timeout and must exit well before it.
#[test]
fn a_stop_with_nobody_to_hand_to_does_not_wait() {
    let _heavy = serial::heavy();
    let s = setup("cl-stop-alone");
    let mut base = s.base.clone();
    base.node_extra
        .push(format!("shutdown_handover_timeout_secs = {LONG_HANDOVER}"));

    let mut alone = StraitCluster::start(1, &base);
    alone.wait_settled(&[1], PARTITIONS, SETTLE_DEADLINE);
    let (took, log) = sigterm(&mut alone, 1, Duration::from_secs(60));
    println!("a cluster of one stopped in {:.2} s", took.as_secs_f64());
    assert!(
        log.contains("no handover") && log.contains("no other live node takes partitions"),
        "{}",
        stop_lines(&log)
    );
    assert!(took < QUICK_STOP, "a cluster of one took {took:?} to stop");
    drop(alone);

    let mut three = StraitCluster::start(3, &base);
    three.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    three.kill9(1);
    three.kill9(2);
    let (took, log) = sigterm(&mut three, 3, Duration::from_secs(60));
    println!(
        "the last node alive of three stopped in {:.2} s",
        took.as_secs_f64()
    );
    assert!(log.contains("no handover"), "{}", stop_lines(&log));
    assert!(took < QUICK_STOP, "the last node took {took:?} to stop");
}

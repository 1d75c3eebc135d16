//! A member whose Raft state is not where it looks. Restarted from another working directory with
//! a relative `data_dir`, it finds its own (resolved from its config file's directory) and comes
//! back as itself. Restarted with an empty data dir, it refuses to start as the member it was
//! (it would have forgotten its term, vote and log); started with `--rejoin`, the cluster removes
//! its old membership and it joins again as a new member. A node an operator added with AddNode
//! still starts with `join` on an empty data dir, and is refused once it ran.

use strait_proto::raft::v1::raft_transport_client::RaftTransportClient;
use strait_proto::raft::v1::FindClusterRequest;
use strait_proto::v1::cluster_client::ClusterClient;
use strait_proto::v1::AddNodeRequest;
use strait_tests::cluster::connect;
use strait_tests::strait::{check_config, Launch};

use super::*;

/// A follower is killed, its data dir moved next to a config file that names it `data`, and it is
/// started from an unrelated working directory. `check-config` shows the absolute data dir; the
/// node restarts from its Raft state (its term), bootstraps nothing, creates nothing in the
/// working directory, and the cluster keeps its leader and term.
#[test]
fn a_member_restarted_elsewhere_with_a_relative_data_dir_comes_back_as_itself() {
    let _heavy = serial::heavy();
    let s = setup("cl-reldir");
    let home = temp_dir("strait-home-");
    let elsewhere = temp_dir("strait-cwd-");
    let mut cluster = StraitCluster::start(3, &s.base);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let node = [1, 2, 3]
        .into_iter()
        .find(|n| *n != before.leader)
        .expect("a follower");

    cluster.kill9(node);
    let data = home.path().join("data");
    std::fs::rename(&cluster.config(node).data_dir, &data).expect("moving the data dir");
    cluster.config_mut(node).data_dir = PathBuf::from("data");
    let config_file = home.path().join("node.toml");
    let started = Instant::now();
    cluster.restart_with(
        node,
        &Launch {
            config_file: Some(config_file.clone()),
            cwd: Some(elsewhere.path().to_owned()),
            ..Launch::default()
        },
    );

    let check = check_config(&config_file, &[]);
    assert_eq!(check.code, Some(0), "check-config: {}", check.stderr);
    let shown = format!("data dir:          {}\n", data.display());
    assert!(
        check.stdout.contains(&shown),
        "check-config shows the absolute data dir {shown:?}:\n{}",
        check.stdout
    );

    let after = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    println!(
        "node {node} restarted from {} on data_dir = \"data\": settled after {:.2} s, leader {} \
         term {} (before: leader {} term {})",
        elsewhere.path().display(),
        secs(started),
        after.leader,
        after.term,
        before.leader,
        before.term
    );
    let log = cluster.process(node).log();
    let restarted = log
        .lines()
        .find(|l| l.contains("restarting from this node's raft state"))
        .unwrap_or_else(|| panic!("node {node} did not restart from its raft state:\n{log}"));
    println!("node {node}: {restarted}");
    assert!(
        restarted.contains(&format!("term={}", before.term)),
        "node {node} kept its term {}: {restarted}",
        before.term
    );
    assert!(
        !log.contains("bootstrapped a new cluster"),
        "node {node} bootstrapped:\n{log}"
    );
    assert_eq!(
        (after.leader, after.term),
        (before.leader, before.term),
        "the cluster keeps its leader and term"
    );
    assert_eq!(
        after.nodes, before.nodes,
        "the same members, same addresses"
    );
    let stray: Vec<_> = std::fs::read_dir(elsewhere.path())
        .expect("listing the working directory")
        .collect();
    assert!(
        stray.is_empty(),
        "created in the working directory: {stray:?}"
    );
    cluster.assert_running();
}

/// A follower is killed and started again on an empty data dir, as after a lost disk. It refuses
/// (exit 2), naming its data dir, what the cluster knows of it and both ways out, and bootstraps
/// nothing; the two others go on. Started with `--rejoin`, it is removed and added back as a new
/// member: the cluster settles over three again with every partition owned once, it replicates,
/// and the target has every record (no gap, replays bounded by the handovers).
#[test]
fn a_member_with_an_empty_data_dir_refuses_then_rejoins_with_the_flag() {
    let _heavy = serial::heavy();
    let s = setup("cl-lost");
    let empty = temp_dir("strait-empty-");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 200, "before the loss");
    let node = [1, 2, 3]
        .into_iter()
        .find(|n| *n != before.leader)
        .expect("a follower");
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|n| *n != node).collect();

    cluster.kill9(node);
    cluster.config_mut(node).data_dir = empty.path().to_owned();
    let started = Instant::now();
    cluster.restart(node);
    let (status, error, log) = exit_error(&mut cluster, node, REFUSE_DEADLINE);
    println!(
        "node {node} on an empty data dir: {status} after {:.2} s: {error}",
        secs(started)
    );
    assert_eq!(status.code(), Some(2), "a refusal is exit 2:\n{log}");
    for needle in [
        format!(
            "node {node} has no Raft state in its data dir {}",
            empty.path().display()
        ),
        format!("already runs with node {node} as a member"),
        format!(
            "node {node} ran as a member, registered at {}",
            cluster.address(node)
        ),
        "point data_dir at it".to_owned(),
        "--rejoin".to_owned(),
    ] {
        assert!(
            error.contains(&needle),
            "the error names {needle:?}: {error}"
        );
    }
    assert!(
        !log.contains("bootstrapped a new cluster"),
        "it bootstrapped:\n{log}"
    );
    cluster.wait_settled(&others, PARTITIONS, SETTLE_DEADLINE);
    target.wait_growth(&cluster, 100, "while the node is out");

    let started = Instant::now();
    cluster.restart_with(
        node,
        &Launch {
            args: vec!["--rejoin".to_owned()],
            ..Launch::default()
        },
    );
    let after = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let counts = after.counts(&[1, 2, 3]);
    println!(
        "node {node} rejoined: settled over three after {:.2} s, leader {} term {}, counts \
         {counts:?}",
        secs(started),
        after.leader,
        after.term
    );
    assert!(counts[&node] >= PARTITIONS / 3, "its share: {counts:?}");
    assert_eq!(
        after.nodes, before.nodes,
        "the same members, same addresses"
    );
    let log = cluster.process(node).log();
    for needle in [
        "the cluster forgot this node's old membership",
        "discarded this node's raft state",
        "rejoined the cluster as a new member",
    ] {
        assert!(log.contains(needle), "node {node} logs {needle:?}:\n{log}");
    }
    assert!(
        !log.contains("bootstrapped a new cluster"),
        "it bootstrapped:\n{log}"
    );
    target.wait_growth(&cluster, 200, "after the rejoin");
    stop_and_verify(&s, producers, &cluster, &[1, 2, 3]);
    cluster.assert_running();
}

/// An operator adds node 2 to a running node 1 (AddNode registers it and makes it a voter); node 2
/// then starts with `join` on an empty data dir and joins: being registered on its behalf is no
/// sign it ran. Once it ran, killed and started again on an empty data dir, the join is refused
/// (exit 2) as a lost Raft state. No broker: the flows point at a port nobody listens on.
#[test]
fn a_node_added_by_an_operator_joins_on_an_empty_data_dir_and_is_refused_once_it_ran() {
    let dir = temp_dir("strait-cluster-added-");
    let member_config = offline_config(&dir.path().join("member"), ClusterSettings::default());
    let member_address = format!("127.0.0.1:{}", member_config.cluster_port);
    let member = Strait::start(&member_config.toml(), "toml");
    wait_single_node_up(&member, &member_address);

    let port = broker::free_port();
    let address = format!("127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let added = runtime.block_on(async {
        let mut client = ClusterClient::new(connect(&member_address, None).await?);
        client
            .add_node(AddNodeRequest {
                node_id: 2,
                address: address.clone(),
            })
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    });
    added.expect("AddNode");
    // What node 1 tells a starting node 2 (as its own start-up check asks it).
    let find = || {
        runtime.block_on(async {
            let mut client = RaftTransportClient::new(connect(&member_address, None).await?);
            client
                .find_cluster(FindClusterRequest {
                    cluster_id: "strait".to_owned(),
                    node_id: 2,
                })
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
        })
    };
    let before = find().expect("FindCluster");
    assert_eq!(
        (before.registered_address.as_str(), before.has_run),
        (address.as_str(), false),
        "registered by the operator, not run: {before:?}"
    );

    let mut joiner = offline_config(
        &dir.path().join("joiner"),
        ClusterSettings {
            node_id: Some(2),
            join: Some(member_address.clone()),
            advertise: Some(address.clone()),
            ..ClusterSettings::default()
        },
    );
    joiner.cluster_port = port;
    let mut node2 = Strait::start(&joiner.toml(), "toml");
    let ran = wait::until(
        "node 2 to join and announce itself as running",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            verify::assert_alive(Some(&node2));
            let seen = find()?;
            if seen.has_run {
                Ok(seen)
            } else {
                Err(format!("{seen:?}"))
            }
        },
        || node2.log_tail(30),
    );
    println!("node 2 joined: node 1 answers {ran:?}");
    let log = node2.log();
    assert!(log.contains("joined the cluster"), "{log}");
    assert!(!log.contains("bootstrapped a new cluster"), "{log}");

    node2.kill9();
    let empty = dir.path().join("joiner-empty");
    joiner.data_dir = empty.clone();
    let path = write_config(dir.path(), "joiner-empty.toml", &joiner);
    let out = run_node_to_exit(&path, REFUSE_DEADLINE);
    assert_refused(
        "a node that ran, on an empty data dir, with join",
        &out,
        &[
            &format!(
                "node 2 has no Raft state in its data dir {}",
                empty.display()
            ),
            &format!("node 2 ran as a member, registered at {address}"),
            "--rejoin",
        ],
    );
    assert_eq!(out.code, Some(2), "a refusal is exit 2");
    verify::assert_alive(Some(&member));
}

/// A follower is killed and, while it is down, removed through another member (`strait leave`).
/// Started again on its old data dir, it never hears of the removal from a leader (it is no
/// longer a voter): it asks the others, learns it, and refuses (exit 2) with the command to
/// rejoin, registering nothing; started with `--rejoin`, it joins as a new member and takes its
/// share back.
#[test]
fn a_node_removed_while_down_refuses_to_run_on_its_old_membership() {
    let _heavy = serial::heavy();
    let s = setup("cl-rmdown");
    let mut cluster = StraitCluster::start(3, &s.base);
    let before = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let node = [1, 2, 3]
        .into_iter()
        .find(|n| *n != before.leader)
        .expect("a follower");
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|n| *n != node).collect();

    cluster.kill9(node);
    strait_leave(&cluster, node, before.leader);
    let without = cluster.wait_settled(&others, PARTITIONS, SETTLE_DEADLINE);
    assert!(without.nodes.iter().all(|(id, _, _)| *id != node));

    let started = Instant::now();
    cluster.restart(node);
    let (status, error, log) = exit_error(&mut cluster, node, REFUSE_DEADLINE);
    println!(
        "node {node} removed while down, restarted: {status} after {:.2} s: {error}",
        secs(started)
    );
    assert_eq!(status.code(), Some(2), "a refusal is exit 2:\n{log}");
    for needle in [
        format!("node {node} was removed from the cluster"),
        "says so".to_owned(),
        "--rejoin".to_owned(),
    ] {
        assert!(
            error.contains(&needle),
            "the error names {needle:?}: {error}"
        );
    }
    let still = cluster.wait_settled(&others, PARTITIONS, SETTLE_DEADLINE);
    assert!(
        still.nodes.iter().all(|(id, _, _)| *id != node),
        "the removed node registered itself again: {:?}",
        still.nodes
    );
    assert_eq!(still.term, without.term, "it disturbed no election");

    cluster.restart_with(
        node,
        &Launch {
            args: vec!["--rejoin".to_owned()],
            ..Launch::default()
        },
    );
    let after = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let counts = after.counts(&[1, 2, 3]);
    assert!(counts[&node] >= PARTITIONS / 3, "its share: {counts:?}");
    cluster.assert_running();
}

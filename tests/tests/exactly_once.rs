//! The exactly-once mode (issue 14): a flow with `exactly_once = true` writes the target in Kafka
//! transactions and commits each source position in the same transaction, so a `read_committed`
//! consumer of the target sees every source record exactly once, in source order per partition,
//! whatever happens to the nodes. Three-node clusters under a steady load (24 partitions), each
//! test ending with the independent check of `strait_tests::eos`: the remote topic read
//! `read_committed` from the start, compared record for record (key, value, headers, timestamp,
//! order) with what was produced to the source; missing and duplicates per partition, both 0.
//!
//! - `ten_kill9s_of_followers_and_leaders_under_load`: ten kill -9s in turn (followers and the
//!   Raft leader), some waiting for the survivors to take the partitions over, some restarting
//!   the node at once; every partition flows again between two kills.
//! - `a_frozen_zombie_is_fenced_by_the_target`: SIGSTOP a node (a follower, then the leader)
//!   until the others took its partitions over, then SIGCONT: its late transactions must be
//!   fenced or aborted by the target broker.
//! - `a_node_cut_from_its_peers_is_fenced_by_the_target`: a follower cut off from its peers, not
//!   from the brokers (each node in a network namespace of its own, see `faults.rs`), until the
//!   others took its partitions over; then healed.
//! - `drain_move_and_undrain_under_load`: a drain, two MovePartitions, an undrain.
//! - `whole_cluster_restart_under_load`: every node stopped with SIGTERM, then started again.
//! - `target_broker_killed_and_restarted_under_load`: the target cluster (one broker of the
//!   test's own) killed -9 and started again.
//! - `the_checker_sees_committed_transactions_only`: the checker itself against real Kafka
//!   transactions (committed and aborted), no Strait involved.
//!
//! [`EXACTLY_ONCE`] (or `STRAIT_TEST_EXACTLY_ONCE=off`) runs the same scenarios at-least-once:
//! then nothing may be missing (nor out of order), and duplicates are expected and only counted.
//! Figures are printed (`--nocapture`): per partition, the totals, the records aborted
//! transactions left in the log, the time each test took.

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use strait_tests::cluster::{secs, translate_offsets, Settled, StraitCluster, LIVENESS_TIMEOUT};
use strait_tests::config::Config;
use strait_tests::data::{self, ContinuousProducer, Record, TestProducer};
use strait_tests::eos;
use strait_tests::kafka::KafkaSpec;
use strait_tests::netns::Net;
use strait_tests::strait::run_cli_ok;
use strait_tests::verify::{self, Isolation, TopicReader};
use strait_tests::{admin, names, serial, wait, Broker};

/// Whether the flows run in the exactly-once mode. `false` runs every scenario at-least-once,
/// which checks the harness itself (duplicates then expected after a kill -9 or a zombie, nothing
/// missing). `STRAIT_TEST_EXACTLY_ONCE=off` does the same without editing.
const EXACTLY_ONCE: bool = true;
/// `transaction_interval_ms` of the flows: how often a transaction commits.
const TRANSACTION_INTERVAL_MS: u64 = 100;
const NODES: [u64; 3] = [1, 2, 3];
const FLOW: &str = "A->B";
/// One source topic: 8 partitions per node over three nodes.
const PARTITIONS: i32 = 24;
/// Records per second over all partitions (100 per partition).
const RATE: u64 = 2400;
/// How long the cluster may take to settle after a change.
const SETTLE_DEADLINE: Duration = Duration::from_secs(60);
/// Records every partition must gain on the target (read `read_committed`) for it to count as
/// flowing: half a second of its production.
const FLOWING: usize = 50;

fn exactly_once() -> bool {
    match std::env::var("STRAIT_TEST_EXACTLY_ONCE") {
        Ok(v) if matches!(v.trim(), "off" | "0" | "false") => false,
        Ok(v) if matches!(v.trim(), "on" | "1" | "true") => true,
        _ => EXACTLY_ONCE,
    }
}

fn mode() -> &'static str {
    if exactly_once() {
        "exactly-once"
    } else {
        "at-least-once"
    }
}

/// The brokers are declared before the net: dropped first, while their addresses still exist.
struct Setup {
    source: Broker,
    target: Broker,
    topic: String,
    remote: String,
    base: Config,
    started: Instant,
    /// The nodes' network namespaces, for the tests that cut links.
    net: Option<Net>,
}

/// A topic of [`PARTITIONS`] partitions on the shared source, and the flow `A->B` replicating it,
/// in the mode [`exactly_once`] says.
fn setup(prefix: &str) -> Setup {
    let (source, target) = Broker::pair();
    setup_on(prefix, source, target, None)
}

/// [`setup`] with a network namespace per node and two Apache Kafka clusters of the test's own
/// on the namespaces' bridge (see `faults.rs`).
fn setup_in_net(prefix: &str) -> Setup {
    let net = Net::new(&NODES, 2);
    let mut brokers = Broker::start_kafka_all(&[
        KafkaSpec::default().on_host(net.service_ip(0)),
        KafkaSpec::default().on_host(net.service_ip(1)),
    ]);
    let target = brokers.pop().expect("two clusters");
    let source = brokers.pop().expect("two clusters");
    setup_on(prefix, source, target, Some(net))
}

fn setup_on(prefix: &str, source: Broker, target: Broker, net: Option<Net>) -> Setup {
    let started = Instant::now();
    let topic = names::unique(prefix);
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let mut base = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        Path::new("unused: each node gets its own"),
        &[&topic],
    );
    if exactly_once() {
        base.flow().toml_extra.extend([
            "exactly_once = true".to_owned(),
            format!("transaction_interval_ms = {TRANSACTION_INTERVAL_MS}"),
        ]);
    }
    println!(
        "{}: {topic}, {PARTITIONS} partitions, {RATE} records/s",
        mode()
    );
    Setup {
        remote: format!("A.{topic}"),
        topic,
        source,
        target,
        base,
        started,
        net,
    }
}

fn start_load(s: &Setup) -> ContinuousProducer {
    ContinuousProducer::start(
        s.source.bootstrap(),
        &s.topic,
        PARTITIONS,
        RATE,
        0,
        data::base_timestamp(),
        0,
    )
}

/// A `read_committed` reader of the remote topic, to see that every partition flows.
struct Watch {
    reader: TopicReader,
}

impl Watch {
    fn new(s: &Setup, cluster: &StraitCluster) -> Watch {
        cluster.assert_running();
        verify::wait_for_topic(s.target.bootstrap(), &s.remote, PARTITIONS as usize, None);
        Watch {
            reader: TopicReader::with_isolation(
                s.target.bootstrap(),
                &s.remote,
                PARTITIONS as usize,
                Isolation::ReadCommitted,
            ),
        }
    }

    /// Waits until every partition got `by` more committed records on the target than now.
    fn wait_flowing(&mut self, cluster: &StraitCluster, by: usize, what: &str) {
        self.reader.catch_up(Duration::from_millis(300));
        let baseline = self.reader.counts();
        let started = Instant::now();
        wait::until(
            &format!("every partition to get {by} more committed records on the target ({what})"),
            Duration::from_secs(60),
            Duration::ZERO,
            || {
                cluster.assert_running();
                self.reader.catch_up(Duration::from_millis(100));
                let behind: Vec<String> = self
                    .reader
                    .counts()
                    .iter()
                    .zip(&baseline)
                    .enumerate()
                    .filter(|(_, (now, then))| **now < **then + by)
                    .map(|(p, (now, then))| format!("p{p}: +{}", now - then))
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
            "{what}: every partition +{by} committed records in {:.2} s",
            secs(started)
        );
    }
}

/// Stops the load, waits until the target holds every record produced (read `read_committed`),
/// then checks it record for record: nothing missing, nothing out of order, nothing foreign, and
/// in the exactly-once mode no duplicate (the partition reads back equal to the source), and
/// each partition's position committed with the records (the offset of the remote partition in
/// group `strait-eos.A-B` on the target) is the source's end offset. Prints the figures.
fn stop_and_check(s: &Setup, producer: ContinuousProducer, cluster: &StraitCluster, what: &str) {
    let sent = producer.stop();
    cluster.assert_running();
    let waited = Instant::now();
    let read = verify::wait_for_tail_with(
        s.target.bootstrap(),
        &s.remote,
        &sent,
        None,
        Isolation::ReadCommitted,
    )
    .into_records();
    let caught_up = waited.elapsed();
    let report = eos::check(&sent, &read);
    let in_log = eos::records_in_log(s.target.bootstrap(), &s.remote, PARTITIONS as usize);
    let in_log: usize = in_log.iter().sum();
    println!("{what} ({}): the target read_committed:\n{report}", mode());
    println!(
        "FIGURES {what} ({}): sent {}, read committed {}, missing {}, duplicates {}, \
         out-of-order {}, strangers {}; records in the log {} (aborted transactions hold {}); \
         caught up {:.2} s after the load stopped; test took {:.1} s",
        mode(),
        report.sent(),
        report.read(),
        report.missing(),
        report.duplicates(),
        report.out_of_order(),
        report.strangers(),
        in_log,
        in_log.saturating_sub(report.read()),
        caught_up.as_secs_f64(),
        secs(s.started)
    );
    let mut failures = Vec::new();
    for p in &report.partitions {
        if p.missing > 0 || p.out_of_order > 0 || p.strangers > 0 {
            failures.push(format!(
                "p{}: {} missing, {} out of order, {} strangers",
                p.partition, p.missing, p.out_of_order, p.strangers
            ));
        }
        if exactly_once() && p.duplicates > 0 {
            failures.push(format!("p{}: {} duplicates", p.partition, p.duplicates));
        }
    }
    assert!(
        failures.is_empty(),
        "{what} ({}): the target is not what the source holds:\n{}\n{report}",
        mode(),
        failures.join("\n")
    );
    if exactly_once() {
        for (p, (sent, read)) in sent.iter().zip(&read).enumerate() {
            verify::assert_same_records(&format!("{}/{p}", s.remote), sent, read);
        }
        check_committed_positions(s, &sent);
        check_offset_map(s, cluster, &sent);
    }
    cluster.assert_running();
}

/// The offset map stays exact through the scenario: once the cluster state has the runs of
/// everything committed, every source offset translates `exact` (the test producer writes no
/// transaction and nothing is compacted: no source offset is a gap), target offsets grow with
/// source offsets, and the target record at a sample of translated offsets is the source's. A
/// node that crashed after committing records whose runs it had not proposed yet must not leave a
/// hole (the next owner takes those runs from the committed position's metadata).
fn check_offset_map(s: &Setup, cluster: &StraitCluster, sent: &[Vec<Record>]) {
    let contact = cluster.address(cluster.running()[0]);
    let offsets: Vec<(&str, i32, i64)> = sent
        .iter()
        .enumerate()
        .flat_map(|(p, records)| (0..records.len() as i64).map(move |o| (p as i32, o)))
        .map(|(p, o)| (s.topic.as_str(), p, o))
        .collect();
    let translated = wait::until(
        "every source offset to translate exactly",
        Duration::from_secs(15),
        Duration::from_millis(500),
        || {
            let translated = translate_offsets(&contact, FLOW, &offsets);
            let inexact: Vec<String> = offsets
                .iter()
                .zip(&translated)
                .filter(|(_, (_, _, method))| method != "exact")
                .take(10)
                .map(|((_, p, o), (_, t, method))| format!("p{p}/{o}: {method} {t}"))
                .collect();
            if inexact.is_empty() {
                Ok(translated)
            } else {
                Err(inexact.join(", "))
            }
        },
        || cluster.describe(),
    );
    let consumer: BaseConsumer = admin::client_config(s.target.bootstrap())
        .set("group.id", "strait-tests-offset-map")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut at = 0;
    for (p, records) in sent.iter().enumerate() {
        let targets: Vec<i64> = translated[at..at + records.len()]
            .iter()
            .map(|(_, t, _)| *t)
            .collect();
        at += records.len();
        assert!(
            targets.windows(2).all(|w| w[0] < w[1]),
            "p{p}: target offsets do not grow with source offsets"
        );
        let n = records.len();
        for k in [0, n / 3, n / 2, 2 * n / 3, n - 1] {
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(&s.remote, p as i32, Offset::Offset(targets[k]))
                .expect("offset");
            consumer.assign(&list).expect("assign");
            let message = wait::until(
                &format!("the record at {}/{p}@{}", s.remote, targets[k]),
                Duration::from_secs(10),
                Duration::ZERO,
                || match consumer.poll(Duration::from_millis(500)) {
                    Some(Ok(m)) => Ok(verify::to_record(&m)),
                    Some(Err(e)) => Err(e.to_string()),
                    None => Err("nothing yet".to_owned()),
                },
                String::new,
            );
            assert_eq!(
                message, records[k],
                "p{p}: source offset {k} translates to target {}, which holds another record",
                targets[k]
            );
        }
    }
    println!(
        "the offset map translates all {} source offsets exactly",
        offsets.len()
    );
}

/// In the exactly-once mode the source position is committed with the records, as the offset of
/// the remote topic's partition in group `strait-eos.A-B` on the target: once every record is
/// there, it is the source's end offset (the test producer writes no transaction: source offsets
/// are `0..sent`).
fn check_committed_positions(s: &Setup, sent: &[Vec<Record>]) {
    let group = "strait-eos.A-B";
    let want: Vec<(i32, i64)> = sent
        .iter()
        .enumerate()
        .map(|(p, records)| (p as i32, records.len() as i64))
        .collect();
    wait::until(
        &format!("the positions committed in group {group} on the target to be the source's ends"),
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            let committed =
                admin::committed_offsets(s.target.bootstrap(), group, &s.remote, PARTITIONS);
            let wrong: Vec<String> = want
                .iter()
                .filter(|(p, end)| committed.get(p) != Some(end))
                .map(|(p, end)| format!("p{p}: {:?}, not {end}", committed.get(p)))
                .collect();
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(wrong.join(", "))
            }
        },
        String::new,
    );
}

/// The checker against real Kafka transactions, with no Strait: records of aborted
/// transactions are in the log (a read_uncommitted read counts them as duplicates) and a
/// `read_committed` read skips them, so the check finds the committed records exactly.
#[test]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn the_checker_sees_committed_transactions_only() {
    let target = Broker::target();
    let topic = names::unique("eos-checker");
    admin::create_topic(target.bootstrap(), &topic, 2);
    let base_ts = data::base_timestamp();
    let producer = TestProducer::transactional(target.bootstrap(), &names::unique("eos-checker"));
    let send = |partition: i32, seqs: std::ops::Range<u64>| {
        for record in data::generate_range(partition, seqs, base_ts) {
            producer.send(&topic, partition, &record);
        }
    };
    producer.begin();
    send(0, 0..100);
    send(1, 0..100);
    producer.commit();
    // What a zombie would write: p0 again from 50 (duplicates), p1 further (its own retry
    // follows, committed).
    producer.begin();
    send(0, 50..100);
    send(1, 100..130);
    producer.abort();
    producer.begin();
    send(1, 100..130);
    send(0, 100..120);
    producer.commit();
    let sent = vec![
        data::generate_range(0, 0..120, base_ts),
        data::generate_range(1, 0..130, base_ts),
    ];

    let committed = verify::wait_for_tail_with(
        target.bootstrap(),
        &topic,
        &sent,
        None,
        Isolation::ReadCommitted,
    );
    let report = eos::check(&sent, committed.all());
    println!("read_committed:\n{report}");
    assert!(report.exact(), "{report}");
    assert_eq!(
        eos::records_in_log(target.bootstrap(), &topic, 2),
        vec![170, 160]
    );
    let uncommitted = verify::wait_for_tail_with(
        target.bootstrap(),
        &topic,
        &sent,
        None,
        Isolation::ReadUncommitted,
    );
    let report = eos::check(&sent, uncommitted.all());
    println!("read_uncommitted:\n{report}");
    let found: Vec<(usize, usize, usize)> = report
        .partitions
        .iter()
        .map(|p| (p.missing, p.duplicates, p.out_of_order))
        .collect();
    assert_eq!(found, vec![(0, 50, 0), (0, 30, 0)], "{report}");
}

/// Prints what the nodes logged about fencing (a new owner fencing a dead node's transactional
/// id, a node finding its own producer fenced): whether a scenario exercised the broker's fencing
/// at all. For the figures only: the check of the target decides.
fn print_fencing(cluster: &StraitCluster, what: &str) {
    for id in cluster.running() {
        let log = cluster.process(id).log();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("fenced")).collect();
        println!(
            "{what}: node {id} logged {} lines about fencing",
            lines.len()
        );
        for line in lines.iter().take(3) {
            println!("  {line}");
        }
    }
}

/// A 3-node cluster copying a steady load, settled, every partition flowing on the target (each
/// node in its namespace when the setup has a net).
fn start_under_load(s: &Setup) -> (StraitCluster, ContinuousProducer, Settled, Watch) {
    let cluster = match &s.net {
        Some(net) => StraitCluster::start_in(net, 3, &s.base),
        None => StraitCluster::start(3, &s.base),
    };
    let producer = start_load(s);
    let view = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
    let mut watch = Watch::new(s, &cluster);
    watch.wait_flowing(&cluster, FLOWING * 2, "before the first fault");
    (cluster, producer, view, watch)
}

/// Ten kill -9s under load, in turn a follower and the leader. After a kill the node is either
/// restarted once the other two took its partitions over (they fence its transactional id and
/// resume from its committed positions), or restarted at once (it fences its own previous
/// incarnation and resumes its partitions, unless it was declared dead meanwhile); either way
/// the cluster settles on all three and every partition flows before the next kill. Then: 0
/// missing, 0 duplicates.
#[test]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn ten_kill9s_of_followers_and_leaders_under_load() {
    let _heavy = serial::heavy();
    let s = setup("eos-kill9");
    let (mut cluster, producer, mut view, mut watch) = start_under_load(&s);
    let mut followers_killed = 0;
    for round in 0..10 {
        let leader = round % 2 == 1;
        let victim = if leader {
            view.leader
        } else {
            // Alternate between the two followers.
            let followers: Vec<u64> = NODES.into_iter().filter(|id| *id != view.leader).collect();
            followers_killed += 1;
            followers[followers_killed % 2]
        };
        // Rounds 0, 1 (follower, leader) wait for the takeover; 2, 3 restart at once; and so on.
        let takeover = round % 4 < 2;
        let what = format!(
            "kill {} of node {victim} ({}, {})",
            round + 1,
            if leader { "the leader" } else { "a follower" },
            if takeover {
                "restarted after the takeover"
            } else {
                "restarted at once"
            }
        );
        let killed_at = Instant::now();
        cluster.kill9(victim);
        if takeover {
            let survivors: Vec<u64> = NODES.into_iter().filter(|id| *id != victim).collect();
            let taken = cluster.wait_settled(&survivors, PARTITIONS as usize, SETTLE_DEADLINE);
            println!(
                "{what}: survivors {survivors:?} run every partition after {:.2} s (leader {})",
                secs(killed_at),
                taken.leader
            );
            watch.wait_flowing(&cluster, FLOWING, &format!("{what}: on the survivors"));
        }
        cluster.restart(victim);
        view = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
        watch.wait_flowing(&cluster, FLOWING, &format!("{what}: all three again"));
        println!(
            "{what}: settled and flowing {:.2} s after the kill (leader {})",
            secs(killed_at),
            view.leader
        );
    }
    drop(watch);
    stop_and_check(&s, producer, &cluster, "ten kill -9s");
}

/// A node frozen (SIGSTOP) with transactions open, until the others took its partitions over
/// (its lease ran out: the status shows them running elsewhere) and wrote more of them; then
/// resumed (SIGCONT). Whatever it still sends must be refused or aborted by the target broker
/// (its transactional id fenced by the new owners). Done for a follower, then for the leader.
#[test]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn a_frozen_zombie_is_fenced_by_the_target() {
    let _heavy = serial::heavy();
    let s = setup("eos-zombie");
    let (mut cluster, producer, mut view, mut watch) = start_under_load(&s);
    for round in ["a follower", "the leader"] {
        let frozen = if round == "the leader" {
            view.leader
        } else {
            NODES
                .into_iter()
                .find(|id| *id != view.leader)
                .expect("a follower")
        };
        let held = view.owned_by(frozen).len();
        let others: Vec<u64> = NODES.into_iter().filter(|id| *id != frozen).collect();
        let frozen_at = Instant::now();
        cluster.pause(frozen);
        let taken = cluster.wait_settled(&others, PARTITIONS as usize, SETTLE_DEADLINE);
        println!(
            "{round} (node {frozen}, {held} partitions) frozen: {others:?} run every partition \
             after {:.2} s (leader {})",
            secs(frozen_at),
            taken.leader
        );
        // The new owners write well past where the zombie stood.
        watch.wait_flowing(
            &cluster,
            FLOWING * 4,
            &format!("{round} frozen, its partitions moved"),
        );
        let resumed_at = Instant::now();
        cluster.resume(frozen);
        view = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
        watch.wait_flowing(&cluster, FLOWING, &format!("{round} resumed"));
        println!(
            "{round} (node {frozen}) resumed: settled and flowing after {:.2} s (leader {})",
            secs(resumed_at),
            view.leader
        );
    }
    drop(watch);
    print_fencing(&cluster, "frozen zombies");
    stop_and_check(&s, producer, &cluster, "frozen zombies");
}

/// A follower cut off from its peers (not from the brokers: nftables rules in its network
/// namespace), with transactions open, until the others took its partitions over and wrote more
/// of them; it loses its lease and stops, and whatever it had open or still sends must be fenced
/// or aborted by the target broker. Then the link heals and the cluster settles on all three.
#[test]
#[cfg_attr(
    no_netns,
    ignore = "needs root, iproute2 and nftables for network namespaces (see tests/build.rs)"
)]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn a_node_cut_from_its_peers_is_fenced_by_the_target() {
    let _heavy = serial::heavy();
    let mut s = setup_in_net("eos-cut");
    let (cluster, producer, view, mut watch) = start_under_load(&s);
    let net = s.net.as_mut().expect("a net");
    let victim = NODES
        .into_iter()
        .find(|id| *id != view.leader)
        .expect("a follower");
    let others: Vec<u64> = NODES.into_iter().filter(|id| *id != victim).collect();
    let cut_at = Instant::now();
    net.cut_from_peers(victim, &NODES);
    println!(
        "node {victim} ({} partitions) cut from its peers: {}",
        view.owned_by(victim).len(),
        net.describe()
    );
    let taken = cluster.wait_settled_among(&others, &others, PARTITIONS as usize, SETTLE_DEADLINE);
    println!(
        "{others:?} run every partition {:.2} s after the cut (leader {}; lease {:?})",
        secs(cut_at),
        taken.leader,
        LIVENESS_TIMEOUT
    );
    watch.wait_flowing(&cluster, FLOWING * 4, "cut off, its partitions moved");
    let healed_at = Instant::now();
    net.heal(victim);
    let after = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
    watch.wait_flowing(&cluster, FLOWING, "healed");
    println!(
        "healed after a {:.1} s cut: settled and flowing {:.2} s later (leader {})",
        (healed_at - cut_at).as_secs_f64(),
        secs(healed_at),
        after.leader
    );
    drop(watch);
    print_fencing(&cluster, "a node cut from its peers");
    stop_and_check(&s, producer, &cluster, "a node cut from its peers");
}

/// Planned moves under load: a node drained (`strait drain`: it holds nothing, the others run
/// everything), two partitions moved between the other two (`strait move`), the node undrained
/// (it gets its share back). Each move goes through the release of the old owner; in the
/// exactly-once mode the new owner starts from the position committed with the records.
#[test]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn drain_move_and_undrain_under_load() {
    let _heavy = serial::heavy();
    let s = setup("eos-moves");
    let (cluster, producer, view, mut watch) = start_under_load(&s);
    let contact = cluster.address(view.leader);
    let drained = NODES
        .into_iter()
        .find(|id| *id != view.leader)
        .expect("a follower");
    let others: Vec<u64> = NODES.into_iter().filter(|id| *id != drained).collect();

    let started = Instant::now();
    let said = run_cli_ok(&["--contact", &contact, "drain", &drained.to_string()]);
    let during = cluster.wait_settled_owners(&NODES, &others, PARTITIONS as usize, SETTLE_DEADLINE);
    println!(
        "node {drained} drained in {:.2} s ({}), counts {:?}",
        secs(started),
        said.trim(),
        during.counts(&others)
    );
    watch.wait_flowing(&cluster, FLOWING, "with a node drained");

    // Two partitions of one of the others moved to the other (its count grows past its share:
    // the balancer gives one back, more moves).
    let mut current = during;
    let mut moved: Vec<i32> = Vec::new();
    for (from, to) in [(others[0], others[1]), (others[1], others[0])] {
        let (_, topic, partition) = current
            .owned_by(from)
            .into_iter()
            .find(|(_, _, p)| !moved.contains(p))
            .expect("a partition to move");
        moved.push(partition);
        let started = Instant::now();
        let said = run_cli_ok(&[
            "--contact",
            &contact,
            "move",
            "--flow",
            FLOW,
            "--topic",
            &topic,
            "--partition",
            &partition.to_string(),
            "--node",
            &to.to_string(),
        ]);
        current =
            cluster.wait_settled_owners(&NODES, &others, PARTITIONS as usize, SETTLE_DEADLINE);
        let key = (FLOW.to_owned(), topic.clone(), partition);
        println!(
            "p{partition} moved from node {from} to node {to} ({}); settled after {:.2} s, now \
             owned by node {} (epoch {}), counts {:?}",
            said.trim(),
            secs(started),
            current.assignment[&key].owner,
            current.assignment[&key].epoch,
            current.counts(&others)
        );
        watch.wait_flowing(&cluster, FLOWING, &format!("after moving p{partition}"));
    }

    let started = Instant::now();
    run_cli_ok(&["--contact", &contact, "undrain", &drained.to_string()]);
    let after = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
    println!(
        "node {drained} undrained: balanced after {:.2} s, counts {:?}",
        secs(started),
        after.counts(&NODES)
    );
    watch.wait_flowing(&cluster, FLOWING, "after the undrain");
    drop(watch);
    stop_and_check(&s, producer, &cluster, "drain, moves, undrain");
}

/// The target cluster (one broker of the test's own) killed -9 under load and started again
/// after two seconds of load: every open transaction fails with it (the transaction coordinator
/// recovers them from its log), and the nodes must resume from the positions committed with the
/// records, neither losing the ones of failed transactions nor writing any twice.
#[test]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn target_broker_killed_and_restarted_under_load() {
    let _heavy = serial::heavy();
    let mut s = setup_on(
        "eos-target",
        Broker::source(),
        Broker::start_kafka(&KafkaSpec::default()),
        None,
    );
    let (cluster, producer, _view, mut watch) = start_under_load(&s);
    let killed_at = Instant::now();
    s.target.kafka().kill_broker(1);
    producer.wait_for_more(RATE * 2);
    s.target.kafka().start_broker(1);
    println!(
        "the target broker killed -9 and answering again after {:.2} s",
        secs(killed_at)
    );
    let view = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
    watch.wait_flowing(&cluster, FLOWING, "after the target's restart");
    println!(
        "flowing again {:.2} s after the kill (leader {})",
        secs(killed_at),
        view.leader
    );
    drop(watch);
    stop_and_check(&s, producer, &cluster, "target broker restart");
}

/// Every node stopped at once (SIGTERM: each exits 0) while the source keeps growing, then all
/// started again on their data dirs: replication resumes where the committed positions stand.
#[test]
#[cfg_attr(tansu, ignore = "needs Apache Kafka's transactions")]
fn whole_cluster_restart_under_load() {
    let _heavy = serial::heavy();
    let s = setup("eos-restart");
    let (mut cluster, producer, _view, mut watch) = start_under_load(&s);
    let stopped = Instant::now();
    let statuses = cluster.terminate_all();
    println!("all nodes stopped in {:.2} s: {statuses:?}", secs(stopped));
    for (id, status) in &statuses {
        assert_eq!(status.code(), Some(0), "node {id}'s exit after SIGTERM");
    }
    // The source moves on while the cluster is down (a second of load).
    producer.wait_for_more(RATE);
    let restarted = Instant::now();
    for id in NODES {
        cluster.restart(id);
    }
    let view = cluster.wait_settled(&NODES, PARTITIONS as usize, SETTLE_DEADLINE);
    watch.wait_flowing(&cluster, FLOWING, "after the restart");
    println!(
        "restarted: settled and flowing after {:.2} s (leader {})",
        secs(restarted),
        view.leader
    );
    drop(watch);
    stop_and_check(&s, producer, &cluster, "whole-cluster restart");
}

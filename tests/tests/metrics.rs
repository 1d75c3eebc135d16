//! The Prometheus endpoint (`[node] metrics_listen`): counts what the target acknowledged, exactly,
//! shows the Raft role, keeps answering while the target is frozen, and reports each partition's
//! lag exactly (rising while the target is frozen, back to 0 once caught up) and one latency
//! sample per acknowledged record.

use std::net::SocketAddr;
use std::time::Duration;

use strait_tests::config::Config;
use strait_tests::data;
use strait_tests::data::TestProducer;
use strait_tests::metrics::{sample, scrape};
use strait_tests::strait::temp_dir;
use strait_tests::verify::wait_for_tail;
use strait_tests::{admin, broker, names, serial, wait, Broker, Strait};

const PARTITIONS: i32 = 3;
const PER_PARTITION: u64 = 500;
/// Waits until `records` were acknowledged, both lag gauges of every partition of `topic` are 0,
/// and both latency histograms counted `records` samples.
fn wait_caught_up(
    addr: SocketAddr,
    strait: &Strait,
    topic: &str,
    labels: &[(&str, &str)],
    flow: &[(&str, &str)],
    records: f64,
) {
    wait_flow_value(
        addr,
        strait,
        "strait_replication_records_total",
        labels,
        records,
    );
    for gauge in [
        "strait_replication_offset_lag_records",
        "strait_replication_time_lag_seconds",
    ] {
        wait_partition_gauges(addr, strait, topic, gauge, 0.0);
    }
    for histogram in [
        "strait_replication_end_to_end_latency_seconds_count",
        "strait_replication_read_to_ack_latency_seconds_count",
    ] {
        wait_flow_value(addr, strait, histogram, flow, records);
    }
}

/// 3 partitions x 500 records through a node with `metrics_listen`: the endpoint reports
/// exactly 1500 acknowledged records for the remote topic, the node leads its cluster of one, it
/// owns the 3 partitions, and it keeps answering while the target broker is SIGSTOPped.
#[test]
fn metrics_endpoint_counts_exactly_and_answers_while_target_is_frozen() {
    let _heavy = serial::heavy();
    // The target is frozen: a cluster of this test's own.
    let (source, target) = (Broker::source(), Broker::start("target"));
    let data_dir = temp_dir("strait-data-");
    let topic = names::unique("metrics");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let remote = format!("A.{topic}");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", broker::free_port())
        .parse()
        .expect("an address");
    config.metrics_listen = Some(addr);

    let sent = data::produce_generated(
        source.bootstrap(),
        &topic,
        PARTITIONS,
        PER_PARTITION,
        data::base_timestamp(),
    );
    let mut strait = strait_tests::Strait::start(&config.toml(), "toml");
    wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));

    let expected = (PARTITIONS as u64 * PER_PARTITION) as f64;
    let records = [("flow", "A->B"), ("topic", remote.as_str())];
    let body = wait::until(
        "strait_replication_records_total to reach 1500",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let body = scrape(addr)?;
            match sample(&body, "strait_replication_records_total", &records) {
                Some(value) if value == expected => Ok(body),
                value => Err(format!("{value:?}\n{body}")),
            }
        },
        || strait.log_tail(40),
    );
    assert!(
        sample(&body, "strait_replication_bytes_total", &records).is_some_and(|v| v > 0.0),
        "no acknowledged bytes:\n{body}"
    );
    let body = wait::until(
        "the sampled metrics",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            let body = scrape(addr)?;
            let leader = sample(&body, "strait_raft_is_leader", &[]);
            let owned = sample(
                &body,
                "strait_replication_partitions_owned",
                &[("flow", "A->B")],
            );
            match (leader, owned) {
                (Some(1.0), Some(3.0)) => Ok(body),
                _ => Err(format!("leader {leader:?}, owned {owned:?}\n{body}")),
            }
        },
        || strait.log_tail(40),
    );
    assert!(
        sample(&body, "strait_raft_term", &[]).is_some_and(|v| v >= 1.0),
        "no Raft term:\n{body}"
    );
    assert!(
        sample(&body, "strait_raft_applied_index", &[]).is_some_and(|v| v >= 1.0),
        "no applied index:\n{body}"
    );
    println!("{body}");

    // A frozen target: the endpoint still answers, and what was acknowledged stays counted once.
    target.pause();
    for _ in 0..5 {
        let body = scrape(addr);
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                target.resume();
                panic!("no answer while the target is frozen: {error}");
            }
        };
        assert_eq!(
            sample(&body, "strait_replication_records_total", &records),
            Some(expected),
            "{body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    target.resume();
    strait.assert_running();
}

/// Waits until every partition's `name` gauge equals `expected`; returns the scrape.
fn wait_partition_gauges(
    addr: SocketAddr,
    strait: &Strait,
    topic: &str,
    name: &str,
    expected: f64,
) -> String {
    wait::until(
        &format!("{name} = {expected} on every partition"),
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let body = scrape(addr)?;
            let values: Vec<Option<f64>> = (0..PARTITIONS)
                .map(|p| {
                    let p = p.to_string();
                    let labels = [
                        ("flow", "A->B"),
                        ("topic", topic),
                        ("partition", p.as_str()),
                    ];
                    sample(&body, name, &labels)
                })
                .collect();
            if values.iter().all(|v| *v == Some(expected)) {
                Ok(body)
            } else {
                Err(format!("{values:?}"))
            }
        },
        || strait.log_tail(40),
    )
}

/// Waits until the flow's counter or histogram count `name` equals `expected`.
fn wait_flow_value(
    addr: SocketAddr,
    strait: &Strait,
    name: &str,
    labels: &[(&str, &str)],
    expected: f64,
) {
    wait::until(
        &format!("{name} = {expected}"),
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let body = scrape(addr)?;
            match sample(&body, name, labels) {
                Some(value) if value == expected => Ok(()),
                value => Err(format!("{value:?}")),
            }
        },
        || strait.log_tail(40),
    );
}

/// Records produced one per batch (`batch.num.messages = 1`), so that the source's high
/// watermark is exact on Tansu too.
fn produce_unbatched(bootstrap: &str, topic: &str, seqs: std::ops::Range<u64>, base_ts: i64) {
    let producer = TestProducer::with_props(bootstrap, &[("batch.num.messages", "1")]);
    for seq in seqs {
        for partition in 0..PARTITIONS {
            producer.send(topic, partition, &data::generate(partition, seq, base_ts));
        }
    }
    producer.flush();
}

/// 3 partitions x 200 records replicated: the offset and time lag of every partition are 0 and
/// the two latency histograms hold exactly 600 samples. The target frozen, 50 more records per
/// partition: the offset lag of every partition is exactly 50 and the time lag positive. The
/// target resumed: 750 records, lag back to 0, 750 latency samples.
#[test]
fn lag_is_exact_while_the_target_is_frozen_and_returns_to_zero() {
    let _heavy = serial::heavy();
    // The target is frozen: a cluster of this test's own.
    let (source, target) = (Broker::source(), Broker::start("target"));
    let data_dir = temp_dir("strait-data-");
    let topic = names::unique("lag");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let remote = format!("A.{topic}");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", broker::free_port())
        .parse()
        .expect("an address");
    config.metrics_listen = Some(addr);
    let base_ts = data::base_timestamp();
    produce_unbatched(source.bootstrap(), &topic, 0..200, base_ts);
    let strait = Strait::start(&config.toml(), "toml");

    let flow = [("flow", "A->B")];
    let records = [("flow", "A->B"), ("topic", remote.as_str())];
    wait_caught_up(addr, &strait, &topic, &records, &flow, 600.0);

    target.pause();
    produce_unbatched(source.bootstrap(), &topic, 200..250, base_ts);
    let body = wait_partition_gauges(
        addr,
        &strait,
        &topic,
        "strait_replication_offset_lag_records",
        50.0,
    );
    let frozen_records = sample(&body, "strait_replication_records_total", &records);
    // The records are about an hour old (base_ts): the last replicated one is too.
    let time_lag = sample(
        &body,
        "strait_replication_time_lag_seconds",
        &[
            ("flow", "A->B"),
            ("topic", topic.as_str()),
            ("partition", "0"),
        ],
    );
    target.resume();
    assert_eq!(
        frozen_records,
        Some(600.0),
        "acknowledged while frozen:\n{body}"
    );
    assert!(
        time_lag.is_some_and(|s| s > 3_000.0),
        "time lag {time_lag:?} while behind records about an hour old:\n{body}"
    );

    wait_caught_up(addr, &strait, &topic, &records, &flow, 750.0);
    let body = scrape(addr).expect("a scrape");
    assert_eq!(
        sample(&body, "strait_replication_records_total", &records),
        Some(750.0),
        "counted twice?\n{body}"
    );
    // Positions are proposed every second: the applied index catches up between proposals.
    wait_flow_value(addr, &strait, "strait_raft_apply_lag_entries", &[], 0.0);
}

/// A fresh node serves every counter family of its flow at 0 before any event, and the sampled
/// gauges, so that dashboards and alerts see 0, not "no data": before, the error, skipped,
/// authorization and restart counters (and the others an event creates) had no series until
/// their first event. No broker is needed: the node's clients point at closed ports.
#[test]
fn a_fresh_node_serves_every_family_at_zero() {
    let data_dir = temp_dir("strait-data-");
    let metrics_port = broker::free_port();
    let config = format!(
        "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:{a}\nB.bootstrap.servers = \
         127.0.0.1:{b}\nA->B.enabled = true\nstrait.data.dir = {data}\n\
         strait.cluster.listen = 127.0.0.1:{cluster}\nstrait.metrics.listen = 127.0.0.1:{metrics_port}\n",
        a = broker::free_port(),
        b = broker::free_port(),
        data = data_dir.path().display(),
        cluster = broker::free_port(),
    );
    let mut strait = Strait::start(&config, "properties");
    let addr: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let flow = [("flow", "A->B")];
    // The retriable error counters may count the refused connections to the closed ports: they
    // must be there, at any value.
    let zero_per_flow: &[(&str, &[(&str, &str)])] = &[
        (
            "strait_consumer_fetch_errors_total",
            &[("flow", "A->B"), ("class", "fatal")],
        ),
        ("strait_consumer_authorization_errors_total", &flow),
        ("strait_replication_records_skipped_total", &flow),
        ("strait_replication_partition_restarts_total", &flow),
        ("strait_producer_replaced_total", &flow),
        ("strait_checkpoint_records_total", &flow),
        ("strait_replication_backpressure_waits_total", &flow),
        ("strait_replication_in_flight_records", &flow),
        ("strait_replication_in_flight_bytes", &flow),
        ("strait_replication_partitions_failing", &flow),
        ("strait_producer_errors_total", &[("class", "fatal")]),
    ];
    let present: &[(&str, &[(&str, &str)])] = &[
        (
            "strait_consumer_fetch_errors_total",
            &[("flow", "A->B"), ("class", "retriable")],
        ),
        ("strait_producer_errors_total", &[("class", "retriable")]),
        ("strait_cluster_rebalances_total", &flow),
        ("strait_replication_partitions_owned", &flow),
        ("strait_raft_term", &[]),
        ("strait_raft_commit_index", &[]),
        ("strait_raft_applied_index", &[]),
        ("strait_raft_apply_lag_entries", &[]),
        ("strait_raft_is_leader", &[]),
    ];
    let body = wait::until_ok(
        "every family served by the fresh node",
        || {
            assert!(
                !strait.has_exited(),
                "the node exited:\n{}",
                strait.log_tail(40)
            );
            let body = scrape(addr)?;
            let missing: Vec<&str> = zero_per_flow
                .iter()
                .chain(present)
                .filter(|(name, labels)| sample(&body, name, labels).is_none())
                .map(|(name, _)| *name)
                .collect();
            match missing.is_empty() {
                true => Ok(body),
                false => Err(format!("missing: {missing:?}")),
            }
        },
        || strait.log_tail(20),
    );
    for (name, labels) in zero_per_flow {
        assert_eq!(
            sample(&body, name, labels),
            Some(0.0),
            "{name} {labels:?}:\n{body}"
        );
    }
    // Described (HELP and TYPE) too.
    for (name, _) in zero_per_flow.iter().chain(present) {
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "{name} has no TYPE:\n{body}"
        );
    }
    assert!(strait.terminate().success());
}

//! `strait verify` on Apache Kafka: an identical copy verifies clean (a transactional source
//! too); records changed, removed or duplicated on the target, a header or a timestamp changed,
//! are each found with both offsets; records gone from the source after the copy are no mismatch,
//! records gone from the target are.

use std::time::Duration;

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value;
use strait_tests::cluster::StraitCluster;
use strait_tests::config::Config;
use strait_tests::data::{self, Record, TestProducer};
use strait_tests::strait::{run_cli, run_cli_ok, temp_dir};
use strait_tests::{admin, mode, names, serial, verify, wait, Broker, Strait};

const DEADLINE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(500);
const FLOW: &str = "A->B";

fn contact(config: &Config) -> String {
    format!("127.0.0.1:{}", config.cluster_port)
}

fn admin_client(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    admin::client_config(bootstrap)
        .create()
        .expect("admin client")
}

fn admin_options() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(Duration::from_secs(30)))
}

/// `strait verify -o json` for `topic`: the exit code and the report.
fn verify_json(contact: &str, topic: &str) -> (Option<i32>, Value) {
    let out = run_cli(&[
        "--contact",
        contact,
        "-o",
        "json",
        "verify",
        "--flow",
        FLOW,
        "--topic",
        topic,
        "--max-bytes-per-sec",
        "0",
    ]);
    let report = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify's output is not JSON ({e}), exit {:?}:\n{}{}",
            out.code, out.stdout, out.stderr
        )
    });
    (out.code, report)
}

/// Runs verify until it covers the source offsets up to `ends[p]` in every partition (the
/// cluster state's positions lag the copy by up to a second).
fn verify_through(
    contact: &str,
    topic: &str,
    ends: &[i64],
    strait: &Strait,
) -> (Option<i32>, Value) {
    wait::until(
        &format!("verify of {topic} to cover {ends:?}"),
        DEADLINE,
        POLL,
        || {
            let (code, report) = verify_json(contact, topic);
            let partitions = report["partitions"].as_array().cloned().unwrap_or_default();
            let covered: Vec<i64> = (0..ends.len())
                .map(|p| {
                    partitions
                        .iter()
                        .find(|x| x["partition"].as_i64().unwrap_or(0) == p as i64)
                        .and_then(|x| x["source_end"].as_i64())
                        .unwrap_or(-1)
                })
                .collect();
            if covered == ends {
                Ok((code, report))
            } else {
                Err(format!("covered {covered:?}, exit {code:?}"))
            }
        },
        || strait.log_tail(30),
    )
}

fn partition(report: &Value, p: i64) -> &Value {
    report["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .find(|x| x["partition"].as_i64().unwrap_or(0) == p)
        .unwrap_or_else(|| panic!("no partition {p} in {report:#}"))
}

fn count(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or(0)
}

/// `(kind, source offset, target offset, fields)` of a partition's first mismatch.
fn first_mismatch(v: &Value) -> (String, i64, i64, Vec<String>) {
    let m = &v["first_mismatch"];
    (
        m["kind"].as_str().unwrap_or("none").to_owned(),
        m["source_offset"].as_i64().unwrap_or(0),
        m["target_offset"].as_i64().unwrap_or(0),
        m["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|s| s.as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn start(source: &str, target: &str, topic: &str, data_dir: &std::path::Path) -> (Config, Strait) {
    let config = Config::a_to_b(source, target, data_dir, &[topic]);
    let strait = Strait::start(&config.toml(), "toml");
    (config, strait)
}

/// 3 partitions of generated records (null and empty keys and values, tombstones, duplicate and
/// null headers, explicit timestamps): verify exits 0 with every record matched, and says so in
/// its table.
#[test]
fn an_identical_copy_verifies_clean() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("vclean");
    admin::create_topic(src, &topic, 3);
    let data_dir = temp_dir("strait-data-");
    let (config, strait) = start(src, tgt, &topic, data_dir.path());
    let sent = data::produce_generated_range(src, &topic, 3, 0..300, data::base_timestamp());
    verify::wait_for_tail(tgt, &format!("A.{topic}"), &sent, Some(&strait));
    let (code, report) = verify_through(&contact(&config), &topic, &[300, 300, 300], &strait);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["verified"], Value::Bool(true));
    for p in 0..3 {
        let v = partition(&report, p);
        assert_eq!(
            (
                count(v, "source_start"),
                count(v, "source_records"),
                count(v, "matched")
            ),
            (0, 300, 300),
            "{v:#}"
        );
        assert_eq!((count(v, "target_start"), count(v, "target_end")), (0, 300));
        assert_eq!(count(v, "mismatches"), 0);
    }
    assert_eq!(count(&report, "source_records"), 900);
    let table = run_cli_ok(&["--contact", &contact(&config), "verify", "--flow", FLOW]);
    println!("{table}");
    assert!(
        table.contains("VERIFIED: 900 source records in 3 partitions, 0 mismatches"),
        "{table}"
    );
    assert!(table.contains(&format!("A.{topic}")), "{table}");
}

/// A transactional source: committed transactions, an aborted one and their markers leave gaps
/// in the source offsets; verify reads read_committed and matches the committed records only.
#[test]
fn a_transactional_source_verifies_clean() {
    if !mode::is_real_kafka() {
        eprintln!("skipped: needs Apache Kafka (STRAIT_TEST_BROKER=kafka)");
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("vtxn");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let (config, strait) = start(src, tgt, &topic, data_dir.path());
    let producer: BaseProducer = admin::client_config(src)
        .set("transactional.id", names::unique("vtxn-producer"))
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .expect("init transactions");
    let base_ts = data::base_timestamp();
    let mut committed = Vec::new();
    for (batch, commit) in [(0u64, true), (1, false), (2, true)] {
        producer.begin_transaction().expect("begin");
        for seq in batch * 10..batch * 10 + 10 {
            let record = data::generate(0, seq, base_ts);
            let mut base: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic)
                .partition(0)
                .timestamp(record.timestamp);
            if let Some(value) = &record.value {
                base = base.payload(value.as_slice());
            }
            if let Some(key) = &record.key {
                base = base.key(key.as_slice());
            }
            producer.send(base).map_err(|(e, _)| e).expect("send");
            if commit {
                committed.push(Record {
                    headers: Vec::new(),
                    ..record
                });
            }
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
        if commit {
            producer
                .commit_transaction(Duration::from_secs(30))
                .expect("commit");
        } else {
            producer
                .abort_transaction(Duration::from_secs(30))
                .expect("abort");
        }
    }
    verify::wait_for_tail(tgt, &format!("A.{topic}"), &[committed], Some(&strait));
    // 10 records + marker, 10 aborted + marker, 10 records (22..32) + marker: the position is
    // 32, after the last record (the marker after it is passed with the next record).
    let (code, report) = verify_through(&contact(&config), &topic, &[32], &strait);
    assert_eq!(code, Some(0), "{report:#}");
    let v = partition(&report, 0);
    assert_eq!(
        (
            count(v, "source_records"),
            count(v, "matched"),
            count(v, "mismatches")
        ),
        (20, 20, 0),
        "{v:#}"
    );
    assert_eq!((count(v, "target_start"), count(v, "target_end")), (0, 20));
}

/// Creates `topic` on `bootstrap` unless it exists (Strait's topic refresh may recreate a
/// deleted remote topic first).
fn ensure_topic(bootstrap: &str, topic: &str, partitions: usize) {
    wait::until(
        &format!("{topic} recreated on {bootstrap}"),
        DEADLINE,
        POLL,
        || {
            if admin::partition_count(bootstrap, topic) == Some(partitions) {
                return Ok(());
            }
            let new_topic = NewTopic::new(
                topic,
                partitions as i32,
                TopicReplication::Fixed(mode::replication_factor()),
            );
            let results =
                block_on(admin_client(bootstrap).create_topics([&new_topic], &admin_options()))
                    .map_err(|e| e.to_string())?;
            match results.into_iter().next() {
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | Some(Ok(_)) => {
                    Err("created, not listed yet".to_owned())
                }
                other => Err(format!("{other:?}")),
            }
        },
        String::new,
    );
}

/// Strait copies 6 partitions; with the flow paused, the remote topic is replaced by a copy the
/// test writes itself at the same offsets (Strait's runs map source n to target n), altered in
/// one way per partition. Verify finds each, with both offsets, and exits 1.
#[test]
fn altered_removed_and_duplicated_records_are_found_with_their_offsets() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("valter");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 6);
    let data_dir = temp_dir("strait-data-");
    let (config, strait) = start(src, tgt, &topic, data_dir.path());
    let sent = data::produce_generated_range(src, &topic, 6, 0..100, data::base_timestamp());
    verify::wait_for_tail(tgt, &remote, &sent, Some(&strait));
    let (code, _) = verify_through(&contact(&config), &topic, &[100; 6], &strait);
    assert_eq!(code, Some(0));
    run_cli_ok(&["--contact", &contact(&config), "flows", "pause", FLOW]);

    admin::delete_remote_topic(tgt, &remote);
    ensure_topic(tgt, &remote, 6);
    let mut copy: Vec<Vec<Record>> = sent.clone();
    copy[0][10].value = Some(b"changed".to_vec());
    copy[1][20]
        .headers
        .push(("added".to_owned(), Some(b"header".to_vec())));
    copy[2][30].timestamp += 1;
    copy[3].truncate(40);
    let again = copy[4][50].clone();
    copy[4].insert(51, again);
    let producer = TestProducer::new(tgt);
    for (p, records) in copy.iter().enumerate() {
        for record in records {
            producer.send(&remote, p as i32, record);
        }
    }
    producer.flush();

    let (code, report) = verify_json(&contact(&config), &topic);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verified"], Value::Bool(false));
    let expected = [
        ("changed", 10, 10, vec!["value"]),
        ("changed", 20, 20, vec!["headers"]),
        ("changed", 30, 30, vec!["timestamp"]),
        ("missing", 40, 40, vec![]),
        ("duplicate", 51, 51, vec![]),
    ];
    for (p, (kind, s, t, fields)) in expected.iter().enumerate() {
        let v = partition(&report, p as i64);
        let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        assert_eq!(
            first_mismatch(v),
            ((*kind).to_owned(), *s, *t, fields),
            "partition {p}: {v:#}"
        );
    }
    assert_eq!(count(partition(&report, 0), "mismatches"), 1);
    assert_eq!(count(partition(&report, 3), "mismatches"), 60);
    let clean = partition(&report, 5);
    assert_eq!(
        (count(clean, "matched"), count(clean, "mismatches")),
        (100, 0)
    );
    assert!(clean["first_mismatch"].is_null(), "{clean:#}");
    // The table names the first mismatch of each partition.
    let out = run_cli(&["--contact", &contact(&config), "verify", "--flow", FLOW]);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("changed at source 30 -> target 30 (timestamp)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("MISMATCH"), "{}", out.stdout);
}

/// Records deleted from the source after the copy (retention, DeleteRecords) are not a
/// mismatch: verify starts at the source's log start. Records deleted from the target are.
#[test]
fn records_gone_from_the_source_are_no_mismatch_records_gone_from_the_target_are() {
    if !mode::is_real_kafka() {
        eprintln!("skipped: needs Apache Kafka (STRAIT_TEST_BROKER=kafka)");
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("vgone");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let (config, strait) = start(src, tgt, &topic, data_dir.path());
    let sent = data::produce_generated_range(src, &topic, 1, 0..100, data::base_timestamp());
    verify::wait_for_tail(tgt, &remote, &sent, Some(&strait));
    verify_through(&contact(&config), &topic, &[100], &strait);

    admin::delete_records(src, &topic, 0, 60);
    let (code, report) = verify_json(&contact(&config), &topic);
    assert_eq!(code, Some(0), "{report:#}");
    let v = partition(&report, 0);
    assert_eq!(
        (
            count(v, "source_log_start"),
            count(v, "source_start"),
            count(v, "source_end"),
            count(v, "source_records"),
            count(v, "matched"),
            count(v, "mismatches")
        ),
        (60, 60, 100, 40, 40, 0),
        "{v:#}"
    );

    admin::delete_records(tgt, &remote, 0, 80);
    let (code, report) = verify_json(&contact(&config), &topic);
    assert_eq!(code, Some(1), "{report:#}");
    let v = partition(&report, 0);
    assert_eq!(first_mismatch(v), ("missing".to_owned(), 60, 60, vec![]));
    assert_eq!((count(v, "matched"), count(v, "mismatches")), (20, 20));
}

/// A record written to the remote topic by someone else between two of Strait's copies (here a
/// second copy of the last record): the offset map skips it, verify reports it as a duplicate
/// at its target offset, before the source record copied after it.
#[test]
fn a_record_written_to_the_target_between_copies_is_found() {
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("vdup");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let (config, strait) = start(src, tgt, &topic, data_dir.path());
    let base_ts = data::base_timestamp();
    let first = data::generate_range(0, 0..50, base_ts);
    data::produce(src, &topic, 0, &first);
    verify::wait_for_tail(tgt, &remote, std::slice::from_ref(&first), Some(&strait));
    verify_through(&contact(&config), &topic, &[50], &strait);
    data::produce(tgt, &remote, 0, &first[49..]);
    let second = data::generate_range(0, 50..60, base_ts);
    data::produce(src, &topic, 0, &second);
    let mut all = first.clone();
    all.push(first[49].clone());
    all.extend(second);
    verify::wait_for_tail(tgt, &remote, &[all], Some(&strait));

    let (code, report) = verify_through(&contact(&config), &topic, &[60], &strait);
    assert_eq!(code, Some(1), "{report:#}");
    let v = partition(&report, 0);
    assert_eq!(first_mismatch(v), ("duplicate".to_owned(), 50, 50, vec![]));
    assert_eq!(
        (
            count(v, "source_records"),
            count(v, "matched"),
            count(v, "mismatches")
        ),
        (60, 60, 1),
        "{v:#}"
    );
    assert_eq!((count(v, "target_start"), count(v, "target_end")), (0, 61));
}

/// Two nodes: the node asked verifies its own partitions and the other node's (fan-out through
/// `local_only` calls); every partition is reported once, by its owner, and all match.
#[test]
fn each_node_verifies_the_partitions_it_owns() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("vnodes");
    admin::create_topic(src, &topic, 4);
    let data_dir = temp_dir("strait-data-");
    let base = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let cluster = StraitCluster::start(2, &base);
    let sent = data::produce_generated_range(src, &topic, 4, 0..200, data::base_timestamp());
    verify::wait_for_tail(tgt, &format!("A.{topic}"), &sent, Some(cluster.process(1)));
    let contact = cluster.address(1);
    let (code, report) = wait::until(
        "partitions verified by both nodes",
        DEADLINE,
        POLL,
        || {
            let (code, report) = verify_json(&contact, &topic);
            let nodes: std::collections::BTreeSet<i64> = report["partitions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["node_id"].as_i64().unwrap_or(0))
                .collect();
            if count(&report, "source_records") == 800 && nodes.len() == 2 {
                Ok((code, report))
            } else {
                Err(format!(
                    "{} records by nodes {nodes:?}, exit {code:?}",
                    count(&report, "source_records")
                ))
            }
        },
        || cluster.describe(),
    );
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["partitions"].as_array().map(Vec::len), Some(4));
    for p in 0..4 {
        let v = partition(&report, p);
        assert_eq!(
            (count(v, "matched"), count(v, "mismatches")),
            (200, 0),
            "{v:#}"
        );
    }
}

//! The source's log changing under a flow, on Apache Kafka: compaction (before and while Strait
//! copies), DeleteRecords moving the log start (offset runs trimmed, translation exact above it),
//! positions that fell below the log start (resumed as `auto.offset.reset` says and reported), and
//! topics deleted on either side of a running flow.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use rdkafka::message::Message;
use strait_proto::v1::GetNodeStatusResponse;
use strait_tests::cluster::{status_at, translate_offsets};
use strait_tests::config::Config;
use strait_tests::data::{self, Record, TestProducer};
use strait_tests::strait::{run_cli_ok, temp_dir};
use strait_tests::{admin, broker, metrics, mode, names, verify, wait, Broker, Strait};

const DEADLINE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(250);
const FLOW: &str = "A->B";

fn real_kafka_only() -> bool {
    if mode::is_real_kafka() {
        return true;
    }
    eprintln!("skipped: needs Apache Kafka (STRAIT_TEST_BROKER=kafka)");
    false
}

/// Every record of `topic`/`partition` from the log start to its end, with its offset.
fn read_offsets(bootstrap: &str, topic: &str, partition: i32) -> Vec<(i64, Record)> {
    verify::read_to_eof(bootstrap, topic, partition, |m| {
        (m.offset(), verify::to_record(m))
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn records(read: &[(i64, Record)]) -> Vec<Record> {
    read.iter().map(|(_, r)| r.clone()).collect()
}

/// Translates `offsets` of `topic` partition 0 through the control API: `(source, target,
/// method)`.
fn translate(contact: &str, topic: &str, offsets: &[i64]) -> Vec<(i64, i64, String)> {
    let offsets: Vec<(&str, i32, i64)> = offsets.iter().map(|o| (topic, 0, *o)).collect();
    translate_offsets(contact, FLOW, &offsets)
}

/// The records a flow of `topic`'s partition 0 on this node reports: `(next source offset,
/// skipped, skipped from, skipped to, state, last error)`.
fn partition_report(
    status: &GetNodeStatusResponse,
    topic: &str,
) -> Option<(i64, u64, i64, i64, String, String)> {
    status
        .partitions
        .iter()
        .find(|p| p.topic == topic && p.partition == 0)
        .map(|p| {
            (
                p.next_source_offset,
                p.records_skipped,
                p.skipped_from,
                p.skipped_to,
                p.state.clone(),
                p.last_error.clone(),
            )
        })
}

/// The flow of `topic`'s partition 0 on this node, as the node status reports it once `accept`
/// takes it (waits for that).
fn wait_report(
    config: &Config,
    strait: &Strait,
    topic: &str,
    what: &str,
    accept: impl Fn(&(i64, u64, i64, i64, String, String)) -> bool,
) -> (i64, u64, i64, i64, String, String) {
    wait::until(
        what,
        DEADLINE,
        POLL,
        || {
            let status = status_at(&contact(config))?;
            match partition_report(&status, topic) {
                Some(r) if accept(&r) => Ok(r),
                other => Err(format!("{other:?}")),
            }
        },
        || strait.log_tail(30),
    )
}

/// Waits until source offset `end` of `topic` (its log end) translates to `target_end`
/// ("caught_up"): the offset runs reached the cluster state.
fn wait_translated_to_end(
    config: &Config,
    strait: &Strait,
    topic: &str,
    end: i64,
    target_end: i64,
) {
    wait::until(
        "the offset map up to the end",
        DEADLINE,
        POLL,
        || match translate(&contact(config), topic, &[end]).pop() {
            Some((_, t, m)) if m == "caught_up" && t == target_end => Ok(()),
            other => Err(format!("{other:?}")),
        },
        || strait.log_tail(30),
    );
}

/// Waits until `strait_replication_records_skipped_total` of `topic`'s partition 0 is `expected`.
fn wait_skipped_total(addr: SocketAddr, strait: &Strait, topic: &str, what: &str, expected: f64) {
    let labels = [("flow", FLOW), ("topic", topic), ("partition", "0")];
    wait::until(
        what,
        DEADLINE,
        POLL,
        || match metrics::value(addr, "strait_replication_records_skipped_total", &labels) {
            Some(v) if v == expected => Ok(()),
            other => Err(format!("{other:?}")),
        },
        || strait.log_tail(10),
    );
}

/// Writes `records` to `topic` partition 0 (from its start), runs a node on `config` until all of
/// them are on the target, and stops it: the node's position is then the end of `records`.
fn copy_and_stop(config: &Config, topic: &str, records: &[Record]) {
    let (src, tgt) = (&config.clusters[0].1, &config.clusters[1].1);
    data::produce(src, topic, 0, records);
    let mut strait = Strait::start(&config.toml(), "toml");
    verify::wait_for_tail(
        tgt,
        &format!("A.{topic}"),
        &[records.to_vec()],
        Some(&strait),
    );
    assert!(strait.terminate().success());
}

fn contact(config: &Config) -> String {
    format!("127.0.0.1:{}", config.cluster_port)
}

/// Version `version` of `key`: headers, a tombstone now and then, and a timestamp one second per
/// round apart (the broker rolls a segment when a record's timestamp is `segment.ms` past the
/// segment's first).
fn keyed(tag: &str, key: usize, version: usize, base_ts: i64) -> Record {
    Record {
        key: Some(format!("{tag}-key-{key}").into_bytes()),
        value: (!(key + version).is_multiple_of(5))
            .then(|| format!("{tag}-{key}-v{version}").into_bytes()),
        headers: vec![
            ("version".to_owned(), Some(version.to_string().into_bytes())),
            ("null".to_owned(), None),
        ],
        timestamp: base_ts + (version * 1000 + key) as i64,
    }
}

const KEYS: usize = 12;
const ROUNDS: usize = 25;

/// Compaction settings that make a real broker clean within seconds: a new segment with each
/// record whose timestamp is 100 ms past the segment's first, cleaning as soon as 1% of the log is
/// dirty.
const COMPACTED: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("segment.ms", "100"),
    ("min.cleanable.dirty.ratio", "0.01"),
    ("min.compaction.lag.ms", "0"),
];

/// Writes ROUNDS rounds of overwrites to `topic` partition 0 (round r updates the keys with
/// `(key * 7 + r) % 3 != 0`, so each key's last version comes from a different round), a new
/// segment for each round, then two end markers so that every round sits in a closed (cleanable)
/// segment. `after_round` is called after each round and each marker with everything sent so
/// far. Returns every record sent and, per key, its last version.
fn produce_overwrites(
    bootstrap: &str,
    topic: &str,
    tag: &str,
    mut after_round: impl FnMut(&[Record]),
) -> (Vec<Record>, Vec<Record>) {
    let producer = TestProducer::new(bootstrap);
    let base_ts = data::base_timestamp();
    let mut sent = Vec::new();
    let mut last: BTreeMap<usize, (usize, Record)> = BTreeMap::new();
    for round in 0..ROUNDS {
        for key in (0..KEYS).filter(|key| !(key * 7 + round).is_multiple_of(3)) {
            let record = keyed(tag, key, round, base_ts);
            producer.send(topic, 0, &record);
            last.insert(key, (sent.len(), record.clone()));
            sent.push(record);
        }
        producer.flush();
        after_round(&sent);
    }
    for marker in 0..2 {
        let record = Record {
            key: Some(format!("{tag}-end-{marker}").into_bytes()),
            value: Some(b"end".to_vec()),
            headers: Vec::new(),
            timestamp: base_ts + ((ROUNDS + marker) * 1000) as i64,
        };
        producer.send(topic, 0, &record);
        producer.flush();
        last.insert(KEYS + marker, (sent.len(), record.clone()));
        sent.push(record);
        after_round(&sent);
    }
    let mut survivors: Vec<(usize, Record)> = last.into_values().collect();
    survivors.sort_by_key(|(i, _)| *i);
    (sent, survivors.into_iter().map(|(_, r)| r).collect())
}

/// Waits until `topic` partition 0 holds exactly `survivors` (the broker compacted every closed
/// segment) and returns it with offsets.
fn wait_compacted(bootstrap: &str, topic: &str, survivors: &[Record]) -> Vec<(i64, Record)> {
    wait::until(
        &format!("{topic} on {bootstrap} compacted to one record per key"),
        DEADLINE,
        POLL,
        || {
            let read = read_offsets(bootstrap, topic, 0);
            if records(&read) == survivors {
                Ok(read)
            } else {
                Err(format!(
                    "{} records, {} expected",
                    read.len(),
                    survivors.len()
                ))
            }
        },
        String::new,
    )
}

/// Checks the offset map against both logs: every surviving source record translates exactly to
/// the offset of its copy, every compacted offset between two survivors to the next survivor's
/// copy ("next_record"), and the end to the end.
fn assert_translation(
    contact: &str,
    topic: &str,
    source: &[(i64, Record)],
    target: &[(i64, Record)],
    target_end: i64,
) {
    let target_at: HashMap<&Record, i64> = target.iter().map(|(o, r)| (r, *o)).collect();
    let first = source.first().expect("records").0;
    let end = source.last().expect("records").0 + 1;
    let offsets: Vec<i64> = (first..=end).collect();
    let translated = translate(contact, topic, &offsets);
    let mut gaps = 0;
    let mut next_survivor = source.iter().peekable();
    for (offset, target_offset, method) in translated {
        while next_survivor.peek().is_some_and(|(o, _)| *o < offset) {
            next_survivor.next();
        }
        let expected = match next_survivor.peek() {
            Some((o, record)) if *o == offset => (target_at[record], "exact"),
            Some((_, record)) => {
                gaps += 1;
                (target_at[record], "next_record")
            }
            None => (target_end, "caught_up"),
        };
        assert_eq!(
            (target_offset, method.as_str()),
            expected,
            "translation of source offset {offset}"
        );
    }
    assert!(
        gaps > 0,
        "no compacted gap between the first and last record"
    );
}

/// A compacted source after real compaction: Strait copies exactly the surviving records (keys,
/// values, tombstones, headers, timestamps, order), and the offset map has gaps where the source
/// compacted: a compacted-away offset translates to the next replicated record.
#[test]
fn compacted_source_copies_the_surviving_records_with_gaps_in_the_offset_map() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("compacted");
    let remote = format!("A.{topic}");
    admin::create_topic_with_configs(src, &topic, 1, COMPACTED);
    let (sent, survivors) = produce_overwrites(src, &topic, "c", |_| {});
    let compacted = wait_compacted(src, &topic, &survivors);
    assert!(
        compacted.len() < sent.len() / 4,
        "{} of {}",
        compacted.len(),
        sent.len()
    );
    assert!(compacted[0].0 > 0, "the earliest offsets are gone");

    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let strait = Strait::start(&config.toml(), "toml");
    let reader = verify::wait_for_tail(
        tgt,
        &remote,
        std::slice::from_ref(&survivors),
        Some(&strait),
    );
    verify::assert_same_records(&remote, &survivors, reader.records(0));
    let copied = read_offsets(tgt, &remote, 0);
    let copied_end = copied.last().expect("copied").0 + 1;
    // The runs reach the cluster state about once a second.
    let end = compacted.last().expect("records").0 + 1;
    wait_translated_to_end(&config, &strait, &topic, end, copied_end);
    assert_translation(&contact(&config), &topic, &compacted, &copied, copied_end);
}

/// Compaction while Strait copies: Strait copies the overwrites round by round as they come, the
/// broker compacts the source meanwhile, and the remote topic (created compacted like its source,
/// whose configs Strait copies) compacts too: in the end both hold exactly the same surviving
/// records, and each translates exactly to its copy.
#[test]
fn compaction_while_copying_leaves_both_sides_with_the_same_survivors() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("compacting");
    let remote = format!("A.{topic}");
    admin::create_topic_with_configs(src, &topic, 1, COMPACTED);
    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let strait = Strait::start(&config.toml(), "toml");
    verify::wait_for_topic(tgt, &remote, 1, Some(&strait));
    // Each round reaches the target before the next is written: one batch, and so one segment,
    // per round there too (the broker rolls on the records' timestamps).
    let (_, survivors) = produce_overwrites(src, &topic, "w", |sent| {
        verify::wait_for_tail(tgt, &remote, &[sent.to_vec()], Some(&strait));
    });
    let source_log = wait_compacted(src, &topic, &survivors);
    let target_log = wait_compacted(tgt, &remote, &survivors);
    assert_eq!(records(&source_log), records(&target_log));
    let target_end = target_log.last().expect("records").0 + 1;
    let end = source_log.last().expect("records").0 + 1;
    wait_translated_to_end(&config, &strait, &topic, end, target_end);
    // Strait copied every version before the broker removed it, one for one into the empty remote
    // topic: the offset map is one run, every offset translates exactly to the same offset (a
    // compacted one to the copy the target compacted too, from which a consumer reads the next
    // survivor), and the survivors sit at the same offsets on both sides.
    assert_eq!(
        source_log.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        target_log.iter().map(|(o, _)| *o).collect::<Vec<_>>()
    );
    let translated = translate(&contact(&config), &topic, &(0..=end).collect::<Vec<_>>());
    let expected: Vec<(i64, i64, String)> = (0..=end)
        .map(|o| {
            (
                o,
                o,
                if o == end { "caught_up" } else { "exact" }.to_owned(),
            )
        })
        .collect();
    assert_eq!(translated, expected);
}

/// DeleteRecords moves the source's log start: the node drops its local offset runs wholly below
/// it (`[node] offset_trim_interval_secs`), and translation stays exact above it.
#[test]
fn delete_records_trims_the_offset_runs_below_the_log_start() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("trim");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    config.node_extra = vec!["offset_trim_interval_secs = 1".to_owned()];
    let mut strait = Strait::start(&config.toml(), "toml");
    let base_ts = data::base_timestamp();
    let first = data::generate_range(0, 0..100, base_ts);
    data::produce(src, &topic, 0, &first);
    verify::wait_for_tail(tgt, &remote, std::slice::from_ref(&first), Some(&strait));
    // A record written to the remote topic by someone else: the next copies start a new run.
    let foreign = data::generate(0, 10_000, base_ts);
    data::produce(tgt, &remote, 0, std::slice::from_ref(&foreign));
    let second = data::generate_range(0, 100..200, base_ts);
    data::produce(src, &topic, 0, &second);
    let mut all = first.clone();
    all.push(foreign);
    all.extend(second.iter().cloned());
    verify::wait_for_tail(tgt, &remote, &[all], Some(&strait));

    admin::delete_records(src, &topic, 0, 150);
    wait::until(
        "the runs below the log start trimmed",
        DEADLINE,
        POLL,
        || {
            let log = strait.log();
            log.lines()
                .any(|l| {
                    l.contains("offset runs trimmed")
                        && l.contains("below=150")
                        && l.contains("dropped=1")
                })
                .then_some(())
                .ok_or_else(|| "no trim logged yet".to_owned())
        },
        || strait.log_tail(30),
    );
    // Above the log start translation stays exact: source 100.. went to target 101...
    let translated = translate(&contact(&config), &topic, &[150, 199, 200]);
    assert_eq!(
        translated,
        [
            (150, 151, "exact".to_owned()),
            (199, 200, "exact".to_owned()),
            (200, 201, "caught_up".to_owned())
        ]
    );
    assert!(strait.terminate().success());
    // The node's own store keeps only the run that holds the log start.
    let store = strait_storage::Store::open(data_dir.path(), Duration::from_millis(100))
        .expect("the node's store");
    let runs: Vec<_> = store
        .positions()
        .expect("positions")
        .offset_map()
        .runs(&strait_domain::PartitionKey::new(
            FLOW.parse().expect("a flow"),
            topic.clone(),
            0,
        ))
        .expect("runs")
        .iter()
        .map(|r| (r.source_start, r.target_start, r.len))
        .collect();
    assert_eq!(runs, [(100, 101, 100)]);
}

/// Strait stopped at source offset 100; the source deletes records up to 250 (DeleteRecords)
/// before Strait runs again; then, while the flow is paused, up to 330. Each time the partition
/// resumes at the log start (`auto.offset.reset` defaults to earliest) and reports what it could
/// not copy: a WARN line with the range and count, `strait_replication_records_skipped_total`, the
/// node status and `strait status`. The target holds exactly what the source still had, and a
/// skipped offset translates to the next replicated record.
#[test]
fn records_deleted_below_the_position_are_skipped_and_reported() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("skipped");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let metrics_addr: SocketAddr = format!("127.0.0.1:{}", broker::free_port())
        .parse()
        .expect("address");
    config.metrics_listen = Some(metrics_addr);
    let base_ts = data::base_timestamp();
    let generated = data::generate_range(0, 0..400, base_ts);
    copy_and_stop(&config, &topic, &generated[..100]);

    data::produce(src, &topic, 0, &generated[100..300]);
    admin::delete_records(src, &topic, 0, 250);
    let mut strait = Strait::start(&config.toml(), "toml");
    let mut expected: Vec<Record> = generated[..100].to_vec();
    expected.extend_from_slice(&generated[250..300]);
    verify::wait_for_tail(tgt, &remote, &[expected.clone()], Some(&strait));
    let reported = wait_report(
        &config,
        &strait,
        &topic,
        "the skip in the node status",
        |r| r.0 == 300 && r.1 > 0,
    );
    assert_eq!(
        reported,
        (300, 150, 100, 250, "running".to_owned(), String::new())
    );
    let log = strait.log();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("source records skipped"))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:#?}");
    for field in ["from=100", "to=250", "skipped=150", "log_start=250"] {
        assert!(warned[0].contains(field), "{field} in {}", warned[0]);
    }
    wait_skipped_total(
        metrics_addr,
        &strait,
        &topic,
        "the skipped records counter",
        150.0,
    );
    let status = run_cli_ok(&["status", "--contact", &contact(&config)]);
    assert!(
        status.contains(&format!(
            "A->B {topic}-0: 150 source records skipped, never replicated (last: offsets 100..250"
        )),
        "strait status:\n{status}"
    );
    // A skipped offset translates to the next replicated record (source 250 at target 100).
    wait::until(
        "the skip in the offset map",
        DEADLINE,
        POLL,
        || {
            let t = translate(&contact(&config), &topic, &[99, 100, 249, 250]);
            let want = [
                (99, 99, "exact".to_owned()),
                (100, 100, "next_record".to_owned()),
                (249, 100, "next_record".to_owned()),
                (250, 100, "exact".to_owned()),
            ];
            (t == want).then_some(()).ok_or_else(|| format!("{t:?}"))
        },
        || strait.log_tail(10),
    );

    // Paused: the partition stops where it is; records beyond it are deleted meanwhile.
    run_cli_ok(&["flows", "pause", FLOW, "--contact", &contact(&config)]);
    wait::until(
        "the partition stopped",
        DEADLINE,
        POLL,
        || {
            // A paused partition stays listed (with its lag), as `paused`.
            let status = status_at(&contact(&config))?;
            match partition_report(&status, &topic) {
                Some(r) if r.4 != "paused" => Err(format!("still running: {r:?}")),
                _ => Ok(()),
            }
        },
        || strait.log_tail(10),
    );
    data::produce(src, &topic, 0, &generated[300..400]);
    admin::delete_records(src, &topic, 0, 330);
    run_cli_ok(&["flows", "resume", FLOW, "--contact", &contact(&config)]);
    expected.extend_from_slice(&generated[330..400]);
    let reader = verify::wait_for_tail(tgt, &remote, &[expected.clone()], Some(&strait));
    verify::assert_same_records(&remote, &expected, reader.records(0));
    wait_report(&config, &strait, &topic, "both skips counted", |r| {
        r.1 == 180
    });
    let reported = partition_report(&status_at(&contact(&config)).expect("status"), &topic);
    assert_eq!(
        reported.map(|r| (r.2, r.3)),
        Some((300, 330)),
        "the last skipped range"
    );
    wait_skipped_total(
        metrics_addr,
        &strait,
        &topic,
        "the counter after both skips",
        180.0,
    );
    assert!(strait.terminate().success());
}

/// `A.consumer.auto.offset.reset = latest` in mm2.properties: a position below the log start
/// resumes at the high watermark, and everything up to it counts as skipped.
#[test]
fn auto_offset_reset_latest_skips_to_the_high_watermark() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("latest");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let base_ts = data::base_timestamp();
    let generated = data::generate_range(0, 0..330, base_ts);
    copy_and_stop(&config, &topic, &generated[..100]);

    data::produce(src, &topic, 0, &generated[100..300]);
    admin::delete_records(src, &topic, 0, 250);
    // The same node, now on an mm2.properties as a MirrorMaker 2 user writes it.
    let properties = format!(
        "{}A.consumer.auto.offset.reset = latest\n",
        config.properties()
    );
    let strait = Strait::start(&properties, "properties");
    let reported = wait_report(
        &config,
        &strait,
        &topic,
        "the skip to the high watermark",
        |r| r.1 > 0,
    );
    assert_eq!((reported.1, reported.2, reported.3), (200, 100, 300));
    data::produce(src, &topic, 0, &generated[300..330]);
    let mut expected = generated[..100].to_vec();
    expected.extend_from_slice(&generated[300..330]);
    let reader = verify::wait_for_tail(tgt, &remote, &[expected.clone()], Some(&strait));
    verify::assert_same_records(&remote, &expected, reader.records(0));
}

/// `auto.offset.reset = none`: a position below the log start is not resumed anywhere; the
/// partition backs off with an error that says why, and copies nothing.
#[test]
fn auto_offset_reset_none_stops_the_partition_with_a_clear_error() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("none");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 1);
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    config
        .consumer_props
        .push(("auto.offset.reset".to_owned(), "error".to_owned()));
    let generated = data::generate_range(0, 0..200, data::base_timestamp());
    copy_and_stop(&config, &topic, &generated[..50]);

    data::produce(src, &topic, 0, &generated[50..200]);
    admin::delete_records(src, &topic, 0, 120);
    let strait = Strait::start(&config.toml(), "toml");
    let reported = wait_report(&config, &strait, &topic, "the partition backing off", |r| {
        r.4 == "backing_off"
    });
    assert_eq!((reported.0, reported.1), (50, 0), "{reported:?}");
    assert!(
        reported.5.contains("source position 50 is outside the source's log (log start 120, end 200) and auto.offset.reset is none"),
        "{reported:?}"
    );
    assert_eq!(
        verify::read_partition(tgt, &remote, 0),
        generated[..50].to_vec()
    );
}

/// The count of log lines of `strait` at WARN or ERROR that mention `needle`.
fn complaints(strait: &Strait, needle: &str) -> usize {
    strait
        .log()
        .lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && l.contains(needle))
        .count()
}

/// A source topic deleted under a running flow: its partitions leave the assignment and the
/// node (no error loop in the log), the remote topic stays as it is, and the flow's other topics
/// go on.
#[test]
fn a_source_topic_deleted_under_a_running_flow_is_released() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let prefix = names::unique("srcdel");
    let (doomed, kept) = (format!("{prefix}-doomed"), format!("{prefix}-kept"));
    admin::create_topic(src, &doomed, 2);
    admin::create_topic(src, &kept, 1);
    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(src, tgt, data_dir.path(), &[&format!("{prefix}-.*")]);
    let strait = Strait::start(&config.toml(), "toml");
    let base_ts = data::base_timestamp();
    let doomed_sent = data::produce_generated_range(src, &doomed, 2, 0..100, base_ts);
    verify::wait_for_tail(tgt, &format!("A.{doomed}"), &doomed_sent, Some(&strait));

    admin::delete_topic(src, &doomed);
    wait::until(
        "the deleted topic's partitions gone from the assignment and the node",
        DEADLINE,
        POLL,
        || {
            let status = status_at(&contact(&config))?;
            let assigned = status
                .assignments
                .iter()
                .filter(|a| a.topic == doomed)
                .count();
            let running = status
                .partitions
                .iter()
                .filter(|p| p.topic == doomed)
                .count();
            match (assigned, running) {
                (0, 0) => Ok(()),
                other => Err(format!("assigned, running: {other:?}")),
            }
        },
        || strait.log_tail(30),
    );
    // The flow goes on, and the node stays quiet about the deleted topic.
    let complained = complaints(&strait, &doomed);
    let kept_sent = data::produce_generated_range(src, &kept, 1, 0..100, base_ts);
    verify::wait_for_tail(tgt, &format!("A.{kept}"), &kept_sent, Some(&strait));
    assert!(
        complained < 20,
        "{complained} complaints:\n{}",
        strait.log_tail(40)
    );
    assert_eq!(
        complaints(&strait, &doomed),
        complained,
        "complaints after the partitions left:\n{}",
        strait.log_tail(40)
    );
    // The remote topic keeps what was copied (Strait never deletes on the target).
    assert_eq!(verify::read_topic(tgt, &format!("A.{doomed}")), doomed_sent);
}

/// A remote topic deleted under a running flow: the next topic refresh creates it again with the
/// source's partition count (never the broker's auto-creation with one partition) and says so in
/// a WARN line, and every record written to the source after the deletion arrives, exactly once,
/// in order.
#[test]
fn a_remote_topic_deleted_under_a_running_flow_is_recreated_and_nothing_after_is_lost() {
    if !real_kafka_only() {
        return;
    }
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("remdel");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 3);
    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let strait = Strait::start(&config.toml(), "toml");
    let base_ts = data::base_timestamp();
    let before = data::produce_generated_range(src, &topic, 3, 0..100, base_ts);
    verify::wait_for_tail(tgt, &remote, &before, Some(&strait));
    // The cluster knows the topic was replicated into once the positions are in its state
    // (proposed about once a second): only then is a deletion noticed as one.
    wait::until(
        "the replicated positions in the cluster's state",
        DEADLINE,
        POLL,
        || {
            let status = status_at(&contact(&config))?;
            let positions: Vec<i64> = status
                .assignments
                .iter()
                .filter(|a| a.topic == topic)
                .map(|a| a.next_source_offset)
                .collect();
            (positions == vec![100; 3])
                .then_some(())
                .ok_or_else(|| format!("{positions:?}"))
        },
        || strait.log_tail(30),
    );

    admin::delete_remote_topic(tgt, &remote);
    let after = data::produce_generated_range(src, &topic, 3, 100..300, base_ts);
    let reader = verify::wait_for_tail(tgt, &remote, &after, Some(&strait));
    assert_eq!(admin::partition_count(tgt, &remote), Some(3));
    verify::assert_same_partitions(&remote, &after, reader.all());
    wait::until(
        "every partition running at 300",
        DEADLINE,
        POLL,
        || {
            let status = status_at(&contact(&config))?;
            let states: Vec<(String, i64)> = status
                .partitions
                .iter()
                .filter(|p| p.topic == topic)
                .map(|p| (p.state.clone(), p.next_source_offset))
                .collect();
            (states == vec![("running".to_owned(), 300); 3])
                .then_some(())
                .ok_or_else(|| format!("{states:?}"))
        },
        || strait.log_tail(30),
    );
    let recreated = strait
        .log()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("remote topic was deleted on the target"))
        .count();
    assert_eq!(recreated, 1, "{}", strait.log_tail(40));
}

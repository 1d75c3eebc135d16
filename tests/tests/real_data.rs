//! Real data on real Apache Kafka: what producers in the field write, end to end, record for
//! record. Compressed batches of every codec (and the codec of the batches Strait writes),
//! transactional sources (committed records only; markers are gaps the offset translation steps
//! over), `LogAppendTime` topics, a record larger than the target accepts, and group offset sync
//! around a group that is consuming on the target.
//!
//! Transactions, compression codecs on disk and group membership need Apache Kafka: these tests
//! are ignored on Tansu.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use strait_tests::config::Config;
use strait_tests::data::{self, Record, TestProducer};
use strait_tests::group::ActiveMember;
use strait_tests::kafka::KafkaSpec;
use strait_tests::metrics::{sample, scrape};
use strait_tests::strait::{run_cli_ok, temp_dir};
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, wait, Broker, Strait};

const DEADLINE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(200);

/// librdkafka's codecs, one per source partition.
const CODECS: [&str; 4] = ["gzip", "snappy", "lz4", "zstd"];

/// Writes records `seqs` of each partition `p` of `topic` through a producer compressing with
/// `CODECS[p]` (several records per batch: `linger.ms` 20), and returns them by partition.
fn produce_compressed(
    bootstrap: &str,
    topic: &str,
    seqs: std::ops::Range<u64>,
    base_ts: i64,
) -> Vec<Vec<Record>> {
    CODECS
        .iter()
        .enumerate()
        .map(|(p, codec)| {
            let partition = p as i32;
            let producer = TestProducer::with_props(
                bootstrap,
                &[("compression.type", codec), ("linger.ms", "20")],
            );
            let records = data::generate_range(partition, seqs.clone(), base_ts);
            for record in &records {
                producer.send(topic, partition, record);
            }
            producer.flush();
            records
        })
        .collect()
}

/// A source topic whose four partitions are written by gzip, snappy, lz4 and zstd producers,
/// half before the node starts and half while it runs: the remote topic holds exactly the
/// records, partition for partition. (Before librdkafka was built with zstd, a zstd batch
/// stalled its partition.)
#[test]
#[cfg_attr(
    tansu,
    ignore = "Tansu: compressed batches are not this test's subject there"
)]
fn compressed_source_batches_are_copied_record_for_record() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let topic = names::unique("codecs");
    admin::create_topic(source.bootstrap(), &topic, CODECS.len());
    let base_ts = data::base_timestamp();
    let mut sent = produce_compressed(source.bootstrap(), &topic, 0..1000, base_ts);
    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    let mut strait = Strait::start(&config.toml(), "toml");
    let more = produce_compressed(source.bootstrap(), &topic, 1000..2000, base_ts);
    for (partition, more) in sent.iter_mut().zip(more) {
        partition.extend(more);
    }
    let remote = format!("A.{topic}");
    let reader = wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));
    verify::assert_same_partitions(&remote, &sent, reader.all());
    strait.assert_running();
}

/// The codec of the batches Strait writes is the flow's producer setting: in TOML a flow's
/// `[flows.X.producer]` over its target cluster's `[clusters.B.producer]`; in `mm2.properties`
/// MirrorMaker 2's connector override `A->B.producer.override.compression.type` over
/// `B.producer.compression.type`. Read from the target broker's own segment files with Kafka's
/// `DumpLogSegments`: every batch of each remote topic carries the chosen codec, and the records
/// are exact.
#[test]
#[cfg_attr(
    tansu,
    ignore = "needs an Apache Kafka target of the test's own (its log files)"
)]
fn target_batches_use_the_codec_of_the_flow_producer_settings() {
    let _heavy = serial::heavy();
    let source = Broker::source();
    let mut target = Broker::start_kafka(&KafkaSpec::default());
    let prefix = names::unique("tcodec");
    let toml_topic = format!("{prefix}-toml");
    let mm2_topic = format!("{prefix}-mm2");
    let base_ts = data::base_timestamp();
    let mut sent = Vec::new();
    for topic in [&toml_topic, &mm2_topic] {
        admin::create_topic(source.bootstrap(), topic, 2);
        sent.push(data::produce_generated(
            source.bootstrap(),
            topic,
            2,
            3000,
            base_ts,
        ));
    }

    let toml_dir = temp_dir("strait-data-");
    let mut toml = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        toml_dir.path(),
        &[&toml_topic],
    );
    // The TOML writer ends the flow's table with these lines, so they open tables of their own.
    toml.flow().toml_extra = vec![
        "[flows.ab.producer]".to_owned(),
        "\"compression.type\" = \"zstd\"".to_owned(),
        "[clusters.B.producer]".to_owned(),
        "\"compression.type\" = \"snappy\"".to_owned(),
    ];
    let mm2_dir = temp_dir("strait-data-");
    let mm2 = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        mm2_dir.path(),
        &[&mm2_topic],
    );
    let properties = format!(
        "{}B.producer.compression.type = gzip\nA->B.producer.override.compression.type = lz4\n",
        mm2.properties()
    );
    let mut by_toml = Strait::start(&toml.toml(), "toml");
    let mut by_mm2 = Strait::start(&properties, "properties");

    for ((topic, sent), (strait, codec)) in [&toml_topic, &mm2_topic]
        .into_iter()
        .zip(&sent)
        .zip([(&by_toml, "zstd"), (&by_mm2, "lz4")])
    {
        let remote = format!("A.{topic}");
        let reader = wait_for_tail(target.bootstrap(), &remote, sent, Some(strait));
        verify::assert_same_partitions(&remote, sent, reader.all());
        for partition in 0..2 {
            let codecs = target.kafka().batch_codecs(1, &remote, partition);
            assert!(
                !codecs.is_empty(),
                "no batch of {remote}/{partition} on disk"
            );
            // librdkafka sends a batch uncompressed when compressing it does not make it
            // smaller (a small first batch, say): `none` is fine, another codec never.
            assert!(
                codecs.iter().all(|c| c == codec || c == "none")
                    && codecs.iter().any(|c| c == codec),
                "{remote}/{partition}: batch codecs {codecs:?}, expected {codec} (or none)"
            );
            println!(
                "{remote}/{partition}: {} batches, all {codec}",
                codecs.len()
            );
        }
    }
    by_toml.assert_running();
    by_mm2.assert_running();
}

/// One record of a transactional test producer: key, value and a header tell which transaction
/// and record it is.
fn txn_record(txn: usize, i: u64, base_ts: i64) -> Record {
    Record {
        key: Some(format!("txn{txn}-k{i}").into_bytes()),
        value: Some(format!("txn{txn}-v{i}").into_bytes()),
        headers: vec![("txn".to_owned(), Some(txn.to_string().into_bytes()))],
        timestamp: base_ts + i as i64,
    }
}

/// Runs transactions on `topic`/0, each `(records, commit?)`, through one transactional
/// producer; returns the records of the committed ones, in order.
fn run_transactions(
    bootstrap: &str,
    topic: &str,
    txns: &[(u64, bool)],
    base_ts: i64,
) -> Vec<Record> {
    let producer: ThreadedProducer<_> = admin::client_config(bootstrap)
        .set("transactional.id", names::unique("strait-test-txn"))
        .set("linger.ms", "5")
        .create()
        .expect("transactional producer");
    let timeout = Duration::from_secs(30);
    producer
        .init_transactions(timeout)
        .expect("init_transactions");
    let mut committed = Vec::new();
    let mut seq = 0;
    for (txn, (count, commit)) in txns.iter().enumerate() {
        producer.begin_transaction().expect("begin_transaction");
        let records: Vec<Record> = (seq..seq + count)
            .map(|i| txn_record(txn, i, base_ts))
            .collect();
        seq += count;
        for record in &records {
            let mut headers = rdkafka::message::OwnedHeaders::new();
            for (key, value) in &record.headers {
                headers = headers.insert(rdkafka::message::Header {
                    key,
                    value: value.as_deref(),
                });
            }
            producer
                .send(
                    BaseRecord::to(topic)
                        .partition(0)
                        .key(record.key.as_deref().unwrap())
                        .payload(record.value.as_deref().unwrap())
                        .headers(headers)
                        .timestamp(record.timestamp),
                )
                .map_err(|(e, _)| e)
                .expect("send in a transaction");
        }
        if *commit {
            producer
                .commit_transaction(timeout)
                .expect("commit_transaction");
            committed.extend(records);
        } else {
            // Flushed first, so the aborted records are in the log (between markers).
            producer.flush(timeout).expect("flush");
            producer
                .abort_transaction(timeout)
                .expect("abort_transaction");
        }
    }
    committed
}

/// A consumer of `group` that commits `offset` on `topic`/0 without joining (as a group that
/// stopped would have left it).
fn commit_group(bootstrap: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("offset");
    consumer
        .commit(&tpl, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("committing {offset} for {group}: {e}"));
}

/// Kafka's Struct encoding of a checkpoint (MM2's layout), read independently of Strait:
/// `(group, partition, upstream offset, downstream offset)`.
fn decode_checkpoint(key: &[u8], value: &[u8]) -> (String, i32, i64, i64) {
    let string = |b: &[u8]| -> (String, usize) {
        let len = i16::from_be_bytes([b[0], b[1]]) as usize;
        (String::from_utf8(b[2..2 + len].to_vec()).unwrap(), 2 + len)
    };
    let (group, used) = string(key);
    let (_topic, used2) = string(&key[used..]);
    let partition = i32::from_be_bytes(key[used + used2..used + used2 + 4].try_into().unwrap());
    assert_eq!(&value[..2], &[0, 0], "checkpoint version 0");
    let upstream = i64::from_be_bytes(value[2..10].try_into().unwrap());
    let downstream = i64::from_be_bytes(value[10..18].try_into().unwrap());
    (group, partition, upstream, downstream)
}

/// The last checkpoint (upstream, downstream) of each group in `topic` (one partition).
fn last_checkpoints(bootstrap: &str, topic: &str) -> Result<BTreeMap<String, (i64, i64)>, String> {
    let checkpoints = verify::read_to_eof(bootstrap, topic, 0, |m| {
        let (group, _, up, down) =
            decode_checkpoint(m.key().unwrap_or_default(), m.payload().unwrap_or_default());
        (group, (up, down))
    })?;
    // Later checkpoints of a group replace earlier ones.
    Ok(checkpoints.into_iter().collect())
}

/// A transactional producer on the source commits some transactions and aborts others: the
/// target holds exactly the committed records (Strait reads with `isolation.level =
/// read_committed`; MirrorMaker 2 by default reads uncommitted and copies aborted records too).
/// Commit and abort markers, and aborted records, are gaps in the offset runs: groups committed
/// at a marker, just after it, inside an aborted transaction, on a record, and at the end
/// translate exactly (`strait translate` and the checkpoints agree), and from each translated
/// offset the target yields the record the group reads next on the source.
#[test]
#[cfg_attr(tansu, ignore = "Tansu has no transactions")]
fn transactions_replicate_committed_records_and_translate_across_markers() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let prefix = names::unique("txn");
    let topic = format!("{prefix}-t");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, 1);
    let base_ts = data::base_timestamp();
    // Source offsets: txn0 0..=9, commit marker 10; txn1 (aborted) 11..=20, marker 21; txn2
    // 22..=31, marker 32; txn3 (aborted) 33..=37, marker 38; txn4 39..=43, marker 44; end 45.
    let txns = [(10, true), (10, false), (10, true), (5, false), (5, true)];
    let committed = run_transactions(source.bootstrap(), &topic, &txns, base_ts);
    assert_eq!(committed.len(), 25);

    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    config.flow().toml_extra = vec![
        "emit_checkpoints_interval_secs = 1".to_owned(),
        format!("groups = [\"{prefix}-.*\"]"),
    ];
    let cluster_port = config.cluster_port;
    let mut strait = Strait::start(&config.toml(), "toml");
    let reader = wait_for_tail(
        target.bootstrap(),
        &remote,
        std::slice::from_ref(&committed),
        Some(&strait),
    );
    verify::assert_same_records(&remote, &committed, reader.records(0));

    // (group, committed source offset, expected target offset): target offsets 0..=9 hold
    // source 0..=9, 10..=19 hold 22..=31, 20..=24 hold 39..=43.
    let cases: Vec<(String, i64, i64)> = [
        ("at-commit-marker", 10, 10),
        ("after-commit-marker", 11, 10),
        ("in-aborted", 15, 10),
        ("at-abort-marker", 21, 10),
        ("first-after-abort", 22, 10),
        ("mid-txn", 25, 13),
        ("after-aborted-txn", 39, 20),
        ("at-last-marker", 44, 25),
        ("at-end", 45, 25),
    ]
    .into_iter()
    .map(|(name, up, down)| (format!("{prefix}-{name}"), up, down))
    .collect();
    for (group, offset, _) in &cases {
        commit_group(source.bootstrap(), group, &topic, 0, *offset);
    }
    let contact = format!("127.0.0.1:{cluster_port}");
    // The runs reach the cluster state within a position interval of the data.
    wait::until(
        "strait translate to answer every group exactly",
        DEADLINE,
        POLL,
        || {
            let mut wrong = Vec::new();
            for (group, offset, expected) in &cases {
                let out = run_cli_ok(&[
                    "translate",
                    "--flow",
                    "A->B",
                    "--group",
                    group,
                    "-o",
                    "json",
                    "--contact",
                    &contact,
                ]);
                let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
                let answer = &json["offsets"][0];
                let got = (
                    answer["source_offset"].as_i64(),
                    answer["target_offset"].as_i64(),
                );
                if got != (Some(*offset), Some(*expected)) {
                    wrong.push(format!("{group}: {answer}, want {offset} -> {expected}"));
                }
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(wrong.join("; "))
            }
        },
        || strait.log_tail(40),
    );
    let checkpoints = wait::until(
        "a checkpoint of every group at its translated offset",
        DEADLINE,
        POLL,
        || {
            let last = last_checkpoints(target.bootstrap(), "A.checkpoints.internal")?;
            let wrong: Vec<String> = cases
                .iter()
                .filter(|(g, up, down)| last.get(g) != Some(&(*up, *down)))
                .map(|(g, up, down)| format!("{g}: {:?}, want ({up}, {down})", last.get(g)))
                .collect();
            if wrong.is_empty() {
                Ok(last)
            } else {
                Err(wrong.join("; "))
            }
        },
        || strait.log_tail(40),
    );
    assert!(checkpoints.len() >= cases.len());
    // From each translated offset the target yields the record a read_committed consumer of the
    // source reads next from the group's offset.
    for (group, up, down) in &cases {
        let on_source = first_record_from(source.bootstrap(), &topic, *up);
        let on_target = first_record_from(target.bootstrap(), &remote, *down);
        assert_eq!(
            on_source, on_target,
            "{group}: next record from {up} / {down}"
        );
    }
    strait.assert_running();
}

/// The first record a read_committed consumer reads from `offset` of `topic`/0, `None` at the end.
fn first_record_from(bootstrap: &str, topic: &str, offset: i64) -> Option<Record> {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", names::unique("strait-test-probe"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .expect("offset");
    consumer.assign(&tpl).expect("assign");
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => return Some(to_record(&m).0),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return None,
            Some(Err(e)) => panic!("reading {topic} at {offset}: {e}"),
            None => {}
        }
    }
    panic!("no record and no end reading {topic} at {offset}")
}

/// A record and its timestamp type (`CreateTime`, `LogAppendTime`).
fn to_record<M: Message>(m: &M) -> (Record, Timestamp) {
    (verify::to_record(m), m.timestamp())
}

/// Every record of `topic`/0 with its timestamp type, until the end.
fn read_with_timestamp_types(bootstrap: &str, topic: &str) -> Vec<(Record, Timestamp)> {
    verify::read_to_eof(bootstrap, topic, 0, |m| to_record(m)).unwrap_or_else(|e| panic!("{e}"))
}

/// A source topic with `message.timestamp.type = LogAppendTime`: its records carry the broker's
/// append time, whatever the producer set. Strait copies that time, as MirrorMaker 2 does, as
/// the CreateTime of the target record (so it is kept exactly, not re-stamped by the target);
/// the remote topic does not get `message.timestamp.type` (MM2's `config.properties.exclude`
/// default), so the target reports the timestamps as CreateTime.
#[test]
#[cfg_attr(tansu, ignore = "Tansu does not stamp LogAppendTime")]
fn log_append_time_topics_keep_the_source_timestamps_as_create_time() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let topic = names::unique("appendtime");
    let remote = format!("A.{topic}");
    admin::create_topic_with_configs(
        source.bootstrap(),
        &topic,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    );
    // Producer timestamps an hour old: the broker replaces them with its append time.
    let base_ts = data::base_timestamp();
    let written: Vec<Record> = data::generate_range(0, 0..500, base_ts);
    data::produce(source.bootstrap(), &topic, 0, &written);
    let data_dir = temp_dir("strait-data-");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    let mut strait = Strait::start(&config.toml(), "toml");
    data::produce(
        source.bootstrap(),
        &topic,
        0,
        &data::generate_range(0, 500..1000, base_ts),
    );

    let on_source = read_with_timestamp_types(source.bootstrap(), &topic);
    assert_eq!(on_source.len(), 1000);
    assert!(
        on_source
            .iter()
            .all(|(r, t)| matches!(t, Timestamp::LogAppendTime(_)) && r.timestamp > base_ts + 1000),
        "the source stamps LogAppendTime: {:?}",
        on_source.first()
    );
    let expected: Vec<Record> = on_source.iter().map(|(r, _)| r.clone()).collect();
    wait_for_tail(
        target.bootstrap(),
        &remote,
        std::slice::from_ref(&expected),
        Some(&strait),
    );
    let on_target = read_with_timestamp_types(target.bootstrap(), &remote);
    let records: Vec<Record> = on_target.iter().map(|(r, _)| r.clone()).collect();
    verify::assert_same_records(&remote, &expected, &records);
    assert!(
        on_target
            .iter()
            .all(|(r, t)| *t == Timestamp::CreateTime(r.timestamp)),
        "the target reports CreateTime: {:?}",
        on_target
            .iter()
            .find(|(_, t)| !matches!(t, Timestamp::CreateTime(_)))
    );
    let overrides = admin::topic_overrides(target.bootstrap(), &remote);
    assert!(
        !overrides.contains_key("message.timestamp.type"),
        "the remote topic got the source's timestamp type: {overrides:?}"
    );
    let effective = admin::describe_topic_configs(target.bootstrap(), &remote)
        .into_iter()
        .find(|e| e.name == "message.timestamp.type")
        .and_then(|e| e.value);
    assert_eq!(effective.as_deref(), Some("CreateTime"));
    strait.assert_running();
}

/// `(state, members)` of `group` as DescribeGroups shows it.
fn describe_group(bootstrap: &str, group: &str) -> Option<(String, usize)> {
    let consumer: BaseConsumer = admin::client_config(bootstrap).create().expect("client");
    let list = consumer
        .fetch_group_list(Some(group), Duration::from_secs(10))
        .ok()?;
    list.groups()
        .iter()
        .find(|g| g.name() == group)
        .map(|g| (g.state().to_owned(), g.members().len()))
}

/// Group offset sync with a group that is consuming on the target: a live member subscribed to
/// the remote topic keeps the group Stable with one member, and sync leaves it alone round after
/// round (another group, committed after it on the source, is synced meanwhile); once the member
/// leaves, the group is Empty and its translated offsets are committed there. Only real Kafka
/// lists a group's members (Tansu's DescribeGroups shows none).
#[test]
#[cfg_attr(tansu, ignore = "Tansu's DescribeGroups lists no members")]
fn group_offset_sync_waits_for_the_active_target_group_to_leave() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let prefix = names::unique("gleave");
    let topic = format!("{prefix}-t");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 2);
    // Foreign records on the remote topic first: target offsets are not source offsets.
    admin::create_topic(tgt, &remote, 2);
    let base_ts = data::base_timestamp();
    let foreign = [7u64, 3];
    let mut sent = Vec::new();
    for (p, count) in foreign.iter().enumerate() {
        let p = p as i32;
        data::produce(
            tgt,
            &remote,
            p,
            &data::generate_range(p + 10, 0..*count, base_ts),
        );
        let records = data::generate_range(p, 0..50, base_ts);
        data::produce(src, &topic, p, &records);
        sent.push(records);
    }
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    config.flow().toml_extra = vec![
        "emit_checkpoints_interval_secs = 1".to_owned(),
        "sync_group_offsets_enabled = true".to_owned(),
        "sync_group_offsets_interval_secs = 1".to_owned(),
        format!("groups = [\"{prefix}-.*\"]"),
    ];
    let mut strait = Strait::start(&config.toml(), "toml");
    let expected: Vec<Vec<Record>> = foreign
        .iter()
        .zip(&sent)
        .enumerate()
        .map(|(p, (count, records))| {
            let mut all = data::generate_range(p as i32 + 10, 0..*count, base_ts);
            all.extend(records.iter().cloned());
            all
        })
        .collect();
    wait_for_tail(tgt, &remote, &expected, Some(&strait));

    // A member of `active` consumes the remote topic on the target (committing nothing).
    let active = format!("{prefix}-active");
    let member = ActiveMember::join(tgt, &active, &remote);
    wait::until(
        "the target group's member to be assigned",
        DEADLINE,
        POLL,
        || match describe_group(tgt, &active) {
            Some((state, 1)) if state == "Stable" && member.is_assigned() => Ok(()),
            other => Err(format!("{other:?}")),
        },
        String::new,
    );

    // The active group commits on the source first, then an idle one: a sync round that saw the
    // idle group's commit saw the active group's too.
    let idle = format!("{prefix}-idle");
    commit_group(src, &active, &topic, 0, 20);
    commit_group(src, &active, &topic, 1, 10);
    commit_group(src, &idle, &topic, 0, 30);
    commit_group(src, &idle, &topic, 1, 40);
    let wait_idle = |want: BTreeMap<i32, i64>| {
        wait::until(
            &format!("the idle group at {want:?} on the target"),
            DEADLINE,
            POLL,
            || {
                let got = admin::committed_offsets(tgt, &idle, &remote, 2);
                (got == want).then_some(()).ok_or(format!("{got:?}"))
            },
            || strait.log_tail(40),
        )
    };
    wait_idle(BTreeMap::from([(0, 37), (1, 43)]));
    // One more round after that one.
    commit_group(src, &idle, &topic, 0, 31);
    wait_idle(BTreeMap::from([(0, 38), (1, 43)]));
    assert_eq!(
        admin::committed_offsets(tgt, &active, &remote, 2),
        BTreeMap::new(),
        "offsets were committed into a group with an active member"
    );
    assert_eq!(
        describe_group(tgt, &active).map(|(_, members)| members),
        Some(1)
    );

    // The member leaves: the group is Empty, and the next round syncs it.
    member.leave();
    let synced = wait::until(
        "the active group's offsets once its member left",
        DEADLINE,
        POLL,
        || {
            let got = admin::committed_offsets(tgt, &active, &remote, 2);
            if got == BTreeMap::from([(0, 27), (1, 13)]) {
                Ok(got)
            } else {
                Err(format!("{got:?}; group {:?}", describe_group(tgt, &active)))
            }
        },
        || strait.log_tail(40),
    );
    assert_eq!(synced.len(), 2);
    strait.assert_running();
}

/// This node's partitions as `GetNodeStatus` reports them.
fn node_partitions(contact: &str) -> Vec<strait_proto::v1::PartitionStatus> {
    use strait_proto::v1::status_client::StatusClient;
    use strait_proto::v1::GetNodeStatusRequest;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut client = StatusClient::connect(format!("http://{contact}"))
            .await
            .unwrap_or_else(|e| panic!("cannot reach {contact}: {e}"));
        client
            .get_node_status(GetNodeStatusRequest {})
            .await
            .expect("GetNodeStatus")
            .into_inner()
            .partitions
    })
}

/// A 200 KB record on partition 0 of a topic, to a target broker that accepts at most 64 KiB
/// (`message.max.bytes`): that partition stops right before it (the target holds exactly the
/// records before it, and nothing after it is ever written), `GetNodeStatus`, `strait status`
/// and `strait lag` show the partition backing off with a "too large" error, the metrics count
/// a fatal producer error and one failing partition, and the rest of the flow (the topic's
/// other partition, another topic) keeps replicating record for record.
#[test]
#[cfg_attr(
    tansu,
    ignore = "needs an Apache Kafka target with broker settings of its own"
)]
fn a_record_too_large_for_the_target_stops_only_its_partition() {
    let _heavy = serial::heavy();
    let source = Broker::source();
    let target = Broker::start_kafka(&KafkaSpec::default().with("message.max.bytes", "65536"));
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let prefix = names::unique("toolarge");
    let big = format!("{prefix}-big");
    let other = format!("{prefix}-other");
    admin::create_topic(src, &big, 2);
    admin::create_topic(src, &other, 1);
    let base_ts = data::base_timestamp();
    // Small records (up to ~300 B; 100 of them fit in one 64 KiB batch).
    let mut big_p1 = data::generate_range(1, 0..100, base_ts);
    let mut other_p0 = data::generate_range(0, 0..100, base_ts);
    data::produce(src, &big, 1, &big_p1);
    data::produce(src, &other, 0, &other_p0);

    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(src, tgt, data_dir.path(), &[&format!("{prefix}-.*")]);
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], strait_tests::broker::free_port()));
    config.metrics_listen = Some(metrics);
    let contact = format!("127.0.0.1:{}", config.cluster_port);
    let mut strait = Strait::start(&config.toml(), "toml");
    let (remote_big, remote_other) = (format!("A.{big}"), format!("A.{other}"));
    wait_for_tail(
        tgt,
        &remote_big,
        &[Vec::new(), big_p1.clone()],
        Some(&strait),
    );
    wait_for_tail(
        tgt,
        &remote_other,
        std::slice::from_ref(&other_p0),
        Some(&strait),
    );

    // Partition 0: 50 records, replicated; then one of 200 KB, then 50 more one at a time, so
    // that some reach Strait's producer after the large one, in batches of their own.
    let before: Vec<Record> = data::generate_range(0, 0..50, base_ts);
    data::produce(src, &big, 0, &before);
    wait_for_tail(
        tgt,
        &remote_big,
        &[before.clone(), big_p1.clone()],
        Some(&strait),
    );
    data::produce(
        src,
        &big,
        0,
        &[data::generate_padded(0, 50, base_ts, 200_000)],
    );
    let one_by_one = TestProducer::with_props(src, &[("linger.ms", "0")]);
    for record in data::generate_range(0, 51..101, base_ts) {
        one_by_one.send(&big, 0, &record);
        one_by_one.flush();
    }

    let failed = wait::until(
        "the status to show partition 0 failing on the large record",
        DEADLINE,
        POLL,
        || {
            let partitions = node_partitions(&contact);
            let p0 = partitions
                .iter()
                .find(|p| p.topic == big && p.partition == 0)
                .ok_or("no partition 0")?;
            if p0.state == "backing_off" && p0.last_error.contains("too large") {
                Ok(p0.clone())
            } else {
                Err(format!("{p0:?}"))
            }
        },
        || strait.log_tail(40),
    );
    println!("partition 0: {failed:?}");
    assert_eq!(
        failed.next_source_offset, 50,
        "stopped right before the large record"
    );
    assert!(failed.restarts >= 1);
    let status = run_cli_ok(&["status", "--contact", &contact]);
    assert!(
        status
            .lines()
            .any(|l| l.contains(&format!("{big}-0")) && l.contains("too large")),
        "strait status names the partition and its error:\n{status}"
    );
    let lag = run_cli_ok(&["lag", "--topic", &big, "--contact", &contact]);
    assert!(
        lag.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(2) == Some(&"0") && cols.last() == Some(&"backing_off")
        }),
        "strait lag shows partition 0 backing off:\n{lag}"
    );
    wait::until(
        "the failure in the metrics",
        DEADLINE,
        POLL,
        || {
            let body = scrape(metrics)?;
            let fatal = sample(&body, "strait_producer_errors_total", &[("class", "fatal")]);
            let failing = sample(
                &body,
                "strait_replication_partitions_failing",
                &[("flow", "A->B")],
            );
            match (fatal, failing) {
                (Some(f), Some(n)) if f >= 1.0 && n == 1.0 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
        || strait.log_tail(40),
    );

    // The rest of the flow keeps going.
    let more_p1 = data::generate_range(1, 100..200, base_ts);
    let more_other = data::generate_range(0, 100..200, base_ts);
    data::produce(src, &big, 1, &more_p1);
    data::produce(src, &other, 0, &more_other);
    big_p1.extend(more_p1);
    other_p0.extend(more_other);
    let reader = wait_for_tail(
        tgt,
        &remote_other,
        std::slice::from_ref(&other_p0),
        Some(&strait),
    );
    verify::assert_same_records(&remote_other, &other_p0, reader.records(0));
    let mut reader = wait_for_tail(
        tgt,
        &remote_big,
        &[before.clone(), big_p1.clone()],
        Some(&strait),
    );
    verify::assert_same_records(&format!("{remote_big}/1"), &big_p1, reader.records(1));
    // Partition 0 holds exactly the records before the large one: nothing after it was written,
    // neither on the first attempt nor on a retry.
    reader.catch_up(Duration::from_secs(5));
    verify::assert_same_records(&format!("{remote_big}/0"), &before, reader.records(0));
    strait.assert_running();
}

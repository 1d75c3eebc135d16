//! Consumer fail-over (issue 5): checkpoints, offset syncs and heartbeats in MirrorMaker 2's
//! layout, exact offset translation, and group offset sync.
//!
//! The records are decoded here by hand from MM2's byte layout (Kafka's Struct encoding), sharing
//! no code with Strait's encoder. Source groups commit through a consumer that `assign()`s
//! (Tansu joins subscribed groups only after session.timeout.ms / 2).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use strait_tests::cluster::StraitCluster;
use strait_tests::config::{Config, Flow};
use strait_tests::data::{self, ContinuousProducer, Record, TestProducer};
use strait_tests::group::ActiveMember;
use strait_tests::strait::{run_cli, run_cli_ok, temp_dir};
use strait_tests::{admin, mm2, names, serial, wait, Broker, Strait};

const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

/// `(key, value)` of a record, `None` where null.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

fn record(tag: &str, partition: i32, i: u64) -> Record {
    Record {
        key: Some(format!("{tag}-k-{partition}-{i}").into_bytes()),
        value: Some(format!("{tag}-v-{partition}-{i}").into_bytes()),
        headers: Vec::new(),
        timestamp: data::base_timestamp() + i as i64,
    }
}

fn produce(bootstrap: &str, topic: &str, partition: i32, tag: &str, range: std::ops::Range<u64>) {
    let producer = TestProducer::new(bootstrap);
    for i in range {
        producer.send(topic, partition, &record(tag, partition, i));
    }
    producer.flush();
}

fn consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    admin::client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "20")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer")
}

/// What a consumer reads first from `offset`: the record's offset, key and value; `None` when the
/// partition ends before any record.
fn first_from(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Option<(i64, KeyValue)> {
    let consumer = consumer(bootstrap, &names::unique("strait-test-probe"));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("offset");
    consumer.assign(&tpl).expect("assign");
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                return Some((
                    m.offset(),
                    (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)),
                ))
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return None,
            Some(Err(e)) => panic!("reading {topic}/{partition} at {offset}: {e}"),
            None => {}
        }
    }
    panic!("no record and no EOF reading {topic}/{partition} at {offset}")
}

/// Every record of a one-partition topic, from the beginning to EOF: `(key, value, timestamp)`.
fn read_all(bootstrap: &str, topic: &str) -> Vec<(Vec<u8>, Vec<u8>, i64)> {
    read_partition(bootstrap, topic, 0, Offset::Beginning, usize::MAX)
        .into_iter()
        .map(|(_, (k, v), ts)| (k.unwrap_or_default(), v.unwrap_or_default(), ts))
        .collect()
}

/// Up to `max` records of `topic`/`partition` from `from`, until EOF: `(offset, (key, value),
/// timestamp)`.
fn read_partition(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    from: Offset,
    max: usize,
) -> Vec<(i64, KeyValue, i64)> {
    let consumer = consumer(bootstrap, &names::unique("strait-test-reader"));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, from)
        .expect("offset");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) && out.len() < max {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push((
                m.offset(),
                (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)),
                m.timestamp().to_millis().unwrap_or(-1),
            )),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return out,
            Some(Err(_)) | None => {}
        }
    }
    out
}

/// Kafka's Struct encoding, read independently of Strait.
struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let len = self.i16() as usize;
        String::from_utf8(self.take(len).to_vec()).unwrap()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Checkpoint {
    group: String,
    topic: String,
    partition: i32,
    upstream: i64,
    downstream: i64,
    metadata: String,
}

fn checkpoints(bootstrap: &str, topic: &str) -> Vec<Checkpoint> {
    read_all(bootstrap, topic)
        .into_iter()
        .map(|(key, value, _)| {
            let mut k = Bytes(&key);
            let mut v = Bytes(&value);
            let (group, topic, partition) = (k.string(), k.string(), k.i32());
            assert_eq!(v.i16(), 0, "checkpoint value version");
            Checkpoint {
                group,
                topic,
                partition,
                upstream: v.i64(),
                downstream: v.i64(),
                metadata: v.string(),
            }
        })
        .collect()
}

/// The last checkpoint of `group` per partition.
fn last_checkpoints(bootstrap: &str, topic: &str, group: &str) -> BTreeMap<i32, Checkpoint> {
    checkpoints(bootstrap, topic)
        .into_iter()
        .filter(|c| c.group == group)
        .map(|c| (c.partition, c))
        .collect()
}

/// Commits `offsets` (partition → next offset to read) for `group` on `topic`, after reading
/// the records before them as the group's consumer would.
fn consume_and_commit(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    commit_with_metadata(bootstrap, group, topic, offsets, "");
}

/// As [`consume_and_commit`], each offset with `metadata` (none when empty).
fn commit_with_metadata(
    bootstrap: &str,
    group: &str,
    topic: &str,
    offsets: &[(i32, i64)],
    metadata: &str,
) {
    let consumer = consumer(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
        if !metadata.is_empty() {
            tpl.find_partition(topic, *partition)
                .expect("just added")
                .set_metadata(metadata);
        }
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("committing for {group}: {e}"));
}

/// The checkpoint moved the group to the right place: from `downstream` the target yields the
/// source record at `upstream` (nothing skipped), and the record before it on the target is the
/// source record before `upstream` (nothing the group already read comes again).
fn assert_resumes_exactly(
    source: &str,
    target: &str,
    topic: &str,
    remote: &str,
    cp: &Checkpoint,
) -> Result<(), String> {
    let p = cp.partition;
    let want = first_from(source, topic, p, cp.upstream).map(|(_, kv)| kv);
    let got = first_from(target, remote, p, cp.downstream).map(|(_, kv)| kv);
    if want != got {
        return Err(format!(
            "{cp:?}: next record on target {got:?}, on source {want:?}"
        ));
    }
    if cp.upstream > 0 && cp.downstream > 0 {
        let before = first_from(source, topic, p, cp.upstream - 1).map(|(_, kv)| kv);
        let got_before = first_from(target, remote, p, cp.downstream - 1).map(|(_, kv)| kv);
        if before != got_before {
            return Err(format!(
                "{cp:?}: record before on target {got_before:?}, on source {before:?}"
            ));
        }
    }
    Ok(())
}

struct Setup {
    source: Broker,
    target: Broker,
    topic: String,
    remote: String,
    prefix: String,
    _data: tempfile::TempDir,
    strait: Strait,
    /// The node's cluster port, where the control API answers.
    cluster_port: u16,
}

/// Topic with 2 partitions; the remote topic exists already and holds foreign records (7 in p0,
/// 3 in p1), so target offsets differ from source offsets; 50 records per source partition.
fn setup(tag: &str, extra: &[String]) -> Setup {
    let (source, target) = Broker::pair();
    let prefix = names::unique(tag);
    let topic = format!("{prefix}-t");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, 2);
    admin::create_topic(target.bootstrap(), &remote, 2);
    produce(target.bootstrap(), &remote, 0, "foreign", 0..7);
    produce(target.bootstrap(), &remote, 1, "foreign", 0..3);
    for p in 0..2 {
        produce(source.bootstrap(), &topic, p, "src", 0..50);
    }
    let data = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data.path(),
        &[&topic],
    );
    config.flow().toml_extra = [
        "emit_checkpoints_interval_secs = 1".to_owned(),
        "emit_heartbeats_interval_secs = 1".to_owned(),
        format!("groups = [\"{prefix}-.*\"]"),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .collect();
    let strait = Strait::start(&config.toml(), "toml");
    let cluster_port = config.cluster_port;
    Setup {
        cluster_port,
        source,
        target,
        topic,
        remote,
        prefix,
        _data: data,
        strait,
    }
}

/// A group consumes part of p0 and all of p1 and commits; after the checkpoint interval the
/// target holds checkpoints from which consuming yields exactly the next record (target offsets
/// differ from source offsets: the remote topic held records before); the group's rewind on the
/// source is followed; heartbeats and offset syncs decode with MM2's layout and are right.
#[test]
fn checkpoints_resume_a_group_exactly_on_the_target() {
    let _heavy = serial::heavy();
    let s = setup("ckpt", &[]);
    let (src, tgt) = (s.source.bootstrap(), s.target.bootstrap());
    let group = format!("{}-g", s.prefix);
    let checkpoints_topic = "A.checkpoints.internal";
    wait::until(
        "the checkpoints topic",
        DEADLINE,
        POLL,
        || {
            admin::topics(tgt)
                .contains_key(checkpoints_topic)
                .then_some(())
                .ok_or_else(|| "absent".to_owned())
        },
        || s.strait.log_tail(40),
    );
    consume_and_commit(src, &group, &s.topic, &[(0, 20), (1, 50)]);

    let settled = wait::until(
        "checkpoints of the group at its committed offsets, resuming exactly",
        DEADLINE,
        POLL,
        || {
            let last = last_checkpoints(tgt, checkpoints_topic, &group);
            let (Some(p0), Some(p1)) = (last.get(&0), last.get(&1)) else {
                return Err(format!("{last:?}"));
            };
            if p0.upstream != 20 || p1.upstream != 50 {
                return Err(format!("{last:?}"));
            }
            assert_resumes_exactly(src, tgt, &s.topic, &s.remote, p0)?;
            // p1 is caught up: the record before is the last one, and the next one comes when
            // the source gets it.
            assert_resumes_exactly(src, tgt, &s.topic, &s.remote, p1)?;
            Ok(last)
        },
        || s.strait.log_tail(40),
    );
    let p0 = &settled[&0];
    assert_eq!(
        (p0.topic.as_str(), p0.metadata.as_str()),
        (s.remote.as_str(), "")
    );
    assert_eq!(
        p0.downstream, 27,
        "7 foreign records before the replicated ones"
    );
    assert_eq!(settled[&1].downstream, 53);

    // The source gets one more record on p1: from the checkpoint the target yields exactly it.
    produce(src, &s.topic, 1, "src", 50..51);
    wait::until(
        "the caught-up checkpoint to resume at the new record",
        DEADLINE,
        POLL,
        || assert_resumes_exactly(src, tgt, &s.topic, &s.remote, &settled[&1]),
        || s.strait.log_tail(40),
    );

    // The group is rewound on the source: the checkpoint follows it back.
    consume_and_commit(src, &group, &s.topic, &[(0, 5)]);
    wait::until(
        "the checkpoint to follow the rewound group",
        DEADLINE,
        POLL,
        || {
            let last = last_checkpoints(tgt, checkpoints_topic, &group);
            match last.get(&0) {
                Some(cp) if cp.upstream == 5 => {
                    assert_resumes_exactly(src, tgt, &s.topic, &s.remote, cp)?;
                    Ok(cp.downstream)
                }
                other => Err(format!("{other:?}")),
            }
        },
        || s.strait.log_tail(40),
    );

    // The control API answers from the same offset map: `strait translate --group` gives the
    // checkpoints' target offsets for the group's committed offsets, and explicit offsets too.
    let last = last_checkpoints(tgt, checkpoints_topic, &group);
    let expected: BTreeMap<i32, (i64, i64)> = last
        .iter()
        .map(|(p, cp)| (*p, (cp.upstream, cp.downstream)))
        .collect();
    let contact = format!("127.0.0.1:{}", s.cluster_port);
    let out = run_cli_ok(&[
        "translate",
        "--flow",
        "A->B",
        "--group",
        &group,
        "-o",
        "json",
        "--contact",
        &contact,
    ]);
    let translated = translated_offsets(&out);
    assert_eq!(translated, expected, "strait translate --group:\n{out}");

    // MirrorMaker 2's own classes read what Strait wrote: its translation equals Strait's for
    // several groups, and it decodes every record of the internal topics.
    if strait_tests::mode::is_real_kafka() {
        let others = [
            (format!("{}-g2", s.prefix), vec![(0, 10), (1, 40)]),
            (format!("{}-g3", s.prefix), vec![(0, 50)]),
        ];
        // g2 commits with metadata: MM2 carries it into the checkpoints.
        for (other, offsets) in &others {
            let metadata = if other.ends_with("-g2") {
                "app=g2;v=7"
            } else {
                ""
            };
            commit_with_metadata(src, other, &s.topic, offsets, metadata);
        }
        let mut groups = vec![(group.clone(), vec![(0, 5), (1, 50)])];
        groups.extend(others);
        for (group, committed) in &groups {
            wait::until(
                &format!("checkpoints of {group} at {committed:?}"),
                DEADLINE,
                POLL,
                || {
                    let last = last_checkpoints(tgt, checkpoints_topic, group);
                    let at: Vec<(i32, i64)> = last.iter().map(|(p, c)| (*p, c.upstream)).collect();
                    (at == *committed)
                        .then_some(())
                        .ok_or_else(|| format!("{at:?}"))
                },
                || s.strait.log_tail(40),
            );
            mm2_translates_like_strait(tgt, &contact, &s.remote, group);
        }
        mm2_decodes_the_internal_topics(src, tgt, &s.topic, &s.remote, &groups);
    }
    let out = run_cli_ok(&[
        "translate",
        "--flow",
        "A->B",
        "--offset",
        &format!("{}:0:20", s.topic),
        "--contact",
        &contact,
    ]);
    assert!(
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                s.topic.as_str(),
                "0",
                "20",
                s.remote.as_str(),
                "27",
                "exact"
            ]),
        "strait translate --offset:\n{out}"
    );
    let out = run_cli(&[
        "translate",
        "--flow",
        "A->B",
        "--offset",
        "x:0:-1",
        "--contact",
        &contact,
    ]);
    assert!(
        out.code != Some(0) && format!("{}{}", out.stdout, out.stderr).contains("InvalidArgument"),
        "{out:?}"
    );

    // Heartbeats: key (A, B), value version 0 + a recent timestamp.
    let heartbeats = read_all(tgt, "heartbeats");
    assert!(!heartbeats.is_empty(), "no heartbeat on the target");
    let (key, value, _) = heartbeats.last().unwrap();
    let mut k = Bytes(key);
    assert_eq!((k.string(), k.string()), ("A".to_owned(), "B".to_owned()));
    let mut v = Bytes(value);
    assert_eq!(v.i16(), 0);
    let ts = v.i64();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        now.abs_diff(ts) < 600_000,
        "heartbeat timestamp {ts}, now {now}"
    );

    // Offset syncs on the source: each maps a source record to its copy on the target. Other
    // tests' flows write to the same topic (at the same time, in another lane of the suite): the
    // last syncs of this test's topic.
    let syncs = read_all(src, "mm2-offset-syncs.B.internal");
    let ours: Vec<(i32, &Vec<u8>)> = syncs
        .iter()
        .rev()
        .filter_map(|(key, value, _)| {
            let mut k = Bytes(key);
            let (topic, partition) = (k.string(), k.i32());
            (topic == s.topic).then_some((partition, value))
        })
        .take(4)
        .collect();
    assert!(
        !ours.is_empty(),
        "no offset sync of {} on the source",
        s.topic
    );
    for (partition, value) in ours {
        let mut v = Bytes(value);
        let (upstream, downstream) = (v.i64(), v.i64());
        assert_eq!(value.len(), 16);
        assert_eq!(
            first_from(src, &s.topic, partition, upstream).map(|r| r.1),
            first_from(tgt, &s.remote, partition, downstream).map(|r| r.1),
            "sync {partition}: {upstream} -> {downstream}"
        );
    }
}

/// MirrorMaker 2's `RemoteClusterUtils.translateOffsets` and `MirrorClient.remoteConsumerOffsets`
/// give `group` exactly the target offsets `strait translate` gives (via the node at `contact`).
fn mm2_translates_like_strait(target: &str, contact: &str, remote: &str, group: &str) {
    let out = run_cli_ok(&[
        "translate",
        "--flow",
        "A->B",
        "--group",
        group,
        "-o",
        "json",
        "--contact",
        contact,
    ]);
    // Exact, or caught up (a group at the end of a partition).
    let value: serde_json::Value = serde_json::from_str(&out).expect("JSON from strait translate");
    let strait: BTreeMap<i32, i64> = value["offsets"]
        .as_array()
        .expect("an offsets array")
        .iter()
        .map(|o| {
            assert!(o["exact"].as_bool().unwrap_or(false), "{o}");
            (
                o["partition"].as_i64().unwrap() as i32,
                o["target_offset"].as_i64().unwrap(),
            )
        })
        .collect();
    let facts = mm2::probe(&["translate", target, "A", group]);
    for kind in ["translated", "remote"] {
        let mm2: BTreeMap<i32, i64> = mm2::of_kind(&facts, kind)
            .into_iter()
            .map(|f| {
                assert_eq!(f[0], remote, "{kind}: {f:?}");
                (f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        assert_eq!(
            mm2, strait,
            "{group}: MM2's {kind} offsets against strait translate:\n{out}"
        );
    }
    println!("{group}: MM2 translates to {strait:?}, as strait translate does");
}

/// Every record of the checkpoints, heartbeats and offset-syncs topics decodes with MM2's classes,
/// and what they decode for this test's groups and topic is what Strait meant: the groups'
/// committed offsets at their place on the target, syncs that map a source offset to its copy.
fn mm2_decodes_the_internal_topics(
    source: &str,
    target: &str,
    topic: &str,
    remote: &str,
    groups: &[(String, Vec<(i32, i64)>)],
) {
    // Foreign records the remote topic held before the replicated ones, per partition.
    let foreign = |p: i32| if p == 0 { 7 } else { 3 };
    // Other tests write to these topics too: MM2 decodes at least what was there before (and the
    // probe fails on any record it cannot decode).
    let before = read_all(target, "A.checkpoints.internal").len();
    let checkpoints = mm2::probe(&["decode", target, "A.checkpoints.internal", "checkpoint"]);
    let total = checkpoints.len();
    assert!(
        total >= before,
        "MM2 decoded {total} of {before} checkpoints"
    );
    for (group, committed) in groups {
        let last: BTreeMap<i32, (i64, i64, String)> = mm2::of_kind(&checkpoints, "checkpoint")
            .into_iter()
            .filter(|f| f[0] == *group)
            .map(|f| {
                assert_eq!(f[1], remote, "{f:?}");
                let (p, up, down) = (
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                );
                (p, (up, down, f.get(5).cloned().unwrap_or_default()))
            })
            .collect(); // In the topic's order: the last one per partition stays.
        for (p, offset) in committed {
            let (up, down, metadata) = &last[p];
            assert_eq!(up, offset, "{group} p{p}: MM2 decoded upstream {up}");
            assert_eq!(
                *down - *up,
                foreign(*p),
                "{group} p{p}: downstream {down} for {up}"
            );
            let want = if group.ends_with("-g2") {
                "app=g2;v=7"
            } else {
                ""
            };
            assert_eq!(metadata, want, "{group} p{p}: the source commit's metadata");
        }
    }
    let before = read_all(target, "heartbeats").len();
    let heartbeats = mm2::probe(&["decode", target, "heartbeats", "heartbeat"]);
    let decoded = heartbeats.len();
    assert!(
        decoded >= before,
        "MM2 decoded {decoded} of {before} heartbeats"
    );
    assert!(
        mm2::of_kind(&heartbeats, "heartbeat")
            .iter()
            .any(|f| f[0] == "A" && f[1] == "B"),
        "a heartbeat A -> B"
    );
    let before = read_all(source, "mm2-offset-syncs.B.internal").len();
    let syncs = mm2::probe(&[
        "decode",
        source,
        "mm2-offset-syncs.B.internal",
        "offset-sync",
    ]);
    let decoded = syncs.len();
    assert!(
        decoded >= before,
        "MM2 decoded {decoded} of {before} offset syncs"
    );
    let ours: Vec<Vec<String>> = mm2::of_kind(&syncs, "offset-sync")
        .into_iter()
        .filter(|f| f[0] == topic)
        .collect();
    assert!(!ours.is_empty(), "offset syncs of {topic}");
    for f in &ours {
        let (p, up, down): (i32, i64, i64) = (
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
        );
        assert_eq!(down - up, foreign(p), "sync {f:?}");
    }
    println!(
        "MM2 decoded {total} checkpoints, {} heartbeats, {} offset syncs ({} of {topic}); \
         all decoded",
        heartbeats.len(),
        syncs.len(),
        ours.len()
    );
}

/// `partition -> (source offset, target offset)` from `strait translate -o json`.
fn translated_offsets(json: &str) -> BTreeMap<i32, (i64, i64)> {
    let value: serde_json::Value = serde_json::from_str(json).expect("JSON from strait translate");
    value["offsets"]
        .as_array()
        .expect("an offsets array")
        .iter()
        .map(|o| {
            assert_eq!(o["method"], "exact", "{o}");
            (
                o["partition"].as_i64().unwrap() as i32,
                (
                    o["source_offset"].as_i64().unwrap(),
                    o["target_offset"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Group offset sync writes the translated offsets into a target group that has no active
/// members, and leaves a group with an active member alone.
#[test]
fn group_offset_sync_skips_groups_with_active_members() {
    let _heavy = serial::heavy();
    let s = setup(
        "gsync",
        &[
            "sync_group_offsets_enabled = true".to_owned(),
            "sync_group_offsets_interval_secs = 1".to_owned(),
        ],
    );
    let (src, tgt) = (s.source.bootstrap(), s.target.bootstrap());
    let idle = format!("{}-idle", s.prefix);
    let active = format!("{}-active", s.prefix);

    // A member of `active` consumes the remote topic on the target (and commits nothing).
    let member = ActiveMember::join(tgt, &active, &s.remote);
    wait::until(
        "the target group member to be assigned",
        DEADLINE,
        POLL,
        || {
            member
                .is_assigned()
                .then_some(())
                .ok_or_else(|| "not yet".to_owned())
        },
        String::new,
    );

    consume_and_commit(src, &idle, &s.topic, &[(0, 20), (1, 10)]);
    consume_and_commit(src, &active, &s.topic, &[(0, 30), (1, 30)]);
    let synced = wait::until(
        "the idle group's translated offsets on the target",
        DEADLINE,
        POLL,
        || {
            let got = admin::committed_offsets(tgt, &idle, &s.remote, 2);
            if got == BTreeMap::from([(0, 27), (1, 13)]) {
                Ok(got)
            } else {
                Err(format!("{got:?}"))
            }
        },
        || s.strait.log_tail(40),
    );
    assert_eq!(synced.len(), 2);
    // Strait tried the active group too, and the broker or Strait left it alone.
    wait::until(
        "a sync round that reached the active group",
        DEADLINE,
        POLL,
        || {
            let log = s.strait.log();
            let line = log.lines().find(|l| {
                l.contains(&active) && (l.contains("not synced") || l.contains("active members"))
            });
            // Which of the two guards held (Tansu's DescribeGroups lists no members, so there
            // it is the broker refusing the commit).
            line.map(|l| eprintln!("active group: {l}"))
                .ok_or_else(|| "no line about it yet".to_owned())
        },
        || s.strait.log_tail(40),
    );
    let untouched = admin::committed_offsets(tgt, &active, &s.remote, 2);
    member.leave();
    assert!(
        untouched.is_empty(),
        "the active group's offsets were written: {untouched:?}"
    );

    // Never backwards: the idle group moved ahead on the target (its own consumers there); the
    // source group's next commit translates to less, and sync leaves the target group alone.
    consume_and_commit(tgt, &idle, &s.remote, &[(0, 40)]);
    consume_and_commit(src, &idle, &s.topic, &[(0, 21)]);
    wait::until(
        "a checkpoint for the idle group at 21",
        DEADLINE,
        POLL,
        || {
            let last = last_checkpoints(tgt, "A.checkpoints.internal", &idle);
            match last.get(&0) {
                Some(cp) if cp.upstream == 21 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
        || s.strait.log_tail(40),
    );
    // A checkpoint at 22 comes from a later round than the one that saw 21 (and synced after
    // it): by then that sync round is over, and the target group must still be at 40.
    consume_and_commit(src, &idle, &s.topic, &[(0, 22)]);
    wait::until(
        "a checkpoint for the idle group at 22",
        DEADLINE,
        POLL,
        || {
            let last = last_checkpoints(tgt, "A.checkpoints.internal", &idle);
            match last.get(&0) {
                Some(cp) if cp.upstream == 22 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
        || s.strait.log_tail(40),
    );
    let after = admin::committed_offsets(tgt, &idle, &s.remote, 2);
    assert_eq!(after.get(&0), Some(&40), "moved backwards: {after:?}");
}

/// Three nodes under load; the owner of partition 0 is killed, and its successor replays what it
/// had not reported (duplicates on the target). Afterwards a group's offsets (on partition 0 in
/// the replayed stretch when there is one) are translated from the runs the cluster state holds:
/// from each checkpoint the target yields the source records in order, none skipped, none
/// repeated.
#[test]
fn translation_survives_killing_the_partition_owner() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let prefix = names::unique("ckill");
    let topic = format!("{prefix}-t");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, 3);
    let mut base = Config::a_to_b(src, tgt, Path::new("unused"), &[&topic]);
    base.flow().toml_extra = vec![
        "emit_checkpoints_interval_secs = 1".to_owned(),
        format!("groups = [\"{prefix}-.*\"]"),
    ];
    let mut cluster = StraitCluster::start(3, &base);
    let before = cluster.wait_settled(&[1, 2, 3], 3, DEADLINE);
    let load = ContinuousProducer::start(src, &topic, 3, 600, 0, data::base_timestamp(), 0);
    let sent_at_least = |n: u64| {
        wait::until(
            &format!("{n} records produced"),
            DEADLINE,
            POLL,
            || {
                (load.sent() >= n)
                    .then_some(())
                    .ok_or_else(|| load.sent().to_string())
            },
            String::new,
        )
    };
    sent_at_least(1500);
    let victim = before.assignment[&("A->B".to_owned(), topic.clone(), 0)].owner;
    cluster.kill9(victim);
    let live: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != victim).collect();
    cluster.wait_settled(&live, 3, DEADLINE);
    sent_at_least(load.sent() + 600);
    let sent = load.stop();

    // Everything arrived; find the records partition 0 holds twice (the replay).
    let mut copies: Vec<Vec<(i64, KeyValue)>> = Vec::new();
    for (p, records) in sent.iter().enumerate() {
        let last = records.last().expect("records sent");
        let want = (last.key.clone(), last.value.clone());
        let got = wait::until(
            "the last record of each partition on the target",
            DEADLINE,
            POLL,
            || {
                let all = read_partition(tgt, &remote, p as i32, Offset::Beginning, usize::MAX);
                if all.iter().any(|(_, kv, _)| *kv == want) {
                    Ok(all)
                } else {
                    Err(format!("{} records on the target", all.len()))
                }
            },
            || cluster.describe(),
        );
        copies.push(got.into_iter().map(|(o, kv, _)| (o, kv)).collect());
    }
    let mut seen: HashMap<&KeyValue, usize> = HashMap::new();
    for (_, kv) in &copies[0] {
        *seen.entry(kv).or_default() += 1;
    }
    let sent0: Vec<KeyValue> = sent[0]
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect();
    // A replayed record (value-unique ones only: generated values repeat for tombstones).
    let replayed = sent0.iter().position(|kv| {
        kv.1.as_ref().is_some_and(|v| v.len() > 8) && seen.get(kv).copied().unwrap_or(0) > 1
    });
    let g0 = replayed.unwrap_or(sent0.len() / 2) as i64;
    println!(
        "node {victim} killed; partition 0: {} records sent, {} on the target, group at {g0} \
         ({})",
        sent0.len(),
        copies[0].len(),
        if replayed.is_some() {
            "in the replayed stretch"
        } else {
            "no replay seen"
        }
    );

    let group = format!("{prefix}-g");
    let committed: Vec<(i32, i64)> = vec![(0, g0), (1, 100), (2, sent[2].len() as i64 - 5)];
    consume_and_commit(src, &group, &topic, &committed);
    wait::until(
        "checkpoints resuming the group exactly after the owner's loss",
        DEADLINE,
        POLL,
        || {
            let last = last_checkpoints(tgt, "A.checkpoints.internal", &group);
            for (p, g) in &committed {
                let cp = last
                    .get(p)
                    .ok_or_else(|| format!("no checkpoint for {p}: {last:?}"))?;
                if cp.upstream != *g {
                    return Err(format!("{cp:?}"));
                }
                let expected: Vec<KeyValue> = sent[*p as usize][*g as usize..]
                    .iter()
                    .take(20)
                    .map(|r| (r.key.clone(), r.value.clone()))
                    .collect();
                let got: Vec<KeyValue> = read_partition(
                    tgt,
                    &remote,
                    *p,
                    Offset::Offset(cp.downstream),
                    expected.len(),
                )
                .into_iter()
                .map(|(_, kv, _)| kv)
                .collect();
                if got != expected {
                    return Err(format!(
                        "{cp:?}: the target does not continue with the source's records"
                    ));
                }
            }
            Ok(())
        },
        || cluster.describe(),
    );
    // MirrorMaker 2's translation of the checkpoints written across the loss is Strait's.
    if strait_tests::mode::is_real_kafka() {
        mm2_translates_like_strait(tgt, &cluster.address(live[0]), &remote, &group);
    }
}

/// A->B and B->A: each flow writes `heartbeats` on its target, and the other flow replicates it
/// back (whatever the topic filter) as `B.heartbeats` on A and `A.heartbeats` on B; a heartbeats
/// topic never goes back where it came from.
#[test]
fn heartbeats_are_replicated_as_reachability() {
    let _heavy = serial::heavy();
    // Heartbeats written to A: clusters of this test's own (see Broker::own_pair).
    let (a, b) = Broker::own_pair();
    let data = temp_dir("strait-data-");
    let only = names::unique("nothing-matches");
    let mut config = Config::a_to_b(a.bootstrap(), b.bootstrap(), data.path(), &[&only]);
    config.flows.push(Flow::new("B", "A", &[&only]));
    for flow in &mut config.flows {
        flow.toml_extra = vec!["emit_heartbeats_interval_secs = 1".to_owned()];
    }
    let strait = Strait::start(&config.toml(), "toml");
    // B->A writes `heartbeats` on A (key B, A); A->B replicates it to B as `A.heartbeats`.
    for (cluster, topic, src, tgt) in [
        (b.bootstrap(), "A.heartbeats", "B", "A"),
        (a.bootstrap(), "B.heartbeats", "A", "B"),
    ] {
        wait::until(
            &format!("{topic} with heartbeats {src}->{tgt}"),
            DEADLINE,
            POLL,
            || {
                if !admin::topics(cluster).contains_key(topic) {
                    return Err("no topic yet".to_owned());
                }
                let records = read_all(cluster, topic);
                let (key, value, _) = records.last().ok_or("empty")?;
                let mut k = Bytes(key);
                let aliases = (k.string(), k.string());
                let mut v = Bytes(value);
                if aliases != (src.to_owned(), tgt.to_owned()) || v.i16() != 0 {
                    return Err(format!("{aliases:?}"));
                }
                Ok(())
            },
            || strait.log_tail(40),
        );
    }
    let topics = admin::topics(a.bootstrap());
    assert!(!topics.contains_key("A.B.heartbeats"), "{topics:?}");
    let topics = admin::topics(b.bootstrap());
    assert!(!topics.contains_key("B.A.heartbeats"), "{topics:?}");

    // MirrorMaker 2's MirrorClient sees each cluster upstream of the other, one hop away, from
    // these topics, and decodes every heartbeat on both.
    if strait_tests::mode::is_real_kafka() {
        for (cluster, upstream) in [(b.bootstrap(), "A"), (a.bootstrap(), "B")] {
            let facts = mm2::probe(&["upstream", cluster]);
            for want in [
                vec!["upstream", upstream, "1"],
                vec!["heartbeat-topic", "heartbeats"],
            ] {
                assert!(
                    facts.iter().any(|f| *f == want),
                    "MirrorClient on {upstream}'s peer sees {want:?}: {facts:?}"
                );
            }
            let remote = format!("{upstream}.heartbeats");
            for topic in ["heartbeats", remote.as_str()] {
                let decoded = mm2::probe(&["decode", cluster, topic, "heartbeat"]);
                assert!(!decoded.is_empty(), "heartbeats in {topic}");
            }
            println!("MirrorClient on {upstream}'s peer: {facts:?}");
        }
    }
}

/// The `(source, target)` aliases of the heartbeats in `heartbeats` on `bootstrap` (none when the
/// topic does not exist), each checked to have MM2's value layout: version 0, a recent timestamp.
fn heartbeat_pairs(bootstrap: &str) -> Vec<(String, String)> {
    if !admin::topics(bootstrap).contains_key("heartbeats") {
        return Vec::new();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    read_all(bootstrap, "heartbeats")
        .iter()
        .map(|(key, value, timestamp)| {
            let mut k = Bytes(key);
            let pair = (k.string(), k.string());
            assert_eq!(key.len(), 2 + pair.0.len() + 2 + pair.1.len(), "{pair:?}");
            let mut v = Bytes(value);
            assert_eq!((value.len(), v.i16()), (10, 0), "{pair:?}");
            let ts = v.i64();
            assert_eq!(ts, *timestamp, "{pair:?}: value and record timestamps");
            assert!(now.abs_diff(ts) < 600_000, "{pair:?}: {ts}, now {now}");
            pair
        })
        .collect()
}

/// Only A->B is enabled (mm2.properties): as in MirrorMaker 2, the disabled pair B->A still
/// writes heartbeats keyed (B, A) to `heartbeats` on A, unless
/// `B->A.emit.heartbeats.enabled = false`. First with it off: once B has three new heartbeats of
/// A->B (the leader's emitter ran for seconds), A has no heartbeats topic; then with the default,
/// and A->B replicates them to B as `A.heartbeats`: MM2 tooling finds A upstream of B there.
#[test]
fn a_disabled_pair_writes_heartbeats_unless_turned_off() {
    let _heavy = serial::heavy();
    // Heartbeats written to A: clusters of this test's own (see Broker::own_pair).
    let (a, b) = Broker::own_pair();
    let only = names::unique("nothing-matches");
    let count = |bootstrap: &str, pair: (&str, &str)| {
        let pair = (pair.0.to_owned(), pair.1.to_owned());
        heartbeat_pairs(bootstrap)
            .iter()
            .filter(|p| **p == pair)
            .count()
    };
    for pair_line in ["B->A.emit.heartbeats.enabled = false\n", ""] {
        let data = temp_dir("strait-data-");
        let mut config = Config::a_to_b(a.bootstrap(), b.bootstrap(), data.path(), &[&only]);
        config.pair_heartbeats = true;
        let text = format!(
            "{}emit.heartbeats.interval.seconds = 1\n{pair_line}",
            config.properties()
        );
        let before = count(b.bootstrap(), ("A", "B"));
        let mut strait = Strait::start(&text, "properties");
        wait::until(
            "three new heartbeats A->B on B",
            DEADLINE,
            POLL,
            || {
                let seen = count(b.bootstrap(), ("A", "B"));
                if seen < before + 3 {
                    return Err(format!("{seen} (before: {before})"));
                }
                Ok(())
            },
            || strait.log_tail(40),
        );
        if pair_line.is_empty() {
            wait::until(
                "heartbeats B->A on A",
                DEADLINE,
                POLL,
                || {
                    let pairs = heartbeat_pairs(a.bootstrap());
                    let wanted = ("B".to_owned(), "A".to_owned());
                    if pairs.is_empty() || pairs.iter().any(|p| *p != wanted) {
                        return Err(format!("{pairs:?}"));
                    }
                    Ok(())
                },
                || strait.log_tail(40),
            );
            wait::until(
                "A.heartbeats on B with heartbeats B->A",
                DEADLINE,
                POLL,
                || {
                    if !admin::topics(b.bootstrap()).contains_key("A.heartbeats") {
                        return Err("no topic yet".to_owned());
                    }
                    let records = read_all(b.bootstrap(), "A.heartbeats");
                    let (key, _, _) = records.last().ok_or("empty")?;
                    let mut k = Bytes(key);
                    let pair = (k.string(), k.string());
                    if pair != ("B".to_owned(), "A".to_owned()) {
                        return Err(format!("{pair:?}"));
                    }
                    Ok(())
                },
                || strait.log_tail(40),
            );
        } else {
            let topics = admin::topics(a.bootstrap());
            assert!(!topics.contains_key("heartbeats"), "{topics:?}");
        }
        strait.terminate();
    }
}

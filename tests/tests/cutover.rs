//! `strait cutover` on Apache Kafka: consumer groups at various positions resume on the target
//! exactly where they stopped on the source (none skipped, none repeated), a cutover is refused
//! while a group has an active member, a dry run changes nothing, and a cutover interrupted after
//! it paused the flow (and more records written meanwhile) is completed by a second run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use strait_tests::config::Config;
use strait_tests::data::{self, Record, TestProducer};
use strait_tests::group::ActiveMember;
use strait_tests::strait::{run_cli, strait_bin, temp_dir, CheckOutput};
use strait_tests::{admin, names, verify, Broker, Strait};

const FLOW: &str = "A->B";
const PARTITIONS: i32 = 3;

/// What a consumer of `topic`/`partition` reads from `offset` to the end: `(key, value)`.
fn read_from(bootstrap: &str, topic: &str, partition: i32, offset: i64) -> Vec<Record> {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", names::unique("strait-test-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "20")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("offset");
    consumer.assign(&tpl).expect("assign");
    let mut records = Vec::new();
    let started = std::time::Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "reading {topic}-{partition} from {offset}: no end after {} records",
            records.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => records.push(verify::to_record(&m)),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return records,
            Some(Err(e)) => panic!("reading {topic}-{partition} at {offset}: {e}"),
            None => {}
        }
    }
}

/// Commits `offsets` (partition → next offset to read) for `group` on `topic`, as a consumer that
/// read up to there and stopped.
fn commit(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("committing for {group}: {e}"));
}

fn produce(bootstrap: &str, topic: &str, seqs: std::ops::Range<u64>) -> Vec<Vec<Record>> {
    let producer = TestProducer::new(bootstrap);
    let base = data::base_timestamp();
    let sent: Vec<Vec<Record>> = (0..PARTITIONS)
        .map(|p| data::generate_range(p, seqs.clone(), base))
        .collect();
    for (p, records) in sent.iter().enumerate() {
        for record in records {
            producer.send(topic, p as i32, record);
        }
    }
    producer.flush();
    sent
}

struct Setup {
    source: Broker,
    target: Broker,
    topic: String,
    remote: String,
    prefix: String,
    contact: String,
    strait: Strait,
    _data: tempfile::TempDir,
}

/// 3 partitions, 100 records each; the remote topic exists and holds foreign records (5 in p0,
/// 2 in p2), so target offsets differ from source offsets.
fn setup(tag: &str) -> Setup {
    let (source, target) = Broker::pair();
    let prefix = names::unique(tag);
    let topic = format!("{prefix}-t");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    admin::create_topic(target.bootstrap(), &remote, PARTITIONS as usize);
    let foreign = TestProducer::new(target.bootstrap());
    let base = data::base_timestamp();
    for (p, n) in [(0, 5u64), (2, 2)] {
        for record in data::generate_range(p, 10_000..10_000 + n, base) {
            foreign.send(&remote, p, &record);
        }
    }
    foreign.flush();
    let sent = produce(source.bootstrap(), &topic, 0..100);
    let data = temp_dir("strait-data-");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data.path(),
        &[&topic],
    );
    let strait = Strait::start(&config.toml(), "toml");
    let all: Vec<Record> = sent.into_iter().flatten().collect();
    verify::wait_for_total(
        target.bootstrap(),
        &remote,
        PARTITIONS as usize,
        all.len() + 7,
        &strait,
    );
    Setup {
        contact: format!("127.0.0.1:{}", config.cluster_port),
        source,
        target,
        topic,
        remote,
        prefix,
        strait,
        _data: data,
    }
}

impl Setup {
    fn cutover(&self, extra: &[&str]) -> CheckOutput {
        let mut args = vec!["--contact", &self.contact, "cutover", "--flow", FLOW];
        args.extend_from_slice(extra);
        run_cli(&args)
    }

    fn group(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// The group resumes on the target exactly where it stopped on the source: from the offset
    /// committed on the target it reads exactly the source records from its source offset on.
    fn assert_resumes_exactly(&self, group: &str) {
        let on_source = admin::committed_offsets(self.source.bootstrap(), group, &self.topic, 3);
        let on_target = admin::committed_offsets(self.target.bootstrap(), group, &self.remote, 3);
        assert_eq!(
            on_source.keys().collect::<Vec<_>>(),
            on_target.keys().collect::<Vec<_>>(),
            "{group}: committed partitions on the source {on_source:?}, on the target {on_target:?}"
        );
        for (p, source_offset) in &on_source {
            let want = read_from(self.source.bootstrap(), &self.topic, *p, *source_offset);
            let got = read_from(self.target.bootstrap(), &self.remote, *p, on_target[p]);
            verify::assert_same_records(
                &format!(
                    "{group} partition {p}: source from {source_offset}, target from {}",
                    on_target[p]
                ),
                &want,
                &got,
            );
        }
    }

    fn paused(&self) -> bool {
        let out = run_cli(&[
            "--contact",
            &self.contact,
            "-o",
            "json",
            "flows",
            "get",
            FLOW,
        ]);
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("flows get: {e}\n{}{}", out.stdout, out.stderr));
        v["flow"]["paused"].as_bool().unwrap_or(false)
    }
}

fn json(out: &CheckOutput) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cutover's output is not JSON ({e}), exit {:?}:\n{}{}",
            out.code, out.stdout, out.stderr
        )
    })
}

/// Three groups at the start, in the middle and at the end of the partitions (one with no commit
/// on p2): after `strait cutover` each resumes on the target exactly where it stopped; the
/// report says so per partition, the flow is paused, verification passed; a dry run before it
/// changed nothing, and a second cutover after it changes nothing either.
#[test]
fn consumers_resume_exactly_where_they_stopped_on_the_source() {
    let s = setup("cut");
    let (start, middle, end) = (s.group("start"), s.group("middle"), s.group("end"));
    commit(
        s.source.bootstrap(),
        &start,
        &s.topic,
        &[(0, 0), (1, 0), (2, 0)],
    );
    commit(s.source.bootstrap(), &middle, &s.topic, &[(0, 37), (1, 50)]);
    commit(
        s.source.bootstrap(),
        &end,
        &s.topic,
        &[(0, 100), (1, 100), (2, 100)],
    );

    let dry = s.cutover(&[
        "--group",
        &start,
        "--group",
        &middle,
        "--group",
        &end,
        "--dry-run",
    ]);
    assert_eq!(dry.code, Some(0), "dry run:\n{}{}", dry.stdout, dry.stderr);
    println!("{}", dry.stdout);
    assert!(
        dry.stdout.contains("dry run: nothing changed"),
        "{}",
        dry.stdout
    );
    assert!(!s.paused(), "a dry run pauses nothing");
    assert!(
        admin::committed_offsets(s.target.bootstrap(), &middle, &s.remote, 3).is_empty(),
        "a dry run commits nothing"
    );

    let table = s.cutover(&[
        "--group", &start, "--group", &middle, "--group", &end, "--quiet", "2s",
    ]);
    assert_eq!(
        table.code,
        Some(0),
        "cutover:\n{}{}",
        table.stdout,
        table.stderr
    );
    println!("{}{}", table.stderr, table.stdout);
    assert!(
        table.stdout.contains("the flow is paused"),
        "{}",
        table.stdout
    );
    // Run again (every step is idempotent): the same offsets, reported as JSON.
    let out = s.cutover(&[
        "--group", &start, "--group", &middle, "--group", &end, "--quiet", "2s", "-o", "json",
    ]);
    assert_eq!(
        out.code,
        Some(0),
        "second cutover:\n{}{}",
        out.stdout,
        out.stderr
    );
    let report = json(&out);
    assert_eq!(report["verified"], Value::Bool(true), "{report:#}");
    assert_eq!(report["paused"], Value::Bool(true), "{report:#}");
    let groups = report["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 3, "{report:#}");
    for g in groups {
        assert_eq!(g["committed"], Value::Bool(true), "{g:#}");
        for p in g["partitions"].as_array().expect("partitions") {
            assert_eq!(p["replication_lag"].as_i64().unwrap_or(0), 0, "{p:#}");
            assert_eq!(
                p["source_remaining"], p["target_remaining"],
                "no gap in the source: as much left on both sides: {p:#}"
            );
        }
    }
    let middle_p0 = groups
        .iter()
        .find(|g| g["group"] == Value::String(middle.clone()))
        .and_then(|g| g["partitions"].as_array())
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["partition"].as_i64().unwrap_or(0) == 0)
        })
        .cloned()
        .expect("middle group, partition 0");
    assert_eq!(
        (
            middle_p0["source_offset"].as_i64(),
            middle_p0["target_offset"].as_i64()
        ),
        (Some(37), Some(42)),
        "5 foreign records precede the copy in p0: {middle_p0:#}"
    );
    assert!(s.paused(), "the flow stays paused after a cutover");
    for group in [&start, &middle, &end] {
        s.assert_resumes_exactly(group);
    }
    // The node's log says what it did.
    let log = s.strait.log();
    assert!(log.contains("cutover done"), "{}", s.strait.log_tail(30));
}

/// A group with an active member (here on the target) is refused with its member listed; nothing
/// is paused or committed.
#[test]
fn a_cutover_is_refused_while_a_group_has_members() {
    let s = setup("cutmem");
    let group = s.group("busy");
    commit(
        s.source.bootstrap(),
        &group,
        &s.topic,
        &[(0, 10), (1, 10), (2, 10)],
    );
    let member = ActiveMember::join(s.target.bootstrap(), &group, &s.remote);
    strait_tests::wait::until(
        "the member joined",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            if member.is_assigned() {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        },
        String::new,
    );
    let out = s.cutover(&["--group", &group, "--quiet", "1s"]);
    assert_eq!(out.code, Some(2), "refused:\n{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("active member") && out.stderr.contains("on B"),
        "{}",
        out.stderr
    );
    assert!(!s.paused(), "nothing paused");
    member.leave();
    assert!(
        admin::committed_offsets(s.target.bootstrap(), &group, &s.remote, 3).is_empty(),
        "nothing committed"
    );
    // A group without commits on the flow's topics is refused too.
    let out = s.cutover(&["--group", &s.group("never")]);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("no committed offsets"),
        "{}",
        out.stderr
    );
}

/// The cutover is killed as soon as it paused the flow; producers write 20 more records per
/// partition; a second run resumes the flow to copy them, pauses it again, commits, and the
/// groups resume exactly (the new records included).
#[test]
fn an_interrupted_cutover_is_completed_by_a_second_run() {
    let s = setup("cutint");
    let (a, b) = (s.group("a"), s.group("b"));
    commit(
        s.source.bootstrap(),
        &a,
        &s.topic,
        &[(0, 5), (1, 99), (2, 0)],
    );
    commit(
        s.source.bootstrap(),
        &b,
        &s.topic,
        &[(0, 100), (1, 100), (2, 64)],
    );
    let mut child = Command::new(strait_bin())
        .args([
            "--contact",
            &s.contact,
            "cutover",
            "--flow",
            FLOW,
            "--group",
            &a,
            "--group",
            &b,
            "--quiet",
            "1s",
        ])
        .env_remove("STRAIT_CONTACT")
        .env_remove("STRAIT_CONTROL_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strait cutover");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a line");
        let paused = line.starts_with("paused:");
        seen.push(line);
        if paused {
            break;
        }
    }
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l.starts_with("paused:")),
        "the cutover never paused: {seen:?}"
    );
    assert!(s.paused(), "the interrupted cutover left the flow paused");

    let more = produce(s.source.bootstrap(), &s.topic, 100..120);
    assert_eq!(more.iter().map(Vec::len).sum::<usize>(), 60);
    let out = s.cutover(&["--group", &a, "--group", &b, "--quiet", "2s", "-o", "json"]);
    assert_eq!(
        out.code,
        Some(0),
        "second run:\n{}{}",
        out.stdout,
        out.stderr
    );
    println!("{}", out.stderr);
    assert!(
        out.stderr.contains("resumed:"),
        "the paused flow had records left: resumed to copy them:\n{}",
        out.stderr
    );
    let report = json(&out);
    assert_eq!(report["verified"], Value::Bool(true), "{report:#}");
    let by_group: BTreeMap<String, Value> = report["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| (g["group"].as_str().unwrap_or("").to_owned(), g.clone()))
        .collect();
    let b_p1 = by_group[&b]["partitions"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["partition"].as_i64().unwrap_or(0) == 1)
        })
        .cloned()
        .expect("group b, partition 1");
    assert_eq!(
        (
            b_p1["source_remaining"].as_i64(),
            b_p1["target_remaining"].as_i64()
        ),
        (Some(20), Some(20)),
        "the 20 records written after the interruption are left to read on both sides: {b_p1:#}"
    );
    for group in [&a, &b] {
        s.assert_resumes_exactly(group);
    }
}

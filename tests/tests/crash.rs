//! Restarts: after kill -9 nothing is missing and at most one window per partition is replayed;
//! after SIGTERM (drain) nothing is replayed at all.

use strait_tests::config::Config;
use strait_tests::data::{self, ContinuousProducer, Record};
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, wait, Broker, Strait};

const PARTITIONS: i32 = 3;
/// Records per second the test producer writes, in total.
const RATE: u64 = 3000;

/// Waits until the producer queued `more` records after now.
fn wait_for_produced(producer: &ContinuousProducer, more: u64) {
    let goal = producer.sent() + more;
    wait::until_ok(
        &format!("the test producer to reach {goal} records"),
        || {
            if producer.sent() >= goal {
                Ok(())
            } else {
                Err(format!("{} sent", producer.sent()))
            }
        },
        String::new,
    );
}

struct Setup {
    source: Broker,
    target: Broker,
    topic: String,
    remote: String,
    config: Config,
    _data_dir: tempfile::TempDir,
}

fn setup(prefix: &str) -> Setup {
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let p = names::unique(prefix);
    let topic = format!("{p}-stream");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let pattern = format!("{p}-.*");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );
    Setup {
        remote: format!("A.{topic}"),
        source,
        target,
        topic,
        config,
        _data_dir: data_dir,
    }
}

fn check_complete(sent: &[Vec<Record>], got: &[Vec<Record>]) -> Vec<usize> {
    sent.iter()
        .zip(got)
        .enumerate()
        .map(|(partition, (sent, got))| {
            verify::replay_window(sent, got)
                .unwrap_or_else(|e| panic!("partition {partition} after restart: {e}"))
        })
        .collect()
}

/// kill -9 mid-stream while the producer keeps writing, restart on the same data dir: every
/// record arrives, in order, with at most one contiguous replayed window per partition, bounded
/// by what was in flight plus what was acknowledged but not yet persisted.
#[test]
fn kill9_then_restart_loses_nothing() {
    let _heavy = serial::heavy();
    let s = setup("crash9");
    let max_in_flight = s.config.flows[0].max_in_flight_records;
    let producer = ContinuousProducer::start(
        s.source.bootstrap(),
        &s.topic,
        PARTITIONS,
        RATE,
        0,
        data::base_timestamp(),
        0,
    );
    let mut strait = Strait::start(&s.config.toml(), "toml");
    verify::wait_for_total(
        s.target.bootstrap(),
        &s.remote,
        PARTITIONS as usize,
        6000,
        &strait,
    );
    strait.kill9();
    println!(
        "killed strait (-9) after {} records produced",
        producer.sent()
    );
    // The source moves on while the node is down.
    wait_for_produced(&producer, RATE * 2);
    let mut strait = Strait::start(&s.config.toml(), "toml");
    wait_for_produced(&producer, RATE * 3);
    let sent = producer.stop();
    println!(
        "produced {} records",
        sent.iter().map(Vec::len).sum::<usize>()
    );

    let reader = wait_for_tail(s.target.bootstrap(), &s.remote, &sent, Some(&strait));
    let windows = check_complete(&sent, reader.all());
    for (partition, window) in windows.iter().enumerate() {
        println!("partition {partition}: duplicate window: {window} records");
        assert!(
            *window <= max_in_flight + 10_000,
            "partition {partition}: {window} records replayed, more than max_in_flight_records \
             ({max_in_flight}) + 10000"
        );
    }
    strait.assert_running();
}

/// SIGTERM while the producer keeps writing: the node drains and exits 0; restarted on the same
/// data dir it resumes exactly where it stopped (no duplicate, nothing missing).
#[test]
fn sigterm_then_restart_has_no_duplicates() {
    let _heavy = serial::heavy();
    let s = setup("crashterm");
    let producer = ContinuousProducer::start(
        s.source.bootstrap(),
        &s.topic,
        PARTITIONS,
        RATE,
        0,
        data::base_timestamp(),
        0,
    );
    let mut strait = Strait::start(&s.config.toml(), "toml");
    verify::wait_for_total(
        s.target.bootstrap(),
        &s.remote,
        PARTITIONS as usize,
        6000,
        &strait,
    );
    let status = strait.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "strait exit status after SIGTERM: {status}\n{}",
        strait.log_tail(40)
    );
    wait_for_produced(&producer, RATE);
    let mut strait = Strait::start(&s.config.toml(), "toml");
    wait_for_produced(&producer, RATE * 2);
    let sent = producer.stop();

    let reader = wait_for_tail(s.target.bootstrap(), &s.remote, &sent, Some(&strait));
    let windows = check_complete(&sent, reader.all());
    for (partition, window) in windows.iter().enumerate() {
        println!("partition {partition}: duplicate window: {window} records");
    }
    assert_eq!(
        windows,
        vec![0; PARTITIONS as usize],
        "records replayed after a clean stop"
    );
    strait.assert_running();
    // One more clean stop, to check it again on a node that resumed from persisted positions.
    let status = strait.terminate();
    assert_eq!(status.code(), Some(0), "second SIGTERM: {status}");
}

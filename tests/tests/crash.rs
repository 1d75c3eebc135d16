//! Restarts: after kill -9 nothing is missing and at most one window per partition is replayed;
//! after SIGTERM (drain) nothing is replayed at all.

use strait_tests::config::Config;
use strait_tests::data::{self, ContinuousProducer, Record};
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, Broker, Strait};

const PARTITIONS: i32 = 3;
/// Records per second the test producer writes, in total.
const RATE: u64 = 3000;
/// The in-flight bound of the kill -9 test's flow: small enough that the duplicate bound derived
/// from it is well under what each partition copied before the kill, so the check can fail.
const KILL9_MAX_IN_FLIGHT: usize = 500;
/// Scheduling delay allowed for a position store on a loaded 2-core machine.
const STORE_SLACK_MS: u64 = 300;

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
/// record arrives, in order, with at most one contiguous replayed window per partition.
///
/// The window's bound, from this flow's settings: the restarted node resumes after the last
/// position that reached the disk. That position was taken every `position_flush_interval` (100
/// ms) and sled writes it to disk every `position_flush_interval` too, so it is at most two
/// intervals (plus [`STORE_SLACK_MS`] of scheduling delay) old when the node dies. Replayed are
/// the records read after it: those in flight when it was taken (at most `max_in_flight_records`,
/// for the whole flow) plus those read since, which a node keeping up with the producer reads at
/// the produce rate (1000 records/s per partition). So: 500 + 1000 × (200 + 300) ms = 1000 records
/// per partition, while each partition copied about 4,000 before the kill (a node resuming from the
/// start, or from a position much older than half a second, fails). Measured: windows of 15 to
/// 140 records.
///
/// The node is killed only after it has kept up with the producer for half a second: in a
/// catch-up burst it reads far faster than the produce rate.
#[test]
fn kill9_then_restart_loses_nothing() {
    let _heavy = serial::heavy();
    let mut s = setup("crash9");
    s.config.flow().max_in_flight_records = KILL9_MAX_IN_FLIGHT;
    let flow = &s.config.flows[0];
    let per_partition_rate = RATE / PARTITIONS as u64;
    let stale_ms = 2 * flow.position_flush_interval_ms + STORE_SLACK_MS;
    let max_window = flow.max_in_flight_records + (per_partition_rate * stale_ms / 1000) as usize;
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
    // Caught up with everything produced so far, then half a second more at the produce rate.
    let produced = producer.sent() as usize;
    verify::wait_for_total(
        s.target.bootstrap(),
        &s.remote,
        PARTITIONS as usize,
        produced,
        &strait,
    );
    producer.wait_for_more(RATE / 2);
    strait.kill9();
    println!(
        "killed strait (-9) after {} records produced (caught up with the first {produced})",
        producer.sent()
    );
    // The source moves on while the node is down.
    producer.wait_for_more(RATE * 2);
    let mut strait = Strait::start(&s.config.toml(), "toml");
    producer.wait_for_more(RATE * 3);
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
            *window <= max_window,
            "partition {partition}: {window} records replayed, more than {max_window} (in flight \
             + {stale_ms} ms at {per_partition_rate} records/s)"
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
    producer.wait_for_more(RATE);
    let mut strait = Strait::start(&s.config.toml(), "toml");
    producer.wait_for_more(RATE * 2);
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

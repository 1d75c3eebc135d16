//! Backpressure: with the target frozen under continuous load, the node stops reading once its
//! in-flight bound is reached (memory stays flat), and after the target comes back everything
//! arrives, in order, nothing lost. The node reports the frozen target as a stall (not before the
//! pause), and the report clears once it acknowledges again.

use std::time::{Duration, Instant};

use strait_tests::config::Config;
use strait_tests::data::{self, ContinuousProducer};
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, wait, Broker, Strait};

const PARTITIONS: i32 = 2;
/// 800 records/s of about 8 KiB: about 6.5 MB/s, about 130 MB while the target is frozen. An
/// implementation that buffers what it reads without a bound grows by that much.
const RATE: u64 = 800;
const PAD: usize = 8 * 1024;
const PAUSE: Duration = Duration::from_secs(20);
/// librdkafka's consumer prefetch, per partition, set in the test config so that the memory
/// bound below is explicit.
const PREFETCH_KIB: u64 = 8 * 1024;
const MIB: u64 = 1024;

/// Target SIGSTOPped for 20 s under continuous load. RSS is sampled every second during the
/// pause. Bounds (KiB):
/// - peak <= 400 MiB, and peak <= RSS before the pause + 96 MiB. What the node may hold beyond
///   its steady state: `max_in_flight_bytes` (8 MiB) of records read and not acknowledged, the
///   same records copied into the producer's queue (8 MiB), librdkafka's prefetch (8 MiB per
///   partition, 16 MiB): 32 MiB, plus allocator slack; 96 MiB is three times that and still well
///   under the ~125 MiB an unbounded buffer would add. (Observed: +21 MiB.)
/// - from 10 s into the pause to its end, growth <= 24 MiB: the in-flight bound is reached within
///   about 2 s at this rate and the prefetch fills within about 3 s more, so by 10 s memory must
///   be flat; an unbounded buffer would grow by about 65 MB over those 10 s.
///
/// After SIGCONT every record arrives: nothing missing, order kept (a single replayed window,
/// from producer retries, is tolerated and printed).
#[test]
fn frozen_target_bounds_memory_and_loses_nothing() {
    let _heavy = serial::heavy();
    // The target is frozen: a cluster of this test's own.
    let (source, target) = (Broker::source(), Broker::start("target"));
    let data_dir = temp_dir("strait-data-");
    let p = names::unique("bp");
    let topic = format!("{p}-load");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let pattern = format!("{p}-.*");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );
    config.flow().max_in_flight_records = 5000;
    config.flow().max_in_flight_bytes = 8 * 1024 * 1024;
    config.consumer_props.push((
        "queued.max.messages.kbytes".to_owned(),
        PREFETCH_KIB.to_string(),
    ));

    let producer = ContinuousProducer::start(
        source.bootstrap(),
        &topic,
        PARTITIONS,
        RATE,
        0,
        data::base_timestamp(),
        PAD,
    );
    let mut strait = Strait::start(&config.toml(), "toml");

    // Flowing before the pause.
    verify::wait_for_total(
        target.bootstrap(),
        &remote,
        PARTITIONS as usize,
        2000,
        &strait,
    );

    // The WARN line (the progress line also says "target not acknowledging for Ns").
    const STALLED: &str = "target not acknowledging: records in flight";
    const CLEARED: &str = "target acknowledging again";
    assert!(
        !strait.log().contains(STALLED),
        "a target that acknowledges is not reported as stalled:\n{}",
        strait.log_tail(10)
    );
    let before = strait.rss_kib();
    target.pause();
    let paused_at = Instant::now();
    let sent_at_pause = producer.sent();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    // The pause length is the test condition; sample memory during it.
    while paused_at.elapsed() < PAUSE {
        std::thread::sleep(Duration::from_secs(1));
        strait.assert_running();
        samples.push((paused_at.elapsed().as_secs_f64(), strait.rss_kib()));
    }
    // Frozen for longer than the stall threshold (10 s): the node said so.
    assert!(
        strait.log().contains(STALLED),
        "no stall reported after {PAUSE:?} without acknowledgements:\n{}",
        strait.log_tail(10)
    );
    target.resume();
    println!(
        "rss before pause: {} MiB; produced during the pause: {} records",
        before / MIB,
        producer.sent() - sent_at_pause
    );
    for (t, rss) in &samples {
        println!(
            "rss at {t:5.1} s into the pause: {:6.1} MiB",
            *rss as f64 / MIB as f64
        );
    }
    let peak = samples.iter().map(|(_, rss)| *rss).max().expect("samples");
    assert!(peak <= 400 * MIB, "peak RSS {} MiB > 400 MiB", peak / MIB);
    assert!(
        peak <= before + 96 * MIB,
        "peak RSS {} MiB grew by more than 96 MiB over {} MiB before the pause",
        peak / MIB,
        before / MIB
    );
    let at_10s = samples
        .iter()
        .find(|(t, _)| *t >= 10.0)
        .map(|(_, rss)| *rss)
        .expect("a sample at 10 s");
    let last = samples.last().expect("samples").1;
    assert!(
        last <= at_10s + 24 * MIB,
        "RSS still growing late in the pause: {} MiB at 10 s, {} MiB at the end",
        at_10s / MIB,
        last / MIB
    );

    // The load goes on a little after the target is back, then everything must arrive.
    let goal = producer.sent() + RATE * 2;
    wait::until_ok(
        "the test producer to go on",
        || {
            if producer.sent() >= goal {
                Ok(())
            } else {
                Err(format!("{}", producer.sent()))
            }
        },
        String::new,
    );
    let sent = producer.stop();
    let reader = wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));
    for (partition, (sent, got)) in sent.iter().zip(reader.all()).enumerate() {
        let window = verify::replay_window(sent, got)
            .unwrap_or_else(|e| panic!("partition {partition} after the pause: {e}"));
        println!(
            "partition {partition}: {} records, duplicate window: {window} records",
            sent.len()
        );
    }
    // Acknowledged again: the stall cleared.
    wait::until_ok(
        "the stall to clear",
        || {
            let log = strait.log();
            if log.matches(CLEARED).count() >= log.matches(STALLED).count() {
                Ok(())
            } else {
                Err(format!(
                    "{} stalls, {} cleared",
                    log.matches(STALLED).count(),
                    log.matches(CLEARED).count()
                ))
            }
        },
        || strait.log_tail(10),
    );
    strait.assert_running();
}

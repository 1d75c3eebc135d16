//! The data path end to end: what arrives on the target is what was written to the source,
//! record for record, in order, partition for partition.

use std::time::Instant;

use strait_tests::config::Config;
use strait_tests::data::{self, Record};
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, Broker, Strait};

/// Produces `per_partition` generated records to each partition of each topic: the first half
/// before `start` is called (a backlog), the second half after (tailing). Returns what was sent,
/// by topic then partition.
fn produce_around_start(
    bootstrap: &str,
    topics: &[String],
    partitions: i32,
    per_partition: u64,
    start: impl FnOnce() -> Strait,
) -> (Strait, Vec<Vec<Vec<Record>>>) {
    let base_ts = data::base_timestamp();
    let half = per_partition / 2;
    let mut sent: Vec<Vec<Vec<Record>>> = topics
        .iter()
        .map(|topic| data::produce_generated_range(bootstrap, topic, partitions, 0..half, base_ts))
        .collect();
    let strait = start();
    for (topic, sent) in topics.iter().zip(&mut sent) {
        let more = data::produce_generated_range(
            bootstrap,
            topic,
            partitions,
            half..per_partition,
            base_ts,
        );
        for (partition, more) in sent.iter_mut().zip(more) {
            partition.extend(more);
        }
    }
    (strait, sent)
}

/// Waits for every remote topic to end with the last record sent, then compares exactly.
fn assert_replicated(
    target: &str,
    remote_names: &[String],
    sent: &[Vec<Vec<Record>>],
    strait: &Strait,
) {
    for (remote, sent) in remote_names.iter().zip(sent) {
        let reader = wait_for_tail(target, remote, sent, Some(strait));
        verify::assert_same_partitions(remote, sent, reader.all());
    }
}

/// 3 topics x 3 partitions x 10 000 records (null and empty keys and values, tombstones,
/// duplicate and null headers, explicit timestamps), half a backlog and half produced while the
/// node runs, native TOML config: every remote topic `A.<topic>` has 3 partitions holding exactly
/// the source records, in order.
#[test]
fn toml_three_topics_record_for_record() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let prefix = names::unique("rep");
    let topics: Vec<String> = (0..3).map(|i| format!("{prefix}-t{i}")).collect();
    for topic in &topics {
        admin::create_topic(source.bootstrap(), topic, 3);
    }
    let pattern = format!("{prefix}-.*");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );

    let started = Instant::now();
    let (mut strait, sent) = produce_around_start(source.bootstrap(), &topics, 3, 10_000, || {
        Strait::start(&config.toml(), "toml")
    });
    println!(
        "produced 90000 records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let remote: Vec<String> = topics.iter().map(|t| format!("A.{t}")).collect();
    assert_replicated(target.bootstrap(), &remote, &sent, &strait);
    println!(
        "replicated and verified in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    strait.assert_running();
    // Nothing else of ours on the target.
    let mut expected = remote.clone();
    expected.sort();
    assert_eq!(
        admin::topic_names_with_prefix(target.bootstrap(), &format!("A.{prefix}")),
        expected
    );
}

/// The same through a MirrorMaker 2 `mm2.properties` file (smaller).
#[test]
fn mm2_properties_record_for_record() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let prefix = names::unique("repmm2");
    let topics = vec![format!("{prefix}-t0"), format!("{prefix}-t1")];
    for topic in &topics {
        admin::create_topic(source.bootstrap(), topic, 2);
    }
    let pattern = format!("{prefix}-.*");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );
    let (mut strait, sent) = produce_around_start(source.bootstrap(), &topics, 2, 2000, || {
        Strait::start(&config.properties(), "properties")
    });
    let remote: Vec<String> = topics.iter().map(|t| format!("A.{t}")).collect();
    assert_replicated(target.bootstrap(), &remote, &sent, &strait);
    strait.assert_running();
}

/// `replication_policy = "identity"`: the remote topic keeps the source name.
#[test]
fn identity_policy_keeps_topic_names() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let prefix = names::unique("repid");
    let topics = vec![format!("{prefix}-t0")];
    admin::create_topic(source.bootstrap(), &topics[0], 2);
    let pattern = format!("{prefix}-.*");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );
    config.flow().identity = true;
    let (mut strait, sent) = produce_around_start(source.bootstrap(), &topics, 2, 2000, || {
        Strait::start(&config.toml(), "toml")
    });
    assert_replicated(target.bootstrap(), &topics, &sent, &strait);
    strait.assert_running();
    assert_eq!(
        admin::topic_names_with_prefix(target.bootstrap(), &format!("A.{prefix}")),
        Vec::<String>::new()
    );
}

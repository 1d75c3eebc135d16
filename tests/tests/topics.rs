//! Which topics are replicated: include and exclude regexes, internal topics, topics created
//! while the node runs, partitions added while it runs.

use strait_tests::config::Config;
use strait_tests::data;
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, mode, names, serial, Broker, Strait};

/// Includes `<p>-.*` and `__<p>-.*`, excludes `<p>-skip.*`. Replicated: `<p>-keep`, and
/// `<p>-late` created while the node runs. Never on the target: the excluded topic, a topic the
/// include does not match, internal-looking topics (`*.internal`, `*-internal`, `__*`) although
/// the include matches them. Checked after the node picked up `<p>-late`, so at least one topic
/// refresh ran while all of them existed.
#[test]
fn include_exclude_internal_and_new_topics() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let p = names::unique("tops");
    let keep = format!("{p}-keep");
    let never = [
        format!("{p}-skip-1"),
        format!("{p}-skipped"),
        format!("{p}x-other"),
        format!("other-{p}"),
        format!("{p}-x.internal"),
        format!("{p}-x-internal"),
        format!("__{p}-sys"),
    ];
    let base_ts = data::base_timestamp();
    admin::create_topic(source.bootstrap(), &keep, 2);
    let keep_sent = data::produce_generated(source.bootstrap(), &keep, 2, 300, base_ts);
    for topic in &never {
        admin::create_topic(source.bootstrap(), topic, 1);
        data::produce_generated(source.bootstrap(), topic, 1, 50, base_ts);
    }

    let include = [format!("{p}-.*"), format!("__{p}-.*")];
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&include[0], &include[1]],
    );
    config.flow().topics_exclude = vec![format!("{p}-skip.*")];
    let mut strait = Strait::start(&config.toml(), "toml");

    let reader = wait_for_tail(
        target.bootstrap(),
        &format!("A.{keep}"),
        &keep_sent,
        Some(&strait),
    );
    verify::assert_same_partitions(&keep, &keep_sent, reader.all());

    // A topic created while the node runs is picked up (refresh every second).
    let late = format!("{p}-late");
    admin::create_topic(source.bootstrap(), &late, 3);
    let late_sent = data::produce_generated(source.bootstrap(), &late, 3, 200, base_ts);
    let reader = wait_for_tail(
        target.bootstrap(),
        &format!("A.{late}"),
        &late_sent,
        Some(&strait),
    );
    verify::assert_same_partitions(&late, &late_sent, reader.all());
    strait.assert_running();

    let on_target: Vec<String> = admin::topics(target.bootstrap())
        .into_keys()
        .filter(|t| t.contains(&p))
        .collect();
    let mut expected = vec![format!("A.{keep}"), format!("A.{late}")];
    expected.sort();
    assert_eq!(
        on_target, expected,
        "target topics of this test; never expected: {never:?}"
    );
}

/// Partitions added to a replicated source topic are added to the remote topic and replicated
/// (CreatePartitions: real Kafka only).
#[test]
fn added_partitions_are_replicated() {
    if !mode::require_create_partitions() {
        return;
    }
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let p = names::unique("parts");
    let topic = format!("{p}-grow");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, 2);
    let base_ts = data::base_timestamp();
    let mut sent = data::produce_generated(source.bootstrap(), &topic, 2, 500, base_ts);
    let pattern = format!("{p}-.*");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );
    let mut strait = Strait::start(&config.toml(), "toml");
    wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));

    admin::add_partitions(source.bootstrap(), &topic, 4);
    let more = data::produce_generated_range(source.bootstrap(), &topic, 4, 500..800, base_ts);
    for (partition, more) in more.into_iter().enumerate() {
        if partition < sent.len() {
            sent[partition].extend(more);
        } else {
            sent.push(more);
        }
    }
    // Partitions 2 and 3 got records 500..800 only, which is fine: records are distinct.
    admin::wait_partition_count(target.bootstrap(), &remote, 4);
    let reader = wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));
    verify::assert_same_partitions(&remote, &sent, reader.all());
    strait.assert_running();
}

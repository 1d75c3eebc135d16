//! Which topics are replicated: include and exclude regexes, internal topics, topics created
//! while the node runs, partitions added while it runs; remote topic configs following the
//! source's.

use std::collections::BTreeMap;
use std::time::Duration;

use strait_tests::config::Config;
use strait_tests::data;
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, wait, Broker, Strait};

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
#[cfg_attr(
    tansu,
    ignore = "Tansu lacks CreatePartitions: runs against Apache Kafka only (unset STRAIT_TEST_BROKER)"
)]
fn added_partitions_are_replicated() {
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

/// How long a remote topic may take to follow a config change on the source. The test flow lists
/// topics every second and syncs configs in the same pass, so a change shows within about a
/// second; the rest is room for a loaded machine.
const CONFIG_FOLLOW_DEADLINE: Duration = Duration::from_secs(10);

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// Waits until the configs set on `topic` are exactly `expected`.
fn wait_for_overrides(
    bootstrap: &str,
    topic: &str,
    expected: &BTreeMap<String, String>,
    deadline: Duration,
    strait: &Strait,
) {
    wait::until(
        &format!("configs of {topic} to be exactly {expected:?}"),
        deadline,
        wait::DEFAULT_INTERVAL,
        || {
            let got = admin::topic_overrides(bootstrap, topic);
            if &got == expected {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
        || strait.log_tail(40),
    );
}

/// Remote topic configs follow the source topic's, minus `config.properties.exclude` (MM2's
/// default list, which holds `min.insync.replicas`):
/// - `<p>-made`, created by Strait, gets the source's `retention.ms`, `cleanup.policy=compact` and
///   `max.message.bytes`, not its `min.insync.replicas`;
/// - `<p>-kept` already exists on the target with a different `retention.ms`, a `segment.ms` the
///   source lacks and an excluded `min.insync.replicas`: Strait sets the first, deletes the second
///   and leaves the third alone;
/// - `retention.ms` changed on the source, then `cleanup.policy` removed there: the remote topic
///   follows each within [`CONFIG_FOLLOW_DEADLINE`].
///
/// Exactly three config writes in the node's log (one per difference made), none for
/// `<p>-made`'s creation or for unchanged topics at every refresh.
///
/// Tansu lists only the configs set on a topic (each labelled DEFAULT_CONFIG); Strait treats such
/// an answer as the topic's overrides, so this runs on Tansu and real Kafka alike.
#[test]
fn topic_configs_follow_the_source() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let p = names::unique("cfg");
    let made = format!("{p}-made");
    let kept = format!("{p}-kept");
    let (remote_made, remote_kept) = (format!("A.{made}"), format!("A.{kept}"));
    admin::create_topic_with_configs(
        source.bootstrap(),
        &made,
        1,
        &[
            ("retention.ms", "3600000"),
            ("cleanup.policy", "compact"),
            ("max.message.bytes", "2000000"),
            ("min.insync.replicas", "1"),
        ],
    );
    admin::create_topic_with_configs(source.bootstrap(), &kept, 1, &[("retention.ms", "7200000")]);
    admin::create_topic_with_configs(
        target.bootstrap(),
        &remote_kept,
        1,
        &[
            ("retention.ms", "1000"),
            ("segment.ms", "3600000"),
            ("min.insync.replicas", "1"),
        ],
    );
    let pattern = format!("{p}-.*");
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&pattern],
    );
    let mut strait = Strait::start(&config.toml(), "toml");

    let mut made_expected = overrides(&[
        ("cleanup.policy", "compact"),
        ("max.message.bytes", "2000000"),
        ("retention.ms", "3600000"),
    ]);
    let start = wait::DEFAULT_DEADLINE;
    wait_for_overrides(
        target.bootstrap(),
        &remote_made,
        &made_expected,
        start,
        &strait,
    );
    let kept_expected = overrides(&[("min.insync.replicas", "1"), ("retention.ms", "7200000")]);
    wait_for_overrides(
        target.bootstrap(),
        &remote_kept,
        &kept_expected,
        start,
        &strait,
    );

    admin::alter_topic_configs(
        source.bootstrap(),
        &made,
        &[("retention.ms", "600000")],
        &[],
    );
    made_expected.insert("retention.ms".to_owned(), "600000".to_owned());
    wait_for_overrides(
        target.bootstrap(),
        &remote_made,
        &made_expected,
        CONFIG_FOLLOW_DEADLINE,
        &strait,
    );

    admin::alter_topic_configs(source.bootstrap(), &made, &[], &["cleanup.policy"]);
    made_expected.remove("cleanup.policy");
    wait_for_overrides(
        target.bootstrap(),
        &remote_made,
        &made_expected,
        CONFIG_FOLLOW_DEADLINE,
        &strait,
    );
    assert_eq!(
        admin::topic_overrides(target.bootstrap(), &remote_kept),
        kept_expected,
        "{remote_kept} changed although its source did not"
    );

    strait.assert_running();
    let log = strait.log();
    let writes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("synced topic configs"))
        .collect();
    assert_eq!(
        writes.len(),
        3,
        "config writes (one for {remote_kept}, two for {remote_made}):\n{}",
        writes.join("\n")
    );
}

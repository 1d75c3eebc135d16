//! Active-active: A->B and B->A at once, with the same topic name on both sides. Each side gets
//! the other's records under the source alias, and nothing is ever sent back where it came from.

use std::collections::BTreeSet;

use strait_tests::config::{Config, Flow};
use strait_tests::data::{self, Record};
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, Broker, Strait};

/// Creates `topic` on `bootstrap` (1 partition), writes one marker record, and waits until it
/// arrives as `<alias>.<topic>` on `other`. A topic the node had not seen before is replicated
/// only after a topic refresh of the flow, so each marker proves a refresh ran after everything
/// that existed when it was created.
fn round_trip_marker(bootstrap: &str, alias: &str, other: &str, topic: &str, strait: &Strait) {
    admin::create_topic(bootstrap, topic, 1);
    let marker = vec![Record {
        key: Some(b"marker".to_vec()),
        value: Some(topic.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp: data::base_timestamp(),
    }];
    data::produce(bootstrap, topic, 0, &marker);
    let reader = wait_for_tail(
        other,
        &format!("{alias}.{topic}"),
        std::slice::from_ref(&marker),
        Some(strait),
    );
    verify::assert_same_partitions(topic, &[marker], reader.all());
}

/// `orders` on both A and B with different records; flows A->B and B->A include every topic
/// ending in `orders` (so they would match the remote topics too). B gets `A.orders`, A gets
/// `B.orders`, each exactly the other side's records; `A.B.orders` and `B.A.orders` never appear.
/// Checked after two marker topics per direction made it across, i.e. at least two topic
/// refreshes per flow after the remote topics existed.
#[test]
fn both_directions_without_cycles() {
    let _heavy = serial::heavy();
    // B->A writes heartbeats to A: clusters of this test's own (see Broker::own_pair).
    let (a, b) = Broker::own_pair();
    let data_dir = temp_dir("strait-data-");
    let p = names::unique("aa");
    let orders = format!("{p}-orders");
    admin::create_topic(a.bootstrap(), &orders, 2);
    admin::create_topic(b.bootstrap(), &orders, 2);
    // Different timestamps bases: the two sides' records differ.
    let base_ts = data::base_timestamp();
    let on_a = data::produce_generated(a.bootstrap(), &orders, 2, 1000, base_ts);
    let on_b = data::produce_generated(b.bootstrap(), &orders, 2, 1000, base_ts - 1_000_000);

    let pattern = format!(".*{p}-.*");
    let mut config = Config::a_to_b(a.bootstrap(), b.bootstrap(), data_dir.path(), &[&pattern]);
    config.flows.push(Flow::new("B", "A", &[&pattern]));
    let mut strait = Strait::start(&config.toml(), "toml");

    let reader = wait_for_tail(b.bootstrap(), &format!("A.{orders}"), &on_a, Some(&strait));
    verify::assert_same_partitions(&format!("A.{orders} on B"), &on_a, reader.all());
    let reader = wait_for_tail(a.bootstrap(), &format!("B.{orders}"), &on_b, Some(&strait));
    verify::assert_same_partitions(&format!("B.{orders} on A"), &on_b, reader.all());

    for round in 1..=2 {
        let marker = format!("{p}-marker{round}");
        round_trip_marker(a.bootstrap(), "A", b.bootstrap(), &marker, &strait);
        round_trip_marker(b.bootstrap(), "B", a.bootstrap(), &marker, &strait);
    }
    strait.assert_running();

    let ours = |bootstrap: &str| -> BTreeSet<String> {
        admin::topics(bootstrap)
            .into_keys()
            .filter(|t| t.contains(&p))
            .collect()
    };
    let expected = |remote_alias: &str| -> BTreeSet<String> {
        let mut topics = BTreeSet::new();
        for name in [
            orders.clone(),
            format!("{p}-marker1"),
            format!("{p}-marker2"),
        ] {
            topics.insert(format!("{remote_alias}.{name}"));
            topics.insert(name);
        }
        topics
    };
    assert_eq!(
        ours(a.bootstrap()),
        expected("B"),
        "topics of this test on A"
    );
    assert_eq!(
        ours(b.bootstrap()),
        expected("A"),
        "topics of this test on B"
    );

    // The remote topics still hold exactly one copy (nothing came back around).
    let reader = wait_for_tail(b.bootstrap(), &format!("A.{orders}"), &on_a, Some(&strait));
    verify::assert_same_partitions(&format!("A.{orders} on B"), &on_a, reader.all());
    let reader = wait_for_tail(a.bootstrap(), &format!("B.{orders}"), &on_b, Some(&strait));
    verify::assert_same_partitions(&format!("B.{orders} on A"), &on_b, reader.all());
}

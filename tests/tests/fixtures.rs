//! Self-tests of the fixtures against real brokers (no strait process): what the other tests rely
//! on must hold before their results mean anything.

use std::time::{Duration, Instant};

use strait_tests::data::{self, ContinuousProducer};
use strait_tests::verify::{self, TopicReader};
use strait_tests::{admin, names, serial, Broker};

/// Produced records come back identical and in order, read until partition EOF (not the high
/// watermark), with several records per batch; an empty partition reads as empty.
#[test]
fn produce_and_read_back() {
    let _heavy = serial::heavy();
    let broker = Broker::source();
    let topic = names::unique("fixture-rw");
    admin::create_topic(broker.bootstrap(), &topic, 3);
    let base_ts = data::base_timestamp();
    let sent = data::produce_generated(broker.bootstrap(), &topic, 2, 3000, base_ts);
    let read = verify::read_topic(broker.bootstrap(), &topic);
    assert_eq!(read.len(), 3);
    verify::assert_same_partitions(
        &topic,
        &[sent[0].clone(), sent[1].clone(), Vec::new()],
        &read,
    );
    // The generator covers what replication must preserve.
    let all: Vec<_> = sent.iter().flatten().collect();
    assert!(all.iter().any(|r| r.key.is_none()));
    assert!(all.iter().any(|r| r.key.as_deref() == Some(&[][..])));
    assert!(all.iter().any(|r| r.value.is_none()));
    assert!(all.iter().any(|r| r.value.as_deref() == Some(&[][..])));
    assert!(all
        .iter()
        .any(|r| r.headers.iter().any(|(_, v)| v.is_none())));
    assert!(all
        .iter()
        .any(|r| r.headers.len() >= 3 && r.headers[0].0 == r.headers[2].0));
}

/// An empty topic reads as empty (partition EOF at offset 0), and neither reading it nor listing
/// topics creates any topic.
#[test]
fn empty_topic_reads_empty_and_creates_nothing() {
    let _heavy = serial::heavy();
    let broker = Broker::source();
    let prefix = names::unique("fixture-nocreate");
    let existing = format!("{prefix}-exists");
    admin::create_topic(broker.bootstrap(), &existing, 1);
    let mut reader = TopicReader::new(broker.bootstrap(), &existing, 1);
    assert!(reader.catch_up(Duration::from_secs(30)));
    assert_eq!(reader.counts(), vec![0]);
    assert_eq!(
        admin::topic_names_with_prefix(broker.bootstrap(), &prefix),
        vec![existing]
    );
}

/// A continuous producer keeps per-partition order; a paused broker loses nothing.
#[test]
fn continuous_producer_and_pause() {
    let _heavy = serial::heavy();
    let broker = Broker::start("fixture");
    let topic = names::unique("fixture-cont");
    admin::create_topic(broker.bootstrap(), &topic, 2);
    let producer = ContinuousProducer::start(
        broker.bootstrap(),
        &topic,
        2,
        2000,
        0,
        data::base_timestamp(),
        0,
    );
    let started = Instant::now();
    while producer.sent() < 1000 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "producer stuck"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    broker.pause();
    let paused_at = producer.sent();
    // The producer keeps queueing while the broker is frozen.
    while producer.sent() < paused_at + 2000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "producer stuck"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    broker.resume();
    let sent = producer.stop();
    assert!(sent.iter().map(Vec::len).sum::<usize>() as u64 > paused_at);
    let read = verify::read_topic(broker.bootstrap(), &topic);
    verify::assert_same_partitions(&topic, &sent, &read);
    assert!(broker.pid().is_some());
    assert!(!broker.log().is_empty(), "the broker's output is kept");
}

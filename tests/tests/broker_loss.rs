//! A target broker lost under load: a three-broker Apache Kafka target, remote topics created with
//! replication factor 3, one broker killed (-9) while records flow and started again. The
//! idempotent producer rides the leader changes: every record arrives, in order per partition.

use strait_tests::config::Config;
use strait_tests::data::{self, ContinuousProducer};
use strait_tests::kafka::KafkaSpec;
use strait_tests::strait::temp_dir;
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, names, serial, Broker, Strait};

const PARTITIONS: i32 = 3;
/// Records per second the test producer writes, in total.
const RATE: u64 = 1500;
/// The flow's in-flight bound, which also bounds what a partition may re-send after a failure.
const MAX_IN_FLIGHT: usize = 1000;

#[test]
#[cfg_attr(
    tansu,
    ignore = "needs a three-broker Apache Kafka cluster (unset STRAIT_TEST_BROKER)"
)]
fn a_target_broker_killed_under_load_loses_nothing() {
    let _heavy = serial::heavy();
    let source = Broker::source();
    let mut target = Broker::start_kafka(&KafkaSpec::brokers(3));
    let data_dir = temp_dir("strait-data-");
    let p = names::unique("brokerloss");
    let topic = format!("{p}-stream");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    config.flow().replication_factor = 3;
    config.flow().max_in_flight_records = MAX_IN_FLIGHT;
    let producer = ContinuousProducer::start(
        source.bootstrap(),
        &topic,
        PARTITIONS,
        RATE,
        0,
        data::base_timestamp(),
        0,
    );
    let mut strait = Strait::start(&config.toml(), "toml");
    verify::wait_for_total(
        target.bootstrap(),
        &remote,
        PARTITIONS as usize,
        1500,
        &strait,
    );
    assert_eq!(
        admin::replica_counts(target.bootstrap(), &remote),
        vec![3; PARTITIONS as usize],
        "the remote topic has the flow's replication factor"
    );

    // Broker 2 (a broker only: the controller, broker 1, stays) dies mid-stream; the partitions
    // it led move to the others while records keep coming.
    target.kafka().kill_broker(2);
    producer.wait_for_more(RATE * 3);
    target.kafka().start_broker(2);
    producer.wait_for_more(RATE);
    let sent = producer.stop();
    let total: usize = sent.iter().map(Vec::len).sum();

    let reader = wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));
    for (partition, (expected, got)) in sent.iter().zip(reader.all()).enumerate() {
        let replays = verify::replay_windows(expected, got)
            .unwrap_or_else(|e| panic!("partition {partition}: {e}"));
        println!(
            "partition {partition}: {} records, {} duplicates in {} windows",
            expected.len(),
            replays.duplicates,
            replays.windows.len()
        );
        assert!(
            replays.duplicates <= MAX_IN_FLIGHT,
            "partition {partition}: {} duplicates, more than the {MAX_IN_FLIGHT} in flight",
            replays.duplicates
        );
    }
    println!("{total} records copied across the loss of a target broker");
    strait.assert_running();
}

//! A flow's rate limit on Apache Kafka: the configured limit holds within 10 % over a minute of a
//! backlog copy, an operator's change (`strait flows throttle`, through Raft) applies within two
//! seconds, and `--clear` gives the flow back to its configured limit.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;
use strait_tests::config::Config;
use strait_tests::strait::{run_cli, run_cli_ok, temp_dir};
use strait_tests::{admin, data, names, serial, verify, wait, Broker, Strait};

const FLOW: &str = "A->B";
const PARTITIONS: i32 = 4;
/// The configured limit.
const LIMIT: u64 = 2_000;
/// The operator's limit.
const RAISED: u64 = 6_000;

/// Records on the target's remote topic: the sum of its partitions' end offsets (the node created
/// it, nobody else writes it).
fn target_records(consumer: &BaseConsumer, remote: &str) -> u64 {
    (0..PARTITIONS)
        .map(|p| {
            consumer
                .fetch_watermarks(remote, p, Duration::from_secs(10))
                .map(|(_, high)| high as u64)
                .unwrap_or_else(|e| panic!("end offset of {remote}-{p}: {e}"))
        })
        .sum()
}

/// Records per second copied over `window`, measured from the target.
fn rate_over(consumer: &BaseConsumer, remote: &str, window: Duration) -> f64 {
    let (start, before) = (Instant::now(), target_records(consumer, remote));
    // The measurement itself: the window is what is being measured, not a wait for an event.
    std::thread::sleep(window);
    let after = target_records(consumer, remote);
    (after - before) as f64 / start.elapsed().as_secs_f64()
}

fn flow_json(contact: &str) -> Value {
    let out = run_cli_ok(&["--contact", contact, "-o", "json", "flows", "get", FLOW]);
    serde_json::from_str::<Value>(&out).expect("flows get JSON")["flow"].clone()
}

#[test]
fn the_rate_limit_holds_and_changes_at_run_time() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let topic = names::unique("throttle");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    // A backlog larger than the test copies: a minute at the limit, then 12 s raised.
    let per_partition = 70_000;
    data::produce_generated(
        source.bootstrap(),
        &topic,
        PARTITIONS,
        per_partition,
        data::base_timestamp(),
    );
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    config.flow().toml_extra = vec![format!("max_records_per_sec = {LIMIT}")];
    let contact = format!("127.0.0.1:{}", config.cluster_port);
    let strait = Strait::start(&config.toml(), "toml");
    verify::wait_for_topic(
        target.bootstrap(),
        &remote,
        PARTITIONS as usize,
        Some(&strait),
    );
    let consumer: BaseConsumer = admin::client_config(target.bootstrap())
        .create()
        .expect("a client of the target");
    wait::until(
        "the first records on the target",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || match target_records(&consumer, &remote) {
            0 => Err("none yet".to_owned()),
            n => Ok(n),
        },
        || strait.log_tail(30),
    );
    let flow = flow_json(&contact);
    assert_eq!(
        flow["max_records_per_second"].as_u64(),
        Some(LIMIT),
        "{flow:#}"
    );
    assert_eq!(flow["throttle_source"].as_str(), Some("config"), "{flow:#}");

    // The configured limit over a minute.
    let rate = rate_over(&consumer, &remote, Duration::from_secs(60));
    println!("configured limit {LIMIT}/s: {rate:.0} records/s over 60 s");
    assert!(
        (rate - LIMIT as f64).abs() <= LIMIT as f64 * 0.10,
        "{rate:.0} records/s is not within 10 % of {LIMIT}/s\n{}",
        strait.log_tail(30)
    );

    // Raised at run time: in force within two seconds.
    let changed = Instant::now();
    let out = run_cli_ok(&[
        "--contact",
        &contact,
        "flows",
        "throttle",
        FLOW,
        "--records-per-sec",
        &RAISED.to_string(),
    ]);
    assert!(out.contains("6000 records/s (operator)"), "{out}");
    let in_force = wait::until(
        "the raised limit in force",
        Duration::from_secs(10),
        Duration::ZERO,
        || {
            let rate = rate_over(&consumer, &remote, Duration::from_millis(500));
            if rate > (LIMIT as f64 + RAISED as f64) / 2.0 {
                Ok(changed.elapsed())
            } else {
                Err(format!("{rate:.0} records/s"))
            }
        },
        || strait.log_tail(30),
    );
    println!("raised to {RAISED}/s: in force after {in_force:?}");
    assert!(
        in_force <= Duration::from_millis(2_500),
        "the change took {in_force:?} (the measuring window is 0.5 s)"
    );
    let rate = rate_over(&consumer, &remote, Duration::from_secs(8));
    println!("operator's limit {RAISED}/s: {rate:.0} records/s over 8 s");
    assert!(
        (rate - RAISED as f64).abs() <= RAISED as f64 * 0.10,
        "{rate:.0} records/s is not within 10 % of {RAISED}/s"
    );
    assert!(
        strait.log().contains("rate limit on this node"),
        "the node logs its share"
    );
    let status = run_cli_ok(&["--contact", &contact, "status"]);
    assert!(
        status.contains("6000 records/s"),
        "strait status shows the limit:\n{status}"
    );
    assert!(
        strait.log().contains("rate_limit=6000/s"),
        "the progress line shows this node's share"
    );

    // Cleared: the configured limit again.
    run_cli_ok(&["--contact", &contact, "flows", "throttle", FLOW, "--clear"]);
    let flow = flow_json(&contact);
    assert_eq!(
        flow["max_records_per_second"].as_u64(),
        Some(LIMIT),
        "{flow:#}"
    );
    assert_eq!(flow["throttle_source"].as_str(), Some("config"), "{flow:#}");
    // A bad request names the field.
    let out = run_cli(&[
        "--contact",
        &contact,
        "flows",
        "throttle",
        "nope",
        "--records-per-sec",
        "5",
    ]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("flow"), "{}", out.stderr);
}

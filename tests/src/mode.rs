//! Which brokers the tests run against: Tansu processes started by the tests (default), or two
//! real Apache Kafka clusters given by `STRAIT_TEST_SOURCE_BOOTSTRAP` and
//! `STRAIT_TEST_TARGET_BOOTSTRAP` ("real Kafka mode").
//!
//! Some tests only make sense in one mode: stopping a broker needs a process the tests own, and
//! partition-count growth needs CreatePartitions, which Tansu does not offer. `build.rs` sets
//! `cfg(real_kafka)` in real Kafka mode, and those tests carry
//! `#[cfg_attr(real_kafka, ignore = "why")]` (or `not(real_kafka)`), so `cargo test` lists them
//! as ignored with the reason instead of passing them silently.

/// The two real clusters' bootstrap addresses, `(source, target)`, when both variables are set.
pub fn real_kafka() -> Option<(String, String)> {
    let source = non_empty_var("STRAIT_TEST_SOURCE_BOOTSTRAP");
    let target = non_empty_var("STRAIT_TEST_TARGET_BOOTSTRAP");
    match (source, target) {
        (Some(source), Some(target)) => Some((source, target)),
        (None, None) => None,
        _ => panic!(
            "set both STRAIT_TEST_SOURCE_BOOTSTRAP and STRAIT_TEST_TARGET_BOOTSTRAP (real Kafka \
             mode) or neither (Tansu mode)"
        ),
    }
}

/// `true` when the tests run against real Kafka clusters.
pub fn is_real_kafka() -> bool {
    real_kafka().is_some()
}

/// Replication factor of the topics the tests create (`STRAIT_TEST_REPLICATION_FACTOR`, default 1).
pub fn replication_factor() -> i32 {
    match non_empty_var("STRAIT_TEST_REPLICATION_FACTOR") {
        None => 1,
        Some(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("STRAIT_TEST_REPLICATION_FACTOR={value:?} is not a number")),
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

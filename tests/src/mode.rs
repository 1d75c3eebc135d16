//! Which brokers the tests run against.
//!
//! Apache Kafka by default (`scripts/install-kafka.sh` installs it; [`crate::kafka`] starts it),
//! Tansu when `STRAIT_TEST_BROKER=tansu` (a fallback for machines without Java: Tansu lacks
//! CreatePartitions, transactions, compaction and retention, so the tests that need them are
//! ignored there: `build.rs` sets `cfg(tansu)` and they carry `#[cfg_attr(tansu, ignore = "why")]`).
//!
//! Tests that need no broker of their own share one source and one target cluster: the two given
//! by `STRAIT_TEST_SOURCE_BOOTSTRAP` and `STRAIT_TEST_TARGET_BOOTSTRAP` (`scripts/test.sh` starts
//! them once per run), else a pair started on first use by each test binary (Kafka) or a new pair
//! per test (Tansu). Tests that stop, freeze or cut a broker start their own
//! ([`crate::Broker::start`]).

/// The broker implementation the tests start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Apache Kafka, from the jars of `scripts/install-kafka.sh`.
    Kafka,
    /// Tansu, from `scripts/install-tansu.sh`.
    Tansu,
}

/// `STRAIT_TEST_BROKER`: `kafka` (default) or `tansu`.
pub fn broker_kind() -> BrokerKind {
    match non_empty_var("STRAIT_TEST_BROKER").as_deref() {
        None | Some("kafka") => BrokerKind::Kafka,
        Some("tansu") => BrokerKind::Tansu,
        Some(other) => panic!("STRAIT_TEST_BROKER={other:?}: expected kafka or tansu"),
    }
}

/// The two shared clusters' bootstrap addresses, `(source, target)`, when both variables are set.
pub fn shared_clusters() -> Option<(String, String)> {
    let source = non_empty_var("STRAIT_TEST_SOURCE_BOOTSTRAP");
    let target = non_empty_var("STRAIT_TEST_TARGET_BOOTSTRAP");
    match (source, target) {
        (Some(source), Some(target)) => Some((source, target)),
        (None, None) => None,
        _ => panic!(
            "set both STRAIT_TEST_SOURCE_BOOTSTRAP and STRAIT_TEST_TARGET_BOOTSTRAP (shared \
             clusters) or neither"
        ),
    }
}

/// `true` when the tests run against Apache Kafka (started by the tests or given as shared
/// clusters), `false` on Tansu.
pub fn is_real_kafka() -> bool {
    shared_clusters().is_some() || broker_kind() == BrokerKind::Kafka
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

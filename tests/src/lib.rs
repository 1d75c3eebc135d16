//! Fixtures for Strait's integration tests: real brokers (Tansu processes, or a real Apache Kafka
//! given by environment variables), real `strait` processes, deterministic test data and exact
//! verification of what arrived on the target.
//!
//! Environment:
//! - `TANSU_BIN`: the Tansu binary (else `tansu` on `PATH`, else `~/.cache/strait/bin/tansu`).
//! - `STRAIT_BIN`: the `strait` binary (else `<target>/debug/strait` next to the test binary).
//! - `STRAIT_TEST_SOURCE_BOOTSTRAP` + `STRAIT_TEST_TARGET_BOOTSTRAP`: run against two real Kafka
//!   clusters instead of Tansu processes (see [`mode`]).
//! - `STRAIT_TEST_REPLICATION_FACTOR`: replication factor of the topics the tests create (default 1).
//!
//! `cargo test` does not build another package's binary: build `strait` first
//! (`cargo build -p strait-node`, or `cargo build --workspace --bins` as scripts/test.sh does).
//!
//! The tests (`tests/tests/`): `replication` (record-for-record fidelity, TOML, mm2.properties,
//! identity policy), `topics` (include/exclude, internal topics, new topics, added partitions,
//! topic config sync), `crash` (kill -9 and SIGTERM restarts), `backpressure` (frozen target:
//! bounded memory, no loss), `active_active` (A->B and B->A without cycles), `bad_config` (refused
//! configs and their messages), `cluster` (several nodes as one Raft group: election, assignment,
//! failover, rejoin, join, whole-cluster restart, refused cluster settings, fencing of a cut-off
//! node), `real_data` (Apache Kafka only: compressed, transactional and `LogAppendTime` sources,
//! the target's batch codec, oversized records, group offset sync around an active group),
//! `security` (SASL_SSL / SASL_PLAINTEXT Kafka clusters with SCRAM-SHA-512, PLAIN and
//! ACLs), `faults` (network faults: nodes in network namespaces of their own, links cut with
//! nftables, see [`netns`]), `exactly_once` (Apache Kafka only: the exactly-once mode through
//! kill -9s, a frozen zombie, drains and moves, a whole-cluster restart, checked by [`eos`]
//! reading the target `read_committed`), `fixtures` (self-tests of this library).

pub mod admin;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod data;
pub mod eos;
pub mod group;
pub mod kafka;
pub mod metrics;
pub mod mm2;
pub mod mode;
pub mod names;
pub mod netns;
pub mod process;
pub mod serial;
pub mod strait;
pub mod tls;
pub mod verify;
pub mod wait;

pub use broker::Broker;
pub use data::Record;
pub use strait::Strait;

//! Strait's benchmark harness. The binaries live in `src/bin/`: `strait-loadgen` (a steady load
//! for the demo), `strait-failover` (partition takeover time after `kill -9` of a node in a
//! 3-node cluster), `strait-rolling` (per-partition stalls during rolling restarts), `strait-throughput` (throughput, CPU, memory and latency against a raw copy)
//! and `strait-rawcopy` (that raw copy). This library holds what the benchmarks share, on top of
//! the integration-test fixtures (`strait-tests`: brokers, `strait` processes, config files, test
//! records):
//!
//! - [`cluster`]: a cluster of `strait` nodes (one config per node, kill -9, restart on the same
//!   data dir) and their `strait.v1.Status` over gRPC;
//! - [`load`]: a steady producer whose records carry a per-partition sequence number, with the
//!   count produced so far readable at any time;
//! - [`mm2`]: MirrorMaker 2 in dedicated mode as a child process, and the mm2.properties the
//!   MirrorMaker 2 comparison gives both it and Strait;
//! - [`procfs`]: CPU time and memory of a process, and the machine's CPU time, from `/proc`;
//! - [`scrape`]: a node's Prometheus endpoint;
//! - [`steady`]: waiting for the remote topic and for a complete, agreed, balanced cluster;
//! - [`watch`]: a consumer of the target topic that notes when a record produced after a given
//!   moment first arrives on each partition, and counts replays and gaps.

pub mod cluster;
pub mod load;
pub mod mm2;
pub mod procfs;
pub mod scrape;
pub mod steady;
pub mod watch;

/// "release build" or "debug build": which `strait` binary `$STRAIT_BIN` names (the benchmark
/// scripts build one of the two profiles).
pub fn strait_build() -> String {
    let strait_bin = std::path::PathBuf::from(std::env::var_os("STRAIT_BIN").unwrap_or_default());
    if strait_bin.components().any(|c| c.as_os_str() == "release") {
        "release build".to_owned()
    } else {
        "debug build".to_owned()
    }
}

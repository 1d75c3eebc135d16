#!/usr/bin/env bash
# The rolling-restart benchmark: how long partitions stall while the nodes of a 3-node strait
# cluster are restarted one after another with SIGTERM (see benches/README.md). Builds strait and
# the benchmark, installs Apache Kafka when missing, runs `strait-rolling` and prints its figures.
#
#   benches/rolling-restart.sh                 # 3 full rolling restarts (9 SIGTERMs), debug builds
#   benches/rolling-restart.sh --release       # release builds of strait and the benchmark
#   benches/rolling-restart.sh -- --rounds 1   # arguments after -- go to strait-rolling (--help)
#   STRAIT_BIN=/path/to/strait benches/rolling-restart.sh   # measure that binary (not built)
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/run-bench.sh
run_bench strait-rolling "$@"

#!/usr/bin/env bash
# The failover benchmark: how long the partitions of a kill -9ed strait node take to flow again
# in a 3-node cluster (see benches/README.md). Builds strait and the benchmark, installs Apache
# Kafka when missing, runs `strait-failover` and prints its figures.
#
#   benches/failover.sh                 # 20 kills (10 followers, 10 leaders), debug builds
#   benches/failover.sh --release       # release builds of strait and the benchmark
#   benches/failover.sh -- --rounds 4   # arguments after -- go to strait-failover (--help)
#   STRAIT_BIN=/path/to/strait benches/failover.sh   # measure that binary (strait is not built)
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/run-bench.sh
run_bench strait-failover "$@"

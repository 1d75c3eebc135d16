#!/usr/bin/env bash
# Failover against MirrorMaker 2: three Strait nodes, three MirrorMaker 2 nodes (dedicated mode)
# with `scheduled.rebalance.max.delay.ms` lowered to 10 s and three with MM2's defaults, each
# under the same steady load; kill -9 of one node; the time until its partitions flow again and
# the records lost and duplicated (see benches/README.md). Release builds. Prints a table.
#
#   benches/failover-mm2.sh                                 # 3 rounds (about 25 minutes)
#   benches/failover-mm2.sh -- --rounds 3 --default-rounds 1   # MM2 defaults once (5 min each)
#   STRAIT_BIN=/path/to/strait benches/failover-mm2.sh      # measure that binary (not built)
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/run-bench.sh
run_bench strait-failover-mm2 --release "$@"

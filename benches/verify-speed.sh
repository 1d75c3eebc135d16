#!/usr/bin/env bash
# How fast `strait verify` compares a replicated backlog (see benches/README.md, "Verify"). Builds
# strait and the benchmark, installs Apache Kafka when missing, runs `strait-verify-speed`.
#
#   benches/verify-speed.sh                        # 4 partitions x 250,000 records, debug builds
#   benches/verify-speed.sh --release              # release builds
#   benches/verify-speed.sh -- --records 50000     # arguments after -- go to strait-verify-speed
#   STRAIT_BIN=/path/to/strait benches/verify-speed.sh   # measure that binary (not built)
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/run-bench.sh
run_bench strait-verify-speed "$@"

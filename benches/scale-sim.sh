#!/usr/bin/env bash
# The Raft state machine and the assignment planner at scale, simulated: no process, no broker (see
# benches/README.md, "Scale simulation"). Builds strait-scale-sim (release) and runs it.
#
#   benches/scale-sim.sh                    # planner at 10 x 10k and 100 x 100k, positions, snapshots at 30k
#   benches/scale-sim.sh -- --quick         # 10 x 10k only, snapshots up to 100 runs a partition
#   benches/scale-sim.sh -- --runs 0,1000 --snapshot-partitions 10000
#   benches/scale-sim.sh --debug            # a debug build (figures are not representative)
set -euo pipefail
cd "$(dirname "$0")/.."

. benches/run-bench.sh
run_sim strait-scale-sim strait-scale-sim "$@"

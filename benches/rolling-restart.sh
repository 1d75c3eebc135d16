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

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
profile=debug
cargo_profile=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release; cargo_profile=(--release); shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done

# Apache Kafka brokers (scripts/install-kafka.sh); STRAIT_TEST_BROKER=tansu measures on Tansu.
. scripts/broker-env.sh
# Kafka brokers for measuring: a larger heap than the tests' brokers (-Xms at most the 128 MiB
# the storage formatter runs with: a larger initial heap than its -Xmx stops the JVM).
export STRAIT_KAFKA_JVM_OPTS="${STRAIT_KAFKA_JVM_OPTS:--Xms128m -Xmx1g -XX:+UseSerialGC}"
if [ -z "${STRAIT_BIN:-}" ]; then
  echo "building strait ($profile)..." >&2
  cargo build --quiet "${cargo_profile[@]}" --bin strait
  export STRAIT_BIN="$CARGO_TARGET_DIR/$profile/strait"
fi
echo "building strait-rolling ($profile)..." >&2
cargo build --quiet "${cargo_profile[@]}" -p strait-bench --bin strait-rolling
exec "$CARGO_TARGET_DIR/$profile/strait-rolling" "$@"

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
echo "building strait-failover ($profile)..." >&2
cargo build --quiet "${cargo_profile[@]}" -p strait-bench --bin strait-failover
exec "$CARGO_TARGET_DIR/$profile/strait-failover" "$@"

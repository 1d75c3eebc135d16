#!/usr/bin/env bash
# The throughput benchmark: a raw librdkafka copy (strait-rawcopy), one Strait node and three on
# the same preloaded data, two local Apache Kafka brokers, one machine; then the latency at half load and
# the paused-target memory mode (see benches/README.md). Release builds. Prints a table.
#
#   benches/throughput.sh                                   # every case, 60 s target pause
#   benches/throughput.sh -- --sizes 1024 --partitions 24   # arguments after -- go to strait-throughput
#   benches/throughput.sh -- --pause-only --pause-secs 60
#   benches/throughput.sh -- --mm2                         # Strait, MirrorMaker 2 (dedicated mode) and
#                                                           # the raw copy on the same backlog, 3 rounds
#   benches/throughput.sh -- --mm2 --rounds 1 --sizes 100 --records-100 500000
#   benches/throughput.sh -- --exactly-once                # the cost of exactly-once: at-least-once
#                                                           # and exactly-once Strait, interleaved, on
#                                                           # the same backlog (100 B, 1 KB, 24
#                                                           # partitions, 2 rounds), then the latency
#   STRAIT_BIN=/path/to/strait benches/throughput.sh        # measure that binary (not built)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
if [ "${1:-}" = "--" ]; then shift; fi

# Apache Kafka brokers (scripts/install-kafka.sh); STRAIT_TEST_BROKER=tansu measures on Tansu.
. scripts/broker-env.sh
# Kafka brokers for measuring: a larger heap than the tests' brokers.
export STRAIT_KAFKA_JVM_OPTS="${STRAIT_KAFKA_JVM_OPTS:--Xms128m -Xmx1g -XX:+UseSerialGC}"
if [ -z "${STRAIT_BIN:-}" ]; then
  echo "building strait (release)..." >&2
  cargo build --quiet --release --bin strait
  export STRAIT_BIN="$CARGO_TARGET_DIR/release/strait"
fi
echo "building strait-throughput and strait-rawcopy (release)..." >&2
cargo build --quiet --release -p strait-bench --bin strait-throughput --bin strait-rawcopy
export RAWCOPY_BIN="$CARGO_TARGET_DIR/release/strait-rawcopy"

# The orchestrator starts every broker, node and raw copy as its child and kills each by PID
# when its run ends; the children die with it (PR_SET_PDEATHSIG). Stop it by its PID on
# Ctrl-C or any exit of this script.
"$CARGO_TARGET_DIR/release/strait-throughput" "$@" &
bench=$!
trap 'kill "$bench" 2>/dev/null || true' EXIT INT TERM
wait "$bench"

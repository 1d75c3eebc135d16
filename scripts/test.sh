#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit tests and the integration tests
# against real Apache Kafka brokers (scripts/install-kafka.sh installs them; two clusters are
# started once here and shared by the tests that need no broker of their own, the others start
# their own). STRAIT_TEST_BROKER=tansu runs them against Tansu instead (machines without Java).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
export STRAIT_TEST_BROKER="${STRAIT_TEST_BROKER:-kafka}"
scripts/install-toolchain.sh
. scripts/broker-env.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build"
cargo build --workspace --bins --locked

log=$(mktemp)
kafka_out=$(mktemp)
kafka_pid=""
cleanup() {
  if [ -n "$kafka_pid" ]; then
    kill "$kafka_pid" 2>/dev/null || true
    wait "$kafka_pid" 2>/dev/null || true
  fi
  rm -f "$log" "$kafka_out"
}
trap cleanup EXIT

if [ "$STRAIT_TEST_BROKER" = kafka ] && [ -z "${STRAIT_TEST_SOURCE_BOOTSTRAP:-}" ]; then
  echo "== starting the shared Apache Kafka clusters (source, target)"
  "$CARGO_TARGET_DIR/debug/strait-kafka" source target >"$kafka_out" 2>&1 &
  kafka_pid=$!
  for _ in $(seq 1 1200); do
    grep -q '^ready$' "$kafka_out" && break
    if ! kill -0 "$kafka_pid" 2>/dev/null; then
      cat "$kafka_out" >&2
      echo "the shared Apache Kafka clusters did not start" >&2
      exit 1
    fi
    sleep 0.1
  done
  grep -q '^ready$' "$kafka_out" || { cat "$kafka_out" >&2; echo "Kafka not ready in 120 s" >&2; exit 1; }
  STRAIT_TEST_SOURCE_BOOTSTRAP=$(sed -n 's/^source=//p' "$kafka_out")
  STRAIT_TEST_TARGET_BOOTSTRAP=$(sed -n 's/^target=//p' "$kafka_out")
  export STRAIT_TEST_SOURCE_BOOTSTRAP STRAIT_TEST_TARGET_BOOTSTRAP
  echo "source $STRAIT_TEST_SOURCE_BOOTSTRAP, target $STRAIT_TEST_TARGET_BOOTSTRAP (pid $kafka_pid)"
fi

echo "== tests"
status=0
cargo test --workspace --locked --no-fail-fast --lib --bins --tests -- --test-threads="${STRAIT_TEST_THREADS:-2}" 2>&1 \
  | tee "$log" || status=$?
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"

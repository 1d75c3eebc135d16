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

echo "== unit tests"
status=0
threads="${STRAIT_TEST_THREADS:-2}"
cargo test --workspace --locked --no-fail-fast --lib --bins -- --test-threads="$threads" 2>&1 \
  | tee "$log" || status=$?

# The integration test binaries run in two lanes at once (each binary with $threads test threads):
# most of their time is spent waiting on brokers and timeouts, not on the CPU, and one lane alone
# took 14 minutes. The longest binaries go to lane a, the rest to lane b, so both end together.
# STRAIT_TEST_LANES=1 runs them one after the other, as `cargo test` does.
echo "== integration tests"
artifacts=$(mktemp)
cargo test --workspace --locked --tests --no-run --message-format=json >"$artifacts"
lane_a=" cluster failover_offsets real_data cutover faults exactly_once "
run_lane() {
  local lane=$1 out=$2 failed=0 name exe started took
  shift 2
  for entry in "$@"; do
    name=${entry%%=*}
    exe=${entry#*=}
    started=$(date +%s)
    # cargo runs a test binary in its package's directory.
    if ! (cd tests && "$exe" --test-threads="$threads") >>"$out" 2>&1; then
      failed=1
    fi
    took=$(( $(date +%s) - started ))
    echo "lane $lane: $name done in ${took}s ($(grep '^test result:' "$out" | tail -1))"
  done
  return "$failed"
}
a=()
b=()
while IFS= read -r line; do
  case "$line" in
    *'"kind":["test"]'*'"executable":"'*) ;;
    *) continue ;;
  esac
  name=$(sed -n 's/.*"target":{"kind":\["test"\][^}]*"name":"\([^"]*\)".*/\1/p' <<<"$line")
  exe=$(sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' <<<"$line")
  [ -n "$name" ] && [ -n "$exe" ] || continue
  if [ "${STRAIT_TEST_LANES:-2}" = 1 ] || [[ "$lane_a" != *" $name "* ]]; then
    b+=("$name=$exe")
  else
    a+=("$name=$exe")
  fi
done <"$artifacts"
rm -f "$artifacts"
log_a=$(mktemp)
log_b=$(mktemp)
pid_a=""
if [ "${#a[@]}" -gt 0 ]; then
  run_lane a "$log_a" "${a[@]}" &
  pid_a=$!
fi
run_lane b "$log_b" "${b[@]}" || status=1
if [ -n "$pid_a" ]; then
  wait "$pid_a" || status=1
fi
cat "$log_a" "$log_b" | tee -a "$log"
rm -f "$log_a" "$log_b"
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"

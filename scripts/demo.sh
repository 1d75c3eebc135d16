#!/usr/bin/env bash
# The local demo: two Tansu brokers as two clusters (A on 19092, B on 19093), a generator writing to
# topic `orders` on A, and one strait node copying it to `A.orders` on B. Prints a progress line
# every few seconds. Ctrl-C stops everything (DEMO_SECONDS=N stops it after N seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
TANSU_BIN="$(scripts/install-tansu.sh)"
echo "building strait..."
cargo build --quiet --bin strait --bin strait-loadgen
bin="$CARGO_TARGET_DIR/debug"

demo=.strait-demo
rm -rf "$demo" && mkdir -p "$demo"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for cluster in A:19092 B:19093; do
  alias=${cluster%%:*} port=${cluster##*:}
  "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ --cluster-id "demo-$alias" >"$demo/broker-$alias.log" 2>&1 &
  pids+=($!)
done

cat >"$demo/strait.toml" <<TOML
[node]
data_dir = "$demo/data"
progress_interval_secs = 3

[clusters.A]
bootstrap_servers = "127.0.0.1:19092"
[clusters.A.consumer]
"fetch.wait.max.ms" = "20"

[clusters.B]
bootstrap_servers = "127.0.0.1:19093"

[flows.a_to_b]
source = "A"
target = "B"
topics = ["orders"]
replication_factor = 1
refresh_topics_interval_secs = 5
TOML

"$bin/strait-loadgen" --bootstrap 127.0.0.1:19092 --topic orders --partitions 3 \
  --rate "${DEMO_RATE:-5000}" --report-secs 3 >"$demo/loadgen.log" 2>&1 &
pids+=($!)
"$bin/strait" node --config "$demo/strait.toml" >"$demo/strait.log" 2>&1 &
pids+=($!)

echo "demo running: A=127.0.0.1:19092 (topic orders) -> B=127.0.0.1:19093 (topic A.orders)"
echo "logs in $demo/; Ctrl-C to stop"
tail -n +1 -F "$demo/strait.log" "$demo/loadgen.log" 2>/dev/null \
  | grep --line-buffered -E 'progress|loadgen:|ERROR|error' &
pids+=($!)
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else wait; fi

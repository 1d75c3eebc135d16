#!/usr/bin/env bash
# The local demo: two Apache Kafka brokers as two clusters (A on 19092, B on 19093; installed by
# scripts/install-kafka.sh, STRAIT_TEST_BROKER=tansu uses Tansu instead), a generator writing to
# topic `orders` (6 partitions) on A, and a cluster of three strait nodes (DEMO_NODES to change)
# copying it to `A.orders` on B, each replicating the partitions the cluster gave it. Prints each
# node's progress line every few seconds; kill -9 a node's pid to watch its partitions move.
# Ctrl-C stops everything (DEMO_SECONDS=N stops it after N seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
broker="${STRAIT_TEST_BROKER:-kafka}"
if [ "$broker" = tansu ]; then
  TANSU_BIN="$(scripts/install-tansu.sh)"
else
  KAFKA_LIBS="$(scripts/install-kafka.sh)"
  export KAFKA_LIBS
fi
echo "building strait..."
cargo build --quiet --bin strait --bin strait-loadgen --bin strait-kafka
bin="$CARGO_TARGET_DIR/debug"

demo="$PWD/.strait-demo"
rm -rf "$demo" && mkdir -p "$demo"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if [ "$broker" = tansu ]; then
  for cluster in A:19092 B:19093; do
    alias=${cluster%%:*} port=${cluster##*:}
    "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine memory://tansu/ --cluster-id "demo-$alias" >"$demo/broker-$alias.log" 2>&1 &
    pids+=($!)
  done
else
  echo "starting Apache Kafka: A on 127.0.0.1:19092, B on 127.0.0.1:19093..."
  "$bin/strait-kafka" A:19092 B:19093 >"$demo/kafka.log" 2>&1 &
  pids+=($!)
  until grep -q '^ready$' "$demo/kafka.log"; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$demo/kafka.log" >&2; exit 1; }
    sleep 0.2
  done
fi

nodes="${DEMO_NODES:-3}"
peers=""
for i in $(seq 1 "$nodes"); do peers="$peers\"$i@127.0.0.1:$((7070 + i))\", "; done
for i in $(seq 1 "$nodes"); do
  cat >"$demo/node$i.toml" <<TOML
[node]
data_dir = "$(cd "$demo" && pwd)/data$i"
progress_interval_secs = 3

[cluster]
node_id = $i
peers = [${peers%, }]
cluster_id = "demo"

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
done

"$bin/strait-loadgen" --bootstrap 127.0.0.1:19092 --topic orders --partitions 6 \
  --rate "${DEMO_RATE:-5000}" --report-secs 3 >"$demo/loadgen.log" 2>&1 &
pids+=($!)
for i in $(seq 1 "$nodes"); do
  "$bin/strait" node --config "$demo/node$i.toml" >"$demo/node$i.log" 2>&1 &
  pids+=($!)
  echo "node $i: pid $!, gRPC 127.0.0.1:$((7070 + i)), log $demo/node$i.log"
done

echo "demo running: A=127.0.0.1:19092 (topic orders) -> B=127.0.0.1:19093 (topic A.orders), $nodes nodes"
echo "logs in $demo/; Ctrl-C to stop"
contacts=""
for i in $(seq 1 "$nodes"); do contacts="$contacts${contacts:+,}127.0.0.1:$((7070 + i))"; done
echo "control it from another shell (the binary is $bin/strait; scripts/install-cli.sh puts it on PATH):"
echo "  export STRAIT_CONTACT=$contacts"
echo "  alias strait=$bin/strait    # or: scripts/install-cli.sh"
echo "  strait status"
logs=()
for i in $(seq 1 "$nodes"); do logs+=("$demo/node$i.log"); done
tail -q -n +1 -F "${logs[@]}" "$demo/loadgen.log" 2>/dev/null \
  | grep --line-buffered -E 'progress|loadgen:|became leader|liveness|reassigns|ERROR' \
  | sed -u -E 's/^[0-9T:.-]+Z +//' &
pids+=($!)
# A background sleep and `wait`: bash runs the TERM/INT trap at once, not after the sleep.
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS" & wait $!; else wait; fi

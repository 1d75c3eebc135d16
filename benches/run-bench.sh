# Sourced by the benchmark scripts: `run_bench BINARY [--release] [-- ARGS...]` builds strait (unless
# $STRAIT_BIN names one) and the benchmark binary of crate strait-bench, installs Apache Kafka when
# missing (scripts/broker-env.sh; STRAIT_TEST_BROKER=tansu measures on Tansu), and runs the
# benchmark with ARGS in place of the script (exec). Debug builds unless --release.
run_bench() {
  local bench="$1"
  shift
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
  local profile=debug
  local cargo_profile=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --release) profile=release; cargo_profile=(--release); shift ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  . scripts/broker-env.sh
  # Kafka brokers for measuring: a larger heap than the tests' brokers (-Xms at most the 128 MiB
  # the storage formatter runs with: a larger initial heap than its -Xmx stops the JVM).
  export STRAIT_KAFKA_JVM_OPTS="${STRAIT_KAFKA_JVM_OPTS:--Xms128m -Xmx1g -XX:+UseSerialGC}"
  if [ -z "${STRAIT_BIN:-}" ]; then
    echo "building strait ($profile)..." >&2
    cargo build --quiet "${cargo_profile[@]}" --bin strait
    export STRAIT_BIN="$CARGO_TARGET_DIR/$profile/strait"
  fi
  echo "building $bench ($profile)..." >&2
  cargo build --quiet "${cargo_profile[@]}" -p strait-bench --bin "$bench"
  exec "$CARGO_TARGET_DIR/$profile/$bench" "$@"
}

# `run_sim PACKAGE BINARY [--debug] [-- ARGS...]`: for simulations that start no process and no
# broker: builds only PACKAGE (release unless --debug) and runs BINARY with ARGS (exec).
run_sim() {
  local package="$1" bench="$2"
  shift 2
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
  local profile=release
  local cargo_profile=(--release)
  while [ $# -gt 0 ]; do
    case "$1" in
      --debug) profile=debug; cargo_profile=(); shift ;;
      --release) shift ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  echo "building $bench ($profile)..." >&2
  cargo build --quiet "${cargo_profile[@]}" -p "$package" --bin "$bench"
  exec "$CARGO_TARGET_DIR/$profile/$bench" "$@"
}

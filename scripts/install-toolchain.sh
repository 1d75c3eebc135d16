#!/usr/bin/env bash
# Makes sure the Rust toolchain pieces the scripts use are there: cargo, rustfmt and clippy (a
# new kind of machine may come without them). Idempotent: checks first, installs only what lacks.
set -euo pipefail
if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
for component in rustfmt clippy; do
  subcommand=${component/rustfmt/fmt}
  if ! cargo "$subcommand" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null; then
      echo "installing the $component component" >&2
      rustup component add "$component" >&2
    else
      echo "cargo $component is missing and rustup is not there to add it" >&2
      exit 1
    fi
  fi
done
# librdkafka's bundled build (rdkafka-sys) needs a C toolchain, make, perl, pkg-config and the
# OpenSSL, SASL and zlib headers.
missing=()
for tool in cc make perl pkg-config; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
for lib in openssl zlib libsasl2; do
  pkg-config --exists "$lib" 2>/dev/null || missing+=("$lib")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing build tools from Debian's packages (missing: ${missing[*]})" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential perl pkg-config \
    libssl-dev zlib1g-dev libsasl2-dev >&2
fi
# The fault tests (tests/tests/faults.rs) run nodes in network namespaces and cut links with
# nftables rules: `ip` (iproute2) and `nft` (nftables). Installed as root only (as CI runs);
# elsewhere the tests are reported ignored, with the reason (tests/build.rs).
net_missing=()
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || net_missing+=(iproute2)
command -v nft >/dev/null || [ -x /usr/sbin/nft ] || [ -x /sbin/nft ] || net_missing+=(nftables)
if [ "${#net_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${net_missing[*]} from Debian's packages (fault tests)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${net_missing[@]}" >&2
  else
    echo "note: ${net_missing[*]} missing and not root: the fault tests will be ignored" >&2
  fi
fi

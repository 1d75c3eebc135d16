#!/usr/bin/env bash
# Makes Apache Kafka (broker, admin tools and MirrorMaker 2, the version pinned in
# scripts/kafka/pom.xml) available and prints the folder holding its jars.
# Idempotent: a second run finds the folder complete and does nothing. Installs Java 17 and Maven
# from Debian's packages when they are missing (as root), then resolves the jars from Maven Central
# with `mvn dependency:copy-dependencies` into ~/.cache/strait/kafka-<version>/libs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/kafka/pom.xml"
cache="${STRAIT_CACHE:-$HOME/.cache/strait}"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
dest="$cache/kafka-$version"
# The stamp names the pom's content: editing the pom resolves again.
stamp="$dest/libs/.complete-$(sha256sum "$pom" | cut -c1-16)"

if [ -f "$stamp" ]; then
  echo "$dest/libs"
  exit 0
fi

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "installing Java 17 and Maven from Debian's packages" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "java or mvn is missing and this is not root: install openjdk-17-jre-headless and maven" >&2
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >&2
fi

echo "resolving Apache Kafka $version into $dest/libs (Maven Central)" >&2
rm -rf "$dest/libs.tmp"
mkdir -p "$dest"
attempt=1
until mvn -q -B -f "$pom" dependency:copy-dependencies \
  -DoutputDirectory="$dest/libs.tmp" -DincludeScope=runtime >&2; do
  if [ "$attempt" -ge 3 ]; then
    echo "could not resolve Apache Kafka $version from Maven Central (mvn failed $attempt times)" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "mvn failed; retrying in $((attempt * 5)) s" >&2
  sleep $((attempt * 5))
done
cp "$here/kafka/log4j2.properties" "$dest/libs.tmp/"
touch "$dest/libs.tmp/.complete-$(sha256sum "$pom" | cut -c1-16)"
rm -rf "$dest/libs"
mv "$dest/libs.tmp" "$dest/libs"
echo "$dest/libs"

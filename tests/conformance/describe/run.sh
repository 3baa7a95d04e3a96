#!/usr/bin/env bash
# tests/conformance/describe/run.sh [fetch]: `--dump-topology` against Kafka
# Streams' own Topology#describe(). Cases.java builds, with Kafka Streams'
# DSL, the same topologies as the kstreamd files listed below, and random.py
# writes RANDOM_CASES (default 120) random ones in both forms; each
# kstreamd description must equal Kafka Streams' byte for byte. `fetch` only
# fetches Kafka Streams' jars (make deps runs it). Ends with
# "describe-conformance: N passed, N failed".
set -u
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../../.. && pwd)
KSTREAMD=${KSTREAMD:-./kstreamd}
case "$KSTREAMD" in /*) ;; *) KSTREAMD="$root/$KSTREAMD" ;; esac
VERSION=${STREAMS_VERSION:-4.4.0}
LIB=$here/.run/lib-$VERSION

fetch() {
    [ -f "$LIB/.complete" ] && return 0
    command -v mvn >/dev/null || { echo "describe-conformance: mvn not found (make deps installs it)"; return 1; }
    rm -rf "$LIB.tmp"
    if ! mvn -q -B -f pom.xml -Dstreams.version="$VERSION" -Dstreams.lib="$LIB.tmp" package >"$here/.run-fetch.log" 2>&1; then
        echo "describe-conformance: fetching Kafka Streams $VERSION failed:"; tail -20 "$here/.run-fetch.log"; return 1
    fi
    rm -rf "$LIB" && mv "$LIB.tmp" "$LIB" && touch "$LIB/.complete"
    rm -f "$here/.run-fetch.log"
}

mkdir -p .run
fetch || { echo "describe-conformance: 0 passed, 1 failed"; exit 1; }
[ "${1:-}" = fetch ] && exit 0

# name and kstreamd file of each hand-written case of Cases.java
cases="stateful_count tests/snapshots/extra/stateful_count.yaml
tables tests/snapshots/extra/tables.yaml
customer_order_count topologies/customer_order_count.yaml
crm_customer topologies/crm_customer.yaml
split_merge tests/snapshots/extra/split_merge.yaml
repartition tests/snapshots/extra/repartition.yaml
named_suppress tests/conformance/describe/cases/named_suppress.yaml
stream_joins tests/conformance/describe/cases/stream_joins.yaml
foreign_key_join tests/conformance/describe/cases/foreign_key_join.yaml"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 random.py "${RANDOM_CASES:-120}" "${RANDOM_SEED:-20261202}" "$tmp" || exit 1
cp Cases.java "$tmp/"
cp_jars=$(find "$LIB" -name '*.jar' | sort | tr '\n' ':')
if ! javac -nowarn -d "$tmp" -cp "$cp_jars" "$tmp/Cases.java" "$tmp/RandomCases.java" >"$tmp/javac.log" 2>&1; then
    cat "$tmp/javac.log"; echo "describe-conformance: 0 passed, 1 failed"; exit 1
fi
if ! java -cp "$cp_jars$tmp" Cases >"$tmp/ks.out" 2>"$tmp/ks.err"; then
    tail -20 "$tmp/ks.err"; echo "describe-conformance: 0 passed, 1 failed"; exit 1
fi
# Split Kafka Streams' output into one file per case.
awk -v dir="$tmp" '/^=== /{f=dir "/" $2 ".ks"; next} {print > f}' "$tmp/ks.out"

passed=0 failed=0
compare() { # name, kstreamd file
    local name=$1 file=$2
    if [ ! -f "$tmp/$name.ks" ]; then
        echo "FAIL $name: Kafka Streams printed no description"; failed=$((failed + 1)); return
    fi
    (cd "$root" && "$KSTREAMD" -c "$file" --dump-topology) >"$tmp/$name.kd" 2>&1
    if diff -u --label "Kafka Streams $VERSION: $name" --label "kstreamd: $file" "$tmp/$name.ks" "$tmp/$name.kd" >"$tmp/$name.diff"; then
        passed=$((passed + 1))
    else
        echo "FAIL $name"; cat "$tmp/$name.diff"; failed=$((failed + 1))
        [ "${file#/}" != "$file" ] && { echo "--- $file:"; cat "$file"; }
    fi
}
while read -r name file; do compare "$name" "$file"; done <<<"$cases"
for f in "$tmp"/r*.yaml; do compare "$(basename "$f" .yaml)" "$f"; done
echo "describe-conformance: $passed passed, $failed failed"
[ "$failed" = 0 ]

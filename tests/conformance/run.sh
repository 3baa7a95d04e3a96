#!/usr/bin/env bash
# tests/conformance/run.sh [fetch | CASES.test.yaml...]: every test case
# also run through Kafka Streams itself. kstreamd runs the case files with
# `kstreamd test --trace`, which records each case's input records as bytes;
# harness/Conformance.java (one JVM for all files) translates each topology
# file into the Kafka Streams DSL program a user would write, feeds the same
# bytes to Kafka Streams' TopologyTestDriver and records what it writes;
# compare.py compares, case by case, every topic (internal ones included),
# the stores' contents and --dump-topology against Topology#describe().
# Without files it runs tests/topologies/*.test.yaml. Cases that cannot be
# compared are listed, each with its reason, in not_comparable.yaml
# (NOT_COMPARABLE=FILE for another list). `fetch` only fetches the jars
# (make deps runs it). Ends with "conformance: N passed, N failed".
set -u
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
KSTREAMD=${KSTREAMD:-./kstreamd}
case "$KSTREAMD" in /*) ;; *) KSTREAMD="$root/$KSTREAMD" ;; esac
VERSION=${STREAMS_VERSION:-4.4.0}
LIB=$here/harness/.run/lib-$VERSION
NOT_COMPARABLE=${NOT_COMPARABLE:-$here/not_comparable.yaml}

fail() { echo "conformance: $*"; echo "conformance: 0 passed, 1 failed"; exit 1; }

fetch() {
    [ -f "$LIB/.complete" ] && return 0
    command -v mvn >/dev/null || { echo "conformance: mvn not found (make deps installs it)"; return 1; }
    rm -rf "$LIB.tmp"
    if ! mvn -q -B -f harness/pom.xml -Dstreams.version="$VERSION" -Dharness.lib="$LIB.tmp" package >"$here/.fetch.log" 2>&1; then
        echo "conformance: fetching the harness' jars failed:"; tail -20 "$here/.fetch.log"; return 1
    fi
    rm -rf "$LIB" && mv "$LIB.tmp" "$LIB" && touch "$LIB/.complete"
    rm -f "$here/.fetch.log"
}

fetch || fail "no jars"
[ "${1:-}" = fetch ] && exit 0

files=()
for f in "$@"; do case "$f" in /*) files+=("$f") ;; *) files+=("$OLDPWD/$f") ;; esac; done
[ ${#files[@]} = 0 ] && files=("$root"/tests/topologies/*.test.yaml)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp_jars=$(find "$LIB" -name '*.jar' | sort | tr '\n' ':')
javac -nowarn -Xlint:none -d "$tmp/classes" -cp "$cp_jars" harness/*.java >"$tmp/javac.log" 2>&1 \
    || { cat "$tmp/javac.log"; fail "the harness does not compile"; }
# kstreamd's verdicts are tests/run_all.sh's business; here only the trace counts.
(cd "$root" && "$KSTREAMD" test --trace "$tmp/kstreamd.jsonl" "${files[@]}") >"$tmp/kstreamd.log" 2>&1
[ -s "$tmp/kstreamd.jsonl" ] || { tail -20 "$tmp/kstreamd.log"; fail "kstreamd test --trace wrote nothing"; }
(cd "$root" && java -cp "$cp_jars$tmp/classes" Conformance "$tmp/kstreamd.jsonl") >"$tmp/streams.jsonl" 2>"$tmp/streams.err" \
    || { tail -30 "$tmp/streams.err"; fail "the Kafka Streams side failed"; }
cd "$root" && KSTREAMD="$KSTREAMD" python3 "$here/compare.py" "$tmp/kstreamd.jsonl" "$tmp/streams.jsonl" "$NOT_COMPARABLE" \
    | tee "$tmp/compare.out" | grep -v '^conformance: [0-9]* passed'
# The comparison itself: spoilt kstreamd outputs must be caught.
python3 "$here/selftest.py" "$tmp/kstreamd.jsonl" "$tmp/streams.jsonl" | tee "$tmp/selftest.out"
total() { sed -n "s/^$1: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p" "$2"; }
read -r p1 f1 <<<"$(total conformance "$tmp/compare.out")"
read -r p2 f2 <<<"$(total conformance-selftest "$tmp/selftest.out")"
echo "conformance: $((${p1:-0} + ${p2:-0})) passed, $((${f1:-1} + ${f2:-1})) failed"
[ $((${f1:-1} + ${f2:-1})) = 0 ]

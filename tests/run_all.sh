#!/usr/bin/env bash
# tests/run_all.sh: everything `make test` runs, in order: unit tests
# (cmocka), the jq corpus against the native engine and libjq 1.6, the CLI,
# topology cases, snapshots and conformance, a bounded fuzz run, and the
# real Kafka broker (started here, always stopped on exit). Every tier ends
# with one line "LABEL: N passed, N failed", which `suite` reads; this
# script ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export KSTREAMD=${KSTREAMD:-./kstreamd}
passed=0 failed=0
log=$(mktemp -d)
broker_started=0
cleanup() {
    if [ "$broker_started" = 1 ]; then tests/kafka/broker stop >/dev/null 2>&1 || true; fi
    rm -rf "$log"
}
trap cleanup EXIT

add() { passed=$((passed + $1)); failed=$((failed + $2)); }

section() { printf '== %s\n' "$1"; }

# A runner that prints "<label>: N passed, N failed" (or "N passed, N failed") last.
suite() { # name, command...
    local name=$1; shift
    section "$name"
    "$@" >"$log/suite" 2>&1
    local rc=$? line p f
    grep -E '^FAIL|^---|^\+\+\+|^[-+ ]|^E  ' "$log/suite" | head -80
    line=$(grep -E '([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log/suite" | tail -1)
    p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
    if [ -z "$p" ]; then tail -20 "$log/suite"; p=0 f=1; fi
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error' "$log/suite" && { grep -A15 'Sanitizer\|runtime error' "$log/suite" | head -40; f=$((f + 1)); }
    echo "   $p passed, $f failed"
    add "$p" "$f"
}

for t in "$BUILD"/tests/test_*; do
    case "$t" in *.d) continue ;; esac
    suite "unit: $(basename "$t")" tests/unit/run.sh "$t"
done
suite "corpus: native engine vs expected vs libjq 1.6" env TZ=UTC "$BUILD"/tests/corpus tests/expr/corpus/*.test
suite "cli" tests/cli/eval.sh
suite "numbers print as jq prints them" tests/cli/numbers.sh
suite "cli: kstreamd -c and test, options and exit codes" tests/cli/run_options.sh
suite "topology cases: kstreamd test" "$KSTREAMD" test tests/topologies/*.test.yaml
[ -x tests/topology_errors/run.sh ] && suite "topology errors: pinned messages" tests/topology_errors/run.sh
[ -x tests/snapshots/run.sh ] && suite "describe snapshots" tests/snapshots/run.sh
[ -x tests/lint/run.sh ] && suite "lint" tests/lint/run.sh
suite "topology warnings" tests/cli/warnings.sh
suite "describe against Kafka Streams' own Topology#describe()" tests/conformance/describe/run.sh
suite "conformance: every test case also through Kafka Streams' TopologyTestDriver" tests/conformance/run.sh
suite "man page is generated from the schema" bash -c 'if "$KSTREAMD" --help-topology=man | cmp -s - man/kstreamd.yaml.5.body; then echo "man: 1 passed, 0 failed"; else echo "man/kstreamd.yaml.5.body is stale: run make man"; echo "man: 0 passed, 1 failed"; fi'
suite "runtime keys in README.md and man/kstreamd.1 are generated from the key rows" tests/cli/config_docs.sh
suite "no (void) casts of unused parameters in src/" tests/format/casts.sh
# Every C file of src/ and tests/unit/ as clang-format writes it (make format); FORMAT_CHECK=0 skips it.
FORMAT_CHECK=${FORMAT_CHECK:-1}
if [ "$FORMAT_CHECK" = 1 ]; then
    suite "format: clang-format over src/ and tests/unit/" tests/format/check.sh
fi

# The three bounded fuzz runs (expressions, YAML, HTTP requests) are one check each: the build and every run must pass.
fuzz_tier() {
    make --no-print-directory -s "$BUILD/fuzz/fuzz_expr" "$BUILD/fuzz/yaml/fuzz_yaml" "$BUILD/fuzz/http/fuzz_http" ||
        { echo "fuzz: 0 passed, 3 failed"; return 1; }
    local p=0 f=0
    if FUZZ_TIME=${FUZZ_TIME:-15} tests/fuzz/run.sh "$BUILD/fuzz/fuzz_expr"; then p=$((p + 1)); else f=$((f + 1)); fi
    if FUZZ_SEEDS=tests/fuzz/yaml-corpus FUZZ_DICT= FUZZ_REGRESSIONS=tests/fuzz/yaml-regressions FUZZ_TIME=5 \
        tests/fuzz/run.sh "$BUILD/fuzz/yaml/fuzz_yaml"; then p=$((p + 1)); else f=$((f + 1)); fi
    if FUZZ_SEEDS=tests/fuzz/http-corpus FUZZ_DICT=tests/fuzz/http.dict FUZZ_REGRESSIONS=tests/fuzz/http-regressions \
        FUZZ_TIME=5 tests/fuzz/run.sh "$BUILD/fuzz/http/fuzz_http"; then p=$((p + 1)); else f=$((f + 1)); fi
    echo "fuzz: $p passed, $f failed"
    [ "$f" = 0 ]
}
if [ "${SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
    suite "fuzz: parser and evaluator, YAML, HTTP requests, bounded" fuzz_tier
fi

if [ "${SKIP_KAFKA:-0}" != 1 ]; then
    section "kafka: real broker (KRaft, 127.0.0.1)"
    if bootstrap=$(tests/kafka/broker start 2>"$log/broker"); then
        broker_started=1
        echo "   broker at $bootstrap"
        suite "kafka: librdkafka against the real broker" tests/kafka/broker smoke
        if [ -x tests/integration/run.sh ] && [ "${SKIP_INTEGRATION:-0}" != 1 ]; then
            suite "integration: the real kstreamd against the real broker (pytest)" \
                env KSTREAMD_BOOTSTRAP="$bootstrap" tests/integration/run.sh
        fi
    else
        tail -30 "$log/broker"
        add 0 1
    fi
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" = 0 ]

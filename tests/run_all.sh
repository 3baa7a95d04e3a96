#!/usr/bin/env bash
# tests/run_all.sh: everything `make test` runs, in order: unit tests
# (cmocka), the jq corpus against the native engine and libjq 1.6, the CLI,
# a bounded fuzz run, and the real Kafka broker (started here, always
# stopped on exit). Ends with one line "N passed, N failed".
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

# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
for t in "$BUILD"/tests/test_*; do
    case "$t" in *.d) continue ;; esac
    section "unit: $(basename "$t")"
    "$t" >"$log/unit" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/unit" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/unit" | tail -1)
    p=${p:-0} f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi # a crash or a leak report
    [ "$rc" != 0 ] && cat "$log/unit"
    grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error' "$log/unit" && { cat "$log/unit"; f=$((f + 1)); }
    echo "   $p passed, $f failed"
    add "$p" "$f"
done

section "corpus: native engine vs expected vs libjq 1.6"
TZ=UTC "$BUILD"/tests/corpus tests/expr/corpus/*.test >"$log/corpus" 2>&1
rc=$?
grep -v '^corpus:' "$log/corpus" | head -60
line=$(grep '^corpus:' "$log/corpus" | tail -1)
echo "   ${line#corpus: }"
p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
if [ -z "$p" ]; then p=0 f=1; cat "$log/corpus"; fi
grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error' "$log/corpus" && { tail -30 "$log/corpus"; f=$((f + 1)); }
[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
add "$p" "$f"

section "cli"
tests/cli/eval.sh >"$log/cli" 2>&1
cat "$log/cli" | grep -v '^cli:' | head -40
line=$(grep '^cli:' "$log/cli" | tail -1)
echo "   ${line#cli: }"
p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
add "${p:-0}" "${f:-1}"

# A runner that prints "<label>: N passed, N failed" (or "N passed, N failed") last.
suite() { # name, command...
    local name=$1; shift
    section "$name"
    "$@" >"$log/suite" 2>&1
    local rc=$? line p f
    grep -E '^FAIL|^---|^\+\+\+|^[-+ ]' "$log/suite" | head -80
    line=$(grep -E '([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log/suite" | tail -1)
    p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
    if [ -z "$p" ]; then tail -20 "$log/suite"; p=0 f=1; fi
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error' "$log/suite" && { grep -A15 'Sanitizer\|runtime error' "$log/suite" | head -40; f=$((f + 1)); }
    echo "   $p passed, $f failed"
    add "$p" "$f"
}

suite "numbers print as jq prints them" tests/cli/numbers.sh
suite "cli: kstreamd -c and test, options and exit codes" tests/cli/run_options.sh
suite "topology cases: kstreamd test" "$KSTREAMD" test tests/topologies/*.test.yaml
[ -x tests/topology_errors/run.sh ] && suite "topology errors: pinned messages" tests/topology_errors/run.sh
[ -x tests/snapshots/run.sh ] && suite "describe snapshots" tests/snapshots/run.sh
[ -x tests/lint/run.sh ] && suite "lint" tests/lint/run.sh
suite "topology warnings" tests/cli/warnings.sh
suite "describe against Kafka Streams' own Topology#describe()" tests/conformance/describe/run.sh
suite "man page is generated from the schema" bash -c 'if "$KSTREAMD" --help-topology=man | cmp -s - man/kstreamd.yaml.5.body; then echo "man: 1 passed, 0 failed"; else echo "man/kstreamd.yaml.5.body is stale: run make man"; echo "man: 0 passed, 1 failed"; fi'

if [ "${SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
    section "fuzz: parser and evaluator, bounded"
    if make --no-print-directory -s "$BUILD/fuzz/fuzz_expr" "$BUILD/fuzz/yaml/fuzz_yaml" >"$log/fuzzbuild" 2>&1 && \
       FUZZ_TIME=${FUZZ_TIME:-15} tests/fuzz/run.sh "$BUILD/fuzz/fuzz_expr" >"$log/fuzz" 2>&1 && \
       FUZZ_SEEDS=tests/fuzz/yaml-corpus FUZZ_DICT= FUZZ_REGRESSIONS=tests/fuzz/yaml-regressions FUZZ_TIME=5 \
           tests/fuzz/run.sh "$BUILD/fuzz/yaml/fuzz_yaml" >>"$log/fuzz" 2>&1; then
        grep '^fuzz:' "$log/fuzz"; add 2 0
    else
        cat "$log/fuzzbuild" "$log/fuzz" 2>/dev/null | tail -40; add 0 1
    fi
fi

if [ "${SKIP_KAFKA:-0}" != 1 ]; then
    section "kafka: real broker (KRaft, 127.0.0.1) and librdkafka against it"
    if bootstrap=$(tests/kafka/broker start 2>"$log/broker"); then
        broker_started=1
        echo "   broker at $bootstrap"
        tests/kafka/broker smoke >"$log/smoke" 2>&1
        grep -E 'FAIL' "$log/smoke" | head -20
        line=$(grep -E '^rdk_smoke: [0-9]+ passed' "$log/smoke" | tail -1)
        echo "   ${line#rdk_smoke: }"
        p=$(echo "$line" | sed -n 's/^rdk_smoke: \([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
        if [ -z "$p" ]; then tail -20 "$log/smoke"; p=0 f=1; fi
        add "$p" "$f"
        if [ -x tests/integration/run.sh ] && [ "${SKIP_INTEGRATION:-0}" != 1 ]; then
            section "integration: the real kstreamd against the real broker (pytest)"
            KSTREAMD_BOOTSTRAP=$bootstrap tests/integration/run.sh >"$log/integ" 2>&1
            rc=$?
            grep -E '^(FAILED|ERROR|XPASS)|Error|assert' "$log/integ" | head -40
            line=$(grep -E '[0-9]+ (passed|failed)' "$log/integ" | tail -1)
            echo "   ${line:-no pytest summary}"
            p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); f=$(echo "$line" | grep -oE '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}')
            p=${p:-0} f=${f:-0}
            if [ "$rc" != 0 ] && [ "$f" = 0 ]; then tail -30 "$log/integ"; f=1; fi
            add "$p" "$f"
        fi
    else
        tail -30 "$log/broker"
        add 0 1
    fi
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# tests/fuzz/run.sh BINARY: runs a libFuzzer target for FUZZ_TIME seconds
# (default 20) on a working copy of the checked-in seed corpus, with the jq
# dictionary. Prints one summary line; exits non-zero when the fuzzer found a
# crash, a leak, undefined behaviour, a timeout (> 5 s) or an out-of-memory
# input (> 1 GB). The crashing input is left in <binary dir>/crashes/.
#
# The working corpus lives next to the binary (build/fuzz/corpus-work) and
# keeps what earlier runs found; tests/fuzz/corpus/ is only read, so it never
# grows. FUZZ_FRESH=1 starts again from the seeds alone.
set -u
cd "$(dirname "$0")/../.."
bin=${1:?usage: tests/fuzz/run.sh BINARY}
time=${FUZZ_TIME:-20}
dir=$(dirname "$bin")
work=$dir/corpus-work
crashes=$dir/crashes
log=$dir/fuzz.log

seeds=${FUZZ_SEEDS:-tests/fuzz/corpus}
dict=${FUZZ_DICT-tests/fuzz/jq.dict}
regressions=${FUZZ_REGRESSIONS:-tests/fuzz/regressions}

[ -x "$bin" ] || { echo "fuzz: $bin not built (make $bin)"; exit 2; }
[ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$work"
mkdir -p "$work" "$crashes"
cp -n "$seeds"/* "$work"/ 2>/dev/null || true

# libjq 1.6 leaks when jq_compile fails (programs the native compiler does not
# take go to libjq); the same suppression as `make asan`, libjq frames only.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# UBSan findings stop the run (the Makefile builds without -fno-sanitize-recover).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# Inputs that once crashed must keep passing.
if [ -d "$regressions" ] && [ -n "$(ls "$regressions" 2>/dev/null)" ]; then
    if ! "$bin" -timeout=5 "$regressions"/* >"$log" 2>&1; then
        grep -m1 -B2 -A30 'ERROR: \|runtime error\|fuzz_' "$log" >&2
        echo "fuzz: FAILED: a regression input in $regressions crashes again"
        exit 1
    fi
fi

"$bin" -max_total_time="$time" -timeout=5 -rss_limit_mb=1024 -max_len=1024 \
    ${dict:+-dict="$dict"} -artifact_prefix="$crashes/" -print_final_stats=1 \
    "$work" >"$log" 2>&1
rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
files=$(ls "$work" | wc -l)
if [ "$rc" = 0 ]; then
    echo "fuzz: ok, ${execs:-?} execs in ${time} s (${speed:-?}/s), coverage ${cov:-?} edges, corpus ${files} inputs"
    exit 0
fi
artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|fuzz_[a-z]+: .*' "$log")
grep -m1 -B2 -A30 'ERROR: \|runtime error\|fuzz_[a-z]*: ' "$log" >&2
echo "fuzz: FAILED (exit $rc) after ${execs:-?} execs: ${what:-see $log}; input: ${artifact:-none}; log: $log"
exit 1

# bench/broker.sh: sourced by the benchmarks' run.sh. Sets B to a broker's bootstrap address:
# $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here and stopped at exit.
# Needs REPO set; takes the benchmark's name for the banner line.
bench_broker() {
    local name=$1
    started=0
    if [[ -n "${KSTREAMD_BOOTSTRAP:-}" ]]; then
        B=$KSTREAMD_BOOTSTRAP
    elif B=$("$REPO/tests/kafka/broker" bootstrap 2>/dev/null); then
        :
    else
        B=$("$REPO/tests/kafka/broker" start)
        started=1
    fi
    # the broker's pid, when it is ours: the benchmarks report its CPU per record too
    BENCH_BROKER_PID=""
    if [[ -z "${KSTREAMD_BOOTSTRAP:-}" ]]; then
        BENCH_BROKER_PID=$("$REPO/tests/kafka/broker" status 2>/dev/null | sed -n 's/.* pid \([0-9]*\) .*/\1/p')
    fi
    export BENCH_BROKER_PID
    trap 'if [[ $started = 1 ]]; then "$REPO/tests/kafka/broker" stop >/dev/null 2>&1 || true; fi' EXIT
    echo "$name: broker $B, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

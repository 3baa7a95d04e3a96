#!/usr/bin/env bash
# bench/compare.sh: kstreamd side by side with Kafka Streams (bench/kafka-streams/, the demo services' twins)
# and the bare librdkafka pipe, on one broker, over one data set made by kstreamd's own generators; see
# bench/compare.py for what is measured and how, and bench/RESULTS.md for the results.
#
#   bench/compare.sh                      # 100,000 orders, 3 repetitions, 1M-entry restore (~20 min on a busy machine)
#   bench/compare.sh --quick              # small data, one repetition (~7 min)
#   bench/compare.sh --conformance-only   # only the record-for-record comparison on a small input
#   BENCH_ORDERS=... BENCH_CRM=... BENCH_REPEAT=... BENCH_RESTORE=... BENCH_LAT_RATE=... BENCH_LAT_SECS=...
#   BENCH_STAGES="throughput latency" BENCH_SERVICES="passthrough entity" BENCH_SYSTEMS="bare kstreamd"  # a part
#   BENCH_CHART=FILE.png                  # where the ratios' chart goes (default bench/compare.png;
#                                         # --quick and --conformance-only draw none unless it is set)
#
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
# Needs: ./kstreamd (make), the Java twins (make deps builds them: mvn -f bench/kafka-streams/pom.xml
# package), python3 with confluent-kafka, matplotlib for the chart (make deps installs both).
# Exit status 1 when the conformance check finds a difference.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BIN=${BENCH_BIN:-$REPO/build/bench/compare}
mkdir -p "$BIN"
for src in "$REPO/bench/pipe/bare.c" "$REPO/bench/latency.c"; do
    exe=$BIN/$(basename "$src" .c)
    if [[ ! -x "$exe" || "$src" -nt "$exe" ]]; then
        # shellcheck disable=SC2046
        ${CC:-cc} -O2 -g -Wall -Wextra -Werror -o "$exe" "$src" $(pkg-config --cflags --libs rdkafka) -lpthread
    fi
done
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/compare: build kstreamd first (make)" >&2; exit 2; }
KS=$REPO/bench/kafka-streams
stale=$(find "$KS/src" "$KS/pom.xml" -newer "$KS/target/.built" 2>/dev/null | head -1 || true)
if [[ ! -f "$KS/target/.built" || -n "$stale" ]]; then
    command -v mvn >/dev/null || { echo "bench/compare: mvn not found (make deps installs it)" >&2; exit 2; }
    mvn -q -B -f "$KS/pom.xml" package >"$BIN/mvn.log" 2>&1 || { tail -30 "$BIN/mvn.log"; exit 2; }
    touch "$KS/target/.built"
fi

chart=${BENCH_CHART:-}
case " $* " in
    *" --quick "*|*" --conformance-only "*) ;;
    *) chart=${chart:-$REPO/bench/compare.png} ;;
esac

# shellcheck source=broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/compare
echo "bench/compare: kstreamd $("${KSTREAMD:-$REPO/kstreamd}" --version 2>&1 | head -1), Kafka Streams" \
    "$(sed -n 's:.*<streams.version>\(.*\)</streams.version>.*:\1:p' "$KS/pom.xml"), $(java -version 2>&1 | head -1)"
rc=0
BENCH_BIN=$BIN BENCH_BOOTSTRAP=$B python3 "$HERE/compare.py" "$@" || rc=$?
if [[ -n "$chart" && -f "$BIN/results.json" ]]; then
    python3 "$HERE/compare_chart.py" "$BIN/results.json" "$chart"
fi
exit $rc

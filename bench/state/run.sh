#!/usr/bin/env bash
# bench/state/run.sh: state-store throughput and restore speed on the real broker (see run.py and
# bench/RESULTS.md):
#   (a) bare librdkafka consume -> produce pipe (bench/pipe/bare.c), the baseline
#   (b) CustomerOrderCountService (topologies/customer_order_count.yaml), record cache on (10 MB)
#   (c) the same with the cache off (cache.max.bytes=0)
#   (e) the simplest counting service: groupBy .customerId -> count -> toStream
#   (s) selectKey .customerId -> join with a table of BENCH_CUSTOMERS customers (not in the default cases;
#       bench/join/run.sh runs it)
#   (d) restore of a BENCH_RESTORE-entry changelog into an empty state directory
# Each run is timed from the partitions' assignment until its consumed offsets are committed.
#
#   bench/state/run.sh                               # 2,000,000 orders over 100,000 customers, 1M-entry restore
#   BENCH_RECORDS=500000 BENCH_RESTORE=200000 ...    # smaller
#   BENCH_CASES="b d" ...                            # some cases only
#   BENCH_REPEAT=3 ...                               # a b c e three times, interleaved; the table shows medians
#   BENCH_KSTREAMD_SET="cache.max.bytes=0" ...       # more --set for kstreamd
#   BENCH_PERF=1 | BENCH_PERF="-g" ...               # perf record each kstreamd run (with these perf arguments)
#   BENCH_WRAP=heaptrack ...                         # run kstreamd under another tool
#
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${BENCH_BIN:-$REPO/build/bench/state}
mkdir -p "$BIN"
if [[ ! -x "$BIN/bare" || "$REPO/bench/pipe/bare.c" -nt "$BIN/bare" ]]; then
    # shellcheck disable=SC2046
    ${CC:-cc} -O2 -g -Wall -Wextra -o "$BIN/bare" "$REPO/bench/pipe/bare.c" $(pkg-config --cflags --libs rdkafka)
fi
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/state: build kstreamd first (make)" >&2; exit 2; }

# shellcheck source=../broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/state
BENCH_BIN=$BIN BENCH_BOOTSTRAP=$B python3 "$HERE/run.py"

#!/usr/bin/env bash
# bench/join/run.sh: global tables on the real broker (see run.py and bench/RESULTS.md):
#   (g) bootstrap of a BENCH_GLOBAL-record global table (default 1,000,000 products, 6 partitions):
#       records/s of kstreamd's "bootstrapped global tables" line, peak RSS and the LMDB file
#   (j) BENCH_ORDERS orders (default 1,000,000) per-item left-joined with that table (flatMapValues,
#       leftJoin globalTable): orders/s and CPU µs per order, from assignment to lag 0
#   then bench/state/run.sh's cases BENCH_CASES (default "a e s") on the same broker: (a) the bare
#   librdkafka pipe, (e) groupBy + count, (s) 2,000,000 orders (BENCH_RECORDS) re-keyed by customer and
#   joined with a 100,000-customer table (BENCH_CUSTOMERS): rates and CPU per order side by side
#   BENCH_GLOBAL_CASES=0 skips (g) and (j); BENCH_CASES= skips the state cases
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/join: build kstreamd first (make)" >&2; exit 2; }
# shellcheck source=../broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/join
if [[ "${BENCH_GLOBAL_CASES:-1}" != 0 ]]; then
    BENCH_BOOTSTRAP=$B python3 "$HERE/run.py"
fi
if [[ -n "${BENCH_CASES-a e s}" ]]; then
    # The same broker: $KSTREAMD_BOOTSTRAP when given, else the running test broker (whose CPU it then measures).
    BENCH_CASES="${BENCH_CASES-a e s}" "$REPO/bench/state/run.sh"
fi

#!/usr/bin/env bash
# bench/join/run.sh: global tables on the real broker (see run.py and bench/RESULTS.md):
#   (g) bootstrap of a BENCH_GLOBAL-record global table (default 1,000,000 products, 6 partitions):
#       records/s of kstreamd's "bootstrapped global tables" line, peak RSS and the LMDB file
#   (j) BENCH_ORDERS orders (default 1,000,000) per-item left-joined with that table (flatMapValues,
#       leftJoin globalTable): orders/s and CPU µs per order, from assignment to lag 0
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/join: build kstreamd first (make)" >&2; exit 2; }
# shellcheck source=../broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/join
BENCH_BOOTSTRAP=$B python3 "$HERE/run.py"

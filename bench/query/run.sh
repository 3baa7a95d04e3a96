#!/usr/bin/env bash
# bench/query/run.sh: interactive queries on a 1M-key table (issue 15; see run.py and bench/RESULTS.md):
#   (1) key lookups with wrk, as fast as they go: requests/s
#   (2) key lookups at half that rate: latency percentiles (p50, p99)
#   (3) the stream thread's throughput loading the table, without and with 1,000 lookups/s meanwhile
#
#   bench/query/run.sh                         # 1,000,000 keys, 15 s per wrk run
#   BENCH_KEYS=200000 BENCH_SECS=5 ...         # smaller
#
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/query: build kstreamd first (make)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/query: wrk is needed (make deps)" >&2; exit 2; }
# shellcheck source=../broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/query
BENCH_BOOTSTRAP=$B python3 "$HERE/run.py"

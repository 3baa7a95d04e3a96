#!/usr/bin/env bash
# bench/services/run.sh: the demo services as they run, on the real broker (see run.py and bench/RESULTS.md):
#   crm     CrmCustomerService (topologies/crm_customer.yaml) over BENCH_RECORDS raw CRM customers, written
#           first by topologies/crm_seed.yaml's own generator (count BENCH_RECORDS, as fast as it goes)
#   orders  CustomerOrderCountService (topologies/customer_order_count.yaml) over BENCH_RECORDS orders written
#           first by topologies/new_orders.yaml's own generator
# Each service is run from the start of its preloaded topic until its committed offsets reach the end of
# every topic it reads; the table shows input records/s, process CPU µs per input record (utime+stime from
# /proc/PID/stat), peak RSS (VmHWM).
#
#   bench/services/run.sh                           # both services, 500,000 input records each
#   BENCH_RECORDS=200000 BENCH_SERVICES=crm ...     # smaller, one service
#   BENCH_REPEAT=3 ...                              # each service three times, interleaved; medians
#   BENCH_PERF=1 ...                                # perf record -g each run, then perf report's top symbols
#   BENCH_PERF="--call-graph dwarf" ...             # perf record with these arguments instead
#   BENCH_KSTREAMD_SET="cache.max.bytes=0" ...      # more --set for kstreamd
#
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/services: build kstreamd first (make)" >&2; exit 2; }
# shellcheck source=../broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/services
BENCH_BOOTSTRAP=$B python3 "$HERE/run.py"

#!/usr/bin/env bash
# bench/pipe/run.sh: consume -> produce throughput on the real broker (see run.py and bench/RESULTS.md):
# (a) bare librdkafka pipe, (b) kstreamd passthrough, (c) kstreamd order topology; prints a table.
#
#   bench/pipe/run.sh                      # 2,000,000 records
#   BENCH_RECORDS=500000 bench/pipe/run.sh # fewer
#   BENCH_REPEAT=3 BENCH_CASES="a b" ...   # best of 3; some runs only
#   BENCH_KSTREAMD_SET="queued.max.messages.kbytes=8192" ...   # extra --set for kstreamd
#   BARE_CONSUMER_SET="debug=fetch" BENCH_CASES=a ...            # extra properties for bare.c's clients
#
# Broker: $KSTREAMD_BOOTSTRAP, else a running tests/kafka/broker, else one started here (and stopped).
# Needs: cc, librdkafka-dev, python3 with confluent-kafka (tests/integration/requirements.txt), ./kstreamd.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${BENCH_BIN:-$REPO/build/bench/pipe}
mkdir -p "$BIN"
for p in load bare; do
    if [[ ! -x "$BIN/$p" || "$HERE/$p.c" -nt "$BIN/$p" ]]; then
        # shellcheck disable=SC2046
        ${CC:-cc} -O2 -g -Wall -Wextra -o "$BIN/$p" "$HERE/$p.c" $(pkg-config --cflags --libs rdkafka)
    fi
done
[[ -x "${KSTREAMD:-$REPO/kstreamd}" ]] || { echo "bench/pipe: build kstreamd first (make)" >&2; exit 2; }

# shellcheck source=../broker.sh
source "$REPO/bench/broker.sh"
bench_broker bench/pipe
BENCH_BIN=$BIN BENCH_BOOTSTRAP=$B python3 "$HERE/run.py"

#!/usr/bin/env bash
# tests/integration/run.sh: the integration tests (pytest) against a real Kafka broker, each test
# starting the real ./kstreamd. Uses $KSTREAMD_BOOTSTRAP if set (make test's broker), else a running
# tests/kafka/broker, else starts one and stops it at the end. Needs: pip install -r requirements.txt.
# Output ends with pytest's own summary line (preceded by "integration: N passed, N failed, N xfailed");
# exit status is pytest's (non-zero on any failure).
set -u
cd "$(dirname "$0")"
if ! python3 -c 'import confluent_kafka, pytest' 2>/dev/null; then
    echo "integration: confluent-kafka and pytest are needed: pip install -r tests/integration/requirements.txt" >&2
    echo "integration: 0 passed, 1 failed"
    exit 2
fi
exec python3 -m pytest -q -rfEX "$@"

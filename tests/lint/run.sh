#!/usr/bin/env bash
# tests/lint/run.sh: `kstreamd lint` on small systems of services. Each
# scenario runs the command from this folder (so file names in messages are
# short) and compares its stdout and stderr, then `[exit N]`, with
# NAME.expected exactly. UPDATE=1 rewrites the expected files instead.
# Prints a diff per failure and ends with "lint: N passed, N failed".
set -u
# KSTREAMD is relative to the caller's folder (`make test` passes ./kstreamd) or found on PATH;
# unset, it is the repository's ./kstreamd wherever this script is run from.
K=${KSTREAMD:-$(cd "$(dirname "$0")/../.." && pwd)/kstreamd}
case "$K" in /*) ;; */*) K="$PWD/$K" ;; *) K=$(command -v "$K" || echo "$K") ;; esac
cd "$(dirname "$0")"
pass=0 fail=0
SYSTEM="system/ingest.yaml system/order_enrich.yaml system/order_vip.yaml"
DOTTED='^[a-z]+(\.[a-z]+)+\.v[0-9]+$'

scenario() { # name, arguments after `lint`...
    local name=$1 got
    shift
    got=$("$K" lint "$@" 2>&1; echo "[exit $?]")
    if [ "${UPDATE:-0}" = 1 ]; then
        printf '%s\n' "$got" >"$name.expected"
    fi
    if [ "$got" == "$(cat "$name.expected" 2>/dev/null)" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL lint: $name"
        diff <(cat "$name.expected" 2>/dev/null) <(printf '%s\n' "$got") | sed 's/^/  /'
    fi
}

# shellcheck disable=SC2086 # $SYSTEM is a list of files
{
scenario clean $SYSTEM
scenario naming $SYSTEM bad/naming.yaml
scenario single-writer $SYSTEM bad/second_writer.yaml
scenario serde-mismatch $SYSTEM bad/serde_reader.yaml
scenario unwritten system/order_enrich.yaml
scenario copartition system/ingest.yaml bad/copartition.yaml ok/rekeyed_join.yaml ok/foreign_key_join.yaml
scenario custom-pattern --topic-pattern "$DOTTED" ok/dotted.yaml
scenario custom-pattern-rejects --topic-pattern="$DOTTED" system/ingest.yaml ok/dotted.yaml
scenario load-error bad/broken.yaml $SYSTEM
scenario bad-pattern --topic-pattern '(' $SYSTEM
scenario no-files
scenario unknown-option --strict $SYSTEM
scenario help --help
}
echo "lint: $pass passed, $fail failed"
[ "$fail" = 0 ]

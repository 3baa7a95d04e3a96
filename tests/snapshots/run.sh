#!/usr/bin/env bash
# tests/snapshots/run.sh: snapshots of `--dump-topology` for every
# topologies/*.yaml and tests/snapshots/extra/*.yaml, in the text, json and dot
# formats (tests/snapshots/<basename>.txt/.json/.dot, compared exactly), plus
# system.dot: all topologies/*.yaml in one `-c a -c b ... --dump-topology=dot`.
# If the `dot` program is installed, each dot output must also be accepted by
# `dot -Tpng`; multi.txt/.json: two files of tests/snapshots/multi/ described
# together. UPDATE=1 rewrites the snapshots (review the diff before
# committing). Ends with "snapshots: N passed, N failed"; non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
KSTREAMD=${KSTREAMD:-./kstreamd}
dir=tests/snapshots
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_dot=0
command -v dot >/dev/null 2>&1 && have_dot=1

# check NAME SNAPSHOT FORMAT ARGS...: runs kstreamd ARGS, compares with SNAPSHOT.
check() {
    local name=$1 snap=$2 format=$3
    shift 3
    if ! LC_ALL=C "$KSTREAMD" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; then
        echo "FAIL $name: kstreamd $* exited non-zero"
        cat "$tmp/err"
        failed=$((failed + 1))
        return
    fi
    if [ "${UPDATE:-0}" = 1 ]; then
        cp "$tmp/out" "$snap"
    fi
    if [ ! -f "$snap" ]; then
        echo "FAIL $name: no snapshot $snap (run with UPDATE=1 to create it)"
        failed=$((failed + 1))
        return
    fi
    if ! diff -u --label "$snap" --label "$name: actual" "$snap" "$tmp/out" >"$tmp/diff"; then
        echo "FAIL $name: output differs from $snap"
        cat "$tmp/diff"
        failed=$((failed + 1))
        return
    fi
    if [ "$format" = dot ] && [ "$have_dot" = 1 ]; then
        if ! dot -Tpng "$tmp/out" -o /dev/null 2>"$tmp/doterr"; then
            echo "FAIL $name: dot -Tpng rejects the output"
            cat "$tmp/doterr"
            failed=$((failed + 1))
            return
        fi
    fi
    passed=$((passed + 1))
}

for f in topologies/*.yaml "$dir"/extra/*.yaml; do
    [ -f "$f" ] || continue
    base=$(basename "$f" .yaml)
    check "$base.txt" "$dir/$base.txt" text -c "$f" --dump-topology=text
    check "$base.json" "$dir/$base.json" json -c "$f" --dump-topology=json
    check "$base.dot" "$dir/$base.dot" dot -c "$f" --dump-topology=dot
done

# Several -c in text and json: a header line per application; one JSON document (an array).
multi=(-c "$dir/multi/orders.yaml" -c "$dir/multi/customers.yaml")
check multi.txt "$dir/multi.txt" text "${multi[@]}" --dump-topology=text
check multi.json "$dir/multi.json" json "${multi[@]}" --dump-topology=json

args=()
for f in topologies/*.yaml; do
    [ -f "$f" ] && args+=(-c "$f")
done
if [ "${#args[@]}" -gt 0 ]; then
    check system.dot "$dir/system.dot" dot "${args[@]}" --dump-topology=dot
fi

echo "snapshots: $passed passed, $failed failed"
[ "$failed" = 0 ]

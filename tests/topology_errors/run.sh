#!/usr/bin/env bash
# tests/topology_errors/run.sh: pinned `--validate` messages for bad topologies.
# For each tests/topology_errors/NAME.yaml, runs
#   ${KSTREAMD:-./kstreamd} -c tests/topology_errors/NAME.yaml --validate
# from the repo root and checks exit code 2 and that stderr equals NAME.expected
# exactly. UPDATE=1 rewrites the .expected files (read them before committing).
# Ends with "errors: N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
KSTREAMD=${KSTREAMD:-./kstreamd}
dir=tests/topology_errors
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$dir"/*.yaml; do
    name=$(basename "$f" .yaml)
    exp="$dir/$name.expected"
    # NOPE must be unset: undefined_env_var.yaml depends on it.
    env -u NOPE LC_ALL=C "$KSTREAMD" -c "$f" --validate >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    if [ "${UPDATE:-0}" = 1 ]; then
        cp "$tmp/err" "$exp"
    fi
    if [ "$rc" != 2 ]; then
        echo "FAIL $name: exit code $rc, expected 2"
        cat "$tmp/err"
        failed=$((failed + 1))
        continue
    fi
    if [ ! -f "$exp" ]; then
        echo "FAIL $name: no $exp (run with UPDATE=1 to create it)"
        failed=$((failed + 1))
        continue
    fi
    if ! diff -u --label "$exp" --label "$name: actual stderr" "$exp" "$tmp/err" >"$tmp/diff"; then
        echo "FAIL $name: stderr differs from $exp"
        cat "$tmp/diff"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + 1))
done

echo "errors: $passed passed, $failed failed"
[ "$failed" = 0 ]

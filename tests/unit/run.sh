#!/usr/bin/env bash
# tests/unit/run.sh BINARY: runs one cmocka test binary and ends with the
# line every tier ends with, "unit NAME: N passed, N failed". On a failure,
# a crash or a sanitizer report, the binary's output follows a FAIL line,
# indented. cmocka's own summary: "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s), listed below:".
set -u
t=$1
name=$(basename "$t")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$t" >"$out" 2>&1
rc=$?
p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
p=${p:-0} f=${f:-0}
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi # a crash or a leak report
if [ "$rc" != 0 ] || grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error' "$out"; then
    echo "FAIL unit $name (exit $rc):"
    sed 's/^/  /' "$out"
fi
echo "unit $name: $p passed, $f failed"
[ "$rc" = 0 ] && [ "$f" = 0 ]

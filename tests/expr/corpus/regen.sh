#!/usr/bin/env bash
# Regenerate expected outputs of jq-style .test files using jq 1.6 (the oracle).
#
# Usage: ./regen.sh [-n] [FILE.test ...]      (default: every *.test next to this script)
#   -n   do not auto-wrap cases that raise an uncaught runtime error
#
# File format: '#' comment lines and blank lines between cases are kept as is.
# A case = program line, input line (compact JSON), expected output lines
# (jq -c, one per line), terminated by a blank line. Existing output lines are
# discarded and replaced by what `jq -c PROGRAM <<< INPUT` prints.
#
# A case whose program raises an uncaught runtime error (jq exit status 5) is
# rewritten to `try (PROGRAM) catch .` (unless -n) so that the error message
# is pinned as an output; this is reported on stderr as WRAPPED.
# Compile errors (exit 3), timeouts, or anything on stderr are reported as FAIL
# and make the script exit non-zero (the case is kept with no outputs).
#
# Blocks starting with a '%%FAIL' line (added by hand for the native engine)
# are copied verbatim up to the next blank line, as are other '%%' lines.
# Files containing a '%%NATIVE_ONLY' line are not checked against jq and are
# skipped entirely.
#
# TZ=UTC is forced: jq 1.6's mktime/fromdate/strptime|mktime are off by the
# DST offset when the local zone has DST in effect at that date, so outputs
# are only meaningful in UTC. LC_ALL=C pins strftime's %A/%B/%p names.
set -u
export TZ=UTC LC_ALL=C
JQ=${JQ:-jq}
TIMEOUT=${TIMEOUT:-10}
wrap=1
if [ "${1:-}" = "-n" ]; then wrap=0; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then set -- "$here"/*.test; fi

tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT
status=0

# run_case PROG INPUT -> sets out, err, rc
run_case() {
  printf '%s\n' "$1" > "$tmpd/prog.jq"
  # -f avoids programs starting with '-' being taken as options
  out=$(timeout "$TIMEOUT" "$JQ" -c -f "$tmpd/prog.jq" <<< "$2" 2>"$tmpd/err")
  rc=$?
  err=$(cat "$tmpd/err")
}

for f in "$@"; do
  if grep -q '^%%NATIVE_ONLY' "$f"; then
    echo "$(basename "$f"): skipped (%%NATIVE_ONLY)" >&2
    continue
  fi
  newf="$tmpd/new.test"
  : > "$newf"
  mapfile -t lines < "$f"
  n=${#lines[@]}
  i=0
  cases=0
  while [ $i -lt $n ]; do
    l=${lines[$i]}
    if [ -z "$l" ] || [ "${l:0:1}" = "#" ]; then
      printf '%s\n' "$l" >> "$newf"; i=$((i+1)); continue
    fi
    if [ "${l:0:6}" = "%%FAIL" ]; then
      # copy the whole block verbatim
      while [ $i -lt $n ] && [ -n "${lines[$i]}" ]; do
        printf '%s\n' "${lines[$i]}" >> "$newf"; i=$((i+1))
      done
      if [ $i -ge $n ]; then printf '\n' >> "$newf"; fi
      continue
    fi
    if [ "${l:0:2}" = "%%" ]; then
      printf '%s\n' "$l" >> "$newf"; i=$((i+1)); continue
    fi
    prog=$l
    lineno=$((i+1))
    if [ $((i+1)) -ge $n ] || [ -z "${lines[$((i+1))]}" ]; then
      echo "FAIL $f:$lineno: case has no input line: $prog" >&2; status=1
      printf '%s\n' "$prog" >> "$newf"; i=$((i+1)); continue
    fi
    input=${lines[$((i+1))]}
    i=$((i+2))
    # skip old outputs
    while [ $i -lt $n ] && [ -n "${lines[$i]}" ]; do i=$((i+1)); done
    nvals=$("$JQ" -c . <<< "$input" 2>/dev/null | wc -l)
    if [ "$nvals" != 1 ]; then
      echo "FAIL $f:$lineno: input is not exactly one JSON value: $input" >&2; status=1
    fi
    run_case "$prog" "$input"
    if [ $rc -eq 5 ] && [ $wrap -eq 1 ]; then
      echo "WRAPPED $f:$lineno: $prog  ($err)" >&2
      prog="try ($prog) catch ."
      run_case "$prog" "$input"
    fi
    if [ $rc -ne 0 ] || [ -n "$err" ]; then
      echo "FAIL $f:$lineno (rc=$rc): $prog :: $err" >&2; status=1
      out=""
    fi
    printf '%s\n%s\n' "$prog" "$input" >> "$newf"
    if [ -n "$out" ]; then printf '%s\n' "$out" >> "$newf"; fi
    cases=$((cases+1))
    # a case always ends with a blank line
    if [ $i -ge $n ]; then printf '\n' >> "$newf"; fi
  done
  cp "$newf" "$f"
  echo "$(basename "$f"): $cases cases" >&2
done
exit $status

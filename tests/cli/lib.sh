# tests/cli/lib.sh: the check every CLI test script uses (sourced, not run).
# Set LABEL before sourcing: failures print as "FAIL LABEL: name"; the counts
# are in $pass and $fail, and `report` prints "LABEL: N passed, N failed" and
# returns non-zero on any failure.
pass=0 fail=0

check() { # name, expected output (stdout and stderr), expected exit code, command...
    local name=$1 want=$2 want_rc=$3; shift 3
    local got rc
    got=$("$@" 2>&1); rc=$?
    if [ "$got" == "$want" ] && [ "$rc" == "$want_rc" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        printf 'FAIL %s: %s\n  want (rc %s): %s\n  got  (rc %s): %s\n' "$LABEL" "$name" "$want_rc" "$want" "$rc" "$got"
    fi
}

report() {
    echo "$LABEL: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}

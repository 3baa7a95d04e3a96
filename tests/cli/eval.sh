#!/usr/bin/env bash
# tests/cli/eval.sh: `kstreamd eval` as a user runs it. Prints one line per
# check and "cli: N passed, N failed".
set -u
K=${KSTREAMD:-./kstreamd}
pass=0 fail=0
check() { # name, expected stdout, expected exit code, command...
    local name=$1 want=$2 want_rc=$3; shift 3
    local got rc
    got=$("$@" 2>&1); rc=$?
    if [ "$got" == "$want" ] && [ "$rc" == "$want_rc" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        printf 'FAIL cli: %s\n  want (rc %s): %s\n  got  (rc %s): %s\n' "$name" "$want_rc" "$want" "$rc" "$got"
    fi
}
check "the README example" $'10\n20' 0 bash -c "echo '{\"a\":[1,2]}' | $K eval '.a[] * 10'"
check "a stream of values" $'1\n2\n3' 0 bash -c "printf '{\"a\":1}\n{\"a\":2} {\"a\":3}' | $K eval .a"
check "--key binds \$key" '"c-1"' 0 bash -c "echo null | $K eval --key c-1 '\$key'"
check "--var binds a JSON value" '{"n":2}' 0 bash -c "echo '{\"n\":1}' | $K eval --var agg='{\"n\":1}' '{n: (\$agg.n + .n)}'"
check "extra variables" '"x"' 0 bash -c "echo 1 | $K eval --var other='\"x\"' '\$other'"
check "-n reads nothing" '3' 0 bash -c "$K eval -n '1 + 2' < /dev/null"
check "a failing input goes on with the next" $'kstreamd eval: error: Cannot index number with string "a"\n2' 1 \
    bash -c "printf '5 {\"a\":2}' | $K eval .a"
check "syntax errors say where, with a caret" $'kstreamd eval: syntax error: unexpected end of input at line 1, column 6\n    .a | \n         ^' 2 \
    bash -c "echo 1 | $K eval '.a | '"
check "bad input JSON is reported" 'kstreamd eval: input: Unfinished string at line 1, column 5' 1 bash -c "printf '\"abc' | $K eval ."
check "--explain tells the native path" 'native' 0 bash -c "$K eval --explain -n 'empty' 2>&1"
check "--explain tells the fallback" 'libjq fallback: $ENV' 0 bash -c "$K eval --explain -n '\$ENV | empty' 2>&1"
check "big ids keep their digits" '{"id":1234567890123456789,"n":2}' 0 \
    bash -c "echo '{\"id\":1234567890123456789,\"items\":[1,2]}' | $K eval '{id, n: (.items|length)}'"
check "usage error exits 2" "" 2 bash -c "$K eval >/dev/null 2>&1"
check "unknown command exits 2" "" 2 bash -c "$K frobnicate >/dev/null 2>&1"
check "--help names every command" "7" 0 bash -c "$K --help | grep -cE '^  kstreamd (eval|test|lint|-c TOPOLOGY.yaml \\[-c|-c TOPOLOGY.yaml --validate|--help-topology)'"
check "kstreamd test rejects a misspelt key in a case" \
    "tests/cli/cases/typo.test.yaml:8:34: unknown key \`vlaue\` in an expected record; allowed here: topic, key, value, timestamp, headers, partition" 0 \
    bash -c "$K test tests/cli/cases/typo.test.yaml | grep -o 'tests/cli/cases/typo.test.yaml:8:34: unknown key.*'"
check "kstreamd test exits 1 on it" "" 1 bash -c "$K test tests/cli/cases/typo.test.yaml >/dev/null"
echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# tests/cli/eval.sh: `kstreamd eval` as a user runs it. Prints one line per
# check and "cli: N passed, N failed".
set -u
K=${KSTREAMD:-./kstreamd}
LABEL=cli
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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

# Arguments: an expression may start with `-`; `--` ends the options.
check "an expression that starts with - is the expression" '-1' 0 bash -c "$K eval -n '-7 % 3'"
check "-.a is an expression too" '-2' 0 bash -c "echo '{\"a\":2}' | $K eval '-.a'"
check "-- ends the options" '-3' 0 bash -c "echo '\"abc\"' | $K eval -- -length"
check "options may come before --" '"k"' 0 bash -c "$K eval -n --key k -- '\$key'"
check "an unknown option says how to pass such an expression" \
    'kstreamd eval: unknown option `-length` (an expression that starts with `-` may follow `--`)' 2 \
    bash -c "out=\$(echo 1 | $K eval -length 2>&1); rc=\$?; echo \"\${out%%\$'\\n'*}\"; exit \$rc"
check "one expression only" 'kstreamd eval: unexpected argument `2` after the expression `1`' 2 \
    bash -c "out=\$($K eval -n -- 1 2 2>&1); rc=\$?; echo \"\${out%%\$'\\n'*}\"; exit \$rc"
check "an option's missing value is named" 'kstreamd eval: --seed needs a value' 2 \
    bash -c "out=\$($K eval -n 1 --seed 2>&1); rc=\$?; echo \"\${out%%\$'\\n'*}\"; exit \$rc"

# The variables of generate sources: $i, $rand, $seed, $now.
check "\$i is the input's index" $'[0,"a"]\n[1,"b"]\n[2,"c"]' 0 bash -c "printf '\"a\" \"b\" \"c\"' | $K eval '[\$i, .]'"
check "\$rand and \$seed are those of a generate source with that seed (tests/topologies/generate.test.yaml)" \
    $'[0,833,7]\n[1,654,7]\n[2,813,7]' 0 bash -c "printf '1 2 3' | $K eval --seed 7 '[\$i, (\$rand * 1000 | floor), \$seed]'"
check "the seed defaults to 0" '0' 0 bash -c "$K eval -n '\$seed'"
check "--seed wants an integer" 'kstreamd eval: --seed wants an integer up to 2^53, got `x`' 2 bash -c "$K eval -n --seed x 1 2>&1"
check "\$now is the wall clock in ms" 'true' 0 \
    bash -c "$K eval -n --var t=\$(date +%s)000 '(\$now - \$t | fabs) < 600000 and (\$now | . == floor)'"
check "--var fixes \$now" '1700000000000' 0 bash -c "$K eval -n --var now=1700000000000 '\$now'"
check "-n runs once with \$i = 0" '0' 0 bash -c "$K eval -n '\$i'"

# Output through a buffer: the same bytes as jq -c for many inputs, in one line or spread over lines.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { for (i = 0; i < 100000; i++)
    printf "{\"orderId\":\"o-%06d\",\"customerId\":\"c-%04d\",\"status\":\"%s\",\"items\":[{\"sku\":\"A-%d\",\"qty\":%d,\"price\":%.2f}],\"n\":%d}\n",
        i, i % 5000, i % 5 == 4 ? "PAID" : "NEW", i % 300, 1 + i % 4, 1 + (i % 9000) / 100.0, i }' >"$tmp/orders"
head -45000 "$tmp/orders" | jq . >"$tmp/pretty" # several MB of values over many lines, across read blocks
for prog in 'select(.status == "NEW")' '.orderId as $o | .items[] | {orderId: $o, sku, t: (.qty * .price)}' '.n'; do
    check "100,000 inputs give jq -c's bytes: $prog" "" 0 bash -c "cmp <($K eval '$prog' <'$tmp/orders') <(jq -c '$prog' <'$tmp/orders')"
    check "pretty-printed inputs give jq -c's bytes: $prog" "" 0 \
        bash -c "cmp <(cat '$tmp/pretty' | $K eval '$prog') <(jq -c '$prog' <'$tmp/pretty')"
done
check "a field's fast path agrees with jq -c (missing, repeated, escaped keys, nested values)" "" 0 bash -c "
    in='{\"a\":1} {\"b\":2} {\"a\":\"x\",\"a\":{\"c\":\"\\u00e9\"}} {\"\\u0061\":[3, 4.50]} { \"a\" : \"\\\"q\" } {}'
    cmp <(printf '%s' \"\$in\" | $K eval .a) <(printf '%s' \"\$in\" | jq -c .a)"
check "a field of a non-object is jq's error" $'1\nkstreamd eval: error: Cannot index array with string "a"\n2' 1 \
    bash -c "printf '{\"a\":1} [1] {\"a\":2}' | $K eval .a 2>&1"
printf '%s\n' '{"a":1} {"a":1.50} [1,2] [1 ,2] {"a":"\u0041"} {"a":"é"} {"a":"\u007f"} {"a":1,"a":2}' \
    '[0.0001,0.00001,123456789.5,1234567890.5,1e3,1E3,-0,-0.0,0.10,100,1.5e-7,0.1,0.30000000000000004,-1.25,99999999.99999999]' \
    '{"":""} {} [] [{}] { } "x" 1.0 [01] [-01.5] [true,false,null] [ 1] [1 ]' >"$tmp/unchanged"
printf '{"\x7f":1} ["\x7f"]\n' >>"$tmp/unchanged" # DEL, which jq escapes
for prog in . 'select(true)'; do
    check "an input passed on unchanged by $prog is printed as jq -c prints it (copied when its text is so already)" "" 0 \
        bash -c "cmp <($K eval '$prog' <'$tmp/unchanged') <(jq -c '$prog' <'$tmp/unchanged')"
done
check "a value cut between two reads is read whole" $'{"a":1}\n2\n123\n450\n[1,2]\n"ab"' 0 \
    bash -c "(printf '{\"a\":'; sleep 0.2; printf '1}\n2 1'; sleep 0.2; printf '23 4'; sleep 0.2; printf '5e'; sleep 0.2; printf '1 [1,'; sleep 0.2; printf '2]\"a'; sleep 0.2; printf 'b\"') | $K eval ."
check "an input error names its line in the whole stream" 'kstreamd eval: input: Invalid literal at line 100001, column 4' 1 \
    bash -c "(cat '$tmp/orders'; echo '{} x') | $K eval .n 2>&1 >/dev/null"
if command -v strace >/dev/null; then
    writes() { # the write calls to standard output of: kstreamd eval ARGS... < orders
        # LeakSanitizer cannot run under ptrace: off for this run of an ASan build (make asan).
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            strace -f -e trace=write -e signal=none -o "$tmp/strace" "$K" eval "$@" <"$tmp/orders" >/dev/null
        grep -c '^[0-9]* *write(1,' "$tmp/strace"
    }
    n=$(writes .n)
    check "100,000 outputs take few writes (got $n)" "yes" 0 bash -c "[ '$n' -ge 1 ] && [ '$n' -le 20 ] && echo yes"
    n=$(writes --unbuffered .n)
    check "--unbuffered writes each output (got $n)" "100000" 0 echo "$n"
else
    check "strace is installed, to count writes" "" 0 false
fi
check "--unbuffered writes an output while the input is still open" '{"a":1}' 0 bash -c "
    coproc P { $K eval --unbuffered .; }
    echo '{\"a\":1}' >&\${P[1]}
    read -t 30 -r line <&\${P[0]}; echo \"\$line\"
    exec {P[1]}>&-; wait"
check "values on one line without end are read as they come" '{"a":1}' 0 bash -c "
    coproc P { $K eval --unbuffered .; }
    printf '{\"a\":1} {\"a\":2}' >&\${P[1]}
    read -t 30 -r line <&\${P[0]}; echo \"\$line\"
    exec {P[1]}>&-; wait"
check "big ids keep their digits" '{"id":1234567890123456789,"n":2}' 0 \
    bash -c "echo '{\"id\":1234567890123456789,\"items\":[1,2]}' | $K eval '{id, n: (.items|length)}'"
check "usage error exits 2" "" 2 bash -c "$K eval >/dev/null 2>&1"
check "unknown command exits 2" "" 2 bash -c "$K frobnicate >/dev/null 2>&1"
check "--help names every command" "7" 0 bash -c "$K --help | grep -cE '^  kstreamd (eval|test|lint|-c TOPOLOGY.yaml \\[-c|-c TOPOLOGY.yaml --validate|--help-topology)'"
check "kstreamd test rejects a misspelt key in a case" \
    "tests/cli/cases/typo.test.yaml:8:34: unknown key \`vlaue\` in an expected record; allowed here: topic, key, value, rawValue, timestamp, headers, partition" 0 \
    bash -c "$K test tests/cli/cases/typo.test.yaml | grep -o 'tests/cli/cases/typo.test.yaml:8:34: unknown key.*'"
check "kstreamd test exits 1 on it" "" 1 bash -c "$K test tests/cli/cases/typo.test.yaml >/dev/null"
report

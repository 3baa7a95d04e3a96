#!/usr/bin/env bash
# tests/format/casts.sh [FILE...]: no `(void)NAME;` statements in src/ (or
# FILEs). The Makefile builds with -Wno-unused-parameter, so an unused
# parameter needs no cast; `(void)` only discards a return value, as in
# `(void)f(x);`. Ends with "casts: N passed, N failed" (one check per file,
# plus one that a cast is found at all).
set -u
cd "$(dirname "$0")/../.."
pat='^[[:space:]]*(UNUSED|\(void\) ?[A-Za-z_][A-Za-z_0-9]*(, *\(void\) ?[A-Za-z_][A-Za-z_0-9]*)*);'
pass=0 fail=0
# The check can fail: a cast of a parameter is found, a discarded return value is not.
if printf 'int f(int x)\n{\n    (void)x;\n    (void)g(x);\n}\n' | grep -cE "$pat" | grep -qx 1; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL casts: the pattern does not tell (void)x; from (void)g(x);"
fi
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find src -name '*.[ch]' | LC_ALL=C sort); fi
for f in "${files[@]}"; do
    if hits=$(grep -nE "$pat" "$f"); then
        fail=$((fail + 1))
        echo "FAIL casts: $f: a (void) cast of a name (unused parameters need none: -Wno-unused-parameter):"
        printf '%s\n' "$hits" | sed "s|^|  $f:|" | head -5
    else
        pass=$((pass + 1))
    fi
done
echo "casts: $pass passed, $fail failed"
[ "$fail" = 0 ]

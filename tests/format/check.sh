#!/usr/bin/env bash
# tests/format/check.sh [--files | FILE...]: every C file is as clang-format
# (.clang-format at the top of the tree) writes it. Without arguments it
# checks all of src/ and tests/unit/; `--files` prints that list (`make
# format` rewrites the same files). Prints the first lines of the change
# clang-format would make to each file that differs, and ends with
# "format: N passed, N failed" (one check per file, plus one that an
# unformatted file is found at all).
set -u
cd "$(dirname "$0")/../.."

default_files() { find src tests/unit -name '*.[ch]' | LC_ALL=C sort; }
if [ "${1:-}" = --files ]; then
    default_files
    exit 0
fi

pass=0 fail=0
if ! command -v clang-format >/dev/null; then
    echo "FAIL format: clang-format is not installed (make deps installs it)"
    echo "format: 0 passed, 1 failed"
    exit 1
fi

# The check can fail: a badly indented function is not what clang-format writes.
bad=$'int f(int x)\n{\n  return x;\n}\n'
if [ "$(printf '%s' "$bad" | clang-format --assume-filename=src/format-probe.c)" != "$(printf '%s' "$bad")" ]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL format: clang-format accepted a two-space indent: is .clang-format read?"
fi

if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(default_files); fi
for f in "${files[@]}"; do
    if [ ! -f "$f" ]; then
        fail=$((fail + 1))
        echo "FAIL format: $f: no such file"
    elif clang-format "$f" | cmp -s - "$f"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL format: $f differs from clang-format's output (make format rewrites it):"
        clang-format "$f" | diff -u "$f" - | sed -n '3,12p'
    fi
done
echo "format: $pass passed, $fail failed"
[ "$fail" = 0 ]

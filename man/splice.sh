#!/usr/bin/env bash
# man/splice.sh [--check] FILE NAME < TEXT: the lines of FILE between the
# marker lines that contain "BEGIN NAME" and "END NAME" are generated (`make
# man` writes them from the code's rows). Without --check, replaces them by
# TEXT in place; with --check, exits 1 (and says which file is stale) when
# they differ from TEXT. Exits 2 when FILE lacks either marker.
set -eu
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
[ $# = 2 ] || { echo "usage: man/splice.sh [--check] FILE NAME < TEXT" >&2; exit 2; }
file=$1 name=$2
new=$(mktemp) out=$(mktemp)
trap 'rm -f "$new" "$out"' EXIT
cat >"$new"
begins=$(grep -c -F "BEGIN $name" "$file" || true)
ends=$(grep -c -F "END $name" "$file" || true)
if [ "$begins" != 1 ] || [ "$ends" != 1 ]; then
    echo "$file: needs one line with \"BEGIN $name\" and one with \"END $name\"" >&2
    exit 2
fi
awk -v b="BEGIN $name" -v e="END $name" -v new="$new" '
    index($0, e) { skip = 0 }
    !skip { print }
    index($0, b) { while ((getline l < new) > 0) print l; skip = 1 }
' "$file" >"$out"
if [ "$check" = 1 ]; then
    cmp -s "$file" "$out" && exit 0
    echo "$file: the part between \"BEGIN $name\" and \"END $name\" is stale: run make man" >&2
    diff "$file" "$out" | head -20 >&2
    exit 1
fi
cmp -s "$file" "$out" || cat "$out" >"$file"

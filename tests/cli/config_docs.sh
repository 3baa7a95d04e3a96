#!/usr/bin/env bash
# tests/cli/config_docs.sh: the runtime keys of README.md and man/kstreamd.1
# are what `kstreamd --help-config` prints from the key rows of
# src/kafka/runtime.c (`make man` writes them); a row changed without
# `make man` fails here. Also pins the three forms of --help-config.
cd "$(dirname "$0")/../.."
K=${KSTREAMD:-./kstreamd}
LABEL=config-docs
. tests/cli/lib.sh

check "README.md's key table is current (run make man)" "" 0 \
    bash -c "'$K' --help-config=markdown | man/splice.sh --check README.md runtime-keys"
check "man/kstreamd.1's key list is current (run make man)" "" 0 \
    bash -c "'$K' --help-config=man | man/splice.sh --check man/kstreamd.1 runtime-keys"

# Every row is in each form: 17 keys today (tests/unit/test_runtime.c counts the rows).
check "markdown: one table row per key" "17" 0 bash -c "'$K' --help-config=markdown | grep -c '^| \`[a-z.]*\` |'"
check "man: one .TP per key" "17" 0 bash -c "'$K' --help-config=man | grep -c '^\.TP'"
check "text: one entry per key" "17" 0 bash -c "'$K' --help-config | grep -c '^  [a-z.]*  ('"
check "text: type, default and scope" "  commit.interval.ms  (int 1..86400000; default 30000; per service)" 0 \
    bash -c "'$K' --help-config | grep '^  commit.interval.ms '"
check "markdown: a | in a type is escaped" "| \`log.level\` | error\\|warn\\|info\\|debug | \`info\` | process | Least severe log message written to stderr. |" 0 \
    bash -c "'$K' --help-config=markdown | grep '^| \`log.level\`'"
check "man: code is bold and minus signs are escaped" \
    '.BR replication.factor " (int \-1 or 1..32767; default \-1; per service)"' 0 \
    bash -c "'$K' --help-config=man | grep '^\.BR replication.factor'"
check "an unknown form is a usage error" "kstreamd: unknown command \`--help-config=html\`" 2 \
    bash -c "'$K' --help-config=html 2>&1 | sed -n 1p; exit \${PIPESTATUS[0]}"

# The check itself fails on a stale copy and on a file without markers.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^| `dlq.topic` | topic |/| `dlq.topic` | text |/' README.md >"$tmp/README.md"
check "a stale table is found" "1" 0 bash -c "'$K' --help-config=markdown | man/splice.sh --check '$tmp/README.md' runtime-keys 2>/dev/null; echo \$?"
printf 'no markers\n' >"$tmp/none.md"
check "a file without the markers is refused" "2" 0 bash -c "'$K' --help-config=markdown | man/splice.sh --check '$tmp/none.md' runtime-keys 2>/dev/null; echo \$?"
# Splicing writes what --check then accepts, and keeps the lines around the markers.
"$K" --help-config=markdown | man/splice.sh "$tmp/README.md" runtime-keys
check "splicing makes a stale copy current" "0" 0 bash -c "'$K' --help-config=markdown | man/splice.sh --check '$tmp/README.md' runtime-keys; echo \$?"
check "splicing changes nothing outside the markers" "" 0 bash -c "diff README.md '$tmp/README.md'"

report

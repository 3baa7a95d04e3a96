#!/usr/bin/env bash
# tests/cli/numbers.sh: kstreamd prints numbers exactly as jq -c does, over
# 6,000 seeded random decimals of every magnitude (the writer's fast path for
# short decimals and its general shortest-digits path both run), alone and
# each in an array (which eval copies when its text is as jq prints it).
set -u
K=${KSTREAMD:-./kstreamd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - >"$tmp/in" <<'PY'
import random
random.seed(20261126)
for i in range(2000):
    k = random.randint(0, 9)
    print(repr(random.randint(-10**12, 10**12) / 10**k))
    print(repr(random.uniform(-1e6, 1e6)))
    print(repr(random.random() * 10 ** random.randint(-8, 20)))
PY
# Each number alone, then in an array: an array whose text is already as jq
# prints it is copied as it stands, and that decision must agree with jq too.
sed 's/.*/[&]/' "$tmp/in" >"$tmp/arrays"
cat "$tmp/in" "$tmp/arrays" | "$K" eval . >"$tmp/ours"
cat "$tmp/in" "$tmp/arrays" | jq -c . >"$tmp/jq"
if cmp -s "$tmp/ours" "$tmp/jq"; then
    echo "numbers: 1 passed, 0 failed"
else
    diff "$tmp/ours" "$tmp/jq" | head -10
    echo "numbers: 0 passed, 1 failed"
    exit 1
fi

#!/usr/bin/env bash
# tests/cli/run_options.sh: `kstreamd -c ...` and `kstreamd test` as a user
# types them: options in any order, missing option values, what --validate
# checks beyond the topology (the runtime configuration from config:, -E and
# --set, one application per process), bounded input, several topologies
# described as one document, and the exit codes of `kstreamd test`. Prints a
# line per failed check and "cli-run: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
K=${KSTREAMD:-./kstreamd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

LABEL=cli-run
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cat >"$tmp/ok.yaml" <<'YAML'
application: cli-ok
pipelines:
  copy:
    from: order-in-v1
    to: order-out-v1
YAML
sed 's/cli-ok/cli-other/' "$tmp/ok.yaml" >"$tmp/other.yaml"
printf 'commit.interval.ms: 500\nprocessing.guarantee: exactly_once_v2\n' >"$tmp/eos.env.yaml"
O=$tmp/ok.yaml

# ---- options in any order ----
check "--validate before -c" "$O: ok (cli-ok)" 0 "$K" --validate -c "$O"
check "-E before -c" "$tmp/missing.yaml: cannot read: No such file or directory
kstreamd: 1 configuration error" 2 "$K" -E "$tmp/missing.yaml" -c "$O" --validate
check "--set before -c" "--set commit.interval.ms: must be an integer from 1 to 86400000, not \`abc\`
kstreamd: 1 configuration error" 2 "$K" --set commit.interval.ms=abc -c "$O" --validate
check "several -c and --set anywhere" "$O: ok (cli-ok)
$tmp/other.yaml: ok (cli-other)" 0 "$K" -c "$O" --set commit.interval.ms=100 --validate -c "$tmp/other.yaml"

# ---- a missing option value says so ----
check "-c without a file" "kstreamd: -c needs a topology file: -c TOPOLOGY.yaml (see kstreamd --help)" 2 "$K" -c
check "-c followed by an option" "kstreamd: -c needs a topology file: -c TOPOLOGY.yaml (see kstreamd --help)" 2 \
    "$K" -c --validate
check "-E without a file" "kstreamd: -E needs an environment file: -E ENV.yaml (see kstreamd --help)" 2 "$K" -c "$O" -E
check "--set without KEY=VALUE" "kstreamd: --set needs KEY=VALUE: --set commit.interval.ms=1000 (see kstreamd --help)" 2 \
    "$K" --validate -c "$O" --set
check "-E twice" "kstreamd: -E given twice (a.yaml and b.yaml); one environment file per process" 2 \
    "$K" -c "$O" -E a.yaml -E b.yaml
check "an unknown argument" "kstreamd: unknown argument \`--frob\` (see kstreamd --help)" 2 "$K" --validate --frob

# ---- --validate checks the runtime configuration, as run does ----
check "--set exactly_once_v2 is refused" "--set processing.guarantee: \`exactly_once_v2\` is refused: exactly-once is not built yet: kstreamd has no transactional producer, and would silently run at-least-once; remove the setting or write at_least_once
kstreamd: 1 configuration error" 2 "$K" -c "$O" --set processing.guarantee=exactly_once_v2 --validate
check "-E exactly_once_v2 is refused with file:line:col" "$tmp/eos.env.yaml:2:23: processing.guarantee: \`exactly_once_v2\` is refused: exactly-once is not built yet: kstreamd has no transactional producer, and would silently run at-least-once; remove the setting or write at_least_once
kstreamd: 1 configuration error" 2 "$K" -c "$O" -E "$tmp/eos.env.yaml" --validate
check "run refuses exactly_once_v2 before connecting" "--set processing.guarantee: \`exactly_once_v2\` is refused: exactly-once is not built yet: kstreamd has no transactional producer, and would silently run at-least-once; remove the setting or write at_least_once
kstreamd: 1 configuration error" 2 "$K" -c "$O" --set processing.guarantee=exactly_once_v2 --set bootstrap.servers=127.0.0.1:1
check "run refuses a bad config: value with its place" "tests/topology_errors/config_bad_value.yaml:4:23: config key commit.interval.ms: must be an integer from 1 to 86400000, not \`abc\`
tests/topology_errors/config_bad_value.yaml:5:22: config key fetch.wait.max.ms: rejected by librdkafka: Invalid value for configuration property \"fetch.wait.max.ms\"
kstreamd: 2 configuration errors" 2 "$K" -c tests/topology_errors/config_bad_value.yaml --set bootstrap.servers=127.0.0.1:1
check "what librdkafka refuses of the clients is found by --validate" "$O: librdkafka refuses the producer configuration: \`max.in.flight\` must be set <= 5 when \`enable.idempotence\` is true
kstreamd: 1 configuration error" 2 "$K" -c "$O" --set max.in.flight.requests.per.connection=10 --validate
check "an empty bootstrap.servers is an error, not the embedded broker" "--set bootstrap.servers: the value is empty (an unset variable?): write host:port,... or \`embedded\` for the in-process broker
kstreamd: 1 configuration error" 2 "$K" -c "$O" --set bootstrap.servers=
check "no bootstrap.servers anywhere is an error, not the embedded broker" "kstreamd: bootstrap.servers is not set: give the cluster in an environment file (-E), the topology's config: or --set bootstrap.servers=HOST:PORT; \`embedded\` runs the in-process broker (as configs/local.yaml does)" 2 "$K" -c "$O"
check "an empty state.dir is an error, not the default" "--set state.dir: the value is empty (an unset variable?): give a value, or leave the key out for the default \`/tmp/kstreamd\`
kstreamd: 1 configuration error" 2 "$K" -c "$O" --set state.dir= --validate
check "-E and --set errors are reported once for several topologies" "--set log.level: must be error, warn, info or debug, not \`loud\`
kstreamd: 1 configuration error" 2 "$K" -c "$O" -c "$tmp/other.yaml" --set log.level=loud --validate

# ---- several topologies in one process ----
check "the same application twice is an error naming both files" "$O: application \`cli-ok\` is also the application of $O: two services in one process would share one consumer group and one state directory; give each its own \`application\`
kstreamd: 1 error" 2 "$K" -c "$O" -c "$O" --validate
sed 's/cli-ok/cli-debug/; s/^pipelines:/config:\n  log.level: debug\npipelines:/' "$O" >"$tmp/debug.yaml"
check "process-wide settings must agree, naming both files" "$tmp/debug.yaml:3:14: config key log.level: \`debug\` here, but \`info\` for $O (cli-ok): it is one setting for the whole process, so the topologies run together must agree; set it the same in both, or run them as separate processes
kstreamd: 1 configuration error" 2 "$K" -c "$O" -c "$tmp/debug.yaml" --validate

# ---- --validate with --dump-topology: both, the document alone on stdout ----
"$K" -c "$O" --validate --dump-topology=json >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" = 0 ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" &&
    [ "$(cat "$tmp/err")" = "$O: ok (cli-ok)" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL cli-run: --validate --dump-topology=json (rc $rc)"; cat "$tmp/out" "$tmp/err"; fi
check "--validate --dump-topology checks first" "--set commit.interval.ms: must be an integer from 1 to 86400000, not \`x\`
kstreamd: 1 configuration error" 2 "$K" -c "$O" --dump-topology --validate --set commit.interval.ms=x
"$K" -c "$O" -c "$tmp/other.yaml" --dump-topology=json >"$tmp/out" 2>&1
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [t["application"] for t in d] == ["cli-ok", "cli-other"]' "$tmp/out"; then
    pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL cli-run: two -c with --dump-topology=json is not one JSON array"; cat "$tmp/out"; fi

# ---- bounded input ----
check "/dev/zero is refused past 64 MB" "/dev/zero: larger than 64 MB, the limit for topology, environment and test files
kstreamd: 1 error" 2 timeout 20 "$K" -c /dev/zero --validate
check "an environment file past 64 MB too" "/dev/zero: larger than 64 MB, the limit for topology, environment and test files
kstreamd: 1 configuration error" 2 timeout 20 "$K" -c "$O" -E /dev/zero --validate
check "a test file past 64 MB too" "/dev/zero: larger than 64 MB, the limit for topology, environment and test files
FAIL /dev/zero: cannot run its cases
0 passed, 1 failed" 2 timeout 20 "$K" test /dev/zero
python3 -c '
print("application: big")
print("x:")
for i in range(1000001): print("  - 1")' >"$tmp/big.yaml"
check "the node limit names no aliases when there are none" "$tmp/big.yaml:999998:5: document has more than 1000000 nodes
kstreamd: 1 error" 2 "$K" -c "$tmp/big.yaml" --validate

# ---- kstreamd test: 2 for a file it cannot read or parse, 1 for failed cases ----
check "test: an unreadable file exits 2" "$tmp/none.test.yaml: cannot read: No such file or directory
FAIL $tmp/none.test.yaml: cannot run its cases
0 passed, 1 failed" 2 "$K" test "$tmp/none.test.yaml"
printf 'topology: x.yaml\ncases: [\n' >"$tmp/broken.test.yaml"
check "test: a file that does not parse exits 2" "" 2 bash -c "$K test $tmp/broken.test.yaml >/dev/null"
check "test: a file whose topology fails to load exits 2" "" 2 bash -c "$K test tests/cli/cases/typo.test.yaml $tmp/broken.test.yaml >/dev/null"
check "test: failed cases still exit 1" "" 1 bash -c "$K test tests/cli/cases/typo.test.yaml >/dev/null"

# ---- --help ----
check "--help lists eval's --explain" "yes" 0 bash -c "$K --help | grep -q -- 'kstreamd eval .*\[--explain\]' && echo yes"

# ---- man/kstreamd.1 lists every option --help lists ----
missing=""
for opt in $("$K" --help | grep -oE '(^|[ [])--?[a-zA-Z][a-z-]*' | tr -d ' [' | sort -u) test lint eval; do
    grep -qF -- "$(printf '%s' "$opt" | sed 's/-/\\-/g')" man/kstreamd.1 || missing="$missing $opt"
done
if [ -z "$missing" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL cli-run: man/kstreamd.1 lacks$missing"; fi

report

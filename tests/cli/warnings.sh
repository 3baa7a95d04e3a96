#!/usr/bin/env bash
# tests/cli/warnings.sh: warnings `--validate` prints for topologies that load
# (exit 0). Prints one line per failed check and "warnings: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
K=${KSTREAMD:-./kstreamd}
LABEL=warnings
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f=tests/cli/topologies/dead_end.yaml
check "a pipeline whose records go nowhere is a warning, not an error" \
"$f:10:9: warning: the records of \`filter\` go nowhere: nothing follows it; add \`to: TOPIC\`, end in a table with \`store:\`, or continue with \`from: {pipeline: ...}\` or \`merge\`
$f:12:11: warning: the records of \`source\` go nowhere: nothing follows it; add \`to: TOPIC\`, end in a table with \`store:\`, or continue with \`from: {pipeline: ...}\` or \`merge\`
$f: ok (dead-end-service)" 0 "$K" -c "$f" --validate
check "the demo topologies have no such warning" "" 0 bash -c "for t in topologies/*.yaml; do \"$K\" -c \"\$t\" --validate 2>&1 >/dev/null; done"
report

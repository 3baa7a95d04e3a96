/*
 * lint_cmd.h: `kstreamd lint`, the checks that need a whole system of
 * services at once rather than one topology file: topic naming, one writer
 * per topic, serde agreement between writer and readers, topics nobody
 * writes, and co-partitioning of stream-table joins.
 */
#ifndef KS_LINT_CMD_H
#define KS_LINT_CMD_H

/*
 * kstreamd lint [--topic-pattern REGEX] TOPOLOGY.yaml...
 * argv[0] is "lint". Prints every diagnostic and a summary line to stdout.
 * Returns 0 when there is no error (warnings allowed), 2 on any error, on a
 * file that does not load, or on a usage error. Runs on the main thread.
 */
int ks_cmd_lint(int argc, char **argv);

#endif

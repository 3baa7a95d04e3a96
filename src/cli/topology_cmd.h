/*
 * topology_cmd.h: the commands that take topology files: `-c` (with
 * --dump-topology or --validate) and `test`.
 */
#ifndef KS_TOPOLOGY_CMD_H
#define KS_TOPOLOGY_CMD_H

/* kstreamd -c T.yaml [-c MORE.yaml] [--dump-topology[=text|json|dot]] [--validate] */
int ks_cmd_run(int argc, char **argv);
/* kstreamd test CASES.yaml... */
int ks_cmd_test(int argc, char **argv);

#endif

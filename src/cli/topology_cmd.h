/*
 * topology_cmd.h: the commands that take topology files: `-c` (with
 * --dump-topology or --validate) and `test`.
 */
#ifndef KS_TOPOLOGY_CMD_H
#define KS_TOPOLOGY_CMD_H

/*
 * kstreamd -c T.yaml [-c MORE.yaml] [-E ENV.yaml] [--set K=V]... [--validate]
 * [--dump-topology[=text|json|dot]], options in any order (argv[0] is the
 * program). Returns the exit code.
 */
int ks_cmd_run(int argc, char **argv);
/* Whether `arg` is an option of ks_cmd_run (main dispatches on it). */
int ks_cmd_is_run_option(const char *arg);
/* kstreamd test CASES.yaml... */
int ks_cmd_test(int argc, char **argv);

#endif

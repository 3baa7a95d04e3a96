/*
 * eval_cmd.h: `kstreamd eval EXPR`: runs an expression over JSON values read
 * from standard input and prints each output on its own line, like `jq -c`.
 */
#ifndef KS_EVAL_CMD_H
#define KS_EVAL_CMD_H

/* Returns the process exit code: 0, 1 when an input failed, 2 on usage errors. */
int ks_cmd_eval(int argc, char **argv);

#endif

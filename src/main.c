/*
 * main.c: kstreamd's command line. It only dispatches: each command lives in
 * its own module under src/cli/.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#include <stdio.h>
#include <string.h>

#include "cli/eval_cmd.h"
#include "cli/lint_cmd.h"
#include "cli/topology_cmd.h"
#include "kafka/runtime.h"
#include "topology/schema.h"

#define KS_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("kstreamd " KS_VERSION ": Kafka Streams topologies declared in YAML, run by one small C binary.\n"
          "\n"
          "usage:\n"
          "  kstreamd -c TOPOLOGY.yaml [-c MORE.yaml] [-E ENV.yaml] [--set KEY=VALUE]...\n"
          "      run the services on Kafka (bootstrap.servers: embedded runs an in-process\n"
          "      broker), each with its own config:; state stores live in\n"
          "      state.dir/<application>/ (LMDB); one HTTP server per process on\n"
          "      query.listen (default 127.0.0.1:7070): /health, /ready, /v1/topology and\n"
          "      the queryable stores under /v1/stores; options may come in any order\n"
          "  kstreamd -c TOPOLOGY.yaml [-c MORE.yaml] --dump-topology[=text|json|dot]\n"
          "      describe the processor graph, like Kafka Streams' Topology#describe()\n"
          "  kstreamd -c TOPOLOGY.yaml --validate [-E ENV.yaml] [--set KEY=VALUE]...\n"
          "      check everything run checks (topologies, runtime configuration, topic\n"
          "      names) and connect to nothing; with --dump-topology, check, then describe\n"
          "  kstreamd test CASES.yaml...\n"
          "      run test cases against a topology, broker-free\n"
          "  kstreamd lint [--topic-pattern REGEX] TOPOLOGY.yaml...\n"
          "      cross-service checks: topic naming, single writer, serde agreement,\n"
          "      co-partitioning of joined topics\n"
          "  kstreamd eval [--key K] [--var NAME=JSON]... [-n] [--seed N] [--unbuffered] [--explain] [--] EXPR\n"
          "      < values.jsonl\n"
          "      try a jq expression the way a topology step runs it (like jq -c);\n"
          "      --explain tells whether it runs natively or on the libjq fallback\n"
          "  kstreamd --help-topology\n"
          "      the topology language reference\n"
          "  kstreamd --help-config\n"
          "      the runtime configuration keys (-E, config:, --set)\n"
          "  kstreamd --help | --version\n"
          "\n"
          "exit codes: 0 success, 1 runtime failure, 2 usage or configuration error\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "eval") == 0)
        return ks_cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "test") == 0)
        return ks_cmd_test(argc - 1, argv + 1);
    if (strcmp(cmd, "lint") == 0)
        return ks_cmd_lint(argc - 1, argv + 1);
    if (ks_cmd_is_run_option(cmd))
        return ks_cmd_run(argc, argv);
    if (strcmp(cmd, "--help-topology") == 0 || strcmp(cmd, "--help-topology=man") == 0) {
        ks_schema_print_reference(stdout, cmd[15] == '=');
        return 0;
    }
    if (strncmp(cmd, "--help-config", 13) == 0) {
        const char *form = cmd + 13;
        if (strcmp(form, "") == 0 || strcmp(form, "=markdown") == 0 || strcmp(form, "=man") == 0) {
            ks_runtime_print_reference(stdout, !*form                      ? KS_RUNTIME_DOC_TEXT
                                               : strcmp(form, "=man") == 0 ? KS_RUNTIME_DOC_MAN
                                                                           : KS_RUNTIME_DOC_MARKDOWN);
            return 0;
        }
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("kstreamd " KS_VERSION);
        return 0;
    }
    fprintf(stderr, "kstreamd: unknown command `%s`\n", cmd);
    usage(stderr);
    return 2;
}

/*
 * topology_cmd.c: `kstreamd -c ...` and `kstreamd test ...`.
 */
#include "topology_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/runtime.h"
#include "../kafka/kafka.h"
#include "../testdriver/testdriver.h"
#include "../topology/topology.h"

int ks_cmd_run(int argc, char **argv)
{
    const char *files[64], *env_file = NULL;
    char *sets[128];
    int nfiles = 0, validate = 0, dump = 0, nsets = 0;
    ks_describe_fmt_t fmt = KS_DESCRIBE_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 && i + 1 < argc && nfiles < 64) {
            files[nfiles++] = argv[++i];
        } else if (strcmp(a, "-E") == 0 && i + 1 < argc) {
            env_file = argv[++i];
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc && nsets < 128) {
            sets[nsets++] = argv[++i];
        } else if (strcmp(a, "--validate") == 0) {
            validate = 1;
        } else if (strncmp(a, "--dump-topology", 15) == 0) {
            dump = 1;
            const char *f = a[15] == '=' ? a + 16 : a[15] == 0 ? "text" : NULL;
            if (f && strcmp(f, "text") == 0)
                fmt = KS_DESCRIBE_TEXT;
            else if (f && strcmp(f, "json") == 0)
                fmt = KS_DESCRIBE_JSON;
            else if (f && strcmp(f, "dot") == 0)
                fmt = KS_DESCRIBE_DOT;
            else {
                fprintf(stderr, "kstreamd: --dump-topology takes text, json or dot, not `%s`\n", a + 15);
                return 2;
            }
        } else {
            fprintf(stderr, "kstreamd: unknown argument `%s` (see kstreamd --help)\n", a);
            return 2;
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "kstreamd: no topology file: use -c FILE\n");
        return 2;
    }
    ks_diags_t diags = {0};
    ks_topology_t *ts[64];
    int ok = 1;
    for (int i = 0; i < nfiles; i++) {
        ts[i] = ks_topology_load(files[i], &diags);
        ok &= ts[i] != NULL;
    }
    ks_diags_print(&diags, stderr);
    int status = 0;
    if (!ok) {
        fprintf(stderr, "kstreamd: %d error%s\n", diags.nerr, diags.nerr == 1 ? "" : "s");
        status = 2;
    } else if (dump) {
        if (fmt == KS_DESCRIBE_DOT && nfiles > 1)
            ks_topology_describe_system(ts, nfiles, stdout);
        else
            for (int i = 0; i < nfiles; i++)
                ks_topology_describe(ts[i], fmt, stdout);
    } else if (validate) {
        for (int i = 0; i < nfiles; i++)
            printf("%s: ok (%s)\n", files[i], ts[i]->application);
    } else {
        /* Run: the runtime configuration comes from -E, then each topology's config:, then --set. */
        ks_runtime_conf_t conf;
        ks_diags_t cd = {0};
        int ok_conf = 1;
        for (int i = 0; i < nfiles && ok_conf; i++) {
            if (i)
                ks_runtime_conf_free(&conf);
            ok_conf = ks_runtime_conf_build(&conf, env_file, ts[i], sets, nsets, &cd) == 0;
        }
        ks_diags_print(&cd, stderr);
        if (!ok_conf) {
            fprintf(stderr, "kstreamd: %d configuration error%s\n", cd.nerr, cd.nerr == 1 ? "" : "s");
            status = 2;
        } else {
            status = ks_kafka_run(ts, nfiles, &conf);
            ks_runtime_conf_free(&conf);
        }
        ks_diags_free(&cd);
    }
    for (int i = 0; i < nfiles; i++)
        ks_topology_free(ts[i]);
    ks_diags_free(&diags);
    return status;
}

int ks_cmd_test(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kstreamd test CASES.yaml...\n");
        return 2;
    }
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++)
        ks_testdriver_run_file(argv[i], stdout, &passed, &failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

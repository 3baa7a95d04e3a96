/*
 * load_topology.h: for unit tests (include after cmocka.h): loads a
 * topology from YAML text through a temporary file, failing the test, with
 * the diagnostics printed, when it does not load.
 */
#ifndef KS_TEST_LOAD_TOPOLOGY_H
#define KS_TEST_LOAD_TOPOLOGY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/topology/topology.h"

static ks_topology_t *load_topology(const char *yaml)
{
    char path[] = "/tmp/ks_test_topology_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    ks_diags_t diags = {0};
    ks_topology_t *t = ks_topology_load(path, &diags);
    if (!t)
        ks_diags_print(&diags, stderr);
    ks_diags_free(&diags);
    unlink(path);
    assert_non_null(t);
    return t;
}

#endif

/*
 * fuzz_yaml.c: libFuzzer target for the YAML loader (positions, anchors,
 * merge keys, ${ENV} substitution) and YAML-to-JSON typing, then the whole
 * topology loader on the same text. Seeds: tests/fuzz/yaml-corpus/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/config/yaml.h"
#include "../../src/json/json.h"
#include "../../src/topology/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ks_diags_t d = {0};
    ks_ydoc_t *doc = ks_yaml_load_string("f.yaml", (const char *)data, size, &d);
    if (doc) {
        ks_val v = ks_ynode_to_json(ks_ydoc_root(doc));
        ks_val_release(v);
    }
    ks_ydoc_free(doc);
    ks_diags_free(&d);
    /* The topology loader reads files: give it the same bytes. */
    char path[] = "/tmp/ks-fuzz-topology-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        if (write(fd, data, size) == (ssize_t)size) {
            ks_topology_t *t = ks_topology_load(path, &d);
            ks_topology_free(t);
            ks_diags_free(&d);
        }
        close(fd);
        unlink(path);
    }
    return 0;
}

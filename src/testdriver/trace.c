/*
 * trace.c: `kstreamd test --trace FILE`: one JSON line per case, for
 * tests/conformance/run.sh, which feeds the same input bytes to Kafka
 * Streams' TopologyTestDriver and compares. A line holds the case's file,
 * topology file, name and line, its cache size and commit interval, its
 * inputs in order (records as bytes, wall-clock advances, generated
 * records on their pseudo-topic), every record written (internal topics
 * included) and every store's contents, decoded as `stores:` shows them.
 */
#include <stdlib.h>
#include <string.h>

#include "../config/yaml.h"
#include "../json/json.h"
#include "testdriver.h"
#include "testdriver_int.h"

static FILE *trace_out;
static char *trace_topology;

void ks_testdriver_trace(FILE *f)
{
    trace_out = f;
    if (!f) {
        free(trace_topology);
        trace_topology = NULL;
    }
}

int ks__td_tracing(void)
{
    return trace_out != NULL;
}

void ks__td_trace_topology(const char *path)
{
    free(trace_topology);
    trace_topology = realpath(path, NULL);
    if (!trace_topology)
        trace_topology = ks_xstrdup(path);
}

static ks_val hex_of(const char *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    if (!p)
        return ks_null();
    char *h = ks_xmalloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        h[2 * i] = digits[(unsigned char)p[i] >> 4];
        h[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    ks_val v = ks_str_new(h, len * 2);
    free(h);
    return v;
}

ks_val ks__td_trace_record(const char *topic, int32_t partition, int64_t ts, const char *k, size_t kl, const char *v,
                           size_t vl, const ks_header_t *hs, int nh)
{
    ks_val o = ks_obj_new(6), h = ks_arr_new((size_t)(nh ? nh : 1));
    ks_obj_setc(&o, "topic", ks_str_cstr(topic));
    ks_obj_setc(&o, "partition", ks_num(partition));
    ks_obj_setc(&o, "timestamp", ts == KS_NO_TIMESTAMP ? ks_null() : ks_num_i64(ts));
    ks_obj_setc(&o, "key", hex_of(k, kl));
    ks_obj_setc(&o, "value", hex_of(v, vl));
    for (int i = 0; i < nh; i++) {
        ks_val pair = ks_arr_new(2);
        ks_arr_push(&pair, ks_str_cstr(hs[i].key));
        ks_arr_push(&pair, hex_of(hs[i].value, hs[i].len));
        ks_arr_push(&h, pair);
    }
    ks_obj_setc(&o, "headers", h);
    return o;
}

void ks__td_trace_push(run_t *run, ks_val v)
{
    if (trace_out)
        ks_arr_push(&run->trace_in, v);
    else
        ks_val_release(v);
}

/* Every store's entries, decoded as for `stores:`: {name: [{key, window?, value}]}. */
static ks_val trace_stores(const ks_topology_t *t, ks_stores_t *stores)
{
    ks_val all = ks_obj_new(4);
    for (int j = 0; stores && j < t->nprocs; j++)
        for (int k = 0; k < t->procs[j]->nstores; k++) {
            const char *name = t->procs[j]->stores[k];
            /* A suppression buffer's entries are not a table's: its changelog is compared instead. */
            if (t->procs[j]->op == KS_OP_SUPPRESS || ks_obj_get(all, name, strlen(name)))
                continue;
            store_dump_t d = {ks_arr_new(8), ks_store_layout_of(t->procs[j])};
            for (int part = 0; part < 32; part++)
                ks_store_range(stores, name, part, NULL, 0, NULL, 0, ks__td_store_entry, &d);
            ks_obj_setc(&all, name, d.entries);
        }
    return all;
}

void ks__td_trace_case(const ks_topology_t *t, const char *file, const ks_ynode_t *c, const char *cname, run_t *run,
                       ks_stores_t *stores)
{
    ks_val o = ks_obj_new(10), outs = ks_arr_new((size_t)(run->nouts + 1));
    ks_obj_setc(&o, "file", ks_str_cstr(file));
    ks_obj_setc(&o, "topology", ks_str_cstr(trace_topology));
    ks_obj_setc(&o, "case", ks_str_cstr(cname));
    ks_obj_setc(&o, "dlqTopic", ks_str_cstr(t->dlq_topic));
    ks_obj_setc(&o, "line", ks_num(c->line));
    const ks_ynode_t *cm = ks_ynode_get(c, "cacheMaxBytes");
    ks_obj_setc(&o, "cacheMaxBytes", cm && cm->value ? ks_num_i64(strtoll(cm->value, NULL, 10)) : ks_null());
    ks_obj_setc(&o, "commitInterval", ks_num_i64(run->commit_every));
    ks_obj_setc(&o, "stopped", run->stopped ? ks_str_cstr(run->stopped) : ks_null());
    ks_obj_setc(&o, "inputs", ks_val_retain(run->trace_in));
    for (int i = 0; i < run->nouts; i++) {
        const outrec_t *r = &run->outs[i];
        ks_header_t hs[KS__TD_MAX_HEADERS];
        int nh = ks__td_headers(r, hs);
        ks_arr_push(&outs, ks__td_trace_record(r->topic, r->partition, r->timestamp, r->key, r->klen, r->value, r->vlen,
                                               hs, nh));
    }
    ks_obj_setc(&o, "outputs", outs);
    ks_obj_setc(&o, "stores", trace_stores(t, stores));
    char *line = ks_json_dump(o);
    fprintf(trace_out, "%s\n", line);
    free(line);
    ks_val_release(o);
}

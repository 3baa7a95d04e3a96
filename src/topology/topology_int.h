/*
 * topology_int.h: shared between the topology loader's files.
 */
#ifndef KS_TOPOLOGY_INT_H
#define KS_TOPOLOGY_INT_H

#include "../config/yaml.h"
#include "topology.h"

typedef struct pipe_state {
    const char *name;
    const ks_ynode_t *node;
    const ks_ynode_t *key;
    ks_proc_t *end; /* the last node of its stream (for merge), NULL after split */
    int kind;
    int key_changed;
    int state; /* 0 not loaded, 1 loading, 2 loaded */
    int key_window; /* ks_win_kind_t: the stream's keys are windowed */
} pipe_state_t;

typedef struct load {
    ks_topology_t *t;
    ks_diags_t *diags;
    struct {
        const char *name;
        const char *what;
        int line;
    } *names;
    int nnames;
    struct {
        char *topic;
        ks_proc_t *src;
    } *sources;
    int nsources;
    pipe_state_t *pipes;
    int npipes;
} load_t;

/* The stream flowing through a pipeline while its steps are loaded. */
typedef struct stream {
    ks_proc_t *cur;
    int kind;        /* ks_stream_kind_t */
    int key_changed; /* a key-changing step ran since the last repartition */
    const char *changer; /* name of the node that changed the key */
    int ended;       /* after split: nothing may follow */
    int value_kind;  /* the JSON kind every value is known to have (count: numbers), 0 when unknown */
    const char *value_from; /* the step that fixed value_kind, for messages */
    ks_window_spec_t window; /* set by windowedBy for the aggregation that follows */
    const char *group_name;  /* `name:` of groupBy/groupByKey (Kafka Streams' Grouped.as): names the repartition topic */
    ks_win_kind_t key_window; /* the keys are windowed ({key, window}) by windows of this kind; KS_WIN_NONE when not */
} stream_t;

void ks__err_at(load_t *L, const ks_ynode_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ks__load_config(load_t *L, const ks_ynode_t *n);
void ks__load_pipelines(load_t *L, const ks_ynode_t *n);
void ks__load_cleanup(load_t *L);
void ks__note_name(load_t *L, const char *name, const ks_ynode_t *at, const char *what);
int ks__compile_expr(load_t *L, const ks_ynode_t *n, const char *what, ks_step_expr_t *out);
ks_pos_t ks__pos_of(load_t *L, const ks_ynode_t *n);
int ks__get_duration(load_t *L, const ks_ynode_t *n, const char *what, int64_t *ms);
const ks_table_conf_t *ks__find_table(const ks_topology_t *t, const char *name);
void ks__build(load_t *L);
/* topic_names.c: reports every topic the built topology names or makes that Kafka would refuse. */
void ks__check_topic_names(load_t *L);
ks_proc_t *ks__new_proc(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at);
void ks__add_extra(ks_proc_t *p, ks_step_expr_t e);
/* generate_load.c: a `from: {generate: ...}` source node, or NULL after reporting errors. */
ks_proc_t *ks__load_generate(load_t *L, const char *pipe, const ks_ynode_t *from);

#endif

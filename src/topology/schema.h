/*
 * schema.h: the topology language as tables. Every top-level key, table
 * key, topic key, pipeline key and step, and every step argument, is a row:
 * name, type, required, default, one-line description. Validation, the
 * "allowed here" hints and the reference section of man/kstreamd.yaml.5
 * (`kstreamd --help-topology`) all come from these rows.
 */
#ifndef KS_SCHEMA_H
#define KS_SCHEMA_H

#include <stdio.h>

#include "topology.h"

typedef enum ks_ktype {
    KT_STRING,
    KT_BOOL,
    KT_INT,
    KT_DURATION,
    KT_EXPR,
    KT_SERDE,
    KT_MAP,    /* a mapping checked by its own rows */
    KT_ANYMAP, /* a mapping of free-form keys */
    KT_STEPS,  /* a sequence of steps */
    KT_SOURCE, /* a topic, a list of topics, or a table */
    KT_SINK,   /* a topic, or a mapping with topic/dynamic */
    KT_BRANCHES,
    KT_NAME, /* a reference to a table, pipeline or stream */
    KT_WINDOW,
    KT_SUPPRESS,
} ks_ktype_t;

typedef struct ks_key_row {
    const char *name;
    ks_ktype_t type;
    int required;
    const char *def; /* default, as written in the docs; NULL when none */
    const char *doc;
} ks_key_row_t;

/* What a step may follow: the kind of stream flowing into it. */
typedef enum ks_stream_kind {
    KS_KSTREAM = 1,
    KS_KTABLE = 2,
    KS_KGROUPED_STREAM = 4,
    KS_KGROUPED_TABLE = 8,
    KS_KWINDOWED = 16, /* a windowed grouped stream */
    KS_KWTABLE = 32,   /* a windowed table (aggregation result) */
} ks_stream_kind_t;

struct load;
struct stream;
struct ks_step;
/* A step's loader (topology/load_*.c): adds its nodes to the stream flowing through the pipeline. */
typedef void ks_step_load_fn(struct load *L, struct stream *s, const struct ks_step *step);

typedef struct ks_step_row {
    const char *name; /* the DSL name users write */
    ks_op_t op;
    const char *main;          /* the part `step: EXPR` stands for; NULL for steps without an expression */
    int bare_ok;               /* may be written without an argument (`- count`) */
    int accepts;               /* ks_stream_kind_t bits the step may follow */
    int produces;              /* the kind after it; 0: same as before */
    const ks_key_row_t *parts; /* named arguments (NULL-terminated); `name` is always allowed */
    const char *doc;
    ks_step_load_fn *load; /* its loader, in the file of its family (topology_int.h) */
} ks_step_row_t;

extern const ks_key_row_t ks_schema_top[];
extern const ks_key_row_t ks_schema_topic[];
extern const ks_key_row_t ks_schema_table[];
extern const ks_key_row_t ks_schema_pipeline[];
extern const ks_key_row_t ks_schema_branch[];
extern const ks_key_row_t ks_schema_generate[];
extern const ks_step_row_t ks_schema_steps[];

const ks_step_row_t *ks_schema_step(const char *name);
const ks_key_row_t *ks_schema_key(const ks_key_row_t *rows, const char *name);
/* "a, b, c": the names of rows, for "allowed here" messages (malloc'd). */
char *ks_schema_names(const ks_key_row_t *rows, const char *extra);
char *ks_schema_step_names(void);
const char *ks_stream_kind_name(int kind);
/* Prints the language reference (for the man page and --help-topology). */
void ks_schema_print_reference(FILE *f, int roff);

#endif

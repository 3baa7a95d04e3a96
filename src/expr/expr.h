/*
 * expr.h: kstreamd's jq-syntax expression engine.
 *
 * A topology's predicates, mappers, key selectors, aggregators and joiners
 * are jq programs. ks_expr_compile() turns one into a native evaluator over
 * ks_val values, once, at load; ks_expr_eval() runs it on a record as often
 * as needed. Programs the native compiler does not cover are compiled by
 * libjq 1.6 instead (the "fallback" path, slower, values converted at the
 * boundary); ks_expr_is_native() tells which path a program took.
 *
 * Variables ($key, $value, $agg, ... or any --var) are declared by name at
 * compile time and bound per evaluation, positionally, without recompiling.
 *
 * A compiled program is immutable and may be evaluated by several threads at
 * once when native. A fallback program holds a libjq state and must be used
 * by one thread at a time.
 */
#ifndef KS_EXPR_H
#define KS_EXPR_H

#include <stddef.h>

#include "../json/value.h"
#include "../util/util.h"

typedef struct ks_expr ks_expr_t;

/*
 * The variables every stream expression may use, one row each in slot
 * order: XX(slot, name without `$`). The slots (KS_EXPR_VAR_KEY, ...), their
 * count and the names (KS_EXPR_STREAM_VARS) all come from these rows, so
 * they cannot drift apart.
 */
/* clang-format off: one row per variable (clang-format 14 does not settle on one layout for this macro) */
#define KS_EXPR_STREAM_VAR_LIST(XX)                                                                                    \
    XX(KEY, "key")                                                                                                     \
    XX(VALUE, "value")                                                                                                 \
    XX(TIMESTAMP, "timestamp")                                                                                         \
    XX(TOPIC, "topic")                                                                                                 \
    XX(PARTITION, "partition")                                                                                         \
    XX(OFFSET, "offset")                                                                                               \
    XX(HEADERS, "headers")                                                                                             \
    XX(AGG, "agg")                                                                                                     \
    XX(LEFT, "left")                                                                                                   \
    XX(RIGHT, "right")                                                                                                 \
    XX(WINDOW, "window")
/* clang-format on */

/* The slot of each stream variable in the values an expression is evaluated with. */
typedef enum ks_expr_var {
#define XX(slot, name) KS_EXPR_VAR_##slot,
    KS_EXPR_STREAM_VAR_LIST(XX)
#undef XX
        KS_EXPR_NSTREAM_VARS
} ks_expr_var_t;

/* A row's name, for the initializers of name lists. */
#define KS_EXPR_VAR_NAME(slot, name) name,
/* The names of the stream variables in slot order, as an initializer: `{"key", "value", ...}`. */
#define KS_EXPR_STREAM_VARS                                                                                            \
    {                                                                                                                  \
        KS_EXPR_STREAM_VAR_LIST(KS_EXPR_VAR_NAME)                                                                      \
    }

/*
 * Compiles `src` with the variables `vars[0..nvars)` (names without `$`)
 * in scope. Returns the program, or NULL with a message in *err (malloc'd,
 * caller frees): the message names the line and column inside the
 * expression, then shows the expression line with a caret under the fault.
 */
ks_expr_t *ks_expr_compile(const char *src, const char *const *vars, int nvars, char **err);

void ks_expr_free(ks_expr_t *e);

/*
 * `lookup(table; key)`, kstreamd's own builtin (Kafka Streams' DSL has no
 * counterpart): the row the global table `table` holds for key, or null.
 * Whoever evaluates expressions on a thread answers it through the hook it
 * sets there (the engine, with its global tables); without a hook, lookup
 * raises an error. The hook returns 1 with *row set (a new reference), 0
 * when the table has no row, -1 with a message in err.
 */
typedef int (*ks_expr_lookup_fn)(void *ud, const char *table, ks_val key, ks_val *row, char *err, size_t errlen);
void ks_expr_set_lookup(ks_expr_lookup_fn fn, void *ud);
/*
 * Calls cb for each call of lookup/2 in a compiled expression: the table
 * name when the first argument is a string literal (NULL when it is not)
 * and the call's byte offset in the source.
 */
void ks_expr_lookups(const ks_expr_t *e, void (*cb)(void *ud, const char *table, int pos), void *ud);

/* 1 when the program runs natively, 0 when it runs through libjq. */
int ks_expr_is_native(const ks_expr_t *e);

/*
 * When the expression is exactly `.name` (a field of the input), the name;
 * else NULL. Lets callers read one field of a JSON text without parsing
 * all of it (ks_json_field).
 */
const char *ks_expr_field(const ks_expr_t *e);

/* Why the program fell back to libjq (NULL when native). */
const char *ks_expr_fallback_reason(const ks_expr_t *e);

/*
 * Called once per output. `v` is borrowed: retain it to keep it. Return 0 to
 * continue, non-zero to stop the evaluation (ks_expr_eval then returns 0).
 */
typedef int (*ks_expr_emit_fn)(void *ud, ks_val v);

/*
 * Runs the program on `input` (borrowed) with `vals[i]` bound to the i-th
 * declared variable (borrowed; missing or invalid ones are null). Returns 0,
 * or -1 when the program raised an error: *err then holds the error
 * value (owned by the caller), as `try ... catch .` would see it. Outputs
 * emitted before the error have been delivered.
 */
int ks_expr_eval(const ks_expr_t *e, ks_val input, const ks_val *vals, int nvals, ks_expr_emit_fn emit, void *ud,
                 ks_val *err);

/*
 * Convenience for single-output expressions: the first output (new
 * reference) in *out, or ks_invalid() when there was none.
 */
int ks_expr_eval1(const ks_expr_t *e, ks_val input, const ks_val *vals, int nvals, ks_val *out, ks_val *err);

/* Formats an error value as jq prints an uncaught error's message (malloc'd). */
char *ks_expr_error_message(ks_val err);

#endif

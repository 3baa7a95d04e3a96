/*
 * ops_join.c: joins at run time. A stream-table `join` or `leftJoin` is
 * Kafka Streams' KStreamKTableJoinProcessor: each stream record looks its
 * key up in the table's store, as the table has it in this task when the
 * record arrives (through the record cache, as the table writes it); only
 * the stream side triggers, so a table update emits nothing.
 *
 *   stream record             join               leftJoin
 *   null value                dropped            dropped
 *   null key                  dropped            $right null (KIP-962)
 *   no row for the key        nothing            $right null
 *   a row                     joiner             joiner
 *
 * The joiner is the step's `value:` (`$left + $right` by default) with `.`
 * and $left the stream's value and $right the table's; whatever it yields
 * is forwarded, null included, with the stream record's key and timestamp.
 * A stream-global-table join is the same processor with a `key:` mapper
 * (stream_global_join). Foreign-key table-table joins run in
 * ops_join_fk.c. The other join kinds are refused before an engine runs
 * (state.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "state_int.h"

/*
 * Looks key up in the table's store. Returns 1 with *row set (owned), 0
 * when the table holds no row for it, -1 when the record failed (it went
 * to the dead-letter path) or the store did.
 */
static int table_row(ks_engine_t *e, flight_t *f, const ks_proc_t *table, ks_val key, ks_val *row)
{
    ks_buf_t kb = {0};
    char err[KS_ERRMSG_SIZE];
    int rc;
    if (ks__st_key_bytes(table, &kb, key, err, sizeof err)) {
        char what[KS_ERRMSG_SIZE];
        snprintf(what, sizeof what, "looking the key up in table `%s`", table->table_source.table);
        rc = ks__fail(e, f, what, err);
    } else if (kb.len > 480) {
        rc = 0; /* longer than any key a store holds (ks__st_store_key): the table cannot have it */
    } else {
        int64_t ts;
        rc = table->table_source.global ? ks__st_global_get(e, table, kb.data, kb.len, row, &ts)
                                        : ks__st_kv_get(e, table, e->cur->partition, kb.data, kb.len, row, &ts);
    }
    ks_buf_free(&kb);
    return rc;
}

/* The joiner on the stream's value (left) and the table's (right, null when none); one output required. */
static int join_values(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val left, ks_val right, ks_val *out)
{
    ks_val vars[KS_EXPR_NSTREAM_VARS], err;
    if (ks__bind_vars(e, f, vars))
        return -1;
    vars[KS_EXPR_VAR_LEFT] = left;
    vars[KS_EXPR_VAR_RIGHT] = right;
    const char *why = NULL;
    char *m = NULL;
    if (ks_expr_eval1(p->e.expr, left, vars, KS_EXPR_NSTREAM_VARS, out, &err)) {
        m = ks_expr_error_message(err);
        ks_val_release(err);
        why = m;
    } else if (out->kind == KS_INVALID) {
        why = "the expression produced no output";
    }
    if (why) {
        char what[KS_ERRMSG_SIZE];
        ks__eval_context(what, sizeof what, p, p->e.part ? p->e.part : "value", p->e.pos);
        ks__fail(e, f, what, why);
    }
    free(m);
    return why ? -1 : 0;
}

static void emit_joined(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val value, ks_val row);

/* A stream record joined with a table (KStreamKTableJoinProcessor). */
static void stream_table_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int left_join = p->op == KS_OP_LEFT_JOIN;
    ks_val key, value, row = ks_invalid();
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    if (value.kind == KS_NULL || (key.kind == KS_NULL && !left_join)) {
        e->stats.dropped++; /* Kafka Streams: "Skipping record due to null join key or value" */
        return;
    }
    int found = 0;
    if (key.kind != KS_NULL && (found = table_row(e, f, p->join.table_node, key, &row)) < 0)
        return;
    if (!found && !left_join)
        return;
    emit_joined(e, f, p, value, found ? row : ks_null());
    ks_val_release(row);
}

/* Forwards the joiner's result for the stream record and the row (null: none). */
static void emit_joined(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val value, ks_val row)
{
    ks_val out;
    if (join_values(e, f, p, value, row, &out))
        return;
    flight_t c = *f;
    c.value = out;
    c.value_changed = 1;
    c.old = ks_invalid();
    c.node = p->name;
    ks__forward(e, &c, p);
    ks_val_release(out);
}

/*
 * A stream record joined with a global table (KStreamGlobalKTableJoin, the
 * same processor with the `key:` mapper): the lookup key is computed from
 * the record, and the table is read as the global thread has it now.
 *
 *   stream record             join               leftJoin
 *   null value                dropped            dropped
 *   `key:` gives null         dropped            $right null
 *   no row for the key        nothing            $right null
 *   a row                     joiner             joiner
 */
static void stream_global_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int left_join = p->op == KS_OP_LEFT_JOIN;
    const ks_step_expr_t *km = ks__st_part_of(p, "key");
    ks_val value, mk, row = ks_invalid();
    if (ks__flight_value(e, f, &value))
        return;
    if (value.kind == KS_NULL) {
        e->stats.dropped++; /* "Skipping record due to null join key or value" */
        return;
    }
    if (ks__st_eval_x(e, f, p, km, value, ks_invalid(), &mk))
        return;
    if (mk.kind == KS_NULL) {
        if (left_join)
            emit_joined(e, f, p, value, ks_null());
        else
            e->stats.dropped++;
        return;
    }
    int found = table_row(e, f, p->join.table_node, mk, &row);
    ks_val_release(mk);
    if (found < 0 || (!found && !left_join))
        return;
    emit_joined(e, f, p, value, found ? row : ks_null());
    ks_val_release(row);
}

void ks__st_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    if (p->join.kind == KS_JOIN_STREAM_TABLE && p->join.table_node)
        stream_table_join(e, f, p);
    else if (p->join.kind == KS_JOIN_STREAM_GLOBAL && p->join.table_node)
        stream_global_join(e, f, p);
    else if (p->join.kind == KS_JOIN_FOREIGN_KEY)
        ks__st_join_fk(e, f, p);
}

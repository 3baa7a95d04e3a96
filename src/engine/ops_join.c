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
 * (stream_global_join). A table-table join (table_table_side,
 * table_join_merge) joins the changes of either table with the other's
 * row, read through the table's value getter (ks__st_table_get). Stream-stream
 * joins run in ops_join_stream.c, foreign-key joins in ops_join_fk.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "state_int.h"

/*
 * Looks key up in the store of a table that has one (a table source,
 * toTable, aggregation or materialised table join). Returns 1 with *row
 * set (owned) and *ts its timestamp, 0 when the table holds no row for
 * it, -1 when the record failed (it went to the dead-letter path) or the
 * store did.
 */
static int stored_row(ks_engine_t *e, flight_t *f, const ks_proc_t *table, ks_val key, ks_val *row, int64_t *ts)
{
    ks_buf_t kb = {0};
    char err[KS_ERRMSG_SIZE];
    int rc;
    int global = table->op == KS_OP_TABLE_SOURCE && table->table_source.global;
    if (ks__st_key_bytes(table, &kb, key, err, sizeof err)) {
        char what[KS_ERRMSG_SIZE];
        if (table->op == KS_OP_TABLE_SOURCE)
            snprintf(what, sizeof what, "looking the key up in table `%s`", table->table_source.table);
        else
            snprintf(what, sizeof what, "looking the key up in store `%s`", table->stores[0]);
        rc = ks__fail(e, f, what, err);
    } else if (kb.len > 480) {
        rc = 0; /* longer than any key a store holds (ks__st_store_key): the table cannot have it */
    } else {
        rc = global ? ks__st_global_get(e, table, kb.data, kb.len, row, ts)
                    : ks__st_kv_get(e, table, e->cur->partition, kb.data, kb.len, row, ts);
    }
    ks_buf_free(&kb);
    return rc;
}

static int table_row(ks_engine_t *e, flight_t *f, const ks_proc_t *table, ks_val key, ks_val *row)
{
    int64_t ts;
    return stored_row(e, f, table, key, row, &ts);
}

/* See state_int.h. */
int ks__st_joiner(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val left, ks_val right, ks_val *out, int quiet)
{
    ks_val vars[KS_EXPR_NSTREAM_VARS], err;
    if (ks__bind_vars(e, f, vars))
        return -1;
    vars[KS_EXPR_VAR_LEFT] = left;
    vars[KS_EXPR_VAR_RIGHT] = right;
    const char *why = NULL;
    char *m = NULL;
    *out = ks_invalid();
    if (ks_expr_eval1(p->e.expr, left, vars, KS_EXPR_NSTREAM_VARS, out, &err)) {
        m = ks_expr_error_message(err);
        ks_val_release(err);
        why = m;
    } else if (out->kind == KS_INVALID) {
        why = "the expression produced no output";
    }
    if (why && quiet) {
        *out = ks_null();
        free(m);
        return 0;
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
    if (ks__st_joiner(e, f, p, value, row, &out, 0))
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

/*
 * lookup(table; key) in an expression (kstreamd's own, expr.h): the row
 * the global table holds for key, read as a stream-global-table join reads
 * it (stream_global_join), or null; a null key finds nothing.
 */
int ks__st_lookup(void *ud, const char *table, ks_val key, ks_val *row, char *err, size_t errlen)
{
    ks_engine_t *e = ud;
    const ks_proc_t *t =
        e->lookup_name == table && strcmp(e->lookup_table->table_source.table, table) == 0 ? e->lookup_table : NULL;
    for (int i = 0; i < e->t->nprocs && !t; i++) {
        const ks_proc_t *q = e->t->procs[i];
        if (q->op == KS_OP_TABLE_SOURCE && q->table_source.global && strcmp(q->table_source.table, table) == 0)
            t = q;
    }
    e->lookup_name = t ? table : NULL;
    e->lookup_table = t;
    if (!t) {
        snprintf(err, errlen, "no global table named `%s`", table);
        return -1;
    }
    if (key.kind == KS_NULL)
        return 0;
    if (!ks__st_state(e)) {
        snprintf(err, errlen, "the state could not be opened");
        return -1;
    }
    ks_buf_t kb = {0};
    int64_t ts;
    int rc;
    if (ks__st_key_bytes(t, &kb, key, err, errlen))
        rc = -1;
    else if (kb.len > 480)
        rc = 0; /* longer than any key a store holds */
    else if ((rc = ks__st_global_get(e, t, kb.data, kb.len, row, &ts)) < 0)
        snprintf(err, errlen, "reading the table failed");
    ks_buf_free(&kb);
    return rc;
}

/* ---- table-table joins ---- */

static int join_getter(ks_engine_t *e, flight_t *f, const ks_proc_t *merge, ks_val key, ks_val *v, int64_t *ts);

/*
 * A table's value getter (Kafka Streams' KTableValueGetter#get): the row a
 * table holds for key now. A table with a store reads it; a filter or
 * mapValues of a table applies itself to its parent's row; an
 * unmaterialised table-table join joins its two sides' rows. The loader
 * admits no other table to a join (load_join.c, ks__topo_add_getter_stores).
 * Returns 1 with *v (owned, not null) and *ts, 0 when there is no row, -1
 * when the record failed.
 */
int ks__st_table_get(ks_engine_t *e, flight_t *f, const ks_proc_t *t, ks_val key, ks_val *v, int64_t *ts)
{
    switch (t->op) {
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT:
    case KS_OP_MAP_VALUES: {
        ks_val pv, r;
        int rc = ks__st_table_get(e, f, t->parents[0], key, &pv, ts);
        if (rc <= 0)
            return rc;
        flight_t c = *f;
        c.key = key;
        c.value = pv;
        if (ks__st_eval_x(e, &c, t, &t->e, pv, ks_invalid(), &r)) {
            ks_val_release(pv);
            return -1;
        }
        if (t->op == KS_OP_MAP_VALUES) {
            ks_val_release(pv);
            if (r.kind == KS_NULL)
                return 0;
            *v = r;
            return 1;
        }
        int keep = ks_is_truthy(r) == (t->op == KS_OP_FILTER);
        ks_val_release(r);
        if (!keep) {
            ks_val_release(pv);
            return 0;
        }
        *v = pv;
        return 1;
    }
    case KS_OP_JOIN:
    case KS_OP_LEFT_JOIN:
    case KS_OP_OUTER_JOIN:
        if (!t->nstores)
            return join_getter(e, f, t, key, v, ts);
        return stored_row(e, f, t, key, v, ts);
    default: return stored_row(e, f, t, key, v, ts);
    }
}

/*
 * The joiner of a table-table join (held by its JOINTHIS node) on a left
 * and a right row, either of which may be null. Returns 0 with *out set,
 * -1 when the record failed.
 */
static int table_joiner(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val left, ks_val right, ks_val *out)
{
    return ks__st_joiner(e, f, p->join.peer, left, right, out, 0);
}

/*
 * The joiner on an old value. A failure here is not the record's: the old
 * result is one the join never forwarded (the joiner failed on it when it
 * was new, and that record went to the dead-letter topic), so below the
 * join there is nothing to retract, and the old result is null.
 */
static int table_joiner_old(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val left, ks_val right, ks_val *out)
{
    return ks__st_joiner(e, f, p->join.peer, left, right, out, 1);
}

/*
 * An unmaterialised table-table join's value getter
 * (KTableKTable{Inner,Left,Outer}JoinValueGetter): inner needs both rows,
 * left the left one, outer either; the timestamp is the later of the
 * rows'. A joiner that yields null is no row.
 */
static int join_getter(ks_engine_t *e, flight_t *f, const ks_proc_t *merge, ks_val key, ks_val *v, int64_t *ts)
{
    ks_val l = ks_invalid(), r = ks_invalid(), out;
    int64_t lt = -1, rt = -1;
    int hl = ks__st_table_get(e, f, merge->join.left_node, key, &l, &lt);
    if (hl < 0 || (hl == 0 && merge->op != KS_OP_OUTER_JOIN))
        return hl;
    int hr = ks__st_table_get(e, f, merge->join.table_node, key, &r, &rt);
    int rc = 0;
    if (hr < 0 || (hr == 0 && merge->op == KS_OP_JOIN) || (!hl && !hr)) {
        rc = hr < 0 ? -1 : 0;
    } else if (table_joiner(e, f, merge, hl ? l : ks_null(), hr ? r : ks_null(), &out)) {
        rc = -1;
    } else if (out.kind == KS_NULL) {
        rc = 0;
    } else {
        *v = out;
        *ts = lt > rt ? lt : rt;
        rc = 1;
    }
    ks_val_release(l);
    ks_val_release(r);
    return rc;
}

/*
 * A change of one side of a table-table join, joined with the other
 * side's row (KTableKTableJoinNode's JOINTHIS and JOINOTHER nodes). The
 * left side's node of an inner join is KTableKTableInnerJoin, of a left
 * join KTableKTableLeftJoin, of an outer join KTableKTableOuterJoin; the
 * right side's runs the same with the joiner reversed, except that a left
 * join's right side is KTableKTableRightJoin:
 *
 *                     other side has no row             other side has a row
 *   inner             nothing                           new: joiner unless a tombstone
 *   left (left side)  nothing if no new nor old value;  the same
 *                     new: joiner with $right null
 *   left (right side) nothing                           joiner, $right null on a tombstone
 *   outer             nothing if no new nor old value;  joiner with null for a missing side
 *                     new: joiner with null for it
 *
 * The old value is joined the same way when a node below asks for old
 * values (send_old); the result's timestamp is the later of the record's
 * and the row's. A null key is dropped.
 */
static void table_table_side(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int this_side = p->join.role == KS_JOIN_ROLE_THIS, send_old = p->join.send_old;
    ks_val key, nv, row = ks_invalid();
    int64_t rts = -1;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &nv))
        return;
    if (key.kind == KS_NULL) {
        e->stats.dropped++; /* "Skipping record due to null key." */
        return;
    }
    const ks_proc_t *other = this_side ? p->join.table_node : p->join.left_node;
    int found = ks__st_table_get(e, f, other, key, &row, &rts);
    if (found < 0)
        return;
    ks_val ov = f->old.kind == KS_INVALID ? ks_null() : f->old;
    int has_new = nv.kind != KS_NULL, has_old = ov.kind != KS_NULL;
    int inner = p->op == KS_OP_JOIN, outer = p->op == KS_OP_OUTER_JOIN;
    int right_join = p->op == KS_OP_LEFT_JOIN && !this_side; /* KTableKTableRightJoin */
    if (!found && (inner || right_join || (!has_new && !has_old)))
        goto done;
    /* Which of new and old are joined, and with the row (null when none). */
    int join_new = right_join || (outer ? found || has_new : has_new);
    int join_old = send_old && (right_join || (outer ? found || has_old : has_old));
    ks_val rv = found ? row : ks_null();
    ks_val out_new = ks_null(), out_old = send_old ? ks_null() : ks_invalid();
    if (join_new && (this_side ? table_joiner(e, f, p, nv, rv, &out_new) : table_joiner(e, f, p, rv, nv, &out_new)))
        goto done;
    if (join_old &&
        (this_side ? table_joiner_old(e, f, p, ov, rv, &out_old) : table_joiner_old(e, f, p, rv, ov, &out_old))) {
        ks_val_release(out_new);
        goto done;
    }
    flight_t c = *f;
    c.value = out_new;
    c.value_changed = 1;
    c.old = out_old;
    c.node = p->name;
    if (found && rts > c.ts)
        c.ts = rts;
    ks__forward(e, &c, p);
    ks_val_release(out_new);
    ks_val_release(out_old);
done:
    ks_val_release(row);
}

/*
 * The merge of a table-table join (KTableKTableJoinMerger): the result
 * table. Materialised (`store:`), it puts each change into its store,
 * which forwards it (through the record cache); else it forwards the
 * change, its old value only when asked for.
 */
static void table_join_merge(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    if (p->nstores == 0) {
        flight_t c = *f;
        if (!p->join.send_old)
            c.old = ks_invalid();
        c.node = p->name;
        ks__forward(e, &c, p);
        return;
    }
    ks_val key, value;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    ks_buf_t kb = {0};
    if (ks__st_store_key(e, f, p, &kb, key))
        ks__st_kv_put(e, p, e->cur->partition, kb.data, kb.len, key, value.kind == KS_NULL ? ks_invalid() : value,
                      f->ts);
    ks_buf_free(&kb);
}

void ks__st_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    if (p->join.kind == KS_JOIN_STREAM_TABLE && p->join.table_node)
        stream_table_join(e, f, p);
    else if (p->join.kind == KS_JOIN_STREAM_GLOBAL && p->join.table_node)
        stream_global_join(e, f, p);
    else if (p->join.kind == KS_JOIN_TABLE_TABLE && p->join.role == KS_JOIN_ROLE_MERGE)
        table_join_merge(e, f, p);
    else if (p->join.kind == KS_JOIN_TABLE_TABLE)
        table_table_side(e, f, p);
    else if (p->join.kind == KS_JOIN_STREAM_STREAM)
        ks__st_stream_join(e, f, p);
    else if (p->join.kind == KS_JOIN_FOREIGN_KEY)
        ks__st_join_fk(e, f, p);
}

/*
 * testdriver.c: the test-case runner. A case file names a topology and
 * lists cases; each case starts from empty state, feeds its inputs (with
 * timestamps, headers, keys, partitions and `advance` of wall-clock time)
 * and checks the records written per topic, in order, and the dead-letter
 * records. Records written to a topic the application itself reads are fed
 * back in, as Kafka would deliver them.
 */
#include "testdriver.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/yaml.h"
#include "../engine/engine.h"
#include "../engine/generate.h"
#include "../engine/store_codec.h"
#include "../json/json.h"
#include "../store/store.h"
#include "../topology/schema.h"
#include "../util/duration.h"
#include "../util/util.h"

#include "testdriver_int.h"

int ks__td_headers(const outrec_t *o, ks_header_t hs[KS__TD_MAX_HEADERS])
{
    int nh = o->nheaders < KS__TD_MAX_HEADERS ? o->nheaders : KS__TD_MAX_HEADERS;
    for (int i = 0; i < nh; i++) {
        hs[i].key = o->headers[i].key;
        hs[i].value = o->headers[i].value;
        hs[i].len = o->headers[i].len;
    }
    return nh;
}

static void copy_rec(outrec_t *o, const ks_record_t *r)
{
    memset(o, 0, sizeof *o);
    o->topic = ks_xstrdup(r->topic);
    o->partition = r->partition;
    o->timestamp = r->timestamp;
    if (r->key) {
        o->key = ks_xmalloc(r->key_len + 1);
        memcpy(o->key, r->key, r->key_len);
        o->klen = r->key_len;
    }
    if (r->value) {
        o->value = ks_xmalloc(r->value_len + 1);
        memcpy(o->value, r->value, r->value_len);
        o->vlen = r->value_len;
    }
    o->nheaders = r->nheaders;
    o->headers = ks_xcalloc((size_t)(r->nheaders ? r->nheaders : 1), sizeof(hdr_t));
    for (int i = 0; i < r->nheaders; i++) {
        o->headers[i].key = ks_xstrdup(r->headers[i].key);
        if (r->headers[i].value) {
            o->headers[i].value = ks_xstrndup(r->headers[i].value, r->headers[i].len);
            o->headers[i].len = r->headers[i].len;
        }
    }
}

static void free_rec(outrec_t *o)
{
    free(o->topic);
    free(o->key);
    free(o->value);
    for (int i = 0; i < o->nheaders; i++) {
        free(o->headers[i].key);
        free(o->headers[i].value);
    }
    free(o->headers);
}

/* The partition Kafka's default partitioner picks: murmur2 of the key bytes; partition 0 for a null key. */
static int32_t partition_of(const ks_topology_t *t, const ks_record_t *r)
{
    if (r->partition >= 0)
        return r->partition;
    int parts = ks_topology_topic(t, r->topic)->partitions;
    if (!r->key || parts <= 1)
        return 0;
    return ks_partition_for_key(r->key, r->key_len, parts);
}

static void on_emit(void *ud, const ks_record_t *r)
{
    run_t *run = ud;
    KS_GROW(run->outs, run->nouts);
    copy_rec(&run->outs[run->nouts], r);
    run->outs[run->nouts].partition = partition_of(run->t, r);
    run->nouts++;
    if (strcmp(r->topic, run->t->dlq_topic) != 0 && ks_topology_reads(run->t, r->topic)) {
        KS_GROW(run->queue, run->nqueue);
        copy_rec(&run->queue[run->nqueue], r);
        run->queue[run->nqueue].partition = partition_of(run->t, r);
        run->nqueue++;
    }
}

static void on_log(void *ud, const char *node, const char *line)
{
    run_t *run = ud;
    ks_buf_printf(&run->log, "%s: %s\n", node, line);
}

/* Failure text for one case. */
typedef struct verdict {
    ks_buf_t why;
} verdict_t;

static void say(verdict_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(verdict_t *v, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ks_buf_printf(&v->why, "    %s\n", buf);
}

/*
 * A misspelt key in a case would silently test nothing (`vlaue:` leaves the
 * value unchecked): every mapping of a case file is checked against the keys
 * it may have.
 */
static int known_keys(verdict_t *v, const char *file, const ks_ynode_t *n, const char *const *allowed, const char *what)
{
    int ok = 1;
    if (!n || n->kind != KS_YAML_MAP)
        return 1;
    for (size_t i = 0; i < n->n; i++) {
        int found = 0;
        for (int k = 0; allowed[k] && !found; k++)
            found = strcmp(allowed[k], n->keys[i]->value) == 0;
        if (!found) {
            ks_buf_t b = {0};
            for (int k = 0; allowed[k]; k++)
                ks_buf_printf(&b, "%s%s", k ? ", " : "", allowed[k]);
            say(v, "%s:%d:%d: unknown key `%s` in %s; allowed here: %s", file, n->keys[i]->line, n->keys[i]->col,
                n->keys[i]->value, what, b.data);
            ks_buf_free(&b);
            ok = 0;
        }
    }
    return ok;
}

static const char *const case_keys[] = {"name",           "input",         "expect",    "dlq",    "stopped", "stores",
                                        "commitInterval", "cacheMaxBytes", "nothingOn", "logged", NULL};
static const char *const input_keys[] = {"topic",   "key",       "value",   "rawKey",   "rawValue", "timestamp",
                                         "headers", "partition", "advance", "generate", "pipeline", NULL};
static const char *const expect_keys[] = {"topic",     "key",     "value",     "rawValue",
                                          "timestamp", "headers", "partition", NULL};
static const char *const dlq_keys[] = {"error", "node", "topic", "partition", "offset", NULL};

static void check_case_keys(verdict_t *v, const char *file, const ks_ynode_t *c)
{
    known_keys(v, file, c, case_keys, "a case");
    const char *const *rows[] = {input_keys, expect_keys, dlq_keys};
    const char *lists[] = {"input", "expect", "dlq"},
               *what[] = {"an input", "an expected record", "a dead-letter record"};
    for (int l = 0; l < 3; l++) {
        const ks_ynode_t *seq = ks_ynode_get(c, lists[l]);
        for (size_t i = 0; seq && seq->kind == KS_YAML_SEQ && i < seq->n; i++)
            known_keys(v, file, seq->items[i], rows[l], what[l]);
    }
}

/* JSON text of a record's decoded key or value, for comparisons and diffs. */
static int decode_json(ks_serde_t s, const char *data, size_t len, ks_val *out, char **text)
{
    char err[KS_ERRMSG_SIZE];
    if (ks_serde_decode(s, data, len, out, err, sizeof err)) {
        ks_buf_t b = {0};
        ks_buf_printf(&b, "<undecodable: %s>", err);
        *text = ks_buf_steal(&b);
        *out = ks_invalid();
        return -1;
    }
    *text = ks_json_dump(*out);
    return 0;
}

static char *describe_out(const ks_topology_t *t, const outrec_t *o)
{
    const ks_topic_conf_t *tc = ks_topology_topic(t, o->topic);
    ks_val k, v;
    char *kt, *vt;
    decode_json(tc->key, o->key, o->klen, &k, &kt);
    decode_json(tc->value, o->value, o->vlen, &v, &vt);
    ks_buf_t b = {0};
    ks_buf_printf(&b, "{topic: %s, key: %s, value: %s, timestamp: ", o->topic, kt, vt);
    if (o->timestamp == KS_NO_TIMESTAMP)
        ks_buf_puts(&b, "null");
    else
        ks_buf_printf(&b, "%lld", (long long)o->timestamp);
    ks_buf_printf(&b, ", partition: %d}", o->partition);
    free(kt);
    free(vt);
    ks_val_release(k);
    ks_val_release(v);
    return ks_buf_steal(&b);
}

static const char *header(const outrec_t *o, const char *key)
{
    for (int i = 0; i < o->nheaders; i++)
        if (strcmp(o->headers[i].key, key) == 0)
            return o->headers[i].value ? o->headers[i].value : "";
    return NULL;
}

/* Encodes a test input's key or value: `raw` gives bytes as written, otherwise the JSON is serialised. */
static int encode_input(const ks_ynode_t *json, const ks_ynode_t *raw, ks_serde_t s, ks_buf_t *b, int *is_null,
                        char *err, size_t errlen)
{
    b->len = 0;
    *is_null = 0;
    if (raw) {
        if (raw->kind != KS_YAML_SCALAR) {
            snprintf(err, errlen, "raw bytes must be a string");
            return -1;
        }
        ks_buf_append(b, raw->value, strlen(raw->value));
        return 0;
    }
    if (!json) {
        *is_null = 1;
        return 0;
    }
    ks_val v = ks_ynode_to_json(json);
    int rc = ks_serde_encode(s, v, b, is_null, err, errlen);
    ks_val_release(v);
    return rc;
}

static int64_t counter_next(int64_t **offs, char ***names, int *n, const char *topic, int partition)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%d", topic, partition);
    for (int i = 0; i < *n; i++)
        if (strcmp((*names)[i], key) == 0)
            return (*offs)[i]++;
    KS_GROW(*offs, *n);
    KS_GROW(*names, *n);
    (*offs)[*n] = 1;
    (*names)[*n] = ks_xstrdup(key);
    (*n)++;
    return 0;
}

static void stop(run_t *run, const char *err)
{
    if (!run->stopped)
        run->stopped = ks_xstrdup(err);
}

/* A commit: the record cache's updates go downstream, the stores' transaction commits. */
static void commit_now(ks_engine_t *eng, run_t *run)
{
    char err[KS_ERRMSG_SIZE];
    if (!run->stateful || run->stopped)
        return;
    if (ks_engine_flush(eng, err, sizeof err) || ks_engine_commit_stores(eng, err, sizeof err))
        stop(run, err);
    run->last_commit = run->now;
}

static void maybe_commit(ks_engine_t *eng, run_t *run)
{
    if (run->commit_every == 0 || run->now - run->last_commit >= run->commit_every)
        commit_now(eng, run);
}

static void feed(ks_engine_t *eng, run_t *run, const ks_record_t *rec, verdict_t *v)
{
    char err[KS_ERRMSG_SIZE];
    if (rec) {
        if (ks_engine_process(eng, rec, err, sizeof err)) {
            stop(run, err);
            return;
        }
        maybe_commit(eng, run);
    }
    /* Deliver what the application wrote to topics it reads, in order, as Kafka would. */
    while (run->qhead < run->nqueue && !run->stopped) {
        outrec_t *q = &run->queue[run->qhead++];
        ks_header_t hs[KS__TD_MAX_HEADERS];
        int nh = ks__td_headers(q, hs);
        ks_record_t r = {q->topic,
                         q->partition,
                         counter_next(&run->offs, &run->onames, &run->noffs, q->topic, q->partition),
                         q->timestamp,
                         q->key,
                         q->klen,
                         q->value,
                         q->vlen,
                         hs,
                         nh};
        if (ks_engine_process(eng, &r, err, sizeof err)) {
            stop(run, err);
            return;
        }
        maybe_commit(eng, run);
    }
}

/*
 * `{generate: N}` (optionally `pipeline: NAME`): the next N records of the
 * topology's generate sources, taken in turn from those not done, made at
 * the case's wall-clock time. A record whose expression fails goes to the
 * dead-letter topic, or stops the service with errors.tolerance: none.
 */
static void generate(ks_engine_t *eng, run_t *run, ks_generator_t **gens, int ngens, int *turn, const char *file,
                     const ks_ynode_t *in, int64_t now, verdict_t *v)
{
    const ks_ynode_t *gn = ks_ynode_get(in, "generate"), *pn = ks_ynode_get(in, "pipeline");
    char *end = NULL;
    long n = gn->kind == KS_YAML_SCALAR ? strtol(gn->value, &end, 10) : -1;
    if (!end || *end || n < 0) {
        say(v, "%s:%d:%d: `generate` needs a number of records", file, gn->line, gn->col);
        return;
    }
    char want[600] = "";
    if (pn)
        snprintf(want, sizeof want, "%s%s", KS_GEN_TOPIC_PREFIX, pn->kind == KS_YAML_SCALAR ? pn->value : "");
    int any = 0;
    for (int g = 0; g < ngens; g++)
        any |= !*want || strcmp(ks_generator_topic(gens[g]), want) == 0;
    if (!any) {
        say(v, "%s:%d:%d: %s%s has no generate source", file, in->line, in->col, pn ? "pipeline " : "the topology",
            pn && pn->kind == KS_YAML_SCALAR ? pn->value : "");
        return;
    }
    for (long made = 0; made < n && !run->stopped;) {
        ks_generator_t *g = NULL;
        for (int k = 0; k < ngens && !g; k++) {
            ks_generator_t *c = gens[(*turn + k) % ngens];
            if (!ks_generator_done(c) && (!*want || strcmp(ks_generator_topic(c), want) == 0)) {
                g = c;
                *turn = (*turn + k + 1) % ngens;
            }
        }
        if (!g)
            return; /* every source reached its count */
        ks_record_t r;
        char err[KS_ERRMSG_SIZE];
        int rc = ks_generator_next(g, now, &r, err, sizeof err);
        if (rc == 1)
            continue;
        made++;
        if (rc == 0) {
            /* The trace has the generated record as an input of its pseudo-topic. */
            ks__td_trace_push(run, ks__td_trace_record(r.topic, r.partition, r.timestamp, r.key, r.key_len, r.value,
                                                       r.value_len, r.headers, r.nheaders));
            feed(eng, run, &r, v);
        } else if (run->t->errors_tolerance_none) {
            stop(run, err);
        } else {
            ks_generator_dead_letter(g, err, now, &r);
            on_emit(run, &r);
        }
    }
}

/* Whether a written record o is what the expected record x says (want: x's value as JSON, or KS_INVALID). */
static int matches(const ks_topology_t *t, const ks_ynode_t *x, const outrec_t *o, ks_val want)
{
    const ks_ynode_t *wk = ks_ynode_get(x, "key"), *wv = ks_ynode_get(x, "value"), *wt = ks_ynode_get(x, "timestamp"),
                     *wh = ks_ynode_get(x, "headers");
    const ks_topic_conf_t *tc = ks_topology_topic(t, o->topic);
    int ok = 1;
    ks_val got;
    char *gt;
    if (wv) {
        decode_json(tc->value, o->value, o->vlen, &got, &gt);
        ok &= got.kind != KS_INVALID && ks_val_equal(got, want);
        ks_val_release(got);
        free(gt);
    }
    /* rawValue: the value's bytes exactly (a Change of a grouped table's repartition topic). */
    const ks_ynode_t *rv = ks_ynode_get(x, "rawValue");
    if (rv)
        ok &= rv->kind == KS_YAML_SCALAR && o->value && o->vlen == rv->len && memcmp(o->value, rv->value, o->vlen) == 0;
    if (wk) {
        ks_val wkv = ks_ynode_to_json(wk);
        decode_json(tc->key, o->key, o->klen, &got, &gt);
        ok &= got.kind != KS_INVALID && ks_val_equal(got, wkv);
        ks_val_release(got);
        ks_val_release(wkv);
        free(gt);
    }
    if (wt && wt->value && (strcmp(wt->value, "null") == 0 || strcmp(wt->value, "~") == 0)) {
        ok &= o->timestamp == KS_NO_TIMESTAMP; /* a record the producer stamps */
    } else if (wt) {
        char *end;
        long long ts = strtoll(wt->value ? wt->value : "", &end, 10);
        ok &= *end == 0 && ts == o->timestamp;
    }
    const ks_ynode_t *wp = ks_ynode_get(x, "partition");
    if (wp) {
        char *end;
        long pn = strtol(wp->value ? wp->value : "", &end, 10);
        ok &= *end == 0 && pn == o->partition;
    }
    if (wh && wh->kind == KS_YAML_MAP) {
        for (size_t h = 0; h < wh->n; h++) {
            const char *hv = header(o, wh->keys[h]->value);
            ok &= hv && wh->items[h]->kind == KS_YAML_SCALAR && strcmp(hv, wh->items[h]->value) == 0;
        }
    }
    return ok;
}

static void check_case(const ks_topology_t *t, const char *file, const ks_ynode_t *c, run_t *run, verdict_t *v)
{
    const ks_ynode_t *expect = ks_ynode_get(c, "expect"), *dlq = ks_ynode_get(c, "dlq");
    int *used = ks_xcalloc((size_t)(run->nouts + 1), sizeof *used);
    /* Expected records, matched per topic in order. */
    if (expect && expect->kind == KS_YAML_SEQ) {
        for (size_t i = 0; i < expect->n; i++) {
            const ks_ynode_t *x = expect->items[i];
            const ks_ynode_t *tn = x->kind == KS_YAML_MAP ? ks_ynode_get(x, "topic") : NULL;
            if (!tn || tn->kind != KS_YAML_SCALAR) {
                say(v, "%s:%d:%d: an expected record needs `topic`", file, x->line, x->col);
                continue;
            }
            int found = -1;
            for (int j = 0; j < run->nouts; j++)
                if (!used[j] && strcmp(run->outs[j].topic, tn->value) == 0) {
                    found = j;
                    break;
                }
            ks_val want = ks_invalid();
            ks_buf_t wb = {0};
            ks_buf_printf(&wb, "{topic: %s", tn->value);
            const ks_ynode_t *wk = ks_ynode_get(x, "key"), *wv = ks_ynode_get(x, "value"),
                             *wt = ks_ynode_get(x, "timestamp");
            if (wk) {
                ks_val kv = ks_ynode_to_json(wk);
                char *s = ks_json_dump(kv);
                ks_buf_printf(&wb, ", key: %s", s);
                free(s);
                ks_val_release(kv);
            }
            if (wv) {
                want = ks_ynode_to_json(wv);
                char *s = ks_json_dump(want);
                ks_buf_printf(&wb, ", value: %s", s);
                free(s);
            }
            if (wt)
                ks_buf_printf(&wb, ", timestamp: %s", wt->value ? wt->value : "?");
            ks_buf_puts(&wb, "}");
            if (found < 0) {
                say(v, "missing: %s (line %d)", wb.data, x->line);
                ks_val_release(want);
                ks_buf_free(&wb);
                continue;
            }
            used[found] = 1;
            const outrec_t *o = &run->outs[found];
            int ok = matches(t, x, o, want);
            if (!ok) {
                char *d = describe_out(t, o);
                say(v, "expected %s (line %d)", wb.data, x->line);
                say(v, "     got %s", d);
                free(d);
            }
            ks_val_release(want);
            ks_buf_free(&wb);
        }
    } else if (expect) {
        say(v, "%s:%d:%d: `expect` must be a list of records", file, expect->line, expect->col);
    }
    /* Dead-letter records. */
    if (dlq && dlq->kind == KS_YAML_SEQ) {
        for (size_t i = 0; i < dlq->n; i++) {
            const ks_ynode_t *x = dlq->items[i];
            int found = -1;
            for (int j = 0; j < run->nouts; j++)
                if (!used[j] && strcmp(run->outs[j].topic, t->dlq_topic) == 0) {
                    found = j;
                    break;
                }
            if (found < 0) {
                say(v, "missing dead-letter record (line %d)", x->line);
                continue;
            }
            used[found] = 1;
            const outrec_t *o = &run->outs[found];
            const char *checks[][2] = {{"error", "kstreamd.error"},
                                       {"node", "kstreamd.node"},
                                       {"topic", "kstreamd.source.topic"},
                                       {"partition", "kstreamd.source.partition"},
                                       {"offset", "kstreamd.source.offset"}};
            for (int k = 0; k < 5; k++) {
                const ks_ynode_t *w = x->kind == KS_YAML_MAP ? ks_ynode_get(x, checks[k][0]) : NULL;
                if (!w)
                    continue;
                const char *h = header(o, checks[k][1]);
                int ok =
                    h && w->kind == KS_YAML_SCALAR && (k == 0 ? strstr(h, w->value) != NULL : strcmp(h, w->value) == 0);
                if (!ok)
                    say(v, "dead-letter %s: expected %s`%s`, got `%s` (line %d)", checks[k][0],
                        k == 0 ? "text containing " : "", w->kind == KS_YAML_SCALAR ? w->value : "?", h ? h : "(none)",
                        w->line);
            }
        }
    }
    /* `logged: [lines]`: what peek and print logged, in order (each line without its processor's name). */
    const ks_ynode_t *logged = ks_ynode_get(c, "logged");
    if (logged && logged->kind == KS_YAML_SEQ) {
        const char *at = run->log.data ? run->log.data : "";
        for (size_t i = 0; i < logged->n; i++) {
            const char *nl = strchr(at, '\n'), *sep = strstr(at, ": ");
            const ks_ynode_t *w = logged->items[i];
            if (!nl || !sep || sep > nl) {
                say(v, "missing log line (line %d): %s", w->line, w->value ? w->value : "?");
                break;
            }
            size_t n = (size_t)(nl - (sep + 2));
            if (w->kind != KS_YAML_SCALAR || strlen(w->value) != n || memcmp(sep + 2, w->value, n) != 0)
                say(v, "log line %zu (line %d): expected `%s`, got `%.*s`", i + 1, w->line,
                    w->kind == KS_YAML_SCALAR ? w->value : "?", (int)n, sep + 2);
            at = nl + 1;
        }
        if (*at && !v->why.len)
            say(v, "more log lines than `logged` lists: %s", at);
    } else if (logged) {
        say(v, "%s:%d:%d: `logged` is a list of lines", file, logged->line, logged->col);
    }
    /* `nothingOn: [topics]`: topics (internal ones too) that must get no record. */
    const ks_ynode_t *none = ks_ynode_get(c, "nothingOn");
    for (size_t i = 0; none && none->kind == KS_YAML_SEQ && i < none->n; i++) {
        int n = 0;
        for (int j = 0; j < run->nouts; j++)
            n += none->items[i]->kind == KS_YAML_SCALAR && strcmp(run->outs[j].topic, none->items[i]->value) == 0;
        if (n)
            say(v, "%d record%s written to %s (line %d expects none)", n, n == 1 ? "" : "s", none->items[i]->value,
                none->items[i]->line);
    }
    for (int j = 0; j < run->nouts; j++) {
        if (used[j] || ks_topology_is_internal(t, run->outs[j].topic))
            continue;
        const outrec_t *o = &run->outs[j];
        if (strcmp(o->topic, t->dlq_topic) == 0) {
            const char *h = header(o, "kstreamd.error");
            say(v, "unexpected dead-letter record: %s (node %s)", h ? h : "?", header(o, "kstreamd.node"));
        } else {
            char *d = describe_out(t, o);
            say(v, "unexpected: %s", d);
            free(d);
        }
    }
    free(used);
}

/* ---- `stores:` the contents of state stores after a case ---- */

int ks__td_store_entry(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    store_dump_t *d = ud;
    ks_store_entry_t ent;
    ks_engine_decode_entry(d->layout, k, kl, v, vl, &ent);
    ks_val e = ks_obj_new(3);
    ks_obj_setc(&e, "key", ent.key);
    if (ent.windowed) {
        ks_val w = ks_obj_new(2);
        ks_obj_setc(&w, "start", ks_num_i64(ent.start));
        ks_obj_setc(&w, "end", ks_num_i64(ent.end));
        ks_obj_setc(&e, "window", w);
    }
    ks_obj_setc(&e, "value", ent.value.kind == KS_INVALID ? ks_str_cstr("<undecodable>") : ent.value);
    ks_arr_push(&d->entries, e);
    return 0;
}

static void check_stores(const ks_topology_t *t, const char *file, const ks_ynode_t *want, ks_stores_t *stores,
                         verdict_t *v)
{
    if (!want)
        return;
    if (want->kind != KS_YAML_MAP) {
        say(v, "%s:%d:%d: `stores` maps store names to their contents", file, want->line, want->col);
        return;
    }
    for (size_t i = 0; i < want->n; i++) {
        const char *name = want->keys[i]->value;
        const ks_proc_t *p = NULL;
        for (int j = 0; j < t->nprocs && !p; j++)
            for (int k = 0; k < t->procs[j]->nstores && !p; k++)
                if (strcmp(t->procs[j]->stores[k], name) == 0)
                    p = t->procs[j];
        if (!p) {
            say(v, "%s:%d:%d: the topology has no store `%s`", file, want->keys[i]->line, want->keys[i]->col, name);
            continue;
        }
        store_dump_t d = {ks_arr_new(8), ks_store_layout_of(p)};
        for (int part = 0; part < 32; part++)
            ks_store_range(stores, name, part, NULL, 0, NULL, 0, ks__td_store_entry, &d);
        /* Expected: {key: value} for key-value stores, or [{key, window, value}] for any store. */
        const ks_ynode_t *w = want->items[i];
        ks_val exp = ks_arr_new(8);
        if (w->kind == KS_YAML_MAP) {
            for (size_t j = 0; j < w->n; j++) {
                ks_val e = ks_obj_new(2);
                ks_obj_setc(&e, "key", ks_str_cstr(w->keys[j]->value));
                ks_obj_setc(&e, "value", ks_ynode_to_json(w->items[j]));
                ks_arr_push(&exp, e);
            }
            /* Keys that are not strings are compared as their JSON text. */
            for (size_t j = 0; j < ks_arr_len(d.entries); j++) {
                ks_val *e = (ks_val *)ks_arr_get(d.entries, j);
                const ks_val *k = ks_obj_get(*e, "key", 3);
                if (k->kind != KS_STRING) {
                    char *txt = ks_json_dump(*k);
                    ks_val_unshare(e);
                    ks_obj_setc(e, "key", ks_str_cstr(txt));
                    free(txt);
                }
            }
        } else if (w->kind == KS_YAML_SEQ) {
            ks_val_release(exp);
            exp = ks_ynode_to_json(w);
        } else {
            say(v, "%s:%d:%d: the contents of store `%s` are a mapping {key: value} or a list of {key, window, value}",
                file, w->line, w->col, name);
        }
        ks_val_sort((ks_val *)ks_arr_get(exp, 0), ks_arr_len(exp));
        ks_val_sort((ks_val *)ks_arr_get(d.entries, 0), ks_arr_len(d.entries));
        if (!ks_val_equal(exp, d.entries)) {
            char *a = ks_json_dump(exp), *b = ks_json_dump(d.entries);
            say(v, "store %s (line %d):", name, w->line);
            say(v, "  expected %s", a);
            say(v, "       got %s", b);
            free(a);
            free(b);
        }
        ks_val_release(exp);
        ks_val_release(d.entries);
    }
}

/*
 * A case's state: its own LMDB environment in a fresh directory (dir, a
 * mkdtemp template), with the case's commit interval and cache size, for
 * a topology with stores. Returns 0, or -1 when the directory cannot be
 * made (said in v).
 */
static int open_state(run_t *run, ks_engine_t *eng, const ks_ynode_t *c, const char *file, char *dir,
                      ks_stores_t **stores, verdict_t *v)
{
    char err[KS_ERRMSG_SIZE];
    if (!run->stateful) {
        if (ks_ynode_get(c, "stores") || ks_ynode_get(c, "commitInterval") || ks_ynode_get(c, "cacheMaxBytes"))
            say(v, "%s:%d: `stores`, `commitInterval` and `cacheMaxBytes` need a topology with state stores", file,
                c->line);
        return 0;
    }
    const ks_ynode_t *ci = ks_ynode_get(c, "commitInterval"), *cm = ks_ynode_get(c, "cacheMaxBytes");
    long long cache = 10 * 1024 * 1024;
    if (ci && (ci->kind != KS_YAML_SCALAR || ks_parse_duration(ci->value, &run->commit_every)))
        say(v, "%s:%d:%d: `commitInterval` needs a duration such as 30s", file, ci->line, ci->col);
    if (cm) {
        char *end = NULL;
        cache = cm->kind == KS_YAML_SCALAR ? strtoll(cm->value, &end, 10) : -1;
        if (!end || *end || cache < 0) {
            say(v, "%s:%d:%d: `cacheMaxBytes` needs a number of bytes (0: no cache)", file, cm->line, cm->col);
            cache = 0;
        }
    }
    if (!mkdtemp(dir) || !(*stores = ks_stores_open(dir, 0, err, sizeof err))) {
        say(v, "cannot create a state directory: %s", *stores ? "" : err);
        return -1;
    }
    ks_engine_attach_stores(eng, *stores, (size_t)cache);
    return 0;
}

/* One input record of a case: encoded with its topic's serdes (or given raw), traced, fed. */
static void feed_record(ks_engine_t *eng, run_t *run, const char *file, const ks_ynode_t *in, int64_t now, verdict_t *v)
{
    const ks_topology_t *t = run->t;
    const ks_ynode_t *tn = ks_ynode_get(in, "topic");
    if (!tn || tn->kind != KS_YAML_SCALAR) {
        say(v, "%s:%d:%d: an input needs `topic`", file, in->line, in->col);
        return;
    }
    if (!ks_topology_reads(t, tn->value))
        say(v, "%s:%d:%d: warning: the topology does not read `%s`", file, tn->line, tn->col, tn->value);
    const ks_topic_conf_t *tc = ks_topology_topic(t, tn->value);
    ks_buf_t kb = {0}, vb = {0};
    int knull, vnull;
    char e1[256];
    if (encode_input(ks_ynode_get(in, "key"), ks_ynode_get(in, "rawKey"), tc->key, &kb, &knull, e1, sizeof e1) ||
        encode_input(ks_ynode_get(in, "value"), ks_ynode_get(in, "rawValue"), tc->value, &vb, &vnull, e1, sizeof e1)) {
        say(v, "%s:%d:%d: cannot encode this input for `%s`: %s", file, in->line, in->col, tn->value, e1);
        ks_buf_free(&kb);
        ks_buf_free(&vb);
        return;
    }
    const ks_ynode_t *ts = ks_ynode_get(in, "timestamp"), *pn = ks_ynode_get(in, "partition"),
                     *hn = ks_ynode_get(in, "headers");
    int partition = pn && pn->value ? atoi(pn->value) : 0;
    ks_header_t hs[32];
    int nh = 0;
    for (size_t h = 0; hn && hn->kind == KS_YAML_MAP && h < hn->n && nh < 32; h++, nh++) {
        hs[nh].key = hn->keys[h]->value;
        hs[nh].value = hn->items[h]->kind == KS_YAML_SCALAR ? hn->items[h]->value : NULL;
        hs[nh].len = hs[nh].value ? strlen(hs[nh].value) : 0;
    }
    ks_record_t r = {tn->value,
                     partition,
                     counter_next(&run->offs, &run->onames, &run->noffs, tn->value, partition),
                     ts && ts->value ? strtoll(ts->value, NULL, 10) : now,
                     knull ? NULL : (kb.data ? kb.data : ""),
                     kb.len,
                     vnull ? NULL : (vb.data ? vb.data : ""),
                     vb.len,
                     hs,
                     nh};
    ks__td_trace_push(
        run, ks__td_trace_record(r.topic, r.partition, r.timestamp, r.key, r.key_len, r.value, r.value_len, hs, nh));
    feed(eng, run, &r, v);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
}

static void run_case(const ks_topology_t *t, const char *file, const ks_ynode_t *c, const char *cname, verdict_t *v)
{
    run_t run = {.t = t, .trace_in = ks_arr_new(8)};
    ks_engine_ops_t ops = {on_emit, on_log};
    char err[KS_ERRMSG_SIZE];
    ks_engine_t *eng = ks_engine_new(t, &ops, &run, err, sizeof err);
    if (!eng) {
        say(v, "%s", err);
        ks_val_release(run.trace_in);
        return;
    }
    const ks_ynode_t *input = ks_ynode_get(c, "input");
    int64_t now = 0;
    /* A case's wall clock starts at 0, as the conformance harness' TopologyTestDriver's (Instant.EPOCH). */
    ks_engine_set_wall_clock(eng, now);
    ks_engine_set_join_emit_interval(eng, 0); /* TopologyTestDriver's: every record may emit closed outer records */
    ks_engine_set_exact_expiry(eng, 1);
    int ngens = 0, turn = 0;
    ks_generator_t **gens = ks_generators_new(t, &ngens);
    /* State: each case gets its own LMDB environment in a fresh directory. */
    char dir[] = "/tmp/kstreamd-test-XXXXXX";
    ks_stores_t *stores = NULL;
    run.stateful = ks_topology_has_state(t);
    if (open_state(&run, eng, c, file, dir, &stores, v)) {
        ks_generators_free(gens, ngens);
        ks_engine_free(eng);
        ks_val_release(run.trace_in);
        return;
    }
    for (size_t i = 0; input && input->kind == KS_YAML_SEQ && i < input->n && !run.stopped; i++) {
        const ks_ynode_t *in = input->items[i];
        if (in->kind != KS_YAML_MAP) {
            say(v, "%s:%d:%d: an input must be a mapping", file, in->line, in->col);
            continue;
        }
        const ks_ynode_t *adv = ks_ynode_get(in, "advance");
        if (adv) {
            int64_t ms;
            if (adv->kind != KS_YAML_SCALAR || ks_parse_duration(adv->value, &ms)) {
                say(v, "%s:%d:%d: `advance` needs a duration such as 30s", file, adv->line, adv->col);
            } else {
                now += ms;
                run.now = now;
                ks_engine_set_wall_clock(eng, now);
                ks_val a = ks_obj_new(1);
                ks_obj_setc(&a, "advance", ks_num_i64(ms));
                ks__td_trace_push(&run, a);
                if (run.stateful && run.commit_every > 0 && now - run.last_commit >= run.commit_every) {
                    commit_now(eng, &run);
                    feed(eng, &run, NULL, v);
                }
            }
            continue;
        }
        if (ks_ynode_get(in, "generate")) {
            ks_val g = ks_obj_new(1);
            ks_obj_setc(&g, "generate", ks_ynode_to_json(ks_ynode_get(in, "generate")));
            ks__td_trace_push(&run, g);
            generate(eng, &run, gens, ngens, &turn, file, in, now, v);
            continue;
        }
        feed_record(eng, &run, file, in, now, v);
    }
    /* The end of a case is a commit: what the record cache holds goes out. */
    if (run.stateful && !run.stopped) {
        commit_now(eng, &run);
        feed(eng, &run, NULL, v);
        commit_now(eng, &run);
    }
    /* errors.tolerance: none: the service stops at the bad record; `stopped:` expects that, with part of the error. */
    const ks_ynode_t *want_stop = ks_ynode_get(c, "stopped");
    if (run.stopped && !want_stop)
        say(v, "the service stopped (errors.tolerance: none): %s", run.stopped);
    else if (!run.stopped && want_stop)
        say(v, "expected the service to stop (line %d), but it did not", want_stop->line);
    else if (run.stopped && want_stop && (want_stop->kind != KS_YAML_SCALAR || !strstr(run.stopped, want_stop->value)))
        say(v, "the service stopped with `%s`, not with text containing `%s`", run.stopped,
            want_stop->kind == KS_YAML_SCALAR ? want_stop->value : "?");
    check_case(t, file, c, &run, v);
    if (stores) {
        char e2[512];
        if (ks_stores_begin(stores, e2, sizeof e2) == 0) {
            check_stores(t, file, ks_ynode_get(c, "stores"), stores, v);
            if (ks__td_tracing())
                ks__td_trace_case(t, file, c, cname, &run, stores);
            ks_stores_abort(stores);
        }
    } else if (ks__td_tracing()) {
        ks__td_trace_case(t, file, c, cname, &run, NULL);
    }
    ks_val_release(run.trace_in);
    free(run.stopped);
    for (int i = 0; i < run.nouts; i++)
        free_rec(&run.outs[i]);
    for (int i = 0; i < run.nqueue; i++)
        free_rec(&run.queue[i]);
    free(run.outs);
    free(run.queue);
    for (int i = 0; i < run.noffs; i++)
        free(run.onames[i]);
    free(run.onames);
    free(run.offs);
    ks_buf_free(&run.log);
    ks_generators_free(gens, ngens);
    ks_engine_free(eng);
    if (stores) {
        ks_stores_close(stores);
        const char *files[] = {"data.mdb", "lock.mdb", "LOCK"};
        for (int i = 0; i < 3; i++) {
            char path[128];
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            unlink(path);
        }
        rmdir(dir);
    }
}

int ks_testdriver_run_file(const char *path, FILE *out, int *passed, int *failed)
{
    ks_diags_t diags = {0};
    ks_ydoc_t *doc = ks_yaml_load_file(path, &diags);
    const ks_ynode_t *root = doc ? ks_ydoc_root(doc) : NULL;
    const ks_ynode_t *tp = root && root->kind == KS_YAML_MAP ? ks_ynode_get(root, "topology") : NULL;
    const ks_ynode_t *cases = root && root->kind == KS_YAML_MAP ? ks_ynode_get(root, "cases") : NULL;
    if (doc && (!tp || tp->kind != KS_YAML_SCALAR || !cases || cases->kind != KS_YAML_SEQ))
        ks_diag_err(&diags, path, root ? root->line : 1, root ? root->col : 1,
                    "a test file needs `topology: PATH` and `cases:` (a list)");
    ks_topology_t *t = NULL;
    if (diags.nerr == 0) {
        char *dir = ks_xstrdup(path);
        ks_buf_t tpath = {0};
        if (tp->value[0] == '/')
            ks_buf_puts(&tpath, tp->value);
        else
            ks_buf_printf(&tpath, "%s/%s", dirname(dir), tp->value);
        free(dir);
        t = ks_topology_load(tpath.data, &diags);
        ks__td_trace_topology(tpath.data);
        ks_buf_free(&tpath);
    }
    if (!t) {
        ks_diags_print(&diags, out);
        fprintf(out, "FAIL %s: cannot run its cases\n", path);
        (*failed)++;
        ks_diags_free(&diags);
        ks_ydoc_free(doc);
        return -1;
    }
    for (size_t i = 0; i < cases->n; i++) {
        const ks_ynode_t *c = cases->items[i];
        const ks_ynode_t *name = c->kind == KS_YAML_MAP ? ks_ynode_get(c, "name") : NULL;
        const char *cname = name && name->kind == KS_YAML_SCALAR ? name->value : "(unnamed case)";
        verdict_t v = {{0}};
        if (c->kind != KS_YAML_MAP) {
            say(&v, "%s:%d:%d: a case must be a mapping with name, input and expect", path, c->line, c->col);
        } else {
            check_case_keys(&v, path, c);
            run_case(t, path, c, cname, &v);
        }
        if (v.why.len == 0) {
            fprintf(out, "ok   %s: %s\n", path, cname);
            (*passed)++;
        } else {
            fprintf(out, "FAIL %s:%d: %s\n%s", path, c->line, cname, v.why.data);
            (*failed)++;
        }
        ks_buf_free(&v.why);
    }
    ks_topology_free(t);
    ks_diags_free(&diags);
    ks_ydoc_free(doc);
    return 0;
}

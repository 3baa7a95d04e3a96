/*
 * ops_window.c: windowed aggregations as Kafka Streams runs them: tumbling
 * and hopping windows (KStreamWindowAggregate), sliding windows
 * (KStreamSlidingWindowAggregate, KIP-450) and session windows
 * (KStreamSessionWindowAggregate), with grace, late records dropped and
 * counted, and the retention of segmented window stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "state_int.h"

/* ---- window retention ---- */

typedef struct purge {
    int64_t before; /* entries whose segment time (below) is before this go */
    int session;
    char **keys;
    size_t *lens;
    int n, cap;
} purge_t;

static int on_purge(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    purge_t *pg = ud;
    int64_t t;
    if (ks__st_window_key_segment_time(k, kl, pg->session, &t) || t >= pg->before)
        return 0;
    if (pg->n == pg->cap) {
        pg->cap = pg->cap ? pg->cap * 2 : 64;
        pg->keys = ks_xrealloc(pg->keys, (size_t)pg->cap * sizeof *pg->keys);
        pg->lens = ks_xrealloc(pg->lens, (size_t)pg->cap * sizeof *pg->lens);
    }
    pg->keys[pg->n] = ks_xmalloc(kl);
    memcpy(pg->keys[pg->n], k, kl);
    pg->lens[pg->n++] = kl;
    return 0;
}

/*
 * Retention of window and session stores, as Kafka Streams' segmented
 * stores: retention is size + grace (gap + grace for sessions), segments
 * are max(retention / 2, 60 s) long, and a segment is dropped once it lies
 * wholly before stream time minus retention. Dropped windows leave the
 * local store only (the changelog forgets them by its retention.ms);
 * nothing is forwarded. Runs once per segment of stream time.
 */
void ks__st_purge_windows(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t stime)
{
    pstate_t *ps = ks__st_pstate(e, p, part);
    int64_t retention = (p->state.window.kind == KS_WIN_SLIDING ? 2 * p->state.window.size : p->state.window.size) +
                        p->state.window.grace;
    int64_t seg = retention / 2 > 60000 ? retention / 2 : 60000;
    if (!ps->purged) {
        ps->purged = 1;
        ps->purged_at = stime;
        return;
    }
    if (stime - ps->purged_at < seg || stime - retention < seg || ks__st_begin(e))
        return;
    ps->purged_at = stime;
    purge_t pg = {(stime - retention) / seg * seg, p->state.window.kind == KS_WIN_SESSION, NULL, NULL, 0, 0};
    if (ks_store_range(e->st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_purge, &pg))
        ks__st_state_fatal(e, "reading a window store failed");
    for (int i = 0; i < pg.n; i++) {
        if (!e->failed && ks_store_put(e->st->stores, p->stores[0], part, pg.keys[i], pg.lens[i], NULL, 0))
            ks__st_state_fatal(e, "writing a window store failed");
        free(pg.keys[i]);
    }
    free(pg.keys);
    free(pg.lens);
}

void ks__st_agg_windows(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    const ks_window_spec_t *w = &p->state.window;
    int64_t ts = f->ts, stime = ks__st_observe(e, p, part, ts), close = stime - w->grace;
    if (ts < 0) {
        ks__fail(e, f, "windowing", "a windowed aggregation needs a timestamp of at least 0");
        return;
    }
    int64_t start = ts - w->size + w->advance;
    start = (start > 0 ? start : 0) / w->advance * w->advance;
    ks__st_purge_windows(e, p, part, stime);
    ks_buf_t kb = {0};
    if (!ks__st_store_key(e, f, p, &kb, key)) {
        ks_buf_free(&kb);
        return;
    }
    size_t keylen = kb.len;
    for (; start <= ts && !e->failed; start += w->advance) {
        int64_t end = start + w->size;
        if (end <= close) {
            e->stats.late++;
            e->stats.dropped++;
            continue;
        }
        ks__st_window_suffix(&kb, keylen, start, end, 0);
        ks_val fkey = ks__st_windowed_key(key, start, end);
        ks_val old = ks_invalid(), nw = ks_invalid();
        int64_t ots = 0;
        f->window = ks_val_retain(*ks_obj_get(fkey, "window", 6));
        int found = ks__st_kv_get(e, p, part, kb.data, kb.len, &old, &ots);
        ks_val init = ks_invalid();
        if (found == 0 && ks__st_agg_init(e, f, p, &init))
            found = -1;
        if (found >= 0 && ks__st_agg_add(e, f, p, found ? old : init, value, &nw) == 0) {
            e->st->init_old = init;
            ks__st_kv_put(e, p, part, kb.data, kb.len, fkey, nw, found && ots > ts ? ots : ts);
            e->st->init_old = ks_invalid();
        }
        ks_val_release(init);
        ks_val_release(f->window);
        f->window = ks_invalid();
        ks_val_release(old);
        ks_val_release(nw);
        ks_val_release(fkey);
    }
    ks_buf_free(&kb);
}

/* ---- sliding windows (Kafka Streams' KStreamSlidingWindowAggregate, KIP-450) ---- */

typedef struct swin {
    int64_t start;
    ks_val agg; /* owned */
    int64_t ts; /* the window's largest record timestamp */
} swin_t;

typedef struct swin_scan {
    ks_engine_t *e;
    const ks_proc_t *p;
    const char *key; /* the key's bytes: an entry is the key's when it is these and the suffix */
    size_t prefix;   /* their length */
    swin_t *w;
    int n;
    int bad;
} swin_scan_t;

static int on_swin(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    swin_scan_t *sc = ud;
    int64_t start;
    if (ks__st_window_key_times(k, kl, sc->prefix, 0, &start, NULL) || memcmp(k, sc->key, sc->prefix) != 0)
        return 0;
    ks_val agg;
    int64_t ts;
    if (ks__st_dec_value(sc->e, sc->p, v, vl, &agg, &ts)) {
        sc->bad = 1;
        return 1;
    }
    KS_GROW(sc->w, sc->n);
    sc->w[sc->n].start = start;
    sc->w[sc->n].agg = agg;
    sc->w[sc->n].ts = ts;
    sc->n++;
    return 0;
}

typedef struct sliding {
    ks_engine_t *e;
    flight_t *f;
    const ks_proc_t *p;
    ks_val key, value;
    int32_t part;
    int64_t ts, close, d;
    ks_buf_t kb;   /* the key's bytes, then a window's suffix */
    size_t keylen; /* the key's bytes in kb */
} sliding_t;

/* updateWindowAndForward: adds the record to the window [start, start + d] (base: its aggregate so far). */
static void sw_update(sliding_t *s, int64_t start, ks_val base, int64_t base_ts)
{
    ks_engine_t *e = s->e;
    int64_t end = start + s->d;
    if (end < s->close) {
        e->stats.late++;
        e->stats.dropped++;
        return;
    }
    ks_val fkey = ks__st_windowed_key(s->key, start, end), nw = ks_invalid();
    s->f->window = ks_val_retain(*ks_obj_get(fkey, "window", 6));
    if (ks__st_agg_add(e, s->f, s->p, base, s->value, &nw) == 0) {
        ks_buf_t vb = {0};
        char err[KS_ERRMSG_SIZE];
        int64_t ts = base.kind == KS_INVALID ? s->ts : (base_ts > s->ts ? base_ts : s->ts);
        if (ks__st_enc_value(s->p, &vb, nw, ts, err, sizeof err)) {
            ks__fail(e, s->f, "storing the value", err);
        } else {
            ks__st_window_suffix(&s->kb, s->keylen, start, 0, 0);
            ks__st_write_through(e, s->p, s->part, s->kb.data, s->kb.len, fkey, vb.data, vb.len, 1, ts, NULL, nw);
        }
        ks_buf_free(&vb);
    }
    ks_val_release(s->f->window);
    s->f->window = ks_invalid();
    ks_val_release(nw);
    ks_val_release(fkey);
}

/* A new window starting from the initializer (reduce: from nothing). */
static void sw_create(sliding_t *s, int64_t start)
{
    ks_val init;
    if (ks__st_agg_init(s->e, s->f, s->p, &init))
        return;
    sw_update(s, start, init, s->ts);
    ks_val_release(init);
}

/* createCurrentRecordRightWindow: the right window takes the aggregate of the window it was found in. */
static void sw_right(sliding_t *s, const swin_t *src)
{
    int64_t start = s->ts + 1;
    ks_val fkey = ks__st_windowed_key(s->key, start, start + s->d);
    ks_buf_t vb = {0};
    char err[KS_ERRMSG_SIZE];
    if (ks__st_enc_value(s->p, &vb, src->agg, src->ts, err, sizeof err)) {
        ks__fail(s->e, s->f, "storing the value", err);
    } else {
        ks__st_window_suffix(&s->kb, s->keylen, start, 0, 0);
        ks__st_write_through(s->e, s->p, s->part, s->kb.data, s->kb.len, fkey, vb.data, vb.len, 1, src->ts, NULL,
                             src->agg);
    }
    ks_buf_free(&vb);
    ks_val_release(fkey);
}

static int has_start(const swin_t *w, int n, int64_t start)
{
    for (int i = 0; i < n; i++)
        if (w[i].start == start)
            return 1;
    return 0;
}

void ks__st_agg_sliding(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    int64_t d = p->state.window.size, ts = f->ts;
    if (ts < 0) {
        ks__fail(e, f, "windowing", "a windowed aggregation needs a timestamp of at least 0");
        return;
    }
    int64_t stime = ks__st_observe(e, p, part, ts), close = stime - p->state.window.grace;
    if (ts + 1 + d <= close) {
        e->stats.late++;
        e->stats.dropped++;
        return;
    }
    ks__st_purge_windows(e, p, part, stime);
    sliding_t s = {e, f, p, key, value, part, ts, close, d, {0}, 0};
    if (!ks__st_store_key(e, f, p, &s.kb, key) || ks__st_begin(e)) {
        ks_buf_free(&s.kb);
        return;
    }
    s.keylen = s.kb.len;
    /* The key's windows starting in [lo, ts + 1], in start order. */
    int early = ts < d;
    int64_t lo = early ? 0 : (ts - 2 * d > 0 ? ts - 2 * d : 0);
    ks_buf_t from = {0}, to = {0};
    char kerr[KS_ERRMSG_SIZE];
    /* The key encoded once more for each bound: its serde took it a moment ago. */
    if (ks__st_window_key(p, &from, key, lo, 0, 0, kerr, sizeof kerr) ||
        ks__st_window_key(p, &to, key, ts + 2, 0, 0, kerr, sizeof kerr))
        ks__st_state_fatal(e, kerr);
    char *keycopy = ks_xmalloc(s.keylen + 1);
    memcpy(keycopy, s.kb.data, s.keylen);
    swin_scan_t sc = {e, p, keycopy, s.keylen, NULL, 0, 0};
    if (ks_store_range(e->st->stores, p->stores[0], part, from.data, from.len, to.data, to.len, on_swin, &sc))
        ks__st_state_fatal(e, "reading a window store failed");
    ks_buf_free(&from);
    ks_buf_free(&to);
    const swin_t *left = NULL, *right = NULL, *combined = NULL;
    int left_made = 0, right_made = 0, has_prev = 0;
    int64_t prev = 0;
    for (int i = 0; i < sc.n && !e->failed && !sc.bad; i++) {
        const swin_t *w = &sc.w[i];
        int64_t end = w->start + d;
        if (early) {
            if (w->start == 0) {
                combined = w;
                if (w->ts < ts)
                    prev = w->ts, has_prev = 1;
            } else if (w->start <= ts) {
                right = w;
                sw_update(&s, w->start, w->agg, w->ts);
            } else if (w->start == ts + 1) {
                right_made = 1;
            }
        } else if (end < ts) {
            left = w;
            prev = w->ts, has_prev = 1;
        } else if (end == ts) {
            left_made = 1;
            if (w->ts < ts)
                prev = w->ts, has_prev = 1;
            sw_update(&s, w->start, w->agg, w->ts);
        } else if (w->start <= ts) {
            right = w;
            sw_update(&s, w->start, w->agg, w->ts);
        } else if (w->start == ts + 1) {
            right_made = 1;
        }
    }
    if (!e->failed && !sc.bad) {
        if (early) {
            /* Records before d share the window [0, d]; their right windows are made as later records come. */
            if (!right && combined && combined->ts > ts)
                right = combined;
            if (!right_made && right && right->ts > ts)
                sw_right(&s, right);
            if (has_prev && !has_start(sc.w, sc.n, prev + 1) && !e->failed)
                sw_create(&s, prev + 1);
            if (!e->failed) {
                if (!combined)
                    sw_create(&s, 0);
                else
                    sw_update(&s, 0, combined->agg, combined->ts);
            }
        } else {
            /* The previous record's right window, if it is missing and this record falls in it. */
            if (has_prev && !has_start(sc.w, sc.n, prev + 1) && prev + 1 + d >= ts)
                sw_create(&s, prev + 1);
            /* This record's left window [ts - d, ts]. */
            if (!left_made && !e->failed) {
                if (has_prev && ts - d <= prev && left)
                    sw_update(&s, ts - d, left->agg, ts);
                else
                    sw_create(&s, ts - d);
            }
            /* This record's right window, when later records exist. */
            if (!right_made && right && right->ts > ts && !e->failed)
                sw_right(&s, right);
        }
    }
    for (int i = 0; i < sc.n; i++)
        ks_val_release(sc.w[i].agg);
    free(sc.w);
    free(keycopy);
    ks_buf_free(&s.kb);
}

typedef struct session {
    char *k;
    size_t kl;
    int64_t start, end;
    ks_val agg;
} session_t;

typedef struct session_scan {
    ks_engine_t *e;
    const ks_proc_t *p;
    const char *key; /* the key's bytes: an entry is the key's when it is these and end, start */
    size_t prefix;   /* their length */
    int64_t lo, hi;  /* sessions with end >= lo and start <= hi */
    session_t *s;
    int n;
    int bad;
} session_scan_t;

static int on_session(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    session_scan_t *sc = ud;
    int64_t start, end;
    if (ks__st_window_key_times(k, kl, sc->prefix, 1, &start, &end) || memcmp(k, sc->key, sc->prefix) != 0 ||
        end < sc->lo || start > sc->hi)
        return 0;
    ks_val agg;
    if (ks__st_dec_value(sc->e, sc->p, v, vl, &agg, NULL)) {
        sc->bad = 1;
        return 1;
    }
    KS_GROW(sc->s, sc->n);
    session_t *s = &sc->s[sc->n++];
    s->k = ks_xmalloc(kl);
    memcpy(s->k, k, kl);
    s->kl = kl;
    s->start = start;
    s->end = end;
    s->agg = agg;
    return 0;
}

void ks__st_agg_sessions(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    int64_t gap = p->state.window.size, ts = f->ts, stime = ks__st_observe(e, p, part, ts),
            close = stime - p->state.window.grace;
    ks__st_purge_windows(e, p, part, stime);
    ks_buf_t kb = {0}, hi = {0};
    if (!ks__st_store_key(e, f, p, &kb, key) || ks__st_begin(e)) {
        ks_buf_free(&kb);
        return;
    }
    /*
     * The key's sessions, in Kafka Streams' order (SessionKeySchema: end,
     * then start): from the key's bytes to them followed by 16 0xff bytes.
     */
    size_t keylen = kb.len;
    ks_buf_append(&hi, kb.data, keylen);
    for (int i = 0; i < 16; i++)
        ks_buf_putc(&hi, (char)0xff);
    char *keycopy = ks_xmalloc(keylen + 1);
    memcpy(keycopy, kb.data, keylen);
    session_scan_t sc = {e, p, keycopy, keylen, ts - gap, ts + gap, NULL, 0, 0};
    if (ks_store_range(e->st->stores, p->stores[0], part, kb.data, kb.len, hi.data, hi.len, on_session, &sc))
        ks__st_state_fatal(e, "reading a session store failed");
    int64_t ms = ts, me = ts;
    for (int i = 0; i < sc.n; i++) {
        ms = sc.s[i].start < ms ? sc.s[i].start : ms;
        me = sc.s[i].end > me ? sc.s[i].end : me;
    }
    ks_val agg = ks_invalid(), nw = ks_invalid();
    if (e->failed || sc.bad) {
        /* already reported */
    } else if (me < close) {
        e->stats.late++;
        e->stats.dropped++;
    } else if (ks__st_agg_init(e, f, p, &agg) == 0) {
        int ok = 1;
        for (int i = 0; i < sc.n && ok; i++) {
            ks_val m;
            ok = ks__st_agg_merge(e, f, p, agg, sc.s[i].agg, &m) == 0;
            if (ok) {
                ks_val_release(agg);
                agg = m;
            }
        }
        ks_val fkey = ks__st_windowed_key(key, ms, me);
        f->window = ks_val_retain(*ks_obj_get(fkey, "window", 6));
        if (ok && ks__st_agg_add(e, f, p, agg, value, &nw) == 0) {
            if (ms != ts || me != ts) {
                for (int i = 0; i < sc.n && !e->failed; i++) {
                    ks_val ok2 = ks__st_windowed_key(key, sc.s[i].start, sc.s[i].end);
                    /* Kafka Streams stamps a session's updates with the session's end. */
                    ks__st_write_through(e, p, part, sc.s[i].k, sc.s[i].kl, ok2, NULL, 0, 1, sc.s[i].end, NULL,
                                         ks_invalid());
                    ks_val_release(ok2);
                }
            }
            ks_buf_t vb = {0};
            char err[KS_ERRMSG_SIZE];
            ks__st_window_suffix(&kb, keylen, ms, me, 1);
            if (ks__st_enc_value(p, &vb, nw, me, err, sizeof err))
                ks__fail(e, f, "storing the value", err);
            else if (!e->failed)
                ks__st_write_through(e, p, part, kb.data, kb.len, fkey, vb.data, vb.len, 1, me, NULL, ks_invalid());
            ks_buf_free(&vb);
        }
        ks_val_release(f->window);
        f->window = ks_invalid();
        ks_val_release(fkey);
    }
    ks_val_release(agg);
    ks_val_release(nw);
    for (int i = 0; i < sc.n; i++) {
        free(sc.s[i].k);
        ks_val_release(sc.s[i].agg);
    }
    free(sc.s);
    free(keycopy);
    ks_buf_free(&kb);
    ks_buf_free(&hi);
}

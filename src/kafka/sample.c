/*
 * sample.c: the sample output records of the log (log.sample.interval.ms),
 * what `make demo` shows. Part of the stream thread (driver_int.h); loop
 * thread.
 */
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../serde/serde.h"
#include "../util/util.h"
#include "driver_int.h"

/*
 * One record of each output topic is logged every log.sample.interval.ms,
 * key and value decoded with the topic's serdes: what `make demo` shows of
 * what the services compute. Copying every record would cost the hot path;
 * instead a sample asks for one record (`want`), ks__on_emit copies the next
 * record to its topic, and ks__sample_tick logs it and asks again.
 */
typedef struct sample {
    const char *topic; /* the sink's topic: the topology's own string, which ks__on_emit receives */
    int owner;         /* index of the sample that holds this topic's record: the first sink to the topic */
    ks_serde_t key_serde, value_serde;
    int want, have;
    int key_null, value_null;
    ks_buf_t key, value;
} sample_t;

static void samples_init(stream_thread_t *st)
{
    const ks_topology_t *t = st->t;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SINK || p->is_repartition || p->io.dynamic_topic || !p->io.topic)
            continue;
        KS_GROW(st->samples, st->nsamples);
        sample_t *sm = &st->samples[st->nsamples++];
        memset(sm, 0, sizeof *sm);
        const ks_topic_conf_t *tc = ks_topology_topic(t, p->io.topic);
        sm->topic = p->io.topic;
        sm->key_serde = tc ? tc->key : KS_SERDE_STRING;
        sm->value_serde = tc ? tc->value : KS_SERDE_JSON;
        sm->owner = st->nsamples - 1;
        for (int k = 0; k < st->nsamples - 1 && sm->owner == st->nsamples - 1; k++)
            if (strcmp(st->samples[k].topic, p->io.topic) == 0)
                sm->owner = k;
        sm->want = 1;
    }
}

/* ks__on_emit: copies the record if its topic's sample asked for one. */
void ks__sample_capture(stream_thread_t *st, const ks_record_t *r)
{
    for (int i = 0; i < st->nsamples; i++) {
        if (st->samples[i].topic != r->topic)
            continue;
        sample_t *sm = &st->samples[st->samples[i].owner]; /* a topic fed by several sinks has one line */
        if (!sm->want)
            return;
        sm->key.len = sm->value.len = 0;
        sm->key_null = r->key == NULL;
        sm->value_null = r->value == NULL;
        if (r->key)
            ks_buf_append(&sm->key, r->key, r->key_len);
        if (r->value)
            ks_buf_append(&sm->value, r->value, r->value_len);
        sm->want = 0;
        sm->have = 1;
        return;
    }
}

/* `bytes` decoded with `serde`, as JSON text, or why it cannot be. */
static void sample_decode(ks_buf_t *out, ks_serde_t serde, const ks_buf_t *bytes, int is_null)
{
    ks_val v;
    char err[KS_ERRMSG_SIZE];
    if (ks_serde_decode(serde, is_null ? NULL : (bytes->data ? bytes->data : ""), bytes->len, &v, err, sizeof err)) {
        ks_buf_printf(out, "(not %s: %s)", ks_serde_name(serde), err);
        return;
    }
    ks_json_write(out, v);
    ks_val_release(v);
}

/* Every log.sample.interval.ms (from the 1 s poll timer): one line per output topic that had a record. */
void ks__sample_tick(stream_thread_t *st)
{
    if (st->conf->sample_interval_ms <= 0)
        return;
    uint64_t now = ks_now_ms();
    if (!st->samples && !st->last_sample_ms) {
        samples_init(st);
        st->last_sample_ms = now;
        return;
    }
    if (now - st->last_sample_ms < (uint64_t)st->conf->sample_interval_ms)
        return;
    st->last_sample_ms = now;
    ks_buf_t line = {0};
    for (int i = 0; i < st->nsamples; i++) {
        sample_t *sm = &st->samples[i];
        if (sm->owner != i || !sm->have) {
            sm->want = 1;
            continue;
        }
        line.len = 0;
        ks_buf_printf(&line, "%s: sample %s: key ", st->name, sm->topic);
        sample_decode(&line, sm->key_serde, &sm->key, sm->key_null);
        ks_buf_puts(&line, ", value ");
        sample_decode(&line, sm->value_serde, &sm->value, sm->value_null);
        ks_log(KS_LOG_INFO, "%.*s", (int)line.len, line.data);
        sm->have = 0;
        sm->want = 1;
    }
    ks_buf_free(&line);
}

void ks__samples_free(stream_thread_t *st)
{
    for (int i = 0; i < st->nsamples; i++) {
        ks_buf_free(&st->samples[i].key);
        ks_buf_free(&st->samples[i].value);
    }
    free(st->samples);
    st->samples = NULL;
    st->nsamples = 0;
}

/*
 * topic_names.c: every topic a topology names or makes must be a name Kafka
 * accepts (org.apache.kafka.common.internals.Topic#validate): letters,
 * digits, `.`, `_` and `-`, at most 249 characters, not `.` or `..`. The
 * check covers the topics written in the file and the ones kstreamd derives
 * from it (repartition, changelog and dead-letter topics), so that a name
 * the broker would refuse is an error of the file, found before connecting.
 */
#include <string.h>

#include "topology_int.h"

#define KS_TOPIC_MAX 249 /* Kafka's limit (Topic.MAX_NAME_LENGTH) */

/* Reports at `pos` why `name` is not a legal topic name, if it is not; `what` says which topic it is. */
static void check_one(load_t *L, const char *name, const char *what, ks_pos_t pos, const char *shorten)
{
    size_t len = strlen(name);
    const char *legal = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (len == 0)
        ks_diag_err(L->diags, pos.file, pos.line, pos.col, "%s has an empty name", what);
    else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        ks_diag_err(L->diags, pos.file, pos.line, pos.col, "%s `%s`: `.` and `..` are not legal Kafka topic names",
                    what, name);
    else if (strspn(name, legal) != len)
        ks_diag_err(L->diags, pos.file, pos.line, pos.col,
                    "%s `%s` is not a legal Kafka topic name: only ASCII letters, digits, `.`, `_` and `-` are allowed",
                    what, name);
    else if (len > KS_TOPIC_MAX)
        ks_diag_err(L->diags, pos.file, pos.line, pos.col, "%s `%s` is %zu characters long; Kafka allows at most %d%s",
                    what, name, len, KS_TOPIC_MAX, shorten ? shorten : "");
}

void ks__topo_check_topic_names(load_t *L)
{
    const ks_topology_t *t = L->t;
    const char *derived = ": shorten the application or the step's name";
    for (int i = 0; i < t->ntopics; i++)
        if (strncmp(t->topics[i].name, KS_GEN_TOPIC_PREFIX, strlen(KS_GEN_TOPIC_PREFIX)) !=
            0) /* serdes of a generate source */
            check_one(L, t->topics[i].name, "topic", t->topics[i].pos, NULL);
    for (int i = 0; i < t->ntables; i++)
        check_one(L, t->tables[i].topic, "the topic of a table", t->tables[i].pos, NULL);
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op == KS_OP_SOURCE && !p->gen.enabled && !p->is_repartition)
            for (int j = 0; j < p->io.ntopics; j++)
                check_one(L, p->io.topics[j], "source topic", p->pos, NULL);
        if (p->op == KS_OP_SINK && !p->io.dynamic_topic && p->io.topic)
            check_one(L, p->io.topic, p->is_repartition ? "the repartition topic" : "topic", p->pos,
                      p->is_repartition ? derived : NULL);
        for (int j = 0; p->changelogs && j < p->nstores; j++)
            if (p->changelogs[j])
                check_one(L, p->changelogs[j], "the changelog topic", p->pos,
                          ": shorten the application or the store's name");
    }
    ks_pos_t dlq = {t->file, 0, 0};
    for (int i = 0; i < t->nconfig; i++)
        if (strcmp(t->config_keys[i], "dlq.topic") == 0 && t->config_val_pos)
            dlq = t->config_val_pos[i];
    check_one(L, t->dlq_topic, "the dead-letter topic", dlq,
              dlq.line ? NULL : ": shorten the application or set dlq.topic");
}

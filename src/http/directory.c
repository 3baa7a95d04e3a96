/*
 * directory.c: the consumer group's description as the directory of
 * partition owners (directory.h).
 *
 * One DescribeConsumerGroups request is in flight at most; a timer asks
 * again a second after the last answer, ks_directory_refresh at once (or
 * as soon as the request in flight has answered). Its result replaces the
 * whole table: owners are never merged from two descriptions.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../kafka/kafka_int.h"
#include "../util/util.h"
#include "directory.h"

#define REFRESH_MS 1000
#define REQUEST_TIMEOUT_MS 5000

typedef struct owner {
    char *topic;
    int partition;
    int addr; /* index into addrs */
} owner_t;

struct ks_directory {
    uv_loop_t *loop;
    char *group;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int efd;
    uv_poll_t poll;
    uv_timer_t timer;
    int inflight, again;
    int have, stable; /* a description arrived; its group was stable */
    owner_t *owners;
    int nowners;
    char **addrs;
    int naddrs;
    int open_handles;
};

void ks_directory_client_id(char *buf, size_t len, const char *prefix, const char *server)
{
    if (server && *server)
        snprintf(buf, len, "%s-consumer@%s", prefix, server);
    else
        snprintf(buf, len, "%s-consumer", prefix);
}

static void clear_table(ks_directory_t *d)
{
    for (int i = 0; i < d->nowners; i++)
        free(d->owners[i].topic);
    free(d->owners);
    for (int i = 0; i < d->naddrs; i++)
        free(d->addrs[i]);
    free(d->addrs);
    d->owners = NULL;
    d->addrs = NULL;
    d->nowners = d->naddrs = 0;
}

static int address_index(ks_directory_t *d, const char *a)
{
    for (int i = 0; i < d->naddrs; i++)
        if (strcmp(d->addrs[i], a) == 0)
            return i;
    d->addrs = ks_xrealloc(d->addrs, (size_t)(d->naddrs + 1) * sizeof *d->addrs);
    d->addrs[d->naddrs] = ks_xstrdup(a);
    return d->naddrs++;
}

static void take_description(ks_directory_t *d, const rd_kafka_ConsumerGroupDescription_t *g)
{
    clear_table(d);
    d->have = 1;
    d->stable = rd_kafka_ConsumerGroupDescription_state(g) == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE;
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(g);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(g, i);
        const char *cid = rd_kafka_MemberDescription_client_id(m);
        const char *at = cid ? strrchr(cid, '@') : NULL;
        if (!at || !at[1])
            continue; /* a member that serves no queries */
        int a = address_index(d, at + 1);
        const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(m);
        const rd_kafka_topic_partition_list_t *parts = as ? rd_kafka_MemberAssignment_partitions(as) : NULL;
        for (int k = 0; parts && k < parts->cnt; k++) {
            d->owners = ks_xrealloc(d->owners, (size_t)(d->nowners + 1) * sizeof *d->owners);
            d->owners[d->nowners].topic = ks_xstrdup(parts->elems[k].topic);
            d->owners[d->nowners].partition = parts->elems[k].partition;
            d->owners[d->nowners].addr = a;
            d->nowners++;
        }
    }
}

static void describe(ks_directory_t *d)
{
    if (d->inflight) {
        d->again = 1;
        return;
    }
    char e[512];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(d->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_AdminOptions_set_request_timeout(o, REQUEST_TIMEOUT_MS, e, sizeof e);
    const char *groups[1] = {d->group};
    rd_kafka_DescribeConsumerGroups(d->rk, groups, 1, o, d->q);
    rd_kafka_AdminOptions_destroy(o);
    d->inflight = 1;
    d->again = 0;
}

static void on_result(ks_directory_t *d, rd_kafka_event_t *ev)
{
    d->inflight = 0;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT && !rd_kafka_event_error(ev)) {
        size_t n = 0;
        const rd_kafka_ConsumerGroupDescription_t **gs =
            rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        if (n == 1 && !rd_kafka_ConsumerGroupDescription_error(gs[0]))
            take_description(d, gs[0]);
        else
            ks_log(KS_LOG_DEBUG, "query routing: describing group %s: %s", d->group,
                   n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(gs[0])) : "no description");
    } else {
        /* The last description stays: a peer it names wrongly answers 503, never a wrong value. */
        ks_log(KS_LOG_DEBUG, "query routing: describing group %s: %s", d->group, rd_kafka_event_error_string(ev));
    }
    if (d->again)
        describe(d);
}

static void on_queue(uv_poll_t *h, int status, int events)
{
    ks_directory_t *d = h->data;
    uint64_t x;
    if (read(d->efd, &x, sizeof x) < 0) {
        /* Nothing to read (EAGAIN): the queue is polled all the same. */
    }
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(d->q, 0))) {
        on_result(d, ev);
        rd_kafka_event_destroy(ev);
    }
}

static void on_timer(uv_timer_t *h)
{
    ks_directory_t *d = h->data;
    rd_kafka_poll(d->rk, 0); /* the client's own callbacks: logs, errors */
    if (!d->inflight)
        describe(d);
}

ks_directory_t *ks_directory_new(uv_loop_t *loop, const char *group, const ks_runtime_conf_t *conf,
                                 const char *bootstrap, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = ks__client_conf(conf, bootstrap, err, errlen);
    if (!c)
        return NULL;
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "query routing: cannot create the admin client: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    ks_directory_t *d = ks_xcalloc(1, sizeof *d);
    d->loop = loop;
    d->group = ks_xstrdup(group);
    d->rk = rk;
    d->q = rd_kafka_queue_new(rk);
    d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rd_kafka_queue_io_event_enable(d->q, d->efd, "\1\0\0\0\0\0\0\0", 8);
    uv_poll_init(loop, &d->poll, d->efd);
    d->poll.data = d;
    uv_poll_start(&d->poll, UV_READABLE, on_queue);
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_timer, REFRESH_MS, REFRESH_MS);
    d->open_handles = 2;
    describe(d);
    return d;
}

static void handle_closed(uv_handle_t *h)
{
    ks_directory_t *d = h->data;
    if (--d->open_handles > 0)
        return;
    close(d->efd);
    clear_table(d);
    free(d->group);
    free(d);
}

void ks_directory_close(ks_directory_t *d)
{
    if (!d)
        return;
    uv_timer_stop(&d->timer);
    uv_poll_stop(&d->poll);
    rd_kafka_queue_io_event_enable(d->q, -1, NULL, 0);
    rd_kafka_queue_destroy(d->q);
    rd_kafka_destroy(d->rk);
    d->q = NULL;
    d->rk = NULL;
    uv_close((uv_handle_t *)&d->timer, handle_closed);
    uv_close((uv_handle_t *)&d->poll, handle_closed);
}

const char *ks_directory_owner(const ks_directory_t *d, const char *topic, int partition)
{
    if (!d->have || !d->stable)
        return NULL;
    for (int i = 0; i < d->nowners; i++)
        if (d->owners[i].partition == partition && strcmp(d->owners[i].topic, topic) == 0)
            return d->addrs[d->owners[i].addr];
    return NULL;
}

int ks_directory_addresses(const ks_directory_t *d, const char *const **addrs)
{
    *addrs = (const char *const *)d->addrs;
    return d->naddrs;
}

int ks_directory_stable(const ks_directory_t *d)
{
    return d->have && d->stable;
}

void ks_directory_refresh(ks_directory_t *d)
{
    describe(d);
}

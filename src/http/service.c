/*
 * service.c: the query service's dispatch table and its operational
 * endpoints: /health (live unless a service failed), /ready (every
 * application RUNNING in Kafka Streams' sense) and /v1/topology (the
 * describe JSON of the running services). The store queries are in
 * query.c.
 */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../kafka/kafka.h"
#include "../kafka/status.h"
#include "../util/log.h"
#include "../util/util.h"
#include "service_int.h"

static void on_health(ks_http_req_t *req, void *ud);
static void on_ready(ks_http_req_t *req, void *ud);
static void on_topology(ks_http_req_t *req, void *ud);

/* The dispatch table: the first row whose path matches serves the request. /metrics (KS_EP_METRICS) goes here. */
static const ks_http_route_t routes[] = {
    {"/health", 0, KS_EP_HEALTH, on_health},          {"/ready", 0, KS_EP_READY, on_ready},
    {"/v1/topology", 0, KS_EP_TOPOLOGY, on_topology}, {"/v1/stores", 0, KS_EP_STORES, ks__query_list},
    {"/v1/stores/", 1, KS_EP_SCAN, ks__query_store},  {"/v1/apps/", 1, KS_EP_STORES, ks__query_app},
    {"/metrics", 0, KS_EP_METRICS, ks__metrics_page},
};

/* The applications' states as a JSON array; returns the number that are not RUNNING, and in `why` the first's. */
static int write_states(ks_query_service_t *svc, ks_buf_t *b, int *failed, char *why, size_t whylen)
{
    int not_running = 0;
    *failed = 0;
    ks_buf_puts(b, "\"applications\":[");
    for (int i = 0; i < svc->napps; i++) {
        char reason[600];
        ks_client_state_t s = ks_status_state(svc->apps[i].t, reason, sizeof reason);
        ks_buf_printf(b, "%s{\"application\":", i ? "," : "");
        ks_json_write_str(b, svc->apps[i].t->application, strlen(svc->apps[i].t->application));
        ks_buf_printf(b, ",\"state\":\"%s\"", ks_client_state_name(s));
        if (*reason) {
            ks_buf_puts(b, ",\"reason\":");
            ks_json_write_str(b, reason, strlen(reason));
        }
        ks_buf_putc(b, '}');
        if (s == KS_CLIENT_ERROR)
            (*failed)++;
        if (s != KS_CLIENT_RUNNING && not_running++ == 0)
            snprintf(why, whylen, "%s is %s: %s", svc->apps[i].t->application, ks_client_state_name(s), reason);
    }
    ks_buf_putc(b, ']');
    return not_running;
}

static void on_health(ks_http_req_t *req, void *ud)
{
    ks_buf_t b = {0};
    char why[800] = "";
    int failed;
    ks_buf_puts(&b, "{\"status\":\"");
    size_t at = b.len;
    ks_buf_puts(&b, "UP\",");
    write_states(ud, &b, &failed, why, sizeof why);
    ks_buf_putc(&b, '}');
    if (failed) {
        /* "DOWN" is as long as "UP" plus two: rewrite the head. */
        ks_buf_t d = {0};
        ks_buf_puts(&d, "{\"status\":\"DOWN\",");
        ks_buf_append(&d, b.data + at + 4, b.len - at - 4);
        ks_http_reply(req, 503, NULL, d.data, d.len);
        ks_buf_free(&d);
    } else {
        ks_http_reply(req, 200, NULL, b.data, b.len);
    }
    ks_buf_free(&b);
}

static void on_ready(ks_http_req_t *req, void *ud)
{
    ks_buf_t b = {0};
    char why[800] = "";
    int failed;
    ks_buf_t states = {0};
    int not_running = write_states(ud, &states, &failed, why, sizeof why);
    if (not_running) {
        ks_buf_puts(&b, "{\"status\":\"NOT_READY\",\"reason\":");
        ks_json_write_str(&b, why, strlen(why));
        ks_buf_putc(&b, ',');
    } else {
        ks_buf_puts(&b, "{\"status\":\"READY\",");
    }
    ks_buf_append(&b, states.data, states.len);
    ks_buf_putc(&b, '}');
    ks_http_reply(req, not_running ? 503 : 200, not_running ? "Retry-After: 1\r\n" : NULL, b.data, b.len);
    ks_buf_free(&b);
    ks_buf_free(&states);
}

static void on_topology(ks_http_req_t *req, void *ud)
{
    ks_query_service_t *svc = ud;
    ks_buf_t b = {0};
    ks_buf_puts(&b, "{\"topologies\":[");
    for (int i = 0; i < svc->napps; i++) {
        if (i)
            ks_buf_putc(&b, ',');
        ks_buf_puts(&b, svc->apps[i].describe);
    }
    ks_buf_puts(&b, "]}");
    ks_http_reply(req, 200, NULL, b.data, b.len);
    ks_buf_free(&b);
}

/*
 * Every half second until it has said both: a log line once every
 * application is RUNNING, with a curl of /v1/stores, then one with a
 * lookup of a key that exists (the stores may still be empty at READY;
 * it gives up after a minute).
 */
static void on_ready_tick(uv_timer_t *h)
{
    ks_query_service_t *svc = h->data;
    const char *addr = ks_http_server_address(svc->srv);
    if (!svc->said_ready) {
        for (int i = 0; i < svc->napps; i++)
            if (ks_status_state(svc->apps[i].t, NULL, 0) != KS_CLIENT_RUNNING)
                return;
        ks_log(KS_LOG_INFO, "ready: every service is RUNNING; its stores: curl -s http://%s/v1/stores", addr);
        svc->said_ready = 1;
        if (svc->nstores == 0) {
            uv_timer_stop(h);
            return;
        }
    }
    ks_buf_t path = {0};
    if (ks__query_example(svc, &path)) {
        ks_log(KS_LOG_INFO, "ready: look a key up: curl -s http://%s%s", addr, path.data);
        uv_timer_stop(h);
    } else if (++svc->ticks > 120) {
        uv_timer_stop(h);
    }
    ks_buf_free(&path);
}

/* Topology#describe() as one line of JSON (caller frees). */
static char *describe_json(const ks_topology_t *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort(); /* open_memstream fails only without memory */
    ks_topology_describe(t, KS_DESCRIBE_JSON, f);
    fclose(f);
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        text[--len] = 0;
    return text;
}

int ks_query_service_start(ks_topology_t *const *ts, int n, const ks_runtime_conf_t *confs, ks_query_service_t **out,
                           char *err, size_t errlen)
{
    *out = NULL;
    int *nthreads = ks_xcalloc((size_t)n, sizeof *nthreads);
    for (int i = 0; i < n; i++)
        nthreads[i] = confs[i].num_stream_threads;
    ks_status_register(ts, n, nthreads);
    free(nthreads);
    const char *listen = confs[0].query_listen;
    if (!listen || strcmp(listen, "off") == 0)
        return 0;
    ks_query_service_t *svc = ks_xcalloc(1, sizeof *svc);
    svc->apps = ks_xcalloc((size_t)n, sizeof *svc->apps);
    svc->napps = n;
    for (int i = 0; i < n; i++) {
        svc->apps[i].t = ts[i];
        svc->apps[i].conf = &confs[i];
        svc->apps[i].describe = describe_json(ts[i]);
        svc->apps[i].svc = svc;
    }
    ks__query_find_stores(svc);
    svc->srv = ks_http_server_new(listen, routes, (int)(sizeof routes / sizeof routes[0]), svc, err, errlen);
    if (svc->srv && ks__routing_start(svc, err, errlen)) {
        ks_query_service_stop(svc); /* the stop runs the loop: the routing's handles close there */
        return -1;
    }
    if (svc->srv) {
        ks_http_server_on_stop(svc->srv, ks__routing_close, svc);
        ks_kafka_set_application_server(svc->self);
        uv_timer_init(ks_http_server_loop(svc->srv), &svc->ready_timer);
        svc->ready_timer.data = svc;
        uv_timer_start(&svc->ready_timer, on_ready_tick, 500, 500);
    }
    if (!svc->srv || ks_http_server_start(svc->srv, err, errlen)) {
        ks_query_service_stop(svc);
        return -1;
    }
    ks_log(KS_LOG_INFO, "query server listening on http://%s (%d queryable store%s)", ks_http_server_address(svc->srv),
           svc->nstores, svc->nstores == 1 ? "" : "s");
    *out = svc;
    return 0;
}

const char *ks_query_service_address(const ks_query_service_t *svc)
{
    return ks_http_server_address(svc->srv);
}

void ks_query_service_stop(ks_query_service_t *svc)
{
    if (!svc)
        return;
    ks_http_server_stop(svc->srv); /* the thread has ended: the handles are ours again */
    ks__query_close(svc);
    for (int i = 0; i < svc->napps; i++)
        free(svc->apps[i].describe);
    free(svc->apps);
    free(svc->stores);
    free(svc);
}

/*
 * service_int.h: shared between the files of the query service: service.c
 * (the dispatch table, /health, /ready, /v1/topology, start and stop),
 * query.c (the store queries) and route.c (requests for partitions this
 * process does not hold). Every function runs on the server's loop thread.
 */
#ifndef KS_HTTP_SERVICE_INT_H
#define KS_HTTP_SERVICE_INT_H

#include "../engine/store_codec.h"
#include "../store/store.h"
#include "service.h"
#include "server.h"

/* An application of the process, as the service sees it. */
typedef struct ks_query_app {
    const ks_topology_t *t;
    const ks_runtime_conf_t *conf;
    ks_stores_t *stores;        /* read-only handle of its stores' environment; opened at the first query */
    ks_stores_t *global_stores; /* the same for its global tables */
    char *describe;             /* its Topology#describe() JSON, made at start */
    struct ks_query_service *svc;
    struct ks_directory *dir; /* who owns its partitions (route.c); NULL: nothing is routed */
} ks_query_app_t;

/* A queryable store. */
typedef struct ks_query_store {
    ks_query_app_t *app;
    const char *name;         /* the store's name (the topology's) */
    ks_store_layout_t layout; /* its kind, window size and the processor whose serdes it has */
    const char *kind;         /* "key-value", "window" or "session" */
    int global;               /* a global table's store: every partition is here, in one database */
    int sub;                  /* the sub-topology whose tasks hold its partitions */
} ks_query_store_t;

struct ks_query_service {
    ks_http_server_t *srv;
    uv_timer_t ready_timer; /* until the first READY and the first example lookup are logged */
    int said_ready;         /* the READY line is logged */
    int ticks;              /* of ready_timer since READY */
    ks_query_app_t *apps;
    int napps;
    ks_query_store_t *stores;
    int nstores;
    char self[300];             /* the address this instance advertises (application.server) */
    struct ks_proxy_pool *pool; /* connections to the other instances (route.c); NULL: nothing is routed */
};

/* query.c: GET /v1/stores, /v1/stores/..., /v1/apps/... (ud: the service). */
void ks__query_list(ks_http_req_t *req, void *ud);
void ks__query_store(ks_http_req_t *req, void *ud);
void ks__query_app(ks_http_req_t *req, void *ud);
/*
 * query.c: the path of a lookup that finds a key (the first key of the
 * first key-value store with one), for the log line that shows a working
 * curl. Returns 1 with the path appended to `path`, or 0 when every store
 * is empty.
 */
int ks__query_example(ks_query_service_t *svc, ks_buf_t *path);
/* query.c: a scan's cursor: key bytes as base64url (no padding), and back (0, or -1 when it is not one). */
void ks__cursor_encode(ks_buf_t *b, const unsigned char *k, size_t n);
int ks__cursor_decode(const char *s, ks_buf_t *out);
/* query.c: the service's queryable stores (at start) and the read handles (at stop). */
void ks__query_find_stores(ks_query_service_t *svc);
void ks__query_close(ks_query_service_t *svc);

/*
 * route.c: answers a request that needs partition `partition` of `store`
 * (-1: several, a scan) while this process does not hold it. This is the
 * one place that decides what happens then.
 */
void ks__query_not_local(ks_http_req_t *req, const ks_query_store_t *store, int32_t partition, int part_of_scan);

/*
 * route.c: the address to advertise, the proxy pool and a directory per
 * application whose stores are partitioned; at the server's stop (its
 * loop's thread, ks_http_server_on_stop), their close. Returns 0, or -1
 * with a message. @locality the main thread, before the server starts.
 */
int ks__routing_start(ks_query_service_t *svc, char *err, size_t errlen);
void ks__routing_close(void *svc);

/* metrics_page.c: GET /metrics. */
void ks__metrics_page(ks_http_req_t *req, void *ud);

#endif

/*
 * service.h: kstreamd's query service, the one HTTP server of a process
 * (query.listen), whatever the number of services it runs: /health,
 * /ready, /v1/topology and the queries of every queryable store
 * (/v1/stores..., /v1/apps/{application}/stores/...). See README.md,
 * "Interactive queries", for the endpoints and their JSON.
 *
 * It reads the applications' status (src/kafka/status.h) and their state
 * stores through read-only LMDB handles of the stream threads'
 * environments, on the server's own thread (src/http/server.h).
 */
#ifndef KS_HTTP_SERVICE_H
#define KS_HTTP_SERVICE_H

#include <stddef.h>

#include "../kafka/runtime.h"
#include "../topology/topology.h"

typedef struct ks_query_service ks_query_service_t;

/*
 * Starts the service on confs[0].query_listen (the topologies agree on it:
 * ks_runtime_conf_check_together) and logs "query server listening on
 * http://HOST:PORT" with the port bound (query.listen with port 0 takes an
 * ephemeral one). `off` starts nothing: *out is NULL and 0 is returned.
 * Returns 0, or -1 with a message (the address cannot be bound: a fatal
 * error for the caller).
 * @locality the main thread, before ks_kafka_run; it registers the
 *           applications' status (ks_status_register).
 * @ownership borrows `ts` and `confs` until ks_query_service_stop.
 */
int ks_query_service_start(ks_topology_t *const *ts, int n, const ks_runtime_conf_t *confs, ks_query_service_t **out,
                           char *err, size_t errlen);
/* The address the server is bound to, "HOST:PORT" (the service's). Any thread. */
const char *ks_query_service_address(const ks_query_service_t *svc);
/* Stops the server and frees the service; NULL is allowed. @locality the main thread, after ks_kafka_run. */
void ks_query_service_stop(ks_query_service_t *svc);

#endif

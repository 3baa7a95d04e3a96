/*
 * route.c: what a request gets when the partition its key belongs to (or
 * one of the partitions a scan covers) is not held by this process: another
 * instance of the application holds it, or nobody does while the group
 * rebalances.
 *
 * Today the answer is 503 with Retry-After: the client asks again, or asks
 * the instance that holds the key. This function is the one place to
 * change when requests are forwarded to the owner (a proxy on the server's
 * loop, which replies later: see server.h) or redirected to it with a 307.
 */
#include <stdio.h>

#include "service_int.h"

void ks__query_not_local(ks_http_req_t *req, const ks_query_store_t *store, int32_t partition)
{
    if (partition >= 0)
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "partition %d of store `%s` (application %s) is not held by this instance", (int)partition,
                            store->name, store->app->t->application);
    else
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "store `%s` (application %s): not every partition is held by this instance", store->name,
                            store->app->t->application);
}

/*
 * server.h: a small HTTP/1.1 server on its own thread and its own libuv
 * loop, so that the stream threads' loops never serve a request. Requests
 * are parsed with http_parser (Debian's libhttp-parser, the parser Node.js
 * used on libuv); responses are JSON. Connections are kept alive.
 *
 * Everything is bounded: the request line and headers (KS_HTTP_MAX_HEAD
 * bytes: a longer URL is 414, longer headers 431), no body (413), at most
 * KS_HTTP_MAX_CONNECTIONS connections (the next one gets 503 and is closed),
 * a header timeout (a request's headers must be complete within
 * KS_HTTP_HEADER_TIMEOUT_MS of its first byte: a client trickling headers,
 * slowloris, is closed) and an idle timeout between requests. Malformed
 * requests get 400, an unknown path 404, a method other than GET 405 with
 * `Allow: GET`.
 *
 * The handler API. A route is a row {path, prefix?, endpoint, handler}; the
 * server finds the row for a request's path and calls its handler on the
 * server's loop thread with the request. The handler answers with
 * ks_http_reply() (or ks_http_reply_error()), either before it returns or
 * LATER: it may keep the request, start work on the server's loop
 * (ks_http_server_loop(): timers, a TCP connection to a peer to proxy to) and
 * reply from a callback on that loop. Until the reply, the connection reads
 * no further request (pipelined requests wait their turn). If the client
 * goes away first, the request stays valid and its reply is dropped. Every
 * request must be replied to exactly once; the reply frees it.
 *
 * Statistics: request counts per endpoint and status, and a latency
 * histogram per endpoint (from the request's headers complete to its reply
 * written), kept in atomics: ks_http_server_stats() reads them from any
 * thread (for /metrics).
 */
#ifndef KS_HTTP_SERVER_H
#define KS_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define KS_HTTP_MAX_HEAD 8192          /* request line and headers, bytes */
#define KS_HTTP_MAX_CONNECTIONS 1024   /* open connections; the next gets 503 */
#define KS_HTTP_HEADER_TIMEOUT_MS 5000 /* from a request's first byte to its headers' end */
#define KS_HTTP_IDLE_TIMEOUT_MS 10000  /* a connection with no request in progress */

typedef struct ks_http_server ks_http_server_t;
typedef struct ks_http_req ks_http_req_t;

/*
 * The endpoints counted apart in the statistics. A route names its own; a
 * request that matches no route counts as KS_EP_UNKNOWN, one refused before
 * routing (400, 413, 414, 431, 503 at the connection limit) as
 * KS_EP_REFUSED. KS_EP_METRICS is the lead's /metrics.
 */
#define KS_HTTP_ENDPOINTS(X)                                                                                           \
    X(STORES, "/v1/stores")                                                                                            \
    X(SCAN, "/v1/stores/{store}")                                                                                      \
    X(KEY, "/v1/stores/{store}/keys/{key}")                                                                            \
    X(WINDOWS, "/v1/stores/{store}/keys/{key}/windows")                                                                \
    X(TOPOLOGY, "/v1/topology")                                                                                        \
    X(HEALTH, "/health")                                                                                               \
    X(READY, "/ready")                                                                                                 \
    X(METRICS, "/metrics")                                                                                             \
    X(UNKNOWN, "unknown")                                                                                              \
    X(REFUSED, "refused")
typedef enum {
#define X(id, name) KS_EP_##id,
    KS_HTTP_ENDPOINTS(X)
#undef X
        KS_EP__COUNT
} ks_http_endpoint_t;

/* The statuses counted apart; any other counts as KS_ST_OTHER. */
#define KS_HTTP_STATUSES(X) X(200) X(307) X(400) X(404) X(405) X(413) X(414) X(431) X(500) X(502) X(503) X(504)
typedef enum {
#define X(code) KS_ST_##code,
    KS_HTTP_STATUSES(X)
#undef X
        KS_ST_OTHER,
    KS_ST__COUNT
} ks_http_status_slot_t;

/* Upper bounds of the latency histogram's buckets, in microseconds (a last bucket, +Inf, follows). */
#define KS_HTTP_LATENCY_BOUNDS_US                                                                                      \
    {                                                                                                                  \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000                                  \
    }
#define KS_HTTP_NBUCKETS 13 /* the bounds above and +Inf */

/* A copy of the statistics (ks_http_server_stats). Buckets are not cumulative. */
typedef struct ks_http_stats {
    uint64_t requests[KS_EP__COUNT][KS_ST__COUNT];    /* replies written, by endpoint and status */
    uint64_t latency[KS_EP__COUNT][KS_HTTP_NBUCKETS]; /* replies by latency bucket */
    uint64_t latency_sum_us[KS_EP__COUNT];            /* total latency */
    uint64_t connections_open;                        /* connections now open */
    uint64_t connections_refused;                     /* closed with 503 at the connection limit */
    uint64_t connections_timed_out;                   /* closed by the header or idle timeout */
} ks_http_stats_t;

/* The name of an endpoint (its path pattern) and the code of a status slot (0 for KS_ST_OTHER). Any thread. */
const char *ks_http_endpoint_name(ks_http_endpoint_t ep);
int ks_http_status_code(ks_http_status_slot_t slot);

/*
 * A handler: answers `req` now or later with ks_http_reply. `ud` is the
 * server's user data (ks_http_server_new). @locality the server's loop
 * thread. @ownership `req` is the server's until replied to.
 */
typedef void (*ks_http_handler_fn)(ks_http_req_t *req, void *ud);

/* A row of the dispatch table: `path` exactly, or any path starting with it when `prefix` is set. */
typedef struct ks_http_route {
    const char *path;
    int prefix;
    ks_http_endpoint_t endpoint;
    ks_http_handler_fn handler;
} ks_http_route_t;

/*
 * Binds and listens on `listen` (HOST:PORT, IPv4 or [IPv6]; port 0: an
 * ephemeral port, see ks_http_server_address) with the dispatch table
 * `routes` (borrowed: it must outlive the server), without serving yet.
 * Returns the server, or NULL with a message in `err` (the address does not
 * parse, or the bind or listen fails: "127.0.0.1:7070: address already in
 * use").
 * @locality the main thread, before ks_http_server_start.
 */
ks_http_server_t *ks_http_server_new(const char *listen, const ks_http_route_t *routes, int nroutes, void *ud,
                                     char *err, size_t errlen);
/* The bound address, "HOST:PORT" with the real port (static in the server). Any thread. */
const char *ks_http_server_address(const ks_http_server_t *srv);
/* Starts the server's thread, which runs its loop. Returns 0, or -1 with a message. @locality the main thread. */
int ks_http_server_start(ks_http_server_t *srv, char *err, size_t errlen);
/*
 * Stops serving: closes the listener and every connection, then every
 * other handle of the loop (uv_close without a callback: a handle a handler
 * started must be embedded in memory that outlives the loop, or be closed
 * by its owner first), ends the thread and frees the server. Requests not
 * replied to by then are dropped.
 * @locality the main thread (the one that started it); NULL is allowed.
 */
void ks_http_server_stop(ks_http_server_t *srv);
/*
 * Sets what the stop calls on the loop's thread before the loop's last
 * handles close: the handlers' own resources there (a proxy's connections,
 * an admin client) close with their own callbacks. @locality the main
 * thread, before ks_http_server_start.
 */
void ks_http_server_on_stop(ks_http_server_t *srv, void (*fn)(void *ud), void *ud);
/* The server's loop, for work a handler starts (a timer, a proxied request). @locality the loop's thread. */
uv_loop_t *ks_http_server_loop(ks_http_server_t *srv);
/* Copies the statistics into `out`. @locality any thread (relaxed atomic reads). */
void ks_http_server_stats(const ks_http_server_t *srv, ks_http_stats_t *out);

/*
 * The request, for its handler. Strings are the server's, valid until the
 * reply: the method ("GET"), the path (not decoded, without the query), the
 * raw query string (after `?`, "" when none), a header by name
 * (case-insensitive; NULL when absent), and a query parameter by name,
 * percent-decoded into `out` (returns its length, -1 when absent, -2 when it
 * does not decode or fit; the first occurrence wins).
 */
ks_http_server_t *ks_http_req_server(const ks_http_req_t *req);
const char *ks_http_req_method(const ks_http_req_t *req);
const char *ks_http_req_path(const ks_http_req_t *req);
const char *ks_http_req_query(const ks_http_req_t *req);
const char *ks_http_req_header(const ks_http_req_t *req, const char *name);
int ks_http_req_param(const ks_http_req_t *req, const char *name, char *out, size_t outlen);
/* Counts the request under `ep` rather than its route's endpoint (a route serving several). */
void ks_http_req_set_endpoint(ks_http_req_t *req, ks_http_endpoint_t ep);
/* Whether the client is still connected (a reply to a gone client is dropped). */
int ks_http_req_connected(const ks_http_req_t *req);

/*
 * Percent-decodes s[0..len) into `out` (NUL-terminated; `+` stays `+`: path
 * segments and our parameters are not form-encoded). Returns the decoded
 * length, or -1 for a bad escape or when it does not fit. Any thread.
 */
int ks_http_percent_decode(const char *s, size_t len, char *out, size_t outlen);

/*
 * Answers `req` with `status`, a JSON `body` of `len` bytes (copied) and
 * `headers`, extra header lines each ending in "\r\n" (NULL: none), then
 * frees the request. @locality the server's loop thread: the handler, or a
 * callback the handler's work runs on that loop.
 */
void ks_http_reply(ks_http_req_t *req, int status, const char *headers, const char *body, size_t len);
/* The same with another Content-Type than application/json (the metrics' text format, a peer's response). */
void ks_http_reply_as(ks_http_req_t *req, int status, const char *ctype, const char *headers, const char *body,
                      size_t len);
/* Answers {"error": message} with `status` (message as printf). */
void ks_http_reply_error(ks_http_req_t *req, int status, const char *headers, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

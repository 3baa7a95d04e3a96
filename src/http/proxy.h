/*
 * proxy.h: the query server's HTTP client, for requests another instance
 * answers: a GET to a peer's address on the server's libuv loop, with
 * keep-alive connections kept per peer, a timeout, and the response's
 * status, content type, Retry-After and body handed to a callback.
 *
 * @locality: every function runs on the loop the pool was made with, and
 * the callbacks are called there.
 * @ownership: strings passed in are copied; what a callback gets is valid
 * during the call only.
 */
#ifndef KS_HTTP_PROXY_H
#define KS_HTTP_PROXY_H

#include <stddef.h>
#include <uv.h>

/* The header that marks a request as proxied once: an instance that gets it never proxies it again. */
#define KS_FORWARDED_HEADER "X-Kstreamd-Forwarded"

typedef struct ks_proxy_pool ks_proxy_pool_t;

typedef struct ks_proxy_response {
    int status;              /* the peer's status; 0 when no response came (error says why) */
    const char *error;       /* NULL, or why no response came: connection refused, timeout, malformed */
    const char *ctype;       /* the peer's Content-Type, or NULL */
    const char *retry_after; /* the peer's Retry-After, or NULL */
    const char *body;
    size_t body_len;
} ks_proxy_response_t;

typedef void (*ks_proxy_cb)(void *ud, const ks_proxy_response_t *res);

/* A pool on `loop`: idle connections per peer, at most `max_idle` each. */
ks_proxy_pool_t *ks_proxy_pool_new(uv_loop_t *loop, int max_idle);
/*
 * Closes every connection; requests in flight get their callback with an
 * error first. The pool is freed once its handles have closed (run the
 * loop after this call).
 */
void ks_proxy_pool_close(ks_proxy_pool_t *p);

/*
 * GETs `target` (a path with its query string) from `address` (HOST:PORT;
 * an IPv4 or IPv6 literal, or a name resolved through the loop's
 * getaddrinfo), with the forwarded header; cb is called exactly once,
 * within timeout_ms. Returns 0, or -1 when `address` is malformed (cb is
 * then not called).
 */
int ks_proxy_get(ks_proxy_pool_t *p, const char *address, const char *target, int timeout_ms, ks_proxy_cb cb, void *ud);

/* Responses larger than this are refused by the client (a scan's page is bounded well below it). */
#define KS_PROXY_MAX_BODY (64u << 20)

#endif

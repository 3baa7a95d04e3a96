/*
 * proxy.c: a small HTTP/1.1 client on libuv for proxied queries (proxy.h).
 *
 * A request takes an idle connection to its peer or opens one (resolving a
 * name first when the address is not a literal), writes one GET, and reads
 * the response with http_parser. A reused connection the peer had closed
 * meanwhile (its idle timeout) fails before any byte of the response: the
 * request is then sent once more on a new connection. A complete response
 * on a keep-alive connection returns the connection to its peer's idle
 * list; anything else closes it.
 *
 * Every handle belongs to a struct freed in the handle's close callback;
 * the pool counts its open handles and frees itself after the last one
 * once it is closing.
 */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/util.h"
#include "proxy.h"

typedef struct peer peer_t;
typedef struct conn conn_t;
typedef struct request request_t;

struct conn {
    uv_tcp_t tcp;
    ks_proxy_pool_t *pool;
    peer_t *peer;
    request_t *req;     /* the request it serves; NULL while idle */
    http_parser parser; /* HTTP_RESPONSE */
    int reused;         /* it served a request before this one */
    int got_bytes;      /* a byte of this request's response came */
    int complete;       /* the response is complete */
    int header_is;      /* the header being read: 0 other, 1 Content-Type, 2 Retry-After */
    char ctype[128];    /* the response's Content-Type */
    char retry_after[32];
    ks_buf_t body;
    conn_t *next_idle;
    int closing;
};

struct request {
    ks_proxy_pool_t *pool;
    peer_t *peer;
    char *text; /* the request, written as is */
    size_t text_len;
    ks_proxy_cb cb;
    void *ud;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_write_t write;
    conn_t *conn;
    int retried;
    int done;         /* cb was called */
    int resolving;    /* a getaddrinfo is pending: its callback still reads the request */
    int timer_closed; /* the timer's handle closed: the request is freed once nothing else is pending */
    request_t *next;  /* in the pool's list of requests in flight */
};

struct peer {
    char *address; /* HOST:PORT as given */
    char *host, *port;
    conn_t *idle;
    int nidle;
    peer_t *next;
};

struct ks_proxy_pool {
    uv_loop_t *loop;
    int max_idle;
    peer_t *peers;
    request_t *inflight;
    int handles; /* open handles: connections' sockets and requests' timers */
    int closing;
};

static void maybe_free_pool(ks_proxy_pool_t *p)
{
    if (!p->closing || p->handles > 0)
        return;
    for (peer_t *pe = p->peers, *next; pe; pe = next) {
        next = pe->next;
        free(pe->address);
        free(pe->host);
        free(pe->port);
        free(pe);
    }
    free(p);
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    ks_proxy_pool_t *p = c->pool;
    ks_buf_free(&c->body);
    free(c);
    p->handles--;
    maybe_free_pool(p);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    /* Off the idle list, if it is there. */
    if (c->peer && !c->req) {
        for (conn_t **pp = &c->peer->idle; *pp; pp = &(*pp)->next_idle)
            if (*pp == c) {
                *pp = c->next_idle;
                c->peer->nidle--;
                break;
            }
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* ---- requests ---- */

static void send_request(request_t *r, conn_t *c);
static void open_connection(request_t *r);

/* Frees a request that is done, once its timer has closed and no name resolution still holds it. */
static void req_free_if_idle(request_t *r)
{
    if (!r->timer_closed || r->resolving)
        return;
    free(r->text);
    free(r);
}

static void req_timer_closed(uv_handle_t *h)
{
    request_t *r = h->data;
    ks_proxy_pool_t *p = r->pool;
    r->timer_closed = 1;
    req_free_if_idle(r);
    p->handles--;
    maybe_free_pool(p);
}

/* Calls the callback once, gives the connection back or closes it, and ends the request. */
static void req_finish(request_t *r, const ks_proxy_response_t *res)
{
    if (r->done)
        return;
    r->done = 1;
    for (request_t **pp = &r->pool->inflight; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->cb(r->ud, res);
    conn_t *c = r->conn;
    r->conn = NULL;
    if (c) {
        c->req = NULL;
        int keep = res->status && c->complete && http_should_keep_alive(&c->parser) && !r->pool->closing &&
                   c->peer->nidle < r->pool->max_idle && !c->closing;
        if (keep) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->next_idle = c->peer->idle;
            c->peer->idle = c;
            c->peer->nidle++;
        } else {
            conn_close(c);
        }
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, req_timer_closed);
}

static void req_fail(request_t *r, const char *why)
{
    ks_proxy_response_t res = {0};
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %s", r->peer->address, why);
    res.error = msg;
    req_finish(r, &res);
}

/* Detaches the request's connection and closes it (its struct stays readable until the loop's next turn). */
static void drop_conn(request_t *r)
{
    conn_t *c = r->conn;
    if (!c)
        return;
    r->conn = NULL;
    c->req = NULL;
    conn_close(c);
}

/* The request's connection failed: once more on a new connection when `retry` (and not retried yet), else fail. */
static void conn_failed(request_t *r, int retry, const char *why)
{
    drop_conn(r);
    if (retry && !r->retried) {
        r->retried = 1;
        open_connection(r);
        return;
    }
    req_fail(r, why);
}

static void on_timeout(uv_timer_t *h)
{
    request_t *r = h->data;
    drop_conn(r); /* a late response must not be read as the next request's */
    req_fail(r, "no response in time");
}

/* ---- the response ---- */

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    conn_t *c = hp->data;
    c->header_is = (len == 12 && strncasecmp(at, "Content-Type", 12) == 0)  ? 1
                   : (len == 11 && strncasecmp(at, "Retry-After", 11) == 0) ? 2
                                                                            : 0;
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    conn_t *c = hp->data;
    char *to = c->header_is == 1 ? c->ctype : c->header_is == 2 ? c->retry_after : NULL;
    size_t cap = c->header_is == 1 ? sizeof c->ctype : sizeof c->retry_after;
    if (to) {
        size_t have = strlen(to);
        size_t n = len < cap - 1 - have ? len : cap - 1 - have;
        memcpy(to + have, at, n);
        to[have + n] = 0;
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    conn_t *c = hp->data;
    if (c->body.len + len > KS_PROXY_MAX_BODY)
        return 1; /* stops the parser: the response is refused */
    ks_buf_append(&c->body, at, len);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    conn_t *c = hp->data;
    c->complete = 1;
    http_parser_pause(hp, 1); /* nothing after the response belongs to this request */
    return 0;
}

static const http_parser_settings response_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static __thread char slab[65536]; /* one read at a time per thread: the data is parsed before the next */
    buf->base = slab;
    buf->len = sizeof slab;
}

/* The response the connection has read, for the callback. */
static ks_proxy_response_t response_of(const conn_t *c)
{
    ks_proxy_response_t res = {0};
    res.status = c->parser.status_code;
    res.ctype = c->ctype[0] ? c->ctype : NULL;
    res.retry_after = c->retry_after[0] ? c->retry_after : NULL;
    res.body = c->body.data;
    res.body_len = c->body.len;
    return res;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    request_t *r = c->req;
    if (!r) {
        /* An idle connection: the peer closed it, or sent what no request asked for. */
        conn_close(c);
        return;
    }
    if (n < 0) {
        if (n == UV_EOF && !c->complete && c->got_bytes) {
            /* A response without a length ends with the connection. */
            http_parser_execute(&c->parser, &response_settings, NULL, 0);
            if (c->complete) {
                ks_proxy_response_t res = response_of(c);
                c->complete = 0; /* the connection is closing: not kept */
                req_finish(r, &res);
                return;
            }
        }
        /* A reused connection the peer had closed meanwhile: nothing of the response came. */
        conn_failed(r, c->reused && !c->got_bytes,
                    n == UV_EOF ? "the connection closed before the response ended" : uv_strerror((int)n));
        return;
    }
    if (n == 0)
        return;
    c->got_bytes = 1;
    size_t used = http_parser_execute(&c->parser, &response_settings, buf->base, (size_t)n);
    if (c->complete) {
        ks_proxy_response_t res = response_of(c);
        if (used < (size_t)n)
            c->complete = 0; /* bytes past the response: the connection cannot be trusted again */
        req_finish(r, &res);
        return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        const char *why = c->body.len + (size_t)n > KS_PROXY_MAX_BODY
                              ? "the response is too large"
                              : http_errno_description(HTTP_PARSER_ERRNO(&c->parser));
        conn_failed(r, 0, why);
    }
}

static void on_written(uv_write_t *w, int status)
{
    request_t *r = w->data;
    if (status < 0 && !r->done && r->conn)
        conn_failed(r, r->conn->reused, uv_strerror(status));
}

static void send_request(request_t *r, conn_t *c)
{
    r->conn = c;
    c->req = r;
    c->got_bytes = c->complete = 0;
    c->ctype[0] = c->retry_after[0] = 0;
    c->body.len = 0;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    uv_buf_t b = uv_buf_init(r->text, (unsigned)r->text_len);
    r->write.data = r;
    int e = uv_write(&r->write, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (e)
        conn_failed(r, 0, uv_strerror(e));
}

static void on_connected(uv_connect_t *cr, int status)
{
    conn_t *c = cr->data;
    request_t *r = c->req;
    if (!r) {
        conn_close(c); /* its request ended (timeout, the pool closing) while connecting */
        return;
    }
    if (status < 0) {
        conn_failed(r, 0, uv_strerror(status));
        return;
    }
    c->req = NULL;
    send_request(r, c);
}

static void connect_to(request_t *r, const struct sockaddr *sa)
{
    ks_proxy_pool_t *p = r->pool;
    conn_t *c = ks_xcalloc(1, sizeof *c);
    c->pool = p;
    c->peer = r->peer;
    uv_tcp_init(p->loop, &c->tcp);
    p->handles++;
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    c->req = r; /* reserved for r while connecting */
    r->conn = c;
    r->connect.data = c;
    int e = uv_tcp_connect(&r->connect, &c->tcp, sa, on_connected);
    if (e)
        conn_failed(r, 0, uv_strerror(e));
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    request_t *r = g->data;
    ks_proxy_pool_t *p = r->pool;
    r->resolving = 0;
    p->handles--; /* the resolution counted as a handle */
    if (r->done) {
        uv_freeaddrinfo(res);
        req_free_if_idle(r);
        maybe_free_pool(p);
        return;
    }
    if (status < 0 || !res) {
        req_fail(r, status < 0 ? uv_strerror(status) : "the name has no address");
        uv_freeaddrinfo(res);
        return;
    }
    connect_to(r, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void open_connection(request_t *r)
{
    peer_t *pe = r->peer;
    struct sockaddr_storage ss;
    int port = atoi(pe->port);
    if (uv_ip4_addr(pe->host, port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(pe->host, port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_to(r, (const struct sockaddr *)&ss);
        return;
    }
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->gai.data = r;
    int e = uv_getaddrinfo(r->pool->loop, &r->gai, on_resolved, pe->host, pe->port, &hints);
    if (e) {
        req_fail(r, uv_strerror(e));
        return;
    }
    r->resolving = 1;
    r->pool->handles++;
}

/* ---- the pool ---- */

/* Splits HOST:PORT ([V6]:PORT too). Returns 0, or -1 when malformed. */
static int split_address(const char *a, char **host, char **port)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    const char *h = a, *he = colon;
    if (*h == '[') {
        if (he[-1] != ']')
            return -1;
        h++;
        he--;
    }
    *host = ks_xstrndup(h, (size_t)(he - h));
    *port = ks_xstrdup(colon + 1);
    return 0;
}

static peer_t *find_peer(ks_proxy_pool_t *p, const char *address)
{
    for (peer_t *pe = p->peers; pe; pe = pe->next)
        if (strcmp(pe->address, address) == 0)
            return pe;
    char *host, *port;
    if (split_address(address, &host, &port))
        return NULL;
    peer_t *pe = ks_xcalloc(1, sizeof *pe);
    pe->address = ks_xstrdup(address);
    pe->host = host;
    pe->port = port;
    pe->next = p->peers;
    p->peers = pe;
    return pe;
}

ks_proxy_pool_t *ks_proxy_pool_new(uv_loop_t *loop, int max_idle)
{
    ks_proxy_pool_t *p = ks_xcalloc(1, sizeof *p);
    p->loop = loop;
    p->max_idle = max_idle;
    return p;
}

int ks_proxy_get(ks_proxy_pool_t *p, const char *address, const char *target, int timeout_ms, ks_proxy_cb cb, void *ud)
{
    peer_t *pe = p->closing ? NULL : find_peer(p, address);
    if (!pe)
        return -1;
    request_t *r = ks_xcalloc(1, sizeof *r);
    r->pool = p;
    r->peer = pe;
    r->cb = cb;
    r->ud = ud;
    ks_buf_t b = {0};
    ks_buf_printf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n%s: 1\r\nConnection: keep-alive\r\n\r\n", target, address,
                  KS_FORWARDED_HEADER);
    r->text_len = b.len;
    r->text = ks_buf_steal(&b);
    uv_timer_init(p->loop, &r->timer);
    p->handles++;
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timeout, (uint64_t)timeout_ms, 0);
    r->next = p->inflight;
    p->inflight = r;
    conn_t *c = pe->idle;
    if (c) {
        pe->idle = c->next_idle;
        pe->nidle--;
        c->next_idle = NULL;
        c->reused = 1;
        send_request(r, c);
    } else {
        open_connection(r);
    }
    return 0;
}

void ks_proxy_pool_close(ks_proxy_pool_t *p)
{
    p->closing = 1;
    while (p->inflight) {
        request_t *r = p->inflight;
        if (r->resolving)
            uv_cancel((uv_req_t *)&r->gai);
        drop_conn(r);
        req_fail(r, "the server is stopping");
    }
    for (peer_t *pe = p->peers; pe; pe = pe->next)
        while (pe->idle)
            conn_close(pe->idle);
    maybe_free_pool(p);
}

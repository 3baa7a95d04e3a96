/*
 * server.c: the HTTP/1.1 server of server.h, on its own libuv loop and
 * thread.
 *
 * A connection reads into the server's one read buffer and feeds
 * http_parser at once; only the request being parsed is kept: its URL and
 * its headers (lower-cased names), bounded by KS_HTTP_MAX_HEAD. When a
 * request is complete the parser is paused, the bytes after it are kept
 * aside, and the request goes to its route's handler. Once the handler's
 * reply is written (uv_write's callback), parsing resumes with the bytes
 * kept aside, so pipelined requests are answered in order, one at a time,
 * and the stack never grows with them.
 *
 * Limits are enforced in the parser's callbacks: a callback that refuses a
 * request records the status and pauses the parser; the feeding loop then
 * answers that status and closes the connection. One timer per connection
 * is the idle timeout between requests and the header timeout from a
 * request's first byte to its headers' end (a slowloris client that
 * trickles its headers is closed however steadily it trickles).
 */
#include "server.h"

#include <ctype.h>
#include <http_parser.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/log.h"
#include "../util/util.h"

#define READ_BUF 65536
#define PENDING_MAX (2 * KS_HTTP_MAX_HEAD) /* bytes read ahead while a request awaits its reply */

typedef struct conn conn_t;

struct ks_http_server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop_async;
    pthread_t tid;
    int started;
    const ks_http_route_t *routes;
    int nroutes;
    void *ud;
    char address[300];
    conn_t *conns; /* every open connection, for the stop */
    int nconns;
    void (*on_stop_fn)(void *ud); /* ks_http_server_on_stop's: closes what the handlers keep on the loop */
    void *on_stop_ud;
    char readbuf[READ_BUF];
    int reading; /* readbuf is handed to a read callback */
    http_parser_settings settings;
    _Atomic uint64_t requests[KS_EP__COUNT][KS_ST__COUNT];
    _Atomic uint64_t latency[KS_EP__COUNT][KS_HTTP_NBUCKETS];
    _Atomic uint64_t latency_sum_us[KS_EP__COUNT];
    _Atomic uint64_t connections_open, connections_refused, connections_timed_out;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_parser parser;
    ks_http_server_t *srv;
    conn_t *prev, *next;
    ks_buf_t url;      /* the request's URL, as received */
    ks_buf_t headers;  /* "name\0value\0" pairs, names lower-cased */
    size_t head_bytes; /* request line and header bytes seen (approximately: CRLFs counted per line) */
    int hstate;        /* 0: no header yet, 1: in a name, 2: in a value */
    int in_message;    /* a request has begun and is not complete */
    int refuse;        /* a status the parser's callbacks decided on (the connection then closes) */
    const char *refuse_why;
    ks_http_req_t *req; /* the request awaiting its reply */
    ks_buf_t pending;   /* bytes after the current request, parsed once it is answered */
    int paused_reading; /* reading stopped: pending is full */
    int closing;        /* uv_close was called */
    int handles;        /* handles not closed yet */
    int close_after;    /* close once the write in flight is done */
    int refused;        /* a connection over the limit: not counted in nconns */
    int eof;            /* the client has half-closed: answer what it sent, then close */
};

struct ks_http_req {
    conn_t *conn; /* NULL once the client has gone */
    ks_http_server_t *srv;
    ks_http_endpoint_t ep;
    uint64_t t0; /* uv_hrtime when the headers were complete */
    int keep_alive;
    char method[16];
    char *path, *query; /* into url */
    char *url;
    char *headers;
    size_t headers_len;
};

typedef struct wreq {
    uv_write_t w;
    conn_t *conn;
    char data[];
} wreq_t;

static const char *const endpoint_names[] = {
#define X(id, name) name,
    KS_HTTP_ENDPOINTS(X)
#undef X
};
static const int status_codes[] = {
#define X(code) code,
    KS_HTTP_STATUSES(X)
#undef X
};
static const uint64_t latency_bounds[] = KS_HTTP_LATENCY_BOUNDS_US;

const char *ks_http_endpoint_name(ks_http_endpoint_t ep)
{
    return (unsigned)ep < KS_EP__COUNT ? endpoint_names[ep] : "?";
}

int ks_http_status_code(ks_http_status_slot_t slot)
{
    return (unsigned)slot < KS_ST_OTHER ? status_codes[slot] : 0;
}

static ks_http_status_slot_t status_slot(int status)
{
    for (int i = 0; i < KS_ST_OTHER; i++)
        if (status_codes[i] == status)
            return (ks_http_status_slot_t)i;
    return KS_ST_OTHER;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

static void count(ks_http_server_t *srv, ks_http_endpoint_t ep, int status, uint64_t t0)
{
    atomic_fetch_add_explicit(&srv->requests[ep][status_slot(status)], 1, memory_order_relaxed);
    uint64_t us = t0 ? (uv_hrtime() - t0) / 1000 : 0;
    int b = 0;
    while (b < KS_HTTP_NBUCKETS - 1 && us > latency_bounds[b])
        b++;
    atomic_fetch_add_explicit(&srv->latency[ep][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->latency_sum_us[ep], us, memory_order_relaxed);
}

void ks_http_server_stats(const ks_http_server_t *srv, ks_http_stats_t *out)
{
    ks_http_server_t *s = (ks_http_server_t *)srv; /* atomic loads need a non-const object */
    for (int e = 0; e < KS_EP__COUNT; e++) {
        for (int i = 0; i < KS_ST__COUNT; i++)
            out->requests[e][i] = atomic_load_explicit(&s->requests[e][i], memory_order_relaxed);
        for (int b = 0; b < KS_HTTP_NBUCKETS; b++)
            out->latency[e][b] = atomic_load_explicit(&s->latency[e][b], memory_order_relaxed);
        out->latency_sum_us[e] = atomic_load_explicit(&s->latency_sum_us[e], memory_order_relaxed);
    }
    out->connections_open = atomic_load_explicit(&s->connections_open, memory_order_relaxed);
    out->connections_refused = atomic_load_explicit(&s->connections_refused, memory_order_relaxed);
    out->connections_timed_out = atomic_load_explicit(&s->connections_timed_out, memory_order_relaxed);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->handles > 0)
        return;
    ks_buf_free(&c->url);
    ks_buf_free(&c->headers);
    ks_buf_free(&c->pending);
    free(c);
}

static void close_conn(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    ks_http_server_t *srv = c->srv;
    if (c->req) {
        c->req->conn = NULL; /* its handler still replies; the reply is dropped */
        c->req = NULL;
    }
    if (!c->refused) {
        if (c->prev)
            c->prev->next = c->next;
        else
            srv->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        srv->nconns--;
        atomic_fetch_sub_explicit(&srv->connections_open, 1, memory_order_relaxed);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void feed(conn_t *c, const char *data, size_t len);

static void on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->req)
        return; /* a handler is at work: its reply restarts the clock */
    atomic_fetch_add_explicit(&c->srv->connections_timed_out, 1, memory_order_relaxed);
    close_conn(c);
}

static void resume(conn_t *c);

static void on_written(uv_write_t *w, int status)
{
    wreq_t *wr = (wreq_t *)w;
    conn_t *c = wr->conn;
    free(wr);
    if (status < 0 || c->closing)
        return; /* cancelled by the close, or the client went away (the read side closes it) */
    if (c->close_after) {
        close_conn(c);
        return;
    }
    resume(c);
}

/* Writes a whole response: status line, our headers, `headers` (lines ending in CRLF), the body. */
static void write_response(conn_t *c, int status, int keep_alive, const char *ctype, const char *headers,
                           const char *body, size_t len)
{
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: %.200s\r\nContent-Length: %zu\r\nConnection: %s\r\n", status,
                      reason(status), ctype, len, keep_alive ? "keep-alive" : "close");
    size_t xl = headers ? strlen(headers) : 0;
    wreq_t *wr = ks_xmalloc(sizeof *wr + (size_t)hl + xl + 2 + len);
    char *p = wr->data;
    memcpy(p, head, (size_t)hl);
    p += hl;
    if (xl)
        memcpy(p, headers, xl);
    p += xl;
    memcpy(p, "\r\n", 2);
    p += 2;
    if (len)
        memcpy(p, body, len);
    p += len;
    wr->conn = c;
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)(p - wr->data));
    c->close_after = !keep_alive;
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(wr);
        close_conn(c);
    }
}

/* A refusal before or without routing: {"error": why}, then the connection closes. */
static void refuse(conn_t *c, int status, const char *extra_headers, const char *why)
{
    ks_buf_t b = {0};
    ks_buf_puts(&b, "{\"error\":");
    ks_json_write_str(&b, why, strlen(why));
    ks_buf_puts(&b, "}");
    count(c->srv, KS_EP_REFUSED, status, 0);
    c->in_message = 0;
    write_response(c, status, 0, "application/json", extra_headers, b.data, b.len);
    ks_buf_free(&b);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
}

/* ---- the parser's callbacks ---- */

static int stop_with(http_parser *p, int status, const char *why)
{
    conn_t *c = p->data;
    if (!c->refuse) {
        c->refuse = status;
        c->refuse_why = why;
    }
    http_parser_pause(p, 1);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    conn_t *c = p->data;
    c->in_message = 1;
    c->url.len = 0;
    c->headers.len = 0;
    c->head_bytes = 0;
    c->hstate = 0;
    uv_timer_start(&c->timer, on_timeout, KS_HTTP_HEADER_TIMEOUT_MS, 0);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    c->head_bytes += len;
    if (c->url.len + len > KS_HTTP_MAX_HEAD - 16)
        return stop_with(p, 414, "the URL is longer than the server accepts (8 KB with the headers)");
    ks_buf_append(&c->url, at, len);
    return 0;
}

static int head_room(http_parser *p, size_t len)
{
    conn_t *c = p->data;
    c->head_bytes += len;
    if (c->head_bytes > KS_HTTP_MAX_HEAD)
        return stop_with(p, 431, "the request line and headers are longer than 8 KB");
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (c->hstate != 1) {
        if (c->hstate == 2)
            ks_buf_putc(&c->headers, 0);
        c->head_bytes += 4; /* ": " and CRLF */
        c->hstate = 1;
    }
    if (head_room(p, len) || c->refuse)
        return 0;
    for (size_t i = 0; i < len; i++)
        ks_buf_putc(&c->headers, (char)tolower((unsigned char)at[i]));
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (c->hstate == 1) {
        ks_buf_putc(&c->headers, 0);
        c->hstate = 2;
    }
    if (head_room(p, len) || c->refuse)
        return 0;
    ks_buf_append(&c->headers, at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    conn_t *c = p->data;
    if (c->hstate == 2)
        ks_buf_putc(&c->headers, 0);
    else if (c->hstate == 1) { /* a name without a value: http_parser does not let that through; be safe */
        ks_buf_putc(&c->headers, 0);
        ks_buf_putc(&c->headers, 0);
    }
    uv_timer_stop(&c->timer);
    if (p->http_major != 1 || p->http_minor > 1)
        return stop_with(p, 400, "only HTTP/1.0 and HTTP/1.1 are served here");
    if (p->method != HTTP_GET)
        return stop_with(p, 405, "only GET is served here");
    if ((p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX))
        return stop_with(p, 413, "a GET request carries no body");
    return 0;
}

static const ks_http_route_t *route_of(const ks_http_server_t *srv, const char *path)
{
    for (int i = 0; i < srv->nroutes; i++) {
        const ks_http_route_t *r = &srv->routes[i];
        if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0)
            return r;
    }
    return NULL;
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    c->in_message = 0;
    ks_http_req_t *req = ks_xcalloc(1, sizeof *req);
    req->conn = c;
    req->srv = c->srv;
    req->t0 = uv_hrtime();
    req->keep_alive = http_should_keep_alive(p);
    snprintf(req->method, sizeof req->method, "%s", http_method_str((enum http_method)p->method));
    req->url = ks_xstrndup(c->url.data ? c->url.data : "", c->url.len);
    req->headers = ks_xmalloc(c->headers.len + 1);
    if (c->headers.len)
        memcpy(req->headers, c->headers.data, c->headers.len);
    req->headers_len = c->headers.len;
    c->req = req;
    http_parser_pause(p, 1); /* the next request waits for this one's reply */
    return 0;
}

/* Splits the URL into path and query; an absolute-form URL (`http://host/path`) keeps its path. */
static int split_url(ks_http_req_t *req)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    size_t n = strlen(req->url);
    if (n == 0 || http_parser_parse_url(req->url, n, 0, &u) || !(u.field_set & (1 << UF_PATH)))
        return -1;
    char *path = req->url + u.field_data[UF_PATH].off;
    path[u.field_data[UF_PATH].len] = 0; /* the `?` (or `#`) after the path, or the end */
    req->path = path;
    if (u.field_set & (1 << UF_QUERY)) {
        req->query = req->url + u.field_data[UF_QUERY].off;
        req->query[u.field_data[UF_QUERY].len] = 0;
    } else {
        req->query = "";
    }
    return 0;
}

static void dispatch(conn_t *c)
{
    ks_http_req_t *req = c->req;
    if (split_url(req)) {
        req->ep = KS_EP_REFUSED;
        req->keep_alive = 0;
        ks_http_reply_error(req, 400, NULL, "malformed request target");
        return;
    }
    const ks_http_route_t *r = route_of(c->srv, req->path);
    if (!r) {
        req->ep = KS_EP_UNKNOWN;
        ks_http_reply_error(req, 404, NULL, "no such endpoint: %s", req->path);
        return;
    }
    req->ep = r->endpoint;
    r->handler(req, c->srv->ud);
}

/* Parses `data`; a complete request is dispatched, the bytes after it kept for later. */
static void feed(conn_t *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &c->srv->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->refuse) {
        refuse(c, c->refuse, c->refuse == 405 ? "Allow: GET\r\n" : NULL, c->refuse_why);
        return;
    }
    if (e == HPE_PAUSED && c->req) {
        if (n < len) {
            ks_buf_append(&c->pending, data + n, len - n);
            if (c->pending.len > PENDING_MAX && !c->paused_reading) {
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->paused_reading = 1;
            }
        }
        dispatch(c);
        return;
    }
    if (e != HPE_OK) {
        /* http_parser's own limit on headers (80 KB) cannot come first: ours is lower. */
        refuse(c, 400, NULL, http_errno_description(e));
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* After a reply is written: parse what came meanwhile, then read on. */
static void resume(conn_t *c)
{
    if (c->req || c->closing)
        return;
    http_parser_pause(&c->parser, 0);
    if (c->pending.len) {
        ks_buf_t b = c->pending;
        c->pending = (ks_buf_t){0};
        feed(c, b.data, b.len);
        ks_buf_free(&b);
        if (c->closing || c->req || c->refuse)
            return;
    }
    if (c->eof) {
        close_conn(c); /* nothing more comes: a request left incomplete never will be */
        return;
    }
    if (c->paused_reading) {
        c->paused_reading = 0;
        uv_read_start((uv_stream_t *)&c->tcp, NULL, on_read); /* alloc_cb is kept by libuv */
    }
    if (!c->in_message)
        uv_timer_start(&c->timer, on_timeout, KS_HTTP_IDLE_TIMEOUT_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    /* One read at a time on the loop: the server's buffer serves every connection. */
    *buf = uv_buf_init(c->srv->readbuf, sizeof c->srv->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread == UV_EOF && c->req) {
        /* A half-close after a request that awaits its reply: the reply, and those pipelined after it, still go. */
        c->eof = 1;
        uv_read_stop(s);
        return;
    }
    if (nread < 0) {
        close_conn(c);
        return;
    }
    if (nread == 0 || c->closing || c->refuse)
        return;
    if (c->req) {
        /* A request awaits its reply: keep what comes, up to a bound. */
        ks_buf_append(&c->pending, buf->base, (size_t)nread);
        if (c->pending.len > PENDING_MAX) {
            uv_read_stop(s);
            c->paused_reading = 1;
        }
        return;
    }
    feed(c, buf->base, (size_t)nread);
}

static void on_connection(uv_stream_t *l, int status)
{
    ks_http_server_t *srv = l->data;
    if (status < 0)
        return;
    conn_t *c = ks_xcalloc(1, sizeof *c);
    c->srv = srv;
    uv_tcp_init(&srv->loop, &c->tcp);
    uv_timer_init(&srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
        c->refused = 1;
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->nconns >= KS_HTTP_MAX_CONNECTIONS) {
        c->refused = 1;
        atomic_fetch_add_explicit(&srv->connections_refused, 1, memory_order_relaxed);
        refuse(c, 503, "Retry-After: 1\r\n", "too many connections");
        return;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    atomic_fetch_add_explicit(&srv->connections_open, 1, memory_order_relaxed);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_timer_start(&c->timer, on_timeout, KS_HTTP_IDLE_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- requests ---- */

ks_http_server_t *ks_http_req_server(const ks_http_req_t *req)
{
    return req->srv;
}

const char *ks_http_req_method(const ks_http_req_t *req)
{
    return req->method;
}

const char *ks_http_req_path(const ks_http_req_t *req)
{
    return req->path;
}

const char *ks_http_req_query(const ks_http_req_t *req)
{
    return req->query;
}

void ks_http_req_set_endpoint(ks_http_req_t *req, ks_http_endpoint_t ep)
{
    if ((unsigned)ep < KS_EP__COUNT)
        req->ep = ep;
}

int ks_http_req_connected(const ks_http_req_t *req)
{
    return req->conn != NULL;
}

const char *ks_http_req_header(const ks_http_req_t *req, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->headers_len;) {
        const char *k = req->headers + i;
        size_t kl = strlen(k);
        const char *v = k + kl + 1;
        if (kl == nl && strncasecmp(k, name, nl) == 0)
            return v;
        i += kl + 1 + strlen(v) + 1;
    }
    return NULL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

int ks_http_percent_decode(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
            if (lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)ch;
    }
    if (o >= outlen)
        return -1;
    out[o] = 0;
    return (int)o;
}

int ks_http_req_param(const ks_http_req_t *req, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = req->query; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (kl == nl && strncmp(p, name, nl) == 0) {
            int n = eq ? ks_http_percent_decode(eq + 1, len - kl - 1, out, outlen)
                       : ks_http_percent_decode("", 0, out, outlen);
            return n >= 0 ? n : -2;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return -1;
}

static void req_free(ks_http_req_t *req)
{
    free(req->url);
    free(req->headers);
    free(req);
}

void ks_http_reply_as(ks_http_req_t *req, int status, const char *ctype, const char *headers, const char *body,
                      size_t len)
{
    conn_t *c = req->conn;
    count(req->srv, req->ep, status, req->t0);
    if (c && !c->closing) {
        c->req = NULL;
        write_response(c, status, req->keep_alive, ctype, headers, body, len);
    }
    req_free(req);
}

void ks_http_reply(ks_http_req_t *req, int status, const char *headers, const char *body, size_t len)
{
    ks_http_reply_as(req, status, "application/json", headers, body, len);
}

void ks_http_reply_error(ks_http_req_t *req, int status, const char *headers, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ks_buf_t b = {0};
    ks_buf_puts(&b, "{\"error\":");
    ks_json_write_str(&b, msg, strlen(msg));
    ks_buf_puts(&b, "}");
    ks_http_reply(req, status, headers, b.data, b.len);
    ks_buf_free(&b);
}

/* ---- the server ---- */

static void close_left(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
    ks_http_server_t *srv = a->data;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    while (srv->conns)
        close_conn(srv->conns);
    uv_close((uv_handle_t *)&srv->stop_async, NULL);
    if (srv->on_stop_fn)
        srv->on_stop_fn(srv->on_stop_ud);
    /* What handlers left open (timers, connections to peers) closes too, so the loop ends. */
    uv_walk(&srv->loop, close_left, NULL);
}

static void *server_main(void *arg)
{
    ks_http_server_t *srv = arg;
    /* SIGINT and SIGTERM are the main thread's (its loop stops the services); not this thread's. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return -1;
    char host[256];
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[') {
        if (hl < 2 || listen[hl - 1] != ']' || hl - 2 >= sizeof host)
            return -1;
        memcpy(host, listen + 1, hl - 2);
        host[hl - 2] = 0;
    } else {
        if (hl >= sizeof host)
            return -1;
        memcpy(host, listen, hl);
        host[hl] = 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return -1;
}

ks_http_server_t *ks_http_server_new(const char *listen, const ks_http_route_t *routes, int nroutes, void *ud,
                                     char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (parse_listen(listen, &ss)) {
        snprintf(err, errlen, "query.listen `%s`: not an IPv4 or IPv6 address with a port (HOST:PORT)", listen);
        return NULL;
    }
    /*
     * A client that goes away while its response is written would raise
     * SIGPIPE in write(2), whose default ends the process: the write's error
     * is enough (Node.js, which runs libuv too, ignores it the same way).
     */
    signal(SIGPIPE, SIG_IGN);
    ks_http_server_t *srv = ks_xcalloc(1, sizeof *srv);
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->ud = ud;
    http_parser_settings_init(&srv->settings);
    srv->settings.on_message_begin = on_message_begin;
    srv->settings.on_url = on_url;
    srv->settings.on_header_field = on_header_field;
    srv->settings.on_header_value = on_header_value;
    srv->settings.on_headers_complete = on_headers_complete;
    srv->settings.on_message_complete = on_message_complete;
    uv_loop_init(&srv->loop);
    uv_tcp_init(&srv->loop, &srv->listener);
    srv->listener.data = srv;
    int rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc) {
        snprintf(err, errlen, "query.listen %s: cannot listen: %s", listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv->loop);
        free(srv);
        return NULL;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &bl);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        snprintf(srv->address, sizeof srv->address, "[%s]:%d", ip, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        snprintf(srv->address, sizeof srv->address, "%s:%d", ip, port);
    }
    uv_async_init(&srv->loop, &srv->stop_async, on_stop);
    srv->stop_async.data = srv;
    return srv;
}

const char *ks_http_server_address(const ks_http_server_t *srv)
{
    return srv->address;
}

uv_loop_t *ks_http_server_loop(ks_http_server_t *srv)
{
    return &srv->loop;
}

int ks_http_server_start(ks_http_server_t *srv, char *err, size_t errlen)
{
    if (pthread_create(&srv->tid, NULL, server_main, srv)) {
        snprintf(err, errlen, "cannot start the HTTP server's thread");
        return -1;
    }
    srv->started = 1;
    return 0;
}

void ks_http_server_on_stop(ks_http_server_t *srv, void (*fn)(void *ud), void *ud)
{
    srv->on_stop_fn = fn;
    srv->on_stop_ud = ud;
}

void ks_http_server_stop(ks_http_server_t *srv)
{
    if (!srv)
        return;
    uv_async_send(&srv->stop_async);
    if (srv->started) {
        pthread_join(srv->tid, NULL);
    } else {
        uv_run(&srv->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&srv->loop);
    free(srv);
}
